// weft::sync::mutex<T>: an asynchronous, fair mutex that owns the data it
// protects (Tokio's Mutex<T>).
//
//   weft::sync::mutex<std::vector<int>> log;
//   weft::task<> append(weft::sync::mutex<std::vector<int>>& m, int v) {
//       auto guard = co_await m.lock();   // waits without blocking the thread
//       guard->push_back(v);
//       co_await flush();                 // may be held across co_await...
//   }                                     // ...and is released wherever the task runs then
//
// Semantics (Tokio 1.x):
// - lock() waits in FIFO order: the mutex is handed to waiters in the order
//   they started waiting, so none starves.
// - The guard (mutex_guard<T>) is movable and may be released on any
//   thread: it is not tied to the thread that locked, so it can be held
//   across co_await on the multi-thread runtime. Releasing it hands the
//   mutex to the first waiter (which is woken through its waker).
// - try_lock() never waits: nullopt if the mutex is held or tasks wait.
// - mutex<void> (also spelt `mutex<>`) protects no data: a plain async lock.
//
// Design: a semaphore with one permit (semaphore.hpp: its lock, FIFO list
// and cancellation rules apply unchanged); locked == the permit is out. A
// lock() whose task is aborted while waiting, or after the mutex was handed
// to it but before it resumed, gives the permit back to the next waiter, so
// an aborted waiter never leaves the mutex locked. The mutex must outlive its
// guards and waiters; it is never closed. This is not a std::mutex: holding
// a mutex_guard blocks other *tasks*, never threads; use std::mutex for
// short critical sections without co_await (Tokio gives the same advice).
//
// Lock: none of its own; the semaphore's detail::spin_mutex (semaphore.hpp).
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "weft/sync/semaphore.hpp"

namespace weft::sync {

template <class T = void>
class mutex;
template <class T>
class mutex_lock_awaiter;

/// Exclusive access to the data of a mutex<T>; unlocks when destroyed.
/// Move-only; may be moved to and destroyed on another thread or task.
///
///   auto g = co_await m.lock();
///   *g += 1;            // or g->member
///   g.unlock();         // early release (the guard is then empty)
template <class T>
class mutex_guard {
public:
    mutex_guard(mutex_guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    mutex_guard& operator=(mutex_guard&& o) noexcept {
        if (this != &o) {
            unlock();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    mutex_guard(const mutex_guard&) = delete;
    mutex_guard& operator=(const mutex_guard&) = delete;
    ~mutex_guard() { unlock(); }

    /// The protected value (precondition: the guard holds the lock).
    template <class U = T>
    requires(!std::is_void_v<U>) U& operator*() const noexcept { return m_->value_; }
    template <class U = T>
    requires(!std::is_void_v<U>) U* operator->() const noexcept { return &m_->value_; }

    /// Whether this guard still holds the lock (false once moved from or unlocked).
    bool owns_lock() const noexcept { return m_ != nullptr; }
    explicit operator bool() const noexcept { return owns_lock(); }

    /// Releases the lock now (does nothing if already released).
    void unlock() noexcept {
        if (m_ != nullptr) detail::semaphore_access::release(std::exchange(m_, nullptr)->sem_, 1);
    }

private:
    friend class mutex<T>;
    friend class mutex_lock_awaiter<T>;
    explicit mutex_guard(mutex<T>* m) noexcept : m_(m) {}
    mutex<T>* m_;
};

/// The awaitable returned by mutex::lock(); gives a mutex_guard<T>.
template <class T>
class mutex_lock_awaiter : public detail::acquire_op {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::mutex;
    mutex_guard<T> await_resume() noexcept {
        (void)finish(); // a mutex is never closed
        return mutex_guard<T>(m_);
    }

private:
    friend class mutex<T>;
    explicit mutex_lock_awaiter(mutex<T>* m) noexcept : acquire_op(&m->sem_, 1), m_(m) {}
    mutex<T>* m_;
};

/// An asynchronous mutex owning a T (see the top of this header).
///
///   weft::sync::mutex<int> counter(0);
///   { auto g = co_await counter.lock(); ++*g; }
///   if (auto g = counter.try_lock()) ++**g;
template <class T>
class mutex {
public:
    /// Constructs the protected value from `args`.
    ///
    ///   weft::sync::mutex<std::string> name("weft");
    template <class... Args>
    requires std::is_constructible_v<T, Args&&...>
    explicit mutex(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args&&...>)
        : sem_(1), value_(std::forward<Args>(args)...) {}
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    /// Awaitable: waits (FIFO) for the lock and gives its guard.
    ///
    ///   auto g = co_await m.lock();
    ///
    /// Cancel safety (`sync::mutex::lock`): cancel safe. Gives up its place in the queue; a lock
    /// granted to it goes to the next waiter (mutex<void>::lock alike).
    [[nodiscard]] mutex_lock_awaiter<T> lock() noexcept { return mutex_lock_awaiter<T>(this); }

    /// The guard if the lock is free and nobody waits, else nullopt.
    ///
    ///   if (std::optional<weft::sync::mutex_guard<int>> g = m.try_lock()) **g = 0;
    std::optional<mutex_guard<T>> try_lock() noexcept {
        if (!detail::semaphore_access::try_take(sem_, 1)) return std::nullopt;
        return mutex_guard<T>(this);
    }

    /// The value without locking: only when no other task or thread can use
    /// the mutex (Tokio's get_mut, which takes &mut self).
    ///
    ///   m.get_mut() = 0;   // during setup, before spawning users
    T& get_mut() noexcept { return value_; }

private:
    friend class mutex_guard<T>;
    friend class mutex_lock_awaiter<T>;
    semaphore sem_;
    T value_;
};

/// A mutex without data: a plain asynchronous lock.
///
///   weft::sync::mutex<> m;            // or weft::sync::mutex m;
///   { auto g = co_await m.lock(); write_both_files(); }
template <>
class mutex<void> {
public:
    mutex() : sem_(1) {}
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    /// Awaitable: waits (FIFO) for the lock and gives its guard.
    [[nodiscard]] mutex_lock_awaiter<void> lock() noexcept {
        return mutex_lock_awaiter<void>(this);
    }
    /// The guard if the lock is free and nobody waits, else nullopt.
    std::optional<mutex_guard<void>> try_lock() noexcept {
        if (!detail::semaphore_access::try_take(sem_, 1)) return std::nullopt;
        return mutex_guard<void>(this);
    }

private:
    friend class mutex_guard<void>;
    friend class mutex_lock_awaiter<void>;
    semaphore sem_;
};

mutex()->mutex<void>;

} // namespace weft::sync
