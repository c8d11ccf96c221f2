// The generator behind runtime_builder::rng_seed (decision 0041).
//
// A current-thread runtime built with a seed makes every choice that the
// runtime, not the program, gets to make with a seeded generator: which
// ready task runs next (scheduler/current_thread.cpp), the order in which
// one epoll_wait's events are dispatched (io/reactor.cpp), the order in
// which timers due at the same tick wake their tasks (time/driver.cpp), and
// where each pass of an unbiased select or join starts (branch.cpp, through
// thread_state::rng). Same seed, same program, same inputs: the same
// interleaving, run after run.
//
// Each of those components owns a generator of its own, seeded from the
// runtime's seed (split()): each is used under its component's own lock or
// on the driving thread only, so no two threads ever share one, and the
// stream each one sees depends only on the calls made to that component.
//
// splitmix64 (Steele, Lea, Flood 2014): one word of state, good statistical
// quality for this use, a handful of instructions per draw. Without a seed
// no generator exists and the components take their usual path (one
// predictable branch on a null pointer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace weft::detail {

__extension__ typedef unsigned __int128 seeded_rng_u128; // GCC and Clang

struct seeded_rng {
    explicit seeded_rng(std::uint64_t seed) noexcept : state(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /// A value in [0, n) (n > 0); Lemire's multiply-shift, no division.
    std::size_t below(std::size_t n) noexcept {
        return static_cast<std::size_t>(
            (static_cast<seeded_rng_u128>(next()) * static_cast<std::uint64_t>(n)) >> 64);
    }
    /// The seed of an independent generator for another component.
    std::uint64_t split() noexcept { return next(); }
    /// Fisher-Yates over `p[0, n)`.
    template <class T>
    void shuffle(T* p, std::size_t n) noexcept {
        for (std::size_t i = n; i > 1; --i)
            std::swap(p[i - 1], p[below(i)]);
    }

    std::uint64_t state;
};

} // namespace weft::detail
