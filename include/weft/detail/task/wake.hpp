// Wakers: a counted reference to a task plus the suspension it wakes.
//
// # Waking, and why tokens
//
// Only the worker that runs a task resumes its coroutines (docs/architecture.md,
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

#include <coroutine>
#include <cstdint>
#include <utility>

#include "weft/detail/config.hpp"
#include "weft/detail/task/context.hpp"
#include "weft/detail/task/header.hpp"

namespace weft::detail {

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
