// weft::sync::mpsc: multi-producer, single-consumer channels.
//
//   auto [tx, rx] = weft::sync::mpsc::channel<int>(64);      // bounded
//   for (int p = 0; p < 4; ++p)
//       weft::spawn([tx]() mutable -> weft::task<> {          // senders copy
//           for (int i = 0; i < 100; ++i) {
//               auto sent = co_await tx.send(i);              // (name it: GCC 12,
//               if (!sent) co_return;                         //  compiler-traps.md)
//           }
//       });
//   tx = {};                                                  // drop ours
//   while (std::optional<int> v = co_await rx.recv()) use(*v);  // nullopt: all senders gone
//
// Semantics (Tokio's tokio::sync::mpsc):
// - `channel<T>(capacity)`: at most `capacity` messages (plus reserved
//   permits) are buffered; `co_await tx.send(v)` waits while it is full.
//   Capacity 0 throws std::invalid_argument. `unbounded_channel<T>()`:
//   `send(v)` never waits and is not a coroutine.
// - Senders are copyable. When every sender (and permit) is gone, the
//   receiver drains what is buffered, then `recv()` gives nullopt.
// - A send fails only when the receiver was dropped or closed; the result
//   hands the value back (`send_error<T>::value`). try_send fails with
//   `full` or `closed`, also handing the value back.
// - `co_await tx.reserve()` waits for capacity and gives a permit whose
//   `send(v)` cannot fail; dropping an unused permit returns its slot.
// - `rx.close()` makes further sends fail but keeps what is buffered (and
//   lets outstanding permits send); `recv()` drains it, then gives nullopt.
// - Waiting senders are served in FIFO order (no barging: a send does not
//   overtake waiting senders even when a slot is free).
//
// Design: one block per channel with a spin_mutex (the backoff kind) that
// guards everything in it: the ring buffer, the number of reserved slots,
// the list of waiting senders, the receiver's waker and the closed flags.
// The sender count and the block's reference count are atomics.
//
// Waking: whoever makes progress possible takes the waker out under the lock
// and wakes after unlocking. A send that finds the receiver parked takes its
// waker (later sends do not wake it again until it parks again). When the
// receiver frees a slot and a sender waits, the receiver grants the slot
// under the lock (counted in `reserved`) and wakes the first waiting send or
// reserve(). A woken send moves its value into the buffer itself, when it
// resumes; a woken reserve() turns the slot into a permit.
//
// Cancellation (docs/architecture.md): nothing of a send takes effect unless the
// sending task resumes from it, so an abort (or a timeout/select that
// abandons the send) requested before the send completed drops the value:
// it is never received. That is why a granted slot is not filled by the
// receiver: the value would be sent although its task was aborted between
// the grant and its next poll (issue 14). Every awaiter's destructor
// withdraws under the lock: one destroyed while waiting is unlinked and its
// value dies with it; one destroyed after it was granted a slot (woken but
// not resumed, or granted at once and then suspended to yield its budget)
// gives the slot to the next waiting sender, and its value dies with it. A
// recv takes a message only in await_ready/await_resume, never between
// suspension and resumption, so a cancelled recv leaves every message in the
// buffer.
//
// Cost: a sender that had to wait takes the lock once more when it resumes
// (to move its value in); the receiver may find the granted slot still
// empty and park until the sender has run.
//
// Lock: detail::backoff_spin_mutex, not std::mutex (spin_mutex.hpp): senders on
// many threads contend by design and each section is a queue push or pop.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
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

namespace weft::sync::mpsc {

/// The error of a failed send: the receiver is closed or dropped. Holds the
/// value that was not sent.
///
///   if (auto r = co_await tx.send(std::move(msg)); !r) retry(std::move(r.error().value));
template <class T>
struct send_error {
    T value;
};

/// The error of a failed try_send: the channel is `full` or `closed`; holds
/// the value that was not sent.
///
///   auto r = tx.try_send(v);
///   if (!r && r.error().is_full()) { /* back off */ }
template <class T>
struct try_send_error {
    enum class kind { full, closed };
    kind reason;
    T value;
    bool is_full() const noexcept { return reason == kind::full; }
    bool is_closed() const noexcept { return reason == kind::closed; }
};

/// Why try_recv gave nothing: the buffer is `empty` (senders remain), or it
/// is empty and every sender is gone / the receiver closed (`disconnected`).
enum class try_recv_error { empty, disconnected };

/// Result of `co_await tx.send(v)` / unbounded `tx.send(v)`.
template <class T>
using send_result = expected<void, send_error<T>>;
/// Result of try_send(v).
template <class T>
using try_send_result = expected<void, try_send_error<T>>;
/// Result of try_recv().
template <class T>
using try_recv_result = expected<T, try_recv_error>;

template <class T>
class sender;
template <class T>
class unbounded_sender;
template <class T>
class receiver;
template <class T>
class permit;

namespace detail {

struct adopt_t {};

/// A waiting send or reserve; lives in the awaiter. `granted`: a slot is
/// reserved for it (counted in chan::reserved) but its task has not resumed.
struct send_waiter : weft::sync::detail::wait_node {
    enum class state : unsigned char { idle, waiting, sent, granted, closed } st = state::idle;
};

template <class T>
struct chan {
    using waker = weft::detail::waker;

    weft::detail::backoff_spin_mutex mu; // contended by design: see spin_mutex.hpp
    // --- guarded by mu ---
    T* buf = nullptr;      // ring of `slots` (a power of two) raw slots
    std::size_t slots = 0; // allocated slots
    std::size_t head = 0;  // index of the oldest message
    std::size_t len = 0;   // buffered messages
    std::size_t reserved = 0;
    weft::sync::detail::wait_list senders_waiting;
    waker rx_waker;
    bool rx_closed = false; // receiver closed or dropped
    bool tx_closed = false; // every sender gone
    // --- immutable ---
    const std::size_t bound; // capacity; SIZE_MAX for unbounded
    // --- atomics ---
    std::atomic<std::size_t> senders{1};
    std::atomic<std::size_t> refs{2}; // one per sender handle group + receiver

    explicit chan(std::size_t b) : bound(b) {}
    ~chan() {
        clear_buffer();
        ::operator delete(static_cast<void*>(buf));
    }

    void clear_buffer() noexcept {
        for (; len > 0; --len) {
            buf[head].~T();
            head = (head + 1) & (slots - 1);
        }
    }

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // mu held. Whether a sender may take a slot now (FIFO: not while others wait).
    bool has_room() const noexcept { return len + reserved < bound && senders_waiting.empty(); }

    // mu held. Appends; grows the ring when needed (may throw bad_alloc).
    void push(T&& v) {
        if (len == slots) grow();
        ::new (static_cast<void*>(buf + ((head + len) & (slots - 1)))) T(std::move(v));
        ++len;
    }
    void grow() {
        std::size_t n = slots == 0 ? (bound < 16 ? round_up(bound) : 16) : slots * 2;
        T* nb = static_cast<T*>(::operator new(n * sizeof(T)));
        for (std::size_t i = 0; i < len; ++i) {
            T& src = buf[(head + i) & (slots - 1)];
            ::new (static_cast<void*>(nb + i)) T(std::move(src));
            src.~T();
        }
        ::operator delete(static_cast<void*>(buf));
        buf = nb;
        slots = n;
        head = 0;
    }
    static std::size_t round_up(std::size_t n) noexcept {
        std::size_t p = 1;
        while (p < n)
            p <<= 1;
        return p;
    }

    // mu held, len > 0. Removes the oldest message.
    T pop() {
        T v(std::move(buf[head]));
        buf[head].~T();
        head = (head + 1) & (slots - 1);
        --len;
        return v;
    }

    // mu held. A slot was freed: grant it to the first waiting sender, if
    // any (a send moves its value in when it resumes; see the file comment
    // for why not here). Returns the waker to wake after unlocking.
    waker refill() noexcept {
        if (senders_waiting.empty() || len + reserved >= bound) return {};
        auto* w = static_cast<send_waiter*>(senders_waiting.head);
        ++reserved;
        w->st = send_waiter::state::granted;
        senders_waiting.unlink(w);
        return std::move(w->waker);
    }

    // mu held. A granted slot that will not be used (an unused permit, a
    // cancelled send or reserve) goes to the next waiting sender; if none
    // and the receiver waits for the last reserved slot of a closed
    // channel, the receiver is woken.
    waker release_slot() noexcept {
        --reserved;
        waker w = refill();
        if (!w && finished()) w = std::move(rx_waker); // close() + last permit
        return w;
    }

    // mu held. The receiver closed: fail every waiting sender.
    void fail_waiters(std::vector<waker>& out) {
        while (auto* n = senders_waiting.pop_front()) {
            auto* w = static_cast<send_waiter*>(n);
            w->st = send_waiter::state::closed;
            try {
                out.push_back(std::move(w->waker));
            } catch (...) {
                std::move(w->waker).wake(); // out of memory: wake under the lock
            }
        }
    }

    // mu held. Whether recv should give nullopt now (nothing buffered and
    // nothing can arrive any more).
    bool finished() const noexcept {
        return len == 0 && (tx_closed || (rx_closed && reserved == 0));
    }

    // Sender side --------------------------------------------------------------

    /// try_send without the value moved unless it was accepted. 0 sent, 1 full, 2 closed.
    int try_push(T& v) {
        waker w;
        {
            std::lock_guard lk(mu);
            if (rx_closed) return 2;
            if (!has_room()) return 1;
            push(std::move(v));
            w = std::move(rx_waker);
        }
        std::move(w).wake();
        return 0;
    }

    void add_sender() noexcept {
        senders.fetch_add(1, std::memory_order_relaxed);
        refs.fetch_add(1, std::memory_order_relaxed);
    }
    void drop_sender() noexcept {
        if (senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            waker w;
            {
                std::lock_guard lk(mu);
                tx_closed = true;
                w = std::move(rx_waker);
            }
            std::move(w).wake();
        }
        release();
    }

    // Permits -----------------------------------------------------------------
    void permit_send(T&& v) {
        waker w;
        {
            std::lock_guard lk(mu);
            --reserved;
            push(std::move(v)); // cannot fail; if the receiver is gone, ~chan drops it
            w = std::move(rx_waker);
        }
        std::move(w).wake();
    }
    void permit_release() noexcept {
        waker w;
        {
            std::lock_guard lk(mu);
            w = release_slot();
        }
        std::move(w).wake();
    }
    // A granted send resumed: its value takes the slot. On bad_alloc (the
    // ring grows) the slot is passed on and the exception propagates.
    void granted_send(T&& v) {
        waker w;
        {
            std::unique_lock lk(mu);
            try {
                push(std::move(v));
            } catch (...) {
                w = release_slot();
                lk.unlock();
                std::move(w).wake();
                throw;
            }
            --reserved;
            w = std::move(rx_waker);
        }
        std::move(w).wake();
    }

    // Receiver side -------------------------------------------------------------
    void close_rx() {
        std::vector<waker> ws;
        waker self;
        {
            std::lock_guard lk(mu);
            rx_closed = true;
            fail_waiters(ws);
        }
        for (auto& w : ws)
            std::move(w).wake();
    }
    void drop_rx() noexcept {
        std::vector<waker> ws;
        T* old = nullptr;
        std::size_t old_head = 0, old_len = 0, old_slots = 0;
        {
            std::lock_guard lk(mu);
            rx_closed = true;
            fail_waiters(ws);
            rx_waker.reset();
            old = std::exchange(buf, nullptr);
            old_head = std::exchange(head, 0);
            old_len = std::exchange(len, 0);
            old_slots = std::exchange(slots, 0);
        }
        for (auto& w : ws)
            std::move(w).wake();
        // Messages die outside the lock (their destructors may do anything).
        for (std::size_t i = 0; i < old_len; ++i)
            old[(old_head + i) & (old_slots - 1)].~T();
        ::operator delete(static_cast<void*>(old));
        release();
    }
};

/// The common part of sender<T> and unbounded_sender<T>: owns one sender count.
template <class T>
class sender_base {
public:
    sender_base() noexcept = default;
    sender_base(const sender_base& o) noexcept : c_(o.c_) {
        if (c_) c_->add_sender();
    }
    sender_base(sender_base&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    sender_base& operator=(sender_base o) noexcept {
        std::swap(c_, o.c_);
        return *this;
    }
    ~sender_base() {
        if (c_) c_->drop_sender();
    }

    /// Whether the receiver was dropped or closed (every send would fail).
    bool is_closed() const {
        if (c_ == nullptr) return true;
        std::lock_guard lk(c_->mu);
        return c_->rx_closed;
    }
    /// Whether both handles belong to the same channel.
    bool same_channel(const sender_base& o) const noexcept { return c_ == o.c_; }

    /// The non-blocking send: fails with `full` (no room now) or `closed`,
    /// handing the value back.
    try_send_result<T> try_send(T v) {
        if (c_ == nullptr)
            return try_send_result<T>(unexpect, try_send_error<T>::kind::closed, std::move(v));
        int r = c_->try_push(v);
        if (r == 0) return {};
        return try_send_result<T>(
            unexpect, r == 1 ? try_send_error<T>::kind::full : try_send_error<T>::kind::closed,
            std::move(v));
    }

protected:
    sender_base(adopt_t, chan<T>* c) noexcept : c_(c) {}
    chan<T>* c_ = nullptr;
};

} // namespace detail

/// A slot reserved in a bounded channel: `send(v)` cannot fail and does not
/// wait. Dropping an unused permit frees the slot. Move-only.
///
///   if (auto p = co_await tx.reserve()) p->send(make_message());  // nullopt: closed
template <class T>
class permit {
public:
    permit(permit&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    permit& operator=(permit&& o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    permit(const permit&) = delete;
    permit& operator=(const permit&) = delete;
    ~permit() { reset(); }

    /// Sends into the reserved slot; consumes the permit. If the receiver is
    /// gone meanwhile, the value is simply dropped (as in Tokio).
    void send(T v) {
        auto* c = std::exchange(c_, nullptr);
        if (c == nullptr) throw std::logic_error("weft::sync::mpsc::permit: already used");
        c->permit_send(std::move(v));
        c->drop_sender();
    }

    /// Internal (used by reserve()).
    permit(detail::adopt_t, detail::chan<T>* c) noexcept : c_(c) { c_->add_sender(); }

private:
    void reset() noexcept {
        if (auto* c = std::exchange(c_, nullptr)) {
            c->permit_release();
            c->drop_sender();
        }
    }
    detail::chan<T>* c_ = nullptr;
};

/// A sending handle of a bounded channel. Copyable (each copy counts as a
/// sender); `co_await send(v)` waits while the channel is full.
///
///   auto [tx, rx] = weft::sync::mpsc::channel<std::string>(16);
///   auto tx2 = tx;                                  // a second producer
///   auto r = co_await tx.send("hi");
///   if (!r) { /* receiver gone: the value is in r.error().value */ }
template <class T>
class sender : public detail::sender_base<T> {
    using chan_t = detail::chan<T>;
    using waker = weft::detail::waker;
    using st = detail::send_waiter::state;

public:
    sender() noexcept = default;
    /// Internal (used by channel()).
    sender(detail::adopt_t a, chan_t* c) noexcept : detail::sender_base<T>(a, c) {}

    /// Awaiter of send(v): holds the value until it is in the buffer.
    class send_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::mpsc_send;
        send_awaiter(send_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
            : c_(o.c_), value_(std::move(o.value_)) {}
        send_awaiter& operator=(send_awaiter&&) = delete;
        ~send_awaiter() {
            // Destroyed before it resumed (aborted, or abandoned by a timeout
            // or select): nothing is sent, the value dies here, and a slot
            // granted to it goes to the next waiting sender.
            if (!registered_) {
                // Granted at once, then destroyed during the forced yield.
                if (node_.st == st::granted) c_->permit_release();
                return;
            }
            waker pass;
            {
                // node_ is read under the lock: a receiver may be granting it a slot.
                std::lock_guard lk(c_->mu);
                if (node_.linked)
                    c_->senders_waiting.unlink(&node_);
                else if (node_.st == st::granted)
                    pass = c_->release_slot();
                node_.waker.reset();
            }
            std::move(pass).wake();
        }

        bool await_ready() {
            if (c_ == nullptr) {
                node_.st = st::closed;
                return true;
            }
            waker w;
            {
                std::lock_guard lk(c_->mu);
                if (c_->rx_closed) {
                    node_.st = st::closed;
                } else if (c_->has_room()) {
                    if (!weft::detail::coop_proceed()) {
                        // The budget is spent (or the task was aborted while
                        // running): keep the slot, yield, and send only if
                        // the task resumes here.
                        ++c_->reserved;
                        node_.st = st::granted;
                        yield_ = true;
                        return false;
                    }
                    c_->push(std::move(value_));
                    node_.st = st::sent;
                    w = std::move(c_->rx_waker);
                } else {
                    return false;
                }
            }
            std::move(w).wake();
            return true;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            waker w;
            {
                std::lock_guard lk(c_->mu);
                if (c_->rx_closed) {
                    node_.st = st::closed;
                    return false;
                }
                if (c_->has_room()) {
                    c_->push(std::move(value_));
                    node_.st = st::sent;
                    w = std::move(c_->rx_waker);
                } else {
                    node_.waker = weft::detail::suspend_waker(h);
                    node_.st = st::waiting;
                    c_->senders_waiting.push_back(&node_);
                    registered_ = true;
                    return true;
                }
            }
            std::move(w).wake();
            return false;
        }
        send_result<T> await_resume() {
            // Whoever changed st did so under the lock before waking us; the
            // run queue orders that before this read.
            registered_ = false;
            st s = std::exchange(node_.st, st::idle);
            if (s == st::sent) return {};
            if (s == st::granted) {
                // The task resumed: only now does the value enter the
                // buffer (even if the receiver closed meanwhile, as a permit
                // granted before the close still sends).
                c_->granted_send(std::move(value_));
                return {};
            }
            return send_result<T>(unexpect, send_error<T>{std::move(value_)});
        }

    private:
        friend class sender;
        send_awaiter(chan_t* c, T&& v) : c_(c), value_(std::move(v)) {}
        chan_t* c_;
        T value_;
        detail::send_waiter node_;
        bool registered_ = false;
        bool yield_ = false;
    };

    /// Sends `v`, waiting while the channel is full. Gives success, or
    /// send_error<T> holding `v` when the receiver is dropped or closed.
    ///
    ///   auto r = co_await tx.send(42);
    ///   if (!r) std::printf("not sent: %d\n", r.error().value);
    ///
    /// Cancel safety (`sync::mpsc::sender::send`): cancel safe. If the send is cancelled (its task
    /// aborted, or a timeout or select abandons it) before it completed, `v` is destroyed with the
    /// awaiter and never received, even if a slot had been granted to it meanwhile: that slot goes
    /// to the next waiting sender. Only the queue position is lost. A send that completed reports
    /// success to its task.
    [[nodiscard]] send_awaiter send(T v) { return send_awaiter(this->c_, std::move(v)); }

    /// Awaiter of reserve().
    class reserve_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::mpsc_reserve;
        reserve_awaiter(reserve_awaiter&& o) noexcept : c_(o.c_) {}
        reserve_awaiter& operator=(reserve_awaiter&&) = delete;
        ~reserve_awaiter() {
            if (!registered_) {
                // Granted at once, then destroyed during the forced yield.
                if (node_.st == st::granted) c_->permit_release();
                return;
            }
            waker pass;
            {
                std::lock_guard lk(c_->mu);
                if (node_.linked)
                    c_->senders_waiting.unlink(&node_);
                else if (node_.st == st::granted)
                    pass = c_->release_slot();
                node_.waker.reset();
            }
            std::move(pass).wake();
        }

        bool await_ready() {
            if (c_ == nullptr) {
                node_.st = st::closed;
                return true;
            }
            {
                std::lock_guard lk(c_->mu);
                if (c_->rx_closed) {
                    node_.st = st::closed;
                } else if (c_->has_room()) {
                    ++c_->reserved;
                    node_.st = st::granted;
                } else {
                    return false;
                }
            }
            if (weft::detail::coop_proceed()) return true;
            yield_ = true;
            return false;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            std::lock_guard lk(c_->mu);
            if (c_->rx_closed) {
                node_.st = st::closed;
                return false;
            }
            if (c_->has_room()) {
                ++c_->reserved;
                node_.st = st::granted;
                return false;
            }
            node_.waker = weft::detail::suspend_waker(h);
            node_.st = st::waiting;
            c_->senders_waiting.push_back(&node_);
            registered_ = true;
            return true;
        }
        std::optional<permit<T>> await_resume() {
            registered_ = false;
            st s = std::exchange(node_.st, st::idle);
            if (s != st::granted) return std::nullopt;
            return std::optional<permit<T>>(std::in_place, detail::adopt_t{}, c_);
        }

    private:
        friend class sender;
        explicit reserve_awaiter(chan_t* c) noexcept : c_(c) {}
        chan_t* c_;
        detail::send_waiter node_;
        bool registered_ = false;
        bool yield_ = false;
    };

    /// Waits for a free slot and reserves it: gives a permit, or nullopt when
    /// the receiver is dropped or closed.
    ///
    ///   auto p = co_await tx.reserve();
    ///   if (!p) co_return;                 // closed
    ///   p->send(build_expensive_message()); // built only once room exists
    ///
    /// Cancel safety (`sync::mpsc::sender::reserve`): cancel safe. A reserve cancelled before it
    /// resumed gives no permit, and a slot granted to it meanwhile goes to the next waiting sender.
    /// Only the queue position is lost.
    [[nodiscard]] reserve_awaiter reserve() noexcept { return reserve_awaiter(this->c_); }

    /// The channel's capacity.
    std::size_t max_capacity() const noexcept { return this->c_ ? this->c_->bound : 0; }
};

/// A sending handle of an unbounded channel: `send(v)` never waits.
///
///   auto [tx, rx] = weft::sync::mpsc::unbounded_channel<int>();
///   if (!tx.send(1)) { /* receiver gone */ }
template <class T>
class unbounded_sender : public detail::sender_base<T> {
public:
    unbounded_sender() noexcept = default;
    /// Internal (used by unbounded_channel()).
    unbounded_sender(detail::adopt_t a, detail::chan<T>* c) noexcept
        : detail::sender_base<T>(a, c) {}

    /// Sends `v` at once (not a coroutine); hands it back when the receiver
    /// is dropped or closed.
    send_result<T> send(T v) {
        if (this->c_ == nullptr || this->c_->try_push(v) != 0)
            return send_result<T>(unexpect, send_error<T>{std::move(v)});
        return {};
    }
};

/// The receiving handle. Move-only. Dropping it closes the channel and
/// destroys what is still buffered.
///
///   while (auto v = co_await rx.recv()) handle(*v);   // until every sender is gone
template <class T>
class receiver {
    using chan_t = detail::chan<T>;
    using waker = weft::detail::waker;

public:
    receiver() noexcept = default;
    receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    receiver& operator=(receiver&& o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    ~receiver() { reset(); }

    /// Internal (used by channel()).
    receiver(detail::adopt_t, chan_t* c) noexcept : c_(c) {}

    /// Awaiter of recv() and recv_many(). A message leaves the buffer only
    /// in await_ready or await_resume, so cancelling never loses one.
    template <bool Many>
    class recv_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::mpsc_recv;
        recv_awaiter(recv_awaiter&& o) noexcept : c_(o.c_), out_(o.out_), limit_(o.limit_) {}
        recv_awaiter& operator=(recv_awaiter&&) = delete;
        ~recv_awaiter() {
            if (!armed_) return;
            std::lock_guard lk(c_->mu);
            if (c_->rx_waker && c_->rx_waker.task() == task_ && c_->rx_waker.token() == token_)
                c_->rx_waker.reset(); // still ours: withdraw
        }

        bool await_ready() {
            if (c_ == nullptr || (Many && limit_ == 0)) {
                done_ = true;
                return true;
            }
            waker w;
            {
                std::lock_guard lk(c_->mu);
                if (c_->len > 0) {
                    if (!weft::detail::coop_proceed()) {
                        yield_ = true; // take it after the forced yield
                        return false;
                    }
                    w = take_locked();
                } else if (!c_->finished()) {
                    return false;
                }
            }
            done_ = true;
            std::move(w).wake();
            return true;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            std::lock_guard lk(c_->mu);
            if (c_->len > 0 || c_->finished()) return false; // await_resume takes it
            if (c_->rx_waker)
                throw std::logic_error("weft::sync::mpsc: recv awaited twice concurrently");
            c_->rx_waker = weft::detail::suspend_waker(h);
            task_ = c_->rx_waker.task();
            token_ = c_->rx_waker.token();
            armed_ = true;
            return true;
        }
        auto await_resume() {
            armed_ = false;
            if (!done_) {
                waker w;
                {
                    std::lock_guard lk(c_->mu); // whoever woke us took rx_waker
                    if (c_->len > 0) w = take_locked();
                }
                std::move(w).wake();
            }
            if constexpr (Many)
                return count_;
            else
                return std::move(value_);
        }

    private:
        friend class receiver;
        recv_awaiter(chan_t* c, std::vector<T>* out, std::size_t limit) noexcept
            : c_(c), out_(out), limit_(limit) {}

        // mu held, len > 0. Takes one message (up to limit_ for recv_many);
        // each freed slot goes to the first waiting sender (refill). Returns
        // a waker to wake after unlocking; recv_many wakes further senders
        // under the lock (waking only schedules; it takes no lock of ours).
        waker take_locked() {
            if constexpr (Many) {
                waker first;
                std::size_t n = c_->len < limit_ ? c_->len : limit_;
                out_->reserve(out_->size() + n);
                for (std::size_t i = 0; i < n; ++i) {
                    out_->push_back(c_->pop());
                    ++count_;
                    waker w = c_->refill();
                    if (w) {
                        if (!first)
                            first = std::move(w);
                        else
                            std::move(w).wake(); // rare: several senders waited
                    }
                }
                return first;
            } else {
                value_.emplace(c_->pop());
                return c_->refill();
            }
        }

        chan_t* c_;
        std::vector<T>* out_;
        std::size_t limit_;
        std::optional<T> value_;
        std::size_t count_ = 0;
        weft::detail::task_header* task_ = nullptr;
        std::uint32_t token_ = 0;
        bool armed_ = false;
        bool yield_ = false;
        bool done_ = false;
    };

    /// Receives the next message: waits while the buffer is empty; nullopt
    /// once every sender is gone (or the receiver closed) and it is drained.
    ///
    ///   std::optional<int> v = co_await rx.recv();
    ///
    /// Cancel safety (`sync::mpsc::receiver::recv`): cancel safe. A message is taken only when
    /// recv() returns it; a cancelled recv leaves it in the channel.
    [[nodiscard]] recv_awaiter<false> recv() noexcept { return {c_, nullptr, 1}; }

    /// Appends up to `limit` buffered messages to `out` (waiting for at least
    /// one); gives how many. 0 means closed and drained (or limit == 0).
    ///
    ///   std::vector<int> batch;
    ///   while (co_await rx.recv_many(batch, 64) > 0) { process(batch); batch.clear(); }
    ///
    /// Cancel safety (`sync::mpsc::receiver::recv_many`): cancel safe. Messages are moved into
    /// `out` only when it returns.
    [[nodiscard]] recv_awaiter<true> recv_many(std::vector<T>& out, std::size_t limit) noexcept {
        return {c_, &out, limit};
    }

    /// Takes a message without waiting.
    ///
    ///   while (auto v = rx.try_recv()) handle(*v);
    try_recv_result<T> try_recv() {
        if (c_ == nullptr) return try_recv_result<T>(unexpect, try_recv_error::disconnected);
        waker w;
        std::optional<T> v;
        {
            std::lock_guard lk(c_->mu);
            if (c_->len == 0) {
                return try_recv_result<T>(unexpect, c_->finished() ? try_recv_error::disconnected
                                                                   : try_recv_error::empty);
            }
            v.emplace(c_->pop());
            w = c_->refill();
        }
        std::move(w).wake();
        return try_recv_result<T>(std::move(*v));
    }

    /// Closes the channel: sends fail from now on (waiting ones too, handing
    /// their values back); buffered messages and outstanding permits still
    /// arrive; then recv() gives nullopt.
    ///
    ///   rx.close();
    ///   while (auto v = co_await rx.recv()) drain(*v);
    void close() {
        if (c_) c_->close_rx();
    }

    /// Number of buffered messages.
    std::size_t size() const {
        if (c_ == nullptr) return 0;
        std::lock_guard lk(c_->mu);
        return c_->len;
    }

private:
    void reset() noexcept {
        if (auto* c = std::exchange(c_, nullptr)) c->drop_rx();
    }
    chan_t* c_ = nullptr;
};

/// Creates a bounded channel of `capacity` messages (> 0; 0 throws
/// std::invalid_argument).
///
///   auto [tx, rx] = weft::sync::mpsc::channel<std::uint64_t>(1024);
template <class T>
std::pair<sender<T>, receiver<T>> channel(std::size_t capacity) {
    if (capacity == 0)
        throw std::invalid_argument("weft::sync::mpsc::channel: capacity must be > 0");
    auto* c = new detail::chan<T>(capacity);
    return {std::piecewise_construct, std::forward_as_tuple(detail::adopt_t{}, c),
            std::forward_as_tuple(detail::adopt_t{}, c)};
}

/// Creates an unbounded channel: sends never wait (memory is the limit).
///
///   auto [tx, rx] = weft::sync::mpsc::unbounded_channel<event>();
template <class T>
std::pair<unbounded_sender<T>, receiver<T>> unbounded_channel() {
    auto* c = new detail::chan<T>(std::numeric_limits<std::size_t>::max());
    return {std::piecewise_construct, std::forward_as_tuple(detail::adopt_t{}, c),
            std::forward_as_tuple(detail::adopt_t{}, c)};
}

/// The receiving handle of an unbounded channel (the same type).
template <class T>
using unbounded_receiver = receiver<T>;

} // namespace weft::sync::mpsc
