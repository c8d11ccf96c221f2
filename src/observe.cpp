// Observability: the spawn-site table, the task dump, the long-poll
// watchdog and the SIGQUIT printer (see include/weft/observe.hpp,
// detail/spawn_site.hpp, watchdog.hpp and docs/observability.md).
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>

#include "harness.hpp"
#include "runtime_base.hpp"
#include "watchdog.hpp"

namespace weft::detail {

// --- the site table ------------------------------------------------------------------

namespace {

constexpr std::size_t chunk_size = 1024;
constexpr std::size_t max_chunks = (state_bits::max_site + 1) / chunk_size;

struct site_content {
    std::string_view file, function;
    std::uint32_t line, column;
    const char* name;
    bool operator==(const site_content&) const = default;
};

struct site_content_hash {
    std::size_t operator()(const site_content& c) const noexcept {
        std::size_t h = std::hash<std::string_view>{}(c.file);
        h ^= std::hash<std::string_view>{}(c.function) + 0x9E3779B97F4A7C15ull + (h << 6);
        h ^= (std::size_t{c.line} << 20) ^ c.column ^ std::hash<const void*>{}(c.name);
        return h;
    }
};

struct site_table {
    // Readers index `chunks` without the lock: a chunk pointer is published
    // (release) before any index into it is handed out, and the index
    // travels to readers through task state words.
    std::atomic<site_record*> chunks[max_chunks]{};
    std::atomic<std::uint32_t> count{1}; // index 0: "unknown"
    std::mutex mu;
    std::unordered_map<site_content, std::uint32_t, site_content_hash> by_content; // mu
    std::unordered_map<std::string, std::unique_ptr<char[]>> owned_names;          // mu

    site_table() {
        auto* c = new site_record[chunk_size];
        chunks[0].store(c, std::memory_order_release);
    }

    std::uint32_t add(const site_content& k) {
        auto it = by_content.find(k);
        if (it != by_content.end()) return it->second;
        std::uint32_t i = count.load(std::memory_order_relaxed);
        if (i > state_bits::max_site) return 0; // full: "unknown"
        site_record* c = chunks[i / chunk_size].load(std::memory_order_relaxed);
        if (c == nullptr) {
            c = new site_record[chunk_size];
            chunks[i / chunk_size].store(c, std::memory_order_release);
        }
        c[i % chunk_size] = site_record{k.file.data(), k.function.data(), k.line, k.column,
                                        k.name != nullptr ? k.name : ""};
        count.store(i + 1, std::memory_order_release);
        by_content.emplace(k, i);
        return i;
    }
};

site_table& table() {
    static site_table* t = new site_table(); // never destroyed: sites outlive everything
    return *t;
}

site_content content_of(const std::source_location& loc, const char* name) {
    return {loc.file_name(), loc.function_name(), loc.line(), loc.column(), name};
}

} // namespace

const site_record& site_at(std::uint32_t index) noexcept {
    site_table& t = table();
    site_record* c = t.chunks[index / chunk_size].load(std::memory_order_acquire);
    return c[index % chunk_size];
}

std::uint32_t site_count() noexcept {
    return table().count.load(std::memory_order_acquire);
}

std::uint32_t intern_site_slow(const std::source_location& loc, const char* name,
                               site_cache_entry& slot) noexcept {
    site_table& t = table();
    std::uint32_t i;
    try {
        std::lock_guard lk(t.mu);
        i = t.add(content_of(loc, name));
    } catch (...) {
        return 0; // out of memory: the task goes unrecorded, not unspawned
    }
    slot = site_cache_entry{site_key(loc), name, i};
    return i;
}

std::uint32_t intern_site_owned(const std::source_location& loc, std::string_view name) noexcept {
    static const char too_many[] = "<too many names>";
    site_table& t = table();
    try {
        std::lock_guard lk(t.mu);
        std::string key(name);
        auto it = t.owned_names.find(key);
        const char* stable;
        if (it != t.owned_names.end()) {
            stable = it->second.get();
        } else if (t.owned_names.size() >= max_owned_names) {
            stable = too_many;
        } else {
            auto copy = std::make_unique<char[]>(key.size() + 1);
            std::memcpy(copy.get(), key.c_str(), key.size() + 1);
            stable = copy.get();
            t.owned_names.emplace(std::move(key), std::move(copy));
        }
        return t.add(content_of(loc, stable));
    } catch (...) {
        return 0;
    }
}

} // namespace weft::detail

namespace weft {

const char* to_string(task_run_state s) noexcept {
    switch (s) {
    case task_run_state::idle:
        return "idle";
    case task_run_state::scheduled:
        return "scheduled";
    case task_run_state::running:
        return "running";
    }
    return "?";
}

namespace detail {
spawn_site make_spawn_site(std::uint32_t index) noexcept {
    const site_record& r = site_at(index);
    return spawn_site{r.name, r.file, r.function, r.line, r.column};
}
} // namespace detail

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

// --- naming a resume function ---------------------------------------------------------
//
// GCC's and Clang's coroutine resume functions (`f(...) [clone .actor]`,
// `f(...) (.resume)`) are local symbols: dladdr, which reads the dynamic
// symbol table, never finds them. So dladdr only tells which object file
// holds the address; the name comes from that file's own .symtab (read
// once per file, sorted, cached). A stripped binary gives the address.

struct elf_symbols {
    struct sym {
        std::uintptr_t lo, hi;
        std::string name;
    };
    std::vector<sym> syms; // sorted by lo
    bool relative = true;  // ET_DYN: values are offsets from the load base

    explicit elf_symbols(const char* path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        void* map = MAP_FAILED;
        if (::fstat(fd, &st) == 0 && st.st_size > 0)
            map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd,
                         0);
        ::close(fd);
        if (map == MAP_FAILED) return;
        std::string_view data(static_cast<const char*>(map), static_cast<std::size_t>(st.st_size));
        parse(data);
        ::munmap(map, data.size());
        std::sort(syms.begin(), syms.end(), [](const sym& a, const sym& b) { return a.lo < b.lo; });
    }

    void parse(std::string_view data) {
        if (data.size() < sizeof(Elf64_Ehdr) || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0 ||
            data[EI_CLASS] != ELFCLASS64)
            return;
        Elf64_Ehdr eh;
        std::memcpy(&eh, data.data(), sizeof eh);
        relative = eh.e_type == ET_DYN;
        if (eh.e_shoff == 0 ||
            eh.e_shoff + std::size_t{eh.e_shnum} * sizeof(Elf64_Shdr) > data.size())
            return;
        std::vector<Elf64_Shdr> sh(eh.e_shnum);
        std::memcpy(sh.data(), data.data() + eh.e_shoff, sh.size() * sizeof(Elf64_Shdr));
        for (const Elf64_Shdr& s : sh) {
            if (s.sh_type != SHT_SYMTAB || s.sh_link >= sh.size()) continue;
            const Elf64_Shdr& strtab = sh[s.sh_link];
            if (s.sh_offset + s.sh_size > data.size() ||
                strtab.sh_offset + strtab.sh_size > data.size())
                continue;
            std::size_t count = s.sh_size / sizeof(Elf64_Sym);
            for (std::size_t i = 0; i < count; ++i) {
                Elf64_Sym sym;
                std::memcpy(&sym, data.data() + s.sh_offset + i * sizeof(Elf64_Sym), sizeof sym);
                if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 ||
                    sym.st_name >= strtab.sh_size)
                    continue;
                const char* name = data.data() + strtab.sh_offset + sym.st_name;
                syms.push_back({sym.st_value,
                                sym.st_value + std::max<std::uint64_t>(sym.st_size, 1),
                                std::string(name, ::strnlen(name, strtab.sh_size - sym.st_name))});
            }
        }
    }

    const std::string* find(std::uintptr_t v) const {
        auto it = std::upper_bound(syms.begin(), syms.end(), v,
                                   [](std::uintptr_t x, const sym& s) { return x < s.lo; });
        if (it == syms.begin()) return nullptr;
        --it;
        return v < it->hi ? &it->name : nullptr;
    }
};

// `f(f(args)::_Z...Frame*) [clone .actor]` (GCC) -> `f(args)`; Clang's
// `f(args) (.resume)` -> `f(args)`.
std::string tidy_coroutine_name(std::string d) {
    std::size_t frame = d.find(".Frame*)");
    if (frame != std::string::npos) {
        std::size_t mangled = d.rfind("::_Z", frame);
        for (std::size_t open = d.find('(');
             open != std::string::npos && mangled != std::string::npos && open < mangled;
             open = d.find('(', open + 1)) {
            if (d.compare(open + 1, open, d, 0, open) == 0)
                return d.substr(open + 1, mangled - open - 1);
        }
    }
    // GCC: `f(args) [clone .actor]`; Clang: `f(args) (.resume)` or, after
    // the optimizer cloned it, `f(args) [clone .resume]`.
    for (const char* suffix : {" [clone .actor]", " (.resume)", " [clone .resume]"}) {
        std::size_t at = d.find(suffix);
        if (at != std::string::npos) return d.substr(0, at);
    }
    return d;
}

std::string symbolize(const void* fn) {
    static std::mutex mu;
    static std::map<const void*, std::string> cache;
    static std::map<std::string, std::unique_ptr<elf_symbols>> files;
    std::lock_guard lk(mu);
    auto it = cache.find(fn);
    if (it != cache.end()) return it->second;
    std::string out;
    Dl_info info{};
    if (dladdr(fn, &info) != 0) {
        const char* sname = info.dli_sname;
        std::string from_symtab;
        if (info.dli_fname != nullptr) {
            // The main program is named by argv[0] (maybe relative, maybe
            // empty); shared objects by an absolute path.
            std::string path = info.dli_fname;
            if (path.empty() || path[0] != '/') path = "/proc/self/exe";
            auto& e = files[path];
            if (!e) e = std::make_unique<elf_symbols>(path.c_str());
            std::uintptr_t v = reinterpret_cast<std::uintptr_t>(fn);
            if (e->relative) v -= reinterpret_cast<std::uintptr_t>(info.dli_fbase);
            if (const std::string* n = e->find(v)) from_symtab = *n;
        }
        if (!from_symtab.empty()) sname = from_symtab.c_str();
        if (sname != nullptr) {
            int status = 0;
            char* d = abi::__cxa_demangle(sname, nullptr, nullptr, &status);
            out = tidy_coroutine_name((status == 0 && d != nullptr) ? d : sname);
            std::free(d);
        }
    }
    if (out.empty()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%p", fn);
        out = buf;
    }
    cache.emplace(fn, out);
    return out;
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

// --- the dump --------------------------------------------------------------------------

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

runtime_dump runtime_base::dump_tasks() const {
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
        std::uint64_t s = t->state.load(std::memory_order_acquire);
        if (!(s & state_bits::complete)) {
            task_snapshot snap;
            snap.id = task_id(t->id);
            snap.site = make_spawn_site(site_index(s));
            if (s & state_bits::running) {
                snap.state = task_run_state::running;
            } else if (s & state_bits::notified) {
                snap.state = task_run_state::scheduled;
            } else if (peek_suspension(t, peeked)) {
                snap.state = task_run_state::idle;
                fill_awaiting(snap, peeked);
            } else {
                // It changed between the load and the claim: read again.
                std::uint64_t s2 = t->state.load(std::memory_order_acquire);
                snap.state = (s2 & state_bits::running) ? task_run_state::running
                                                        : task_run_state::scheduled;
                if (s2 & state_bits::complete) snap.id = task_id(); // finished meanwhile
            }
            if (snap.id != task_id()) d.tasks.push_back(std::move(snap));
        }
        task_ref_dec(t);
    }
    std::sort(d.tasks.begin(), d.tasks.end(),
              [](const task_snapshot& a, const task_snapshot& b) { return a.id < b.id; });
    return d;
}

task_header* runtime_base::find_live_task(task_header* p) noexcept {
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

// --- the watchdog ----------------------------------------------------------------------

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
    r.site = make_spawn_site(site_index(t->state.load(std::memory_order_acquire)));
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
    thread_context& ctx = this_thread_context();
    saved_ = ctx.watch;
    ctx.watch = slot_;
}

watch_scope::~watch_scope() {
    if (w_ == nullptr) return;
    this_thread_context().watch = saved_;
    w_->release(slot_);
}

// --- SIGQUIT ----------------------------------------------------------------------------

namespace {

struct sigquit_state {
    std::mutex mu;
    std::set<runtime_base*> runtimes; // guarded by mu
    int pipe_w = -1;
};

sigquit_state& sigquit() {
    static sigquit_state* s = new sigquit_state(); // used by a detached thread: never destroyed
    return *s;
}

std::atomic<int> sigquit_fd{-1};

extern "C" void on_sigquit(int) {
    int saved = errno;
    int fd = sigquit_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        char c = 'q';
        ssize_t n = ::write(fd, &c, 1); // async-signal-safe; a full pipe drops the wake-up
        (void)n;
    }
    errno = saved;
}

} // namespace

void runtime_base::start_observers() {
    if (cfg_.long_poll_threshold.count() > 0) {
        watchdog_ =
            std::make_unique<watchdog>(cfg_.long_poll_threshold, cfg_.on_long_poll,
                                       [this](task_header* p) { return find_live_task(p); });
    }
    if (cfg_.dump_on_sigquit) {
        install_sigquit_dump();
        std::lock_guard lk(sigquit().mu);
        sigquit().runtimes.insert(this);
    }
}

void runtime_base::stop_observers() noexcept {
    if (cfg_.dump_on_sigquit) {
        std::lock_guard lk(sigquit().mu);
        sigquit().runtimes.erase(this);
    }
    watchdog_.reset();
}

} // namespace weft::detail

namespace weft {

void install_sigquit_dump() {
    static std::once_flag once;
    std::call_once(once, [] {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "weft: sigquit pipe");
        ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
        detail::sigquit_fd.store(fds[1], std::memory_order_relaxed);
        detail::start_detached_thread([rfd = fds[0]] {
            detail::set_thread_name("weft-sigquit");
            char c;
            for (;;) {
                ssize_t n = ::read(rfd, &c, 1);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return;
                auto& st = detail::sigquit();
                std::lock_guard lk(st.mu);
                for (detail::runtime_base* rt : st.runtimes) {
                    std::string text = rt->dump_tasks().to_string();
                    std::fwrite(text.data(), 1, text.size(), stderr);
                }
                std::fflush(stderr);
            }
        });
        struct sigaction sa {};
        sa.sa_handler = &detail::on_sigquit;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ::sigaction(SIGQUIT, &sa, nullptr);
    });
}

} // namespace weft
