// weft::sync::rw_lock<T>: an asynchronous, fair reader-writer lock that owns
// the data it protects (Tokio's RwLock<T>).
//
//   weft::sync::rw_lock<config> cfg(load());
//   weft::task<> use(weft::sync::rw_lock<config>& c) {
//       auto r = co_await c.read();      // many readers at once
//       co_await serve(r->port);         // guards may be held across co_await
//   }
//   weft::task<> reload(weft::sync::rw_lock<config>& c) {
//       auto w = co_await c.write();     // exclusive
//       *w = load();
//   }
//
// Semantics (Tokio 1.x):
// - Fair and write-preferring: requests are served in FIFO order, so a
//   writer that waits blocks every reader that comes after it (no writer
//   starvation), and the readers queued behind a writer enter together once
//   it is done.
// - At most max_readers (2^29 - 1, Tokio's MAX_READS) read guards at once;
//   a further read() waits like any other request.
// - try_read() / try_write() never wait: nullopt when the lock cannot be
//   taken at once or tasks wait.
// - Guards are movable and may be released on any thread (held across
//   co_await on the multi-thread runtime). A write guard can be downgraded
//   to a read guard atomically (downgrade()).
//
// Design: a semaphore with max_readers permits (semaphore.hpp: its lock,
// FIFO list and cancellation rules apply unchanged): read takes 1, write
// takes all of them. FIFO assignment with partial grants gives the
// write-preference: a writer at the head collects permits as readers leave,
// and readers behind it cannot overtake. A read() or write() whose task is
// aborted while waiting (or after the lock was granted, before it resumed)
// returns every permit it had been assigned to the next waiters. The lock
// must outlive its guards and waiters; it is never closed.
//
// Lock: none of its own; the semaphore's detail::spin_mutex (semaphore.hpp).
#pragma once

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/sync/semaphore.hpp"

namespace weft::sync {

template <class T>
class rw_lock;
template <class T>
class rw_lock_read_awaiter;
template <class T>
class rw_lock_write_awaiter;

/// Shared (read) access to the data of an rw_lock<T>; released when
/// destroyed. Move-only; may be released on another thread.
///
///   auto r = co_await lock.read();
///   use(*r);            // const T&
template <class T>
class rw_lock_read_guard {
public:
    rw_lock_read_guard(rw_lock_read_guard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
    rw_lock_read_guard& operator=(rw_lock_read_guard&& o) noexcept {
        if (this != &o) {
            unlock();
            l_ = std::exchange(o.l_, nullptr);
        }
        return *this;
    }
    rw_lock_read_guard(const rw_lock_read_guard&) = delete;
    rw_lock_read_guard& operator=(const rw_lock_read_guard&) = delete;
    ~rw_lock_read_guard() { unlock(); }

    const T& operator*() const noexcept { return l_->value_; }
    const T* operator->() const noexcept { return &l_->value_; }
    /// Whether this guard still holds its share of the lock.
    bool owns_lock() const noexcept { return l_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }
    /// Releases the read lock now (does nothing if already released).
    void unlock() noexcept {
        if (l_ != nullptr) detail::semaphore_access::release(std::exchange(l_, nullptr)->sem_, 1);
    }

private:
    friend class rw_lock<T>;
    friend class rw_lock_read_awaiter<T>;
    template <class>
    friend class rw_lock_write_guard;
    explicit rw_lock_read_guard(rw_lock<T>* l) noexcept : l_(l) {}
    rw_lock<T>* l_;
};

/// Exclusive (write) access to the data of an rw_lock<T>; released when
/// destroyed. Move-only; may be released on another thread.
///
///   auto w = co_await lock.write();
///   w->field = 1;
///   auto r = std::move(w).downgrade();   // now shared, no writer can slip in
template <class T>
class rw_lock_write_guard {
public:
    rw_lock_write_guard(rw_lock_write_guard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
    rw_lock_write_guard& operator=(rw_lock_write_guard&& o) noexcept {
        if (this != &o) {
            unlock();
            l_ = std::exchange(o.l_, nullptr);
        }
        return *this;
    }
    rw_lock_write_guard(const rw_lock_write_guard&) = delete;
    rw_lock_write_guard& operator=(const rw_lock_write_guard&) = delete;
    ~rw_lock_write_guard() { unlock(); }

    T& operator*() const noexcept { return l_->value_; }
    T* operator->() const noexcept { return &l_->value_; }
    /// Whether this guard still holds the lock.
    bool owns_lock() const noexcept { return l_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }
    /// Releases the write lock now (does nothing if already released).
    void unlock() noexcept {
        if (l_ != nullptr)
            detail::semaphore_access::release(std::exchange(l_, nullptr)->sem_,
                                              rw_lock<T>::max_readers);
    }
    /// Turns this write guard into a read guard without letting a writer in
    /// between: the waiting readers at the head of the queue may enter.
    /// Precondition: owns_lock().
    rw_lock_read_guard<T> downgrade() && noexcept {
        rw_lock<T>* l = std::exchange(l_, nullptr);
        detail::semaphore_access::release(l->sem_, rw_lock<T>::max_readers - 1);
        return rw_lock_read_guard<T>(l);
    }

private:
    friend class rw_lock<T>;
    friend class rw_lock_write_awaiter<T>;
    explicit rw_lock_write_guard(rw_lock<T>* l) noexcept : l_(l) {}
    rw_lock<T>* l_;
};

/// The awaitable returned by rw_lock::read(); gives an rw_lock_read_guard<T>.
template <class T>
class rw_lock_read_awaiter : public detail::acquire_op {
public:
    rw_lock_read_guard<T> await_resume() noexcept {
        (void)finish(); // never closed
        return rw_lock_read_guard<T>(l_);
    }

private:
    friend class rw_lock<T>;
    explicit rw_lock_read_awaiter(rw_lock<T>* l) noexcept : acquire_op(&l->sem_, 1), l_(l) {}
    rw_lock<T>* l_;
};

/// The awaitable returned by rw_lock::write(); gives an rw_lock_write_guard<T>.
template <class T>
class rw_lock_write_awaiter : public detail::acquire_op {
public:
    rw_lock_write_guard<T> await_resume() noexcept {
        (void)finish(); // never closed
        return rw_lock_write_guard<T>(l_);
    }

private:
    friend class rw_lock<T>;
    explicit rw_lock_write_awaiter(rw_lock<T>* l) noexcept
        : acquire_op(&l->sem_, rw_lock<T>::max_readers), l_(l) {}
    rw_lock<T>* l_;
};

/// A fair, write-preferring asynchronous reader-writer lock owning a T (see
/// the top of this header).
///
///   weft::sync::rw_lock<int> v(0);
///   { auto w = co_await v.write(); *w = 1; }
///   { auto r1 = co_await v.read(); auto r2 = v.try_read(); }   // both readers
template <class T>
class rw_lock {
public:
    /// The most read guards at once (Tokio's MAX_READS).
    static constexpr std::size_t max_readers = (std::size_t{1} << 29) - 1;

    /// Constructs the protected value from `args`.
    ///
    ///   weft::sync::rw_lock<std::map<int, int>> table;
    template <class... Args>
    requires std::is_constructible_v<T, Args&&...>
    explicit rw_lock(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args&&...>)
        : sem_(max_readers), value_(std::forward<Args>(args)...) {}
    rw_lock(const rw_lock&) = delete;
    rw_lock& operator=(const rw_lock&) = delete;

    /// Awaitable: waits (FIFO, behind any waiting writer) for shared access.
    ///
    ///   auto r = co_await lock.read();
    ///
    /// Cancel safety (`sync::rw_lock::read`): cancel safe. Gives up its place in the queue; permits
    /// granted to it go to the next waiters.
    [[nodiscard]] rw_lock_read_awaiter<T> read() noexcept { return rw_lock_read_awaiter<T>(this); }

    /// Awaitable: waits (FIFO) for exclusive access.
    ///
    ///   auto w = co_await lock.write();
    ///
    /// Cancel safety (`sync::rw_lock::write`): cancel safe. Gives up its place in the queue; the
    /// permits it collected go to the next waiters.
    [[nodiscard]] rw_lock_write_awaiter<T> write() noexcept {
        return rw_lock_write_awaiter<T>(this);
    }

    /// A read guard if no writer holds or waits for the lock, else nullopt.
    ///
    ///   if (auto r = lock.try_read()) peek(**r);
    std::optional<rw_lock_read_guard<T>> try_read() noexcept {
        if (!detail::semaphore_access::try_take(sem_, 1)) return std::nullopt;
        return rw_lock_read_guard<T>(this);
    }

    /// A write guard if nobody holds or waits for the lock, else nullopt.
    ///
    ///   if (auto w = lock.try_write()) **w = config{};
    std::optional<rw_lock_write_guard<T>> try_write() noexcept {
        if (!detail::semaphore_access::try_take(sem_, max_readers)) return std::nullopt;
        return rw_lock_write_guard<T>(this);
    }

    /// The value without locking: only when no other task or thread can use
    /// the lock (Tokio's get_mut).
    ///
    ///   lock.get_mut().port = 8080;
    T& get_mut() noexcept { return value_; }

private:
    friend class rw_lock_read_guard<T>;
    friend class rw_lock_write_guard<T>;
    friend class rw_lock_read_awaiter<T>;
    friend class rw_lock_write_awaiter<T>;
    semaphore sem_;
    T value_;
};

} // namespace weft::sync
