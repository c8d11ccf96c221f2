// A socket's registration with the reactor, and the leaf that waits for
// its readiness.
//
// # Readiness (after Tokio's ScheduledIo)
//
// Every registered file descriptor has one `scheduled_io`, allocated by the
// reactor (src/reactor.hpp), added to epoll once, edge-triggered, for both
// directions. Its `readiness` word packs the ready bits (readable, writable,
// read closed, write closed, error) with a sequence number that the reactor
// bumps at every event. An operation:
//
//   1. waits until its direction is ready (readiness_awaiter below: at once
//      when the bit is set, else it parks a waiter and suspends);
//   2. tries the system call;
//   3. on EAGAIN clears the bit, but only if the sequence is the one it saw
//      before the call (otherwise an edge arrived meanwhile and the bit must
//      stay), and goes back to 1.
//
// # Waiters and cancellation
//
// A waiter node lives in its awaiter, inside the waiting task's coroutine
// frame: waiting allocates nothing. Nodes and their wakers are guarded by the
// registration's lock. The reactor sets the readiness bits first and then,
// under the lock, takes every waiter of the ready direction: a waiter that
// checks the bits under the same lock either sees them or is found. The
// waker is moved out and `linked` cleared (release) as the last write to a
// node; the wake happens after the lock is released. An awaiter destroyed
// while linked (its task was aborted in read/accept/write) unlinks itself
// under the lock; a wake-up that was already taken is then stale and the
// suspension token makes it harmless (decision 0002). The registration and
// the socket are untouched: another task may go on using them.
//
// # Lifetime
//
// A scheduled_io outlives its socket: closing deregisters it and hands it to
// the reactor, which frees it at the start of its next poll, when no event
// of an earlier epoll_wait can still point to it (src/reactor.cpp).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

/// Ready bits of scheduled_io::readiness (low byte; the sequence is above).
namespace io_ready {
inline constexpr std::uint64_t readable = 1, writable = 2, read_closed = 4, write_closed = 8,
                               error = 16;
inline constexpr std::uint64_t mask = 0xFF;
inline constexpr std::uint64_t seq_one = 0x100;
} // namespace io_ready

/// Which direction an operation waits for.
enum class io_direction : unsigned char { read = 0, write = 1 };

/// The bits that let an operation of `d` proceed (it then sees EOF, an error
/// or data from its system call).
constexpr std::uint64_t io_interest_bits(io_direction d) noexcept {
    return d == io_direction::read
               ? (io_ready::readable | io_ready::read_closed | io_ready::error)
               : (io_ready::writable | io_ready::write_closed | io_ready::error);
}

struct io_waiter {
    io_waiter* prev = nullptr;
    io_waiter* next = nullptr;
    waker w;
    /// True while in a wait list; cleared (release) by the reactor as its last
    /// write to the node, so an owner that sees false may destroy it.
    std::atomic<bool> linked{false};
};

struct scheduled_io {
    std::atomic<std::uint64_t> readiness{0};
    int fd = -1;
    spin_mutex mu;
    io_waiter* head[2] = {nullptr, nullptr}; // per direction, guarded by mu
    io_waiter* tail[2] = {nullptr, nullptr};
    scheduled_io* next_release = nullptr; // in the reactor's release list
};

/// Parks `node` on `io` for direction `d`, unless the direction became ready
/// (then returns false and the caller does not suspend).
bool io_register_waiter(scheduled_io& io, io_direction d, io_waiter& node,
                        std::coroutine_handle<> h);
/// Withdraws a parked node (no-op when the reactor already took it).
void io_cancel_waiter(scheduled_io& io, io_direction d, io_waiter& node) noexcept;
/// Clears the ready bits of `d` if no event came after `seen` was read.
void io_clear_readiness(scheduled_io& io, io_direction d, std::uint64_t seen) noexcept;

/// co_await readiness_awaiter(io, d): completes when `d` is ready; gives the
/// readiness word it saw (for io_clear_readiness). Copyable before it is
/// awaited (GCC 12 copies named awaiters, docs/compiler-traps.md).
class readiness_awaiter : public awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind =
        weft::detail::await_kind::io_readiness;
    readiness_awaiter(scheduled_io& io, io_direction d) noexcept : io_(&io), dir_(d) {}
    readiness_awaiter(const readiness_awaiter& o) noexcept : io_(o.io_), dir_(o.dir_) {}
    readiness_awaiter& operator=(const readiness_awaiter&) = delete;
    ~readiness_awaiter() {
        if (node_.linked.load(std::memory_order_acquire)) io_cancel_waiter(*io_, dir_, node_);
    }

    bool await_ready() noexcept {
        seen_ = io_->readiness.load(std::memory_order_acquire);
        if ((seen_ & io_interest_bits(dir_)) == 0) return false;
        yield_ = true;
        return coop_proceed();
    }
    bool await_suspend(std::coroutine_handle<> h) {
        if (yield_) {
            suspend_and_yield(h); // budget spent (or aborted): run the others first
            return true;
        }
        return io_register_waiter(*io_, dir_, node_, h);
    }
    /// The readiness word just before the caller's system call.
    std::uint64_t await_resume() const noexcept {
        return io_->readiness.load(std::memory_order_acquire);
    }

private:
    scheduled_io* io_;
    io_direction dir_;
    bool yield_ = false;
    std::uint64_t seen_ = 0;
    io_waiter node_;
};

} // namespace weft::detail
