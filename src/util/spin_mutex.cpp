// spin_mutex's slow path (include/weft/detail/spin_mutex.hpp): spin a
// little, then sleep on a futex.
#include "weft/detail/spin_mutex.hpp"

#include <linux/futex.h>

#include "util/futex.hpp"

namespace weft::detail {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}
// Spins before sleeping; about a microsecond on current x86. Value picked
// by measuring spawn_many_remote_idle; tune with data.
constexpr int spin_limit = 128;
} // namespace

void spin_mutex::lock_slow(spin_style style) noexcept {
    // Both styles spin about as long (spin_limit pauses) before sleeping;
    // backoff looks at the lock word less often (backoff_spin_mutex).
    int pauses = 1;
    for (int i = 0; i < spin_limit; i += pauses) {
        for (int k = 0; k < pauses; ++k)
            cpu_relax();
        if (style == spin_style::backoff && pauses < 16) pauses <<= 1;
        std::uint32_t c = state_.load(std::memory_order_relaxed);
        if (c == 0 && state_.compare_exchange_weak(c, 1, std::memory_order_acquire,
                                                   std::memory_order_relaxed))
            return;
    }
    // Announce a sleeper (2) and sleep until the holder's unlock wakes us.
    while (state_.exchange(2, std::memory_order_acquire) != 0)
        futex(&state_, FUTEX_WAIT_PRIVATE, 2, nullptr);
}

void spin_mutex::wake_one() noexcept {
    futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

} // namespace weft::detail
