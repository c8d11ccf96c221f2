// Write batching (decision 0043): the socket writes of one scheduler round
// go to the kernel together, in one io_uring_enter. A write_batcher per
// driving thread holds the batch and the rule that follows a flush; both
// schedulers call its end_of_round(), and nothing outside src/ knows it.
//
// # Why
//
// With many connections ready at once (the echo and HTTP servers), a worker
// runs a dozen tasks per tick and each sends its reply. As separate send(2)
// calls, every reply is a kernel round trip, and on loopback each send wakes
// the peer, which then preempts the sender at the return to user space.
// Gathered into one io_uring_enter, the sends run back to back in the
// kernel (the measurements are in docs/decisions/0043).
//
// # How
//
// A current-thread runtime owns one write_batcher (thread_state::batch while
// its block_on thread drives it), and each worker of a multi-thread runtime
// one of its own. A write that finds its socket writable
// does not call send(2): it links a node (batched_send, inside its awaiter,
// inside the task's frame) into the batch of the thread it runs on and
// suspends. The scheduler calls end_of_round(), which flushes: the
// current-thread scheduler after each round of up to event_interval polls,
// before it polls for I/O or parks; a worker when it runs out of work and at
// maintenance (every event_interval ticks). A task therefore never waits for a flush longer than
// the tasks queued before it take to run.
//
// A thread that flushes and keeps running keeps its core, and the peers it
// woke there wait for the kernel's next tick; so after a flush, a thread
// that has run yield_core_after without parking yields (end_of_round does
// that too; parked() restarts the count).
//
// The flush submits one IORING_OP_SEND per node with MSG_DONTWAIT. io_uring
// does not arm a poll for a MSG_DONTWAIT request (REQ_F_NOWAIT): it sends
// what fits, or completes with -EAGAIN, during the io_uring_enter call
// itself. So when the call returns, the kernel is done with every buffer;
// the flush still reaps until it holds one completion per request before it
// lets a node go. Results (bytes or -errno) go back into the nodes, and the
// tasks are woken; a short send or -EAGAIN is handled by the write's loop as
// a short send(2) would be.
//
// Without io_uring (an old kernel, a seccomp profile that forbids it) or
// with runtime_builder::batch_writes(false) there is no batch, and every
// write is its own send(2), as before.
//
// # Cancellation and lifetime
//
// Nodes are guarded by the batch's lock, held for the whole flush,
// including the system call. A node's awaiter destroyed while linked (its
// task was aborted in write) unlinks it under that lock; once a flush has
// taken the lock first, the awaiter waits for it, so the kernel never reads
// a buffer that is being freed. A flush moves each waker out and clears
// `linked` (release) as its last write to a node, then wakes outside the
// lock; a wake-up for an awaiter already gone is stale, and the suspension
// token makes it harmless (decision 0002). Only the owner thread enqueues
// and flushes; any thread may cancel.
//
// An abort must not lose a write that a flush performed (decision 0042):
// poll_task resumes an aborted task whose send_awaiter (await_kind
// socket_send) the flush already woke, so the count reaches the caller and
// the abort lands at the next suspension; and one whose write may be in
// another worker's batch, flushed or about to be, goes idle (still
// CANCELLED) until that flush wakes it. Only a write queued in the poller's
// own batch, which no flush can be sending meanwhile, is withdrawn at once.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "runtime/thread_state.hpp"
#include "weft/detail/await_site.hpp"
#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

/// One write waiting in a send_batch.
struct batched_send {
    batched_send* prev = nullptr;
    batched_send* next = nullptr;
    int fd = -1;
    const std::byte* data = nullptr;
    std::size_t len = 0;
    /// Bytes sent, or -errno.
    long result = 0;
    waker w;
    /// True while in the batch; cleared (release) by the flush as its last
    /// write to the node, so an owner that sees false may destroy it.
    std::atomic<bool> linked{false};
};

/// send(2) of `n`'s bytes, non-blocking, without SIGPIPE; stores the result.
void send_now(batched_send& n) noexcept;

class send_batch {
public:
    send_batch() noexcept = default;
    ~send_batch();
    send_batch(const send_batch&) = delete;
    send_batch& operator=(const send_batch&) = delete;

    /// Whether writes may be batched: opens the batch's io_uring on first use
    /// (a runtime that never writes to a socket never makes one). False for
    /// good when io_uring is not available here; writes then go straight to
    /// send(2). Owner thread.
    bool usable() noexcept { return ring_ != nullptr || (!unusable_ && open_ring()); }
    /// Something is waiting for flush(). Owner thread.
    bool pending() const noexcept { return count_.load(std::memory_order_relaxed) != 0; }
    /// Links `n` and records the current task's waker. Owner thread.
    void enqueue(batched_send& n, std::coroutine_handle<> h);
    /// Withdraws `n` (no-op once a flush took it). Any thread.
    void cancel(batched_send& n) noexcept;
    /// Whether a write of task `t` is queued here (a cold path: a walk of
    /// the queue under the lock). Any thread.
    bool holds(const task_header* t) noexcept;
    /// Sends everything queued and wakes the writers. Owner thread.
    /// Returns the number of tasks woken.
    std::size_t flush() noexcept;

    /// Sends submitted through the batch, and flushes that sent something
    /// (runtime_metrics::io_batched_writes, io_write_batches).
    std::uint64_t batched_writes() const noexcept {
        return writes_.load(std::memory_order_relaxed);
    }
    std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

private:
    struct ring;
    bool open_ring() noexcept;
    /// Submits `n` nodes (`nodes[i]`) and stores their results. Under mu_.
    void submit(batched_send** nodes, std::size_t n) noexcept;

    spin_mutex mu_;
    batched_send* head_ = nullptr; // guarded by mu_
    batched_send* tail_ = nullptr;
    std::atomic<std::size_t> count_{0};
    ring* ring_ = nullptr; // set once by open_ring()
    bool unusable_ = false;
    std::atomic<std::uint64_t> writes_{0}, batches_{0};
};

/// One driving thread's write batching: its send_batch, and what follows a
/// flush that woke writers (the core is offered to the peers they woke once
/// the thread has kept it yield_core_after; decision 0043). Owned by the
/// scheduler, one per driving thread, and set as thread_state::batch while
/// that thread drives. Only the owner thread calls the non-const members.
class write_batcher {
public:
    explicit write_batcher(std::optional<std::chrono::microseconds> yield_core_after) noexcept
        : yield_core_after_(yield_core_after) {}
    write_batcher(const write_batcher&) = delete;
    write_batcher& operator=(const write_batcher&) = delete;

    /// Where this thread's writes wait for the flush.
    send_batch& ring() noexcept { return batch_; }

    /// Call where a round of polls ends (before an I/O poll, a park, or the
    /// next round): the writes gathered since the last flush go out, and
    /// their tasks are queued again. Returns whether a writer was woken;
    /// then, if the thread has kept its core for yield_core_after, it
    /// yields it (sched_yield).
    bool end_of_round() noexcept {
        if (!batch_.pending() || batch_.flush() == 0) return false;
        if (yield_core_after_) offer_core();
        return true;
    }
    /// The thread slept (a park): its time on the core starts again.
    void parked() noexcept {
        if (yield_core_after_) on_core_since_ = std::chrono::steady_clock::now();
    }

    /// runtime_metrics: io_batched_writes, io_write_batches, core_yields.
    std::uint64_t batched_writes() const noexcept { return batch_.batched_writes(); }
    std::uint64_t batches() const noexcept { return batch_.batches(); }
    std::uint64_t core_yields() const noexcept {
        return core_yields_.load(std::memory_order_relaxed);
    }

private:
    void offer_core() noexcept;

    send_batch batch_;
    std::optional<std::chrono::microseconds> yield_core_after_;
    std::chrono::steady_clock::time_point on_core_since_{};
    std::atomic<std::uint64_t> core_yields_{0}; // written by the owner, read by metrics()
};

/// The batch this thread's socket writes go through, or null (batching is
/// off, or the thread drives no scheduler).
inline send_batch* this_thread_send_batch() noexcept {
    write_batcher* b = this_thread_state().batch;
    return b != nullptr ? &b->ring() : nullptr;
}

/// co_await send_awaiter(batch, fd, buf): one send of `buf`; gives the bytes
/// sent or -errno. With a usable batch (this_thread_send_batch())
/// the send waits for the next flush; else it is a send(2) at once.
/// The socket write loops (src/net.cpp) use it for every send.
class send_awaiter : public awaitable_tag {
public:
    // Its own kind: poll_task recognises a task suspended here whose write a
    // flush already performed (see "Cancellation and lifetime" above).
    static constexpr await_kind weft_await_kind = await_kind::socket_send;
    send_awaiter(send_batch* b, int fd, std::span<const std::byte> buf) noexcept : b_(b) {
        node_.fd = fd;
        node_.data = buf.data();
        node_.len = buf.size();
    }
    /// Copyable before it is awaited (task_promise::await_transform passes
    /// awaiters on by value): a copy carries the request, not the node.
    send_awaiter(const send_awaiter& o) noexcept : b_(o.b_) {
        node_.fd = o.node_.fd;
        node_.data = o.node_.data;
        node_.len = o.node_.len;
    }
    send_awaiter& operator=(const send_awaiter&) = delete;
    ~send_awaiter() {
        if (node_.linked.load(std::memory_order_acquire)) b_->cancel(node_);
    }

    bool await_ready() noexcept {
        if (b_ != nullptr && b_->usable()) return false;
        send_now(node_);
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) { b_->enqueue(node_, h); }
    long await_resume() const noexcept { return node_.result; }

private:
    send_batch* b_;
    batched_send node_;
};
} // namespace weft::detail
