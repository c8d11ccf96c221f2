// A worker of the multi-thread runtime (worker.cpp): its queues (local
// queue, LIFO slot, deferred yields, pinned tasks), its parker, its write
// batcher and its metrics; and the scheduler of the tasks pinned to it
// (spawn_local, pinned.cpp).
//
// Who touches what: only the worker's own thread touches `lifo`,
// `deferred`, `searching`, `in_driver`, `tick` and `rng`, and pops its
// queues; any thread pushes to `pinned` and steals from `queue`.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>

#include "io/write_batch.hpp"
#include "park/parker.hpp"
#include "runtime/thread_state.hpp"
#include "scheduler/inject_queue.hpp"
#include "scheduler/multi_thread/local_queue.hpp"
#include "scheduler/task_ring.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/local_set.hpp"

namespace weft::detail {
class runtime_impl;
} // namespace weft::detail

namespace weft::detail::mt {

class multi_thread_runtime;
struct worker;

/// The scheduler of tasks pinned to one worker (spawn_local).
class pinned_scheduler final : public scheduler {
public:
    pinned_scheduler(runtime_impl* rt, worker* w) noexcept : rt_(rt), w_(w) {}
    void schedule(task_header* t, bool is_yield) noexcept override;
    bool release(task_header* t) noexcept override;
    void on_task_panic(task_header* t, std::exception_ptr e) noexcept override;

private:
    runtime_impl* rt_; // the worker's runtime
    worker* w_;
};

struct worker : scheduler_context {
    multi_thread_runtime* rt = nullptr;
    std::size_t index = 0;
    local_queue queue;
    task_header* lifo = nullptr; // only the worker's thread touches it
    task_ring deferred;          // yielded tasks (only the worker's thread)
    parker park;
    bool searching = false;
    // True while this worker dispatches reactor events or fires timers:
    // schedule() then defers its notify_parked() to the end of the batch
    // (Tokio's `core.park.is_some()` check). Only the worker's thread
    // touches it.
    bool in_driver = false;
    std::uint32_t tick = 0;
    std::uint64_t rng = 0;
    pthread_t thread{};
    bool thread_started = false;
    bool exited = false; // under the runtime's exit_mu_: past worker_exited()
    // Tasks pinned to this worker (spawn_local); any thread pushes, only
    // this worker pops.
    inject_queue pinned;
    std::unique_ptr<pinned_scheduler> pinned_sched;
    // This worker's write batching; null when batching is off. Only the
    // worker's thread enqueues and flushes; any thread cancels.
    std::unique_ptr<write_batcher> batch;

    // Metrics: written by the worker only, read relaxed by metrics().
    std::atomic<std::uint64_t> polls{0}, steals{0}, steal_ops{0}, lifo_hits{0}, parks{0},
        overflows{0}, forced_yields{0};

    void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint32_t next_rand(std::uint32_t n) noexcept {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return static_cast<std::uint32_t>(rng % n);
    }
};

} // namespace weft::detail::mt
