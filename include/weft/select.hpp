// weft::select: wait for the first of several awaitables; cancel the rest.
//
//   auto r = co_await weft::select(rx.recv(), weft::time::sleep(1s), token.cancelled());
//   switch (r.index()) {
//   case 0: handle(std::get<0>(r)); break;     // std::optional<T> from recv
//   case 1: log("idle for a second"); break;    // std::monostate (sleep is void)
//   case 2: co_return;                          // cancelled
//   }
//
// Semantics (Tokio's select!):
// - The operands (any weft awaitables) run as branches of the current task,
//   like join's (see join.hpp): interleaved on its thread, never in
//   parallel, no new task.
// - The first branch to finish wins: select gives std::variant whose index
//   is the winner's operand position (built with std::in_place_index, so
//   two operands of one type stay distinct; void gives std::monostate, a
//   reference T& gives std::reference_wrapper<T>). If the first branch to
//   finish threw, the exception propagates instead.
// - Before select returns, every loser is cancelled at its suspension
//   point: its frame is destroyed, destructors run, its pending operations
//   (timer, channel wait, join waker) are withdrawn. A branch that has not
//   started yet never runs. Cancel-safe leaves (channel recv, notify) keep
//   their guarantees: a message taken by a loser is not lost (see sync/).
// - Fairness: each pass over the branches (the start, and every wake
//   afterwards) begins at a random branch, so that a branch that is always
//   ready cannot starve the others. `select(weft::biased, ...)` checks
//   them in operand order instead, for priorities (a shutdown signal
//   first) or for determinism.
// - Cancelling the select itself (abort, an enclosing timeout or select)
//   cancels every branch.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/task/branch.hpp"
#include "weft/task.hpp"

namespace weft {

/// Tag for select(biased, ...): check the branches in operand order.
struct biased_t {
    explicit constexpr biased_t() = default;
};
/// Makes select poll its branches in operand order (Tokio's `biased;`).
///
///   auto r = co_await weft::select(weft::biased, shutdown.cancelled(), rx.recv());
inline constexpr biased_t biased{};

namespace detail {

template <class T>
using select_value_t =
    std::conditional_t<std::is_void_v<T>, std::monostate,
                       std::conditional_t<std::is_reference_v<T>,
                                          std::reference_wrapper<std::remove_reference_t<T>>, T>>;

template <class Out, class T, std::size_t I>
Out make_select_winner(branch_set& s) {
    if constexpr (std::is_void_v<T>)
        return Out(std::in_place_index<I>);
    else
        return Out(std::in_place_index<I>, s.promise<T>(I).value());
}

template <class... T, std::size_t... I>
std::variant<select_value_t<T>...> collect_winner(branch_set& s, std::index_sequence<I...>) {
    using out = std::variant<select_value_t<T>...>;
    static constexpr out (*make[])(branch_set&) = {&make_select_winner<out, T, I>...};
    return make[s.stopped_by()](s);
}

template <class... T>
task<std::variant<select_value_t<T>...>> select_driver(bool biased, task<T>... ts) {
    branch_set set(sizeof...(T), &stop_on_finish, biased);
    adopt_all(set, std::index_sequence_for<T...>{}, ts...);
    while (!set.complete())
        co_await pass_awaiter{{}, &set};
    rethrow_stopper(set);
    co_return collect_winner<T...>(set, std::index_sequence_for<T...>{});
}

} // namespace detail

/// Awaitable: runs `a, b, ...` (weft awaitables) inside the current task
/// until the first one finishes; gives std::variant with the winner's value
/// at the winner's index, after cancelling the others. Branches start in a
/// random rotation (fairness).
///
///   auto r = co_await weft::select(weft::spawn(work), weft::time::sleep(5s));
///   if (r.index() == 1) log("work is slow; it keeps running, detached");
///
/// Cancel safety (`select`): cancel safe. Each branch is cancelled in its own class, so select is
/// cancel safe when its branches are.
template <class... A>
requires(!std::is_same_v<std::remove_cvref_t<A>, biased_t> && ...) WEFT_CORO_WRAPPER_OWNING
    auto select(A&&... a) {
    static_assert(sizeof...(A) > 0, "weft::select needs at least one operand");
    return detail::select_driver(false, detail::as_branch(std::forward<A>(a))...);
}

/// select that checks its branches in operand order, first to last (at the
/// start and after every wake), like Tokio's `biased;`.
///
///   auto r = co_await weft::select(weft::biased, stop.cancelled(), jobs.recv());
template <class... A>
WEFT_CORO_WRAPPER_OWNING auto select(biased_t, A&&... a) {
    static_assert(sizeof...(A) > 0, "weft::select needs at least one operand");
    return detail::select_driver(true, detail::as_branch(std::forward<A>(a))...);
}

} // namespace weft
