// The inject queue: the global FIFO for tasks scheduled from outside a
// worker and for the overflow of a full local queue. A mutex around a ring
// buffer that grows; `len_` lets idle workers see that it is empty without
// the lock. Once closed, pushes are refused: the caller drops the entry.
// Both schedulers use it (the current-thread runtime for wake-ups from other
// threads), and each multi-thread worker has one for its pinned tasks.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

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

} // namespace weft::detail
