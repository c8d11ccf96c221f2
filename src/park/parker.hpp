// Parker: one per thread that can sleep (worker, block_on thread). States
// EMPTY / PARKED / NOTIFIED / PARKED_DRIVER in one word; unpark before park
// makes the next park return at once (no lost wake-up). park() sleeps on a
// futex; park_driver() sleeps in the reactor's epoll_wait (the timer
// waiter does, decision 0020), and unpark() then writes the reactor's
// eventfd instead of waking the futex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace weft::detail {

class reactor;

class parker {
public:
    /// Sleeps until unpark() (or until `deadline`, if given).
    void
    park(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) noexcept;
    /// Like park(), but sleeps in `r`'s epoll_wait and dispatches the I/O
    /// events that arrive (unpark() then writes r's eventfd). Returns the
    /// number of waiters the events woke. Call only as the timer waiter (one
    /// thread at a time polls; see reactor.hpp).
    std::size_t park_driver(reactor& r,
                            std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
    void unpark() noexcept;

private:
    static constexpr std::uint32_t empty = 0, parked = 1, notified = 2, parked_driver = 3;
    std::atomic<std::uint32_t> state_{empty};
    // Written before the CAS to parked_driver; atomic because a late unpark
    // may read it while the next park_driver writes it (the same value).
    std::atomic<reactor*> driver_{nullptr};
};

} // namespace weft::detail
