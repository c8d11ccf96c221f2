// weft::cancellation_token (semantics and invariants in
// include/weft/cancellation_token.hpp).
#include "weft/cancellation_token.hpp"

#include <mutex>
#include <vector>

#include "weft/detail/intrusive_list.hpp"

namespace weft {

using detail::cancel_node;
using detail::cancel_waiter;
using detail::waker;
using lock_t = std::unique_lock<detail::spin_mutex>;

namespace {

void link_child(cancel_node* parent, cancel_node* c) noexcept {
    c->parent = parent;
    c->prev_sibling = nullptr;
    c->next_sibling = parent->first_child;
    if (parent->first_child) parent->first_child->prev_sibling = c;
    parent->first_child = c;
}

void unlink_from_parent(cancel_node* c) noexcept {
    cancel_node* p = c->parent;
    if (p == nullptr) return;
    if (c->prev_sibling)
        c->prev_sibling->next_sibling = c->next_sibling;
    else
        p->first_child = c->next_sibling;
    if (c->next_sibling) c->next_sibling->prev_sibling = c->prev_sibling;
    c->parent = c->prev_sibling = c->next_sibling = nullptr;
}

} // namespace

cancellation_token::cancellation_token()
    : node_(new cancel_node(std::make_shared<detail::spin_mutex>())) {}

void cancellation_token::drop(cancel_node* n) noexcept {
    if (n->handles.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    {
        std::shared_ptr<detail::spin_mutex> mu = n->mu; // outlives the node below
        std::lock_guard lk(*mu);
        // Leave the tree: the children move up to this node's parent (or
        // become roots). No waiter can be listed: awaiters hold a handle.
        cancel_node* parent = n->parent;
        unlink_from_parent(n);
        for (cancel_node* c = n->first_child; c != nullptr;) {
            cancel_node* next = c->next_sibling;
            if (parent != nullptr) {
                link_child(parent, c);
            } else {
                c->parent = c->prev_sibling = c->next_sibling = nullptr;
            }
            c = next;
        }
        n->first_child = nullptr;
        delete n; // mu stays alive through the local copy
    }
}

void cancellation_token::cancel() const noexcept {
    if (is_cancelled()) return;
    std::vector<waker> wakers;
    lock_t lk(*node_->mu);
    if (node_->cancelled.load(std::memory_order_relaxed)) return;
    unlink_from_parent(node_);
    // Depth-first over the subtree with an intrusive stack; every visited
    // node ends cancelled, with no links.
    cancel_node* stack = node_;
    node_->work_next = nullptr;
    while (stack != nullptr) {
        cancel_node* x = stack;
        stack = x->work_next;
        x->work_next = nullptr;
        x->cancelled.store(true, std::memory_order_release);
        for (cancel_waiter* w = x->head; w != nullptr;) {
            cancel_waiter* next = w->next;
            w->prev = w->next = nullptr;
            w->st = cancel_waiter::state::woken;
            try {
                wakers.push_back(std::move(w->wk));
            } catch (...) {
                std::move(w->wk).wake(); // out of memory: wake under the lock, not lose it
            }
            w = next;
        }
        x->head = x->tail = nullptr;
        for (cancel_node* c = x->first_child; c != nullptr;) {
            cancel_node* next = c->next_sibling;
            c->parent = c->prev_sibling = c->next_sibling = nullptr;
            c->work_next = stack;
            stack = c;
            c = next;
        }
        x->first_child = nullptr;
    }
    lk.unlock();
    for (waker& w : wakers)
        std::move(w).wake();
}

cancellation_token cancellation_token::child_token() const {
    auto* c = new cancel_node(node_->mu);
    std::lock_guard lk(*node_->mu);
    if (node_->cancelled.load(std::memory_order_relaxed))
        c->cancelled.store(true, std::memory_order_relaxed); // published by the lock / token copy
    else
        link_child(node_, c);
    return cancellation_token(c);
}

cancellation_drop_guard cancellation_token::drop_guard() const noexcept {
    node_->handles.fetch_add(1, std::memory_order_relaxed);
    return cancellation_drop_guard(node_);
}

// --- drop guard ------------------------------------------------------------------

cancellation_token cancellation_drop_guard::disarm() noexcept {
    return cancellation_token(std::exchange(node_, nullptr)); // adopts the handle
}

void cancellation_drop_guard::reset() noexcept {
    if (node_ == nullptr) return;
    cancellation_token t(std::exchange(node_, nullptr)); // adopts the handle
    t.cancel();
}

// --- cancelled() -------------------------------------------------------------------

cancelled_awaiter::cancelled_awaiter(cancel_node* n) noexcept : node_(n) {
    node_->handles.fetch_add(1, std::memory_order_relaxed);
}

cancelled_awaiter::cancelled_awaiter(const cancelled_awaiter& o) noexcept
    : cancelled_awaiter(o.node_) {}

bool cancelled_awaiter::await_ready() noexcept {
    if (!node_->cancelled.load(std::memory_order_acquire)) return false;
    ready_ = true;
    return detail::coop_proceed(); // else await_suspend yields first
}

bool cancelled_awaiter::await_suspend(std::coroutine_handle<> h) {
    if (ready_) {
        detail::suspend_and_yield(h);
        return true;
    }
    (void)detail::current_task_or_throw();
    std::lock_guard lk(*node_->mu);
    if (node_->cancelled.load(std::memory_order_relaxed)) return false;
    w_.wk = detail::suspend_waker(h);
    w_.st = cancel_waiter::state::waiting;
    detail::list_push_back(node_->head, node_->tail, &w_);
    registered_ = true;
    return true;
}

cancelled_awaiter::~cancelled_awaiter() {
    if (registered_) {
        std::lock_guard lk(*node_->mu);
        if (w_.st == cancel_waiter::state::waiting) {
            detail::list_unlink(node_->head, node_->tail, &w_);
        }
        w_.wk.reset();
    }
    cancellation_token::drop(node_);
}

} // namespace weft
