// Small tasks and runtimes the structured-concurrency and time tests share
// (join, select, join_set, the test clock).
//
//   weft::runtime rt = weft_test::paused_runtime();   // virtual time
//   rt.block_on([]() -> weft::task<> {
//       int v = co_await weft_test::value_after(7, 10ms); // after 10 ms of test time
//   });
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>

#include <weft/weft.hpp>

#include "counted.hpp"

namespace weft_test {

/// A current-thread runtime with the test clock paused: sleeps end as soon
/// as the runtime is idle, in order, without real waiting.
inline weft::runtime paused_runtime() {
    return weft::runtime::current_thread().start_paused(true).build();
}

/// Gives `v` after sleeping `d`.
inline weft::task<int> value_after(int v, std::chrono::milliseconds d) {
    co_await weft::time::sleep(d);
    co_return v;
}

/// Gives 42 without suspending (a function, so that block_on(forty_two) works).
inline weft::task<int> forty_two() {
    co_return 42;
}

/// Gives `v` without suspending.
inline weft::task<int> ready(int v) {
    co_return v;
}

/// Sleeps for an hour holding a counted guard; increments `after` if it
/// ever goes on (a cancelled one must not).
inline weft::task<int> guarded_forever(counter* c, std::atomic<int>* after) {
    counted guard(*c, 1);
    co_await weft::time::sleep(std::chrono::hours(1));
    after->fetch_add(1);
    co_return guard.value();
}

/// Timers registered with the current runtime's driver.
inline std::size_t timers_pending() {
    return weft::runtime_handle::current().metrics().timers_pending;
}

} // namespace weft_test
