// The current-thread runtime: every task runs on the thread inside block_on.
//
// Queues: `local_` is touched only by the driving thread (no lock); tasks
// scheduled from any other thread go to `inject_` and unpark the driver.
// A task woken or spawned while no thread is in block_on waits in a queue
// until the next block_on.
//
// The driver loop (run_block_on): poll the root when it is ready; otherwise
// run up to event_interval tasks, taking from the inject queue first every
// global_queue_interval ticks (so remote wake-ups are not starved by a busy
// local queue); park in the reactor's epoll_wait (timer deadline as its
// timeout) when there is nothing to do (decision 0020).
//
// No task can starve the drivers (issue 14, decision 0040). Timers fire
// after every round. The reactor is polled without blocking once
// event_interval ticks (root polls and task polls) have passed since the
// last park or poll, whatever keeps the thread busy: a full local queue,
// remote wake-ups, or a root that is always ready. And a task that yields
// (yield_now, or a spent cooperative budget), root or spawned, waits in
// `deferred_` until the end of the round and the driver poll that follows
// it, as in Tokio (its `defer` list): a task looping on yield_now lets I/O
// in on every lap, and one that waits for a socket in a loop of yields is
// woken as soon as the bytes arrive.
//
// Write batching (io/write_batch.hpp, decision 0043): the round's socket
// writes go out in one io_uring_enter after the round (write_batcher's
// end_of_round, which also offers the core to the peers they woke).
//
// One thread drives at a time: a second concurrent block_on waits for the
// first to finish (drive_mu_).
//
// Seeded runs (runtime_builder::rng_seed, decision 0041): the next task is
// drawn at random from the local queue instead of taken from its front, and
// a task that yields (after its driver poll, above) or was woken during its
// own poll waits in `yielded_` until the local queue is empty, then joins it: yield_now still
// lets every task woken or spawned before it run first, and tasks that
// yielded in the same lap run in the seed's order. The class is a template
// on `Seeded`, so that the unseeded runtime's code has no trace of this (not
// even a branch): make_current_thread picks the instantiation.
//
// Shutdown runs on the thread that destroys the runtime, with the context
// set to this runtime: the queues are drained (their references dropped)
// and every registered task is cancelled; what the destructors of those
// tasks wake or spawn is drained or cancelled in turn.
#include <chrono>
#include <mutex>
#include <vector>

#include "io/write_batch.hpp"
#include "runtime/core.hpp"
#include "scheduler/inject_queue.hpp"
#include "scheduler/task_ring.hpp"
#include "util/seeded_rng.hpp"

namespace weft::detail {

namespace {

template <bool Seeded>
class current_thread_runtime final : public runtime_impl, public scheduler_context {
public:
    explicit current_thread_runtime(runtime_config cfg) : runtime_impl(std::move(cfg)) {
        if (cfg_.global_queue_interval == 0) cfg_.global_queue_interval = 31;
        if (cfg_.batch_writes) batch_ = std::make_unique<write_batcher>(cfg_.yield_core_after);
        if constexpr (Seeded) {
            // One generator per component (seeded_rng.hpp), all from the seed.
            seeded_rng root(*cfg_.rng_seed);
            rng_ = std::make_unique<seeded_rng>(root.split());
            io_->seed(root.split());
            time_.seed(root.split());
        }
    }
    ~current_thread_runtime() override { shutdown(std::chrono::nanoseconds(-1)); }

    void schedule(task_header* t, bool is_yield) noexcept override {
        const thread_state& st = this_thread_state();
        if (st.rt == this && st.driver == this) {
            // leaf.yielded: the task suspended in a yield, and waits for the
            // next driver poll. Only while a socket is registered: timers
            // fire after every round anyway, so without sockets the wait
            // would buy nothing (decision 0040). One merely woken during its
            // own poll also comes as is_yield: it is not deferred, but a
            // seeded run holds it in yielded_ until the local queue is empty.
            if (is_yield && st.leaf.yielded && io_->registered() != 0) {
                deferred_.push(t);
            } else if (Seeded && is_yield) {
                yielded_.push(t);
            } else {
                local_.push(t);
            }
            return;
        }
        if (!inject_.push(t)) {
            task_ref_dec(t); // shut down: the registry cancels the task
            return;
        }
        parker_.unpark();
    }

    /// spawn_local on the driving thread is a plain spawn: every task of
    /// this runtime runs on that thread anyway.
    scheduler* local_scheduler_here() noexcept override {
        const thread_state& st = this_thread_state();
        return st.rt == this && st.driver == this ? this : nullptr;
    }

    void shutdown(std::chrono::nanoseconds timeout) noexcept override {
        if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
        auto started = std::chrono::steady_clock::now();
        {
            std::lock_guard lk(drive_mu_);
            context_guard g(this, this);
            inject_.close();
            do {
                drain();
                abort_all_registered();
            } while (!local_.empty() || !inject_.empty() || !deferred_.empty() ||
                     !yielded_.empty());
        }
        shutdown_blocking(started, timeout);
    }

    runtime_metrics metrics() const override {
        runtime_metrics m;
        m.num_workers = 1;
        m.num_alive_tasks = owned_.alive();
        m.spawned_tasks_count = owned_.spawned();
        m.global_queue_depth = inject_.len();
        m.timers_pending = time_.pending();
        fill_blocking_metrics(m);
        m.budget_forced_yield_count = forced_yields_.load(std::memory_order_relaxed);
        runtime_metrics::worker w;
        w.poll_count = polls_.load(std::memory_order_relaxed);
        w.park_count = parks_.load(std::memory_order_relaxed);
        m.workers.push_back(w);
        if (batch_) {
            m.io_batched_writes = batch_->batched_writes();
            m.io_write_batches = batch_->batches();
            m.core_yields = batch_->core_yields();
        }
        return m;
    }

protected:
    parker* block_on_parker() noexcept override { return &parker_; }

    void run_block_on(root_driver& drv) override {
        std::lock_guard lk(drive_mu_);
        if (is_shut_down()) { // shut down while we waited for the driver lock
            (void)drv.take_ready();
            cancel_unpolled(drv.root);
            return;
        }
        thread_state& st = this_thread_state();
        st.driver = this;
        st.batch = batch_.get();
        st.rng = rng_.get();
        drv.defer_on.store(this, std::memory_order_relaxed);
        std::uint64_t& forced = forced_yields_counter();
        std::uint64_t forced_before = forced;
        std::uint32_t tick = 0;
        std::uint64_t polls = 0;
        // Root and task polls since the reactor was last polled (or parked in).
        std::uint32_t since_io = 0;
        for (;;) {
            if (drv.take_ready()) {
                poll_task(drv.root);
                if (task_is_finished(drv.root)) break;
                ++since_io;
            }
            bool ran = false;
            // As in Tokio: between two polls of the root, up to event_interval tasks
            // run, whether or not the root was woken meanwhile; otherwise a root
            // that keeps itself ready would starve every task.
            for (std::uint32_t n = 0; n < cfg_.event_interval; ++n) {
                task_header* t = next_task(tick++);
                if (t == nullptr) break;
                poll_task(t);
                ran = true;
                ++polls;
                ++since_io;
            }
            // The round's writes go out together, before the next round, an
            // I/O poll or a park; their tasks are queued again.
            bool more =
                !local_.empty() || !inject_.empty() || drv.ready() || (Seeded && !yielded_.empty());
            if (batch_) batch_->end_of_round();
            time_.fire_due();
            bool yielded = drv.yielded() || !deferred_.empty();
            // I/O events flow between rounds too: after a yield (Tokio's
            // park_yield), and once event_interval ticks have passed however
            // busy the thread is. A drained queue parks in epoll_wait instead
            // (below, next round), which returns at once if events are
            // pending: one system call, not two. No system call while no
            // socket is registered. (Writers the flush just woke do not
            // count: their round is next.)
            if (yielded || (more && since_io >= cfg_.event_interval)) {
                if (io_->registered() != 0) io_->poll(0);
                since_io = 0;
                release_deferred(drv);
                continue;
            }
            if (!ran && !drv.ready() && local_.empty() && inject_.empty()) {
                // Nothing ready. A paused clock jumps to the next timer once
                // no I/O event is pending either (Tokio's order); otherwise
                // sleep in epoll_wait until the timer, an I/O event or a wake.
                if (time_.is_paused()) {
                    if (io_->poll(0) > 0) continue;
                    if (time_.auto_advance()) continue;
                }
                std::optional<clock_time> deadline;
                bool timer_waiter = time_.try_become_waiter(&drv.the_parker(), deadline);
                parks_.fetch_add(1, std::memory_order_relaxed);
                drv.the_parker().park_driver(
                    *io_, timer_waiter && !time_.is_paused() ? deadline : std::nullopt);
                if (timer_waiter) time_.stop_waiting();
                since_io = 0;
                if (batch_) batch_->parked();
            }
        }
        // Tasks that yielded in the last round run at the next block_on, like
        // every task still queued.
        release_deferred(drv);
        drv.defer_on.store(nullptr, std::memory_order_relaxed);
        polls_.fetch_add(polls, std::memory_order_relaxed);
        forced_yields_.fetch_add(forced - forced_before, std::memory_order_relaxed);
    }

private:
    /// After a driver poll: the tasks (and the root) that yielded are ready,
    /// behind those already queued.
    /// (A seeded run holds them in yielded_ until the local queue is empty.)
    void release_deferred(root_driver& drv) noexcept {
        drv.release_yield();
        while (task_header* t = deferred_.pop()) {
            if constexpr (Seeded)
                yielded_.push(t);
            else
                local_.push(t);
        }
    }

    task_header* next_task(std::uint32_t tick) noexcept {
        if (tick % cfg_.global_queue_interval == 0) {
            if (task_header* t = inject_.pop()) return t;
        }
        if constexpr (Seeded) return next_seeded();
        if (task_header* t = local_.pop()) return t;
        return inject_.pop();
    }

    /// next_task of a seeded run: a random task of the local queue; once it
    /// is empty, the tasks that yielded join it.
    task_header* next_seeded() noexcept {
        if (local_.empty()) {
            while (task_header* t = yielded_.pop())
                local_.push(t);
        }
        if (!local_.empty()) return local_.pop_at(rng_->below(local_.size()));
        return inject_.pop();
    }

    void drain() noexcept {
        while (task_header* t = local_.pop())
            task_ref_dec(t);
        while (task_header* t = inject_.pop())
            task_ref_dec(t);
        while (task_header* t = deferred_.pop())
            task_ref_dec(t);
        while (task_header* t = yielded_.pop())
            task_ref_dec(t);
    }

    task_ring local_;    // the driver thread's run queue
    task_ring deferred_; // yielded in this round (driving thread only)
    /// Seeded runs only: tasks that yielded (after their driver poll) or
    /// were woken during their own poll, until local_ is empty.
    task_ring yielded_;
    /// The scheduler's generator (Seeded only; null otherwise).
    std::unique_ptr<seeded_rng> rng_;
    inject_queue inject_;
    parker parker_;
    std::unique_ptr<write_batcher> batch_; // null: writes are not batched
    std::mutex drive_mu_;
    std::atomic<std::uint64_t> polls_{0}, parks_{0}, forced_yields_{0};
};

} // namespace

std::shared_ptr<runtime_core> make_current_thread(runtime_config cfg) {
    if (cfg.rng_seed) return std::make_shared<current_thread_runtime<true>>(std::move(cfg));
    return std::make_shared<current_thread_runtime<false>>(std::move(cfg));
}

} // namespace weft::detail
