// The task harness: what a scheduler does with a task it popped.
//
// poll_task(t)       the caller holds the queue entry's reference. Runs the
//                    task (or cancels it, or drops a stale entry) and, when
//                    the task suspends and was notified meanwhile, hands it
//                    back through t->sched->schedule(t, true).
// shutdown_task(t)   runtime shutdown: claims an idle task and cancels it
//                    inline; a running one is cancelled by its poller.
// cancel_unpolled(t) a task spawned into a closed runtime: never runs.
// peek_resume_function(t)
//                    the dump: briefly claims an idle task (RUNNING, as a
//                    poller) to read the resume function of the coroutine
//                    it is suspended in; nullptr when the task is not idle.
// run_blocking_task(t)
//                    a blocking pool thread popped `t` (a blocking_task,
//                    blocking.hpp): the same transitions as poll_task, but
//                    the "poll" is the whole call (vtable->finish runs it).
// cancel_blocking_unstarted(t)
//                    a queued blocking call that will never run (shutdown).
#pragma once

#include "weft/detail/task_header.hpp"

namespace weft::detail {

void poll_task(task_header* t) noexcept;
void shutdown_task(task_header* t) noexcept;
void cancel_unpolled(task_header* t) noexcept;
/// The caller holds a reference to `t`.
const void* peek_resume_function(task_header* t) noexcept;
void run_blocking_task(task_header* t) noexcept;
/// poll_task from inside another task's poll (a local_set driven by its
/// run_until): saves and restores the poller's thread context around it.
void poll_nested(task_header* t) noexcept;
void cancel_blocking_unstarted(task_header* t) noexcept;

/// Per-thread counter of forced yields (cooperative budget spent).
std::uint64_t& forced_yields_counter() noexcept;

} // namespace weft::detail
