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
// Layout: the call is a task_header (detail/task/header.hpp) followed by the
// callable, whose bytes hold the output once the call returned. It has no
// coroutine frame: the pool's thread runs it with run_blocking_task
// (src/task/harness.cpp), which makes the same state transitions as poll_task, so
// join_handle, abort_handle and the join-waker protocol are the task ones,
// unchanged. The pool itself is src/blocking_pool.{hpp,cpp}.
//
// The cell is detail::blocking_task (detail/task/cell.hpp); it is built by
// make_blocking_task and submitted by submit_blocking
// (detail/task/spawn_into.hpp).
#pragma once

#include <utility>

#include "weft/detail/task/spawn_into.hpp"
#include "weft/join_handle.hpp"

namespace weft {

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
