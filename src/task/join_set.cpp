// join_set entries: the pseudo task header a member's join waker names, and
// the owner-side bookkeeping. See include/weft/join_set.hpp for the design.
#include "weft/join_set.hpp"

#include "weft/detail/intrusive_list.hpp"
#include "weft/detail/task/state.hpp"

namespace weft::detail {

namespace {

/// A member finished: put its entry on the ready list, wake join_next.
class join_set_scheduler final : public scheduler {
public:
    void schedule(task_header* t, bool) noexcept override {
        auto* e = static_cast<join_set_entry*>(t);
        join_set_core* c = e->core; // alive: e holds a reference
        waker w;
        {
            std::lock_guard lk(c->mu);
            if (!e->detached && !e->in_ready) {
                c->push_ready(e);
                w = std::move(c->waiter);
            }
        }
        std::move(w).wake();
        task_ref_dec(t); // the reference wake_task handed us
    }
    bool release(task_header*) noexcept override { return false; }
    void on_task_panic(task_header*, std::exception_ptr) noexcept override {}
};

constinit join_set_scheduler the_join_set_scheduler{};

void entry_noop(task_header*) noexcept {}
void entry_read_noop(task_header*, void*) noexcept {}
void entry_dealloc(task_header* t) noexcept {
    auto* e = static_cast<join_set_entry*>(t);
    join_set_core* c = e->core;
    delete e;
    c->release();
}
interrupt_scope*& entry_scopes(task_header*) noexcept {
    // Never called: nothing runs "inside" an entry.
    static constinit thread_local interrupt_scope* none = nullptr;
    return none;
}

constexpr task_vtable entry_vtable = {&entry_noop,      &entry_noop,    &entry_noop,
                                      &entry_read_noop, &entry_dealloc, &entry_scopes};

} // namespace

join_set_entry::join_set_entry(join_set_core* c, task_header* m) noexcept
    : task_header(&entry_vtable, &the_join_set_scheduler, m->id, nullptr), core(c), member(m) {
    // One reference: the set's. The member's join waker takes another.
    state.init_join_set_entry();
    c->refs.fetch_add(1, std::memory_order_relaxed);
}

void join_set_core::push_ready(join_set_entry* e) noexcept {
    e->ready_next = nullptr;
    e->ready_prev = ready_tail;
    if (ready_tail != nullptr)
        ready_tail->ready_next = e;
    else
        ready_head = e;
    ready_tail = e;
    e->in_ready = true;
}

void join_set_core::unlink_ready(join_set_entry* e) noexcept {
    if (e->ready_prev != nullptr)
        e->ready_prev->ready_next = e->ready_next;
    else
        ready_head = e->ready_next;
    if (e->ready_next != nullptr)
        e->ready_next->ready_prev = e->ready_prev;
    else
        ready_tail = e->ready_prev;
    e->ready_prev = e->ready_next = nullptr;
    e->in_ready = false;
}

void join_set_watch(join_set_entry* e) noexcept {
    task_ref_inc(e); // the join waker's reference
    if (register_join_waker(e->member, waker(e, 0))) return;
    // The member finished before we could watch it (the waker was dropped).
    std::lock_guard lk(e->core->mu);
    if (!e->in_ready) e->core->push_ready(e);
}

void join_set_forget(join_set_entry* e) noexcept {
    {
        std::lock_guard lk(e->core->mu);
        if (e->in_ready) e->core->unlink_ready(e);
        e->detached = true;
    }
    // Drops the join handle's reference; clears the join waker (its
    // reference on `e`) unless the member, completing, owns the field: it
    // then wakes `e` (detached: a no-op) and drops it itself.
    drop_join_handle(std::exchange(e->member, nullptr));
    task_ref_dec(e); // the set's
}

} // namespace weft::detail
