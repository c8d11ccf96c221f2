// The runtime core: what both runtime flavours share (runtime_impl, the
// concrete side of the public runtime_core): the task registry, spawn,
// block_on, the drivers, the unhandled-exception policy and the shutdown
// bookkeeping. The flavours derive from it (scheduler/current_thread.cpp,
// scheduler/multi_thread/worker.cpp).
//
// Layering: the runtime core sits above the drivers (time/, io/) and the
// queues (scheduler/, park/); none of them includes it. A driver's entry
// point finds its driver through thread_state::drivers
// (runtime/thread_state.hpp), not through the runtime.
//
// block_on: see runtime/block_on.hpp (the root driver).
//
// unhandled_exception_policy::shutdown_runtime: the first spawned task that
// ends with an exception closes the registry (later spawns are cancelled
// before they run), aborts every registered task and every running block_on
// root; block_on then throws runtime_error with the exception nested.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "blocking/pool.hpp"
#include "io/reactor.hpp"
#include "observe/watchdog.hpp"
#include "park/parker.hpp"
#include "runtime/block_on.hpp"
#include "runtime/owned_tasks.hpp"
#include "runtime/thread_state.hpp"
#include "task/harness.hpp"
#include "time/driver.hpp"
#include "weft/local_set.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

class root_driver;

class runtime_impl : public runtime_core, public scheduler {
public:
    explicit runtime_impl(runtime_config cfg)
        : cfg_(std::move(cfg)), time_(cfg_.start_paused),
          owned_(cfg_.multi_thread ? 4 * cfg_.worker_threads : 4), io_(std::make_shared<reactor>()),
          blocking_(this, &drivers_, cfg_) {
        drivers_.time = &time_;
        drivers_.io = io_;
        drivers_.multi_thread = cfg_.multi_thread;
        start_observers();
    }
    ~runtime_impl() override { stop_observers(); }

    scheduler* task_scheduler() noexcept override { return this; }
    void submit(task_header* t) noexcept override;
    bool release(task_header* t) noexcept override { return owned_.remove(t); }
    void on_task_panic(task_header* t, std::exception_ptr e) noexcept override;
    void block_on(task_header* root) override;

    runtime_dump dump() const override { return dump_tasks(); }
    /// dump() without virtual dispatch (the SIGQUIT printer, observe/sigquit.cpp).
    runtime_dump dump_tasks() const;
    /// `p` (not dereferenced) with a reference taken, if it is a live task
    /// of this runtime (registered, or a block_on root); else nullptr.
    task_header* find_live_task(task_header* p) noexcept;

    const runtime_config& config() const noexcept { return cfg_; }
    time_driver& timer() noexcept { return time_; }
    /// The I/O driver (shared with the sockets, which may outlive the runtime).
    const std::shared_ptr<reactor>& io_driver() const noexcept { return io_; }
    bool is_shut_down() const noexcept { return shut_down_.load(std::memory_order_acquire); }
    blocking_pool& blocking() noexcept { return blocking_; }
    /// The narrow view of the drivers that this runtime's threads carry.
    driver_context& drivers() noexcept { return drivers_; }
    /// The scheduler weft::spawn_local builds for on this thread of the
    /// runtime (a worker's pin, the current-thread driver), or null (see
    /// local_set.hpp); the task is submitted through runtime_target.
    virtual scheduler* local_scheduler_here() noexcept { return nullptr; }

protected:
    /// Polls `drv.root` whenever it is ready, until it completes, doing the
    /// flavour's other work in between. Called with the thread context set.
    virtual void run_block_on(root_driver& drv) = 0;
    /// The parker block_on sleeps on (current-thread: the scheduler's own).
    virtual parker* block_on_parker() noexcept { return nullptr; }

    /// Aborts every registered task after the workers are gone. Call with
    /// the thread context pointing at this runtime.
    void abort_all_registered() noexcept;
    /// The blocking pool's and the I/O driver's part of metrics().
    void fill_blocking_metrics(runtime_metrics& m) const noexcept {
        m.io_registrations = io_->registered();
        m.num_blocking_threads = blocking_.num_threads();
        m.num_idle_blocking_threads = blocking_.num_idle();
        m.blocking_queue_depth = blocking_.queue_depth();
    }
    /// Shuts the blocking pool down (after the workers, as Tokio): queued
    /// calls are cancelled, started ones waited for until `timeout` from
    /// `start` (< 0: forever).
    void shutdown_blocking(std::chrono::steady_clock::time_point start,
                           std::chrono::nanoseconds timeout) noexcept {
        if (timeout.count() < 0) {
            blocking_.shutdown(std::nullopt);
        } else {
            blocking_.shutdown(start + timeout);
        }
    }

    runtime_config cfg_;
    time_driver time_;
    owned_tasks owned_;
    std::shared_ptr<reactor> io_;
    std::atomic<bool> shut_down_{false};
    driver_context drivers_; // before blocking_: the pool's threads point at it
    blocking_pool blocking_;
    /// The long-poll watchdog, or null (observe/watchdog.hpp).
    watchdog* long_poll_watchdog() const noexcept { return watchdog_.get(); }

private:
    void abort_roots() noexcept;

    std::mutex panic_mu_;
    std::exception_ptr panic_;
    std::atomic<bool> panicked_{false};
    root_driver* roots_ = nullptr; // guarded by panic_mu_

    // Observability (src/observe/): declared last, so the watchdog's
    // thread is joined before anything it reads is destroyed.
    void start_observers();
    void stop_observers() noexcept;
    std::unique_ptr<watchdog> watchdog_;
};

/// The spawn target (spawn_into.hpp) of tasks of `rt` built for `sched`:
/// `rt` itself, or one of its pinned schedulers (spawn_local).
spawn_target runtime_target(runtime_impl* rt, scheduler* sched) noexcept;

/// Sets this thread's state to a runtime for a scope: `driver` is the loop
/// that drives its queues here, or null.
class context_guard {
public:
    context_guard(runtime_impl* rt, scheduler_context* driver) noexcept
        : st_(this_thread_state()), saved_(st_) {
        st_.rt = rt;
        st_.drivers = &rt->drivers();
        st_.driver = driver;
        st_.leaf.current = nullptr;
        st_.batch = nullptr;
        st_.rng = nullptr;
    }
    ~context_guard() { st_ = saved_; }
    context_guard(const context_guard&) = delete;
    context_guard& operator=(const context_guard&) = delete;

private:
    thread_state& st_;
    thread_state saved_;
};

/// The live tasks of a registry (a runtime's, or a local_set's), for dump().
runtime_dump dump_registry(const owned_tasks& owned);

std::shared_ptr<runtime_core> make_multi_thread(runtime_config cfg);
std::shared_ptr<runtime_core> make_current_thread(runtime_config cfg);

} // namespace weft::detail
