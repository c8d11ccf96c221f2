// task_ring: an unlocked FIFO of task pointers, for queues that live under
// some other lock (the blocking pool's, a local_set's) or that one thread
// owns (the current-thread runtime's run queue, a worker's deferred list).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "weft/detail/assert.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

/// A FIFO of task pointers in a growable power-of-two ring: no allocation
/// once it has grown to the backlog at hand, and given back when it drains
/// after a burst (a million spawns would otherwise keep 8 MB resident).
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
        if (--count_ == 0 && ring_.size() > shrink_above) {
            std::vector<task_header*>().swap(ring_);
            head_ = 0;
        }
        return t;
    }
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    /// Pops the i-th task from the front (i < size()); the front one takes
    /// its place (the seeded current-thread runtime: the order is random).
    task_header* pop_at(std::size_t i) noexcept {
        WEFT_ASSERT(i < count_, "task_ring pop_at: the index is in the ring");
        std::swap(ring_[head_], ring_[(head_ + i) & (ring_.size() - 1)]);
        return pop();
    }

private:
    static constexpr std::size_t shrink_above = 64 * 1024;
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

} // namespace weft::detail
