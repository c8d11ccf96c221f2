// The futex system call, which glibc does not wrap (the parker and
// spin_mutex sleep on it).
#pragma once

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace weft::detail {

inline long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val,
                  const struct timespec* ts) noexcept {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), op, val, ts, nullptr, 0);
}

} // namespace weft::detail
