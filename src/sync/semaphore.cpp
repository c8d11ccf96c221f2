// weft::sync::semaphore (semantics and invariants in
// include/weft/sync/semaphore.hpp).
#include "weft/sync/semaphore.hpp"
#include "weft/detail/intrusive_list.hpp"

#include <algorithm>

namespace weft::sync {

using weft::detail::waker;
using lock_t = std::unique_lock<weft::detail::spin_mutex>;

// --- semaphore ----------------------------------------------------------------

semaphore::semaphore(std::size_t permits) : state_(0) {
    if (permits > max_permits)
        throw std::invalid_argument("weft::sync::semaphore: permits exceed max_permits");
    state_.store(permits << 1, std::memory_order_relaxed);
}

semaphore::take_result semaphore::try_take(std::size_t n) noexcept {
    std::size_t s = state_.load(std::memory_order_acquire);
    for (;;) {
        if ((s & closed_bit) != 0) return take_result::closed;
        if ((s >> 1) < n) return take_result::no_permits;
        if (state_.compare_exchange_weak(s, s - (n << 1), std::memory_order_acq_rel,
                                         std::memory_order_acquire))
            return take_result::ok;
    }
}

acquire_awaiter semaphore::acquire(std::size_t n) {
    if (n > max_permits)
        throw std::invalid_argument("weft::sync::semaphore::acquire: n exceeds max_permits");
    return acquire_awaiter(this, n);
}

try_acquire_result semaphore::try_acquire(std::size_t n) noexcept {
    switch (try_take(n)) {
    case take_result::ok:
        return semaphore_permit(this, n);
    case take_result::closed:
        return try_acquire_error::closed;
    case take_result::no_permits:
        break;
    }
    return try_acquire_error::no_permits;
}

void semaphore::add_permits(std::size_t n) {
    if (n == 0) return;
    lock_t lk(mu_);
    // Under mu_ state_ can only shrink (lock-free takes), so this check holds.
    if (n > max_permits - (state_.load(std::memory_order_acquire) >> 1))
        throw std::overflow_error("weft::sync::semaphore::add_permits: exceeds max_permits");
    release_locked(n, lk);
}

void semaphore::release(std::size_t n) noexcept {
    if (n == 0) return;
    lock_t lk(mu_);
    release_locked(n, lk);
}

void semaphore::unlink(node* w) noexcept {
    weft::detail::list_unlink(head_, tail_, w);
}

void semaphore::push_back(node* w) noexcept {
    weft::detail::list_push_back(head_, tail_, w);
}

void semaphore::release_locked(std::size_t n, lock_t& lk) noexcept {
    std::array<waker, wake_batch> batch;
    for (;;) {
        std::size_t count = 0;
        while (n > 0 && head_ != nullptr && count < wake_batch) {
            node* w = head_;
            std::size_t give = std::min(n, w->remaining);
            w->remaining -= give;
            n -= give;
            if (w->remaining == 0) {
                unlink(w);
                w->st = node::state::granted;
                batch[count++] = std::move(w->waker);
            }
        }
        bool more = n > 0 && head_ != nullptr; // the batch is full
        if (!more && n > 0) {
            // Nobody waits (or the semaphore is closed): the rest becomes available.
            state_.fetch_add(n << 1, std::memory_order_acq_rel);
            n = 0;
        }
        lk.unlock();
        for (std::size_t i = 0; i < count; ++i)
            std::move(batch[i]).wake();
        if (!more) return;
        lk.lock();
    }
}

void semaphore::close() noexcept {
    std::array<waker, wake_batch> batch;
    lock_t lk(mu_);
    state_.fetch_or(closed_bit, std::memory_order_acq_rel);
    for (;;) {
        std::size_t count = 0;
        while (head_ != nullptr && count < wake_batch) {
            node* w = head_;
            unlink(w);
            w->st = node::state::closed;
            batch[count++] = std::move(w->waker);
        }
        bool more = head_ != nullptr;
        lk.unlock();
        for (std::size_t i = 0; i < count; ++i)
            std::move(batch[i]).wake();
        if (!more) return;
        lk.lock();
    }
}

// --- permits ------------------------------------------------------------------

void semaphore_permit::release() noexcept {
    if (sem_ != nullptr && n_ > 0) sem_->release(n_);
    sem_ = nullptr;
    n_ = 0;
}

void semaphore_permit::merge(semaphore_permit&& other) {
    if (other.sem_ == nullptr || other.n_ == 0) return;
    if (sem_ == nullptr || n_ == 0) {
        *this = std::move(other);
        return;
    }
    if (other.sem_ != sem_)
        throw std::invalid_argument(
            "weft::sync::semaphore_permit::merge: permits of another semaphore");
    n_ += std::exchange(other.n_, 0);
    other.sem_ = nullptr;
}

std::optional<semaphore_permit> semaphore_permit::split(std::size_t n) noexcept {
    if (n > n_) return std::nullopt;
    n_ -= n;
    return semaphore_permit(sem_, n);
}

semaphore_permit acquire_awaiter::await_resume() {
    if (!finish()) throw acquire_error();
    return semaphore_permit(sem_, n_);
}

namespace detail {

void semaphore_access::release(semaphore& s, std::size_t n) noexcept {
    s.release(n);
}

bool semaphore_access::try_take(semaphore& s, std::size_t n) noexcept {
    return s.try_take(n) == semaphore::take_result::ok;
}

// --- acquire_op -----------------------------------------------------------------

bool acquire_op::await_ready() noexcept {
    switch (sem_->try_take(n_)) {
    case semaphore::take_result::ok:
        phase_ = phase::acquired;
        break;
    case semaphore::take_result::closed:
        phase_ = phase::closed;
        break;
    case semaphore::take_result::no_permits:
        return false;
    }
    // Done, unless the cooperative budget is spent (or the task was aborted):
    // then await_suspend yields first (and the destructor returns the
    // permits if the task is destroyed there).
    return weft::detail::coop_proceed();
}

bool acquire_op::await_suspend(std::coroutine_handle<> h) {
    if (phase_ == phase::acquired || phase_ == phase::closed) {
        weft::detail::suspend_and_yield(h);
        return true;
    }
    (void)weft::detail::current_task_or_throw(); // before taking anything
    lock_t lk(sem_->mu_);
    std::size_t s = sem_->state_.load(std::memory_order_acquire);
    std::size_t take;
    for (;;) {
        if ((s & semaphore::closed_bit) != 0) {
            phase_ = phase::closed;
            return false;
        }
        // Waiters queued => no permits in state_ (the fairness invariant).
        take = std::min(s >> 1, n_);
        if (sem_->state_.compare_exchange_weak(s, s - (take << 1), std::memory_order_acq_rel,
                                               std::memory_order_acquire))
            break;
    }
    if (take == n_) {
        phase_ = phase::acquired;
        return false;
    }
    node_.remaining = n_ - take;
    node_.st = semaphore_waiter::state::waiting;
    node_.waker = weft::detail::suspend_waker(h);
    sem_->push_back(&node_);
    phase_ = phase::registered;
    return true;
}

bool acquire_op::finish() noexcept {
    switch (phase_) {
    case phase::acquired:
        phase_ = phase::done;
        return true;
    case phase::registered: {
        lock_t lk(sem_->mu_);
        if (node_.st == semaphore_waiter::state::granted) {
            phase_ = phase::done;
            return true;
        }
        // Closed while waiting (resumed only after a wake, so not `waiting`):
        // give back what was assigned before the close.
        phase_ = phase::done;
        std::size_t assigned = n_ - node_.remaining;
        node_.remaining = n_;
        if (assigned > 0) {
            sem_->release_locked(assigned, lk);
        }
        return false;
    }
    case phase::closed:
    case phase::init:
    case phase::done:
        break;
    }
    phase_ = phase::done;
    return false;
}

acquire_op::~acquire_op() {
    switch (phase_) {
    case phase::acquired: // got them, yielded for the budget, destroyed there
        sem_->release(n_);
        return;
    case phase::registered: {
        lock_t lk(sem_->mu_);
        std::size_t give_back = 0;
        switch (node_.st) {
        case semaphore_waiter::state::waiting:
            sem_->unlink(&node_);
            give_back = n_ - node_.remaining; // partially assigned
            break;
        case semaphore_waiter::state::granted:
            give_back = n_; // granted, never resumed
            break;
        case semaphore_waiter::state::closed:
            give_back = n_ - node_.remaining;
            break;
        case semaphore_waiter::state::idle:
            break;
        }
        node_.waker.reset();
        if (give_back > 0) sem_->release_locked(give_back, lk); // unlocks
        return;
    }
    case phase::init:
    case phase::closed:
    case phase::done:
        return;
    }
}

} // namespace detail

} // namespace weft::sync
