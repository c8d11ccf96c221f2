// The parker (design in parker.hpp).
#include "park/parker.hpp"

#include <linux/futex.h>
#include <time.h>

#include <cerrno>
#include <climits>

#include "io/reactor.hpp"
#include "util/futex.hpp"

namespace weft::detail {

void parker::park(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    std::uint32_t expected = notified;
    // A pending unpark: consume it (acquire pairs with unpark's exchange).
    if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return;
    expected = empty;
    if (!state_.compare_exchange_strong(expected, parked, std::memory_order_relaxed)) {
        state_.exchange(empty, std::memory_order_acquire); // it was NOTIFIED
        return;
    }
    for (;;) {
        if (deadline) {
            auto now = std::chrono::steady_clock::now();
            if (now >= *deadline) break;
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - now).count();
            struct timespec ts {
                static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)
            };
            futex(&state_, FUTEX_WAIT_PRIVATE, parked, &ts);
        } else {
            futex(&state_, FUTEX_WAIT_PRIVATE, parked, nullptr);
        }
        expected = notified;
        if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return;
        // spurious wake-up: sleep again
    }
    // Timed out: leave PARKED, unless an unpark raced in.
    if (state_.exchange(empty, std::memory_order_acquire) == notified) return;
}

std::size_t
parker::park_driver(reactor& r,
                    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    int timeout_ms = -1;
    if (deadline) {
        auto now = std::chrono::steady_clock::now();
        if (now >= *deadline) {
            timeout_ms = 0;
        } else {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - now).count();
            long long ms = (ns + 999'999) / 1'000'000; // never wake before the timer
            timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
        }
    }
    driver_.store(&r, std::memory_order_relaxed);
    std::uint32_t expected = empty;
    if (!state_.compare_exchange_strong(expected, parked_driver, std::memory_order_acq_rel)) {
        // NOTIFIED already: consume it, but still collect what is ready.
        state_.exchange(empty, std::memory_order_acquire);
        return r.poll(0);
    }
    std::size_t woken = r.poll(timeout_ms);
    // Consume a pending unpark (its eventfd write, if any, is drained by a
    // later poll: a spurious wake-up at worst).
    state_.exchange(empty, std::memory_order_acquire);
    return woken;
}

void parker::unpark() noexcept {
    std::uint32_t prev = state_.exchange(notified, std::memory_order_acq_rel);
    if (prev == parked)
        futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
    else if (prev == parked_driver)
        driver_.load(std::memory_order_relaxed)->wake();
}

} // namespace weft::detail
