// Branches: the machinery under join, try_join and select.
//
// # The problem
//
// `co_await join(a, b)` runs `a` and `b` inside the current task, interleaved
// on its thread. Both may be suspended at the same time, each at its own leaf
// (a timer, a channel wait). A task has one resume point and one suspension
// token (decision 0002), so a waker that names the task cannot say *which*
// branch it wakes; and a C++ coroutine cannot be resumed "just to check":
// resuming a leaf that is not ready would run the code after its co_await.
//
// # Branch headers
//
// Each branch gets a `branch_header`: a `task_header` that is not a task.
// While a branch runs, `thread_context::current` points at its header, so
// every leaf inside the branch (they all go through suspend_waker and
// suspend_and_yield) records its resume point and suspension token *in the
// branch header* and gets a waker that names the branch. Interrupt scopes
// (time::timeout) likewise live on the branch's own stack, so timeouts in
// different branches never interleave on one stack. The spawned task stays
// in `thread_context::task` for cancellation and the cooperative budget.
//
// Waking a branch is waking a task whose scheduler is `branch_scheduler`:
// wake_task raises the branch's wake_token and sets its NOTIFIED bit, and
// the first such wake (NOTIFIED was clear) calls branch_scheduler::schedule,
// which wakes the branch's *parent* (the task, or the branch header of an
// enclosing join/select) with the parent's token for the whole join. The
// parent's poller then resumes the join's driver, which runs every branch
// whose NOTIFIED bit it finds set (a mini poll_task: token check, interrupt
// scopes, trampoline). NOTIFIED carries no reference for a branch: the
// reference handed to schedule() is dropped at once.
//
// # Lifetime
//
// Wakers may fire late, on any thread, after the branch was cancelled and
// the join's frame destroyed. So branch headers are heap objects, counted
// like tasks: the join holds one reference per branch, each waker one. The
// headers of one join share one allocation (`branch_block`), freed with the
// last reference; the block holds a counted reference to the parent. When a
// branch finishes or is cancelled its header is marked COMPLETE, so a late
// wake only drops its reference: it never reaches the parent.
//
// # Invariants
//
// - Only the thread polling the task (it holds RUNNING) touches a branch's
//   resume_point, suspend_token, scopes and the `done`/coroutine fields.
// - The parent's token for the join (`parent_token`) is taken before any
//   branch runs and never changes; re-parking the driver does not bump it,
//   so a stale resume of the driver is possible and harmless (it finds no
//   branch notified and parks again).
// - A branch's coroutine is destroyed (cancelled) before the join drops its
//   reference on the header, so leaves and scopes inside it may still use
//   the header in their destructors.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/task/wake.hpp"
#include "weft/task.hpp"

namespace weft::detail {

struct branch_block;

/// One branch of a join/select: a pseudo task header (see the file comment).
struct branch_header final : task_header {
    branch_header(branch_block* b) noexcept;

    branch_block* block;
    /// This branch's stack of interrupt scopes.
    interrupt_scope* scopes = nullptr;
    /// The branch's task<T> frame (owned by the branch_set).
    std::coroutine_handle<> coro;
    task_promise_base* promise = nullptr;
    /// The coroutine finished (it is at final_suspend).
    bool done = false;
};

/// The headers of one join/select, in one allocation.
struct branch_block {
    std::atomic<std::uint32_t> live;
    std::uint32_t count;
    /// A counted reference to the executor that runs the join (a task, or
    /// the branch header of an enclosing join), set when the join starts.
    task_header* parent = nullptr;
    std::uint32_t parent_token = 0;
    std::size_t bytes = 0;

    static constexpr std::size_t header_offset() noexcept {
        return (sizeof(branch_block) + alignof(branch_header) - 1) / alignof(branch_header) *
               alignof(branch_header);
    }
    branch_header* at(std::size_t i) noexcept {
        return std::launder(reinterpret_cast<branch_header*>(
            reinterpret_cast<unsigned char*>(this) + header_offset() + i * sizeof(branch_header)));
    }
};

/// Allocates a block of `n` headers, each holding one reference (the
/// branch_set's) and marked NOTIFIED so that the first pass starts them.
branch_block* branch_block_create(std::size_t n);

/// What stops a join: called when branch `i` finished; true = stop and
/// cancel the others.
class branch_set;
using branch_stop_fn = bool (*)(branch_set&, std::size_t) noexcept;

/// The state of one join/select, kept in its driver coroutine's frame.
class branch_set {
public:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    branch_set(std::size_t n, branch_stop_fn stop, bool biased)
        : block_(branch_block_create(n)), stop_(stop), biased_(biased) {}
    branch_set(const branch_set&) = delete;
    branch_set& operator=(const branch_set&) = delete;
    /// Cancels every branch still running (destroys it at its suspension
    /// point), destroys the finished frames, drops the headers.
    ~branch_set();

    /// Takes the frame of branch `i` (the set owns it from here on).
    template <class T>
    void adopt(std::size_t i, task<T>&& t) {
        auto h = t.release();
        if (!h)
            throw std::logic_error("weft::join/select: an operand is an empty task (moved "
                                   "from, or already awaited); pass a fresh one");
        branch_header* b = block_->at(i);
        b->coro = h;
        b->resume_point = h;
        b->promise = &h.promise();
    }

    std::size_t size() const noexcept { return block_->count; }
    branch_header* at(std::size_t i) const noexcept { return block_->at(i); }
    /// Every branch finished, or one stopped the set.
    bool complete() const noexcept { return stopped_by_ != npos || finished_ == block_->count; }
    /// The branch that stopped the set, or npos.
    std::size_t stopped_by() const noexcept { return stopped_by_; }

    template <class T>
    task_promise<T>& promise(std::size_t i) const noexcept {
        return std::coroutine_handle<task_promise<T>>::from_address(at(i)->coro.address())
            .promise();
    }

    /// One pass (see branch.cpp): starts or resumes the branches that were
    /// woken, in a random rotation unless biased. `h` is the driver
    /// coroutine. True: the driver suspends (the set is not complete).
    bool pass(std::coroutine_handle<> h);

private:
    void start(std::coroutine_handle<> h);

    branch_block* block_;
    branch_stop_fn stop_;
    bool biased_;
    std::size_t finished_ = 0;
    std::size_t stopped_by_ = npos;
};

/// The awaitable of the driver loop: `while (!set.complete()) co_await pass_awaiter{&set};`
struct pass_awaiter : awaitable_tag {
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::branches;
    branch_set* set;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return set->pass(h); }
    void await_resume() const noexcept {}
};

/// An elapsed timeout of task or branch `t` (src/task/harness.cpp).
std::coroutine_handle<> take_interrupt(task_header* t) noexcept;

/// A cheap per-thread pseudo-random number (xorshift), for the start of a pass.
std::uint32_t fast_random() noexcept;

// --- operands -------------------------------------------------------------------

/// An operand of join/select as a task<R>: a task as itself (moved in), an
/// lvalue awaitable by reference (it must outlive the co_await), an rvalue
/// awaitable moved into the branch's frame.
template <class A>
WEFT_CORO_WRAPPER auto as_branch(A&& a) {
    if constexpr (is_task<std::remove_cvref_t<A>>::value) {
        static_assert(!std::is_lvalue_reference_v<A>,
                      "weft::join/select: std::move a task in (a task is awaited once)");
        return std::move(a);
    } else {
        static_assert(weft_awaitable<A>, "weft::join/select: operands must be weft awaitables");
        return awaitable_as_task(std::forward<A>(a));
    }
}

template <class A>
using branch_result_t = typename decltype(as_branch(std::declval<A>()))::value_type;

/// What a branch's value becomes in a tuple or variant: void is monostate.
template <class T>
using branch_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
branch_value_t<T> take_branch_value(task_promise<T>& p) {
    if constexpr (std::is_void_v<T>)
        return std::monostate{};
    else
        return p.value();
}

/// Stop functions: a join stops on an exception, a select on any finish.
inline bool stop_on_exception(branch_set& s, std::size_t i) noexcept {
    return s.at(i)->promise->has_exception();
}
inline bool stop_on_finish(branch_set&, std::size_t) noexcept {
    return true;
}

template <class... T, std::size_t... I>
void adopt_all(branch_set& s, std::index_sequence<I...>, task<T>&... ts) {
    (s.adopt(I, std::move(ts)), ...);
}

/// Rethrows the exception of the branch that stopped the set, if any.
inline void rethrow_stopper(branch_set& s) {
    std::size_t i = s.stopped_by();
    if (i != branch_set::npos && s.at(i)->promise->has_exception())
        std::rethrow_exception(s.at(i)->promise->take_exception());
}

} // namespace weft::detail
