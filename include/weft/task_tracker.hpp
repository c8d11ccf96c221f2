// weft::task_tracker: wait for a group of tasks without collecting their
// outputs (tokio_util's TaskTracker).
//
//   weft::task_tracker tracker;
//   for (auto& conn : connections)
//       tracker.spawn(serve, std::move(conn));
//   tracker.close();              // no more tasks are expected...
//   co_await tracker.wait();      // ...so wait() can return once all finished
//
// Semantics (tokio_util 0.7):
// - spawn(f, args...) is weft::spawn plus tracking: it returns the task's
//   join_handle (which may be dropped: the task is tracked either way).
// - wait() completes when the tracker is closed *and* empty. Closing does
//   not stop spawns (a closed tracker still tracks new tasks; wait() then
//   waits for them too); reopen() undoes close().
// - A task counts as finished when its frame and its callable are gone:
//   the tracking token is destroyed last, after the user's callable and
//   arguments, whether the task returned, threw or was aborted. So after
//   wait() returns, nothing the tasks owned is alive.
// - Copies share the tracker (like Tokio's Clone); the shared state lives
//   until the last copy and the last tracked task are gone, so a tracker
//   may be dropped while its tasks run, and wait() may outlive the object
//   it was called on.
//
// Design: one atomic word, (tracked count << 1) | closed, so that close()
// and the last task's exit cannot both miss the "closed and empty" moment;
// waiters sleep on a sync::notify woken with notify_waiters at that moment.
// A waiter creates its notified() before checking the word, so a
// notify_waiters between the check and the co_await is not lost.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "weft/detail/spawn_site.hpp"
#include "weft/detail/task/spawn_into.hpp"
#include "weft/join_handle.hpp"
#include "weft/spawn.hpp"
#include "weft/sync/notify.hpp"
#include "weft/task.hpp"

namespace weft {

namespace detail {

struct tracker_state {
    std::atomic<std::size_t> word{0}; // (count << 1) | closed
    sync::notify done;

    void closed_and_empty() noexcept { done.notify_waiters(); }
};

/// One tracked task; destroyed last in the task (see the file comment).
class tracker_token {
public:
    explicit tracker_token(std::shared_ptr<tracker_state> s) noexcept : s_(std::move(s)) {
        s_->word.fetch_add(2, std::memory_order_relaxed);
    }
    tracker_token(tracker_token&& o) noexcept = default;
    tracker_token(const tracker_token&) = delete;
    tracker_token& operator=(const tracker_token&) = delete;
    tracker_token& operator=(tracker_token&&) = delete;
    ~tracker_token() {
        if (!s_) return;
        if (s_->word.fetch_sub(2, std::memory_order_acq_rel) == 3) s_->closed_and_empty();
    }

private:
    std::shared_ptr<tracker_state> s_;
};

/// The token and the user's callable in one coroutine parameter: members
/// are destroyed in reverse order, so the callable (captures, arguments)
/// dies before the token, on every path out of the task.
template <class C>
struct tracked_call {
    tracker_token token;
    C fn;
};

template <class C, class R>
task<R> run_tracked(tracked_call<C> call) {
    co_return co_await invoke_callable(std::move(call.fn));
}

/// A task given to spawn as the callable that returns it.
template <class R>
struct adopted_task {
    task<R> t;
    WEFT_CORO_WRAPPER task<R> operator()() { return std::move(t); }
};

/// The callable of tracker.spawn(f, args...), or of tracker.spawn(task).
template <class F, class... Args>
auto tracked_callable(F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0 && is_task<std::decay_t<F>>::value) {
        return adopted_task<typename std::decay_t<F>::value_type>{std::move(f)};
    } else {
        return make_callable(std::forward<F>(f), std::forward<Args>(args)...);
    }
}

} // namespace detail

/// Tracks spawned tasks so that one can wait for all of them (see the file
/// comment). Cheap to copy; copies share the tracker.
///
///   weft::task_tracker t;
///   t.spawn([]() -> weft::task<> { co_await work(); });
///   t.close();
///   co_await t.wait();
class task_tracker {
public:
    task_tracker() : s_(std::make_shared<detail::tracker_state>()) {}

    /// Spawns `f(args...)` (which returns task<R>) like weft::spawn and
    /// tracks it until it has finished and its callable is destroyed. The
    /// same overloads as weft::spawn (named(...) first, or a task<R>); the
    /// task records this call's location.
    ///
    ///   auto h = tracker.spawn(handle_client, std::move(socket));
    WEFT_DETAIL_LOCATED_SPAWN(spawn, spawn_at, )

    /// No more tasks are expected: wait() may complete once none is left.
    /// Returns false if it was closed already.
    ///
    ///   tracker.close();
    bool close() noexcept {
        std::size_t prev = s_->word.fetch_or(1, std::memory_order_acq_rel);
        if (prev == 0) s_->closed_and_empty();
        return (prev & 1) == 0;
    }
    /// Undoes close(). Returns false if it was open.
    ///
    ///   tracker.reopen();   // wait() waits again for close()
    bool reopen() noexcept { return (s_->word.fetch_and(~std::size_t{1}) & 1) != 0; }
    /// Whether close() was called (and not undone).
    bool is_closed() const noexcept { return (s_->word.load(std::memory_order_acquire) & 1) != 0; }
    /// Tasks still tracked (spawned and not yet fully destroyed).
    ///
    ///   log("{} connections open", tracker.size());
    std::size_t size() const noexcept { return s_->word.load(std::memory_order_acquire) >> 1; }
    bool empty() const noexcept { return size() == 0; }

    /// Completes when the tracker is closed and no task is tracked. May be
    /// awaited by several tasks at once, and after the tracker is gone.
    ///
    ///   tracker.close();
    ///   co_await tracker.wait();
    ///
    /// Cancel safety (`task_tracker::wait`): cancel safe. Takes nothing.
    WEFT_CORO_WRAPPER task<> wait() const { return wait_for(s_); }

private:
    template <class F, class... Args>
    auto spawn_at(std::uint32_t site, F&& f, Args&&... args) {
        auto fn = detail::tracked_callable(std::forward<F>(f), std::forward<Args>(args)...);
        using C = decltype(fn);
        using T = detail::callable_result_t<C>;
        static_assert(detail::is_task<T>::value,
                      "weft::task_tracker::spawn: the callable must return weft::task<R>");
        using R = typename T::value_type;
        return detail::spawn_into(detail::current_spawn_target(), site,
                                  detail::run_tracked<C, R>(detail::tracked_call<C>{
                                      detail::tracker_token(s_), std::move(fn)}));
    }

    static task<> wait_for(std::shared_ptr<detail::tracker_state> s) {
        for (;;) {
            // Created before the check: a notify_waiters that comes between
            // the check and the co_await still wakes it.
            auto woken = s->done.notified();
            if (s->word.load(std::memory_order_acquire) == 1) co_return;
            co_await woken;
        }
    }

    std::shared_ptr<detail::tracker_state> s_;
};

} // namespace weft
