// Pieces both schedulers use: the owned-task registry, the inject queue,
// the parker, and the shared runtime state.
//
// Owned-task registry: every live spawned task is in it until it completes,
// so that shutdown can find and abort tasks that nothing will ever wake. It
// is sharded (a mutex and a vector per shard; the task keeps its index in
// the vector, removal swaps the last one in). Task ids are handed out to
// threads in blocks of 1024 (see next_task_id), and the shard is chosen by
// id / 1024, so a thread that spawns mostly touches one shard. Once closed,
// the registry refuses new tasks: a task spawned during shutdown is
// cancelled before it runs.
//
// Inject queue: the global FIFO for tasks scheduled from outside a worker
// and for the overflow of a full local queue. A mutex around a ring buffer
// that grows; `len_` lets idle workers see that it is empty without the
// lock. Once closed, pushes are refused: the caller drops the entry.
//
// task_ring: an unlocked FIFO of task pointers, for queues that live under
// some other lock (the blocking pool's, a local_set's).
//
// Parker: one per thread that can sleep (worker, block_on thread). States
// EMPTY / PARKED / NOTIFIED / PARKED_DRIVER in one word; unpark before park
// makes the next park return at once (no lost wake-up). park() sleeps on a
// futex; park_driver() sleeps in the reactor's epoll_wait (the timer
// waiter does, decision 0020), and unpark() then writes the reactor's
// eventfd instead of waking the futex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weft/detail/assert.hpp"
#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task_header.hpp"

namespace weft::detail {

class owned_tasks {
public:
    /// `shards`: a power of two (the runtime picks 4 per worker, as Tokio).
    explicit owned_tasks(std::size_t shards);

    /// Adds `t`; false when the registry is closed.
    bool bind(task_header* t) noexcept;
    /// Removes `t`; false when it was not there.
    bool remove(task_header* t) noexcept;
    /// Refuses new tasks from now on.
    void close() noexcept;
    /// Any task still registered, with a reference taken for the caller.
    task_header* any() noexcept;
    /// Calls `f(t)` for each registered task under the shard's lock.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t i = 0; i < num_shards_; ++i) {
            std::lock_guard lk(shards_[i].mu);
            for (std::size_t k = 0; k < shards_[i].tasks.size(); ++k)
                f(shards_[i].tasks[k]);
        }
    }
    std::uint64_t alive() const noexcept;
    std::uint64_t spawned() const noexcept;

private:
    /// A vector of task pointers in 2 KiB blocks: no doubling slack (a
    /// million parked tasks cost 8 bytes each here, not up to 16), and
    /// growth never copies. Keeps one spare block so that a shard that
    /// hovers at a block boundary does not allocate on every spawn.
    class segmented {
    public:
        static constexpr std::size_t block = 256;
        std::size_t size() const noexcept { return size_; }
        bool empty() const noexcept { return size_ == 0; }
        task_header*& operator[](std::size_t i) noexcept { return blocks_[i / block][i % block]; }
        task_header*& back() noexcept { return (*this)[size_ - 1]; }
        void push_back(task_header* t) {
            if (size_ == blocks_.size() * block)
                blocks_.push_back(std::make_unique<task_header*[]>(block));
            (*this)[size_++] = t;
        }
        void pop_back() noexcept {
            --size_;
            if (blocks_.size() * block - size_ >= 2 * block) blocks_.pop_back();
        }

    private:
        std::vector<std::unique_ptr<task_header*[]>> blocks_;
        std::size_t size_ = 0;
    };

    struct alignas(64) shard {
        spin_mutex mu;
        segmented tasks;
        bool closed = false;
        std::uint64_t spawned = 0;
    };
    shard& shard_of(const task_header* t) noexcept {
        return shards_[(t->id >> 10) & (num_shards_ - 1)];
    }
    std::size_t num_shards_;
    std::unique_ptr<shard[]> shards_;
};

class inject_queue {
public:
    /// False when closed (the caller keeps the reference to drop).
    bool push(task_header* t) noexcept;
    /// Pushes `n` tasks; the ones refused (closed) are dropped here.
    void push_batch(task_header* const* ts, std::size_t n) noexcept;
    task_header* pop() noexcept;
    /// Pops up to `max` tasks into `out`; returns how many.
    std::size_t pop_n(task_header** out, std::size_t max) noexcept;
    bool empty() const noexcept { return len_.load(std::memory_order_acquire) == 0; }
    std::size_t len() const noexcept { return len_.load(std::memory_order_relaxed); }
    void close() noexcept;
    bool is_closed() const noexcept;

private:
    static constexpr std::size_t shrink_above = 64 * 1024; // entries
    void grow();
    void shrink_if_drained() noexcept;
    mutable spin_mutex mu_;
    std::vector<task_header*> ring_ = std::vector<task_header*>(256);
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    bool closed_ = false;
    std::atomic<std::size_t> len_{0};
};

class reactor;

class parker {
public:
    /// Sleeps until unpark() (or until `deadline`, if given).
    void
    park(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) noexcept;
    /// Like park(), but sleeps in `r`'s epoll_wait and dispatches the I/O
    /// events that arrive (unpark() then writes r's eventfd). Returns the
    /// number of waiters the events woke. Call only as the timer waiter (one
    /// thread at a time polls; see reactor.hpp).
    std::size_t park_driver(reactor& r,
                            std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
    void unpark() noexcept;

private:
    static constexpr std::uint32_t empty = 0, parked = 1, notified = 2, parked_driver = 3;
    std::atomic<std::uint32_t> state_{empty};
    // Written before the CAS to parked_driver; atomic because a late unpark
    // may read it while the next park_driver writes it (the same value).
    std::atomic<reactor*> driver_{nullptr};
};

/// A FIFO of task pointers in a growable power-of-two ring (no allocation
/// once it has grown to the largest backlog seen).
class task_ring {
public:
    void push(task_header* t) {
        WEFT_ASSERT(task_is_notified(t), "task_ring push: the task is NOTIFIED");
        if (count_ == ring_.size()) grow();
        ring_[(head_ + count_) & (ring_.size() - 1)] = t;
        ++count_;
    }
    task_header* pop() noexcept {
        if (count_ == 0) return nullptr;
        task_header* t = ring_[head_];
        head_ = (head_ + 1) & (ring_.size() - 1);
        --count_;
        return t;
    }
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }

private:
    void grow() {
        std::vector<task_header*> next(ring_.empty() ? 64 : ring_.size() * 2);
        for (std::size_t i = 0; i < count_; ++i)
            next[i] = ring_[(head_ + i) & (ring_.size() - 1)];
        ring_.swap(next);
        head_ = 0;
    }
    std::vector<task_header*> ring_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

/// Sets a thread's name (Linux keeps 15 characters).
void set_thread_name(const std::string& name) noexcept;

/// Runs `fn` on a new thread that is detached from its creation: a running
/// thread is never pthread_detach'ed, since glibc 2.36 races that call with
/// the thread's own exit (decision 0034). Throws std::system_error when the
/// thread cannot be started.
void start_detached_thread(std::function<void()> fn);

} // namespace weft::detail
