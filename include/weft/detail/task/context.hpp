// What leaf code needs of the thread it runs on: the task being polled,
// the header a suspending leaf records itself in, the cooperative budget.
// Only the thread itself reads or writes it (a thread_local reached through
// this_thread_context(), defined in src/task/harness.cpp).
#pragma once

#include <coroutine>
#include <cstdint>

namespace weft::detail {

struct task_header;

// ---------------------------------------------------------------------------
// Thread context.

/// Cooperative budget: ready operations a task may complete in one poll
/// before a ready leaf suspends anyway (Tokio's value).
inline constexpr std::uint32_t coop_budget = 128;

class runtime_core;

/// What leaf code (awaiters, the trampoline in task.hpp) needs of the thread
/// it runs on. The scheduler's own per-thread state (the runtime, the
/// driving loop, the drivers, write batching, the watchdog slot) wraps this
/// in src/runtime/thread_state.hpp, private to the library.
struct thread_context {
    /// The task this thread is polling, or nullptr.
    task_header* task = nullptr;
    /// Where a leaf that suspends records itself: `task`, or, while a
    /// join/select branch runs, that branch's header (detail/task/branch.hpp).
    /// Wakers, suspension tokens and interrupt scopes follow `current`;
    /// cancellation and the cooperative budget belong to `task`.
    task_header* current = nullptr;
    /// Remaining cooperative budget of the current poll.
    std::uint32_t budget = coop_budget;
    /// The current task asked to be rescheduled at the back of the queue.
    bool yielded = false;
    /// The coroutine the poller resumes next, within the same poll: a task
    /// being awaited, or the parent of one that finished (the trampoline).
    std::coroutine_handle<> resume_next = nullptr;
};

thread_context& this_thread_context() noexcept;

} // namespace weft::detail
