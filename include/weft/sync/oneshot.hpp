// weft::sync::oneshot: a channel for sending a single value between tasks.
//
//   auto [tx, rx] = weft::sync::oneshot::channel<int>();
//   weft::spawn([tx = std::move(tx)]() mutable -> weft::task<> {
//       (void)tx.send(42);               // not a coroutine; never blocks
//       co_return;
//   });
//   weft::sync::oneshot::recv_result<int> r = co_await rx;
//   if (r) std::printf("%d\n", *r);      // else r.error() == recv_error::closed
//
// Semantics (Tokio's tokio::sync::oneshot):
// - `send(v)` stores the value and wakes the receiver. It fails, handing `v`
//   back inside the result, when the receiver was dropped or closed. A sender
//   sends at most once: afterwards it is empty (valid() is false) and a
//   further send fails the same way.
// - `co_await rx` gives the value, or recv_error::closed when the sender was
//   dropped without sending (or the receiver closed before a send).
// - `rx.close()` refuses further sends; a value sent before still arrives.
// - `tx.is_closed()` / `co_await tx.closed()`: the receiver is gone or closed.
// - `channel<void>()`: a pure signal; `tx.send()` takes no argument and the
//   result of `co_await rx` holds no value.
//
// Design: one allocation per channel (24 bytes for T = void, 32 for T =
// u64), from weft's per-thread pools: a 32-bit state word, the receiver's
// waker (task and suspension token), a pointer to the sender's pending
// closed() awaiter, and the value slot (no bytes at all for void). The
// closed() waiter keeps its waker in the awaiter itself, inside the sender's
// coroutine frame, rather than in the block: an idle task parked on a
// oneshot pays for one waker, not two (idle_tasks_memory; see
// docs/decisions/0025-oneshot-closed-waiter.md).
//
// State bits: VALUE (a value was sent and is the receiver's), TX_DROPPED
// (the sender went away without sending), RX_CLOSED (receiver closed or
// dropped), TAKEN (the receiver moved the value out), RX_WAKER / TX_WAKER
// (the waker slot is armed), TX_WAKING (someone is reading the closed()
// awaiter's waker), and a 2-handle reference count above them.
//
// Ownership rules (no lock: every transition is one CAS on `state`):
// - The receiver writes the rx waker slot only while RX_WAKER is clear and the
//   channel is not complete, then sets RX_WAKER with a CAS that fails if the
//   channel completed meanwhile (it then takes its waker back and does not
//   suspend). The sender completes (VALUE or TX_DROPPED) with a CAS that also
//   clears RX_WAKER; if it was set, the waker is the sender's to wake, and the
//   receiver never touches the slot again. The sender keeps its reference
//   until it has read the slot, so the block cannot be freed under it.
// - A receive awaiter destroyed while armed (its task aborted, a select
//   branch dropped) clears RX_WAKER with a CAS and drops the waker; if the
//   CAS finds the bit already cleared, the sender has taken the waker and
//   its wake is stale (harmless, see detail/task/header.hpp). The value is only
//   taken in await_resume, so a cancelled receive loses nothing: the value
//   stays in the channel (for try_recv or another co_await) or dies with it.
// - TX_WAKER mirrors this for the sender's closed() waiter and the receiver's
//   close/drop, with one addition, because the waker lives in the awaiter:
//   whoever clears TX_WAKER to take the waker sets TX_WAKING in the same
//   CAS, copies the waker out of the awaiter, then clears TX_WAKING. An
//   awaiter destroyed while armed whose disarm CAS finds TX_WAKER already
//   cleared waits for TX_WAKING to clear before its memory goes away (a
//   window of two loads).
// - Only one `co_await rx` may be pending at a time (a second one throws
//   std::logic_error).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/sync/detail/channel_util.hpp"

namespace weft::sync::oneshot {

/// Why `co_await rx` gave no value: the sender was dropped without sending
/// (or the receiver was closed first, or the value was already taken).
enum class recv_error { closed };

/// Why try_recv() gave no value: nothing sent yet (`empty`) or never will be
/// (`closed`).
enum class try_recv_error { empty, closed };

/// Result of `co_await rx`: the value (nothing for T = void) or recv_error.
///
///   auto r = co_await rx;
///   if (!r) co_return;         // r.error() == recv_error::closed
template <class T>
using recv_result = expected<T, recv_error>;

/// Result of try_recv().
template <class T>
using try_recv_result = expected<T, try_recv_error>;

/// Result of send(v): success, or the value handed back (as error()) when the
/// receiver is gone. For channel<void>, the error holds std::monostate.
///
///   if (auto r = tx.send(std::move(value)); !r) requeue(std::move(r.error()));
template <class T>
using send_result = expected<void, std::conditional_t<std::is_void_v<T>, std::monostate, T>>;

template <class T>
class sender;
template <class T>
class receiver;

namespace detail {

namespace bits {
inline constexpr std::uint32_t value = 1u << 0;
inline constexpr std::uint32_t tx_dropped = 1u << 1;
inline constexpr std::uint32_t rx_closed = 1u << 2;
inline constexpr std::uint32_t taken = 1u << 3;
inline constexpr std::uint32_t rx_waker = 1u << 4;
inline constexpr std::uint32_t tx_waker = 1u << 5;
inline constexpr std::uint32_t tx_waking = 1u << 6;
inline constexpr std::uint32_t complete = value | tx_dropped;
inline constexpr std::uint32_t ref_one = 1u << 8;
} // namespace bits

struct adopt_t {};

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The sender's closed() waker, stored in its awaiter (see TX_WAKING).
struct tx_waiter {
    weft::detail::task_header* task = nullptr;
    std::uint32_t token = 0;
};

/// Storage for the value: a union member, constructed on send. An empty
/// trivial type (std::monostate, for channel<void>) takes no bytes.
template <class V>
struct value_slot {
    value_slot() noexcept {}
    ~value_slot() {}
    union {
        V value;
    };
};
template <class V>
requires(std::is_empty_v<V>&& std::is_trivially_default_constructible_v<V>&&
             std::is_trivially_destructible_v<V>) struct value_slot<V> {
    [[no_unique_address]] V value;
};

template <class V>
struct inner {
    std::atomic<std::uint32_t> state{2 * bits::ref_one};
    // The receiver's waker and the sender's closed() awaiter; see the
    // ownership rules in the header comment. Relaxed atomics: the state
    // word's acquire/release orders them.
    std::atomic<std::uint32_t> rx_token{0};
    std::atomic<weft::detail::task_header*> rx_task{nullptr};
    std::atomic<tx_waiter*> tx{nullptr};
    [[no_unique_address]] value_slot<V> slot;

    V& value() noexcept { return slot.value; }

    static inner* make() {
        // 8-byte alignment is enough unless the value needs more; then the
        // 16-byte frame classes are used.
        void* p = alignof(inner) <= 8 ? weft::detail::header_allocate(sizeof(inner))
                                      : weft::detail::frame_allocate(sizeof(inner));
        return ::new (p) inner();
    }

    /// Drops one handle reference; frees the block when it was the last.
    void release() noexcept {
        std::uint32_t prev = state.fetch_sub(bits::ref_one, std::memory_order_acq_rel);
        if ((prev >> 8) == 1) destroy(prev - bits::ref_one);
    }
    void destroy(std::uint32_t s) noexcept {
        if ((s & bits::value) && !(s & bits::taken)) value().~V();
        if (s & bits::rx_waker) take_rx().reset();
        if (s & bits::tx_waker) take_tx().reset();
        this->~inner();
        if constexpr (alignof(inner) <= 8)
            weft::detail::header_deallocate(this, sizeof(inner));
        else
            weft::detail::frame_deallocate(this, sizeof(inner));
    }

    weft::detail::waker take_rx() noexcept {
        return weft::detail::waker(rx_task.load(std::memory_order_relaxed),
                                   rx_token.load(std::memory_order_relaxed));
    }
    weft::detail::waker take_tx() noexcept {
        tx_waiter* w = tx.load(std::memory_order_relaxed);
        return weft::detail::waker(w->task, w->token);
    }
    /// Takes the closed() waker after a CAS that cleared TX_WAKER and set
    /// TX_WAKING; afterwards the awaiter may go away.
    weft::detail::waker claim_tx() noexcept {
        weft::detail::waker w = take_tx();
        state.fetch_and(~bits::tx_waking, std::memory_order_release);
        return w;
    }

    /// Arms slot `bit` with a waker for `h` unless `stop` bits appear; the
    /// tx slot keeps the waker in `txw` (the closed() awaiter). Returns false
    /// (nothing armed) when they did.
    bool arm(std::uint32_t bit, std::uint32_t stop, std::coroutine_handle<> h,
             tx_waiter* txw = nullptr) {
        std::uint32_t s = state.load(std::memory_order_acquire);
        if (s & stop) return false;
        if (s & bit) throw std::logic_error("weft::sync::oneshot: awaited twice concurrently");
        weft::detail::waker w = weft::detail::suspend_waker(h);
        if (bit == bits::rx_waker) {
            rx_token.store(w.token(), std::memory_order_relaxed);
            rx_task.store(w.release(), std::memory_order_relaxed);
        } else {
            txw->token = w.token();
            txw->task = w.release();
            tx.store(txw, std::memory_order_relaxed);
        }
        while (!state.compare_exchange_weak(s, s | bit, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
            if (s & stop) {
                // Completed meanwhile: take the waker back, do not suspend.
                // (The suspension token was already advanced; the task simply
                // continues, and a later suspension advances it again.)
                (bit == bits::rx_waker ? take_rx() : take_tx()).reset();
                return false;
            }
        }
        return true;
    }
    /// Withdraws an armed slot; false if someone else took the waker. For
    /// the tx slot, it returns only once the taker is done reading the
    /// awaiter, so the caller may then destroy it.
    bool disarm(std::uint32_t bit) noexcept {
        std::uint32_t s = state.load(std::memory_order_acquire);
        while (s & bit) {
            if (state.compare_exchange_weak(s, s & ~bit, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
                (bit == bits::rx_waker ? take_rx() : take_tx()).reset();
                return true;
            }
        }
        if (bit == bits::tx_waker) {
            for (int spins = 0; s & bits::tx_waking; s = state.load(std::memory_order_acquire))
                if (++spins > 64) std::this_thread::yield();
        }
        return false;
    }

    /// Sets `set` and clears `clear` in one CAS; returns the previous state.
    /// Clearing an armed TX_WAKER sets TX_WAKING in the same step: the
    /// caller must then take the waker with claim_tx(). The caller keeps its
    /// reference throughout.
    std::uint32_t transition(std::uint32_t set, std::uint32_t clear) noexcept {
        std::uint32_t s = state.load(std::memory_order_acquire);
        for (;;) {
            std::uint32_t next = (s | set) & ~clear;
            if ((clear & bits::tx_waker) && (s & bits::tx_waker)) next |= bits::tx_waking;
            if (state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                return s;
        }
    }
};

} // namespace detail

/// The sending half. Move-only; sends at most once.
///
///   auto [tx, rx] = weft::sync::oneshot::channel<std::string>();
///   if (!tx.send("done")) { /* the receiver is gone */ }
template <class T>
class sender {
    using V = detail::stored_t<T>;
    using inner_t = detail::inner<V>;

public:
    sender() noexcept = default;
    sender(sender&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    sender& operator=(sender&& o) noexcept {
        if (this != &o) {
            drop();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;
    /// Dropping an unused sender completes the channel: the receiver gets
    /// recv_error::closed.
    ~sender() { drop(); }

    /// Whether this sender can still send (false after send or a move).
    bool valid() const noexcept { return c_ != nullptr; }

    /// Sends `v` (not a coroutine). Fails, handing `v` back as error(), when
    /// the receiver is dropped or closed, or this sender already sent.
    ///
    ///   auto r = tx.send(7);
    ///   if (!r) std::printf("receiver gone, got %d back\n", r.error());
    template <class U = T>
    requires(!std::is_void_v<U>) send_result<T> send(U v) { return send_impl(std::move(v)); }
    /// channel<void>: signals the receiver.
    ///
    ///   auto [tx, rx] = weft::sync::oneshot::channel<void>();
    ///   (void)tx.send();
    template <class U = T>
    requires std::is_void_v<U> send_result<T> send() { return send_impl(std::monostate{}); }

    /// Whether the receiver was dropped or closed (a send would fail).
    ///
    ///   if (tx.is_closed()) co_return;   // nobody wants the answer any more
    bool is_closed() const noexcept {
        return c_ == nullptr ||
               (c_->state.load(std::memory_order_acquire) & detail::bits::rx_closed) != 0;
    }

    /// Awaitable: completes when the receiver is dropped or closed.
    class closed_awaiter : public weft::detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::oneshot_closed;
        // Copyable before it is awaited (GCC 12 copies named awaiters); the
        // copy is a fresh, unarmed awaiter.
        closed_awaiter(const closed_awaiter& o) noexcept : c_(o.c_) {}
        closed_awaiter& operator=(const closed_awaiter&) = delete;
        ~closed_awaiter() {
            if (armed_) c_->disarm(detail::bits::tx_waker);
        }
        bool await_ready() const noexcept {
            return c_ == nullptr ||
                   (c_->state.load(std::memory_order_acquire) & detail::bits::rx_closed) != 0;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            armed_ = c_->arm(detail::bits::tx_waker, detail::bits::rx_closed, h, &waiter_);
            return armed_;
        }
        void await_resume() noexcept { armed_ = false; }

    private:
        friend class sender;
        explicit closed_awaiter(inner_t* c) noexcept : c_(c) {}
        inner_t* c_;
        detail::tx_waiter waiter_;
        bool armed_ = false;
    };

    /// Awaitable that completes once the receiver is dropped or closed, for
    /// abandoning work whose answer nobody wants.
    ///
    ///   co_await weft::select(compute(), tx.closed());
    ///
    /// Cancel safety (`sync::oneshot::sender::closed`): cancel safe. Takes nothing.
    closed_awaiter closed() noexcept { return closed_awaiter(c_); }

    /// Internal (used by channel()).
    sender(detail::adopt_t, inner_t* c) noexcept : c_(c) {}

private:
    send_result<T> send_impl(V&& v) {
        namespace b = detail::bits;
        inner_t* c = c_;
        if (c == nullptr || (c->state.load(std::memory_order_acquire) & b::rx_closed) != 0)
            return send_result<T>(unexpect, std::move(v));
        ::new (static_cast<void*>(std::addressof(c->value()))) V(std::move(v));
        std::uint32_t s = c->state.load(std::memory_order_acquire);
        for (;;) {
            if (s & b::rx_closed) {
                // The receiver closed meanwhile: take the value back.
                V back(std::move(c->value()));
                c->value().~V();
                return send_result<T>(unexpect, std::move(back));
            }
            if (!(s & (b::rx_waker | b::tx_waker))) {
                // Nobody to wake: publish and drop our reference in one step.
                if (c->state.compare_exchange_weak(s, (s | b::value) - b::ref_one,
                                                   std::memory_order_acq_rel,
                                                   std::memory_order_acquire)) {
                    c_ = nullptr;
                    if ((s >> 8) == 1) c->destroy((s | b::value) - b::ref_one);
                    return {};
                }
                continue;
            }
            std::uint32_t next = (s | b::value) & ~(b::rx_waker | b::tx_waker);
            if (s & b::tx_waker) next |= b::tx_waking;
            if (c->state.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
                break;
        }
        c_ = nullptr;
        if (s & b::rx_waker) c->take_rx().wake();
        if (s & b::tx_waker) c->claim_tx().reset();
        c->release();
        return {};
    }

    void drop() noexcept {
        namespace b = detail::bits;
        inner_t* c = std::exchange(c_, nullptr);
        if (c == nullptr) return;
        std::uint32_t s = c->transition(b::tx_dropped, b::rx_waker | b::tx_waker);
        if (s & b::rx_waker) c->take_rx().wake();
        if (s & b::tx_waker) c->claim_tx().reset();
        c->release();
    }

    inner_t* c_ = nullptr;
};

/// The receiving half. Move-only. `co_await rx` gives recv_result<T>.
///
///   auto [tx, rx] = weft::sync::oneshot::channel<int>();
///   auto r = co_await rx;             // waits for tx.send(...) or tx's drop
///
/// Cancel safety (`sync::oneshot::receiver (co_await rx)`): cancel safe. The value is taken in
/// await_resume only: after a cancel it waits for the next `co_await rx` or try_recv().
template <class T>
class receiver {
    using V = detail::stored_t<T>;
    using inner_t = detail::inner<V>;

public:
    static constexpr weft::detail::await_kind weft_await_kind =
        weft::detail::await_kind::oneshot_recv;
    receiver() noexcept = default;
    receiver(receiver&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    receiver& operator=(receiver&& o) noexcept {
        if (this != &o) {
            drop();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    /// Dropping the receiver closes the channel; an unreceived value dies.
    ~receiver() { drop(); }

    /// Awaiter of `co_await rx`. The value is taken in await_resume only, so
    /// destroying a pending awaiter (abort, select) leaves it in the channel.
    class awaiter : public weft::detail::awaitable_tag {
    public:
        awaiter(const awaiter& o) noexcept : c_(o.c_) {}
        awaiter& operator=(const awaiter&) = delete;
        ~awaiter() {
            if (armed_) c_->disarm(detail::bits::rx_waker);
        }
        bool await_ready() noexcept {
            if (c_ == nullptr) return true;
            std::uint32_t s = c_->state.load(std::memory_order_acquire);
            if (!(s & (detail::bits::complete | detail::bits::rx_closed | detail::bits::taken)))
                return false;
            if (weft::detail::coop_proceed()) return true;
            yield_ = true; // ready, but the budget is spent: run others first
            return false;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (yield_) {
                weft::detail::suspend_and_yield(h);
                return true;
            }
            armed_ = c_->arm(detail::bits::rx_waker,
                             detail::bits::complete | detail::bits::rx_closed, h);
            return armed_;
        }
        recv_result<T> await_resume() {
            armed_ = false;
            return receiver::take(c_);
        }

    private:
        friend class receiver;
        explicit awaiter(inner_t* c) noexcept : c_(c) {}
        inner_t* c_;
        bool armed_ = false;
        bool yield_ = false;
    };

    awaiter operator co_await() & noexcept { return awaiter(c_); }
    awaiter operator co_await() && noexcept { return awaiter(c_); }

    /// Takes the value if it has been sent, without waiting.
    ///
    ///   auto r = rx.try_recv();
    ///   if (!r && r.error() == weft::sync::oneshot::try_recv_error::empty) { /* later */ }
    try_recv_result<T> try_recv() {
        namespace b = detail::bits;
        if (c_ == nullptr) return try_recv_result<T>(unexpect, try_recv_error::closed);
        std::uint32_t s = c_->state.load(std::memory_order_acquire);
        if ((s & b::value) && !(s & b::taken)) {
            auto r = take(c_);
            if constexpr (std::is_void_v<T>)
                return {};
            else
                return try_recv_result<T>(std::move(*r));
        }
        if (s & (b::tx_dropped | b::rx_closed | b::taken))
            return try_recv_result<T>(unexpect, try_recv_error::closed);
        return try_recv_result<T>(unexpect, try_recv_error::empty);
    }

    /// Refuses further sends (the sender's is_closed() turns true and its
    /// closed() completes). A value sent before close() can still be received.
    ///
    ///   rx.close();
    ///   if (auto r = rx.try_recv()) use(*r);   // a value that made it in time
    void close() noexcept {
        if (c_ == nullptr) return;
        std::uint32_t s = c_->transition(detail::bits::rx_closed, detail::bits::tx_waker);
        if (s & detail::bits::tx_waker) c_->claim_tx().wake();
    }

    /// Internal (used by channel()).
    receiver(detail::adopt_t, inner_t* c) noexcept : c_(c) {}

private:
    static recv_result<T> take(inner_t* c) {
        namespace b = detail::bits;
        if (c == nullptr) return recv_result<T>(unexpect, recv_error::closed);
        std::uint32_t s = c->state.load(std::memory_order_acquire);
        if ((s & b::value) && !(s & b::taken)) {
            c->state.fetch_or(b::taken, std::memory_order_relaxed);
            if constexpr (std::is_void_v<T>) {
                c->value().~V();
                return {};
            } else {
                recv_result<T> r(std::move(c->value()));
                c->value().~V();
                return r;
            }
        }
        return recv_result<T>(unexpect, recv_error::closed);
    }

    void drop() noexcept {
        namespace b = detail::bits;
        inner_t* c = std::exchange(c_, nullptr);
        if (c == nullptr) return;
        std::uint32_t s = c->transition(b::rx_closed, b::tx_waker | b::rx_waker);
        if (s & b::tx_waker) c->claim_tx().wake();
        if (s & b::rx_waker) c->take_rx().reset();
        c->release();
    }

    inner_t* c_ = nullptr;
};

/// Creates a oneshot channel (one allocation). T may be void.
///
///   auto [tx, rx] = weft::sync::oneshot::channel<std::vector<int>>();
template <class T>
auto channel() {
    static_assert(sizeof(void*) != 8 || sizeof(detail::stored_t<T>) > 8 ||
                      sizeof(detail::inner<detail::stored_t<T>>) <= (std::is_void_v<T> ? 24u : 32u),
                  "the oneshot state must stay small (idle_tasks_memory)");
    auto* c = detail::inner<detail::stored_t<T>>::make();
    return std::pair<sender<T>, receiver<T>>(std::piecewise_construct,
                                             std::forward_as_tuple(detail::adopt_t{}, c),
                                             std::forward_as_tuple(detail::adopt_t{}, c));
}

} // namespace weft::sync::oneshot
