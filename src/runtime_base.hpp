// What both runtime flavours share: the task registry, spawn, block_on, the
// unhandled-exception policy and the shutdown bookkeeping.
//
// block_on: the root task is created by the caller (runtime.hpp) and polled
// on the calling thread, never by a worker. Its scheduler is a small
// root_driver on block_on's stack: waking the root sets `ready` and unparks
// the calling thread. The root is not in the registry (runtime shutdown does
// not abort it) and its exception goes to block_on's caller, not to the
// unhandled-exception policy.
//
// unhandled_exception_policy::shutdown_runtime: the first spawned task that
// ends with an exception closes the registry (later spawns are cancelled
// before they run), aborts every registered task and every running block_on
// root; block_on then throws runtime_error with the exception nested.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "blocking_pool.hpp"
#include "harness.hpp"
#include "reactor.hpp"
#include "runtime_parts.hpp"
#include "time_driver.hpp"
#include "watchdog.hpp"
#include "weft/local_set.hpp"
#include "weft/runtime.hpp"

namespace weft::detail {

class runtime_base;

/// The scheduler of a block_on root.
///
/// Deferred yields (current-thread only, Tokio's defer list): a root that
/// yields (yield_now, or a spent cooperative budget) on the thread that
/// drives the runtime is not ready at once; the driver makes it ready after
/// its next poll of the I/O and time drivers (take_yielded). Otherwise a
/// root that yields in a loop would be polled again and again without the
/// driver ever looking at I/O (issue 14). On the multi-thread runtime the
/// thread in block_on is not a driver (the workers poll), so `defer_on` is
/// null there and a yield makes the root ready at once.
class root_driver final : public scheduler {
public:
    explicit root_driver(parker& p) noexcept : parker_(p) {}
    void schedule(task_header*, bool is_yield) noexcept override {
        // this_thread_context().yielded: the root suspended in a yield (not
        // merely woken during its poll, which also comes here as a yield).
        if (is_yield) {
            const thread_context& ctx = this_thread_context();
            if (ctx.yielded && ctx.worker != nullptr &&
                ctx.worker == defer_on.load(std::memory_order_relaxed)) {
                yielded_ = true;
                return;
            }
        }
        ready_.store(true, std::memory_order_release);
        parker_.unpark();
    }
    bool release(task_header*) noexcept override { return false; }
    void on_task_panic(task_header*, std::exception_ptr) noexcept override {}
    /// Takes the root's queue entry if it is there.
    bool take_ready() noexcept {
        return ready_.load(std::memory_order_relaxed) &&
               ready_.exchange(false, std::memory_order_acquire);
    }
    bool ready() const noexcept { return ready_.load(std::memory_order_relaxed); }
    /// Sleeps until the root (or, current-thread, any task) is woken, or
    /// until `deadline`.
    void
    park(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) noexcept {
        parker_.park(deadline);
    }
    parker& the_parker() noexcept { return parker_; }
    void set_ready() noexcept { ready_.store(true, std::memory_order_relaxed); }
    /// The root yielded and waits for the next driver poll (driving thread only).
    bool yielded() const noexcept { return yielded_; }
    /// After a driver poll: a deferred yield makes the root ready.
    void release_yield() noexcept {
        if (yielded_) {
            yielded_ = false;
            set_ready();
        }
    }

    root_driver* next = nullptr; // in runtime_base's list of active roots
    task_header* root = nullptr;
    /// The driving thread's context `worker` whose yields are deferred, or
    /// null. Atomic: a dump on another thread may reschedule the root.
    std::atomic<void*> defer_on{nullptr};

private:
    parker& parker_;
    std::atomic<bool> ready_{false};
    bool yielded_ = false; // touched only by the thread that drives (defer_on)
};

class runtime_base : public runtime_core, public scheduler {
public:
    explicit runtime_base(runtime_config cfg)
        : cfg_(std::move(cfg)), time_(cfg_.start_paused),
          owned_(cfg_.multi_thread ? 4 * cfg_.worker_threads : 4), io_(std::make_shared<reactor>()),
          blocking_(this, cfg_) {
        start_observers();
    }
    ~runtime_base() override { stop_observers(); }

    scheduler* task_scheduler() noexcept override { return this; }
    void submit(task_header* t) noexcept override;
    bool release(task_header* t) noexcept override { return owned_.remove(t); }
    void on_task_panic(task_header* t, std::exception_ptr e) noexcept override;
    void block_on(task_header* root) override;

    runtime_dump dump() const override { return dump_tasks(); }
    /// dump() without virtual dispatch (the SIGQUIT printer, src/observe.cpp).
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
    blocking_pool blocking_;
    /// The long-poll watchdog, or null (src/watchdog.hpp).
    watchdog* long_poll_watchdog() const noexcept { return watchdog_.get(); }

private:
    void abort_roots() noexcept;

    std::mutex panic_mu_;
    std::exception_ptr panic_;
    std::atomic<bool> panicked_{false};
    root_driver* roots_ = nullptr; // guarded by panic_mu_

    // Observability (src/observe.cpp): declared last, so the watchdog's
    // thread is joined before anything it reads is destroyed.
    void start_observers();
    void stop_observers() noexcept;
    std::unique_ptr<watchdog> watchdog_;
};

/// The spawn target (spawn_into.hpp) of tasks of `rt` built for `sched`:
/// `rt` itself, or one of its pinned schedulers (spawn_local).
spawn_target runtime_target(runtime_base* rt, scheduler* sched) noexcept;

/// Sets this thread's context to a runtime for a scope.
class context_guard {
public:
    context_guard(runtime_core* rt, void* worker) noexcept
        : ctx_(this_thread_context()), saved_(ctx_) {
        ctx_.rt = rt;
        ctx_.worker = worker;
        ctx_.current = nullptr;
        ctx_.batch = nullptr;
        ctx_.rng = nullptr;
    }
    ~context_guard() { ctx_ = saved_; }
    context_guard(const context_guard&) = delete;
    context_guard& operator=(const context_guard&) = delete;

private:
    thread_context& ctx_;
    thread_context saved_;
};

/// The live tasks of a registry (a runtime's, or a local_set's), for dump().
runtime_dump dump_registry(const owned_tasks& owned);

std::shared_ptr<runtime_core> make_multi_thread(runtime_config cfg);
std::shared_ptr<runtime_core> make_current_thread(runtime_config cfg);

} // namespace weft::detail
