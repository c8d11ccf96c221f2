// runtime, runtime_builder, runtime_handle, and what both flavours share
// (runtime_base.hpp).
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime_base.hpp"

namespace weft::detail {

// --- task ids ------------------------------------------------------------------

namespace {
// Ids are handed to threads in blocks so that spawning does not bounce one
// cache line between workers; the owned-task registry shards by block.
constexpr std::uint64_t id_block = 1024;
std::atomic<std::uint64_t> next_id_block{1};
} // namespace

std::uint64_t next_task_id() noexcept {
    static constinit thread_local std::uint64_t next = 0, end = 0;
    if (WEFT_UNLIKELY(next == end)) {
        std::uint64_t b = next_id_block.fetch_add(1, std::memory_order_relaxed);
        next = b * id_block;
        end = next + id_block;
        if (b == 1) next = id_block + 1; // ids start at 1025 for the first block; 0 means none
    }
    return next++;
}

// --- context helpers ---------------------------------------------------------

namespace {
/// Every runtime target's submission: registers, then t->sched schedules
/// (this runtime, or a worker's pinned queue). Qualified: no virtual call.
void submit_to_runtime(void* self, task_header* t) noexcept {
    static_cast<runtime_base*>(self)->runtime_base::submit(t);
}
// (The exported functions below each build the target here: with -fPIC,
// GCC does not inline one exported function into another.)
spawn_target target_of(runtime_base* rt, scheduler* sched) noexcept {
    return {sched, &submit_to_runtime, rt};
}
} // namespace

spawn_target runtime_target(runtime_base* rt, scheduler* sched) noexcept {
    return target_of(rt, sched);
}

spawn_target runtime_spawn_target(runtime_core& rt) noexcept {
    auto* base = static_cast<runtime_base*>(&rt);
    return target_of(base, base);
}

spawn_target current_spawn_target() {
    runtime_core* rt = this_thread_context().rt;
    if (WEFT_UNLIKELY(rt == nullptr))
        throw runtime_error("weft::spawn called outside a runtime: call it from a task, or use "
                            "runtime::spawn / runtime_handle::spawn / block_on");
    auto* base = static_cast<runtime_base*>(rt);
    return target_of(base, base);
}

std::shared_ptr<runtime_core> current_runtime_or_throw(const char* what) {
    runtime_core* rt = this_thread_context().rt;
    if (rt == nullptr)
        throw runtime_error(std::string(what) +
                            " called outside a runtime: call it from a task or inside block_on");
    return rt->shared_from_this();
}

runtime_core* current_runtime_for_spawn_blocking() {
    runtime_core* rt = this_thread_context().rt;
    if (WEFT_UNLIKELY(rt == nullptr))
        throw runtime_error("weft::spawn_blocking called outside a runtime: call it from a task "
                            "or a blocking call, or use runtime::spawn_blocking / "
                            "runtime_handle::spawn_blocking");
    return rt;
}

void submit_blocking(runtime_core* rt, task_header* t) {
    static_cast<runtime_base*>(rt)->blocking().submit(t);
}

void check_not_in_runtime(const char* what) {
    const thread_context& ctx = this_thread_context();
    if (ctx.rt != nullptr && !ctx.blocking)
        throw runtime_error(std::string("weft::") + what +
                            " called from inside a runtime (a task, or a worker thread): "
                            "co_await the task instead, or spawn it and co_await the join_handle");
}

// --- runtime_base ----------------------------------------------------------------

void runtime_base::submit(task_header* t) noexcept {
    if (WEFT_UNLIKELY(!owned_.bind(t))) {
        // Shut down (or shutting down after a panic): the task never runs.
        task_ref_dec(t); // the registry's reference, which it never got
        cancel_unpolled(t);
        return;
    }
    t->sched->schedule(t, false); // this runtime, or a worker's pinned queue (spawn_local)
}

void runtime_base::on_task_panic(task_header*, std::exception_ptr e) noexcept {
    if (cfg_.on_unhandled_exception != unhandled_exception_policy::shutdown_runtime) return;
    {
        std::lock_guard lk(panic_mu_);
        if (panicked_.load(std::memory_order_relaxed)) return;
        panic_ = std::move(e);
        panicked_.store(true, std::memory_order_release);
    }
    abort_roots(); // first: a root woken by a cancelled child must not finish normally
    owned_.close();
    owned_.for_each([](task_header* t) { abort_task(t); });
}

void runtime_base::abort_roots() noexcept {
    std::lock_guard lk(panic_mu_);
    for (root_driver* d = roots_; d != nullptr; d = d->next)
        abort_task(d->root);
}

void runtime_base::abort_all_registered() noexcept {
    owned_.close();
    while (task_header* t = owned_.any()) {
        shutdown_task(t);
        task_ref_dec(t);
    }
}

void runtime_base::block_on(task_header* root) {
    parker local_parker;
    parker* p = block_on_parker();
    root_driver drv(p ? *p : local_parker);
    drv.root = root;
    root->sched = &drv;
    task_ref_dec(root); // the registry's reference: a root is not registered
    drv.set_ready();    // the root's first queue entry
    bool refused = is_shut_down() || panicked_.load(std::memory_order_acquire);
    if (!refused) {
        std::lock_guard lk(panic_mu_);
        drv.next = roots_;
        roots_ = &drv;
    }
    if (refused) {
        (void)drv.take_ready();
        cancel_unpolled(root);
    } else {
        {
            context_guard g(this, nullptr);
            watch_scope w(watchdog_.get(), "block_on");
            run_block_on(drv);
        }
        std::lock_guard lk(panic_mu_);
        for (root_driver** pp = &roots_; *pp != nullptr; pp = &(*pp)->next) {
            if (*pp == &drv) {
                *pp = drv.next;
                break;
            }
        }
    }
    if (panicked_.load(std::memory_order_acquire)) {
        std::exception_ptr e;
        {
            std::lock_guard lk(panic_mu_);
            e = panic_;
        }
        try {
            std::rethrow_exception(e);
        } catch (...) {
            std::throw_with_nested(runtime_error(
                "weft: the runtime shut down because a spawned task threw an exception "
                "(unhandled_exception_policy::shutdown_runtime)"));
        }
    }
    if (refused) throw runtime_error("weft: block_on on a runtime that has shut down");
}

} // namespace weft::detail

namespace weft {

// --- runtime_builder -------------------------------------------------------------

namespace {
[[noreturn]] void bad(const std::string& setting, const std::string& why) {
    throw std::invalid_argument("weft::runtime_builder::" + setting + ": " + why);
}
} // namespace

runtime_builder& runtime_builder::worker_threads(std::size_t n) {
    if (n == 0) bad("worker_threads", "must be at least 1");
    if (n > 4096) bad("worker_threads", "must be at most 4096, got " + std::to_string(n));
    cfg_.worker_threads = n;
    return *this;
}
runtime_builder& runtime_builder::max_blocking_threads(std::size_t n) {
    if (n == 0) bad("max_blocking_threads", "must be at least 1");
    cfg_.max_blocking_threads = n;
    return *this;
}
runtime_builder& runtime_builder::thread_keep_alive(std::chrono::nanoseconds d) {
    if (d.count() < 0) bad("thread_keep_alive", "must not be negative");
    cfg_.thread_keep_alive = d;
    return *this;
}
runtime_builder& runtime_builder::thread_name(std::string name) {
    if (name.empty()) bad("thread_name", "must not be empty");
    if (name.find('\0') != std::string::npos)
        bad("thread_name", "must not contain a NUL character");
    cfg_.thread_name = std::move(name);
    return *this;
}
runtime_builder& runtime_builder::thread_stack_size(std::size_t bytes) {
    if (bytes < 64 * 1024)
        bad("thread_stack_size", "must be at least 65536 bytes, got " + std::to_string(bytes));
    cfg_.thread_stack_size = bytes;
    return *this;
}
runtime_builder& runtime_builder::event_interval(std::uint32_t ticks) {
    if (ticks == 0) bad("event_interval", "must be at least 1");
    cfg_.event_interval = ticks;
    return *this;
}
runtime_builder& runtime_builder::global_queue_interval(std::uint32_t ticks) {
    if (ticks == 0) bad("global_queue_interval", "must be at least 1");
    cfg_.global_queue_interval = ticks;
    return *this;
}
runtime_builder& runtime_builder::start_paused(bool paused) {
    cfg_.start_paused = paused;
    return *this;
}
runtime_builder& runtime_builder::on_thread_start(std::function<void()> f) {
    cfg_.on_thread_start = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::on_thread_stop(std::function<void()> f) {
    cfg_.on_thread_stop = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::unhandled_exception(unhandled_exception_policy policy) {
    if (policy != unhandled_exception_policy::ignore &&
        policy != unhandled_exception_policy::shutdown_runtime)
        bad("unhandled_exception", "unknown policy value");
    cfg_.on_unhandled_exception = policy;
    return *this;
}

runtime_builder& runtime_builder::long_poll_threshold(std::chrono::nanoseconds d) {
    if (d < std::chrono::milliseconds(1)) bad("long_poll_threshold", "must be at least 1 ms");
    cfg_.long_poll_threshold = d;
    return *this;
}
runtime_builder& runtime_builder::on_long_poll(std::function<void(const long_poll_report&)> f) {
    cfg_.on_long_poll = std::move(f);
    return *this;
}
runtime_builder& runtime_builder::batch_writes(bool on) {
    cfg_.batch_writes = on;
    return *this;
}

runtime_builder& runtime_builder::yield_core_after(std::optional<std::chrono::microseconds> after) {
    if (after && after->count() < 0)
        bad("yield_core_after", "must not be negative, got " + std::to_string(after->count()) +
                                    " us (0 yields after every flush, std::nullopt never)");
    cfg_.yield_core_after = after;
    return *this;
}

runtime_builder& runtime_builder::rng_seed(std::uint64_t seed) {
    cfg_.rng_seed = seed;
    return *this;
}

runtime_builder& runtime_builder::dump_on_sigquit(bool on) {
    cfg_.dump_on_sigquit = on;
    return *this;
}

runtime runtime_builder::build() {
    detail::runtime_config cfg = cfg_;
    if (cfg.multi_thread) {
        if (cfg.start_paused)
            bad("start_paused",
                "the paused test clock needs a current_thread runtime (as in Tokio)");
        if (cfg.rng_seed)
            bad("rng_seed", "replayable scheduling needs a current_thread runtime: on a "
                            "multi-thread runtime the OS decides how workers interleave, and "
                            "no seed can replay that (docs/decisions/0041)");
        if (cfg.worker_threads == 0) {
            unsigned n = std::thread::hardware_concurrency();
            cfg.worker_threads = n == 0 ? 1 : n;
        }
        return runtime(detail::make_multi_thread(std::move(cfg)));
    }
    return runtime(detail::make_current_thread(std::move(cfg)));
}

// --- runtime -------------------------------------------------------------------------

runtime::runtime() : runtime(multi_thread().build()) {}

runtime& runtime::operator=(runtime&& o) noexcept {
    if (this != &o) {
        if (core_) core_->shutdown(std::chrono::nanoseconds(-1));
        core_ = std::move(o.core_);
    }
    return *this;
}

runtime::~runtime() {
    if (core_) core_->shutdown(std::chrono::nanoseconds(-1));
}

const std::shared_ptr<detail::runtime_core>& runtime::core() const {
    if (!core_) throw runtime_error("weft::runtime used after it was moved from or shut down");
    return core_;
}

void runtime::shutdown_timeout(std::chrono::nanoseconds d) && {
    if (d.count() < 0) d = std::chrono::nanoseconds(0);
    if (auto c = std::move(core_)) c->shutdown(d);
}

void runtime::shutdown_background() && {
    if (auto c = std::move(core_)) c->shutdown(std::chrono::nanoseconds(0));
}

runtime_handle runtime_handle::current() {
    return runtime_handle(detail::current_runtime_or_throw("runtime_handle::current()"));
}

} // namespace weft
