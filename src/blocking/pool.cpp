// The blocking pool (design and invariants in pool.hpp).
#include "blocking/pool.hpp"
#include "runtime/core.hpp" // the pool keeps its runtime alive (shared_from_this)

#include <pthread.h>

#include <algorithm>
#include <system_error>

#include "task/harness.hpp"
#include "weft/blocking.hpp"

namespace weft::detail {

namespace {

// Keep-alive deadlines are computed as now + keep_alive; a huge setting
// (nanoseconds::max()) would overflow the clock, so it is capped at a year.
constexpr std::chrono::nanoseconds max_keep_alive = std::chrono::hours(24 * 365);

struct thread_start {
    blocking_pool* pool;
    std::shared_ptr<runtime_core> keep; // the runtime outlives the thread's loop
};

} // namespace

blocking_pool::~blocking_pool() = default;

void blocking_pool::update_metrics_locked() noexcept {
    m_threads_.store(num_threads_, std::memory_order_relaxed);
    m_idle_.store(idle_.size(), std::memory_order_relaxed);
    m_queue_.store(queue_.size(), std::memory_order_relaxed);
}

blocking_pool::wake_action blocking_pool::wake_searcher_locked(thread_rec*& target) noexcept {
    if (num_searching_ != 0 || queue_.empty()) return wake_action::none;
    if (!idle_.empty()) {
        target = idle_.back(); // LIFO: the most recently idle thread
        idle_.pop_back();
        target->notified = true;
        ++num_searching_;
        return wake_action::unpark;
    }
    if (num_threads_ < cfg_.max_blocking_threads) {
        ++num_threads_;
        ++num_searching_;
        return wake_action::start;
    }
    return wake_action::none; // at the maximum: a thread that finishes takes the call
}

void blocking_pool::submit(task_header* t) {
    t->sched = this;
    thread_rec* target = nullptr;
    wake_action a = wake_action::none;
    bool refused = false;
    {
        std::unique_lock lk(mu_);
        if (shutdown_) {
            refused = true;
        } else {
            try {
                queue_.push(t);
            } catch (...) {
                lk.unlock();
                cancel_blocking_unstarted(t);
                throw;
            }
            a = wake_searcher_locked(target);
            update_metrics_locked();
        }
    }
    if (refused) {
        cancel_blocking_unstarted(t); // a runtime that shut down never runs the call
        return;
    }
    if (a == wake_action::unpark) {
        target->park.unpark();
    } else if (a == wake_action::start && !start_thread()) {
        // No thread could be started. Other threads (if any) take the call
        // when they finish theirs; with none at all, nothing ever would.
        std::vector<task_header*> orphans;
        {
            std::lock_guard lk(mu_);
            --num_threads_;
            --num_searching_;
            if (num_threads_ == 0)
                while (task_header* q = queue_.pop())
                    orphans.push_back(q);
            update_metrics_locked();
        }
        if (!orphans.empty()) {
            for (task_header* q : orphans)
                cancel_blocking_unstarted(q);
            throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                    "weft::spawn_blocking: could not start a blocking thread");
        }
    }
}

void blocking_pool::schedule(task_header* t, bool) noexcept {
    // Not reached in practice (see the header); queue the task again rather
    // than lose the reference.
    std::unique_lock lk(mu_);
    if (shutdown_) {
        lk.unlock();
        task_ref_dec(t);
        return;
    }
    queue_.push(t);
    thread_rec* target = nullptr;
    wake_action a = wake_searcher_locked(target);
    update_metrics_locked();
    lk.unlock();
    if (a == wake_action::unpark) target->park.unpark();
    if (a == wake_action::start && !start_thread()) {
        std::lock_guard lk2(mu_);
        --num_threads_;
        --num_searching_;
        update_metrics_locked();
    }
}

bool blocking_pool::start_thread() noexcept {
    auto* start = new (std::nothrow) thread_start{this, nullptr};
    if (start == nullptr) return false;
    try {
        start->keep = rt_->shared_from_this();
    } catch (...) {
        delete start;
        return false;
    }
    {
        std::lock_guard lk(exit_mu_);
        ++live_threads_;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (cfg_.thread_stack_size != 0) pthread_attr_setstacksize(&attr, cfg_.thread_stack_size);
    pthread_t tid;
    int rc = pthread_create(
        &tid, &attr,
        [](void* arg) -> void* {
            std::unique_ptr<thread_start> s(static_cast<thread_start*>(arg));
            s->pool->thread_main();
            // The last thing this thread does: drop its runtime reference,
            // which may destroy the runtime (and this pool) here.
            return nullptr;
        },
        start);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete start;
        thread_exited();
        return false;
    }
    return true;
}

void blocking_pool::thread_exited() noexcept {
    std::lock_guard lk(exit_mu_);
    --live_threads_;
    exit_cv_.notify_all();
}

namespace {
thread_local blocking_pool* tls_pool = nullptr;
} // namespace

void blocking_pool::thread_main() {
    thread_rec* rec = nullptr;
    {
        std::lock_guard lk(mu_);
        if (!free_recs_.empty()) {
            rec = free_recs_.back();
            free_recs_.pop_back();
        }
    }
    if (rec == nullptr) {
        auto owned = std::make_unique<thread_rec>();
        rec = owned.get();
        std::lock_guard lk(mu_);
        all_recs_.push_back(std::move(owned));
    }
    run(*rec);
    thread_exited();
}

void blocking_pool::run(thread_rec& self) {
    set_thread_name(cfg_.thread_name);
    thread_state& st = this_thread_state();
    st.rt = rt_;
    st.drivers = drivers_;
    st.driver = nullptr;
    st.blocking = true;
    tls_pool = this;
    if (cfg_.on_thread_start) cfg_.on_thread_start();

    std::unique_lock lk(mu_);
    bool searching = true; // a new thread was started for a queued call
    for (;;) {
        if (task_header* t = queue_.pop()) {
            thread_rec* target = nullptr;
            wake_action a = wake_action::none;
            if (searching) {
                // Pass the baton before running the call, which may block.
                searching = false;
                --num_searching_;
                a = wake_searcher_locked(target);
            }
            update_metrics_locked();
            lk.unlock();
            if (a == wake_action::unpark) {
                target->park.unpark();
            } else if (a == wake_action::start && !start_thread()) {
                std::lock_guard lk2(mu_);
                --num_threads_;
                --num_searching_; // we take the queued calls after ours
                update_metrics_locked();
            }
            run_blocking_task(t);
            lk.lock();
            continue;
        }
        if (searching) {
            searching = false;
            --num_searching_;
        }
        if (shutdown_) break;
        // Idle: wait for a call, at most keep_alive.
        idle_.push_back(&self);
        self.notified = false;
        update_metrics_locked();
        lk.unlock();
        auto deadline =
            std::chrono::steady_clock::now() + std::min(cfg_.thread_keep_alive, max_keep_alive);
        bool retire = false;
        for (;;) {
            self.park.park(deadline);
            lk.lock();
            if (self.notified) { // our waker removed us from idle_ and counted us searching
                searching = true;
                break;
            }
            if (shutdown_ || std::chrono::steady_clock::now() >= deadline) {
                idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
                retire = true;
                break;
            }
            lk.unlock(); // spurious wake-up
        }
        if (retire) break;
    }
    --num_threads_;
    // The record goes back for a later thread. A waker may still be inside
    // its unpark() (it marks `notified` under mu_, unparks after): the
    // record stays valid for the pool's lifetime, and a late unpark is a
    // spurious wake-up for whichever thread holds it next.
    free_recs_.push_back(&self);
    update_metrics_locked();
    lk.unlock();

    if (cfg_.on_thread_stop) cfg_.on_thread_stop();
    tls_pool = nullptr;
    st = thread_state{};
}

void blocking_pool::shutdown(
    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    std::vector<task_header*> never_started;
    std::vector<thread_rec*> woken;
    {
        std::lock_guard lk(mu_);
        if (shutdown_) return;
        shutdown_ = true;
        while (task_header* t = queue_.pop())
            never_started.push_back(t);
        for (thread_rec* r : idle_) {
            r->notified = true; // it looks at the (empty) queue, sees shutdown_, exits
            ++num_searching_;
            woken.push_back(r);
        }
        idle_.clear();
        update_metrics_locked();
    }
    for (thread_rec* r : woken)
        r->park.unpark();
    for (task_header* t : never_started)
        cancel_blocking_unstarted(t);

    // A pool thread that shuts its own runtime down cannot wait for itself.
    std::size_t self = tls_pool == this ? 1 : 0;
    std::unique_lock lk(exit_mu_);
    if (!deadline) {
        exit_cv_.wait(lk, [&] { return live_threads_ <= self; });
    } else {
        exit_cv_.wait_until(lk, *deadline, [&] { return live_threads_ <= self; });
    }
}

} // namespace weft::detail
