// local_set and spawn_local's targets (design in include/weft/local_set.hpp).
//
// local_set_state is the scheduler of a set's tasks:
//   queue_, driver_, closed_   guarded by mu_. A wake-up pushes to queue_
//                              and takes driver_ (the waker of the task
//                              parked in run_until, if any) to wake it
//                              after unlocking.
//   owned_                     the set's task registry: the tasks that
//                              destroying the set must abort.
//   driving_                   touched only by the driving thread: one
//                              run_until at a time per set.
// A set's task is polled only by drive_local_set, nested inside the
// driver's poll (poll_nested), with tls_set pointing at the set so that
// weft::spawn_local inside it lands in the same set.
#include <mutex>

#include "runtime/core.hpp"
#include "scheduler/task_ring.hpp"
#include "task/harness.hpp"
#include "weft/local_set.hpp"
#include "weft/yield_now.hpp"

namespace weft::detail {

namespace {
constinit thread_local local_set_state* tls_set = nullptr;
// Tasks a driver polls before it yields to its runtime's other tasks
// (Tokio's LocalSet uses the scheduler's event interval, 61, likewise).
constexpr int max_polls_per_drive = 61;
} // namespace

class local_set_state final : public scheduler {
public:
    local_set_state() : owned_(4) {}

    // --- scheduler --------------------------------------------------------------
    void schedule(task_header* t, bool) noexcept override {
        waker w;
        bool queued = false;
        {
            std::lock_guard lk(mu_);
            if (!closed_) {
                try {
                    queue_.push(t);
                    queued = true;
                    w = std::move(driver_);
                } catch (...) {
                    // Out of memory growing the queue: the entry is dropped;
                    // the task stays registered and is aborted with the set.
                }
            }
        }
        if (!queued) task_ref_dec(t); // closed: the set's shutdown cancels the task
        std::move(w).wake();
    }
    bool release(task_header* t) noexcept override { return owned_.remove(t); }
    void on_task_panic(task_header*, std::exception_ptr) noexcept override {}

    // --- spawn target (local_set_spawn_target) -----------------------------------------
    static void submit_local(void* self, task_header* t) noexcept {
        static_cast<local_set_state*>(self)->submit(t);
    }
    void submit(task_header* t) noexcept {
        if (!owned_.bind(t)) { // the set is being destroyed
            task_ref_dec(t);   // the registry's reference, never taken
            cancel_unpolled(t);
            return;
        }
        schedule(t, false);
    }

    // --- driving --------------------------------------------------------------------
    /// Polls up to max_polls_per_drive queued tasks; true if more are queued.
    bool run_ready() noexcept {
        local_set_state* prev = tls_set;
        tls_set = this;
        bool more = false;
        for (int i = 0;; ++i) {
            task_header* t;
            {
                std::lock_guard lk(mu_);
                if (i == max_polls_per_drive) {
                    more = !queue_.empty();
                    break;
                }
                t = queue_.pop();
            }
            if (t == nullptr) break;
            poll_nested(t);
        }
        tls_set = prev;
        return more;
    }

    /// Registers the driver's waker unless work is queued; false if it is.
    bool park_driver(waker w) noexcept {
        std::lock_guard lk(mu_);
        if (!queue_.empty()) return false;
        driver_ = std::move(w);
        return true;
    }
    bool has_work() noexcept {
        std::lock_guard lk(mu_);
        return !queue_.empty();
    }
    /// A driver parked in run_until was destroyed (its task aborted).
    void unpark_driver() noexcept {
        waker w;
        {
            std::lock_guard lk(mu_);
            w = std::move(driver_);
        }
    }

    bool driving = false;

    runtime_dump dump() const { return dump_registry(owned_); }

    /// The set is destroyed: abort every task left, on this thread.
    void shutdown() noexcept {
        waker driver;
        {
            std::lock_guard lk(mu_);
            closed_ = true;
            driver = std::move(driver_);
        }
        owned_.close();
        for (;;) {
            for (;;) {
                task_header* t;
                {
                    std::lock_guard lk(mu_);
                    t = queue_.pop();
                }
                if (t == nullptr) break;
                task_ref_dec(t);
            }
            task_header* t = owned_.any();
            if (t == nullptr) break;
            shutdown_task(t);
            task_ref_dec(t);
        }
    }

private:
    spin_mutex mu_;
    task_ring queue_;
    waker driver_;
    bool closed_ = false;
    owned_tasks owned_;
};

spawn_target local_set_spawn_target(local_set_state& s) noexcept {
    return {&s, &local_set_state::submit_local, &s};
}

spawn_target current_local_spawn_target() {
    if (tls_set != nullptr) return local_set_spawn_target(*tls_set);
    runtime_impl* rt = this_thread_state().rt;
    if (rt == nullptr)
        throw runtime_error("weft::spawn_local called outside a runtime and outside a local_set: "
                            "call it from a task (on a worker, a current-thread runtime, or a "
                            "local_set), or use local_set::spawn_local");
    if (scheduler* s = rt->local_scheduler_here()) return runtime_target(rt, s);
    throw runtime_error(
        "weft::spawn_local called on a thread that is not a runtime worker (the thread inside a "
        "multi-thread block_on, or a blocking call): there is no thread to pin the task to. "
        "Drive a weft::local_set there (local_set::block_on / run_until) and spawn onto it, or "
        "call spawn_local from a task running on a worker");
}

namespace {

/// run_until may only be awaited by a task that stays on one thread.
void check_driver(local_set_state& s) {
    const thread_state& st = this_thread_state();
    task_header* t = st.leaf.task; // the spawned task, even inside a join/select branch
    if (t == nullptr)
        throw runtime_error("weft::local_set::run_until must be awaited inside a weft task");
    if (st.rt != nullptr && t->sched == st.rt->task_scheduler() && st.rt->config().multi_thread)
        throw runtime_error(
            "weft::local_set::run_until awaited by a task of a multi-thread runtime, which may "
            "move between workers: await it in block_on's task (or local_set::block_on), in a "
            "weft::spawn_local task, or on a current-thread runtime");
    if (s.driving)
        throw runtime_error("weft::local_set::run_until: the set is already being driven by "
                            "another run_until; await the tasks' join handles instead");
}

struct driving_guard {
    local_set_state& s;
    explicit driving_guard(local_set_state& st) : s(st) { s.driving = true; }
    ~driving_guard() { s.driving = false; }
    driving_guard(const driving_guard&) = delete;
    driving_guard& operator=(const driving_guard&) = delete;
};

/// Suspends the driver until a task of the set is scheduled.
struct work_awaiter : awaitable_tag {
    local_set_state* s;
    bool parked = false;

    explicit work_awaiter(local_set_state* st) noexcept : s(st) {}
    work_awaiter(const work_awaiter& o) noexcept : s(o.s) {}
    work_awaiter& operator=(const work_awaiter&) = delete;
    ~work_awaiter() {
        if (parked) s->unpark_driver(); // aborted while parked: withdraw the waker
    }

    bool await_ready() const noexcept { return s->has_work(); }
    bool await_suspend(std::coroutine_handle<> h) {
        parked = s->park_driver(suspend_waker(h));
        return parked;
    }
    void await_resume() const noexcept {}
};

} // namespace

task<> drive_local_set(local_set_state& s, abort_handle target) {
    check_driver(s);
    driving_guard g(s);
    for (;;) {
        bool more = s.run_ready();
        if (target.is_finished()) co_return;
        if (more) {
            co_await yield_now(); // let the runtime's other tasks run too
        } else {
            co_await work_awaiter(&s);
        }
    }
}

} // namespace weft::detail

namespace weft {

local_set::local_set() : state_(std::make_unique<detail::local_set_state>()) {}

local_set::~local_set() {
    state_->shutdown();
}

runtime_dump local_set::dump() const {
    return state_->dump();
}

} // namespace weft
