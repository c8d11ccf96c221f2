// weft::sync::broadcast: multi-producer, multi-consumer; every receiver gets
// every value (a copy), within a bounded history.
//
//   auto [tx, rx] = weft::sync::broadcast::channel<int>(16);
//   auto rx2 = tx.subscribe();
//   (void)tx.send(1);                            // both receivers will see 1
//   auto r = co_await rx.recv();
//   if (r) use(*r);
//   else if (r.error().is_lagged()) { /* missed r.error().skipped() values */ }
//   else { /* closed: every sender gone and all values seen */ }
//
// Semantics (Tokio's tokio::sync::broadcast):
// - `channel<T>(capacity)` keeps the last `capacity` values (0 throws
//   std::invalid_argument). Unlike Tokio, the capacity is not rounded up to a
//   power of two.
// - `send(v)` never waits; it gives the number of receivers that will see
//   `v`, or hands `v` back when there is no receiver.
// - A receiver sees the values sent after it was created (`subscribe()`, or
//   `resubscribe()` of another receiver), in order. If it falls more than
//   `capacity` values behind, the oldest are overwritten: its next recv gives
//   `lagged(n)` (n = values it missed) and it continues from the oldest value
//   still kept.
// - When every sender is gone, recv gives the remaining values, then `closed`.
// - Senders are copyable; receivers are move-only (`resubscribe()` makes a
//   new one starting at the current tail).
//
// Design: one shared block; a spin_mutex `mu` guards everything: the ring of
// `capacity` slots (each holds its value's position and how many receivers
// still have to read it, so a value dies as soon as the last one read it),
// the tail position, the receiver count, the sender-closed flag and the list
// of waiting receivers. T is copied under `mu`. A send takes every waiting
// receiver's waker under `mu` and wakes after unlocking. A recv takes its
// value only in await_ready/await_resume, so a cancelled recv loses nothing
// (the receiver's position did not move); its destructor unlinks under `mu`.
//
// Lock: detail::spin_mutex (spin_mutex.hpp says why not std::mutex): every
// section under `mu` is a ring slot or list update (an overwritten value dies
// after unlocking) and wakers run after unlocking.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/sync/detail/channel_util.hpp"

namespace weft::sync::broadcast {

/// Why recv gave no value: `closed` (every sender gone, all seen), or
/// `lagged`: the receiver missed skipped() values, overwritten before it
/// read them; the next recv continues with the oldest value kept.
///
///   auto r = co_await rx.recv();
///   if (!r && r.error().is_lagged()) log("missed %llu", r.error().skipped());
class recv_error {
public:
    enum class kind { closed, lagged };
    static recv_error closed() noexcept { return recv_error(kind::closed, 0); }
    static recv_error lagged(std::uint64_t n) noexcept { return recv_error(kind::lagged, n); }
    kind reason() const noexcept { return kind_; }
    bool is_closed() const noexcept { return kind_ == kind::closed; }
    bool is_lagged() const noexcept { return kind_ == kind::lagged; }
    /// Values missed (lagged only).
    std::uint64_t skipped() const noexcept { return n_; }
    friend bool operator==(const recv_error&, const recv_error&) = default;

private:
    recv_error(kind k, std::uint64_t n) noexcept : kind_(k), n_(n) {}
    kind kind_;
    std::uint64_t n_;
};

/// Why try_recv gave no value: as recv_error, plus `empty` (nothing new yet).
///
///   auto r = rx.try_recv();
///   if (!r && r.error().is_empty()) { /* come back later */ }
class try_recv_error {
public:
    enum class kind { empty, closed, lagged };
    static try_recv_error empty() noexcept { return try_recv_error(kind::empty, 0); }
    static try_recv_error closed() noexcept { return try_recv_error(kind::closed, 0); }
    static try_recv_error lagged(std::uint64_t n) noexcept {
        return try_recv_error(kind::lagged, n);
    }
    kind reason() const noexcept { return kind_; }
    bool is_empty() const noexcept { return kind_ == kind::empty; }
    bool is_closed() const noexcept { return kind_ == kind::closed; }
    bool is_lagged() const noexcept { return kind_ == kind::lagged; }
    std::uint64_t skipped() const noexcept { return n_; }
    friend bool operator==(const try_recv_error&, const try_recv_error&) = default;

private:
    try_recv_error(kind k, std::uint64_t n) noexcept : kind_(k), n_(n) {}
    kind kind_;
    std::uint64_t n_;
};

/// The error of a failed send: no receiver exists. Holds the value.
template <class T>
struct send_error {
    T value;
};

/// Result of send(v): the number of receivers that will see it, or the value back.
template <class T>
using send_result = expected<std::size_t, send_error<T>>;
/// Result of recv().
template <class T>
using recv_result = expected<T, recv_error>;
/// Result of try_recv().
template <class T>
using try_recv_result = expected<T, try_recv_error>;

template <class T>
class sender;
template <class T>
class receiver;

namespace detail {

struct adopt_t {};

template <class T>
struct slot {
    std::uint64_t pos = 0; // position of the value held (valid if rem > 0 or kept)
    std::size_t rem = 0;   // receivers that still have to read it
    bool full = false;     // holds a value
    alignas(T) unsigned char storage[sizeof(T)];
    T& value() noexcept { return *std::launder(reinterpret_cast<T*>(storage)); }
    void clear() noexcept {
        if (full) value().~T();
        full = false;
        rem = 0;
    }
};

template <class T>
struct shared {
    weft::detail::spin_mutex mu;
    // --- guarded by mu ---
    std::unique_ptr<slot<T>[]> ring;
    const std::size_t cap;
    std::uint64_t tail = 0; // position of the next value
    std::size_t receivers = 1;
    bool closed = false; // every sender gone
    weft::sync::detail::wait_list waiters;
    // --- atomics ---
    std::atomic<std::size_t> senders{1};
    std::atomic<std::size_t> refs{2};

    explicit shared(std::size_t c) : ring(new slot<T>[c]), cap(c) {}
    ~shared() {
        for (std::size_t i = 0; i < cap; ++i)
            ring[i].clear();
    }
    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    std::uint64_t oldest() const noexcept { return tail > cap ? tail - cap : 0; }

    /// mu held. Takes every waiter's waker into `out`.
    void take_waiters(std::vector<weft::detail::waker>& out) {
        while (auto* n = waiters.pop_front()) {
            try {
                out.push_back(std::move(n->waker));
            } catch (...) {
                std::move(n->waker).wake();
            }
        }
    }

    /// mu held. The receiver at `next` drops out: the values it still had to
    /// read lose one reader.
    void forget(std::uint64_t next) noexcept {
        for (std::uint64_t p = next > oldest() ? next : oldest(); p < tail; ++p) {
            slot<T>& s = ring[p % cap];
            if (s.full && s.pos == p && s.rem > 0 && --s.rem == 0) s.clear();
        }
    }

    enum class take_status { value, empty, closed, lagged };
    /// mu held. Reads the value at `next` (copy; moves it when this was the
    /// last reader) into `out`, or says why not.
    take_status take(std::uint64_t& next, std::optional<T>& out, std::uint64_t& missed) {
        if (next < oldest()) {
            missed = oldest() - next;
            next = oldest();
            return take_status::lagged;
        }
        if (next == tail) return closed ? take_status::closed : take_status::empty;
        slot<T>& s = ring[next % cap];
        if (s.rem == 1) {
            out.emplace(std::move(s.value()));
            s.clear();
        } else {
            out.emplace(s.value());
            --s.rem;
        }
        ++next;
        return take_status::value;
    }
};

} // namespace detail

/// A sending handle. Copyable; the channel closes when every copy is gone.
///
///   auto [tx, rx] = weft::sync::broadcast::channel<std::string>(8);
///   if (auto n = tx.send("hello")) std::printf("%zu receivers\n", *n);
template <class T>
class sender {
    using shared_t = detail::shared<T>;

public:
    sender() noexcept = default;
    sender(const sender& o) noexcept : s_(o.s_) {
        if (s_) {
            s_->senders.fetch_add(1, std::memory_order_relaxed);
            s_->refs.fetch_add(1, std::memory_order_relaxed);
        }
    }
    sender(sender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    sender& operator=(sender o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~sender() { reset(); }

    /// Internal (used by channel()).
    sender(detail::adopt_t, shared_t* s) noexcept : s_(s) {}

    /// Sends `v` to every current receiver (never waits). Gives how many will
    /// see it, or hands `v` back when there is no receiver.
    ///
    ///   auto r = tx.send(event{});
    ///   if (!r) { /* nobody subscribed: r.error().value is the event */ }
    send_result<T> send(T v) {
        std::vector<weft::detail::waker> ws;
        std::size_t n;
        std::optional<T> old; // an overwritten value dies outside the lock
        {
            std::lock_guard lk(s_->mu);
            n = s_->receivers;
            if (n == 0) return send_result<T>(unexpect, send_error<T>{std::move(v)});
            detail::slot<T>& s = s_->ring[s_->tail % s_->cap];
            if (s.full) {
                old.emplace(std::move(s.value()));
                s.clear();
            }
            ::new (static_cast<void*>(s.storage)) T(std::move(v));
            s.full = true;
            s.pos = s_->tail;
            s.rem = n;
            ++s_->tail;
            s_->take_waiters(ws);
        }
        for (auto& w : ws)
            std::move(w).wake();
        return send_result<T>(n);
    }

    /// A new receiver that will see the values sent from now on.
    ///
    ///   auto rx = tx.subscribe();
    receiver<T> subscribe() {
        std::lock_guard lk(s_->mu);
        ++s_->receivers;
        s_->refs.fetch_add(1, std::memory_order_relaxed);
        return receiver<T>(detail::adopt_t{}, s_, s_->tail);
    }

    /// Number of receivers.
    std::size_t receiver_count() const {
        std::lock_guard lk(s_->mu);
        return s_->receivers;
    }

private:
    void reset() noexcept {
        shared_t* s = std::exchange(s_, nullptr);
        if (s == nullptr) return;
        if (s->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::vector<weft::detail::waker> ws;
            {
                std::lock_guard lk(s->mu);
                s->closed = true;
                s->take_waiters(ws);
            }
            for (auto& w : ws)
                std::move(w).wake();
        }
        s->release();
    }
    shared_t* s_ = nullptr;
};

/// A receiving handle: sees every value sent after it was created. Move-only.
///
///   for (;;) {
///       auto r = co_await rx.recv();
///       if (r) handle(*r);
///       else if (r.error().is_closed()) break;   // lagged: just go on
///   }
template <class T>
class receiver {
    using shared_t = detail::shared<T>;
    using take_status = typename shared_t::take_status;

public:
    receiver() noexcept = default;
    receiver(receiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)), next_(o.next_) {}
    receiver& operator=(receiver&& o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
            next_ = o.next_;
        }
        return *this;
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    ~receiver() { reset(); }

    /// Internal (used by channel() and subscribe()).
    receiver(detail::adopt_t, shared_t* s, std::uint64_t next) noexcept : s_(s), next_(next) {}

    /// A new receiver of the same channel, starting at the current tail.
    ///
    ///   auto rx2 = rx.resubscribe();
    receiver resubscribe() const {
        std::lock_guard lk(s_->mu);
        ++s_->receivers;
        s_->refs.fetch_add(1, std::memory_order_relaxed);
        return receiver(detail::adopt_t{}, s_, s_->tail);
    }

    /// Awaiter of recv().
    class recv_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::broadcast_recv;
        recv_awaiter(const recv_awaiter& o) noexcept : r_(o.r_) {}
        recv_awaiter& operator=(const recv_awaiter&) = delete;
        ~recv_awaiter() {
            if (!registered_) return;
            std::lock_guard lk(r_->s_->mu);
            if (node_.linked) r_->s_->waiters.unlink(&node_);
            node_.waker.reset();
        }
        bool await_ready() {
            std::lock_guard lk(r_->s_->mu);
            return try_take_locked(true);
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            std::lock_guard lk(r_->s_->mu);
            if (try_take_locked(false)) return false;
            node_.waker = weft::detail::suspend_waker(h);
            r_->s_->waiters.push_back(&node_);
            registered_ = true;
            return true;
        }
        recv_result<T> await_resume() {
            if (!have_) {
                registered_ = false; // whoever woke us unlinked the node
                std::lock_guard lk(r_->s_->mu);
                try_take_locked(false);
            }
            switch (st_) {
            case take_status::value:
                return recv_result<T>(std::move(*value_));
            case take_status::lagged:
                return recv_result<T>(unexpect, recv_error::lagged(missed_));
            default:
                return recv_result<T>(unexpect, recv_error::closed());
            }
        }

    private:
        friend class receiver;
        explicit recv_awaiter(receiver* r) noexcept : r_(r) {}
        // mu held. Whether recv can complete now (and, once `have_`, with what).
        bool try_take_locked(bool check_budget) {
            std::uint64_t next = r_->next_;
            bool ready = next < r_->s_->oldest() || next != r_->s_->tail || r_->s_->closed;
            if (!ready) return false;
            if (check_budget && !weft::detail::coop_proceed()) {
                yield_ = true; // take it after the forced yield
                return false;
            }
            st_ = r_->s_->take(r_->next_, value_, missed_);
            have_ = true;
            return true;
        }
        receiver* r_;
        weft::sync::detail::wait_node node_;
        std::optional<T> value_;
        std::uint64_t missed_ = 0;
        take_status st_ = take_status::closed;
        bool have_ = false;
        bool registered_ = false;
        bool yield_ = false;
    };

    /// Receives the next value (a copy): waits while there is none. Gives
    /// recv_error::closed once every sender is gone and all was read, or
    /// lagged(n) after falling behind (then continues at the oldest kept).
    /// Cancel-safe: a cancelled recv consumed nothing.
    ///
    ///   auto r = co_await rx.recv();
    ///
    /// Cancel safety (`sync::broadcast::receiver::recv`): cancel safe. The receiver's position
    /// moves only when recv() returns.
    [[nodiscard]] recv_awaiter recv() noexcept { return recv_awaiter(this); }

    /// Receives without waiting: the value, or empty / closed / lagged(n).
    ///
    ///   while (auto r = rx.try_recv()) handle(*r);
    try_recv_result<T> try_recv() {
        std::optional<T> v;
        std::uint64_t missed = 0;
        take_status st;
        {
            std::lock_guard lk(s_->mu);
            st = s_->take(next_, v, missed);
        }
        switch (st) {
        case take_status::value:
            return try_recv_result<T>(std::move(*v));
        case take_status::lagged:
            return try_recv_result<T>(unexpect, try_recv_error::lagged(missed));
        case take_status::empty:
            return try_recv_result<T>(unexpect, try_recv_error::empty());
        default:
            return try_recv_result<T>(unexpect, try_recv_error::closed());
        }
    }

    /// Values sent that this receiver has not read yet (including overwritten ones).
    std::size_t len() const {
        std::lock_guard lk(s_->mu);
        return static_cast<std::size_t>(s_->tail - next_);
    }

private:
    void reset() noexcept {
        shared_t* s = std::exchange(s_, nullptr);
        if (s == nullptr) return;
        {
            std::lock_guard lk(s->mu);
            --s->receivers;
            s->forget(next_);
        }
        s->release();
    }
    shared_t* s_ = nullptr;
    std::uint64_t next_ = 0;
};

/// Creates a broadcast channel keeping the last `capacity` values (> 0; 0
/// throws std::invalid_argument).
///
///   auto [tx, rx] = weft::sync::broadcast::channel<int>(32);
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
    if (capacity == 0)
        throw std::invalid_argument("weft::sync::broadcast::channel: capacity must be > 0");
    auto* s = new detail::shared<T>(capacity);
    return {std::piecewise_construct, std::forward_as_tuple(detail::adopt_t{}, s),
            std::forward_as_tuple(detail::adopt_t{}, s, std::uint64_t{0})};
}

} // namespace weft::sync::broadcast
