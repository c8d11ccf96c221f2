// weft::sync::semaphore: a fair (FIFO) counting semaphore for tasks, Tokio's
// Semaphore. It is also the engine of weft::sync::mutex and rw_lock.
//
//   weft::sync::semaphore connections(100);
//   weft::task<> serve(weft::sync::semaphore& sem) {
//       weft::sync::semaphore_permit p = co_await sem.acquire(); // may wait
//       co_await handle_one();
//   }                                                 // the permit goes back
//
// Semantics (Tokio 1.x):
// - acquire(n) takes n permits at once. Waiters are served strictly in FIFO
//   order: a waiter at the head that needs more permits than are available
//   blocks every later waiter, even ones that would fit (no starvation of
//   large requests). Permits released while the head still lacks some are
//   assigned to it (partially), so they cannot be stolen by try_acquire.
// - try_acquire(n) never waits; it fails with no_permits when fewer than n
//   permits are available, which is always the case while tasks wait.
//   acquire(0) / try_acquire(0) succeed at once unless the semaphore is
//   closed.
// - close() fails every waiting acquire and every later one; permits already
//   handed out stay valid and may still be returned. A closed semaphore
//   stays closed.
// - At most max_permits (SIZE_MAX >> 3, Tokio's MAX_PERMITS) permits:
//   semaphore(n) and add_permits beyond it throw (Tokio panics).
//
// Errors: `co_await s.acquire(n)` gives a semaphore_permit or throws
// acquire_error when the semaphore is (or gets) closed. A semaphore that is
// closed is usually a shutdown signal that the code acquiring cannot handle
// locally, so an exception (like a Rust `?` on AcquireError) is what a C++
// user expects; try_acquire, whose failures are routine, returns them as a
// try_acquire_result instead.
//
// Design and invariants:
// - state_ holds (available permits << 1) | closed bit. Lock-free fast paths
//   (try_acquire, acquire when permits are there) only ever subtract from it.
// - mu_ (a spin_mutex) guards the waiter list and, in each waiter node, its
//   `remaining` count, its state and its waker. Permits are added to state_
//   only under mu_, and only once the waiter list is empty: releases serve
//   the queue first. Hence "waiters queued => state_ holds 0 permits", which
//   is what makes the lock-free fast path fair.
// - A releaser assigns permits to the head nodes under mu_, moves the wakers
//   of the nodes it satisfied out (at most 32 at a time) and wakes them after
//   unlocking (re-locking for the next batch). Nodes live inside the
//   awaiters (intrusive list: waiting allocates nothing).
// - Cancellation: an acquire destroyed while waiting unlinks its node and
//   returns the permits already assigned to it (to the next waiters); one
//   destroyed after it was granted everything but before it resumed (its
//   task aborted, a select branch dropped) returns all of them. One that got
//   its permits without waiting but had to yield for the cooperative budget
//   (coop_proceed) returns them too. Permits are never lost or duplicated.
// - Lifetime: the semaphore must outlive its waiters and permits.
//
// Lock: detail::spin_mutex (spin_mutex.hpp says why not std::mutex): every
// section under mu_ is a permit count update or a list link/unlink; wakers
// run after unlocking. notify uses std::mutex instead (notify.hpp says why).
#pragma once

#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/expected.hpp"

namespace weft::sync {

class semaphore;
class semaphore_permit;

/// Thrown by `co_await semaphore::acquire()` when the semaphore is closed.
///
///   try {
///       auto p = co_await sem.acquire();
///   } catch (const weft::sync::acquire_error&) {
///       co_return; // shutting down
///   }
class acquire_error : public std::runtime_error {
public:
    acquire_error() : std::runtime_error("weft::sync::semaphore: closed") {}
};

/// Why try_acquire failed.
///
///   if (auto r = sem.try_acquire(); !r && r.error() == try_acquire_error::closed) co_return;
enum class try_acquire_error : unsigned char {
    no_permits, ///< fewer permits available than asked for (or tasks wait)
    closed,     ///< the semaphore is closed
};

namespace detail {

struct semaphore_waiter {
    semaphore_waiter* prev = nullptr;
    semaphore_waiter* next = nullptr;
    weft::detail::waker waker;
    std::size_t remaining = 0; // permits still to assign
    enum class state : unsigned char { idle, waiting, granted, closed } st = state::idle;
};

/// For mutex and rw_lock guards: returns permits without the overflow check.
struct semaphore_access {
    static void release(semaphore& s, std::size_t n) noexcept;
    /// try_acquire without building a permit: true when `n` were taken.
    static bool try_take(semaphore& s, std::size_t n) noexcept;
};

/// The acquire operation behind semaphore::acquire, mutex::lock and
/// rw_lock::read/write. Derived awaiters add await_resume.
class acquire_op : public weft::detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::semaphore;
    /// Copies and moves make a fresh operation: only an unawaited one may be
    /// copied (GCC 12 copies a named awaiter in `co_await a`).
    acquire_op(const acquire_op& o) noexcept : sem_(o.sem_), n_(o.n_) {}
    acquire_op& operator=(const acquire_op&) = delete;
    ~acquire_op();

    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> h);

protected:
    acquire_op(semaphore* s, std::size_t n) noexcept : sem_(s), n_(n) {}
    /// For await_resume: true when the n permits are now the caller's, false
    /// when the semaphore was closed (any permits assigned were returned).
    bool finish() noexcept;

    semaphore* sem_;
    std::size_t n_;

private:
    enum class phase : unsigned char { init, acquired, closed, registered, done };
    semaphore_waiter node_;
    phase phase_ = phase::init;
};

} // namespace detail

/// Permits taken from a semaphore; gives them back when destroyed.
/// Move-only. The semaphore must outlive it.
///
///   {
///       weft::sync::semaphore_permit p = co_await sem.acquire(2);
///       assert(p.num_permits() == 2);
///   } // two permits back
class semaphore_permit {
public:
    semaphore_permit() noexcept = default;
    semaphore_permit(semaphore_permit&& o) noexcept
        : sem_(std::exchange(o.sem_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    semaphore_permit& operator=(semaphore_permit&& o) noexcept {
        if (this != &o) {
            release();
            sem_ = std::exchange(o.sem_, nullptr);
            n_ = std::exchange(o.n_, 0);
        }
        return *this;
    }
    semaphore_permit(const semaphore_permit&) = delete;
    semaphore_permit& operator=(const semaphore_permit&) = delete;
    ~semaphore_permit() { release(); }

    /// How many permits this object holds.
    std::size_t num_permits() const noexcept { return n_; }

    /// Gives the permits up without returning them: the semaphore has that
    /// many fewer for good (until add_permits).
    ///
    ///   (co_await sem.acquire()).forget();   // one permit fewer, forever
    void forget() noexcept {
        sem_ = nullptr;
        n_ = 0;
    }

    /// Takes over the permits of `other` (same semaphore; throws
    /// std::invalid_argument otherwise).
    ///
    ///   auto a = co_await sem.acquire(1);
    ///   a.merge(co_await sem.acquire(2));   // a holds 3
    void merge(semaphore_permit&& other);

    /// Splits `n` permits off into a new permit; nullopt (and no change) when
    /// this one holds fewer than `n`.
    ///
    ///   auto p = co_await sem.acquire(3);
    ///   std::optional<semaphore_permit> one = p.split(1);   // p holds 2
    std::optional<semaphore_permit> split(std::size_t n) noexcept;

private:
    friend class semaphore;
    friend class acquire_awaiter;
    semaphore_permit(semaphore* s, std::size_t n) noexcept : sem_(s), n_(n) {}
    void release() noexcept;

    semaphore* sem_ = nullptr;
    std::size_t n_ = 0;
};

/// The result of semaphore::try_acquire: a permit or a try_acquire_error
/// (a weft::expected<semaphore_permit, try_acquire_error>).
///
///   if (auto r = sem.try_acquire(2)) {
///       semaphore_permit p = std::move(*r);
///   } else if (r.error() == weft::sync::try_acquire_error::closed) { /* closed */ }
class try_acquire_result : public expected<semaphore_permit, try_acquire_error> {
    using base = expected<semaphore_permit, try_acquire_error>;

public:
    try_acquire_result(semaphore_permit p) noexcept : base(std::in_place, std::move(p)) {}
    try_acquire_result(try_acquire_error e) noexcept : base(unexpect, e) {}
};

/// The awaitable returned by semaphore::acquire(): gives a semaphore_permit
/// or throws acquire_error.
class acquire_awaiter : public detail::acquire_op {
public:
    semaphore_permit await_resume();

private:
    friend class semaphore;
    using acquire_op::acquire_op;
};

/// A fair counting semaphore (see the top of this header).
///
///   weft::sync::semaphore sem(2);
///   auto a = co_await sem.acquire();       // 1 left
///   auto b = sem.try_acquire();            // 0 left; b.has_value()
///   sem.add_permits(3);                    // 3 left
///   sem.close();                           // acquire() now throws acquire_error
class semaphore {
public:
    /// The most permits a semaphore can hold (Tokio's MAX_PERMITS).
    static constexpr std::size_t max_permits = SIZE_MAX >> 3;

    /// A semaphore with `permits` permits; throws std::invalid_argument above
    /// max_permits.
    explicit semaphore(std::size_t permits);
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;
    ~semaphore() = default;

    /// Awaitable: waits (FIFO) for `n` permits. Gives a semaphore_permit, or
    /// throws acquire_error if the semaphore is closed before they are all
    /// granted. Throws std::invalid_argument at once if n > max_permits.
    ///
    ///   semaphore_permit p = co_await sem.acquire(3);
    ///
    /// Cancel safety (`sync::semaphore::acquire`): cancel safe. Gives up its place in the queue;
    /// permits assigned to it, even some of n, are returned.
    acquire_awaiter acquire(std::size_t n = 1);

    /// Takes `n` permits if they are available now (and nobody waits).
    ///
    ///   if (auto p = sem.try_acquire()) { /* ... */ }   // p->num_permits() == 1
    try_acquire_result try_acquire(std::size_t n = 1) noexcept;

    /// Adds `n` permits (to the waiters first). Throws std::overflow_error,
    /// changing nothing, if the total would exceed max_permits.
    ///
    ///   sem.add_permits(5);
    void add_permits(std::size_t n);

    /// Permits available now (0 while tasks wait).
    ///
    ///   if (sem.available_permits() == 0) log("saturated");
    std::size_t available_permits() const noexcept {
        return state_.load(std::memory_order_acquire) >> 1;
    }

    /// Closes the semaphore: waiting and later acquires fail (acquire_error,
    /// try_acquire_error::closed). Permits out there stay valid.
    ///
    ///   sem.close();
    void close() noexcept;

    /// Whether close() was called.
    ///
    ///   if (sem.is_closed()) co_return;
    bool is_closed() const noexcept { return (state_.load(std::memory_order_acquire) & 1) != 0; }

private:
    friend class detail::acquire_op;
    friend class semaphore_permit;
    friend struct detail::semaphore_access;

    enum class take_result : unsigned char { ok, no_permits, closed };
    using node = detail::semaphore_waiter;
    static constexpr std::size_t closed_bit = 1;
    static constexpr std::size_t wake_batch = 32;

    take_result try_take(std::size_t n) noexcept;
    /// Returns `n` permits: to the waiters first, then to state_.
    void release(std::size_t n) noexcept;
    /// mu_ held by `lk`; unlocks it.
    void release_locked(std::size_t n, std::unique_lock<weft::detail::spin_mutex>& lk) noexcept;
    void unlink(node* w) noexcept;
    void push_back(node* w) noexcept;

    std::atomic<std::size_t> state_;
    weft::detail::spin_mutex mu_;
    node* head_ = nullptr;
    node* tail_ = nullptr;
};

} // namespace weft::sync
