// join/select branches: the branch scheduler, the block of headers, and the
// driver's pass. See include/weft/detail/task/branch.hpp for the design.
#include "weft/detail/task/branch.hpp"

#include "runtime/thread_state.hpp"
#include "task/harness.hpp"
#include "util/seeded_rng.hpp"

#include <new>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task/state.hpp"

namespace weft::detail {

namespace {

/// Where a branch's first wake goes: to the join's parent.
class branch_scheduler final : public scheduler {
public:
    void schedule(task_header* t, bool) noexcept override {
        // We were handed one reference (NOTIFIED was clear); the parent's
        // reference is held by the block, which lives while we hold ours.
        branch_block* blk = static_cast<branch_header*>(t)->block;
        if (blk->parent != nullptr) wake_task(blk->parent, blk->parent_token, false);
        task_ref_dec(t);
    }
    bool release(task_header*) noexcept override { return false; }
    void on_task_panic(task_header*, std::exception_ptr) noexcept override {}
};

constinit branch_scheduler the_branch_scheduler{};

// The task_vtable of a branch header: only dealloc and scopes are ever
// called (a branch is never finished, joined or read like a task).
void branch_noop(task_header*) noexcept {}
void branch_read_noop(task_header*, void*) noexcept {}

void branch_dealloc(task_header* t) noexcept {
    branch_block* blk = static_cast<branch_header*>(t)->block;
    if (blk->live.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    // The last reference of the last header: free the block.
    task_header* parent = blk->parent;
    std::size_t bytes = blk->bytes;
    for (std::uint32_t i = 0; i < blk->count; ++i)
        blk->at(i)->~branch_header();
    blk->~branch_block();
    header_deallocate(blk, bytes);
    if (parent != nullptr) task_ref_dec(parent);
}

interrupt_scope*& branch_scopes(task_header* t) noexcept {
    return static_cast<branch_header*>(t)->scopes;
}

constexpr task_vtable branch_vtable = {&branch_noop,      &branch_noop,    &branch_noop,
                                       &branch_read_noop, &branch_dealloc, &branch_scopes};

/// Marks a branch finished for wakers: a late wake only drops its reference.
void seal(branch_header* b) noexcept {
    b->state.seal_branch();
}

/// Cancels a branch: destroys its frame at its suspension point (leaves
/// withdraw, nested joins and timeouts tear down), as abort would.
void drop_branch(branch_header* b) noexcept {
    if (!b->coro) return;
    thread_context& ctx = this_thread_context();
    task_header* prev = ctx.current;
    ctx.current = b;
    std::exchange(b->coro, nullptr).destroy();
    ctx.current = prev;
    seal(b);
}

/// A mini poll_task for one branch whose NOTIFIED bit we just cleared.
/// Returns whether the branch's coroutine finished; sets `yielded` when it
/// suspended asking to run again (yield_now, a spent budget).
bool run_branch(branch_header* b, bool& yielded) noexcept {
    thread_context& ctx = this_thread_context();
    task_header* prev_current = ctx.current;
    std::coroutine_handle<> prev_next = ctx.resume_next;
    ctx.current = b;
    ctx.yielded = false;
    std::coroutine_handle<> h = woken_resume_point(b);
    bool finished = false;
    for (;;) {
        if (!h) h = take_interrupt(b);
        if (!h) break;
        run_trampoline(ctx, h); // as in poll_task
        h = nullptr;
        if (b->coro.done()) {
            finished = true;
            break;
        }
    }
    yielded = ctx.yielded && !finished;
    if (yielded) {
        // suspend_and_yield set the branch's wake_token; run it next pass.
        b->state.set_branch_notified();
    }
    ctx.yielded = false;
    ctx.resume_next = prev_next;
    ctx.current = prev_current;
    return finished;
}

} // namespace

branch_header::branch_header(branch_block* b) noexcept
    : task_header(&branch_vtable, &the_branch_scheduler, 0, nullptr), block(b) {
    // The branch_set's reference; NOTIFIED so that the first pass starts it.
    state.init_branch();
}

branch_block* branch_block_create(std::size_t n) {
    std::size_t bytes = branch_block::header_offset() + n * sizeof(branch_header);
    void* mem = header_allocate(bytes);
    auto* blk = ::new (mem) branch_block{};
    blk->live.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
    blk->count = static_cast<std::uint32_t>(n);
    blk->bytes = bytes;
    for (std::size_t i = 0; i < n; ++i)
        ::new (static_cast<void*>(reinterpret_cast<unsigned char*>(blk) +
                                  branch_block::header_offset() + i * sizeof(branch_header)))
            branch_header(blk);
    return blk;
}

std::uint32_t fast_random() noexcept {
    // xorshift32, seeded per thread from its address and a counter.
    static std::atomic<std::uint32_t> seeds{0x9e3779b9u};
    constinit thread_local std::uint32_t x = 0;
    if (x == 0) {
        x = seeds.fetch_add(0x6d2b79f5u, std::memory_order_relaxed) ^
            static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(&x));
        if (x == 0) x = 1;
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

branch_set::~branch_set() {
    // Frames first (their destructors may still use the headers), then the
    // references: a header dies with its last waker.
    const std::uint32_t n = block_->count;
    for (std::uint32_t i = 0; i < n; ++i)
        drop_branch(block_->at(i));
    // The last of these may free the block: nothing reads it afterwards.
    for (std::uint32_t i = 0; i < n; ++i)
        task_ref_dec(block_->at(i));
}

void branch_set::start(std::coroutine_handle<> h) {
    task_header* exec = current_task_or_throw(); // the task, or an enclosing branch
    // One suspension of the executor for the whole join: its branches wake
    // it with this token. Taken before any branch runs, so that a branch
    // woken during the first pass already has a valid parent.
    exec->resume_point = h;
    std::uint32_t token = ++exec->suspend_token;
    task_ref_inc(exec);
    block_->parent = exec;
    block_->parent_token = token;
    for (std::uint32_t i = 0; i < block_->count; ++i)
        block_->at(i)->id = exec->id; // this_task::id() inside a branch
}

bool branch_set::pass(std::coroutine_handle<> h) {
    if (block_->parent == nullptr) start(h);
    task_header* exec = block_->parent;
    exec->resume_point = h;
    thread_state& st = this_thread_state();
    thread_context& ctx = st.leaf;
    bool saved_yield = ctx.yielded;
    bool any_yield = false;
    const std::uint32_t n = block_->count;
    std::uint32_t i = 0;
    if (!biased_) {
        // A seeded current-thread runtime picks the start (decision 0041).
        i = WEFT_UNLIKELY(st.rng != nullptr) ? static_cast<std::uint32_t>(st.rng->below(n))
                                             : fast_random() % n;
    }
    for (std::uint32_t k = 0; k < n; ++k, i = (i + 1 == n) ? 0 : i + 1) {
        branch_header* b = block_->at(i);
        if (b->done) continue;
        if (!b->state.load().is_notified()) continue;
        // Clear before running: a wake that lands while the branch runs sets
        // it again (and wakes the parent), so nothing is lost.
        b->state.take_branch_notified();
        bool yielded = false;
        if (!run_branch(b, yielded)) {
            any_yield |= yielded;
            continue;
        }
        b->done = true;
        seal(b);
        ++finished_;
        if (stop_(*this, i)) {
            stopped_by_ = i;
            break;
        }
    }
    if (complete()) {
        // Cancel the rest before the driver goes on: losers are torn down
        // at their suspension points before select returns.
        for (std::uint32_t j = 0; j < n; ++j)
            if (!block_->at(j)->done) drop_branch(block_->at(j));
        ctx.yielded = saved_yield;
        return false;
    }
    if (any_yield) {
        // A branch asked to run again: the executor must be resumed on its
        // next poll without a wake, as suspend_and_yield does for a leaf.
        exec->wake_token.store(exec->suspend_token, std::memory_order_relaxed);
        ctx.yielded = true;
    } else {
        ctx.yielded = saved_yield;
    }
    return true;
}

} // namespace weft::detail
