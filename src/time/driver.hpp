// The time driver: the runtime's clock, its timing wheel (wheel.hpp), and
// the hand-off with parking.
//
// Deadlines are rounded up to the next millisecond, so a sleep never ends
// early (Tokio does the same; up to 1 ms late by design).
//
// Locking: one spin_mutex guards the wheel and every registered entry (a
// single wheel, like Tokio after #7226). Expired entries are unlinked and
// their wakers collected under the lock; the wakers are woken after it is
// released, so a task woken here may already be destroying its entry.
//
// Clock: real (steady_clock) or paused (tests). While paused, now() is a
// frozen value that advance() moves; resume() continues from there, so the
// clock then runs `offset` ahead of steady_clock (it never goes back), and a
// waiter's deadline is converted back to steady_clock before it parks. The
// current-thread runtime auto-advances a paused clock to the next timer
// when no task is ready (Tokio's test-util behaviour).
//
// Parking (who waits for the next timer): at most one thread at a time is
// the *timer waiter*: it parks with the next expiration as its deadline and
// fires what is due when it wakes. It parks in the reactor's epoll_wait, so
// it is also the I/O driver (io/reactor.hpp, decision 0020). Other idle workers park without a
// deadline. Registering an entry earlier than the waiter's planned wake-up
// unparks the waiter so it can re-plan. Busy workers fire due timers every
// event_interval ticks, so timers also fire while every worker is busy.
//
// Seeded runs (runtime_builder::rng_seed, decision 0041): the entries that
// expire at the same tick wake their tasks in an order drawn from the
// driver's own generator (used under mu_ only), not in insertion order.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "park/parker.hpp"
#include "time/wheel.hpp"
#include "util/seeded_rng.hpp"
#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/timer_entry.hpp"

namespace weft::detail {

class time_driver {
public:
    explicit time_driver(bool start_paused);

    clock_time now() const noexcept;
    /// Ticks (ms since the driver started) of `t`, rounded up.
    std::uint64_t ticks_of(clock_time t) const noexcept;
    clock_time time_of(std::uint64_t ticks) const noexcept;

    bool register_entry(timer_entry& e, clock_time deadline, std::coroutine_handle<> h);
    void cancel(timer_entry& e) noexcept;

    /// Fires what is due now. Returns how many tasks it woke.
    std::size_t fire_due() noexcept;
    std::size_t pending() const noexcept;
    /// Seeded current-thread runtimes: entries due at the same tick fire in
    /// an order drawn from a generator seeded by `seed`. Call before use.
    void seed(std::uint64_t seed) { rng_ = std::make_unique<seeded_rng>(seed); }

    /// Timer-waiter hand-off (see the file comment). try_become_waiter:
    /// true if the caller is now the waiter and must park on `p` until the
    /// returned deadline (nullopt: no timer, park without one). The deadline
    /// is on the real clock (steady_clock), which the parker sleeps on; it
    /// means nothing while the clock is paused.
    bool try_become_waiter(parker* p, std::optional<clock_time>& deadline) noexcept;
    void stop_waiting() noexcept;
    /// Wakes the waiter so that it re-plans (shutdown, a new earliest timer).
    void unpark_waiter() noexcept;

    // Test clock.
    bool is_paused() const noexcept { return paused_.load(std::memory_order_acquire); }
    void pause();
    void resume();
    /// Moves a paused clock forward by `d` and fires what became due.
    void advance(std::chrono::nanoseconds d);
    /// Paused clock, nothing ready: jump to the next timer and fire it.
    /// False when there is no timer.
    bool auto_advance() noexcept;

private:
    clock_time origin_;
    mutable spin_mutex mu_;
    timer_wheel wheel_;
    std::atomic<bool> paused_{false};
    clock_time paused_at_{}; // guarded by mu_ (read under it)
    /// The runtime's clock = steady_clock + offset while running (not
    /// paused). Nanoseconds; written under mu_ before paused_ is cleared
    /// (release), read without the lock by now() after seeing it clear.
    std::atomic<std::chrono::nanoseconds::rep> offset_{0};
    std::chrono::nanoseconds offset() const noexcept {
        return std::chrono::nanoseconds(offset_.load(std::memory_order_relaxed));
    }
    parker* waiter_ = nullptr;      // guarded by mu_
    std::uint64_t waiter_wake_ = 0; // tick the waiter plans to wake at (0: none)
    std::atomic<std::size_t> pending_{0};
    std::unique_ptr<seeded_rng> rng_; // guarded by mu_; null unless seeded
};

} // namespace weft::detail
