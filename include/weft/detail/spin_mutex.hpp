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
        lock_slow(spin_style::fixed);
    }
    bool try_lock() noexcept {
        std::uint32_t c = 0;
        return state_.compare_exchange_strong(c, 1, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    void unlock() noexcept {
        if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
    }

protected:
    enum class spin_style { fixed, backoff };
    void lock_slow(spin_style style) noexcept;

private:
    void wake_one() noexcept;
    std::atomic<std::uint32_t> state_{0};
};

/// A spin_mutex whose spin phase backs off: 1, 2, 4 ... 16 pauses between
/// looks at the lock word, so a waiter reads the contended line less often
/// while the holder works. For a lock that busy workers hand back and forth
/// all the time: the mpsc channel. Not the default: on the blocking pool
/// (more threads than cores) it was slower. Decision 0032 has the figures.
class backoff_spin_mutex : public spin_mutex {
public:
    void lock() noexcept {
        if (__builtin_expect(try_lock(), 1)) return;
        lock_slow(spin_style::backoff);
    }
};

} // namespace weft::detail
