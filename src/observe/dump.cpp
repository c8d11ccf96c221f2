// The task dump (runtime::dump, include/weft/observe.hpp): a snapshot of
// every live task of a runtime with its state, spawn site and the chain of
// awaits it is suspended in, and the text form of dumps and long-poll
// reports (docs/observability.md).
#include <iostream>
#include <sstream>
#include <string>

#include "observe/symbolize.hpp"
#include "runtime/core.hpp"
#include "task/harness.hpp"

namespace weft {

namespace {

std::string_view base_name(std::string_view file) {
    auto slash = file.rfind('/');
    return slash == std::string_view::npos ? file : file.substr(slash + 1);
}

void print_site(std::ostream& os, const spawn_site& s) {
    if (s.file.empty()) {
        os << "spawned at an unknown location";
        return;
    }
    os << "spawned at " << base_name(s.file) << ':' << s.line;
}

} // namespace

std::string runtime_dump::to_string() const {
    std::ostringstream os;
    os << *this;
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const runtime_dump& d) {
    os << "weft: " << d.tasks.size() << (d.tasks.size() == 1 ? " live task\n" : " live tasks\n");
    for (const task_snapshot& t : d.tasks) {
        os << "  task " << t.id;
        if (!t.site.name.empty()) os << " \"" << t.site.name << '"';
        os << ' ' << weft::to_string(t.state) << ", ";
        print_site(os, t.site);
        if (!t.suspended_in.empty()) os << ", suspended in " << t.suspended_in;
        os << '\n';
        for (const await_frame& f : t.awaiting) {
            os << "      awaiting " << f.kind;
            if (!f.file.empty()) os << " at " << base_name(f.file) << ':' << f.line;
            os << " in " << f.function << '\n';
        }
        if (t.awaiting_truncated) os << "      ... (deeper frames not shown)\n";
    }
    return os;
}

std::ostream& operator<<(std::ostream& os, const long_poll_report& r) {
    os << "weft: long poll: task " << r.id;
    if (!r.site.name.empty()) os << " \"" << r.site.name << '"';
    os << " (";
    print_site(os, r.site);
    os << ") has run on " << r.thread << " for "
       << std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count()
       << " ms without yielding";
    return os;
}

} // namespace weft

namespace weft::detail {

const char* await_kind_name(await_kind k) noexcept {
    switch (k) {
    case await_kind::unknown:
        break;
    case await_kind::task:
        return "task";
    case await_kind::join_handle:
        return "join handle";
    case await_kind::yield_now:
        return "yield_now";
    case await_kind::sleep:
        return "sleep";
    case await_kind::timeout:
        return "timeout";
    case await_kind::notify:
        return "notify";
    case await_kind::semaphore:
        return "semaphore acquire";
    case await_kind::mutex:
        return "mutex lock";
    case await_kind::barrier:
        return "barrier wait";
    case await_kind::oneshot_recv:
        return "oneshot recv";
    case await_kind::oneshot_closed:
        return "oneshot closed";
    case await_kind::mpsc_send:
        return "mpsc send";
    case await_kind::mpsc_reserve:
        return "mpsc reserve";
    case await_kind::mpsc_recv:
        return "mpsc recv";
    case await_kind::broadcast_recv:
        return "broadcast recv";
    case await_kind::watch_changed:
        return "watch changed";
    case await_kind::cancelled:
        return "cancelled";
    case await_kind::join_next:
        return "join_next";
    case await_kind::branches:
        return "branches";
    case await_kind::io_readiness:
        return "io readiness";
    case await_kind::socket_send:
        return "socket send";
    case await_kind::count_:
        break;
    }
    return "unknown";
}

await_site unpack_await_site(std::uintptr_t word) noexcept {
    await_site out;
    if ((word & await_site_tag) == 0) return out;
    std::uintptr_t ptr = word & ~await_site_tag;
    if constexpr (sizeof(std::uintptr_t) == 8) {
        std::uintptr_t kind = word >> await_kind_shift;
        out.kind = kind < static_cast<std::uintptr_t>(await_kind::count_)
                       ? static_cast<await_kind>(kind)
                       : await_kind::unknown;
        ptr &= await_site_mask;
    }
    // std::source_location is the pointer __builtin_source_location returns
    // (libstdc++ and libc++ alike); rebuild one from it.
    static_assert(sizeof(std::source_location) == sizeof(const void*));
    const void* impl = reinterpret_cast<const void*>(ptr);
    if (impl != nullptr) std::memcpy(static_cast<void*>(&out.where), &impl, sizeof impl);
    out.known = true;
    return out;
}

namespace {

void fill_awaiting(task_snapshot& snap, const peeked_task& p) {
    snap.awaiting.reserve(p.size);
    for (std::size_t i = 0; i < p.size; ++i) {
        await_frame f;
        f.resume_function = p.frames[i].resume_function;
        if (f.resume_function != nullptr) f.function = symbolize(f.resume_function);
        await_site site = unpack_await_site(p.frames[i].await_site);
        f.kind = await_kind_name(site.kind);
        if (site.where.file_name() != nullptr && site.where.line() != 0) {
            f.file = site.where.file_name();
            f.line = site.where.line();
            f.column = site.where.column();
        }
        snap.awaiting.push_back(std::move(f));
    }
    snap.awaiting_truncated = p.truncated;
    if (!snap.awaiting.empty()) {
        snap.resume_function = snap.awaiting.front().resume_function;
        snap.suspended_in = snap.awaiting.front().function;
    }
}

} // namespace

runtime_dump runtime_impl::dump_tasks() const {
    return dump_registry(owned_);
}

runtime_dump dump_registry(const owned_tasks& owned) {
    runtime_dump d;
    std::vector<task_header*> live;
    // The registry holds a reference to each task until it completes; take
    // ours under the shard lock, then look at each task without any lock.
    const_cast<owned_tasks&>(owned).for_each([&](task_header* t) {
        task_ref_inc(t);
        live.push_back(t);
    });
    d.tasks.reserve(live.size());
    peeked_task peeked;
    for (task_header* t : live) {
        state_snapshot s = t->state.load();
        if (!s.is_complete()) {
            task_snapshot snap;
            snap.id = task_id(t->id);
            snap.site = make_spawn_site(s.site());
            if (s.is_running()) {
                snap.state = task_run_state::running;
            } else if (s.is_notified()) {
                snap.state = task_run_state::scheduled;
            } else if (peek_suspension(t, peeked)) {
                snap.state = task_run_state::idle;
                fill_awaiting(snap, peeked);
            } else {
                // It changed between the load and the claim: read again.
                state_snapshot s2 = t->state.load();
                snap.state = s2.is_running() ? task_run_state::running : task_run_state::scheduled;
                if (s2.is_complete()) snap.id = task_id(); // finished meanwhile
            }
            if (snap.id != task_id()) d.tasks.push_back(std::move(snap));
        }
        task_ref_dec(t);
    }
    std::sort(d.tasks.begin(), d.tasks.end(),
              [](const task_snapshot& a, const task_snapshot& b) { return a.id < b.id; });
    return d;
}

task_header* runtime_impl::find_live_task(task_header* p) noexcept {
    {
        std::lock_guard lk(panic_mu_);
        for (root_driver* d = roots_; d != nullptr; d = d->next) {
            if (d->root == p) {
                task_ref_inc(p); // block_on's join handle keeps the root alive meanwhile
                return p;
            }
        }
    }
    task_header* found = nullptr;
    owned_.for_each([&](task_header* t) {
        if (t == p && found == nullptr) {
            task_ref_inc(t);
            found = t;
        }
    });
    return found;
}

} // namespace weft::detail
