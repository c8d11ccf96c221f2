// weft::sync::barrier (semantics and invariants in include/weft/sync/barrier.hpp).
#include "weft/sync/barrier.hpp"
#include "weft/detail/intrusive_list.hpp"

#include <array>
#include <mutex>
#include <stdexcept>

namespace weft::sync {

using weft::detail::waker;
using lock_t = std::unique_lock<weft::detail::spin_mutex>;

barrier::barrier(std::size_t n) : n_(n) {
    if (n == 0) throw std::invalid_argument("weft::sync::barrier: n must be at least 1");
}

void barrier::unlink(node* w) noexcept {
    weft::detail::list_unlink(head_, tail_, w);
}

bool barrier_wait_awaiter::await_suspend(std::coroutine_handle<> h) {
    (void)weft::detail::current_task_or_throw(); // before arriving
    lock_t lk(b_->mu_);
    if (++b_->arrived_ < b_->n_) {
        node_.generation = b_->generation_;
        node_.st = detail::barrier_waiter::state::waiting;
        node_.waker = weft::detail::suspend_waker(h);
        weft::detail::list_push_back(b_->head_, b_->tail_, &node_);
        registered_ = true;
        return true;
    }
    // The leader: start the next generation and release this one (and any
    // older node a previous leader has not reached yet).
    leader_ = true;
    b_->arrived_ = 0;
    const std::uint64_t current = ++b_->generation_;
    std::array<waker, 32> batch;
    for (;;) {
        std::size_t count = 0;
        while (b_->head_ != nullptr && b_->head_->generation < current && count < batch.size()) {
            detail::barrier_waiter* w = b_->head_;
            b_->unlink(w);
            w->st = detail::barrier_waiter::state::released;
            batch[count++] = std::move(w->waker);
        }
        bool more = b_->head_ != nullptr && b_->head_->generation < current;
        lk.unlock();
        for (std::size_t i = 0; i < count; ++i)
            std::move(batch[i]).wake();
        if (!more) break;
        lk.lock();
    }
    if (weft::detail::coop_proceed()) return false;
    weft::detail::suspend_and_yield(h); // budget spent: done, but let others run first
    return true;
}

barrier_wait_awaiter::~barrier_wait_awaiter() {
    if (!registered_) return;
    lock_t lk(b_->mu_);
    // Cancelled while waiting: withdraw the node; the arrival still counts (Tokio).
    if (node_.st == detail::barrier_waiter::state::waiting) b_->unlink(&node_);
    node_.waker.reset();
}

} // namespace weft::sync
