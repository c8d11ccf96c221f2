// A timer registration, embedded in the awaitable that waits for it.
//
// The entry is intrusive (the wheel never allocates, as in Tokio #6779):
// it lives in the sleep awaiter, inside the waiting task's coroutine frame.
// Every field below is guarded by the time driver's lock once `state` is
// `registered`; the awaiter touches them again only under that lock (to
// cancel) or after the driver fired it and woke the task.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "weft/detail/task/wake.hpp"

namespace weft::detail {

class time_driver;

struct timer_entry {
    enum class state : unsigned char { idle, registered, fired };

    timer_entry* prev = nullptr;
    timer_entry* next = nullptr;
    std::uint64_t when = 0; // deadline in driver ticks (ms), rounded up
    waker w;
    time_driver* driver = nullptr;
    unsigned char level = 0;
    unsigned char slot = 0;
    state st = state::idle;
    /// Set (release) when the driver fires the entry; readable without the lock.
    std::atomic<bool> fired{false};
    /// A timeout's entry: firing also sets the task's INTERRUPTED bit.
    bool interrupt = false;
};

using clock_time = std::chrono::steady_clock::time_point;

/// The clock of the runtime this thread is in (paused or not), or the
/// system's steady clock outside a runtime.
clock_time clock_now() noexcept;

/// Registers `e` to wake the current task (suspending at `h`) at `deadline`.
/// False when the deadline has passed already: the caller does not suspend.
bool timer_register(timer_entry& e, clock_time deadline, std::coroutine_handle<> h);
/// Withdraws a registered entry (no-op if it fired or never registered).
void timer_cancel(timer_entry& e) noexcept;

} // namespace weft::detail
