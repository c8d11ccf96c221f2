// The task harness: what a scheduler does with a task it popped.
//
// poll_task(t)       the caller holds the queue entry's reference. Runs the
//                    task (or cancels it, or drops a stale entry) and, when
//                    the task suspends and was notified meanwhile, hands it
//                    back through t->sched->schedule(t, true).
// shutdown_task(t)   runtime shutdown: claims an idle task and cancels it
//                    inline; a running one is cancelled by its poller.
// cancel_unpolled(t) a task spawned into a closed runtime: never runs.
// peek_suspension(t, out)
//                    the dump: briefly claims an idle task (RUNNING, as a
//                    poller) to read its chain of suspended coroutines, from
//                    the innermost to the root: each one's resume function
//                    and await site. False when the task is not idle.
// run_blocking_task(t)
//                    a blocking pool thread popped `t` (a blocking_task,
//                    blocking.hpp): the same transitions as poll_task, but
//                    the "poll" is the whole call (vtable->finish runs it).
// cancel_blocking_unstarted(t)
//                    a queued blocking call that will never run (shutdown).
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/detail/task/wake.hpp"

namespace weft::detail {

void poll_task(task_header* t) noexcept;
void shutdown_task(task_header* t) noexcept;
void cancel_unpolled(task_header* t) noexcept;
/// One suspended coroutine of an idle task, as peek_suspension reads it.
struct peeked_frame {
    const void* resume_function = nullptr; // the frame's first word
    std::uintptr_t await_site = 0;         // task_promise::await_site_word()
};
struct peeked_task {
    static constexpr std::size_t max_frames = 32;
    peeked_frame frames[max_frames];
    std::size_t size = 0;
    bool truncated = false; // the chain was deeper than max_frames
};
/// The caller holds a reference to `t`.
bool peek_suspension(task_header* t, peeked_task& out) noexcept;
void run_blocking_task(task_header* t) noexcept;
/// poll_task from inside another task's poll (a local_set driven by its
/// run_until): saves and restores the poller's thread context around it.
void poll_nested(task_header* t) noexcept;
void cancel_blocking_unstarted(task_header* t) noexcept;

/// Per-thread counter of forced yields (cooperative budget spent).
std::uint64_t& forced_yields_counter() noexcept;

// --- the poll loop, shared by poll_task and a join/select branch's poll ---

/// Whether a wake-up for suspension `woken` reaches suspension `wanted`
/// (32-bit tokens, compared with wrap-around; detail/task/header.hpp).
inline bool token_reached(std::uint32_t woken, std::uint32_t wanted) noexcept {
    return static_cast<std::int32_t>(woken - wanted) >= 0;
}

/// Where a poll of `t` (a task or a branch header) starts: its suspended
/// coroutine if the wake-up is for the current suspension; nothing for a
/// stale wake (the coroutine stays where it is; an interrupt may still
/// resume a timeout's parent).
inline std::coroutine_handle<> woken_resume_point(task_header* t) noexcept {
    // Acquire: pairs with the waker's release in wake_task (see there).
    if (token_reached(t->wake_token.load(std::memory_order_acquire), t->suspend_token))
        return t->resume_point;
    return nullptr;
}

/// The trampoline: awaiting a task<T> and finishing one hand the next
/// coroutine back through ctx.resume_next, so chains of any depth run in
/// constant stack.
inline void run_trampoline(thread_context& ctx, std::coroutine_handle<> h) {
    do {
        ctx.resume_next = nullptr;
        h.resume();
        h = ctx.resume_next;
    } while (h);
}

/// Drops the join waker the field holds, if any. The caller owns the field
/// (JOIN_WAKER clear and the handle's, or COMPLETE and the task's: see
/// detail/task/state.hpp).
inline void destroy_join_waker(task_header* t) noexcept {
    if (task_header* w = t->join_waker_task) {
        t->join_waker_task = nullptr;
        task_ref_dec(w);
    }
}

} // namespace weft::detail
