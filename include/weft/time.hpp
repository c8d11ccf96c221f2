// weft::time: sleeping, deadlines, intervals, and a test clock.
//
//   co_await weft::time::sleep(std::chrono::milliseconds(300));
//   co_await weft::time::sleep_until(weft::time::instant::now() + 1s);
//
//   weft::time::interval every(std::chrono::seconds(1));
//   for (;;) {
//       co_await every.tick();      // the first tick completes at once
//       report();
//   }
//
// Timers live in the runtime's timing wheel (src/time_driver.hpp): 1 ms
// resolution, deadlines rounded up (a sleep never ends early; it may end up
// to a millisecond late, as in Tokio). A pending sleep costs no allocation;
// dropping it (abort, a destroyed frame) withdraws it in O(1). Sleeping
// outside a runtime throws weft::runtime_error.
//
// Test clock (Tokio's test-util), for current_thread runtimes:
//
//   auto rt = weft::runtime::current_thread().start_paused(true).build();
//   rt.block_on([]() -> weft::task<> {
//       auto t0 = weft::time::instant::now();
//       co_await weft::time::sleep(std::chrono::hours(1));   // returns at once:
//       // nothing else was ready, so the clock jumped to the timer.
//       assert(weft::time::instant::now() - t0 == std::chrono::hours(1));
//   });
//
// pause() freezes the runtime's clock, advance(d) moves it, resume() lets it
// run again from where it stands. While paused and with no task ready, the
// clock jumps to the next timer. A multi-thread runtime refuses the test
// clock (as Tokio does): with several workers, "no task is ready" is not a
// stable condition.
#pragma once

#include <chrono>
#include <compare>
#include <coroutine>
#include <stdexcept>

#include "weft/detail/task_header.hpp"
#include "weft/detail/timer_entry.hpp"
#include "weft/task.hpp"

namespace weft::time {

using duration = std::chrono::nanoseconds;

/// A point on the runtime's monotonic clock (which a test may pause).
class instant {
public:
    using clock_time = std::chrono::steady_clock::time_point;

    constexpr instant() noexcept = default;
    constexpr explicit instant(clock_time t) noexcept : t_(t) {}

    /// Now, on the clock of the runtime this thread is in (the steady clock
    /// outside a runtime).
    static instant now() noexcept { return instant(weft::detail::clock_now()); }

    /// Time since this instant (zero if it is in the future).
    duration elapsed() const noexcept { return now().duration_since(*this); }
    /// `*this - earlier`, or zero if `earlier` is later.
    duration duration_since(instant earlier) const noexcept {
        return t_ > earlier.t_ ? std::chrono::duration_cast<duration>(t_ - earlier.t_)
                               : duration::zero();
    }
    clock_time time_point() const noexcept { return t_; }

    template <class Rep, class Period>
    friend instant operator+(instant i, std::chrono::duration<Rep, Period> d) noexcept {
        return instant(i.t_ + std::chrono::duration_cast<duration>(d));
    }
    template <class Rep, class Period>
    friend instant operator-(instant i, std::chrono::duration<Rep, Period> d) noexcept {
        return instant(i.t_ - std::chrono::duration_cast<duration>(d));
    }
    template <class Rep, class Period>
    instant& operator+=(std::chrono::duration<Rep, Period> d) noexcept {
        t_ += std::chrono::duration_cast<duration>(d);
        return *this;
    }
    friend duration operator-(instant a, instant b) noexcept {
        return std::chrono::duration_cast<duration>(a.t_ - b.t_);
    }
    friend auto operator<=>(instant, instant) noexcept = default;

private:
    clock_time t_{};
};

namespace detail {

/// The awaitable of sleep / sleep_until. Owns its timer entry.
class sleep_awaiter : public weft::detail::awaitable_tag {
public:
    explicit sleep_awaiter(instant deadline) noexcept : deadline_(deadline) {}
    sleep_awaiter(const sleep_awaiter& o) noexcept : deadline_(o.deadline_) {}
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (entry_.st == weft::detail::timer_entry::state::registered)
            weft::detail::timer_cancel(entry_);
    }

    bool await_ready() noexcept {
        if (weft::detail::clock_now() < deadline_.time_point()) return false;
        due_ = true;
        return weft::detail::coop_proceed();
    }
    bool await_suspend(std::coroutine_handle<> h) {
        if (due_) {
            weft::detail::suspend_and_yield(h); // cooperative budget spent
            return true;
        }
        return weft::detail::timer_register(entry_, deadline_.time_point(), h);
    }
    void await_resume() const noexcept {}

    instant deadline() const noexcept { return deadline_; }

private:
    instant deadline_;
    weft::detail::timer_entry entry_;
    bool due_ = false;
};

} // namespace detail

/// Awaitable that completes at `deadline` (at once if it has passed).
inline detail::sleep_awaiter sleep_until(instant deadline) noexcept {
    return detail::sleep_awaiter(deadline);
}

/// Awaitable that completes after `d` (from the moment sleep is called).
///
///   co_await weft::time::sleep(std::chrono::milliseconds(100));
template <class Rep, class Period>
detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::sleep_awaiter(instant::now() + d);
}

/// What interval::tick() does after ticks were missed (the task was busy
/// past one or more deadlines). Tokio's MissedTickBehavior.
enum class missed_tick_behavior {
    /// Fire the missed ticks as fast as possible, then keep the schedule.
    burst,
    /// Restart the schedule from now: the next tick is `period` after now.
    delay,
    /// Skip the missed ticks: the next tick is the next one on the schedule.
    skip,
};

/// Ticks every `period`, starting at once (or at `start`).
///
///   weft::time::interval heartbeat(std::chrono::seconds(1));
///   heartbeat.set_missed_tick_behavior(weft::time::missed_tick_behavior::skip);
///   for (;;) { co_await heartbeat.tick(); send_heartbeat(); }
class interval {
public:
    /// Throws std::invalid_argument if `period` is not positive.
    explicit interval(duration period) : interval(instant::now(), period) {}
    interval(instant start, duration period) : next_(start), period_(period) {
        if (period <= duration::zero())
            throw std::invalid_argument("weft::time::interval: the period must be positive");
    }

    /// Waits for the next tick; gives the instant it was scheduled for.
    task<instant> tick() {
        instant scheduled = next_;
        co_await sleep_until(scheduled);
        instant now = instant::now();
        // As Tokio: within 5 ms of the schedule counts as on time.
        if (now > scheduled + std::chrono::milliseconds(5)) {
            switch (behavior_) {
            case missed_tick_behavior::burst:
                next_ = scheduled + period_;
                break;
            case missed_tick_behavior::delay:
                next_ = now + period_;
                break;
            case missed_tick_behavior::skip: {
                duration late = now - scheduled;
                next_ = now + period_ - duration(late.count() % period_.count());
                break;
            }
            }
        } else {
            next_ = scheduled + period_;
        }
        co_return scheduled;
    }

    /// Restarts the schedule: the next tick is `period` from now.
    void reset() noexcept { next_ = instant::now() + period_; }
    duration period() const noexcept { return period_; }
    missed_tick_behavior get_missed_tick_behavior() const noexcept { return behavior_; }
    void set_missed_tick_behavior(missed_tick_behavior b) noexcept { behavior_ = b; }

private:
    instant next_;
    duration period_;
    missed_tick_behavior behavior_ = missed_tick_behavior::burst;
};

/// Freezes the clock of the current runtime (a current_thread one). Throws
/// weft::runtime_error outside such a runtime or if already paused.
void pause();
/// Lets a paused clock run again from where it stands.
void resume();
/// Moves a paused clock forward by `d`, fires the timers that became due
/// and lets the woken tasks run before returning.
///
///   weft::time::pause();
///   auto s = weft::spawn([]() -> weft::task<> { co_await weft::time::sleep(1s); });
///   co_await weft::time::advance(1s);   // s's sleep is over now
task<> advance(duration d);

} // namespace weft::time
