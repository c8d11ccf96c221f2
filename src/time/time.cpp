// weft::time entry points: the clock, timer registration, the test clock.
#include "weft/time.hpp"
#include "runtime/thread_state.hpp"
#include "time/driver.hpp"
#include "weft/runtime_error.hpp"
#include "weft/yield_now.hpp"

namespace weft::detail {

namespace {
time_driver* current_timer() noexcept {
    driver_context* d = this_thread_state().drivers;
    return d != nullptr ? d->time : nullptr;
}

time_driver& timer_or_throw(const char* what) {
    time_driver* t = current_timer();
    if (t == nullptr)
        throw runtime_error(std::string(what) +
                            " used outside a runtime: call it from a task or inside block_on");
    return *t;
}
} // namespace

clock_time clock_now() noexcept {
    time_driver* t = current_timer();
    return t ? t->now() : std::chrono::steady_clock::now();
}

bool timer_register(timer_entry& e, clock_time deadline, std::coroutine_handle<> h) {
    return timer_or_throw("weft::time::sleep").register_entry(e, deadline, h);
}

void timer_cancel(timer_entry& e) noexcept {
    if (e.driver != nullptr) e.driver->cancel(e);
}

} // namespace weft::detail

namespace weft::time {

void pause() {
    weft::detail::driver_context* d = weft::detail::this_thread_state().drivers;
    weft::detail::time_driver& t = weft::detail::timer_or_throw("weft::time::pause");
    if (d->multi_thread)
        throw runtime_error("weft::time::pause needs a current_thread runtime (as in Tokio): with "
                            "several workers, auto-advancing a paused clock is not well defined");
    t.pause();
}

void resume() {
    weft::detail::timer_or_throw("weft::time::resume").resume();
}

task<> advance(duration d) {
    if (d < duration::zero()) throw std::invalid_argument("weft::time::advance: negative duration");
    weft::detail::timer_or_throw("weft::time::advance").advance(d);
    co_await yield_now(); // let the tasks whose timers fired run
}

} // namespace weft::time
