// The long-poll watchdog (design in observe/watchdog.hpp).
#include <iostream>
#include <string>

#include "observe/watchdog.hpp"
#include "runtime/thread_state.hpp"
#include "util/thread.hpp"

namespace weft::detail {

watchdog::watchdog(std::chrono::nanoseconds threshold,
                   std::function<void(const long_poll_report&)> cb,
                   std::function<task_header*(task_header*)> find)
    : threshold_(threshold), report_(std::move(cb)), find_(std::move(find)) {
    if (!report_) report_ = [](const long_poll_report& r) { std::cerr << r << std::endl; };
    thread_ = std::thread([this] {
        set_thread_name("weft-watchdog");
        run();
    });
}

watchdog::~watchdog() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

poll_slot* watchdog::acquire(std::string label) {
    std::lock_guard lk(mu_);
    for (poll_slot& s : slots_) {
        if (!s.in_use) {
            s.in_use = true;
            s.label = std::move(label);
            return &s;
        }
    }
    poll_slot& s = slots_.emplace_back();
    s.in_use = true;
    s.label = std::move(label);
    return &s;
}

void watchdog::release(poll_slot* s) noexcept {
    std::lock_guard lk(mu_);
    s->current.store(nullptr, std::memory_order_relaxed);
    s->in_use = false;
    s->seen_task = nullptr;
}

void watchdog::run() {
    auto period = std::max<std::chrono::nanoseconds>(threshold_ / 4, std::chrono::milliseconds(1));
    std::unique_lock lk(mu_);
    while (!stop_) {
        cv_.wait_for(lk, period, [&] { return stop_; });
        if (stop_) break;
        auto now = std::chrono::steady_clock::now();
        std::vector<long_poll_report> found;
        for (poll_slot& s : slots_) {
            if (!s.in_use) continue;
            check(s, now, found);
        }
        if (found.empty()) continue;
        lk.unlock(); // the callback may take its time; threads entering the runtime need mu_
        for (const long_poll_report& r : found)
            report_(r);
        lk.lock();
    }
}

void watchdog::check(poll_slot& s, std::chrono::steady_clock::time_point now,
                     std::vector<long_poll_report>& out) {
    task_header* cur = s.current.load(std::memory_order_relaxed);
    std::uint64_t seq = s.seq.load(std::memory_order_relaxed);
    if (cur != s.seen_task || seq != s.seen_seq) {
        s.seen_task = cur;
        s.seen_seq = seq;
        s.since = now;
        return;
    }
    if (cur == nullptr || s.reported_seq == seq || now - s.since < threshold_) return;
    // Still in the same poll. Find the task without dereferencing `cur`.
    task_header* t = find_(cur);
    if (t == nullptr) return; // finished meanwhile
    long_poll_report r;
    r.id = task_id(t->id);
    r.site = make_spawn_site(t->state.load().site());
    r.thread = s.label;
    r.elapsed = now - s.since;
    bool same = s.current.load(std::memory_order_relaxed) == cur &&
                s.seq.load(std::memory_order_relaxed) == seq;
    task_ref_dec(t);
    if (!same) return;
    s.reported_seq = seq;
    out.push_back(std::move(r));
}

watch_scope::watch_scope(watchdog* w, std::string label) : w_(w) {
    if (w_ == nullptr) return;
    slot_ = w_->acquire(std::move(label));
    thread_state& st = this_thread_state();
    saved_ = st.watch;
    st.watch = slot_;
}

watch_scope::~watch_scope() {
    if (w_ == nullptr) return;
    this_thread_state().watch = saved_;
    w_->release(slot_);
}

} // namespace weft::detail
