// weft::join_handle<T> and weft::abort_handle.
//
// spawn() returns a join_handle<T>: the observation and control point of the
// task, never the task itself.
//
//   weft::join_handle<int> h = weft::spawn([]() -> weft::task<int> { co_return 42; });
//   weft::result<int> r = co_await h;   // waits for the task
//   h.abort();                          // cancel it (no effect once finished)
//
// - Destroying the handle detaches the task: it keeps running and its output
//   (value or exception) is dropped when it finishes.
// - `co_await h` gives result<T>: the value, or a join_error that says
//   cancelled or panic. Awaiting twice throws std::logic_error (the output is
//   taken by the first await). An await that was itself cancelled (its task
//   aborted, a select branch dropped) takes nothing: the handle can be
//   awaited again.
// - abort() on a suspended task destroys its frames at the suspension point;
//   on a running task at its next suspension; on a task that has not started,
//   the task never runs.
// - abort_handle: a copyable handle that can only abort and observe.
#pragma once

#include <coroutine>
#include <new>
#include <stdexcept>
#include <utility>

#include "weft/detail/task/wake.hpp"
#include "weft/result.hpp"
#include "weft/task.hpp"
#include "weft/task_id.hpp"

namespace weft {

namespace detail {
void abort_task(task_header* t) noexcept;
bool task_is_finished(const task_header* t) noexcept;
void drop_join_handle(task_header* t) noexcept;
/// Registers `w` as the join waker. False when the task has completed.
bool register_join_waker(task_header* t, waker w) noexcept;
[[noreturn]] void throw_join_twice();
[[noreturn]] void throw_join_empty();
/// The runtime resumed a join awaiter before its task completed: a broken
/// invariant, reported and aborted on rather than reading an unwritten output.
[[noreturn]] void join_resumed_early(const task_header* t) noexcept;
struct join_access;
} // namespace detail

/// Aborts a task and observes whether it finished. Copyable; holds a
/// reference to the task (not to its output).
class abort_handle {
public:
    abort_handle() noexcept = default;
    explicit abort_handle(detail::task_header* t) noexcept : t_(t) {
        if (t_) detail::task_ref_inc(t_);
    }
    abort_handle(const abort_handle& o) noexcept : abort_handle(o.t_) {}
    abort_handle(abort_handle&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    abort_handle& operator=(abort_handle o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~abort_handle() {
        if (t_) detail::task_ref_dec(t_);
    }

    /// Requests cancellation (see join_handle::abort).
    void abort() const noexcept {
        if (t_) detail::abort_task(t_);
    }
    bool is_finished() const noexcept { return t_ == nullptr || detail::task_is_finished(t_); }
    task_id id() const noexcept { return t_ ? task_id(t_->id) : task_id(); }

private:
    detail::task_header* t_ = nullptr;
};

/// Cancel safety (`join_handle (co_await handle)`): cancel safe. A cancelled join leaves the task
/// running and the handle joinable again.
template <class T>
class join_handle {
public:
    static constexpr weft::detail::await_kind weft_await_kind =
        weft::detail::await_kind::join_handle;
    join_handle() noexcept = default;
    join_handle(join_handle&& o) noexcept
        : t_(std::exchange(o.t_, nullptr)), consumed_(o.consumed_) {}
    join_handle& operator=(join_handle&& o) noexcept {
        if (this != &o) {
            reset();
            t_ = std::exchange(o.t_, nullptr);
            consumed_ = o.consumed_;
        }
        return *this;
    }
    join_handle(const join_handle&) = delete;
    join_handle& operator=(const join_handle&) = delete;
    ~join_handle() { reset(); }

    /// Requests cancellation. A suspended task is destroyed at its suspension
    /// point (destructors run, nothing after the co_await runs); a running
    /// one at its next suspension; a task that has not started never runs.
    /// No effect on a finished task: awaiting still gives its output.
    void abort() const noexcept {
        if (t_) detail::abort_task(t_);
    }
    /// Whether the task has finished (value, exception or cancelled).
    bool is_finished() const noexcept { return t_ == nullptr || detail::task_is_finished(t_); }
    weft::abort_handle abort_handle() const noexcept { return weft::abort_handle(t_); }
    task_id id() const noexcept { return t_ ? task_id(t_->id) : task_id(); }

    struct awaiter : detail::awaitable_tag {
        join_handle* h;

        bool await_ready() const {
            h->check_awaitable();
            return detail::task_is_finished(h->t_) && detail::coop_proceed();
        }
        bool await_suspend(std::coroutine_handle<> c) {
            if (detail::task_is_finished(h->t_)) {
                detail::suspend_and_yield(c); // cooperative budget spent
                return true;
            }
            return detail::register_join_waker(h->t_, detail::suspend_waker(c));
        }
        result<T> await_resume() { return h->take_output(); }
    };

    /// Waits for the task and gives its result.
    awaiter operator co_await() & noexcept { return awaiter{{}, this}; }
    awaiter operator co_await() && noexcept { return awaiter{{}, this}; }

private:
    friend struct detail::join_access; // spawn_into.hpp

    /// Adopts the join handle's reference of `t` (the task builders).
    explicit join_handle(detail::task_header* t) noexcept : t_(t) {}

    void check_awaitable() const {
        if (t_ == nullptr) detail::throw_join_empty();
        if (consumed_) detail::throw_join_twice();
    }

    result<T> take_output() {
        // The acquire load of COMPLETE makes the output ours (it pairs with
        // the completer's release), whichever path led here: a ready check,
        // or a wake-up whose own ordering we do not depend on.
        if (WEFT_UNLIKELY(!detail::task_is_finished(t_))) detail::join_resumed_early(t_);
        consumed_ = true;
        alignas(result<T>) unsigned char buf[sizeof(result<T>)];
        t_->vtable->read_output(t_, buf);
        auto* r = std::launder(reinterpret_cast<result<T>*>(buf));
        result<T> out(std::move(*r));
        r->~result<T>();
        return out;
    }

    void reset() noexcept {
        if (t_) detail::drop_join_handle(std::exchange(t_, nullptr));
    }

    detail::task_header* t_ = nullptr;
    bool consumed_ = false;
};

} // namespace weft
