// weft::join and weft::try_join: run several awaitables concurrently inside
// the current task.
//
//   auto [user, orders] = co_await weft::join(fetch_user(id), fetch_orders(id));
//
//   auto r = co_await weft::try_join(h1, h2);   // two join_handle<int>
//   if (!r) log("branch " + std::to_string(r.failed_branch()) + " failed");
//   auto [a, b] = *r;
//
// Semantics (Tokio's join! / try_join!):
// - The operands (any weft awaitables: task<T>, join handles, sleeps,
//   channel operations, other joins and selects) run as *branches* of the
//   current task: interleaved on its thread, never in parallel, no task is
//   spawned. Each branch starts when the join is awaited (a branch may run
//   to its end without suspending), in a random rotation; afterwards each
//   pass of the join resumes the branches that were woken.
// - join gives std::tuple of the values in operand order (void gives
//   std::monostate). If a branch throws, the other branches are cancelled
//   (their frames destroyed at their suspension points, destructors run,
//   pending operations withdrawn) and the exception propagates.
// - try_join gives try_join_result: the values, or the first error-valued
//   result of a *fallible* branch (one whose result type has has_value(),
//   error() and value_type: weft::result, time::timeout_result,
//   std::expected), after cancelling the others. Values are unwrapped in
//   the success tuple. Exceptions propagate as in join. See
//   docs/decisions/0011-try-join-result.md for why this shape.
// - Cancelling the join itself (its task aborted, an enclosing timeout or
//   select dropping it) cancels every branch still running.
// - Operand lifetime: a task or an rvalue awaitable is moved into the join;
//   an lvalue awaitable (a join_handle variable, say) is awaited in place and
//   must outlive the co_await. join(...) is lazy: nothing runs until awaited.
//
// How branches are woken and torn down without ever resuming the wrong
// suspension: weft/detail/task/branch.hpp, docs/decisions/0010-branches.md.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/task/branch.hpp"
#include "weft/expected.hpp"
#include "weft/task.hpp"

namespace weft {

namespace detail {

template <class... T, std::size_t... I>
std::tuple<branch_value_t<T>...> collect_tuple(branch_set& s, std::index_sequence<I...>) {
    return std::tuple<branch_value_t<T>...>(take_branch_value<T>(s.promise<T>(I))...);
}

template <class... T>
task<std::tuple<branch_value_t<T>...>> join_driver(task<T>... ts) {
    branch_set set(sizeof...(T), &stop_on_exception, false);
    adopt_all(set, std::index_sequence_for<T...>{}, ts...);
    while (!set.complete())
        co_await pass_awaiter{{}, &set};
    rethrow_stopper(set);
    co_return collect_tuple<T...>(set, std::index_sequence_for<T...>{});
}

/// Constructor tags of try_join_result.
struct try_join_success_t {};
struct try_join_failure_t {};

/// A result type try_join treats as able to fail.
template <class R>
concept fallible_result = std::is_object_v<R> && requires(const R& r) {
    { r.has_value() } -> std::convertible_to<bool>;
    r.error();
    typename R::value_type;
};

template <class T>
struct try_join_traits {
    static constexpr bool fallible = false;
    using value = branch_value_t<T>;
    using failure = std::monostate; // never holds a failure
};
template <class T>
requires fallible_result<T>
struct try_join_traits<T> {
    static constexpr bool fallible = true;
    using value = branch_value_t<typename T::value_type>;
    using failure = T;
};

template <class T>
bool branch_failed(task_promise_base* pb) noexcept {
    if (pb->has_exception()) return true;
    if constexpr (try_join_traits<T>::fallible) {
        const T& r = static_cast<task_promise<T>*>(pb)->value();
        return !static_cast<bool>(r.has_value());
    } else {
        return false;
    }
}

template <class... T>
bool try_join_stop(branch_set& s, std::size_t i) noexcept {
    static constexpr bool (*failed[])(task_promise_base*) noexcept = {&branch_failed<T>...};
    return failed[i](s.at(i)->promise);
}

template <class T>
typename try_join_traits<T>::value unwrap_branch(task_promise<T>& p) {
    if constexpr (!try_join_traits<T>::fallible) {
        return take_branch_value<T>(p);
    } else if constexpr (std::is_void_v<typename T::value_type>) {
        return std::monostate{};
    } else {
        return *std::move(p.value());
    }
}

} // namespace detail

/// What `co_await try_join(a, b, ...)` gives: every branch's value
/// (unwrapped: a `result<int>` branch contributes an `int`), or the result
/// of the first branch that failed, which cancelled the others.
///
///   weft::try_join_result<weft::result<int>, weft::result<std::string>> r =
///       co_await weft::try_join(std::move(h1), std::move(h2));
///   if (r) {
///       auto& [n, s] = *r;                  // std::tuple<int, std::string>
///   } else if (r.failed_branch() == 0) {
///       weft::result<int>& failed = std::get<0>(r.error());
///   }
///   auto [n, s] = std::move(r).value();     // or throws branch's error
template <class... T>
class [[nodiscard]] try_join_result
    : public expected<std::tuple<typename detail::try_join_traits<T>::value...>,
                      std::variant<typename detail::try_join_traits<T>::failure...>> {
public:
    /// The values, in operand order.
    using values_type = std::tuple<typename detail::try_join_traits<T>::value...>;
    /// The failed branch's result, at the branch's index (a branch that
    /// cannot fail has std::monostate there, never active).
    using failure_type = std::variant<typename detail::try_join_traits<T>::failure...>;

private:
    using base = expected<values_type, failure_type>;

public:
    /// Every branch succeeded: the values.
    template <class... V>
    explicit try_join_result(detail::try_join_success_t, V&&... v)
        : base(std::in_place, std::forward<V>(v)...) {}
    /// Branch I failed with result `f`.
    template <std::size_t I, class F>
    try_join_result(detail::try_join_failure_t, std::in_place_index_t<I> branch, F&& f)
        // In place: no temporary failure_type to move (GCC 12 with ASan
        // warns -Wmaybe-uninitialized on moving that variant).
        : base(unexpect, branch, std::forward<F>(f)) {}

    /// The values; when a branch failed, throws what that branch's
    /// `value()` throws (a join_error, time::elapsed, bad_expected_access).
    values_type& value() & {
        if (!this->has_value()) throw_failure();
        return **this;
    }
    values_type&& value() && {
        if (!this->has_value()) throw_failure();
        return std::move(**this);
    }

    /// The index of the failed branch (the failure's variant index); throws
    /// bad_expected_access if none failed.
    std::size_t failed_branch() const { return this->error().index(); }

private:
    [[noreturn]] void throw_failure() {
        std::visit(
            [](auto& f) {
                if constexpr (!std::is_same_v<std::remove_cvref_t<decltype(f)>, std::monostate>)
                    (void)f.value(); // throws the branch's error
            },
            this->error());
        throw std::logic_error("try_join_result::value(): the failed branch's value() did not "
                               "throw");
    }
};

namespace detail {

template <class Out, class T, std::size_t I>
Out make_try_join_failure(branch_set& s) {
    if constexpr (try_join_traits<T>::fallible)
        return Out(try_join_failure_t{}, std::in_place_index<I>,
                   std::move(s.promise<T>(I).value()));
    else
        return Out(try_join_failure_t{}, std::in_place_index<I>,
                   std::monostate{}); // unreachable: cannot fail
}

template <class... T, std::size_t... I>
try_join_result<T...> collect_try_join(branch_set& s, std::index_sequence<I...>) {
    using out = try_join_result<T...>;
    std::size_t failed = s.stopped_by();
    if (failed == branch_set::npos)
        return out(try_join_success_t{}, unwrap_branch<T>(s.promise<T>(I))...);
    static constexpr out (*make[])(branch_set&) = {&make_try_join_failure<out, T, I>...};
    return make[failed](s);
}

template <class... T>
task<try_join_result<T...>> try_join_driver(task<T>... ts) {
    branch_set set(sizeof...(T), &try_join_stop<T...>, false);
    adopt_all(set, std::index_sequence_for<T...>{}, ts...);
    while (!set.complete())
        co_await pass_awaiter{{}, &set};
    rethrow_stopper(set);
    co_return collect_try_join<T...>(set, std::index_sequence_for<T...>{});
}

} // namespace detail

/// Awaitable: runs `a, b, ...` (weft awaitables) concurrently inside the
/// current task; gives std::tuple of their values (void: std::monostate).
/// If one throws, the others are cancelled and the exception propagates.
///
///   auto [a, b, _] = co_await weft::join(load("a"), load("b"),
///                                        weft::time::sleep(10ms));
///
/// Cancel safety (`join`): not cancel safe. The values of the branches that had finished are
/// dropped; pending branches are cancelled in their own class.
template <class... A>
WEFT_CORO_WRAPPER_OWNING auto join(A&&... a) {
    static_assert(sizeof...(A) > 0, "weft::join needs at least one operand");
    return detail::join_driver(detail::as_branch(std::forward<A>(a))...);
}

/// Awaitable: like join, but the first branch whose result is an error
/// (`result`, `timeout_result`, `expected` without a value) cancels the
/// others and is returned in a try_join_result; values are unwrapped.
///
///   auto r = co_await weft::try_join(weft::time::timeout(1s, rx.recv()),
///                                    std::move(handle));
///   if (!r) co_return;                    // r.failed_branch() says which
///   auto& [msg, out] = *r;                // std::optional<T>, the task's value
///
/// Cancel safety (`try_join`): not cancel safe. As join: finished branches' values are dropped.
template <class... A>
WEFT_CORO_WRAPPER_OWNING auto try_join(A&&... a) {
    static_assert(sizeof...(A) > 0, "weft::try_join needs at least one operand");
    return detail::try_join_driver(detail::as_branch(std::forward<A>(a))...);
}

} // namespace weft
