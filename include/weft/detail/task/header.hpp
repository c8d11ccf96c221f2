// The spawned task's header: its fields, who owns them, and its references.
//
// # The task object
//
// A spawned task is a `task_header` (followed by the user's callable, see
// spawn.hpp) plus the root coroutine frame that the callable returned. The
// header is 72 bytes on x86_64 (pinned by a static_assert below) so that a
// header plus the frame of an empty coroutine stays within Tokio's 128 bytes.
//
// # Who may touch which field
//
//   state         the word, private to task_state: every change is one of its named transitions
//   (detail/task/state.hpp).
//                 Its top 24 bits hold the spawn site, written once here.
//   vtable, sched, id
//                 written once at spawn, read-only afterwards.
//   root          written at spawn; afterwards only by whoever holds the
//                 RUNNING bit (the poller: cancel destroys the frame), or,
//                 once COMPLETE, by the join handle (it takes the output and
//                 destroys the frame) or by the completer when nobody joins.
//   resume_point, suspend_token
//                 only the poller (the thread that holds RUNNING) reads and
//                 writes them. Handing a task from one worker to another goes
//                 through a run queue, whose release/acquire orders them.
//   wake_token    atomic: wakers raise it (monotonic, wrap-aware max) with
//                 release; the poller reads it with acquire, so what a
//                 waker wrote before waking is visible to the coroutine it
//                 resumes even when the wake's state CAS wrote nothing.
//   join_waker_*  owned by the join handle while JOIN_WAKER is clear; by the
//                 task while JOIN_WAKER is set (see detail/task/state.hpp).
//   owned_index   written by the runtime's owned-task registry under its lock.
//
// The wakers and the suspension tokens are in wake.hpp; what leaf code
// needs of its thread (thread_context) is in context.hpp.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <utility>

#include "weft/detail/assert.hpp"
#include "weft/detail/await_site.hpp"
#include "weft/detail/config.hpp"
#include "weft/detail/task/state.hpp"

namespace weft::detail {

struct task_header;
class scheduler;

/// Functions that depend on the callable's and the output's types.
struct task_vtable {
    /// The root coroutine finished (it is at final_suspend): moves its value
    /// or exception into the task's output slot, destroys the callable and
    /// the frame (so captures and parameters die with the task, as in Tokio)
    /// and sets output_kind.
    void (*finish)(task_header*) noexcept;
    /// Destroys the callable after the frame was destroyed by a cancel.
    void (*drop_callable)(task_header*) noexcept;
    /// Destroys the output (nobody will read it).
    void (*drop_output)(task_header*) noexcept;
    /// Moves the output into a new result<R> constructed at `dst`.
    void (*read_output)(task_header*, void* dst) noexcept;
    /// Frees the task block.
    void (*dealloc)(task_header*) noexcept;
    /// The task's stack of interrupt scopes (kept in the root promise).
    struct interrupt_scope*& (*scopes)(task_header*) noexcept;
};

/// A region of a task that a timeout can abandon (time::timeout).
///
/// Scopes form a stack per task, innermost first, kept in the root
/// coroutine's promise (a root has no continuation, so the word is free):
/// the timeout awaiter pushes its scope before running its inner work and
/// pops it when the work finishes or is destroyed, always in LIFO order
/// because inner work finishes (or is destroyed) before outer work.
///
/// When a timeout's timer fires, the driver sets the task's INTERRUPTED bit
/// and wakes it. The poller (which holds RUNNING) then finds the outermost
/// fired scope, calls `abandon` (which destroys the timed-out inner work:
/// its frames, leaves and nested scopes) and resumes `parent`, whose
/// await_resume reports the elapsed deadline.
struct interrupt_scope {
    interrupt_scope* prev = nullptr;
    const std::atomic<bool>* fired = nullptr;
    std::coroutine_handle<> parent;
    void (*abandon)(interrupt_scope*) noexcept = nullptr;
};

/// What the output slot of a COMPLETE task holds.
enum class output_kind : std::uint32_t { cancelled = 0, value = 1, panic = 2, taken = 3 };

struct task_header {
    task_state state;
    const task_vtable* vtable;
    scheduler* sched;
    std::uint64_t id;
    std::coroutine_handle<> root;
    // Until COMPLETE, the coroutine to resume; afterwards, if the task ended
    // with an exception (output_kind::panic), the exception.
    union {
        std::coroutine_handle<> resume_point;
        std::exception_ptr panic;
    };
    task_header* join_waker_task;
    std::uint32_t join_waker_token;
    std::uint32_t owned_index;
    // Until COMPLETE, the suspension token; afterwards, the output_kind.
    std::uint32_t suspend_token;
    std::atomic<std::uint32_t> wake_token;

    /// `site`: the interned spawn site (spawn_site.hpp), kept in the state
    /// word's top bits (detail/task/state.hpp).
    task_header(const task_vtable* vt, scheduler* s, std::uint64_t task_id,
                std::coroutine_handle<> r, std::uint32_t site = 0) noexcept
        : state(state_bits::initial | (std::uint64_t{site} << state_bits::site_shift)), vtable(vt),
          sched(s), id(task_id), root(r), resume_point(r), join_waker_task(nullptr),
          join_waker_token(0), owned_index(0), suspend_token(0), wake_token(0) {}
    ~task_header() {}

    task_header(const task_header&) = delete;
    task_header& operator=(const task_header&) = delete;

    output_kind output() const noexcept { return static_cast<output_kind>(suspend_token); }
    void set_output(output_kind k) noexcept { suspend_token = static_cast<std::uint32_t>(k); }
};

static_assert(sizeof(void*) != 8 || sizeof(task_header) == 72,
              "the task header must stay at 72 bytes: header + empty frame <= 128 (Tokio)");

// ---------------------------------------------------------------------------
// Reference counting (state word, high bits).

inline void task_ref_inc(task_header* t) noexcept {
    // Relaxed, as for shared_ptr: taking a reference requires already holding one.
    t->state.ref_inc();
}

/// Drops `n` references; frees the task when they were the last.
void task_ref_dec(task_header* t, std::uint64_t n = 1) noexcept;

/// For the run queues' WEFT_ASSERTs: a task has at most one queue entry,
/// and only while NOTIFIED is set (detail/task/state.hpp), so a task pushed onto
/// a run queue is NOTIFIED.
inline bool task_is_notified(const task_header* t) noexcept {
    return t->state.load(std::memory_order_relaxed).is_notified();
}

// ---------------------------------------------------------------------------
// The scheduler a task belongs to.

class scheduler {
public:
    /// Puts a notified task on a run queue. The caller hands over one
    /// reference (the queue's). `is_yield` asks for the back of the queue.
    virtual void schedule(task_header* t, bool is_yield) noexcept = 0;
    /// Removes a finished task from the owned-task registry. Returns whether
    /// it was there (the registry's reference is then the caller's to drop).
    virtual bool release(task_header* t) noexcept = 0;
    /// Called by the poller when a spawned task ended with an exception.
    virtual void on_task_panic(task_header* t, std::exception_ptr e) noexcept = 0;

protected:
    ~scheduler() = default;
};

} // namespace weft::detail
