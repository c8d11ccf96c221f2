// weft::sync::watch: a single value that many receivers observe; each
// receiver learns when it changed.
//
//   auto [tx, rx] = weft::sync::watch::channel(std::string("starting"));
//   weft::spawn([rx]() mutable -> weft::task<> {            // receivers copy
//       while (co_await rx.changed())                       // false: sender gone
//           std::puts(rx.borrow_and_update()->c_str());
//   });
//   (void)tx.send("running");
//
// Semantics (Tokio's tokio::sync::watch):
// - The channel always holds one value. `send(v)` replaces it and marks it
//   changed for every receiver; it fails, handing `v` back and leaving the
//   value as it was, when no receiver exists. `send_modify(f)` edits the
//   value in place (always, receivers or not); `send_replace(v)` stores `v`
//   and gives the old value back.
// - Every receiver remembers the version it has seen. `co_await changed()`
//   completes (true) as soon as the value is newer than that and marks it
//   seen; it gives false when the sender is gone and nothing new is unseen.
//   `has_changed()` asks without waiting; `borrow_and_update()` reads and
//   marks seen; `borrow()` reads without marking.
// - Receivers are copyable (a copy starts with the same seen version);
//   `tx.subscribe()` makes a receiver that has seen the current value.
// - Intermediate values may be skipped: a slow receiver sees the latest.
//
// Design: one shared block. The value is guarded by a std::shared_mutex
// (readers share it, send takes it exclusively); `borrow()` returns a guard
// that holds the shared lock, so do not keep it across a co_await (a sender
// would block its thread). A `closed` flag and the list of waiting changed()
// awaiters are guarded by a spin_mutex `mu` (lock order: value_mu, then mu).
// The version (an atomic counter) is bumped while holding both, in the same
// `mu` section that takes every waiter's waker out; the wakers are woken
// after unlocking. A changed() awaiter re-checks the version and registers
// under `mu`, so it neither misses a change nor gets a wake without one
// (a woken changed() must find something new: it cannot wait again). Its
// destructor unlinks under `mu` (cancellation loses nothing: changed()
// takes no value, the version stays unseen).
//
// Lock: detail::spin_mutex for `mu` (spin_mutex.hpp says why not std::mutex):
// its sections link, unlink or wake-list waiters only. `value_mu` is a
// std::shared_mutex: readers may hold it for as long as they hold a borrow.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/sync/detail/channel_util.hpp"

namespace weft::sync::watch {

/// The error of a failed send: no receiver exists. Holds the value.
///
///   if (auto r = tx.send(cfg); !r) keep(std::move(r.error().value));
template <class T>
struct send_error {
    T value;
};

/// Result of send(v).
template <class T>
using send_result = expected<void, send_error<T>>;

template <class T>
class sender;
template <class T>
class receiver;

namespace detail {

struct adopt_t {};

template <class T>
struct shared {
    mutable std::shared_mutex value_mu;
    T value;                               // guarded by value_mu
    std::atomic<std::uint64_t> version{0}; // bumped under value_mu (exclusive)
    weft::detail::spin_mutex mu;
    bool closed = false; // guarded by mu (also mirrored in closed_flag)
    std::atomic<bool> closed_flag{false};
    weft::sync::detail::wait_list waiters; // guarded by mu
    std::atomic<std::size_t> receivers{1};
    std::atomic<std::size_t> refs{2};

    template <class... A>
    explicit shared(A&&... a) : value(std::forward<A>(a)...) {}

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    void add_receiver() noexcept {
        receivers.fetch_add(1, std::memory_order_relaxed);
        refs.fetch_add(1, std::memory_order_relaxed);
    }
    void drop_receiver() noexcept {
        receivers.fetch_sub(1, std::memory_order_acq_rel);
        release();
    }
    /// mu held. Takes every waiting changed()'s waker into `ws`.
    void take_all(std::vector<weft::detail::waker>& ws) noexcept {
        while (auto* n = waiters.pop_front()) {
            try {
                ws.push_back(std::move(n->waker));
            } catch (...) {
                std::move(n->waker).wake(); // out of memory: wake under the lock
            }
        }
    }
    /// Publishes a new value: call with value_mu held exclusively. The
    /// version is bumped under `mu` together with taking the waiters, so a
    /// changed() that registers after the bump is not woken by it (it would
    /// resume with nothing new: a wake must mean a change).
    void bump_locked(std::vector<weft::detail::waker>& ws) noexcept {
        std::lock_guard lk(mu);
        version.fetch_add(1, std::memory_order_release);
        take_all(ws);
    }
    static void wake(std::vector<weft::detail::waker>& ws) noexcept {
        for (auto& w : ws)
            std::move(w).wake();
    }
};

} // namespace detail

/// A read guard: holds the value's shared lock. Do not keep it across a
/// co_await (it would block the sender's thread) and do not send while
/// holding it (self-deadlock).
///
///   {
///       auto v = rx.borrow();
///       std::printf("%d\n", v->port);
///   }   // lock released
template <class T>
class ref {
public:
    const T& operator*() const noexcept { return *value_; }
    const T* operator->() const noexcept { return value_; }
    const T& get() const noexcept { return *value_; }
    /// Whether this value was unseen by the receiver when it was borrowed
    /// (borrow_and_update then marked it seen).
    bool has_changed() const noexcept { return changed_; }

    ref(std::shared_lock<std::shared_mutex> lk, const T* v, bool changed) noexcept
        : lk_(std::move(lk)), value_(v), changed_(changed) {}

private:
    std::shared_lock<std::shared_mutex> lk_;
    const T* value_;
    bool changed_;
};

/// The sending half. Move-only; dropping it closes the channel (receivers'
/// changed() gives false once they have seen the last value).
///
///   auto [tx, rx] = weft::sync::watch::channel(0);
///   tx.send_modify([](int& v) { ++v; });
template <class T>
class sender {
    using shared_t = detail::shared<T>;

public:
    sender() noexcept = default;
    sender(sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    sender& operator=(sender&& o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;
    ~sender() { reset(); }

    /// Internal (used by channel()).
    sender(detail::adopt_t, shared_t* s) noexcept : s_(s) {}

    /// Stores `v` and notifies every receiver; fails (handing `v` back, the
    /// old value kept) when no receiver exists.
    ///
    ///   if (!tx.send(cfg)) std::puts("nobody listens");
    send_result<T> send(T v) {
        if (s_->receivers.load(std::memory_order_acquire) == 0)
            return send_result<T>(unexpect, send_error<T>{std::move(v)});
        (void)send_replace(std::move(v));
        return {};
    }

    /// Stores `v` (receivers or not), notifies, and gives the old value.
    ///
    ///   config old = tx.send_replace(cfg);
    T send_replace(T v) {
        std::vector<weft::detail::waker> ws;
        {
            std::unique_lock lk(s_->value_mu);
            std::swap(v, s_->value);
            s_->bump_locked(ws);
        }
        shared_t::wake(ws);
        return v;
    }

    /// Modifies the value in place under the lock, then notifies every
    /// receiver (even if none exists). `f` must not touch this channel.
    ///
    ///   tx.send_modify([](config& c) { c.port = 8080; });
    template <class F>
    void send_modify(F&& f) {
        std::vector<weft::detail::waker> ws;
        {
            std::unique_lock lk(s_->value_mu);
            std::forward<F>(f)(s_->value);
            s_->bump_locked(ws);
        }
        shared_t::wake(ws);
    }

    /// Reads the current value (shared lock held by the guard).
    ///
    ///   int port = tx.borrow()->port;
    ref<T> borrow() const {
        std::shared_lock lk(s_->value_mu);
        return ref<T>(std::move(lk), &s_->value, false);
    }

    /// A new receiver that has seen the current value.
    ///
    ///   auto rx2 = tx.subscribe();
    receiver<T> subscribe() {
        s_->add_receiver();
        return receiver<T>(detail::adopt_t{}, s_, s_->version.load(std::memory_order_acquire));
    }

    /// Number of receivers.
    std::size_t receiver_count() const noexcept {
        return s_->receivers.load(std::memory_order_acquire);
    }
    /// Whether every receiver is gone.
    bool is_closed() const noexcept { return receiver_count() == 0; }

private:
    void reset() noexcept {
        shared_t* s = std::exchange(s_, nullptr);
        if (s == nullptr) return;
        std::vector<weft::detail::waker> ws;
        {
            std::lock_guard lk(s->mu);
            s->closed = true;
            s->closed_flag.store(true, std::memory_order_release);
            s->take_all(ws);
        }
        shared_t::wake(ws);
        s->release();
    }
    shared_t* s_ = nullptr;
};

/// A receiving half. Copyable: each copy tracks its own seen version.
///
///   auto rx2 = rx;                      // starts where rx is
///   if (rx2.has_changed()) use(*rx2.borrow_and_update());
template <class T>
class receiver {
    using shared_t = detail::shared<T>;

public:
    receiver() noexcept = default;
    receiver(const receiver& o) noexcept : s_(o.s_), seen_(o.seen_) {
        if (s_) s_->add_receiver();
    }
    receiver(receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)), seen_(o.seen_) {}
    receiver& operator=(receiver o) noexcept {
        std::swap(s_, o.s_);
        std::swap(seen_, o.seen_);
        return *this;
    }
    ~receiver() {
        if (s_) s_->drop_receiver();
    }

    /// Internal (used by channel() and subscribe()).
    receiver(detail::adopt_t, shared_t* s, std::uint64_t seen) noexcept : s_(s), seen_(seen) {}

    /// Reads the current value without marking it seen.
    ///
    ///   auto v = rx.borrow();   // do not hold across co_await
    ref<T> borrow() const {
        std::shared_lock lk(s_->value_mu);
        bool changed = s_->version.load(std::memory_order_relaxed) != seen_;
        return ref<T>(std::move(lk), &s_->value, changed);
    }

    /// Reads the current value and marks it seen.
    ///
    ///   while (co_await rx.changed()) apply(*rx.borrow_and_update());
    ref<T> borrow_and_update() {
        std::shared_lock lk(s_->value_mu);
        std::uint64_t v = s_->version.load(std::memory_order_relaxed);
        bool changed = v != seen_;
        seen_ = v;
        return ref<T>(std::move(lk), &s_->value, changed);
    }

    /// Whether a value this receiver has not seen is there. Gives false
    /// (Tokio: an error) once the sender is gone and all was seen.
    bool has_changed() const noexcept {
        return s_->version.load(std::memory_order_acquire) != seen_;
    }

    /// Marks the current value seen.
    void mark_unchanged() noexcept { seen_ = s_->version.load(std::memory_order_acquire); }

    /// Awaiter of changed().
    class changed_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::watch_changed;
        changed_awaiter(const changed_awaiter& o) noexcept : r_(o.r_) {}
        changed_awaiter& operator=(const changed_awaiter&) = delete;
        ~changed_awaiter() {
            if (!registered_) return;
            std::lock_guard lk(r_->s_->mu);
            if (node_.linked) r_->s_->waiters.unlink(&node_);
            node_.waker.reset();
        }
        bool await_ready() noexcept {
            if (!ready_now()) return false;
            if (weft::detail::coop_proceed()) return true;
            yield_ = true;
            return false;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            std::lock_guard lk(r_->s_->mu);
            if (ready_now()) return false; // re-check under mu: no change is missed
            node_.waker = weft::detail::suspend_waker(h);
            r_->s_->waiters.push_back(&node_);
            registered_ = true;
            return true;
        }
        /// True: a new value (now marked seen). False: the sender is gone.
        bool await_resume() noexcept {
            registered_ = false; // whoever woke us unlinked the node
            std::uint64_t v = r_->s_->version.load(std::memory_order_acquire);
            if (v != r_->seen_) {
                r_->seen_ = v;
                return true;
            }
            return false;
        }

    private:
        friend class receiver;
        explicit changed_awaiter(receiver* r) noexcept : r_(r) {}
        bool ready_now() const noexcept {
            return r_->s_->version.load(std::memory_order_acquire) != r_->seen_ ||
                   r_->s_->closed_flag.load(std::memory_order_acquire);
        }
        receiver* r_;
        weft::sync::detail::wait_node node_;
        bool registered_ = false;
        bool yield_ = false;
    };

    /// Waits until the value is newer than the one this receiver saw, and
    /// marks it seen: true. False when the sender is gone and nothing new is
    /// left to see. Cancel-safe (nothing is consumed before it returns).
    ///
    ///   while (co_await rx.changed()) reload(*rx.borrow());
    ///
    /// Cancel safety (`sync::watch::receiver::changed`): cancel safe. A cancelled changed() leaves
    /// the change unseen.
    [[nodiscard]] changed_awaiter changed() noexcept { return changed_awaiter(this); }

    /// Whether both receivers watch the same channel.
    bool same_channel(const receiver& o) const noexcept { return s_ == o.s_; }

private:
    shared_t* s_ = nullptr;
    std::uint64_t seen_ = 0;
};

/// Creates a watch channel holding `init`.
///
///   auto [tx, rx] = weft::sync::watch::channel(config{});
template <class T>
std::pair<sender<std::decay_t<T>>, receiver<std::decay_t<T>>> channel(T&& init) {
    using V = std::decay_t<T>;
    auto* s = new detail::shared<V>(std::forward<T>(init));
    return {std::piecewise_construct, std::forward_as_tuple(detail::adopt_t{}, s),
            std::forward_as_tuple(detail::adopt_t{}, s, std::uint64_t{0})};
}

} // namespace weft::sync::watch
