// weft::join_set<T>: a collection of spawned tasks, joined in the order
// they finish (Tokio's JoinSet).
//
//   weft::join_set<std::size_t> set;
//   for (auto& url : urls)
//       set.spawn(fetch_size, url);
//   while (true) {
//       auto r = co_await set.join_next();       // std::optional<result<T>>
//       if (!r) break;                           // the set is empty
//       if (*r) total += **r;                    // a value, or a join_error
//   }
//
// Semantics (Tokio 1.x):
// - spawn(...) spawns a task (as weft::spawn) that the set owns; it returns
//   an abort_handle, not a join_handle: outputs are collected through the
//   set. Every member's output type is T.
// - join_next() waits for *any* member to finish, removes it and gives its
//   result<T> (the value, or a join_error: cancelled / panic); nullopt when
//   the set is empty. join_next_with_id() adds the task's id;
//   try_join_next() never waits.
// - abort_all() aborts every member; they stay in the set until joined
//   (their results are then cancelled, or their value if they finished
//   first). detach_all() forgets every member: they keep running and their
//   outputs are dropped. shutdown() aborts all and waits for all.
// - Destroying the set aborts every task still in it (unlike a join_handle,
//   whose destruction detaches).
// - A join_set is used by one task at a time (Tokio's &mut self): its
//   members finish on any thread, but spawn / join_next / abort_all are not
//   meant to be called concurrently. A join_next cancelled (select, timeout)
//   takes nothing: the next join_next gets that result.
//
// Design (Tokio's IdleNotifiedSet, without its O(n) anywhere):
// - Each member has an `entry`: a heap object that is also a pseudo task
//   header (like join/select branches, weft/detail/task/branch.hpp). The
//   member's *join waker* names the entry, so the member's completion
//   (src/task/harness.cpp, complete()) wakes the entry; the entry's scheduler pushes
//   it on the set's ready list and wakes the task waiting in join_next. So
//   join_next is O(1): it pops the ready list, never scans the members.
// - Lists: `all` (every member; touched only by the owner, so abort_all
//   walks it without a lock) and `ready` (finished members; guarded by the
//   core's spin lock, pushed from any thread). `detached` marks, under the
//   lock, an entry the set gave up, so a late completion does not push it.
// - Lifetimes are counted: an entry holds a reference of the shared core
//   (a late completion may run after the set is gone), the set holds one
//   reference per entry, the member's join waker another.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/blocking.hpp"
#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/spawn_site.hpp"
#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/spawn_into.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/join_handle.hpp"
#include "weft/local_set.hpp"
#include "weft/result.hpp"
#include "weft/runtime.hpp"
#include "weft/spawn.hpp"
#include "weft/task.hpp"
#include "weft/task_id.hpp"

namespace weft {

namespace detail {

struct join_set_core;

/// One member of a join_set (see the file comment).
struct join_set_entry final : task_header {
    join_set_entry(join_set_core* c, task_header* m) noexcept;

    static void* operator new(std::size_t n) { return header_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { header_deallocate(p, n); }

    join_set_core* core; // counted
    task_header* member; // the join handle's reference; owned by the set
    join_set_entry* all_prev = nullptr;
    join_set_entry* all_next = nullptr; // owner only
    join_set_entry* ready_prev = nullptr;
    join_set_entry* ready_next = nullptr; // core->mu
    bool in_ready = false;                // core->mu
    bool detached = false;                // core->mu
};

struct join_set_core {
    spin_mutex mu;
    join_set_entry* ready_head = nullptr;
    join_set_entry* ready_tail = nullptr;
    waker waiter; // the task in join_next (mu)
    std::atomic<std::size_t> refs{1};

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    /// mu held.
    void push_ready(join_set_entry* e) noexcept;
    void unlink_ready(join_set_entry* e) noexcept;
};

/// Registers `e` as its member's join waker; if the member finished
/// already, puts `e` on the ready list.
void join_set_watch(join_set_entry* e) noexcept;
/// Gives up entry `e` (the owner's side): unlinks it from the ready list,
/// marks it detached, drops the member's join handle (detaching the task;
/// its output, if any, is dropped) and the set's reference on `e`.
void join_set_forget(join_set_entry* e) noexcept;

} // namespace detail

/// A set of spawned tasks whose outputs (all of type T) are collected in
/// the order the tasks finish. See the file comment.
///
///   weft::join_set<int> set;
///   set.spawn([]() -> weft::task<int> { co_return 1; });
///   set.spawn([]() -> weft::task<int> { co_return 2; });
///   int sum = 0;
///   while (auto r = set.try_join_next()) sum += r->value();  // or co_await join_next()
template <class T>
class join_set {
public:
    join_set() : core_(new detail::join_set_core) {}
    join_set(const join_set&) = delete;
    join_set& operator=(const join_set&) = delete;
    /// Aborts every task still in the set.
    ~join_set() {
        abort_and_forget_all(true);
        core_->release();
    }

    /// Spawns `f(args...)` (returning task<T>) into the set; the same
    /// overloads as weft::spawn (named(...) first, or a task<T>), and the
    /// task records this call's location.
    ///
    ///   weft::abort_handle a = set.spawn(fetch, url);
    WEFT_DETAIL_LOCATED_SPAWN(spawn, spawn_at, )

    /// Runs the plain callable `f(args...)` (returning T) on the blocking
    /// pool, as a member of the set; see weft::spawn_blocking.
    ///
    ///   std::string path = "data.bin";
    ///   set.spawn_blocking([path] { return checksum(path); });
    template <class F, class... Args>
    weft::abort_handle spawn_blocking(F&& f, Args&&... args) {
        auto h = weft::spawn_blocking(std::forward<F>(f), std::forward<Args>(args)...);
        static_assert(std::is_same_v<decltype(h), join_handle<T>>,
                      "weft::join_set<T>::spawn_blocking: the call's result type must be T");
        return adopt(std::move(h));
    }

    /// Spawns `f(args...)` as a local task (pinned to this thread, or onto
    /// the current local_set), as a member of the set; see weft::spawn_local.
    ///
    ///   set.spawn_local(use_thread_affine_state, std::ref(cache));
    WEFT_DETAIL_LOCATED_SPAWN(spawn_local, spawn_local_at, )

    /// Number of tasks in the set (running, or finished and not joined).
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    class join_next_awaiter;

    /// Awaitable: waits for the next task to finish, removes it from the set
    /// and gives its result; nullopt when the set is empty.
    ///
    ///   while (true) {
    ///       auto r = co_await set.join_next();
    ///       if (!r) break;
    ///       handle(std::move(*r));
    ///   }
    ///
    /// Cancel safety (`join_set::join_next`): cancel safe. A finished task's result stays in the
    /// set until a join_next returns it.
    join_next_awaiter join_next() noexcept { return join_next_awaiter(this); }

    /// Like join_next, with the id of the task the result belongs to.
    ///
    ///   auto r = co_await set.join_next_with_id();
    ///   if (r) log(r->first, r->second.has_value());
    ///
    /// Cancel safety (`join_set::join_next_with_id`): cancel safe. As join_next.
    task<std::optional<std::pair<task_id, result<T>>>> join_next_with_id() {
        task_id id;
        auto r = co_await join_next_awaiter(this, &id);
        if (!r.has_value()) co_return std::nullopt;
        co_return std::optional<std::pair<task_id, result<T>>>(std::in_place, id, std::move(*r));
    }

    /// The result of a task that has finished, without waiting; nullopt if
    /// none has (or the set is empty).
    ///
    ///   while (auto r = set.try_join_next()) consume(std::move(*r));
    std::optional<result<T>> try_join_next() {
        detail::join_set_entry* e = pop_ready();
        if (e == nullptr) return std::nullopt;
        return take(e, nullptr);
    }

    /// Aborts every task in the set. They stay in it: join_next gives their
    /// results (cancelled, or a value that won the race).
    ///
    ///   set.abort_all();
    ///   while (auto r = co_await set.join_next()) { /* drain */ }
    void abort_all() noexcept {
        for (detail::join_set_entry* e = all_head_; e != nullptr; e = e->all_next)
            detail::abort_task(e->member);
    }

    /// Removes every task from the set without aborting it: they keep
    /// running, their outputs are dropped.
    ///
    ///   set.detach_all();   // fire and forget
    void detach_all() noexcept { abort_and_forget_all(false); }

    /// Aborts every task and waits until all have finished; the set is empty
    /// afterwards.
    ///
    ///   co_await set.shutdown();
    ///
    /// Cancel safety (`join_set::shutdown`): cancel safe. Every task is aborted before its first
    /// suspension; tasks not yet reaped stay in the set.
    task<> shutdown() {
        abort_all();
        for (;;) {
            auto r = co_await join_next();
            if (!r.has_value()) break;
        }
    }

    /// Adds a task that was already spawned (its join_handle is consumed).
    /// Throws std::logic_error for an empty handle.
    ///
    ///   set.adopt(weft::spawn(compute));
    weft::abort_handle adopt(join_handle<T>&& h) {
        detail::task_header* m = detail::join_access::release(h);
        if (m == nullptr)
            throw std::logic_error("weft::join_set::adopt: empty join_handle (default-"
                                   "constructed, moved from or already awaited)");
        detail::join_set_entry* e;
        try {
            e = new detail::join_set_entry(core_, m);
        } catch (...) {
            detail::drop_join_handle(m); // detaches, as the handle would have
            throw;
        }
        weft::abort_handle a(m);
        e->all_next = all_head_;
        if (all_head_ != nullptr) all_head_->all_prev = e;
        all_head_ = e;
        ++size_;
        detail::join_set_watch(e);
        return a;
    }

    /// The awaitable of join_next().
    class join_next_awaiter : public detail::awaitable_tag {
    public:
        static constexpr weft::detail::await_kind weft_await_kind =
            weft::detail::await_kind::join_next;
        join_next_awaiter(const join_next_awaiter& o) noexcept : set_(o.set_), id_(o.id_) {}
        join_next_awaiter& operator=(const join_next_awaiter&) = delete;
        ~join_next_awaiter() {
            if (registered_) {
                // Cancelled while waiting (select, timeout, abort): withdraw.
                detail::waker dropped;
                std::lock_guard lk(set_->core_->mu);
                if (set_->core_->waiter.task() == task_ && set_->core_->waiter.token() == token_)
                    dropped = std::move(set_->core_->waiter);
            }
        }

        bool await_ready() {
            if (set_->size_ == 0) return true;
            {
                std::lock_guard lk(set_->core_->mu);
                ready_ = set_->core_->ready_head != nullptr;
            }
            return ready_ && detail::coop_proceed();
        }
        bool await_suspend(std::coroutine_handle<> h) {
            if (ready_) {
                detail::suspend_and_yield(h); // cooperative budget spent
                return true;
            }
            detail::waker w = detail::suspend_waker(h);
            task_ = w.task();
            token_ = w.token();
            std::lock_guard lk(set_->core_->mu);
            if (set_->core_->ready_head != nullptr) return false; // finished meanwhile
            set_->core_->waiter = std::move(w);
            registered_ = true;
            return true;
        }
        std::optional<result<T>> await_resume() {
            registered_ = false;
            if (set_->size_ == 0) return std::nullopt;
            detail::join_set_entry* e = set_->pop_ready();
            if (e == nullptr)
                throw std::logic_error("weft::join_set: join_next resumed with no finished task; "
                                       "a join_set must not be used by two tasks at once");
            return set_->take(e, id_);
        }

    private:
        friend class join_set;
        explicit join_next_awaiter(join_set* s, task_id* id = nullptr) noexcept
            : set_(s), id_(id) {}

        join_set* set_;
        task_id* id_;
        detail::task_header* task_ = nullptr;
        std::uint32_t token_ = 0;
        bool ready_ = false;
        bool registered_ = false;
    };

private:
    template <class... A>
    weft::abort_handle spawn_at(std::uint32_t site, A&&... a) {
        auto h = detail::spawn_into(detail::current_spawn_target(), site, std::forward<A>(a)...);
        static_assert(std::is_same_v<decltype(h), join_handle<T>>,
                      "weft::join_set<T>::spawn: the task's output type must be T");
        return adopt(std::move(h));
    }
    template <class... A>
    weft::abort_handle spawn_local_at(std::uint32_t site, A&&... a) {
        auto h =
            detail::spawn_into(detail::current_local_spawn_target(), site, std::forward<A>(a)...);
        static_assert(std::is_same_v<decltype(h), join_handle<T>>,
                      "weft::join_set<T>::spawn_local: the task's output type must be T");
        return adopt(std::move(h));
    }

    detail::join_set_entry* pop_ready() noexcept {
        std::lock_guard lk(core_->mu);
        detail::join_set_entry* e = core_->ready_head;
        if (e != nullptr) core_->unlink_ready(e);
        return e;
    }

    void unlink_all(detail::join_set_entry* e) noexcept {
        if (e->all_prev != nullptr)
            e->all_prev->all_next = e->all_next;
        else
            all_head_ = e->all_next;
        if (e->all_next != nullptr) e->all_next->all_prev = e->all_prev;
        --size_;
    }

    /// `e` came off the ready list: its member is COMPLETE (observed under
    /// the lock, after the member published it). Reads the output, drops
    /// the entry.
    result<T> take(detail::join_set_entry* e, task_id* id) {
        unlink_all(e);
        detail::task_header* m = e->member;
        if (id != nullptr) *id = task_id(m->id);
        alignas(result<T>) unsigned char buf[sizeof(result<T>)];
        m->vtable->read_output(m, buf);
        auto* r = std::launder(reinterpret_cast<result<T>*>(buf));
        result<T> out(std::move(*r));
        r->~result<T>();
        detail::join_set_forget(e);
        return out;
    }

    void abort_and_forget_all(bool abort) noexcept {
        while (detail::join_set_entry* e = all_head_) {
            if (abort) detail::abort_task(e->member);
            unlink_all(e);
            detail::join_set_forget(e);
        }
    }

    detail::join_set_core* core_;
    detail::join_set_entry* all_head_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace weft
