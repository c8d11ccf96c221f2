// weft::spawn: start a new task.
//
//   auto h = weft::spawn([name = std::string("job")]() -> weft::task<std::size_t> {
//       co_return name.size();      // the capture lives as long as the task
//   });
//   auto h2 = weft::spawn(fetch, std::string("db"), 300);  // fetch(std::string, int)
//
// `spawn(f, args...)`: `f(args...)` must return `task<R>`. `f` and `args` are
// decay-copied (moved) into the task, like std::thread, so a lambda's
// captures and the arguments live exactly as long as the task; a reference
// needs std::ref. The task is scheduled at once (eager) and the call returns
// join_handle<R>. Outside a runtime, spawn throws weft::runtime_error.
//
// `spawn(task<R>&&)` spawns a task that was already created. Its coroutine
// must not refer to anything that dies before the task does.
//
// Layout: one block holds the task_header and the callable; the callable
// is invoked once, in place, so the coroutine frame may point into it. An
// empty lambda adds nothing to the 72-byte header.
#pragma once

#include <functional>
#include <memory>
#include <new>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task_header.hpp"
#include "weft/join_handle.hpp"
#include "weft/task.hpp"

namespace weft {

namespace detail {

/// The runtime a spawn goes to: the one this thread is inside.
runtime_core* current_runtime_for_spawn();
scheduler* runtime_scheduler(runtime_core* rt) noexcept;
std::uint64_t next_task_id() noexcept;
/// Registers a new task with its runtime and schedules it (or cancels it at
/// once if the runtime has shut down).
void submit_spawned(runtime_core* rt, task_header* t) noexcept;

/// The callable and its arguments, invoked once in place.
template <class F, class... Args>
struct bound_call {
    F fn;
    std::tuple<Args...> args;
    decltype(auto) operator()() {
        return std::apply(
            [this](Args&... a) -> decltype(auto) {
                return std::invoke(std::move(fn), std::move(a)...);
            },
            args);
    }
};

/// Adapts an already-created task to the callable shape.
template <class R>
struct adopt_task {
    task<R> t;
    task<R> operator()() { return std::move(t); }
};

template <class C, class R>
class spawned_task final : public task_header {
    static constexpr bool inline_callable =
        std::is_empty_v<C> && std::is_trivially_destructible_v<C>;

public:
    template <class CC>
    spawned_task(scheduler* s, std::uint64_t id, CC&& c)
        : task_header(&vtable, s, id, nullptr), storage_(std::forward<CC>(c)) {}

    C& callable() noexcept { return storage_.get(); }

    static void* operator new(std::size_t n) { return frame_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }

    static const task_vtable vtable;

private:
    // An empty, trivially destructible callable (a lambda without captures)
    // takes no space; any other one is destroyed when the task finishes,
    // not when the last handle goes away, so captures die with the task.
    struct inline_storage {
        [[no_unique_address]] C fn;
        template <class CC>
        explicit inline_storage(CC&& c) : fn(std::forward<CC>(c)) {}
        C& get() noexcept { return fn; }
        void drop() noexcept {}
    };
    struct manual_storage {
        union {
            C fn;
        };
        template <class CC>
        explicit manual_storage(CC&& c) : fn(std::forward<CC>(c)) {}
        ~manual_storage() {}
        C& get() noexcept { return fn; }
        void drop() noexcept { fn.~C(); }
    };
    [[no_unique_address]] std::conditional_t<inline_callable, inline_storage, manual_storage>
        storage_;

    static void drop_callable_fn(task_header* t) noexcept {
        static_cast<spawned_task*>(t)->storage_.drop();
    }
    static void dealloc_fn(task_header* t) noexcept { delete static_cast<spawned_task*>(t); }
    static std::exception_ptr panic_fn(task_header* t) noexcept {
        return std::coroutine_handle<task_promise<R>>::from_address(t->root.address())
            .promise()
            .exception_;
    }
};

template <class C, class R>
const task_vtable spawned_task<C, R>::vtable = {&drop_callable_fn, &dealloc_fn, &panic_fn};

template <class C>
using callable_result_t = std::invoke_result_t<C&&>;

template <class C>
auto spawn_callable(runtime_core* rt, C&& c) {
    using Cd = std::decay_t<C>;
    using T = callable_result_t<Cd>;
    static_assert(is_task<T>::value, "weft::spawn: the callable must return weft::task<R>");
    using R = typename T::value_type;
    auto* t = new spawned_task<Cd, R>(runtime_scheduler(rt), next_task_id(), std::forward<C>(c));
    try {
        task<R> root = std::invoke(std::move(t->callable()));
        if (!root.valid())
            throw std::logic_error("weft::spawn: the callable returned an empty task");
        t->root = t->resume_point = root.release();
    } catch (...) {
        spawned_task<Cd, R>::vtable.drop_callable(t);
        delete t;
        throw;
    }
    submit_spawned(rt, t);
    return join_handle<R>(t);
}

template <class F, class... Args>
auto make_callable(F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
        return std::decay_t<F>(std::forward<F>(f));
    } else {
        return bound_call<std::decay_t<F>, std::decay_t<Args>...>{
            std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
    }
}

template <class F, class... Args>
auto spawn_on(runtime_core* rt, F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0 && is_task<std::decay_t<F>>::value) {
        using R = typename std::decay_t<F>::value_type;
        return spawn_callable(rt, adopt_task<R>{std::move(f)});
    } else {
        return spawn_callable(rt, make_callable(std::forward<F>(f), std::forward<Args>(args)...));
    }
}

} // namespace detail

/// Spawns `f(args...)` (which returns task<R>) as a new task on the current
/// runtime and returns its join_handle<R>. Throws weft::runtime_error when
/// called outside a runtime.
template <class F, class... Args>
requires(!std::is_lvalue_reference_v<F> ||
         !detail::is_task<std::remove_cvref_t<F>>::value) auto spawn(F&& f, Args&&... args) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), std::forward<F>(f),
                            std::forward<Args>(args)...);
}

} // namespace weft
