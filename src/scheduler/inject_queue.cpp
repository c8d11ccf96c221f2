// The inject queue (design in inject_queue.hpp).
#include "scheduler/inject_queue.hpp"

#include <mutex>

namespace weft::detail {

void inject_queue::grow() {
    std::vector<task_header*> next(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
        next[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(next);
    head_ = 0;
}

bool inject_queue::push(task_header* t) noexcept {
    WEFT_ASSERT(task_is_notified(t), "inject push: the task is NOTIFIED");
    std::lock_guard lk(mu_);
    if (closed_) return false;
    if (count_ == ring_.size()) grow();
    ring_[(head_ + count_) & (ring_.size() - 1)] = t;
    ++count_;
    len_.store(count_, std::memory_order_release);
    return true;
}

void inject_queue::push_batch(task_header* const* ts, std::size_t n) noexcept {
    {
        std::lock_guard lk(mu_);
        if (!closed_) {
            while (ring_.size() - count_ < n)
                grow();
            for (std::size_t i = 0; i < n; ++i) {
                WEFT_ASSERT(task_is_notified(ts[i]), "inject push_batch: the task is NOTIFIED");
                ring_[(head_ + count_ + i) & (ring_.size() - 1)] = ts[i];
            }
            count_ += n;
            len_.store(count_, std::memory_order_release);
            return;
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        task_ref_dec(ts[i]);
}

task_header* inject_queue::pop() noexcept {
    if (empty()) return nullptr;
    std::lock_guard lk(mu_);
    if (count_ == 0) return nullptr;
    task_header* t = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
    len_.store(count_, std::memory_order_release);
    shrink_if_drained();
    return t;
}

void inject_queue::shrink_if_drained() noexcept {
    // A burst (a million spawns overflowing a worker) can grow the ring to
    // megabytes; give that back once it is drained, so that parked tasks do
    // not pay 8 bytes each for a queue they left long ago.
    if (count_ == 0 && ring_.size() > shrink_above) {
        std::vector<task_header*>().swap(ring_);
        try {
            ring_.resize(256);
        } catch (...) {
            ring_.resize(1); // keep a valid power-of-two ring; grow() recovers
        }
        head_ = 0;
    }
}

std::size_t inject_queue::pop_n(task_header** out, std::size_t max) noexcept {
    if (empty()) return 0;
    std::lock_guard lk(mu_);
    std::size_t n = count_ < max ? count_ : max;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = ring_[head_];
        head_ = (head_ + 1) & (ring_.size() - 1);
    }
    count_ -= n;
    len_.store(count_, std::memory_order_release);
    shrink_if_drained();
    return n;
}

void inject_queue::close() noexcept {
    std::lock_guard lk(mu_);
    closed_ = true;
}

bool inject_queue::is_closed() const noexcept {
    std::lock_guard lk(mu_);
    return closed_;
}

} // namespace weft::detail
