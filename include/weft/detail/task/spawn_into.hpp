// The one builder of tasks: detail::spawn_into(target, site, f, args...).
//
// Every way of starting a task ends here: weft::spawn, spawn_local,
// runtime::spawn, runtime_handle::spawn, local_set::spawn_local,
// join_set::spawn / spawn_local, task_tracker::spawn, and block_on's root.
// They differ only in the *target*, a value that says which scheduler the
// new task belongs to and how it is handed over:
//
//   target                       provided by                  (src/)
//   the current runtime          current_spawn_target()       runtime.cpp
//   a given runtime              runtime_spawn_target(rt)     runtime.cpp
//   this thread (spawn_local):   current_local_spawn_target() local_set.cpp
//     a local_set, the worker
//     pin, current-thread rt
//   a local_set                  local_set_spawn_target(s)    local_set.cpp
//   a block_on root              block_on_root_target()       here
//
// spawn_into builds the cell (cell.hpp) around the callable, invokes it in
// place to create the root coroutine, then calls target.submit, which
// registers and schedules the task (or cancels it at once when the target
// has shut down). On any exception before the submission the cell is
// destroyed and nothing is left behind. The result is the join_handle,
// which adopts the join reference (detail/task/state.hpp: a new task holds the
// registry's, the scheduler's and the join handle's references).
//
// Cost: the target is three words returned by one out-of-line call; the
// submission is one indirect call to the target's function, which is the
// runtime's submit itself (no further virtual dispatch).
//
// make_blocking_task / spawn_blocking_on are the builder of blocking calls
// (blocking_task, cell.hpp), which are tasks without a coroutine.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/detail/config.hpp"
#include "weft/detail/task/cell.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/task.hpp"

namespace weft::detail {

class runtime_core;
class local_set_state;

std::uint64_t next_task_id() noexcept;

// --- targets ---------------------------------------------------------------------

/// Where a new task goes (see the file comment): the scheduler it is built
/// for, and the function that registers and schedules it, called with
/// `self`. A block_on root has no scheduler: block_on's thread polls it.
struct spawn_target {
    scheduler* sched = nullptr;
    void (*submit)(void* self, task_header* t) noexcept = nullptr;
    void* self = nullptr;
};

/// The runtime this thread is inside (weft::spawn). Throws
/// weft::runtime_error outside a runtime.
spawn_target current_spawn_target();
/// Runtime `rt` (runtime::spawn, runtime_handle::spawn), from any thread.
spawn_target runtime_spawn_target(runtime_core& rt) noexcept;
/// The calling thread (weft::spawn_local; local_set.hpp). Throws
/// weft::runtime_error where there is no thread to pin to.
spawn_target current_local_spawn_target();
/// Local set `s` (local_set::spawn_local), from any thread.
spawn_target local_set_spawn_target(local_set_state& s) noexcept;

/// The root of a block_on: built unscheduled, then handed to
/// runtime_core::block_on, which polls it on the calling thread.
inline void keep_unscheduled(void*, task_header*) noexcept {}
inline spawn_target block_on_root_target() noexcept {
    return {nullptr, &keep_unscheduled, nullptr};
}

// --- invoking the callable ----------------------------------------------------------

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

/// invoke_callable's member-function-pointer case (std::invoke's rules).
template <class M, class C, class O, class... A>
WEFT_CORO_WRAPPER decltype(auto) invoke_member(M C::*f, O&& o, A&&... a) {
    using Od = std::remove_cvref_t<O>;
    if constexpr (std::is_base_of_v<C, Od>) {
        return (std::forward<O>(o).*f)(std::forward<A>(a)...);
    } else if constexpr (is_reference_wrapper<Od>::value) {
        return (o.get().*f)(std::forward<A>(a)...);
    } else {
        return ((*std::forward<O>(o)).*f)(std::forward<A>(a)...);
    }
}

/// std::invoke for the callables weft runs, without std::invoke: with
/// Clang's coroutine lifetime analysis (task is coro_return_type), every
/// function returning a task must be a coroutine or marked coro_wrapper,
/// and std::invoke/std::apply are neither. Member function pointers take
/// the object (or a pointer or reference_wrapper to it) first, as in
/// std::invoke.
template <class F, class... A>
WEFT_CORO_WRAPPER decltype(auto) invoke_callable(F&& f, A&&... a) {
    using Fd = std::remove_cvref_t<F>;
    if constexpr (std::is_member_function_pointer_v<Fd>) {
        return invoke_member(f, std::forward<A>(a)...);
    } else {
        return std::forward<F>(f)(std::forward<A>(a)...);
    }
}

/// The callable and its arguments, invoked once in place.
template <class F, class... Args>
struct bound_call {
    F fn;
    std::tuple<Args...> args;
    WEFT_CORO_WRAPPER decltype(auto) operator()() {
        return call(std::index_sequence_for<Args...>{});
    }

private:
    template <std::size_t... I>
    WEFT_CORO_WRAPPER decltype(auto) call(std::index_sequence<I...>) {
        return invoke_callable(std::move(fn), std::move(std::get<I>(args))...);
    }
};

template <class C>
using callable_result_t = std::invoke_result_t<C&&>;

/// `f` and `args` decay-copied into one callable (`f` itself without args).
template <class F, class... Args>
auto make_callable(F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
        return std::decay_t<F>(std::forward<F>(f));
    } else {
        return bound_call<std::decay_t<F>, std::decay_t<Args>...>{
            std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
    }
}

// --- join handles ---------------------------------------------------------------------

/// The builders' and combinators' access to join_handle's task reference.
struct join_access {
    /// A join handle that owns `t`'s join reference.
    template <class T>
    static join_handle<T> adopt(task_header* t) noexcept {
        return join_handle<T>(t);
    }
    /// The task behind `h` (the handle keeps its reference).
    template <class T>
    static task_header* task_of(const join_handle<T>& h) noexcept {
        return h.t_;
    }
    template <class T>
    static result<T> take(join_handle<T>& h) {
        return h.take_output();
    }
    /// Takes the handle's task reference (with its join interest); the
    /// caller must pass it to drop_join_handle eventually (join_set).
    template <class T>
    static task_header* release(join_handle<T>& h) noexcept {
        if (h.consumed_) return nullptr;
        return std::exchange(h.t_, nullptr);
    }
};

// --- the builder ------------------------------------------------------------------------

/// Builds the task of `c` (a callable returning task<R>) for `target`,
/// spawned at `site` (spawn_site.hpp), submits it and returns its handle.
template <class C>
auto spawn_callable_into(const spawn_target& target, std::uint32_t site, C&& c) {
    using Cd = std::decay_t<C>;
    using T = callable_result_t<Cd>;
    static_assert(is_task<T>::value, "weft::spawn: the callable must return weft::task<R>");
    using R = typename T::value_type;
    static_assert(
        !std::is_reference_v<R>,
        "weft::spawn: a spawned task's output outlives the code that spawned it, so it "
        "must be a value; return a pointer or std::reference_wrapper instead of a reference");
    auto* t = new spawned_task<Cd, R>(target.sched, next_task_id(), std::forward<C>(c), site);
    try {
        task<R> root = invoke_callable(std::move(t->callable()));
        if (!root.valid())
            throw std::logic_error("weft::spawn: the callable returned an empty task");
        t->root = t->resume_point = root.release();
    } catch (...) {
        spawned_task<Cd, R>::vtable.drop_callable(t);
        delete t;
        throw;
    }
    target.submit(target.self, t);
    return join_access::adopt<R>(t);
}

/// Spawns `f(args...)` (returning task<R>), or the task<R> `f` itself, onto
/// `target`, recording `site` (0: unknown). The only task builder (see the
/// file comment).
template <class F, class... Args>
auto spawn_into(const spawn_target& target, std::uint32_t site, F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0 && is_task<std::decay_t<F>>::value) {
        static_assert(!std::is_lvalue_reference_v<F>, "weft::spawn: pass the task by value");
        using R = typename std::decay_t<F>::value_type;
        static_assert(!std::is_reference_v<R>,
                      "weft::spawn: a spawned task's output must be a value");
        if (!f.valid()) throw std::logic_error("weft::spawn: empty task");
        auto* t =
            new spawned_task<adopted_root, R>(target.sched, next_task_id(), adopted_root{}, site);
        t->root = t->resume_point = f.release();
        target.submit(target.self, t);
        return join_access::adopt<R>(t);
    } else {
        return spawn_callable_into(target, site,
                                   make_callable(std::forward<F>(f), std::forward<Args>(args)...));
    }
}

// --- blocking calls -----------------------------------------------------------------------

/// Hands a task built by make_blocking_task to the blocking pool of `rt`
/// (it owns the queue entry's reference from here on). A runtime that has
/// shut down cancels it at once. Throws std::system_error only when no
/// pool thread exists and none can be started (the task is then cancelled).
void submit_blocking(runtime_core* rt, task_header* t);

/// The runtime a spawn_blocking goes to: the one this thread is inside.
runtime_core* current_runtime_for_spawn_blocking();

template <class C>
using blocking_result_t = std::invoke_result_t<C&&>;

/// Builds the task of a blocking call around callable `c`, not yet
/// submitted. The result holds the task's initial references minus the
/// registry's (a blocking call is not in the task registry): the queue
/// entry's (give it to submit_blocking) and the join handle's (adopt it
/// with join_access::adopt).
template <class C>
task_header* make_blocking_task(C&& c) {
    using Cd = std::decay_t<C>;
    using R = blocking_result_t<Cd>;
    static_assert(!std::is_reference_v<R>,
                  "weft::spawn_blocking: the call's output outlives the call, so it must be a "
                  "value; return a pointer or std::reference_wrapper instead of a reference");
    static_assert(!is_task<std::remove_cv_t<R>>::value,
                  "weft::spawn_blocking runs a plain callable; for a coroutine use weft::spawn");
    auto* t = new blocking_task<Cd, R>(next_task_id(), std::forward<C>(c));
    task_ref_dec(t); // the registry's reference: blocking calls are not registered
    return t;
}

/// spawn_blocking onto runtime `rt`: builds the call's task, adopts its
/// join reference, submits it.
template <class F, class... Args>
auto spawn_blocking_on(runtime_core* rt, F&& f, Args&&... args) {
    auto c = make_callable(std::forward<F>(f), std::forward<Args>(args)...);
    using R = blocking_result_t<decltype(c)>;
    task_header* t = make_blocking_task(std::move(c));
    join_handle<R> h = join_access::adopt<R>(t); // owns the join reference from here on
    submit_blocking(rt, t);                      // owns the queue reference
    return h;
}

} // namespace weft::detail
