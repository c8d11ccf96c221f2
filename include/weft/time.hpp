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
// to a millisecond late, as in Tokio). That holds for any deadline, up to
// instant(clock_time::max()): the wheel spans about 2.2 years and puts a
// later deadline back each time its top-level slot comes round. A pending sleep costs no
// allocation; dropping it (abort, a destroyed frame) withdraws it in O(1). Sleeping outside a
// runtime throws weft::runtime_error.
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
#include <cstddef>
#include <ratio>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/task/wake.hpp"
#include "weft/detail/timer_entry.hpp"
#include "weft/expected.hpp"
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

/// `from + d`, saturated at the largest instant: sleep(d) and timeout(d, ...)
/// with a d too large for the clock (years(1000), duration::max()) mean
/// "never", not a deadline that wrapped into the past (as Tokio's
/// far_future). Integer compares only: a sleep's cost stays as it was.
template <class Rep, class Period>
instant saturating_add(instant from, std::chrono::duration<Rep, Period> d) noexcept {
    using clock_duration = instant::clock_time::duration;
    using given = std::chrono::duration<Rep, Period>;
    if (d <= given::zero()) return from + d;
    if constexpr (!std::ratio_less_v<Period, clock_duration::period>) {
        // d's unit is at least the clock's: the clock's largest duration in
        // d's unit truncates, it cannot overflow.
        if (d >= std::chrono::duration_cast<given>(clock_duration::max()))
            return instant(instant::clock_time::max());
    }
    auto step = std::chrono::duration_cast<clock_duration>(d);
    if (step >= instant::clock_time::max() - from.time_point())
        return instant(instant::clock_time::max());
    return instant(from.time_point() + step);
}

/// The awaitable of sleep / sleep_until. Owns its timer entry.
class sleep_awaiter : public weft::detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::sleep;
    explicit sleep_awaiter(instant deadline) noexcept : deadline_(deadline) {}
    sleep_awaiter(const sleep_awaiter& o) noexcept : deadline_(o.deadline_) {}
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        // `driver` is written only by this task; `fired` is the lock-free
        // fast path; timer_cancel re-checks the state under the driver's lock.
        if (entry_.driver != nullptr && !entry_.fired.load(std::memory_order_acquire))
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
///
/// Cancel safety (`time::sleep_until`): cancel safe. Its timer is withdrawn.
inline detail::sleep_awaiter sleep_until(instant deadline) noexcept {
    return detail::sleep_awaiter(deadline);
}

/// Awaitable that completes after `d` (from the moment sleep is called). A
/// `d` past the end of the clock waits until clock_time::max().
///
///   co_await weft::time::sleep(std::chrono::milliseconds(100));
///
/// Cancel safety (`time::sleep`): cancel safe. Its timer is withdrawn.
template <class Rep, class Period>
detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) noexcept {
    return detail::sleep_awaiter(detail::saturating_add(instant::now(), d));
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
    ///
    /// Cancel safety (`time::interval::tick`): cancel safe. The tick a cancelled tick() waited for
    /// is still the next one.
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

/// The error of a timeout whose deadline passed before the work finished.
class elapsed : public std::runtime_error {
public:
    elapsed() : std::runtime_error("weft::time::timeout: deadline has elapsed") {}
};

/// What co_await timeout(...) gives: the inner work's value, or `elapsed`.
/// (An exception thrown by the inner work propagates out of the co_await.)
/// A weft::expected<T, elapsed> (weft/expected.hpp): value() throws the
/// `elapsed` itself.
template <class T>
class [[nodiscard]] timeout_result : public expected<T, elapsed> {
    using base = expected<T, elapsed>;

public:
    using base::base;
    /// The deadline passed.
    timeout_result(elapsed e) : base(unexpect, std::move(e)) {}

    bool is_elapsed() const noexcept { return !this->has_value(); }
};

namespace detail {

/// Runs an inner task<T> in the current task under a deadline. See
/// interrupt_scope in weft/detail/task/header.hpp for how an elapsed
/// deadline abandons the inner work at its suspension point.
template <class T>
class timeout_awaiter : public weft::detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::timeout;
    timeout_awaiter(instant deadline, task<T>&& inner)
        : deadline_(deadline), child_(inner.release()) {
        if (!child_) throw std::logic_error("weft::time::timeout: empty task");
    }
    timeout_awaiter(timeout_awaiter&& o) noexcept
        : deadline_(o.deadline_), child_(std::exchange(o.child_, nullptr)) {}
    timeout_awaiter& operator=(timeout_awaiter&&) = delete;
    ~timeout_awaiter() {
        if (child_) child_.destroy(); // first: nested scopes pop before ours
        pop();
        if (entry_.driver != nullptr && !entry_.fired.load(std::memory_order_acquire))
            weft::detail::timer_cancel(entry_);
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> parent) {
        task_ = weft::detail::current_task_or_throw();
        scope_.fired = &entry_.fired;
        scope_.parent = parent;
        scope_.abandon = &abandon;
        scope_.self = this;
        weft::detail::interrupt_scope*& top = task_->vtable->scopes(task_);
        scope_.prev = top;
        top = &scope_;
        entry_.interrupt = true;
        if (!weft::detail::timer_register(entry_, deadline_.time_point(), parent)) {
            // Already due. As in Tokio, the work still gets its first run and
            // wins if it finishes without suspending.
            entry_.fired.store(true, std::memory_order_release);
            task_->state.set_interrupted();
        }
        child_.promise().continuation_ = parent;
        weft::detail::this_thread_context().resume_next = child_; // run the work now
    }
    timeout_result<T> await_resume() {
        pop();
        if (entry_.driver != nullptr && !entry_.fired.load(std::memory_order_acquire))
            weft::detail::timer_cancel(entry_);
        if (!child_) return timeout_result<T>(elapsed());
        auto h = std::exchange(child_, nullptr);
        struct destroy_frame {
            std::coroutine_handle<weft::detail::task_promise<T>> h;
            ~destroy_frame() { h.destroy(); }
        } guard{h};
        if constexpr (std::is_void_v<T>) {
            h.promise().take();
            return timeout_result<T>(std::in_place);
        } else {
            return timeout_result<T>(std::in_place, h.promise().take());
        }
    }

private:
    static void abandon(weft::detail::interrupt_scope* s) noexcept {
        timeout_awaiter* self = static_cast<scope_t*>(s)->self;
        if (self->child_) std::exchange(self->child_, nullptr).destroy();
    }
    void pop() noexcept {
        if (task_ == nullptr) return;
        weft::detail::interrupt_scope*& top = task_->vtable->scopes(task_);
        if (top == &scope_) top = scope_.prev; // LIFO: inner scopes are gone already
        task_ = nullptr;
    }

    instant deadline_;
    std::coroutine_handle<weft::detail::task_promise<T>> child_;
    struct scope_t : weft::detail::interrupt_scope {
        timeout_awaiter* self = nullptr;
    };

    weft::detail::timer_entry entry_;
    scope_t scope_;
    weft::detail::task_header* task_ = nullptr;
};

template <class A>
WEFT_CORO_WRAPPER auto as_task(A&& a) {
    if constexpr (weft::detail::is_task<std::remove_cvref_t<A>>::value) {
        static_assert(!std::is_lvalue_reference_v<A>, "weft::time::timeout: std::move the task in");
        return std::move(a);
    } else {
        return weft::detail::awaitable_as_task(std::forward<A>(a));
    }
}

} // namespace detail

/// Runs `work` (a task<T> or any weft awaitable) inside the current task;
/// gives its value, or `elapsed` if `deadline` comes first. Then the work is
/// cancelled at its suspension point: its frames are destroyed, its pending
/// operations withdrawn, nothing after its co_await runs.
///
///   auto r = co_await weft::time::timeout(2s, rx.recv());
///   if (!r) log("no message within 2 s");
template <class A>
auto timeout_at(instant deadline, A&& work) {
    auto t = detail::as_task(std::forward<A>(work));
    using T = typename decltype(t)::value_type;
    return detail::timeout_awaiter<T>(deadline, std::move(t));
}

/// timeout_at(now + d, work) (saturated, as sleep(d)).
///
/// Cancel safety (`time::timeout`): cancel safe. The work is cancelled in its own class (timeout_at
/// alike).
template <class Rep, class Period, class A>
auto timeout(std::chrono::duration<Rep, Period> d, A&& work) {
    return timeout_at(detail::saturating_add(instant::now(), d), std::forward<A>(work));
}

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
///
/// Cancel safety (`time::advance`): cancel safe. The clock has moved and the due timers fired
/// before its only suspension.
task<> advance(duration d);

} // namespace weft::time
