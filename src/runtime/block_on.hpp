// block_on's root driver. The root task is created by the caller
// (runtime.hpp) and polled on the calling thread, never by a worker. Its
// scheduler is a root_driver on block_on's stack (runtime_impl::block_on,
// runtime/core.cpp): waking the root sets `ready` and unparks the calling
// thread. The root is not in the registry (runtime shutdown does not abort
// it) and its exception goes to block_on's caller, not to the
// unhandled-exception policy.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>

#include "park/parker.hpp"
#include "runtime/thread_state.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

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
        // leaf.yielded: the root suspended in a yield (not merely woken
        // during its poll, which also comes here as a yield).
        if (is_yield) {
            const thread_state& st = this_thread_state();
            if (st.leaf.yielded && st.driver != nullptr &&
                st.driver == defer_on.load(std::memory_order_relaxed)) {
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

    root_driver* next = nullptr; // in runtime_impl's list of active roots
    task_header* root = nullptr;
    /// The driving loop (thread_state::driver) whose yields are deferred,
    /// or null. Atomic: a dump on another thread may reschedule the root.
    std::atomic<scheduler_context*> defer_on{nullptr};

private:
    parker& parker_;
    std::atomic<bool> ready_{false};
    bool yielded_ = false; // touched only by the thread that drives (defer_on)
};

} // namespace weft::detail
