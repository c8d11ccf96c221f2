// The blocking pool: threads that run spawn_blocking calls.
//
// Shape (after Tokio's runtime/blocking/pool.rs, with two changes for
// speed, see docs/decisions/0015-blocking-pool-baton.md):
//
// - One FIFO of calls under a spin_mutex. Threads are created on demand up
//   to max_blocking_threads and exit after thread_keep_alive without work.
// - Idle threads wait on their own parker, in a LIFO stack: the thread that
//   went idle last (warm cache, warm frame pool) is woken first, and the
//   ones at the bottom are the ones that time out and retire. Tokio wakes a
//   condition variable instead (any waiter, through the mutex again).
// - Wake-ups are passed on like a baton instead of one per call. At most
//   one thread is *searching* (woken or just started, and not yet back at
//   the queue). submit() wakes (or starts) a thread only when none is
//   searching; a searcher that takes a call and sees more queued wakes the
//   next thread *before* running its call. Threads that finish a call take
//   the next one from the queue without any wake-up. Guarantee kept: while
//   the queue is non-empty and the pool may grow (an idle thread exists or
//   fewer than max threads), a searcher exists, so each call is taken by a
//   thread that is not blocked in another call; a call never waits behind a
//   blocking one unless the pool is at its maximum. What it buys: a batch of
//   short calls is served by the few threads that are already running
//   instead of a futex wake-up and a context switch per call.
//
// Invariants (under mu_):
//   num_searching_ <= 1 except briefly; counted threads are searching until
//     they next hold mu_ and look at the queue.
//   idle_ holds exactly the threads parked waiting for work; a thread is
//     removed from idle_ by whoever wakes it (notified = true) or by itself
//     (keep-alive expired, shutdown).
//   num_threads_ counts threads from the moment their start is decided
//     until they leave the loop.
//
// Shutdown: shutdown_ is set, queued calls are cancelled (never started),
// idle threads are woken and exit, threads inside a call finish it and
// exit. shutdown() waits for them up to a deadline. Threads are detached;
// each holds a shared_ptr to the runtime so that a thread that outlives a
// shutdown timeout still finds the runtime (and this pool) alive; the last
// one may destroy the runtime as its final act.
//
// Each thread has a record (its parker and `notified` flag) owned by the
// pool, not by the thread's stack: a waker takes a thread out of idle_ under
// mu_ but unparks it after unlocking, and by then the thread may have seen
// the flag, run out of work and exited.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "park/parker.hpp"
#include "runtime/thread_state.hpp"
#include "scheduler/task_ring.hpp"
#include "util/thread.hpp"
#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

class blocking_pool final : public scheduler {
public:
    /// `rt` and `drivers` are what the pool's threads carry in their
    /// thread_state (spawn and the drivers work from a blocking call).
    blocking_pool(runtime_impl* rt, driver_context* drivers, const runtime_config& cfg) noexcept
        : rt_(rt), drivers_(drivers), cfg_(cfg) {}
    ~blocking_pool();
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    /// Queues a blocking call (a fresh task from make_blocking_task, holding
    /// its queue reference). See submit_blocking in blocking.hpp.
    void submit(task_header* t);

    /// Cancels queued calls, stops idle threads, waits until `deadline` for
    /// the threads inside a call (none: no wait; nullopt: forever).
    void shutdown(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;

    std::size_t num_threads() const noexcept { return m_threads_.load(std::memory_order_relaxed); }
    std::size_t num_idle() const noexcept { return m_idle_.load(std::memory_order_relaxed); }
    std::size_t queue_depth() const noexcept { return m_queue_.load(std::memory_order_relaxed); }

    // scheduler: a blocking task is never woken (it has no wakers); abort
    // of a queued call only marks it, the thread that pops it cancels it.
    void schedule(task_header* t, bool) noexcept override;
    bool release(task_header*) noexcept override { return false; }
    void on_task_panic(task_header*, std::exception_ptr) noexcept override {}

private:
    struct thread_rec {
        parker park;
        bool notified = false; // under mu_: woken by a submitter or a searcher
    };

    enum class wake_action { none, unpark, start };
    /// Under mu_: makes sure a searcher exists for a non-empty queue.
    wake_action wake_searcher_locked(thread_rec*& target) noexcept;
    /// Starts a thread (already counted in num_threads_ and num_searching_).
    bool start_thread() noexcept;
    void thread_main();
    void run(thread_rec& self);
    void thread_exited() noexcept;
    void update_metrics_locked() noexcept;

    runtime_impl* rt_;
    driver_context* drivers_;
    const runtime_config& cfg_;

    spin_mutex mu_;
    task_ring queue_;               // guarded by mu_
    std::vector<thread_rec*> idle_; // guarded by mu_, LIFO
    std::size_t num_threads_ = 0;   // guarded by mu_
    std::size_t num_searching_ = 0; // guarded by mu_
    bool shutdown_ = false;         // guarded by mu_
    // Thread records live as long as the pool (a waker may unpark one after
    // its thread left, see run()); retired ones are reused.
    std::vector<std::unique_ptr<thread_rec>> all_recs_; // guarded by mu_
    std::vector<thread_rec*> free_recs_;                // guarded by mu_

    std::mutex exit_mu_;
    std::condition_variable exit_cv_;
    std::size_t live_threads_ = 0; // guarded by exit_mu_: threads not yet out of run()

    std::atomic<std::size_t> m_threads_{0}, m_idle_{0}, m_queue_{0};
};

} // namespace weft::detail
