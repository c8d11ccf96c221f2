// runtime_builder: each setter checks its argument (std::invalid_argument
// names the setting), and build() picks the flavour.
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/core.hpp"

namespace weft {

namespace {
[[noreturn]] void bad(const std::string& setting, const std::string& why) {
    throw std::invalid_argument("weft::runtime_builder::" + setting + ": " + why);
}
} // namespace

runtime_builder& runtime_builder::worker_threads(std::size_t n) {
    if (n == 0) bad("worker_threads", "must be at least 1");
    if (n > 4096) bad("worker_threads", "must be at most 4096, got " + std::to_string(n));
    cfg_.worker_threads = n;
    return *this;
}
runtime_builder& runtime_builder::max_blocking_threads(std::size_t n) {
    if (n == 0) bad("max_blocking_threads", "must be at least 1");
    cfg_.max_blocking_threads = n;
    return *this;
}
runtime_builder& runtime_builder::thread_keep_alive(std::chrono::nanoseconds d) {
    if (d.count() < 0) bad("thread_keep_alive", "must not be negative");
    cfg_.thread_keep_alive = d;
    return *this;
}
runtime_builder& runtime_builder::thread_name(std::string name) {
    if (name.empty()) bad("thread_name", "must not be empty");
    if (name.find('\0') != std::string::npos)
        bad("thread_name", "must not contain a NUL character");
    cfg_.thread_name = std::move(name);
    return *this;
}
runtime_builder& runtime_builder::thread_stack_size(std::size_t bytes) {
    if (bytes < 64 * 1024)
        bad("thread_stack_size", "must be at least 65536 bytes, got " + std::to_string(bytes));
    cfg_.thread_stack_size = bytes;
    return *this;
}
runtime_builder& runtime_builder::event_interval(std::uint32_t ticks) {
    if (ticks == 0) bad("event_interval", "must be at least 1");
    cfg_.event_interval = ticks;
    return *this;
}
runtime_builder& runtime_builder::global_queue_interval(std::uint32_t ticks) {
    if (ticks == 0) bad("global_queue_interval", "must be at least 1");
    cfg_.global_queue_interval = ticks;
    return *this;
}
runtime_builder& runtime_builder::start_paused(bool paused) {
    cfg_.start_paused = paused;
    return *this;
}
runtime_builder& runtime_builder::on_thread_start(std::function<void()> f) {
    cfg_.on_thread_start = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::on_thread_stop(std::function<void()> f) {
    cfg_.on_thread_stop = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::unhandled_exception(unhandled_exception_policy policy) {
    if (policy != unhandled_exception_policy::ignore &&
        policy != unhandled_exception_policy::shutdown_runtime)
        bad("unhandled_exception", "unknown policy value");
    cfg_.on_unhandled_exception = policy;
    return *this;
}

runtime_builder& runtime_builder::long_poll_threshold(std::chrono::nanoseconds d) {
    if (d < std::chrono::milliseconds(1)) bad("long_poll_threshold", "must be at least 1 ms");
    cfg_.long_poll_threshold = d;
    return *this;
}
runtime_builder& runtime_builder::on_long_poll(std::function<void(const long_poll_report&)> f) {
    cfg_.on_long_poll = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::batch_writes(bool on) {
    cfg_.batch_writes = on;
    return *this;
}

runtime_builder& runtime_builder::yield_core_after(std::optional<std::chrono::microseconds> after) {
    if (after && after->count() < 0)
        bad("yield_core_after", "must not be negative, got " + std::to_string(after->count()) +
                                    " us (0 yields after every flush, std::nullopt never)");
    cfg_.yield_core_after = after;
    return *this;
}

runtime_builder& runtime_builder::rng_seed(std::uint64_t seed) {
    cfg_.rng_seed = seed;
    return *this;
}

runtime_builder& runtime_builder::dump_on_sigquit(bool on) {
    cfg_.dump_on_sigquit = on;
    return *this;
}

runtime runtime_builder::build() {
    detail::runtime_config cfg = cfg_;
    if (cfg.multi_thread) {
        if (cfg.start_paused)
            bad("start_paused",
                "the paused test clock needs a current_thread runtime (as in Tokio)");
        if (cfg.rng_seed)
            bad("rng_seed", "replayable scheduling needs a current_thread runtime: on a "
                            "multi-thread runtime the OS decides how workers interleave, and "
                            "no seed can replay that (docs/decisions/0041)");
        if (cfg.worker_threads == 0) {
            unsigned n = std::thread::hardware_concurrency();
            cfg.worker_threads = n == 0 ? 1 : n;
        }
        return runtime(detail::make_multi_thread(std::move(cfg)));
    }
    return runtime(detail::make_current_thread(std::move(cfg)));
}

} // namespace weft
