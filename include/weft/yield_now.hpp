// weft::yield_now(): let the other ready tasks run.
//
//   for (int i = 0; i < n; ++i) {
//       crunch(i);
//       co_await weft::yield_now();   // behind every task that is ready now
//   }
//
// The task is put at the back of its worker's run queue (never in the LIFO
// slot), as Tokio's task::yield_now does, and only after the thread has next
// polled the I/O and time drivers (Tokio's defer list; decision 0040): the
// tasks ready now run first, and the sockets and timers that became ready
// meanwhile wake their tasks before it runs again. A task that loops on
// yield_now, the block_on task included, cannot keep sockets or timers from
// being served. (The
// thread inside a multi-thread block_on is not a driver: its yield returns
// at once, while the workers poll the drivers.) A spent cooperative budget
// yields the same way.
#pragma once

#include <coroutine>

#include "weft/detail/task/wake.hpp"

namespace weft {

namespace detail {
struct yield_awaiter : awaitable_tag {
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::yield_now;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { suspend_and_yield(h); }
    void await_resume() const noexcept {}
};
} // namespace detail

/// Awaitable: reschedules the current task behind the others ready to run.
///
/// Cancel safety (`yield_now`): cancel safe. Takes nothing.
inline detail::yield_awaiter yield_now() noexcept {
    return {};
}

} // namespace weft
