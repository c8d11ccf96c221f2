// weft::spawn_local and weft::local_set: tasks that stay on one thread.
//
// For state that must not change threads (a non-thread-safe library handle,
// thread-local caches, GUI objects), a task can be pinned to a thread:
//
//   weft::local_set set;
//   set.spawn_local([]() -> weft::task<> { co_return; });   // queued until run
//   int v = set.block_on(rt, []() -> weft::task<int> {
//       auto h = weft::spawn_local(work);                  // onto `set` too
//       co_return *co_await h;
//   }());
//
// `weft::spawn_local(f, args...)` puts the task on the calling thread:
// - inside a task of a local_set (one that the set runs): onto that set;
// - on a multi-thread worker, outside a local_set: onto *that worker*. The
//   task is never stolen and always resumed on that worker's thread, even
//   when it is woken from another thread (its wake-ups go to the worker's
//   pinned queue, src/multi_thread.cpp). Beyond Tokio, which has no such
//   mode; Tokio's LocalSet still works the same way here;
// - on a current-thread runtime: a plain spawn (one thread runs everything);
// - anywhere else (the thread inside a multi-thread block_on, a blocking
//   call, a thread outside any runtime): throws weft::runtime_error.
//
// local_set (Tokio's LocalSet): a set of tasks run by whichever task awaits
// `run_until`, inside that task's polls, on that task's thread:
// - `spawn_local` on the set may be called at any time and from any thread;
//   the task runs when the set is next driven.
// - `co_await set.run_until(t)` runs `t` as a task of the set and drives
//   the set's tasks until `t` finishes; it gives `t`'s value or rethrows its
//   exception. Tasks left in the set stay there for the next run_until. The
//   awaiting task must stay on one thread: block_on's task, a task on a
//   current-thread runtime, a spawn_local task or a task of another
//   local_set; from a plain multi-thread task run_until throws
//   weft::runtime_error. If the awaiting task is aborted, `t` is aborted too.
// - `set.block_on(rt, t)` is rt.block_on(set.run_until(t)).
// - Destroying the set aborts every task still in it, on the destroying
//   thread (their destructors run there). The set must outlive every
//   run_until on it (Rust's borrow of the LocalSet; not checked here).
//
// How: the set is a scheduler (local_set_state, src/local_set.cpp) with its
// own locked run queue and task registry. Wake-ups of its tasks, from any
// thread, push to that queue and wake the driving task through an ordinary
// waker; the driver then polls the set's tasks nested inside its own poll
// (poll_nested saves and restores the thread context). So a local task is
// only ever resumed inside the driver's poll, on the driver's thread.
#pragma once

#include <memory>
#include <source_location>
#include <type_traits>
#include <utility>

#include "weft/detail/spawn_site.hpp"
#include "weft/detail/task/spawn_into.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/runtime.hpp"
#include "weft/runtime_error.hpp"
#include "weft/spawn.hpp"
#include "weft/task.hpp"

namespace weft {

class local_set;

namespace detail {

class local_set_state;

/// Drives `s` until the task behind `target` has finished (local_set.cpp).
task<> drive_local_set(local_set_state& s, abort_handle target);

/// weft::spawn_local's ladder target: the calling thread.
template <class... A>
auto spawn_local_here(std::uint32_t site, A&&... a) {
    return spawn_into(current_local_spawn_target(), site, std::forward<A>(a)...);
}

/// Aborts a task when destroyed, unless released (run_until's `t`).
struct abort_on_drop {
    abort_handle h;
    ~abort_on_drop() { h.abort(); } // no effect on a finished task
};

} // namespace detail

/// Spawns `f(args...)` (returning task<R>), or a task<R>, as a task pinned to
/// the calling thread: onto the current local_set, the current multi-thread
/// worker, or the current-thread runtime (see the file comment). Throws
/// weft::runtime_error on any other thread. The task records this call's
/// location (with up to four arguments, or with `named`), as weft::spawn's
/// do (observe.hpp).
///
///   weft::task<> on_worker() {
///       auto h = weft::spawn_local([]() -> weft::task<> {
///           co_await weft::time::sleep(10ms);   // resumed on the same thread
///       });
///       (co_await h).expect("the local task failed");
///   }
WEFT_DETAIL_LOCATED_SPAWN(spawn_local, detail::spawn_local_here, )

/// A set of tasks that run on the thread that drives it (Tokio's LocalSet).
/// Not copyable or movable (its tasks point at it).
///
///   weft::local_set set;
///   auto h = set.spawn_local(counter_task);
///   set.block_on(rt, main_task());   // runs main_task and, meanwhile, counter_task
class local_set {
public:
    local_set();
    /// Aborts every task left in the set (destructors run on this thread).
    ~local_set();
    local_set(const local_set&) = delete;
    local_set& operator=(const local_set&) = delete;

    /// The set's live tasks, as runtime_handle::dump() lists a runtime's
    /// (the runtime's dump does not include them). Callable from any thread.
    ///
    ///   std::cerr << set.dump();
    runtime_dump dump() const;

    /// Spawns `f(args...)` (or a task) onto this set; it runs when the set is
    /// driven (run_until / block_on). Callable from any thread. The task
    /// records this call's location, as weft::spawn's do (observe.hpp).
    ///
    ///   auto h = set.spawn_local([]() -> weft::task<int> { co_return 1; });
    WEFT_DETAIL_LOCATED_SPAWN(spawn_local, spawn_at, )

    /// Runs `t` as a task of this set and drives the set until `t` finishes;
    /// gives its value or rethrows its exception.
    ///
    ///   int v = co_await set.run_until(compute());
    ///
    /// Cancel safety (`local_set::run_until`): not cancel safe. `t` is aborted with it; the set's
    /// other tasks stay and run at the next run_until.
    template <class R>
    task<R> run_until(task<R> t) {
        // (A named local, not a temporary in the co_await: GCC 12 trap.)
        join_handle<R> h = spawn_local(std::move(t));
        detail::abort_on_drop guard{h.abort_handle()};
        co_await detail::drive_local_set(*state_, h.abort_handle());
        result<R> r = co_await h;
        if (r.has_value()) {
            if constexpr (std::is_void_v<R>) {
                co_return;
            } else {
                co_return std::move(*r);
            }
        }
        if (r.error().is_panic()) resume_unwind(std::move(r).error().into_panic());
        throw runtime_error("weft::local_set::run_until: the task was cancelled");
    }

    /// rt.block_on(run_until(t)): drives the set on the calling thread.
    ///
    ///   weft::local_set set;
    ///   set.block_on(rt, main_task());
    template <class R>
    R block_on(runtime& rt, task<R> t) {
        return rt.block_on(run_until(std::move(t)));
    }

private:
    template <class... A>
    auto spawn_at(std::uint32_t site, A&&... a) {
        return detail::spawn_into(detail::local_set_spawn_target(*state_), site,
                                  std::forward<A>(a)...);
    }

    std::unique_ptr<detail::local_set_state> state_;
};

} // namespace weft
