// runtime and runtime_handle, task ids, and the context helpers that the
// public templates call (spawn, spawn_blocking, block_on checks). The
// builder is in builder.cpp, the shared core in core.hpp/.cpp.
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/core.hpp"

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
    static_cast<runtime_impl*>(self)->runtime_impl::submit(t);
}
// (The exported functions below each build the target here: with -fPIC,
// GCC does not inline one exported function into another.)
spawn_target target_of(runtime_impl* rt, scheduler* sched) noexcept {
    return {sched, &submit_to_runtime, rt};
}
} // namespace

spawn_target runtime_target(runtime_impl* rt, scheduler* sched) noexcept {
    return target_of(rt, sched);
}

spawn_target runtime_spawn_target(runtime_core& rt) noexcept {
    auto* impl = static_cast<runtime_impl*>(&rt);
    return target_of(impl, impl);
}

spawn_target current_spawn_target() {
    runtime_impl* rt = this_thread_state().rt;
    if (WEFT_UNLIKELY(rt == nullptr))
        throw runtime_error("weft::spawn called outside a runtime: call it from a task, or use "
                            "runtime::spawn / runtime_handle::spawn / block_on");
    return target_of(rt, rt);
}

std::shared_ptr<runtime_core> current_runtime_or_throw(const char* what) {
    runtime_core* rt = this_thread_state().rt;
    if (rt == nullptr)
        throw runtime_error(std::string(what) +
                            " called outside a runtime: call it from a task or inside block_on");
    return rt->shared_from_this();
}

runtime_core* current_runtime_for_spawn_blocking() {
    runtime_core* rt = this_thread_state().rt;
    if (WEFT_UNLIKELY(rt == nullptr))
        throw runtime_error("weft::spawn_blocking called outside a runtime: call it from a task "
                            "or a blocking call, or use runtime::spawn_blocking / "
                            "runtime_handle::spawn_blocking");
    return rt;
}

void submit_blocking(runtime_core* rt, task_header* t) {
    static_cast<runtime_impl*>(rt)->blocking().submit(t);
}

void check_not_in_runtime(const char* what) {
    const thread_state& st = this_thread_state();
    if (st.rt != nullptr && !st.blocking)
        throw runtime_error(std::string("weft::") + what +
                            " called from inside a runtime (a task, or a worker thread): "
                            "co_await the task instead, or spawn it and co_await the join_handle");
}

} // namespace weft::detail

namespace weft {

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
