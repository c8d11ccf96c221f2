// The task harness: polling, completion, cancellation, waking, the dump's peek.
// The join handle's side is in join.cpp, join_error and the out-of-line
// throws in error.cpp.
//
// Every function here works on the state word of detail/task/state.hpp; the
// comment at each step names the transition and who owns what afterwards.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "io/write_batch.hpp"
#include "observe/watchdog.hpp"
#include "runtime/thread_state.hpp"
#include "task/harness.hpp"
#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/runtime_error.hpp"
#include "weft/task.hpp"
#include "weft/task_id.hpp"

namespace weft::detail {

// The thread's state (runtime/thread_state.hpp); its `leaf` is the
// thread_context that header code reaches through this_thread_context().
constinit thread_local thread_state tls_state{};

namespace {

task_state& state_of(task_header* t) noexcept {
    return t->state;
}

void dealloc(task_header* t) noexcept {
    // Every path to COMPLETE destroyed the frame and the callable, and the
    // output was dropped or taken (output_kind::taken).
    t->vtable->dealloc(t);
}

// The task has stopped running for good: its output (value, exception, or
// nothing when cancelled) is in the output slot and its frame is gone. We
// hold RUNNING and the reference of the queue entry we were polled from.
void complete(task_header* t) noexcept {
    state_snapshot snap = state_of(t).to_complete(); // RUNNING -> COMPLETE
    if (!snap.has_join_interest()) {
        t->vtable->drop_output(t); // nobody will read it
    } else if (snap.has_join_waker()) {
        // JOIN_WAKER set and COMPLETE: the waker field is ours until we unset it.
        wake_task(t->join_waker_task, t->join_waker_token, false);
        state_snapshot after = state_of(t).unset_waker_after_complete();
        if (!after.has_join_interest()) destroy_join_waker(t); // the handle left it to us
    }
    std::uint64_t refs = 1;                                  // the queue entry's
    if (t->sched != nullptr && t->sched->release(t)) ++refs; // the registry's
    task_ref_dec(t, refs);
}

// We hold RUNNING: destroy the frames at their suspension point.
void cancel(task_header* t) noexcept {
    thread_context& ctx = this_thread_context();
    task_header* prev = ctx.current;
    task_header* prev_task = ctx.task;
    ctx.current = ctx.task = t;
    if (t->root) {
        t->root.destroy(); // destructors of everything the task owns run here
        t->root = nullptr;
    }
    t->vtable->drop_callable(t);
    ctx.current = prev;
    ctx.task = prev_task;
    t->set_output(output_kind::cancelled);
    complete(t);
}

// What poll_task does with an aborted task (popped, RUNNING held) that may
// be suspended in a batched socket write (src/io/write_batch.hpp, decision
// 0042). A flush that sends the bytes stores their count in the awaiter and
// wakes the task; destroying the frames after that would lose the count
// (the caller would send the bytes again, issue 14). Tokio has no such
// window: its write future makes the system call in the poll that returns
// the count. Read only on the cancel path: no cost to an ordinary poll.
enum class aborted_write { none, deliver, wait_for_flush };

aborted_write classify_aborted(task_header* t) noexcept {
    std::coroutine_handle<> h = t->resume_point;
    if (!h || sizeof(std::uintptr_t) != 8) return aborted_write::none;
    // Every coroutine of a task's chain is a task<> coroutine whose promise
    // sits at the offset of task_promise<void> (see peek_suspension).
    std::uintptr_t w = std::coroutine_handle<task_promise<void>>::from_address(h.address())
                           .promise()
                           .await_site_word();
    if ((w & await_site_tag) == 0 || static_cast<await_kind>(static_cast<std::uint16_t>(
                                         w >> await_kind_shift)) != await_kind::socket_send)
        return aborted_write::none;
    // Only the flush wakes a send_awaiter's suspension: the write is done,
    // and the task resumes with CANCELLED set, which to_idle acts on at
    // the next suspension.
    if (woken_resume_point(t)) return aborted_write::deliver;
    // Not woken. In this thread's own batch, no flush can be sending it
    // (only the owner flushes): withdraw it, as before.
    write_batcher* own = tls_state.batch;
    if (own != nullptr && own->ring().holds(t)) return aborted_write::none;
    // In another worker's batch: that flush sends it, or is sending it
    // right now, and will wake the task; wait for that wake.
    return aborted_write::wait_for_flush;
}

} // namespace

// An elapsed timeout: abandon the outermost timed-out work and give back
// the coroutine to resume (its timeout's parent), or null. We hold RUNNING.
// `t` is a task or a join/select branch (detail/task/branch.hpp).
std::coroutine_handle<> take_interrupt(task_header* t) noexcept {
    if (!t->state.load().is_interrupted()) return nullptr;
    // A batched write that another worker's flush may be sending: leave
    // INTERRUPTED set until the flush's wake has delivered the count (the
    // woken write resumes before the interrupt is taken; decision 0042).
    if (WEFT_UNLIKELY(classify_aborted(t) == aborted_write::wait_for_flush)) return nullptr;
    t->state.clear_interrupted();
    interrupt_scope* hit = nullptr;
    for (interrupt_scope* s = t->vtable->scopes(t); s != nullptr; s = s->prev)
        if (s->fired->load(std::memory_order_acquire)) hit = s; // the outermost wins
    if (hit == nullptr) return nullptr;                         // a timeout that finished meanwhile
    std::coroutine_handle<> parent = hit->parent;
    hit->abandon(hit); // destroys the inner work; nested scopes pop themselves
    return parent;
}

thread_context& this_thread_context() noexcept {
    return tls_state.leaf;
}

std::uint64_t& forced_yields_counter() noexcept {
    static constinit thread_local std::uint64_t n = 0;
    return n;
}

void task_ref_dec(task_header* t, std::uint64_t n) noexcept {
    if (t->state.ref_dec(n)) dealloc(t);
}

void wake_task(task_header* t, std::uint32_t token, bool by_val) noexcept {
    // Raise wake_token to `token` (wrap-aware max), then notify. The raise
    // is a release, paired with the poller's acquire in woken_resume_point:
    // what the waker wrote before waking (a join handle's output, above
    // all) is visible to the resumed coroutine even when the state CAS below
    // writes nothing (the task was NOTIFIED already, by a stale wake, whose
    // release is all that the poller's to_running then acquires).
    std::uint32_t cur = t->wake_token.load(std::memory_order_relaxed);
    while (!token_reached(cur, token) &&
           !t->wake_token.compare_exchange_weak(cur, token, std::memory_order_release,
                                                std::memory_order_relaxed)) {
    }
    notify_result r = by_val ? state_of(t).notified_by_val() : state_of(t).notified_by_ref();
    switch (r) {
    case notify_result::do_nothing:
        break;
    case notify_result::submit:
        t->sched->schedule(t, false);
        break;
    case notify_result::dealloc:
        dealloc(t);
        break;
    }
}

void poll_task(task_header* t) noexcept {
    switch (state_of(t).to_running()) { // NOTIFIED -> RUNNING
    case to_running_result::failed:
        return; // a stale queue entry; its reference is dropped
    case to_running_result::dealloc:
        dealloc(t);
        return;
    case to_running_result::cancelled:
        switch (classify_aborted(t)) {
        case aborted_write::none:
            cancel(t);
            return;
        case aborted_write::deliver:
            break; // CANCELLED stays set: to_idle cancels at the next suspension
        case aborted_write::wait_for_flush:
            switch (state_of(t).to_idle_keep_cancelled()) {
            case to_idle_result::ok_notified:
                t->sched->schedule(t, true);
                return;
            case to_idle_result::ok_dealloc: // not reached: the waker holds a reference
                dealloc(t);
                return;
            default:
                return;
            }
        }
        break;
    case to_running_result::success:
        break;
    }
    thread_state& st = tls_state;
    thread_context& ctx = st.leaf;
    ctx.yielded = false;
    ctx.current = ctx.task = t;
    poll_slot* watch = st.watch;
    if (WEFT_UNLIKELY(watch != nullptr)) watch->enter(t);
    ctx.budget = coop_budget;
    // A stale wake (see detail/task/header.hpp) leaves the coroutine where it is;
    // an interrupt (an elapsed timeout) resumes the timeout's parent.
    std::coroutine_handle<> h = woken_resume_point(t);
    for (;;) {
        if (!h) h = take_interrupt(t);
        if (!h) break;
        run_trampoline(ctx, h);
        h = nullptr;
        if (t->root.done()) {
            t->vtable->finish(t); // the frame's destructors run as part of the task
            ctx.current = ctx.task = nullptr;
            if (WEFT_UNLIKELY(watch != nullptr)) watch->leave();
            if (t->output() == output_kind::panic && t->sched != nullptr)
                t->sched->on_task_panic(t, t->panic);
            complete(t);
            return;
        }
    }
    ctx.current = ctx.task = nullptr;
    if (WEFT_UNLIKELY(watch != nullptr)) watch->leave();
    switch (state_of(t).to_idle(ctx.yielded)) { // RUNNING -> idle
    case to_idle_result::ok:
        return;
    case to_idle_result::ok_notified:
        if (ctx.yielded && ctx.budget == 0) ++forced_yields_counter();
        t->sched->schedule(t, true);
        return;
    case to_idle_result::ok_dealloc:
        dealloc(t);
        return;
    case to_idle_result::cancelled:
        cancel(t);
        return;
    }
}

bool peek_suspension(task_header* t, peeked_task& out) noexcept {
    // Claim RUNNING from idle, as a poller would (the caller holds a
    // reference; a running, scheduled or complete task is left alone: its
    // frames belong to someone else or are about to).
    if (!t->state.claim_for_peek()) return false;
    // We hold RUNNING: the frames are ours to read and none can be destroyed
    // meanwhile. From the innermost coroutine (resume_point), each task<>
    // promise names the coroutine awaiting it, up to the root (whose
    // continuation word holds interrupt scopes instead, so stop there). GCC
    // and Clang put the resume function first in a frame, and every
    // task_promise<T> at the offset of task_promise<void> (T is at most
    // 16-aligned, task.hpp).
    out.size = 0;
    out.truncated = false;
    std::coroutine_handle<> h = t->resume_point;
    while (h) {
        if (out.size == peeked_task::max_frames) {
            out.truncated = true;
            break;
        }
        peeked_frame& f = out.frames[out.size++];
        std::memcpy(&f.resume_function, h.address(), sizeof f.resume_function);
        const task_promise_base& p =
            std::coroutine_handle<task_promise<void>>::from_address(h.address()).promise();
        f.await_site = p.await_site_word();
        if (h == t->root) break;
        h = p.continuation();
    }
    // Give RUNNING back (to_idle_after_peek): a wake or abort that arrived
    // meanwhile set NOTIFIED or CANCELLED and left the rescheduling to us,
    // as to a poller. The reference we take here plays the popped queue
    // entry's part.
    task_ref_inc(t);
    switch (state_of(t).to_idle_after_peek()) {
    case to_idle_result::ok:
        break;
    case to_idle_result::ok_notified:
        t->sched->schedule(t, true);
        break;
    case to_idle_result::ok_dealloc: // not reached: the caller holds a reference
        dealloc(t);
        break;
    case to_idle_result::cancelled:
        break; // not returned by to_idle_after_peek
    }
    return true;
}

void shutdown_task(task_header* t) noexcept {
    if (!state_of(t).to_shutdown()) return; // running (its poller cancels) or done
    // We hold RUNNING now; cancel() completes and drops a reference as if we
    // had popped the task, so take one for it.
    task_ref_inc(t);
    cancel(t);
}

void cancel_unpolled(task_header* t) noexcept {
    // A fresh task holds NOTIFIED and the queue reference: poll it as
    // cancelled.
    (void)state_of(t).notified_and_cancel();
    poll_task(t);
}

void run_blocking_task(task_header* t) noexcept {
    switch (state_of(t).to_running()) { // NOTIFIED -> RUNNING
    case to_running_result::failed:
        return;
    case to_running_result::dealloc:
        dealloc(t);
        return;
    case to_running_result::cancelled:
        cancel(t); // aborted before it started: the call never runs
        return;
    case to_running_result::success:
        break;
    }
    // From here an abort only sets CANCELLED, which complete() ignores: a
    // started call runs to its end and delivers its output (Tokio).
    thread_context& ctx = tls_state.leaf;
    task_header* prev = ctx.current;
    task_header* prev_task = ctx.task;
    ctx.current = ctx.task = t; // this_task::id() inside the call
    t->vtable->finish(t);
    ctx.current = prev;
    ctx.task = prev_task;
    complete(t);
}

void poll_nested(task_header* t) noexcept {
    thread_context& ctx = tls_state.leaf;
    task_header* current = ctx.current;
    task_header* task = ctx.task;
    std::uint32_t budget = ctx.budget;
    bool yielded = ctx.yielded;
    std::coroutine_handle<> next = ctx.resume_next;
    poll_task(t);
    ctx.current = current;
    ctx.task = task;
    // The outer task's poll goes on: show it in the watchdog's slot again
    // (a new sequence number, so its time counts from here).
    if (tls_state.watch != nullptr && task != nullptr) tls_state.watch->enter(task);
    ctx.budget = budget;
    ctx.yielded = yielded;
    ctx.resume_next = next;
}

void cancel_blocking_unstarted(task_header* t) noexcept {
    (void)state_of(t).notified_and_cancel(); // queued: NOTIFIED, so it only marks
    run_blocking_task(t);
}

interrupt_scope*& no_interrupt_scopes(task_header*) noexcept {
    static constinit thread_local interrupt_scope* none = nullptr;
    return none;
}

task_header* current_task_or_throw() {
    task_header* t = tls_state.leaf.current;
    if (WEFT_UNLIKELY(t == nullptr))
        throw runtime_error("weft: a weft awaitable was awaited outside a weft task; run the "
                            "coroutine with spawn or block_on");
    return t;
}

} // namespace weft::detail

namespace weft {

task_id this_task::id() {
    detail::task_header* t = detail::this_thread_context().current;
    if (t == nullptr) throw runtime_error("this_task::id() called outside a weft task");
    return task_id(t->id);
}

} // namespace weft
