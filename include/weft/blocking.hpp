// weft::spawn_blocking: run a plain (blocking) callable on the runtime's
// blocking pool and get its result through a join_handle.
//
//   weft::join_handle<std::string> h = weft::spawn_blocking([] {
//       return read_whole_file("/etc/hostname");   // may block: not on a worker
//   });
//   weft::result<std::string> r = co_await h;
//
// Semantics (Tokio's spawn_blocking):
// - `f(args...)` is a plain callable (not a coroutine); `f` and `args` are
//   decay-copied into the call like std::thread. `R = invoke_result`; a
//   reference result is refused at compile time (the output outlives the
//   call), return a pointer or std::reference_wrapper.
// - The call runs on a thread of the blocking pool, never on a worker.
//   Threads are created on demand up to max_blocking_threads (default 512);
//   beyond that, calls wait in a FIFO queue. An idle thread exits after
//   thread_keep_alive (default 10 s).
// - abort() before the call starts prevents it (the join gives a cancelled
//   join_error); once started, the call runs to its end and its value is
//   delivered (abort has no effect, as in Tokio).
// - An exception escaping the call becomes a join_error with is_panic(),
//   exactly as for a spawned task. The runtime's unhandled_exception policy
//   does not apply (as in Tokio, where unhandled_panic covers tasks only).
// - Shutdown: calls that never started are cancelled; the runtime's
//   destructor and shutdown_timeout wait for started calls (the latter at
//   most its timeout); shutdown_background does not wait.
// - Inside the call, the thread is "in" the runtime: weft::spawn,
//   weft::spawn_blocking and runtime_handle::current() work (as Tokio's
//   Handle::current() does in a blocking thread), and this_task::id() is the
//   call's id. block_on of a runtime is allowed there too (Tokio's
//   Handle::block_on from spawn_blocking).
//
// Layout: the call is a task_header (task_header.hpp) followed by the
// callable, whose bytes hold the output once the call returned. It has no
// coroutine frame: the pool's thread runs it with run_blocking_task
// (src/task.cpp), which makes the same state transitions as poll_task, so
// join_handle, abort_handle and the join-waker protocol are the task ones,
// unchanged. The pool itself is src/blocking_pool.{hpp,cpp}.
//
// For combinators (join_set): make_blocking_task builds the task without
// submitting it, submit_blocking hands it to the pool; the caller keeps
// whatever handles it wants in between.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task_header.hpp"
#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/spawn.hpp"

namespace weft {

namespace detail {

/// Hands a task built by make_blocking_task to the blocking pool of `rt`
/// (it owns the queue entry's reference from here on). A runtime that has
/// shut down cancels it at once. Throws std::system_error only when no
/// pool thread exists and none can be started (the task is then cancelled).
void submit_blocking(runtime_core* rt, task_header* t);

/// The scopes word of a task without a coroutine (never used: a blocking
/// call has no timeout scopes).
interrupt_scope*& no_interrupt_scopes(task_header*) noexcept;

template <class C, class R>
class blocking_task final : public task_header {
    static constexpr bool has_value = !std::is_void_v<R>;
    using out_t = std::conditional_t<has_value, R, char>;

public:
    template <class CC>
    explicit blocking_task(std::uint64_t task_id_value, CC&& c)
        : task_header(&vtable, nullptr, task_id_value, nullptr), f_(std::forward<CC>(c)) {}

    static void* operator new(std::size_t n) { return header_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { header_deallocate(p, n); }

    static const task_vtable vtable;

private:
    // The callable until the call returned, then the output: never alive
    // together, so they share the bytes (as in spawned_task).
    union {
        C f_;
        out_t out_;
    };
    ~blocking_task() {}

    static blocking_task* self(task_header* t) noexcept { return static_cast<blocking_task*>(t); }

    // For a blocking task, `finish` *runs* the call (run_blocking_task holds
    // RUNNING): the callable is invoked and destroyed, then the value or the
    // exception goes to the output slot.
    static void finish_fn(task_header* t) noexcept {
        blocking_task* b = self(t);
        try {
            if constexpr (has_value) {
                R v = std::invoke(std::move(b->f_));
                b->f_.~C();
                ::new (static_cast<void*>(std::addressof(b->out_))) R(std::move(v));
            } else {
                std::invoke(std::move(b->f_));
                b->f_.~C();
            }
            t->set_output(output_kind::value);
        } catch (...) {
            // The callable is destroyed here too (its destructor runs on the
            // pool's thread, as after a normal return).
            b->f_.~C();
            ::new (static_cast<void*>(std::addressof(t->panic)))
                std::exception_ptr(std::current_exception());
            t->set_output(output_kind::panic);
        }
    }
    static void drop_callable_fn(task_header* t) noexcept { self(t)->f_.~C(); }
    static void drop_output_fn(task_header* t) noexcept {
        drop_task_output<R>(t, [&] {
            if constexpr (has_value) self(t)->out_.~out_t();
        });
    }
    static void read_output_fn(task_header* t, void* dst) noexcept {
        read_task_output<R>(t, dst, [&]() -> decltype(auto) {
            if constexpr (has_value) return std::move(self(t)->out_);
        });
        drop_output_fn(t);
    }
    static void dealloc_fn(task_header* t) noexcept { delete self(t); }
};

template <class C, class R>
const task_vtable blocking_task<C, R>::vtable = {&finish_fn,      &drop_callable_fn,
                                                 &drop_output_fn, &read_output_fn,
                                                 &dealloc_fn,     &no_interrupt_scopes};

template <class C>
using blocking_result_t = std::invoke_result_t<C&&>;

/// Builds the task of a blocking call around callable `c`, not yet
/// submitted. The result holds the task's initial references minus the
/// registry's (a blocking call is not in the task registry): the queue
/// entry's (give it to submit_blocking) and the join handle's (adopt it
/// with join_handle<R>). spawn_blocking below is the way to use it:
/// `t = make_blocking_task(c)`, `join_handle<R> h(t)`, then
/// `submit_blocking(rt, t)`.
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
    join_handle<R> h(t);    // owns the join reference from here on
    submit_blocking(rt, t); // owns the queue reference
    return h;
}

/// The runtime a spawn_blocking goes to: the one this thread is inside.
runtime_core* current_runtime_for_spawn_blocking();

} // namespace detail

/// Runs `f(args...)` on the current runtime's blocking pool and returns a
/// join_handle for its result. For work that blocks (file I/O, a C library
/// call, a long computation) and must not hold a worker. Throws
/// weft::runtime_error outside a runtime (use runtime_handle::spawn_blocking).
///
///   auto h = weft::spawn_blocking([](int n) { return expensive(n); }, 42);
///   int v = (co_await h).value();
template <class F, class... Args>
auto spawn_blocking(F&& f, Args&&... args) {
    return detail::spawn_blocking_on(detail::current_runtime_for_spawn_blocking(),
                                     std::forward<F>(f), std::forward<Args>(args)...);
}

} // namespace weft
