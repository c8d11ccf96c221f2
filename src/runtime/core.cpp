// The runtime core's methods: spawn into the registry, the panic policy,
// block_on (design in runtime/core.hpp).
#include "runtime/core.hpp"

namespace weft::detail {

void runtime_impl::submit(task_header* t) noexcept {
    if (WEFT_UNLIKELY(!owned_.bind(t))) {
        // Shut down (or shutting down after a panic): the task never runs.
        task_ref_dec(t); // the registry's reference, which it never got
        cancel_unpolled(t);
        return;
    }
    t->sched->schedule(t, false); // this runtime, or a worker's pinned queue (spawn_local)
}

void runtime_impl::on_task_panic(task_header*, std::exception_ptr e) noexcept {
    if (cfg_.on_unhandled_exception != unhandled_exception_policy::shutdown_runtime) return;
    {
        std::lock_guard lk(panic_mu_);
        if (panicked_.load(std::memory_order_relaxed)) return;
        panic_ = std::move(e);
        panicked_.store(true, std::memory_order_release);
    }
    abort_roots(); // first: a root woken by a cancelled child must not finish normally
    owned_.close();
    owned_.for_each([](task_header* t) { abort_task(t); });
}

void runtime_impl::abort_roots() noexcept {
    std::lock_guard lk(panic_mu_);
    for (root_driver* d = roots_; d != nullptr; d = d->next)
        abort_task(d->root);
}

void runtime_impl::abort_all_registered() noexcept {
    owned_.close();
    while (task_header* t = owned_.any()) {
        shutdown_task(t);
        task_ref_dec(t);
    }
}

void runtime_impl::block_on(task_header* root) {
    parker local_parker;
    parker* p = block_on_parker();
    root_driver drv(p ? *p : local_parker);
    drv.root = root;
    root->sched = &drv;
    task_ref_dec(root); // the registry's reference: a root is not registered
    drv.set_ready();    // the root's first queue entry
    bool refused = is_shut_down() || panicked_.load(std::memory_order_acquire);
    if (!refused) {
        std::lock_guard lk(panic_mu_);
        drv.next = roots_;
        roots_ = &drv;
    }
    if (refused) {
        (void)drv.take_ready();
        cancel_unpolled(root);
    } else {
        {
            context_guard g(this, nullptr);
            watch_scope w(watchdog_.get(), "block_on");
            run_block_on(drv);
        }
        std::lock_guard lk(panic_mu_);
        for (root_driver** pp = &roots_; *pp != nullptr; pp = &(*pp)->next) {
            if (*pp == &drv) {
                *pp = drv.next;
                break;
            }
        }
    }
    if (panicked_.load(std::memory_order_acquire)) {
        std::exception_ptr e;
        {
            std::lock_guard lk(panic_mu_);
            e = panic_;
        }
        try {
            std::rethrow_exception(e);
        } catch (...) {
            std::throw_with_nested(runtime_error(
                "weft: the runtime shut down because a spawned task threw an exception "
                "(unhandled_exception_policy::shutdown_runtime)"));
        }
    }
    if (refused) throw runtime_error("weft: block_on on a runtime that has shut down");
}

} // namespace weft::detail
