// The long-poll watchdog (runtime_builder::long_poll_threshold).
//
// Hot path: each thread that polls tasks (a worker, the thread in block_on)
// owns a poll_slot while the watchdog exists. poll_task stores the task it
// is about to poll into `current` and bumps `seq` (two relaxed stores by
// the owning thread, no RMW, no clock read), and clears `current` when the
// poll ends. Without a watchdog, thread_state::watch is null and
// poll_task pays one predictable branch.
//
// The watchdog thread samples every slot every threshold / 4. A slot whose
// (current, seq) pair is non-null and unchanged for at least the threshold
// is in one long poll. To name the task it must not dereference `current`
// blindly (the task may have finished and been freed): it looks the
// pointer up in the runtime's registry (or its block_on roots) under their
// locks, without dereferencing it, and takes a reference there. It then
// reads the id and spawn site, re-reads the slot (same pair: still the same
// poll of the same task) and reports once per (slot, seq).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weft/detail/task/wake.hpp"
#include "weft/observe.hpp"

namespace weft::detail {

struct poll_slot {
    std::atomic<task_header*> current{nullptr};
    std::atomic<std::uint64_t> seq{0};
    std::string label; // "worker 3", "block_on"
    bool in_use = false;
    // The watchdog's own bookkeeping (its thread only).
    task_header* seen_task = nullptr;
    std::uint64_t seen_seq = 0;
    std::chrono::steady_clock::time_point since{};
    std::uint64_t reported_seq = ~std::uint64_t{0};

    void enter(task_header* t) noexcept {
        current.store(t, std::memory_order_relaxed);
        seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void leave() noexcept { current.store(nullptr, std::memory_order_relaxed); }
};

class watchdog {
public:
    /// `find`: given a task pointer (not to be dereferenced), returns it with
    /// a reference taken if it is a live task of the runtime, else nullptr.
    watchdog(std::chrono::nanoseconds threshold, std::function<void(const long_poll_report&)> cb,
             std::function<task_header*(task_header*)> find);
    ~watchdog();
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    poll_slot* acquire(std::string label);
    void release(poll_slot* s) noexcept;

private:
    void run();
    void check(poll_slot& s, std::chrono::steady_clock::time_point now,
               std::vector<long_poll_report>& out);

    std::chrono::nanoseconds threshold_;
    std::function<void(const long_poll_report&)> report_;
    std::function<task_header*(task_header*)> find_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::deque<poll_slot> slots_; // guarded by mu_; addresses are stable
    std::thread thread_;
};

/// Gives the calling thread a watchdog slot for a scope (no-op without a
/// watchdog). Construct after the thread's context_guard.
class watch_scope {
public:
    watch_scope(watchdog* w, std::string label);
    ~watch_scope();
    watch_scope(const watch_scope&) = delete;
    watch_scope& operator=(const watch_scope&) = delete;

private:
    watchdog* w_;
    poll_slot* slot_ = nullptr;
    poll_slot* saved_ = nullptr;
};

} // namespace weft::detail
