// The multi-thread, work-stealing runtime.
//
// Design (after Tokio's runtime/scheduler/multi_thread/worker.rs):
//
// - N workers, each with a local_queue (256 slots, steal half) and a LIFO
//   slot. A task woken or spawned by the task running on a worker goes to
//   that worker's LIFO slot, so a message passed from one task to the next
//   is handled while its data is still in cache; the task it displaces goes
//   to the back of the local queue. At most MAX_LIFO_POLLS_PER_TICK LIFO
//   tasks run in a row, after which the slot is flushed to the queue, so a
//   ping-pong pair cannot starve the queue. The LIFO slot is never stolen.
// - Tasks scheduled from outside a worker go to the inject queue. A worker
//   looks at it first every global_queue_interval ticks (fairness for remote
//   work), and otherwise when its own queue is empty, taking a batch
//   (len / workers + 1, at most half a local queue) into its queue.
// - An idle worker tries to steal, but only while fewer than half of the
//   workers are searching (idle state below): stealing is a thundering herd
//   otherwise. The last searcher that finds work wakes another worker, so
//   work spreads one worker at a time.
// - A worker with nothing to do parks on its own parker. notify_parked()
//   wakes one sleeper when there is work to share and nobody is searching.
//   The one parked worker that waits for the next timer waits in the
//   reactor's epoll_wait instead (decision 0020); busy workers poll the
//   reactor without blocking every event_interval ticks.
// - A task that yields (yield_now, or a spent cooperative budget) waits in
//   its worker's `deferred` list until that worker next polls the drivers
//   (Tokio's defer list, decision 0040): at maintenance, or at once when
//   the worker has nothing else to run, without parking. So a task looping
//   on yield_now lets I/O in on every lap. Deferred tasks are not stolen.
//
// - Write batching (io/write_batch.hpp, decision 0043): each worker has a
//   write_batcher that gathers the socket writes of the tasks it runs; its
//   end_of_round() sends them in one io_uring_enter when the worker runs
//   out of work and at maintenance, before it polls for I/O or parks; the
//   writers are then its next tasks.
//
// - spawn_local pins a task to the worker that spawned it: the task's
//   scheduler is that worker's pinned_scheduler, whose queue (`pinned`, a
//   locked FIFO) no other worker ever takes from. Every wake-up of the task,
//   from any thread, goes there; from another thread it also unparks the
//   worker directly (it may be asleep; it is then still in the sleepers list and
//   leaves the list itself when it sees its pinned work). The worker looks
//   at its pinned queue on the global_queue_interval tick (fairness against
//   a busy local queue) and whenever its LIFO slot and local queue are
//   empty. The LIFO slot is not used for pinned tasks.
//
// Idle state (idle.hpp): which workers sleep, and how many search for work.
//
// Shutdown: set `shutdown_`, unpark every worker, wait for them (up to the
// timeout). Workers stop between two tasks. Then, with no worker running,
// cleanup(): close the registry and the inject queue, drop every queued
// entry, and cancel every registered task on the calling thread. If the
// timeout expired with workers still inside a poll, cleanup is left to the
// last worker to exit (the workers keep the runtime alive through `self_`);
// the workers still running are then detached, under exit_mu_ so that none
// of them can be exiting meanwhile (glibc's pthread_detach races a thread's
// exit: decision 0034), and those already gone are joined.
#include <pthread.h>

#include <chrono>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/core.hpp"
#include "scheduler/multi_thread/idle.hpp"
#include "scheduler/multi_thread/worker.hpp"
#include "util/thread.hpp"

namespace weft::detail::mt {

namespace {

// Value from Tokio (#5712): enough for a request/response pair to stay on
// one worker, few enough that the local queue is not starved.
constexpr int max_lifo_polls_per_tick = 3;

} // namespace

class multi_thread_runtime final : public runtime_impl {
public:
    explicit multi_thread_runtime(runtime_config cfg)
        : runtime_impl(std::move(cfg)), workers_(cfg_.worker_threads), idle_(cfg_.worker_threads) {
        if (cfg_.global_queue_interval == 0) cfg_.global_queue_interval = 61;
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            workers_[i] = std::make_unique<worker>();
            workers_[i]->rt = this;
            workers_[i]->index = i;
            workers_[i]->rng = 0x9E3779B97F4A7C15ull * (i + 1);
            workers_[i]->pinned_sched = std::make_unique<pinned_scheduler>(this, workers_[i].get());
            if (cfg_.batch_writes)
                workers_[i]->batch = std::make_unique<write_batcher>(cfg_.yield_core_after);
        }
    }

    ~multi_thread_runtime() override = default;

    void start(const std::shared_ptr<multi_thread_runtime>& self) {
        self_ = self;
        running_workers_ = workers_.size();
        for (auto& w : workers_) {
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            if (cfg_.thread_stack_size != 0)
                pthread_attr_setstacksize(&attr, cfg_.thread_stack_size);
            int rc = pthread_create(&w->thread, &attr, &thread_main, w.get());
            pthread_attr_destroy(&attr);
            if (rc != 0) {
                {
                    std::lock_guard lk(exit_mu_);
                    running_workers_ -= 1;
                }
                shutdown(std::chrono::nanoseconds(-1));
                throw std::system_error(rc, std::generic_category(),
                                        "weft: starting a worker thread failed");
            }
            w->thread_started = true;
        }
    }

    // --- scheduling ----------------------------------------------------------------

    void schedule(task_header* t, bool is_yield) noexcept override {
        const thread_state& st = this_thread_state();
        if (st.rt == this && st.driver != nullptr) {
            worker& w = *static_cast<worker*>(st.driver); // this runtime's threads: workers
            bool should_notify;
            if (is_yield && st.leaf.yielded) {
                // Yielded (not merely woken during its poll): runs again
                // after this worker's next driver poll (release_deferred).
                w.deferred.push(t);
                return;
            }
            if (is_yield) {
                push_local(w, t);
                should_notify = true;
            } else {
                task_header* prev = w.lifo;
                w.lifo = t;
                if (prev != nullptr) push_local(w, prev);
                should_notify = prev != nullptr;
            }
            // From inside a reactor poll the notification waits for the end
            // of the batch (after_driver): events come in batches, and this
            // worker is still in the sleepers list while it polls, so a
            // notification here could pick (and write the eventfd of) this
            // very worker.
            if (should_notify && !w.in_driver) notify_parked();
            return;
        }
        if (!inject_.push(t)) {
            task_ref_dec(t); // shut down: the registry cancels the task
            return;
        }
        notify_parked();
    }

    scheduler* local_scheduler_here() noexcept override {
        const thread_state& st = this_thread_state();
        if (st.rt != this || st.driver == nullptr) return nullptr;
        return static_cast<worker*>(st.driver)->pinned_sched.get();
    }

    void shutdown(std::chrono::nanoseconds timeout) noexcept override {
        if (shut_down_.exchange(true, std::memory_order_acq_rel)) return;
        auto started = std::chrono::steady_clock::now();
        for (auto& w : workers_)
            w->park.unpark();

        const thread_state& st = this_thread_state();
        bool on_own_worker = st.rt == this && st.driver != nullptr;
        bool all_exited;
        std::vector<pthread_t> exited_threads;
        exited_threads.reserve(workers_.size()); // no allocation under the lock
        {
            std::unique_lock lk(exit_mu_);
            if (on_own_worker) {
                all_exited = false; // cannot wait for ourselves
            } else if (timeout.count() < 0) {
                exit_cv_.wait(lk, [&] { return running_workers_ == 0; });
                all_exited = true;
            } else {
                all_exited = exit_cv_.wait_for(lk, timeout, [&] { return running_workers_ == 0; });
            }
            if (!all_exited) {
                cleanup_by_last_worker_ = true;
                // Detach only a worker that cannot be exiting: glibc 2.36's
                // pthread_detach reads the thread's descriptor after the
                // exchange that lets an exiting thread free it (decision
                // 0034). A worker that has not passed worker_exited() needs
                // exit_mu_, which we hold, before it can exit. One that has
                // passed it left before cleanup_by_last_worker_ was set, so
                // it runs no cleanup: it is joined, at once.
                for (auto& w : workers_) {
                    if (!w->thread_started) continue;
                    if (w->exited)
                        exited_threads.push_back(w->thread);
                    else
                        pthread_detach(w->thread);
                }
            }
        }
        if (all_exited) {
            for (auto& w : workers_)
                if (w->thread_started) pthread_join(w->thread, nullptr);
            cleanup();
            self_.reset();
        } else {
            for (pthread_t t : exited_threads)
                pthread_join(t, nullptr);
            // The last worker out runs cleanup() and drops self_.
        }
        // A worker cannot wait here (it would hold up its own tasks' wakers).
        shutdown_blocking(started, on_own_worker ? std::chrono::nanoseconds(0) : timeout);
    }

    runtime_metrics metrics() const override {
        runtime_metrics m;
        m.num_workers = workers_.size();
        m.num_alive_tasks = owned_.alive();
        m.spawned_tasks_count = owned_.spawned();
        m.global_queue_depth = inject_.len();
        m.timers_pending = time_.pending();
        fill_blocking_metrics(m);
        m.budget_forced_yield_count = root_forced_yields_.load(std::memory_order_relaxed);
        for (auto& w : workers_) {
            runtime_metrics::worker x;
            x.poll_count = w->polls.load(std::memory_order_relaxed);
            x.steal_count = w->steals.load(std::memory_order_relaxed);
            x.steal_operations = w->steal_ops.load(std::memory_order_relaxed);
            x.lifo_hits = w->lifo_hits.load(std::memory_order_relaxed);
            x.park_count = w->parks.load(std::memory_order_relaxed);
            x.overflow_count = w->overflows.load(std::memory_order_relaxed);
            x.local_queue_depth = w->queue.len();
            m.budget_forced_yield_count += w->forced_yields.load(std::memory_order_relaxed);
            if (w->batch) {
                m.core_yields += w->batch->core_yields();
                m.io_batched_writes += w->batch->batched_writes();
                m.io_write_batches += w->batch->batches();
            }
            m.workers.push_back(x);
        }
        return m;
    }

protected:
    void run_block_on(root_driver& drv) override {
        std::uint64_t& forced = forced_yields_counter();
        std::uint64_t forced_before = forced;
        for (;;) {
            if (drv.take_ready()) {
                poll_task(drv.root);
                if (task_is_finished(drv.root)) break;
            }
            if (!drv.ready()) drv.park();
        }
        root_forced_yields_.fetch_add(forced - forced_before, std::memory_order_relaxed);
    }

private:
    static void* thread_main(void* arg) {
        worker* w = static_cast<worker*>(arg);
        w->rt->run_worker(*w);
        return nullptr;
    }

    void run_worker(worker& w) {
        set_thread_name(cfg_.thread_name);
        {
            context_guard g(this, &w);
            watch_scope watch(long_poll_watchdog(), "worker " + std::to_string(w.index));
            if (cfg_.on_thread_start) cfg_.on_thread_start();
            std::uint64_t& forced = forced_yields_counter();
            std::uint64_t forced_seen = forced;
            this_thread_state().batch = w.batch.get();
            while (!shut_down_.load(std::memory_order_acquire)) {
                ++w.tick;
                // Maintenance: timers fire and I/O events are taken while
                // every worker is busy too (the poll skips if another thread
                // is polling). The writes gathered since the last flush go
                // out first.
                if (w.tick % cfg_.event_interval == 0) poll_drivers(w);
                task_header* t = next_task(w);
                if (t == nullptr && !w.deferred.empty()) {
                    // Only tasks that yielded are left here: poll the drivers
                    // without parking (Tokio's park_yield); they run next.
                    poll_drivers(w);
                    continue;
                }
                if (t == nullptr) t = steal_work(w);
                if (t != nullptr) {
                    run_task(w, t);
                    if (forced != forced_seen) {
                        w.bump(w.forced_yields, forced - forced_seen);
                        forced_seen = forced;
                    }
                    continue;
                }
                // Out of work: the gathered writes go out, and their writers
                // are this worker's next tasks.
                if (w.batch && w.batch->end_of_round()) continue;
                park_worker(w);
                if (w.batch) w.batch->parked();
            }
            if (w.searching) {
                w.searching = false;
                idle_.transition_from_searching();
            }
            if (cfg_.on_thread_stop) cfg_.on_thread_stop();
        }
        worker_exited(w);
    }

    /// Maintenance: the gathered writes go out, due timers fire, I/O events
    /// are taken without blocking, and the tasks that yielded are queued
    /// again behind the others.
    void poll_drivers(worker& w) noexcept {
        if (w.batch) w.batch->end_of_round();
        w.in_driver = true;
        std::size_t woken = time_.fire_due();
        if (io_->registered() != 0) woken += io_->poll(0);
        w.in_driver = false;
        while (task_header* t = w.deferred.pop()) {
            if (t->sched == w.pinned_sched.get()) {
                if (!w.pinned.push(t)) task_ref_dec(t); // shut down
            } else {
                push_local(w, t);
            }
            ++woken;
        }
        if (woken != 0) after_driver(w);
    }

    void worker_exited(worker& w) {
        bool run_cleanup;
        std::shared_ptr<multi_thread_runtime> keep;
        {
            std::lock_guard lk(exit_mu_);
            w.exited = true;
            run_cleanup = --running_workers_ == 0 && cleanup_by_last_worker_;
            if (run_cleanup) keep = std::move(self_);
            exit_cv_.notify_all();
        }
        if (run_cleanup) cleanup();
        // `keep` may destroy the runtime here, on a detached worker thread.
    }

    void run_task(worker& w, task_header* t) {
        if (w.searching) {
            w.searching = false;
            if (idle_.transition_from_searching()) notify_parked(); // we were the last searcher
        }
        poll_task(t);
        std::uint64_t polls = 1;
        for (int n = 0; n < max_lifo_polls_per_tick; ++n) {
            task_header* next = w.lifo;
            if (next == nullptr) break;
            w.lifo = nullptr;
            poll_task(next);
            ++polls;
        }
        if (w.lifo != nullptr) {
            push_local(w, w.lifo);
            w.lifo = nullptr;
            notify_parked();
        }
        w.bump(w.polls, polls);
        if (polls > 1) w.bump(w.lifo_hits, polls - 1);
    }

    task_header* next_task(worker& w) {
        if (w.tick % cfg_.global_queue_interval == 0) {
            if (task_header* t = w.pinned.pop()) return t;
            if (task_header* t = inject_.pop()) return t;
        }
        if (task_header* t = w.lifo) {
            w.lifo = nullptr;
            return t;
        }
        if (task_header* t = w.queue.pop()) return t;
        if (task_header* t = w.pinned.pop()) return t;
        if (inject_.empty()) return nullptr;
        // Take a fair share of the inject queue into the local queue.
        std::size_t room = local_queue::capacity - w.queue.len();
        std::size_t n = inject_.len() / workers_.size() + 1;
        if (n > room) n = room;
        if (n > local_queue::capacity / 2) n = local_queue::capacity / 2;
        std::array<task_header*, local_queue::capacity / 2> buf;
        std::size_t got = inject_.pop_n(buf.data(), n);
        if (got == 0) return nullptr;
        for (std::size_t i = 1; i < got; ++i)
            push_local(w, buf[i]);
        return buf[0];
    }

    task_header* steal_work(worker& w) {
        if (!w.searching) {
            if (!idle_.transition_to_searching()) return nullptr;
            w.searching = true;
        }
        std::size_t n = workers_.size();
        std::size_t start = w.next_rand(static_cast<std::uint32_t>(n));
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t v = (start + i) % n;
            if (v == w.index) continue;
            std::uint32_t before = w.queue.len();
            if (task_header* t = workers_[v]->queue.steal_into(w.queue)) {
                w.bump(w.steal_ops);
                w.bump(w.steals, w.queue.len() - before + 1);
                return t;
            }
        }
        return inject_.pop();
    }

    void push_local(worker& w, task_header* t) noexcept {
        if (w.queue.push_back(t, inject_)) w.bump(w.overflows);
    }

    // --- parking and the idle state -------------------------------------------

    void notify_parked() noexcept {
        if (std::optional<std::size_t> i = idle_.worker_to_notify()) workers_[*i]->park.unpark();
    }

    bool work_pending() const noexcept {
        if (!inject_.empty()) return true;
        for (auto& w : workers_)
            if (!w->queue.empty()) return true;
        return false;
    }

    void park_worker(worker& w) {
        bool last_searcher = idle_.transition_to_parked(w.index, w.searching);
        w.searching = false;
        if (last_searcher && work_pending()) notify_parked();
        w.bump(w.parks);
        for (;;) {
            // Work may have arrived between our last look and the sleepers
            // push; a notifier that saw us in the list unparks us, and one
            // that came earlier left work we check for here. Pinned work is
            // ours alone and unparks us directly.
            if (work_pending() || !w.pinned.empty()) {
                leave_sleepers(w);
                return;
            }
            // One parked worker at a time waits for the next timer, in
            // epoll_wait: it is also the I/O driver (io/reactor.hpp).
            std::optional<clock_time> deadline;
            bool timer_waiter = time_.try_become_waiter(&w.park, deadline);
            std::size_t io_woken = 0;
            w.in_driver = true;
            if (timer_waiter)
                io_woken = w.park.park_driver(*io_, deadline);
            else
                w.park.park(std::nullopt);
            if (timer_waiter) {
                time_.stop_waiting();
                std::size_t woken = time_.fire_due() + io_woken;
                w.in_driver = false;
                if (woken > 0) { // woke tasks into our queues
                    leave_sleepers(w);
                    // Hand the driver on: a sleeper that wakes finds no work,
                    // parks again and becomes the poller, so a long task here
                    // does not stall I/O (Tokio issue 4730).
                    notify_parked();
                    return;
                }
            }
            w.in_driver = false;
            if (shut_down_.load(std::memory_order_acquire)) {
                leave_sleepers(w);
                return;
            }
            if (!idle_.is_parked(w.index)) {
                w.searching = true; // notify_parked counted us as searching
                return;
            }
        }
    }

    /// After a batch of wake-ups from the reactor or the timers (schedule()
    /// did not notify meanwhile): wake a sleeper if there is work to steal,
    /// as Tokio does after park_timeout. The LIFO slot cannot be stolen.
    void after_driver(worker& w) noexcept {
        if (!w.searching && !w.queue.empty()) notify_parked();
    }

    /// Leaves the sleepers list on our own. If a notifier already took us
    /// out, it counted us as searching: act on it.
    void leave_sleepers(worker& w) {
        if (!idle_.unpark_self(w.index)) w.searching = true;
    }

    // --- shutdown ----------------------------------------------------------------

    void cleanup() noexcept {
        context_guard g(this, nullptr);
        inject_.close();
        for (auto& w : workers_)
            w->pinned.close();
        for (;;) {
            for (auto& w : workers_) {
                if (w->lifo != nullptr) task_ref_dec(std::exchange(w->lifo, nullptr));
                while (task_header* t = w->deferred.pop())
                    task_ref_dec(t);
                while (task_header* t = w->queue.pop())
                    task_ref_dec(t);
                while (task_header* t = w->pinned.pop())
                    task_ref_dec(t);
            }
            while (task_header* t = inject_.pop())
                task_ref_dec(t);
            abort_all_registered();
            if (inject_.empty()) break;
        }
    }

    std::vector<std::unique_ptr<worker>> workers_;
    inject_queue inject_;
    std::atomic<std::uint64_t> root_forced_yields_{0}; // of block_on roots

    idle_state idle_;

    std::mutex exit_mu_;
    std::condition_variable exit_cv_;
    std::size_t running_workers_ = 0;
    bool cleanup_by_last_worker_ = false;
    std::shared_ptr<multi_thread_runtime> self_;
};

} // namespace weft::detail::mt

namespace weft::detail {

std::shared_ptr<runtime_core> make_multi_thread(runtime_config cfg) {
    auto rt = std::make_shared<mt::multi_thread_runtime>(std::move(cfg));
    rt->start(rt);
    return rt;
}

} // namespace weft::detail
