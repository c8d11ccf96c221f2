// What a thread of a runtime knows about where it runs: private to src/.
//
// A thread has one thread_state (thread_local). Its first member is the
// leaf-facing thread_context (include/weft/detail/task/header.hpp), the only
// part that header code (awaiters, task.hpp's trampoline) touches; every
// other field is used by src/ alone, so adding one recompiles no user code.
// this_thread_context() returns `tls_state.leaf` (one TLS access, as
// before); src/ reads the rest through this_thread_state(), inline.
//
// Who sets what:
//   rt, driver   context_guard, for the scope of a worker's loop, a block_on
//                or a shutdown; the current-thread driver sets `driver` for
//                the length of its loop.
//   drivers      with `rt` (the runtime's time and I/O drivers, the narrow
//                view that the drivers' entry points need: time::sleep,
//                sockets).
//   blocking     a blocking-pool thread (rt is set too, block_on allowed).
//   watch        observe/watchdog.hpp's watch_scope.
//   batch        the scheduler that owns a write_batcher (io/write_batch.hpp)
//                while it drives on this thread.
//   rng          the seeded current-thread driver (util/seeded_rng.hpp).
#pragma once

#include <memory>

#include "weft/detail/task/wake.hpp"

namespace weft::detail {

class runtime_impl;
class time_driver;
class reactor;
class write_batcher;
struct poll_slot;
struct seeded_rng;

/// The identity of the loop that drives a scheduler's queues on this thread:
/// a multi-thread worker, or the current-thread runtime's driver. Schedulers
/// compare it by address to know whether a wake comes from their own
/// driving thread; the multi-thread runtime derives its worker from it.
struct scheduler_context {};

/// The drivers a runtime thread reaches without knowing the runtime: the
/// time and I/O entry points (time/time.cpp, io/reactor.cpp) go through it,
/// so drivers never include the runtime core. Owned by the runtime.
struct driver_context {
    time_driver* time = nullptr;
    /// Shared: sockets keep the reactor alive past the runtime.
    std::shared_ptr<reactor> io;
    /// The runtime has several workers (time::pause refuses it).
    bool multi_thread = false;
};

struct thread_state {
    /// What header code sees (this_thread_context()). First member.
    thread_context leaf;
    /// The runtime this thread is inside (a worker, or a thread in block_on).
    runtime_impl* rt = nullptr;
    /// The loop that drives `rt`'s queues here, or null (block_on on a
    /// multi-thread runtime, a blocking thread).
    scheduler_context* driver = nullptr;
    /// `rt`'s drivers, set with `rt`.
    driver_context* drivers = nullptr;
    /// This is a blocking-pool thread: `rt` is set (spawn works) but
    /// block_on is allowed, as Tokio's Handle::block_on in spawn_blocking.
    bool blocking = false;
    /// This thread's slot of the long-poll watchdog, when the runtime has
    /// one (observe/watchdog.hpp); poll_task marks each poll in it.
    poll_slot* watch = nullptr;
    /// This thread's write batcher (io/write_batch.hpp), when it has one.
    write_batcher* batch = nullptr;
    /// The scheduler's generator while the driver of a current-thread
    /// runtime built with rng_seed runs here (util/seeded_rng.hpp): unbiased
    /// join and select passes start where it says. Null otherwise.
    seeded_rng* rng = nullptr;
};

// constinit: no dynamic initialisation, so every translation unit reaches it
// with a plain TLS access (no wrapper call). Defined in task/harness.cpp, beside
// this_thread_context() and the poll loop.
extern constinit thread_local thread_state tls_state;

inline thread_state& this_thread_state() noexcept {
    return tls_state;
}

} // namespace weft::detail
