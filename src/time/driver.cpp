// Timing wheel and time driver (design in driver.hpp).
#include "time/driver.hpp"

#include <bit>
#include <limits>
#include <mutex>

#include "weft/detail/assert.hpp"
#include "weft/runtime_error.hpp"

namespace weft::detail {

// --- time_driver -------------------------------------------------------------------

time_driver::time_driver(bool start_paused) : origin_(std::chrono::steady_clock::now()) {
    if (start_paused) {
        paused_at_ = origin_;
        paused_.store(true, std::memory_order_release);
    }
}

clock_time time_driver::now() const noexcept {
    if (paused_.load(std::memory_order_acquire)) {
        std::lock_guard lk(mu_);
        if (paused_.load(std::memory_order_relaxed)) return paused_at_;
    }
    return std::chrono::steady_clock::now() + offset();
}

std::uint64_t time_driver::ticks_of(clock_time t) const noexcept {
    if (t <= origin_) return 0;
    // Unsigned: rounding up the largest deadline (clock_time::max()) must
    // not overflow.
    auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count());
    return (ns + 999'999) / 1'000'000;
}

clock_time time_driver::time_of(std::uint64_t ticks) const noexcept {
    // The tick of clock_time::max() (rounded up) lies past it: saturate.
    auto room = std::chrono::duration_cast<std::chrono::milliseconds>(clock_time::max() - origin_);
    if (ticks > static_cast<std::uint64_t>(room.count())) return clock_time::max();
    return origin_ + std::chrono::milliseconds(ticks);
}

bool time_driver::register_entry(timer_entry& e, clock_time deadline, std::coroutine_handle<> h) {
    std::uint64_t when = ticks_of(deadline);
    bool wake_waiter = false;
    {
        std::lock_guard lk(mu_);
        if (when <= wheel_.elapsed()) return false; // due already
        WEFT_ASSERT(e.st != timer_entry::state::registered, "register_entry: registered twice");
        e.when = when;
        e.driver = this;
        e.w = suspend_waker(h);
        e.st = timer_entry::state::registered;
        wheel_.insert(&e);
        pending_.fetch_add(1, std::memory_order_relaxed);
        if (waiter_ != nullptr && (waiter_wake_ == 0 || when < waiter_wake_)) {
            waiter_wake_ = when; // the waiter re-plans for this one
            wake_waiter = true;
        }
    }
    if (wake_waiter) unpark_waiter();
    return true;
}

void time_driver::cancel(timer_entry& e) noexcept {
    waker dropped;
    {
        std::lock_guard lk(mu_);
        if (e.st != timer_entry::state::registered) return;
        wheel_.remove(&e);
        e.st = timer_entry::state::idle;
        dropped = std::move(e.w);
        pending_.fetch_sub(1, std::memory_order_relaxed);
    }
    // `dropped` releases the task reference outside the lock.
}

std::size_t time_driver::fire_due() noexcept {
    if (pending_.load(std::memory_order_relaxed) == 0) return 0;
    std::vector<waker> due;
    {
        std::lock_guard lk(mu_);
        clock_time now = paused_.load(std::memory_order_relaxed)
                             ? paused_at_
                             : std::chrono::steady_clock::now() + offset();
        // Deadlines were rounded up to whole ticks: tick T is due once now
        // has reached it, i.e. T <= floor(now).
        // A paused clock at clock_time::max() has reached every deadline,
        // including max() itself, whose rounded-up tick lies past it.
        std::uint64_t now_tick =
            now <= origin_ ? 0
            : now == clock_time::max()
                ? std::numeric_limits<std::uint64_t>::max()
                : static_cast<std::uint64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - origin_).count());
        try {
            wheel_.advance_to(now_tick, due, rng_.get());
        } catch (...) {
            // Out of memory for the waker list: fire what was collected.
        }
        pending_.fetch_sub(due.size(), std::memory_order_relaxed);
    }
    for (waker& w : due)
        std::move(w).wake();
    return due.size();
}

std::size_t time_driver::pending() const noexcept {
    return pending_.load(std::memory_order_relaxed);
}

bool time_driver::try_become_waiter(parker* p, std::optional<clock_time>& deadline) noexcept {
    std::lock_guard lk(mu_);
    if (waiter_ != nullptr) return false;
    waiter_ = p;
    std::optional<std::uint64_t> t = wheel_.next_expiration();
    waiter_wake_ = t ? *t : 0;
    // The parker sleeps on the real clock: the timer's tick is on the
    // runtime's clock, which runs `offset` ahead of it after a pause, a jump
    // and a resume (sleeping until the virtual deadline read as a real one
    // hung the next sleep by the length of the jump: issue 14).
    deadline = t ? std::optional<clock_time>(time_of(*t) - offset()) : std::nullopt;
    return true;
}

void time_driver::stop_waiting() noexcept {
    std::lock_guard lk(mu_);
    waiter_ = nullptr;
    waiter_wake_ = 0;
}

void time_driver::unpark_waiter() noexcept {
    parker* p;
    {
        std::lock_guard lk(mu_);
        p = waiter_;
    }
    // A parker outlives its worker's stay as waiter: workers (and block_on
    // threads) clear waiter_ under the lock before their parker dies.
    if (p) p->unpark();
}

void time_driver::pause() {
    std::lock_guard lk(mu_);
    if (paused_.load(std::memory_order_relaxed))
        throw runtime_error("weft::time::pause: the clock is already paused");
    paused_at_ = std::chrono::steady_clock::now() + offset();
    paused_.store(true, std::memory_order_release);
}

void time_driver::resume() {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed))
            throw runtime_error("weft::time::resume: the clock is not paused");
        offset_.store((paused_at_ - std::chrono::steady_clock::now()).count(),
                      std::memory_order_relaxed);
        paused_.store(false, std::memory_order_release); // publishes offset_ to now()
    }
    // A waiter parked while the clock was paused sleeps without a deadline
    // (scheduler/current_thread.cpp): it re-plans on the running clock.
    unpark_waiter();
}

void time_driver::advance(std::chrono::nanoseconds d) {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed))
            throw runtime_error("weft::time::advance: the clock is not paused (call time::pause() "
                                "first, or build the runtime with start_paused(true))");
        // Saturated: advancing past the end of the clock stops at its end.
        if (d >= clock_time::max() - paused_at_)
            paused_at_ = clock_time::max();
        else
            paused_at_ += d;
    }
    fire_due();
}

bool time_driver::auto_advance() noexcept {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed)) return false;
        std::optional<std::uint64_t> t = wheel_.next_expiration();
        if (!t) return false;
        clock_time at = time_of(*t);
        if (at > paused_at_) paused_at_ = at;
    }
    fire_due();
    return true;
}

} // namespace weft::detail
