// The join handle's side of a task: abort, the join-waker protocol (the
// field join_waker_* changes hands through JOIN_WAKER, see
// detail/task/state.hpp: the handle owns it while the bit is clear, the task
// while it is set and until it unsets it after COMPLETE), and dropping the
// handle. The task's side (waking the join waker on completion) is
// complete() in harness.cpp.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "task/harness.hpp"
#include "weft/join_handle.hpp"

namespace weft::detail {

// --- join handle and abort ---------------------------------------------------

void abort_task(task_header* t) noexcept {
    if (t->state.notified_and_cancel()) t->sched->schedule(t, false);
}

bool task_is_finished(const task_header* t) noexcept {
    return t->state.load().is_complete();
}

void drop_join_handle(task_header* t) noexcept {
    task_state::join_drop d = t->state.join_handle_dropped();
    if (d.drop_output) t->vtable->drop_output(t);
    if (d.drop_waker) destroy_join_waker(t);
    task_ref_dec(t);
}

bool register_join_waker(task_header* t, waker w) noexcept {
    state_snapshot s = t->state.load();
    if (s.is_complete()) return false;
    if (s.has_join_waker()) {
        // A waker from an earlier await is published; take the field back.
        if (!t->state.unset_join_waker()) return false; // completed meanwhile
    }
    destroy_join_waker(t);
    t->join_waker_token = w.token();
    t->join_waker_task = w.release();
    if (!t->state.set_join_waker()) {
        destroy_join_waker(t); // completed: the field is still ours
        return false;
    }
    return true;
}

void throw_join_twice() {
    throw std::logic_error("join_handle awaited twice: the first co_await took the task's output");
}

void join_resumed_early(const task_header* t) noexcept {
    std::fprintf(stderr,
                 "weft internal error: a join_handle awaiter was resumed before task %llu "
                 "completed; please report this with the program that shows it\n",
                 static_cast<unsigned long long>(t->id));
    std::abort();
}

void throw_join_empty() {
    throw std::logic_error("co_await on an empty join_handle (default-constructed or moved from)");
}

} // namespace weft::detail
