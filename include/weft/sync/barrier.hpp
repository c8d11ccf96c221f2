// weft::sync::barrier: lets n tasks wait until all of them have arrived
// (Tokio's Barrier).
//
//   weft::sync::barrier ready(3);
//   for (int i = 0; i < 3; ++i)
//       weft::spawn([&ready]() -> weft::task<> {   // (keep `ready` alive!)
//           prepare();
//           weft::sync::barrier_wait_result r = co_await ready.wait();
//           if (r.is_leader()) announce();          // exactly one of the three
//       });
//
// Semantics (Tokio 1.x):
// - wait() completes once n waits have arrived in the current generation:
//   the n-th arrival completes at once and is the leader; the n - 1 others
//   are woken and are not. Exactly one leader per generation.
// - The barrier is reusable: the next n arrivals form the next generation.
// - barrier(0) throws std::invalid_argument (Tokio treats 0 as 1; weft
//   rejects it, as it rejects a zero channel capacity).
// - Cancellation (as Tokio, whose Barrier::wait is not cancel safe): a wait
//   arrives when it is first awaited. If it is cancelled after that (its
//   task aborted, a select branch dropped), its arrival still counts: the
//   generation can complete with fewer than n live waiters, and the
//   cancelled one is simply not woken. A wait cancelled before it is awaited
//   never arrives. Either way nothing leaks or dangles.
//
// Design and invariants: mu_ (a spin_mutex) guards arrived_, generation_,
// the intrusive FIFO list of waiting nodes (inside the awaiters) and each
// node's state and waker. Every node in the list records the generation it
// waits for; a leader advances generation_ and wakes every node of an older
// generation, 32 at a time, moving the wakers out under mu_ and waking after
// unlocking (nodes of the next generation, queued meanwhile at the tail, are
// left alone). A waiter destroyed while still listed unlinks itself.
//
// Lock: detail::spin_mutex (spin_mutex.hpp says why not std::mutex): every
// section under mu_ is a counter update or a list link/unlink; a leader wakes
// waiters after unlocking, at most 32 wakers moved out per section.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::sync {

class barrier;

/// What barrier::wait() gives: whether this waiter was the generation's leader.
///
///   if ((co_await b.wait()).is_leader()) reset_round();
class barrier_wait_result {
public:
    explicit barrier_wait_result(bool leader) noexcept : leader_(leader) {}
    /// True for exactly one waiter of each generation (the last to arrive).
    bool is_leader() const noexcept { return leader_; }

private:
    bool leader_;
};

namespace detail {
struct barrier_waiter {
    barrier_waiter* prev = nullptr;
    barrier_waiter* next = nullptr;
    weft::detail::waker waker;
    std::uint64_t generation = 0;
    enum class state : unsigned char { idle, waiting, released } st = state::idle;
};
} // namespace detail

/// The awaitable returned by barrier::wait(); gives a barrier_wait_result.
class barrier_wait_awaiter : public weft::detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::barrier;
    /// Copies make a fresh wait: only an unawaited object may be copied
    /// (GCC 12 copies a named awaiter in `co_await a`).
    barrier_wait_awaiter(const barrier_wait_awaiter& o) noexcept : b_(o.b_) {}
    barrier_wait_awaiter& operator=(const barrier_wait_awaiter&) = delete;
    ~barrier_wait_awaiter();

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    barrier_wait_result await_resume() noexcept {
        registered_ = false;
        return barrier_wait_result(leader_);
    }

private:
    friend class barrier;
    explicit barrier_wait_awaiter(barrier* b) noexcept : b_(b) {}
    barrier* b_;
    detail::barrier_waiter node_;
    bool leader_ = false;
    bool registered_ = false;
};

/// A reusable barrier for n tasks (see the top of this header).
///
///   weft::sync::barrier b(2);
///   // task A:                          // task B:
///   co_await b.wait();                  co_await b.wait();   // both continue
class barrier {
public:
    /// A barrier for `n` waits per generation; throws std::invalid_argument if n == 0.
    explicit barrier(std::size_t n);
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;
    ~barrier() = default;

    /// Awaitable: arrives at the barrier (when awaited) and waits for the
    /// generation to fill up. Gives whether this waiter is the leader.
    ///
    ///   bool leader = (co_await b.wait()).is_leader();
    ///
    /// Cancel safety (`sync::barrier::wait`): not cancel safe. A wait arrives when first awaited;
    /// cancelled after that, its arrival still counts (as Tokio).
    [[nodiscard]] barrier_wait_awaiter wait() noexcept { return barrier_wait_awaiter(this); }

private:
    friend class barrier_wait_awaiter;
    using node = detail::barrier_waiter;
    void unlink(node* w) noexcept;

    weft::detail::spin_mutex mu_;
    std::size_t n_;
    std::size_t arrived_ = 0;
    std::uint64_t generation_ = 0;
    node* head_ = nullptr;
    node* tail_ = nullptr;
};

} // namespace weft::sync
