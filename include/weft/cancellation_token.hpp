// weft::cancellation_token: cooperative cancellation signalled across tasks,
// with parent/child trees (tokio_util::sync::CancellationToken).
//
//   weft::cancellation_token stop;
//   weft::spawn([stop]() -> weft::task<> {          // copies share the state
//       while (!stop.is_cancelled()) co_await work_a_bit();
//   });
//   weft::spawn([t = stop.child_token()]() -> weft::task<> {
//       co_await t.cancelled();                      // woken by stop.cancel()
//       cleanup();
//   });
//   stop.cancel();
//
// Semantics (tokio_util 0.7):
// - Copies of a token share one state; cancel() through any copy cancels it
//   for all of them, once and for good (later cancel() calls do nothing).
// - child_token() makes a token that is cancelled when its parent is (and
//   transitively, when any ancestor is); cancelling a child does not cancel
//   its parent or siblings. A child made from a cancelled token starts
//   cancelled.
// - `co_await t.cancelled()` completes when t is cancelled (at once if it
//   already is). It can be awaited any number of times, by any number of
//   tasks; a cancelled (dropped) wait just withdraws.
// - drop_guard() gives an RAII guard that cancels the token when destroyed,
//   unless disarm()ed.
// - Not here: run_until_cancelled(awaitable) (Tokio's
//   CancellationToken::run_until_cancelled); `select(t.cancelled(), work)`
//   (weft/select.hpp) does the same.
//
// Design and invariants:
// - Each token state is a heap node counted by the number of
//   cancellation_token objects referring to it (copies and the awaiters of
//   cancelled(), which hold a copy). All nodes of one tree share one lock
//   (a spin_mutex behind a shared_ptr, created with the root), which guards
//   every parent/child link and every node's waiter list, node state and
//   waker. `cancelled` is an atomic flag for the lock-free is_cancelled();
//   it only goes from false to true, under the lock.
// - Only live, uncancelled nodes are linked: cancel() marks the whole
//   subtree under the lock, unlinks it (every cancelled node ends with no
//   parent and no children), moves the wakers of its waiters out and wakes
//   them after unlocking.
// - When the last token of a node goes away, the node leaves the tree under
//   the lock: its children are re-parented to its parent (they stay
//   cancelled when an ancestor is), and it is freed. So a dropped child
//   never leaks, and a parent never points to freed memory.
// - A cancelled() awaiter destroyed while waiting unlinks its node under the
//   lock; a cancellation carries no value, so there is nothing to pass on.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <utility>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft {

class cancellation_token;
class cancellation_drop_guard;

namespace detail {

struct cancel_waiter {
    cancel_waiter* prev = nullptr;
    cancel_waiter* next = nullptr;
    waker wk;
    enum class state : unsigned char { idle, waiting, woken } st = state::idle;
};

struct cancel_node {
    explicit cancel_node(std::shared_ptr<spin_mutex> m) noexcept : mu(std::move(m)) {}

    std::atomic<std::size_t> handles{1};
    std::atomic<bool> cancelled{false};
    std::shared_ptr<spin_mutex> mu; // the tree's lock
    // Guarded by *mu:
    cancel_node* parent = nullptr;
    cancel_node* first_child = nullptr;
    cancel_node* prev_sibling = nullptr;
    cancel_node* next_sibling = nullptr;
    cancel_node* work_next = nullptr; // cancel()'s traversal stack
    cancel_waiter* head = nullptr;
    cancel_waiter* tail = nullptr;
};

} // namespace detail

/// The awaitable returned by cancellation_token::cancelled(); completes when
/// the token is cancelled. Holds a copy of the token.
class cancelled_awaiter : public detail::awaitable_tag {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::cancelled;
    /// Copies make a fresh wait on the same token: only an unawaited object
    /// may be copied (GCC 12 copies a named awaiter in `co_await a`).
    cancelled_awaiter(const cancelled_awaiter& o) noexcept;
    cancelled_awaiter& operator=(const cancelled_awaiter&) = delete;
    ~cancelled_awaiter();

    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() noexcept { registered_ = false; }

private:
    friend class cancellation_token;
    explicit cancelled_awaiter(detail::cancel_node* n) noexcept;
    detail::cancel_node* node_;
    detail::cancel_waiter w_;
    bool ready_ = false;
    bool registered_ = false;
};

/// A cancellation signal shared by its copies (see the top of this header).
///
///   weft::cancellation_token t;
///   auto child = t.child_token();
///   t.cancel();
///   assert(child.is_cancelled());
class cancellation_token {
public:
    /// A new, uncancelled root token (allocates its state).
    ///
    ///   weft::cancellation_token shutdown;
    cancellation_token();
    /// Copies share the state (there is no empty, moved-from token: a move
    /// copies).
    cancellation_token(const cancellation_token& o) noexcept : node_(o.node_) {
        node_->handles.fetch_add(1, std::memory_order_relaxed);
    }
    cancellation_token& operator=(const cancellation_token& o) noexcept {
        cancellation_token tmp(o);
        std::swap(node_, tmp.node_);
        return *this;
    }
    ~cancellation_token() { drop(node_); }

    /// Cancels this token and all its descendants; wakes their cancelled()
    /// waiters. Idempotent; callable from any thread.
    ///
    ///   t.cancel();
    void cancel() const noexcept;

    /// Whether the token is cancelled (by cancel() on it or an ancestor).
    ///
    ///   while (!t.is_cancelled()) co_await step();
    bool is_cancelled() const noexcept { return node_->cancelled.load(std::memory_order_acquire); }

    /// Awaitable that completes once the token is cancelled.
    ///
    ///   co_await t.cancelled();
    ///
    /// Cancel safety (`cancellation_token::cancelled`): cancel safe. Takes nothing.
    [[nodiscard]] cancelled_awaiter cancelled() const noexcept { return cancelled_awaiter(node_); }

    /// A new token cancelled when this one is (but not the other way round);
    /// cancelled from the start if this one already is.
    ///
    ///   auto per_request = server_token.child_token();
    cancellation_token child_token() const;

    /// An RAII guard that cancels this token when destroyed, unless disarmed.
    ///
    ///   auto guard = t.drop_guard();
    ///   co_await work();          // throws or is aborted: t is cancelled
    ///   guard.disarm();           // finished normally: keep t alive
    [[nodiscard]] cancellation_drop_guard drop_guard() const noexcept;

    /// Whether two tokens share one state (copies do; a child does not).
    friend bool operator==(const cancellation_token& a, const cancellation_token& b) noexcept {
        return a.node_ == b.node_;
    }

private:
    friend class cancelled_awaiter;
    friend class cancellation_drop_guard;
    explicit cancellation_token(detail::cancel_node* n) noexcept : node_(n) {}
    static void drop(detail::cancel_node* n) noexcept;
    detail::cancel_node* node_;
};

/// Cancels its token when destroyed, unless disarm()ed (tokio_util's DropGuard).
/// Move-only.
///
///   {
///       auto g = token.drop_guard();
///       co_await serve();
///   }   // token cancelled here, whether serve() returned, threw or was aborted
class cancellation_drop_guard {
public:
    cancellation_drop_guard(cancellation_drop_guard&& o) noexcept
        : node_(std::exchange(o.node_, nullptr)) {}
    cancellation_drop_guard& operator=(cancellation_drop_guard&& o) noexcept {
        if (this != &o) {
            reset();
            node_ = std::exchange(o.node_, nullptr);
        }
        return *this;
    }
    cancellation_drop_guard(const cancellation_drop_guard&) = delete;
    cancellation_drop_guard& operator=(const cancellation_drop_guard&) = delete;
    ~cancellation_drop_guard() { reset(); }

    /// Disarms the guard (it will not cancel) and gives the token back.
    /// Precondition: armed() (not moved from, not disarmed already).
    ///
    ///   weft::cancellation_token t = guard.disarm();
    cancellation_token disarm() noexcept;

    /// Whether the guard will cancel its token when destroyed.
    bool armed() const noexcept { return node_ != nullptr; }

private:
    friend class cancellation_token;
    explicit cancellation_drop_guard(detail::cancel_node* n) noexcept : node_(n) {}
    void reset() noexcept;
    detail::cancel_node* node_; // holds one handle
};

} // namespace weft
