// weft::sync::notify (semantics in include/weft/sync/notify.hpp).
//
// The waiter list is intrusive: each notified_awaiter holds its node, so
// waiting allocates nothing. The list, each node's `st` and its waker are
// guarded by mu_. A notifier takes the waker out of the node under the lock
// and wakes after unlocking, so the node may be destroyed (its task aborted)
// the moment the lock is released.
//
// Cancellation: a node destroyed while `waiting` is unlinked; one destroyed
// after notify_one picked it (`notified_one`) without having been resumed
// passes the notification on (notify_one_locked), so it is not lost.
#include "weft/sync/notify.hpp"
#include "weft/detail/intrusive_list.hpp"

#include <vector>

namespace weft::sync {

using weft::detail::waker;
using node = detail::notify_waiter;

bool notify::try_take_permit() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    while ((s & mode_mask) == permit) {
        if (state_.compare_exchange_weak(s, s & ~mode_mask, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
            return true;
    }
    return false;
}

void notify::unlink(node* w) noexcept {
    weft::detail::list_unlink(head_, tail_, w);
    if (head_ == nullptr)
        state_.fetch_and(~mode_mask, std::memory_order_acq_rel); // waiting -> empty
}

waker notify::notify_one_locked() noexcept {
    if (head_ != nullptr) {
        node* w = head_;
        unlink(w);
        w->st = node::state::notified_one;
        return std::move(w->waker);
    }
    state_.fetch_or(permit, std::memory_order_acq_rel); // mode was empty or permit
    return {};
}

void notify::notify_one() noexcept {
    // Fast path: nobody waits, store (or keep) the permit without the lock.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    while ((s & mode_mask) != waiting) {
        if ((s & mode_mask) == permit) return;
        if (state_.compare_exchange_weak(s, (s & ~mode_mask) | permit, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
            return;
    }
    waker w;
    {
        std::lock_guard lk(mu_);
        w = notify_one_locked();
    }
    std::move(w).wake();
}

void notify::notify_waiters() noexcept {
    std::vector<waker> wakers;
    {
        std::lock_guard lk(mu_);
        // Count the call (objects made before it complete), keep a permit as
        // is (CAS: a lock-free notify_one may store one meanwhile).
        std::uint64_t s = state_.load(std::memory_order_relaxed);
        for (;;) {
            std::uint64_t mode = s & mode_mask;
            if (mode == waiting) mode = empty;
            std::uint64_t next = (((s >> calls_shift) + 1) << calls_shift) | mode;
            if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                             std::memory_order_relaxed))
                break;
        }
        for (node* w = head_; w != nullptr;) {
            node* next = w->next;
            w->prev = w->next = nullptr;
            w->st = node::state::notified_all;
            try {
                wakers.push_back(std::move(w->waker));
            } catch (...) {
                // Out of memory: wake this one under the lock rather than lose it.
                std::move(w->waker).wake();
            }
            w = next;
        }
        head_ = tail_ = nullptr;
    }
    for (waker& w : wakers)
        std::move(w).wake();
}

bool notified_awaiter::await_ready() noexcept {
    std::uint64_t s = n_->state_.load(std::memory_order_acquire);
    if ((s >> notify::calls_shift) != calls_) {
        ready_ = true;
    } else if (n_->try_take_permit()) {
        ready_ = took_permit_ = true;
    } else {
        return false;
    }
    if (!weft::detail::coop_proceed()) return false; // await_suspend yields
    done_ = true;                                    // await_resume follows at once
    return true;
}

bool notified_awaiter::await_suspend(std::coroutine_handle<> h) {
    if (ready_) { // cooperative budget spent: done, but let others run first
        weft::detail::suspend_and_yield(h);
        return true;
    }
    std::lock_guard lk(n_->mu_);
    // Under the lock the mode is `empty` or `permit` (or `waiting` with other
    // waiters); a lock-free notify_one may still turn `empty` into `permit`,
    // hence the CAS.
    std::uint64_t s = n_->state_.load(std::memory_order_acquire);
    for (;;) {
        if ((s >> notify::calls_shift) != calls_) return false;
        if ((s & notify::mode_mask) == notify::permit) {
            if (n_->state_.compare_exchange_weak(s, s & ~notify::mode_mask,
                                                 std::memory_order_acq_rel,
                                                 std::memory_order_acquire))
                return false;
            continue;
        }
        if (n_->state_.compare_exchange_weak(s, (s & ~notify::mode_mask) | notify::waiting,
                                             std::memory_order_acq_rel, std::memory_order_acquire))
            break;
    }
    node_.waker = weft::detail::suspend_waker(h);
    node_.st = node::state::waiting;
    registered_ = true;
    // The CAS above already made the mode `waiting`.
    weft::detail::list_push_back(n_->head_, n_->tail_, &node_);
    return true;
}

notified_awaiter::~notified_awaiter() {
    if (done_) return;
    if (took_permit_) {
        // Took the permit, then yielded for the cooperative budget and was
        // destroyed before resuming: give the permit back.
        n_->notify_one();
        return;
    }
    if (!registered_) return;
    waker pass_on;
    {
        std::lock_guard lk(n_->mu_);
        if (node_.st == node::state::waiting) {
            n_->unlink(&node_);
        } else if (node_.st == node::state::notified_one) {
            pass_on = n_->notify_one_locked(); // not lost: the next waiter gets it
        }
        node_.waker.reset();
    }
    std::move(pass_on).wake();
}

} // namespace weft::sync
