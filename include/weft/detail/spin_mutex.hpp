// A small mutex for short critical sections: spin briefly, then sleep on a
// futex (Drepper's three-state mutex, "Futexes Are Tricky", with a bounded
// spin phase first).
//
// Why not std::mutex: glibc's default mutex goes to the kernel as soon as it
// is contended. The run queues and the task registry hold their locks for a
// few dozen instructions; with a worker completing tasks while another
// thread spawns, the futex round trips cost more than the work (perf on
// spawn_many_remote_idle: 30 % in pthread_mutex_lock/unlock and futex
// calls). A short spin usually sees the lock free again.
//
// States: 0 unlocked, 1 locked, 2 locked with (possible) sleepers. Satisfies
// Lockable, so std::lock_guard works.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

class spin_mutex {
public:
    void lock() noexcept {
        std::uint32_t c = 0;
        if (__builtin_expect(state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                                            std::memory_order_relaxed),
                             1))
            return;
        lock_slow();
    }
    bool try_lock() noexcept {
        std::uint32_t c = 0;
        return state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    void unlock() noexcept {
        if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
    }

private:
    void lock_slow() noexcept;
    void wake_one() noexcept;
    std::atomic<std::uint32_t> state_{0};
};

} // namespace weft::detail
