// The I/O driver: one epoll instance per runtime, edge-triggered.
//
// Registration: a socket is added once (EPOLLIN | EPOLLOUT | EPOLLRDHUP |
// EPOLLET) with its scheduled_io as the event's data; readiness and waiters
// live there (include/weft/detail/io_registration.hpp).
//
// Who polls (decision 0020): the parked worker that owns the timer wait
// blocks in epoll_wait with the next timer as its timeout, instead of on its
// futex; every other parked worker sleeps on its futex. Its parker is then
// in the PARKED_DRIVER state, and unpark() writes to the reactor's eventfd
// (which is in the epoll set) instead of waking a futex. Busy workers also
// poll without blocking at maintenance (every event_interval ticks), so
// events keep flowing while every worker runs tasks. A worker that leaves
// the driver with work in hand wakes a sleeping sibling, which becomes the
// next poller: a long task on the worker that polled last does not stall
// every socket (Tokio issue 4730).
//
// Only one thread polls at a time (`poll_mu_`; non-blocking polls use
// try_lock and skip when someone else is polling). Wakers of ready tasks
// are woken from inside the poll, so on a worker they land on its own
// queues.
//
// Release of registrations: deregister() removes the fd from epoll and puts
// its scheduled_io on a release list; the list is freed at the start of a
// poll (under poll_mu_), when every event returned by an earlier epoll_wait
// has been dispatched, and no later epoll_wait can return the removed fd.
// The reactor itself is shared (std::shared_ptr) by the runtime and by every
// socket, so a socket that outlives its runtime still deregisters safely.
//
// Seeded runs (runtime_builder::rng_seed, decision 0041): the events of one
// epoll_wait are dispatched in an order drawn from the reactor's own
// generator (used under poll_mu_ only), so the tasks they wake are queued
// in the seed's order, not the kernel's.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>

#include "util/seeded_rng.hpp"
#include "weft/detail/io_registration.hpp"
#include "weft/detail/spin_mutex.hpp"

namespace weft::detail {

class reactor {
public:
    reactor();
    ~reactor();
    reactor(const reactor&) = delete;
    reactor& operator=(const reactor&) = delete;

    /// Registers `fd` (non-blocking already). Throws std::system_error.
    scheduled_io* register_fd(int fd);
    /// Removes `io` from epoll and closes its fd; frees `io` later.
    void deregister(scheduled_io* io) noexcept;

    /// Waits up to `timeout_ms` (-1: forever, 0: do not block) for events and
    /// dispatches them. Returns the number of waiters woken. Blocking polls
    /// wait for poll_mu_; non-blocking ones return 0 when it is taken.
    std::size_t poll(int timeout_ms) noexcept;
    /// Interrupts a blocking poll (writes the eventfd).
    void wake() noexcept;
    /// Number of registered sockets. The schedulers skip non-blocking polls
    /// while it is 0 (an event for a socket registered meanwhile is seen by
    /// the next poll: nothing waits on it before its first operation).
    std::size_t registered() const noexcept { return registered_.load(std::memory_order_relaxed); }
    /// Shuffles each batch of events with a generator seeded by `seed`
    /// (seeded current-thread runtimes; call before the first poll).
    void seed(std::uint64_t seed) { rng_ = std::make_unique<seeded_rng>(seed); }

private:
    std::size_t dispatch(scheduled_io* io, std::uint32_t events) noexcept;
    void free_released() noexcept;

    int epfd_ = -1;
    int eventfd_ = -1;
    spin_mutex poll_mu_;
    spin_mutex release_mu_;
    scheduled_io* release_ = nullptr; // guarded by release_mu_
    std::atomic<std::size_t> registered_{0};
    std::unique_ptr<seeded_rng> rng_; // guarded by poll_mu_; null unless seeded
};

/// The reactor of the runtime this thread is in; throws runtime_error
/// naming `what` outside a runtime.
std::shared_ptr<reactor> current_reactor(const char* what);

} // namespace weft::detail
