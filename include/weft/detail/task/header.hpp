// The spawned task: header, state word, wakers, and the thread context.
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
// # Waking, and why tokens
//
// Only the worker that runs a task resumes its coroutines (DESIGN.md,
// "Waking"). A leaf awaitable that suspends records the coroutine to resume
// (`resume_point`) and takes a `waker`: a counted reference to the task plus
// the *suspension token* of this suspension. Waking raises the task's
// `wake_token` to that token and schedules the task. When the worker polls
// the task, it resumes `resume_point` only if `wake_token` has reached the
// current `suspend_token`; otherwise the wake was stale (a waker from an
// earlier suspension that fired late, for example after a select withdrew
// its branch) and the task goes back to idle without being resumed. This
// makes spurious wake-ups harmless, which C++ coroutines need: a resumed
// coroutine cannot re-check its condition and suspend again at the same
// co_await.
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

// ---------------------------------------------------------------------------
// Wakers.

/// A counted reference to a task plus the suspension it wakes. Move-only.
class waker {
public:
    waker() noexcept = default;
    waker(task_header* t, std::uint32_t token) noexcept : task_(t), token_(token) {}
    waker(waker&& o) noexcept : task_(std::exchange(o.task_, nullptr)), token_(o.token_) {}
    waker& operator=(waker&& o) noexcept {
        if (this != &o) {
            reset();
            task_ = std::exchange(o.task_, nullptr);
            token_ = o.token_;
        }
        return *this;
    }
    ~waker() { reset(); }

    explicit operator bool() const noexcept { return task_ != nullptr; }
    task_header* task() const noexcept { return task_; }
    std::uint32_t token() const noexcept { return token_; }

    /// Wakes the task and gives up the reference.
    void wake() && noexcept;
    /// Drops the reference without waking.
    void reset() noexcept {
        if (task_ != nullptr) task_ref_dec(std::exchange(task_, nullptr));
    }
    /// Gives up ownership of the reference without dropping it.
    task_header* release() noexcept { return std::exchange(task_, nullptr); }

private:
    task_header* task_ = nullptr;
    std::uint32_t token_ = 0;
};

/// Wakes task `t` for suspension `token`; `by_val` consumes one reference.
void wake_task(task_header* t, std::uint32_t token, bool by_val) noexcept;

inline void waker::wake() && noexcept {
    if (task_ != nullptr) wake_task(std::exchange(task_, nullptr), token_, true);
}

/// The task polled on this thread; throws runtime_error when there is none
/// (a weft leaf awaited outside a weft task).
task_header* current_task_or_throw();

/// For a leaf's await_suspend: records `h` as the point to resume, starts a
/// new suspension and returns a waker for it.
inline waker suspend_waker(std::coroutine_handle<> h) {
    task_header* t = current_task_or_throw();
    t->resume_point = h;
    std::uint32_t token = ++t->suspend_token;
    task_ref_inc(t);
    return waker(t, token);
}

/// For a leaf's await_suspend: suspends at `h` and asks to run again after
/// the other ready tasks (yield_now, or a spent cooperative budget).
inline void suspend_and_yield(std::coroutine_handle<> h) {
    task_header* t = current_task_or_throw();
    t->resume_point = h;
    std::uint32_t token = ++t->suspend_token;
    t->wake_token.store(token, std::memory_order_relaxed);
    this_thread_context().yielded = true;
}

/// Spends one unit of cooperative budget. False when the budget is spent,
/// or when the current task was aborted while running: the caller then
/// completes its operation but suspends with suspend_and_yield before
/// returning the value (and gives back what it took if it is destroyed
/// there). So an abort lands at the next weft co_await even when that
/// operation is already ready, and a task looping on ready operations
/// cannot starve the others.
inline bool coop_proceed() noexcept {
    thread_context& ctx = this_thread_context();
    task_header* t = ctx.task;     // the spawned task, even inside a join/select branch
    if (t == nullptr) return true; // no task, no budget to keep
    if (WEFT_UNLIKELY(ctx.budget == 0)) return false;
    --ctx.budget;
    return !t->state.load(std::memory_order_relaxed).is_cancelled();
}

/// Marks an awaitable as written for weft: it resumes its coroutine only
/// through a waker (never directly, never on a foreign thread). task<T>
/// refuses to co_await anything else, at compile time.
struct awaitable_tag {};

} // namespace weft::detail
