// Spawn sites: where a task was spawned, and its name, interned to a 24-bit
// index that the task keeps in its state word (detail/task/state.hpp), so that the
// 72-byte header needs no new field.
//
// A site is {std::source_location, name}. The table of sites is global,
// process-wide and append-only: an index, once handed out, names the same
// record until the process exits, so a dump or a watchdog report can read
// it without a lock (records live in fixed chunks published through atomic
// pointers; the index reaches the reader through the task's state word,
// written before the task was published). See
// docs/decisions/0027-spawn-sites.md.
//
// Cost on the spawn path: intern_site() looks the (location, name) pair up
// in a thread-local direct-mapped cache of 64 entries, keyed by the address
// behind the std::source_location (libstdc++ and libc++ wrap one pointer
// per call site) and the name's address; a hit is a few loads and compares.
// A miss takes a global mutex and a hash lookup by content, once per site
// and thread (or when two sites collide in the cache).
//
// Names: `named("literal")` takes a string with static storage duration
// (its constructor is consteval, so nothing else compiles) and costs what
// an unnamed spawn costs. `named(std::string)` copies a name built at run
// time into the table, deduplicated by content; the table keeps at most
// max_owned_names distinct ones, after which such tasks are recorded under
// the name "<too many names>" — a server that names each connection
// "conn-<id>" cannot grow the table without bound.
//
// WEFT_SPAWN_SITES=0 (a compile-time switch, used to measure the cost)
// records nothing: every task gets site 0, "unknown".
//
// WEFT_DETAIL_LOCATED_SPAWN writes the one overload ladder that every spawn
// entry point uses (weft::spawn, spawn_local, runtime, runtime_handle,
// local_set, join_set, task_tracker): the caller's location can only be
// captured by a defaulted trailing std::source_location parameter, which
// cannot follow a parameter pack, so each arity is its own overload
// (decision 0045).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <string_view>
#include <utility>

#include "weft/detail/config.hpp"

#ifndef WEFT_SPAWN_SITES
#define WEFT_SPAWN_SITES 1
#endif

namespace weft::detail {

/// One interned spawn site. Every pointer refers to storage that lives as
/// long as the process.
struct site_record {
    const char* file = "";
    const char* function = "";
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    const char* name = ""; // "" when the task has no name
};

/// Distinct run-time names (named(std::string)) the table keeps.
inline constexpr std::size_t max_owned_names = 65536;

/// The record of `index` (an index from intern_site; 0 is "unknown").
const site_record& site_at(std::uint32_t index) noexcept;

/// How many sites were interned (for tests and the dump).
std::uint32_t site_count() noexcept;

struct site_cache_entry {
    const void* key = nullptr;
    const char* name = nullptr;
    std::uint32_t index = 0;
};

inline constexpr std::size_t site_cache_size = 64;
constinit inline thread_local site_cache_entry site_cache[site_cache_size]{};

/// The slow path: interns under the table's lock and fills `slot`.
std::uint32_t intern_site_slow(const std::source_location& loc, const char* name,
                               site_cache_entry& slot) noexcept;
/// Interns a run-time name (copied, deduplicated, bounded).
std::uint32_t intern_site_owned(const std::source_location& loc, std::string_view name) noexcept;

/// The identity of a call site: the pointer inside std::source_location when
/// it is one pointer (libstdc++, libc++), else its file name's address
/// (the cache then only narrows the search; the slow path compares content).
inline const void* site_key(const std::source_location& loc) noexcept {
    if constexpr (sizeof(std::source_location) == sizeof(const void*)) {
        const void* p;
        std::memcpy(&p, &loc, sizeof p);
        return p;
    } else {
        return loc.file_name();
    }
}

/// The index of site {loc, name}; `name` has static storage duration (or is
/// nullptr: no name).
inline std::uint32_t intern_site(const std::source_location& loc,
                                 const char* name = nullptr) noexcept {
#if WEFT_SPAWN_SITES
    const void* key = site_key(loc);
    if constexpr (sizeof(std::source_location) == sizeof(const void*)) {
        // The key alone identifies the call site; a hit is a few instructions.
        std::uintptr_t h = (reinterpret_cast<std::uintptr_t>(key) >> 4) ^
                           (reinterpret_cast<std::uintptr_t>(name) >> 2);
        site_cache_entry& e = site_cache[(h ^ (h >> 6)) & (site_cache_size - 1)];
        if (WEFT_LIKELY(e.key == key && e.name == name)) return e.index;
        return intern_site_slow(loc, name, e);
    } else {
        return intern_site_slow(loc, name, site_cache[0]);
    }
#else
    (void)loc;
    (void)name;
    return 0;
#endif
}

} // namespace weft::detail

// The located-spawn ladder (decision 0045): declares the overloads of
// spawn function `NAME` (a member when expanded in a class, then with the
// member qualifiers `QUALS`), each forwarding to `IMPL(site, f, args...)`,
// where `site` is the interned spawn site:
//   NAME(f, [a1..a4])     f: weft::spawnable_callable; the caller's location
//   NAME(f, a1..a5, ...)  five or more arguments: site 0, "unknown"
//   NAME(named, f, ...)   the name and named's location, any arguments
//   NAME(task<R>)         a task already created; the caller's location
// Needs spawn.hpp (spawnable_callable) and observe.hpp (named).
#define WEFT_DETAIL_LOCATED_SPAWN(NAME, IMPL, QUALS)                                               \
    template <::weft::spawnable_callable F>                                                        \
    auto NAME(F&& f, ::std::source_location loc = ::std::source_location::current()) QUALS {       \
        return IMPL(::weft::detail::intern_site(loc), ::std::forward<F>(f));                       \
    }                                                                                              \
    template <::weft::spawnable_callable F, class A1>                                              \
    auto NAME(F&& f, A1&& a1, ::std::source_location loc = ::std::source_location::current())      \
        QUALS {                                                                                    \
        return IMPL(::weft::detail::intern_site(loc), ::std::forward<F>(f),                        \
                    ::std::forward<A1>(a1));                                                       \
    }                                                                                              \
    template <::weft::spawnable_callable F, class A1, class A2>                                    \
    auto NAME(F&& f, A1&& a1, A2&& a2,                                                             \
              ::std::source_location loc = ::std::source_location::current()) QUALS {              \
        return IMPL(::weft::detail::intern_site(loc), ::std::forward<F>(f),                        \
                    ::std::forward<A1>(a1), ::std::forward<A2>(a2));                               \
    }                                                                                              \
    template <::weft::spawnable_callable F, class A1, class A2, class A3>                          \
    auto NAME(F&& f, A1&& a1, A2&& a2, A3&& a3,                                                    \
              ::std::source_location loc = ::std::source_location::current()) QUALS {              \
        return IMPL(::weft::detail::intern_site(loc), ::std::forward<F>(f),                        \
                    ::std::forward<A1>(a1), ::std::forward<A2>(a2), ::std::forward<A3>(a3));       \
    }                                                                                              \
    template <::weft::spawnable_callable F, class A1, class A2, class A3, class A4>                \
    auto NAME(F&& f, A1&& a1, A2&& a2, A3&& a3, A4&& a4,                                           \
              ::std::source_location loc = ::std::source_location::current()) QUALS {              \
        return IMPL(::weft::detail::intern_site(loc), ::std::forward<F>(f),                        \
                    ::std::forward<A1>(a1), ::std::forward<A2>(a2), ::std::forward<A3>(a3),        \
                    ::std::forward<A4>(a4));                                                       \
    }                                                                                              \
    template <::weft::spawnable_callable F, class A1, class A2, class A3, class A4, class A5,      \
              class... More>                                                                       \
    auto NAME(F&& f, A1&& a1, A2&& a2, A3&& a3, A4&& a4, A5&& a5, More&&... more) QUALS {          \
        return IMPL(0, ::std::forward<F>(f), ::std::forward<A1>(a1), ::std::forward<A2>(a2),       \
                    ::std::forward<A3>(a3), ::std::forward<A4>(a4), ::std::forward<A5>(a5),        \
                    ::std::forward<More>(more)...);                                                \
    }                                                                                              \
    template <class F, class... Args>                                                              \
    auto NAME(const ::weft::named& name, F&& f, Args&&... args) QUALS {                            \
        return IMPL(name.site(), ::std::forward<F>(f), ::std::forward<Args>(args)...);             \
    }                                                                                              \
    template <class R>                                                                             \
    auto NAME(::weft::task<R> t WEFT_LIFETIMEBOUND,                                                \
              ::std::source_location loc = ::std::source_location::current()) QUALS {              \
        return IMPL(::weft::detail::intern_site(loc), ::std::move(t));                             \
    }
