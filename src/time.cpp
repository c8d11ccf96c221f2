// weft::time entry points: the clock, timer registration, the test clock.
#include "weft/time.hpp"
#include "runtime_base.hpp"
#include "time_driver.hpp"
#include "weft/yield_now.hpp"

namespace weft::detail {

namespace {
runtime_base* current_base() noexcept {
    return static_cast<runtime_base*>(this_thread_context().rt);
}

runtime_base& base_or_throw(const char* what) {
    runtime_base* rt = current_base();
    if (rt == nullptr)
        throw runtime_error(std::string(what) +
                            " used outside a runtime: call it from a task or inside block_on");
    return *rt;
}
} // namespace

clock_time clock_now() noexcept {
    runtime_base* rt = current_base();
    return rt ? rt->timer().now() : std::chrono::steady_clock::now();
}

bool timer_register(timer_entry& e, clock_time deadline, std::coroutine_handle<> h) {
    return base_or_throw("weft::time::sleep").timer().register_entry(e, deadline, h);
}

void timer_cancel(timer_entry& e) noexcept {
    if (e.driver != nullptr) e.driver->cancel(e);
}

} // namespace weft::detail

namespace weft::time {

void pause() {
    weft::detail::runtime_base& rt = weft::detail::base_or_throw("weft::time::pause");
    if (rt.config().multi_thread)
        throw runtime_error("weft::time::pause needs a current_thread runtime (as in Tokio): with "
                            "several workers, auto-advancing a paused clock is not well defined");
    rt.timer().pause();
}

void resume() {
    weft::detail::base_or_throw("weft::time::resume").timer().resume();
}

task<> advance(duration d) {
    if (d < duration::zero()) throw std::invalid_argument("weft::time::advance: negative duration");
    weft::detail::base_or_throw("weft::time::advance").timer().advance(d);
    co_await yield_now(); // let the tasks whose timers fired run
}

} // namespace weft::time
