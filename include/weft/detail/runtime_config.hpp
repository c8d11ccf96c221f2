// The settings a runtime_builder collects and the runtime reads
// (src/runtime.cpp). Kept out of the public runtime.hpp: users set them
// through runtime_builder's validating setters, never by field.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace weft {

enum class unhandled_exception_policy; // runtime.hpp
struct long_poll_report;               // observe.hpp

namespace detail {

struct runtime_config {
    bool multi_thread = true;
    std::size_t worker_threads = 0; // 0: one per CPU
    std::size_t max_blocking_threads = 512;
    std::chrono::nanoseconds thread_keep_alive = std::chrono::seconds(10);
    std::string thread_name = "weft-worker";
    std::size_t thread_stack_size = 0; // 0: the system's default
    std::uint32_t event_interval = 61;
    std::uint32_t global_queue_interval = 0; // 0: the flavour's default (61 / 31)
    bool start_paused = false;
    std::function<void()> on_thread_start;
    std::function<void()> on_thread_stop;
    unhandled_exception_policy on_unhandled_exception{}; // ignore (runtime.hpp checks)
    std::chrono::nanoseconds long_poll_threshold{0};     // 0: no watchdog
    std::function<void(const long_poll_report&)> on_long_poll;
    bool dump_on_sigquit = false;
    bool batch_writes = true;
    std::optional<std::chrono::microseconds> yield_core_after{std::chrono::microseconds(100)};
    std::optional<std::uint64_t> rng_seed; // current-thread only (decision 0041)
};

} // namespace detail
} // namespace weft
