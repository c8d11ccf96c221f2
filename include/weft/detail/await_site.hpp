// Where a coroutine waits: the kind of the awaitable and the co_await's line.
//
// # Why
//
// runtime_handle::dump() shows, for each idle task, the chain of coroutines
// it is suspended in and, for each, the co_await it stopped at: "sleep at
// main.cpp:30", "task at main.cpp:52". The dump reads this from the frames
// themselves (it holds the task's RUNNING bit meanwhile, decision 0028), so
// each task<> promise must carry it.
//
// # Cost: one store per co_await, no bytes
//
// task_promise::await_transform takes a defaulted `const void*` argument,
// __builtin_source_location() (the pointer behind std::source_location,
// which both GCC and Clang provide): a scalar, so no frame slot (a
// std::source_location temporary costs 16 bytes per frame under GCC 12,
// which keeps every temporary of a co_await expression in the frame). The
// awaitable's kind is a compile-time constant of its type. Both go into one
// word, `site | kind << 48 | 1`, stored where the promise keeps its
// exception once the coroutine has finished (task.hpp, decision 0030).
//
// # Invariants
//
//   - The site pointer is 8-aligned and below 2^48 (user-space addresses on
//     x86_64 and AArch64): bits 1-2 and 48-63 are free. Bit 0 says "this is
//     a site, not an exception_ptr".
//   - Only the thread holding the task's RUNNING bit reads or writes it.
#pragma once

#include <cstdint>
#include <source_location>
#include <type_traits>

namespace weft::detail {

/// What a coroutine awaits. One per weft awaitable type (each declares
/// `static constexpr await_kind weft_await_kind`); add a value here and a
/// name in await_kind_name (src/observe.cpp) for a new awaitable.
enum class await_kind : std::uint16_t {
    unknown = 0,
    task,           // co_await some_task(...)
    join_handle,    // co_await handle (a spawned task or blocking call)
    yield_now,      // co_await weft::yield_now()
    sleep,          // weft::time::sleep / sleep_until / interval::tick
    timeout,        // weft::time::timeout
    notify,         // notify::notified()
    semaphore,      // semaphore::acquire (and rw_lock read/write)
    mutex,          // mutex::lock()
    barrier,        // barrier::wait()
    oneshot_recv,   // co_await oneshot receiver
    oneshot_closed, // oneshot sender::closed()
    mpsc_send,      // mpsc sender::send
    mpsc_reserve,   // mpsc sender::reserve
    mpsc_recv,      // mpsc receiver::recv
    broadcast_recv, // broadcast receiver::recv
    watch_changed,  // watch receiver::changed
    cancelled,      // cancellation_token::cancelled()
    join_next,      // join_set::join_next()
    branches,       // join / select waiting for their branches
    io_readiness,   // a socket waiting to become readable or writable
    socket_send,    // a socket write waiting for its thread's batch (send_batch.hpp)
    count_
};

/// "sleep", "mpsc recv", ...; "unknown" for a value out of range.
const char* await_kind_name(await_kind k) noexcept;

template <class A>
constexpr await_kind await_kind_of() noexcept {
    using D = std::remove_cvref_t<A>;
    if constexpr (requires { D::weft_await_kind; })
        return D::weft_await_kind;
    else
        return await_kind::unknown;
}

inline constexpr std::uintptr_t await_site_tag = 1;
inline constexpr unsigned await_kind_shift = 48;
inline constexpr std::uintptr_t await_site_mask = (std::uintptr_t{1} << await_kind_shift) - 1;

/// The word await_transform stores: `site` (from __builtin_source_location)
/// plus the kind of A. On a 32-bit target there is no room for the kind.
template <class A>
inline std::uintptr_t pack_await_site(const void* site) noexcept {
    std::uintptr_t w = reinterpret_cast<std::uintptr_t>(site) | await_site_tag;
    if constexpr (sizeof(std::uintptr_t) == 8)
        w |= std::uintptr_t{static_cast<std::uint16_t>(await_kind_of<A>())} << await_kind_shift;
    return w;
}

/// The two halves of a stored word (see pack_await_site); {} for a word
/// that is not a site.
struct await_site {
    std::source_location where; // default-constructed ("") when unknown
    await_kind kind = await_kind::unknown;
    bool known = false;
};
await_site unpack_await_site(std::uintptr_t word) noexcept;

} // namespace weft::detail
