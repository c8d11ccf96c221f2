// weft::sync::notify: wake one task or all waiting tasks, without data.
//
//   weft::sync::notify ready;
//   weft::spawn([&ready]() -> weft::task<> {       // (keep `ready` alive!)
//       co_await ready.notified();
//       std::puts("go");
//   });
//   ready.notify_one();
//
// Semantics (Tokio's Notify):
// - notify_one() wakes one waiting task; if none waits, it stores a single
//   permit that the next notified() consumes at once. Permits do not add up.
// - notify_waiters() wakes every task waiting now, and every notified()
//   object created before the call, even if not yet awaited; it stores no
//   permit.
// - Waiters are woken in FIFO order.
// - Cancellation safety: a waiter destroyed (its task aborted, a select
//   branch dropped) after notify_one chose it passes the notification on to
//   the next waiter (or back as a permit): notify_one is never lost.
// - Lock: a std::mutex, where the other primitives use detail::spin_mutex.
//   notify_waiters gathers every waiter's waker into a vector under the
//   lock (allocating), a section too long to spin on; notify_one and an
//   already-notified wait take the lock-free path on state_ when they can.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>

#include "weft/detail/task/wake.hpp"

namespace weft::sync {

class notify;

namespace detail {

struct notify_waiter {
    notify_waiter* prev = nullptr;
    notify_waiter* next = nullptr;
    weft::detail::waker waker;
    enum class state : unsigned char { idle, waiting, notified_one, notified_all } st = state::idle;
};

} // namespace detail

class notify;

/// The awaitable returned by notify::notified().
class notified_awaiter : public weft::detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::notify;
    /// Copies and moves make a fresh awaiter with the same creation-time
    /// snapshot (for notify_waiters); only an unawaited object may be copied.
    /// (GCC 12 copies a named awaiter in `co_await f`; this keeps that working.)
    notified_awaiter(const notified_awaiter& o) noexcept : n_(o.n_), calls_(o.calls_) {}
    notified_awaiter& operator=(const notified_awaiter&) = delete;
    ~notified_awaiter();

    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept { done_ = true; }

private:
    friend class notify;
    notified_awaiter(notify* n, std::uint64_t calls) noexcept : n_(n), calls_(calls) {}

    notify* n_;
    std::uint64_t calls_; // notify_waiters calls when this object was made
    detail::notify_waiter node_;
    bool ready_ = false;
    bool took_permit_ = false;
    bool registered_ = false;
    bool done_ = false;
};

class notify {
public:
    notify() noexcept = default;
    notify(const notify&) = delete;
    notify& operator=(const notify&) = delete;
    ~notify() = default;

    /// Wakes the first waiting task, or stores one permit.
    void notify_one() noexcept;
    /// Wakes every waiting task; stores no permit.
    void notify_waiters() noexcept;
    /// Awaitable that completes on a notification (or a stored permit).
    ///
    /// Cancel safety (`sync::notify::notified`): cancel safe. A notify_one that chose a cancelled
    /// waiter passes to the next waiter or becomes the permit.
    notified_awaiter notified() noexcept {
        return notified_awaiter(this, state_.load(std::memory_order_acquire) >> calls_shift);
    }

private:
    friend class notified_awaiter;
    // state_: low 2 bits {empty, waiting, notified(permit)}, the rest counts
    // notify_waiters calls. Changes to `waiting` happen under mu_.
    static constexpr std::uint64_t empty = 0, waiting = 1, permit = 2, mode_mask = 3;
    static constexpr unsigned calls_shift = 2;

    bool try_take_permit() noexcept;
    /// mu_ held: picks the waiter to wake (its waker is returned) or stores a permit.
    weft::detail::waker notify_one_locked() noexcept;
    void unlink(detail::notify_waiter* w) noexcept;
    std::mutex mu_;
    std::atomic<std::uint64_t> state_{0};
    detail::notify_waiter* head_ = nullptr;
    detail::notify_waiter* tail_ = nullptr;
};

} // namespace weft::sync
