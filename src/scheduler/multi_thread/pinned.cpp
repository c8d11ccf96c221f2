// The scheduler of tasks pinned to one worker (spawn_local on a worker,
// decision 0017). Every wake-up of a pinned task, from any thread, goes to
// its worker's `pinned` queue, which no other worker takes from; from
// another thread it also unparks the worker (it may be asleep). A task
// that yields on its own worker waits in `deferred` for the worker's next
// driver poll, as an unpinned one does.
#include "runtime/core.hpp"
#include "scheduler/multi_thread/worker.hpp"

namespace weft::detail::mt {

void pinned_scheduler::schedule(task_header* t, bool is_yield) noexcept {
    worker& w = *w_;
    const thread_state& st = this_thread_state();
    if (is_yield && st.leaf.yielded && st.rt == rt_ && st.driver == &w) {
        w.deferred.push(t); // as schedule(): back to `pinned` after the driver poll
        return;
    }
    if (!w.pinned.push(t)) {
        task_ref_dec(t); // shut down: the registry cancels the task
        return;
    }
    if (st.rt != rt_ || st.driver != &w) w.park.unpark();
}

// The runtime's own (the flavour overrides none of them): called directly.
bool pinned_scheduler::release(task_header* t) noexcept {
    return rt_->runtime_impl::release(t);
}
void pinned_scheduler::on_task_panic(task_header* t, std::exception_ptr e) noexcept {
    rt_->runtime_impl::on_task_panic(t, std::move(e));
}

} // namespace weft::detail::mt
