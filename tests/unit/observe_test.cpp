// Observability: spawn sites and names (every spawn overload), the live
// dump (states, where suspended, concurrent wake-ups and aborts), the
// long-poll watchdog, and the SIGQUIT dump.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <optional>
#include <source_location>
#include <sstream>
#include <string>
#include <vector>

#include <weft/observe.hpp>
#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

class Observe : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(Observe);

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const weft::task_snapshot* find(const weft::runtime_dump& d, weft::task_id id) {
    for (const auto& t : d.tasks)
        if (t.id == id) return &t;
    return nullptr;
}

// Tasks that wait until `go` is cancelled (at once if it already is, so a
// task that starts late cannot miss it).
weft::task<> wait_on(weft::cancellation_token go) {
    co_await go.cancelled();
}

weft::task<> wait_on_args(weft::cancellation_token go, int, int, int) {
    co_await go.cancelled();
}

weft::task<> wait_on_5(weft::cancellation_token go, int, int, int, int, int) {
    co_await go.cancelled();
}

/// Yields until task `id` is idle in the dump (suspended at its co_await);
/// the test's hang guard bounds it.
weft::task<weft::runtime_dump> dump_once_idle(weft::task_id id) {
    for (;;) {
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        const weft::task_snapshot* t = find(d, id);
        if (t == nullptr || t->state == weft::task_run_state::idle) co_return d;
        co_await weft::yield_now();
    }
}

TEST_P(Observe, SpawnRecordsTheCallersLocation) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token go;
        auto h = weft::spawn(wait_on, go);
        const std::uint32_t line = __LINE__ - 1; // the spawn's line
        weft::runtime_dump d = co_await dump_once_idle(h.id());
        const weft::task_snapshot* t = find(d, h.id());
        EXPECT_NE(t, nullptr) << d;
        if (t != nullptr) {
            EXPECT_TRUE(ends_with(t->site.file, "observe_test.cpp")) << t->site.file;
            EXPECT_EQ(t->site.line, line);
            EXPECT_EQ(t->site.name, "");
            EXPECT_NE(t->site.function.find("SpawnRecordsTheCallersLocation"),
                      std::string_view::npos)
                << t->site.function;
        }
        go.cancel();
        auto r = co_await h;
        EXPECT_TRUE(r.has_value());
    });
}

TEST_P(Observe, EveryOverloadRecordsASite) {
    weft::runtime rt = make_runtime();
    weft::cancellation_token n;
    std::vector<std::pair<weft::task_id, std::uint32_t>> expect;
    std::vector<weft::join_handle<void>> hs;
    auto add = [&](weft::join_handle<void> h, std::uint32_t line) {
        expect.emplace_back(h.id(), line);
        hs.push_back(std::move(h));
    };
    // From outside the runtime: runtime::spawn and runtime_handle::spawn.
    add(rt.spawn(wait_on, n), __LINE__);
    add(rt.handle().spawn(wait_on, n), __LINE__);
    add(rt.spawn(wait_on(n)), __LINE__);
    add(rt.handle().spawn(wait_on_args, n, 1, 2, 3), __LINE__);
    add(rt.spawn(weft::named("via-runtime"), wait_on, n), __LINE__);
    rt.block_on([&]() -> weft::task<> {
        add(weft::spawn([n]() -> weft::task<> { co_await n.cancelled(); }), __LINE__);
        add(weft::spawn(wait_on(n)), __LINE__);
        add(weft::spawn(wait_on_args, n, 1, 2, 3), __LINE__);
        add(weft::spawn(weft::named("free"), wait_on_5, n, 1, 2, 3, 4, 5), __LINE__);
        // spawn_local records its caller too. (From a task on a worker: the
        // thread inside a multi-thread block_on has no worker to pin to.)
        auto local_spawns = weft::spawn(
            [](auto add, weft::cancellation_token n) -> weft::task<> {
                add(weft::spawn_local(wait_on, n), __LINE__);
                add(weft::spawn_local(wait_on(n)), __LINE__);
                add(weft::spawn_local(wait_on_args, n, 1, 2, 3), __LINE__);
                add(weft::spawn_local(weft::named("local"), wait_on_5, n, 1, 2, 3, 4, 5), __LINE__);
                co_return;
            },
            add, n);
        auto spawned = co_await local_spawns;
        EXPECT_TRUE(spawned.has_value());
        // Five arguments without named(): spawned, location not recorded.
        auto unknown = weft::spawn(wait_on_5, n, 1, 2, 3, 4, 5);
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        for (auto [id, line] : expect) {
            const weft::task_snapshot* t = find(d, id);
            EXPECT_NE(t, nullptr) << "task " << id << '\n' << d;
            if (t == nullptr) continue;
            EXPECT_EQ(t->site.line, line) << d;
            EXPECT_TRUE(ends_with(t->site.file, "observe_test.cpp")) << d;
        }
        const weft::task_snapshot* u = find(d, unknown.id());
        EXPECT_NE(u, nullptr);
        if (u != nullptr) {
            EXPECT_EQ(u->site.file, "");
        }
        hs.push_back(std::move(unknown));
        n.cancel();
        for (auto& h : hs) {
            auto r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
    });
}

TEST_P(Observe, NamesLiteralAndOwned) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token n;
        auto a = weft::spawn(weft::named("accept-loop"), wait_on, n);
        std::string dynamic = "conn-" + std::to_string(7);
        auto b = weft::spawn(weft::named(dynamic), wait_on, n);
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        const weft::task_snapshot* ta = find(d, a.id());
        const weft::task_snapshot* tb = find(d, b.id());
        EXPECT_TRUE(ta != nullptr && tb != nullptr) << d;
        if (ta != nullptr && tb != nullptr) {
            EXPECT_EQ(ta->site.name, "accept-loop");
            EXPECT_EQ(tb->site.name, "conn-7");
            EXPECT_NE(d.to_string().find("\"accept-loop\""), std::string::npos) << d;
        }
        n.cancel();
        auto ra = co_await a;
        auto rb = co_await b;
        EXPECT_TRUE(ra.has_value() && rb.has_value());
    });
}

TEST(ObserveSites, OwnedNamesAreDeduplicated) {
    auto loc = std::source_location::current();
    std::uint32_t a = weft::detail::intern_site_owned(loc, std::string("same-name"));
    std::uint32_t before = weft::detail::site_count();
    std::uint32_t b = weft::detail::intern_site_owned(loc, std::string("same-name"));
    EXPECT_EQ(a, b);
    EXPECT_EQ(weft::detail::site_count(), before);
    EXPECT_STREQ(weft::detail::site_at(a).name, "same-name");
    // A literal and the same text owned are distinct names, both readable.
    std::uint32_t c = weft::detail::intern_site(loc, "same-name");
    EXPECT_STREQ(weft::detail::site_at(c).name, "same-name");
    // Index 0 is "unknown".
    EXPECT_STREQ(weft::detail::site_at(0).file, "");
}

TEST(ObserveSites, CacheHitsGiveTheSameIndex) {
    std::vector<std::uint32_t> got;
    for (int i = 0; i < 3; ++i) {
        auto loc = std::source_location::current();
        got.push_back(weft::detail::intern_site(loc, nullptr));
    }
    EXPECT_NE(got[0], 0u);
    EXPECT_EQ(got[0], got[1]);
    EXPECT_EQ(got[1], got[2]);
}

TEST_P(Observe, DumpShowsStatesAndSuspensionPoint) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token n;
        auto idle = weft::spawn(weft::named("idle-one"), wait_on, n);
        // A task that dumps from inside itself sees itself running.
        auto self = weft::spawn([]() -> weft::task<weft::task_run_state> {
            weft::runtime_dump d = weft::runtime_handle::current().dump();
            const weft::task_snapshot* me = find(d, weft::this_task::id());
            co_return me ? me->state : weft::task_run_state::idle;
        });
        auto st = co_await self;
        EXPECT_EQ(*st, weft::task_run_state::running);
        weft::runtime_dump d = co_await dump_once_idle(idle.id());
        const weft::task_snapshot* t = find(d, idle.id());
        EXPECT_NE(t, nullptr) << d;
        if (t != nullptr) {
            EXPECT_EQ(t->state, weft::task_run_state::idle) << d;
            EXPECT_NE(t->resume_function, nullptr);
            EXPECT_FALSE(t->suspended_in.empty());
        }
        // The peek left the task intact: it still wakes and finishes.
        n.cancel();
        auto r = co_await idle;
        EXPECT_TRUE(r.has_value());
    });
}

// Records the line of the co_await it is written in (the same expression,
// so the same line as the await site the promise stores).
template <class A>
A&& at_line(A&& a, std::uint32_t& line,
            std::source_location loc = std::source_location::current()) {
    line = loc.line();
    return std::forward<A>(a);
}

std::uint32_t inner_line = 0;
std::uint32_t outer_line = 0;

weft::task<int> inner_wait(weft::sync::mpsc::receiver<int>& rx) {
    std::optional<int> v = co_await at_line(rx.recv(), inner_line);
    co_return v.value_or(-1);
}

weft::task<int> outer_wait(weft::sync::mpsc::receiver<int> rx) {
    int v = co_await at_line(inner_wait(rx), outer_line);
    co_return v + 1;
}

TEST_P(Observe, DumpShowsTheAsyncCallChainWithAwaitSites) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = weft::sync::mpsc::channel<int>(1);
        auto h = weft::spawn(outer_wait, std::move(rx));
        weft::runtime_dump d = co_await dump_once_idle(h.id());
        const weft::task_snapshot* t = find(d, h.id());
        EXPECT_NE(t, nullptr) << d;
        if (t != nullptr) {
            EXPECT_EQ(t->state, weft::task_run_state::idle) << d;
            EXPECT_EQ(t->awaiting.size(), 2u) << d;
            EXPECT_FALSE(t->awaiting_truncated);
        }
        if (t != nullptr && t->awaiting.size() == 2) {
            const weft::await_frame& in = t->awaiting[0];
            const weft::await_frame& out = t->awaiting[1];
            EXPECT_EQ(in.kind, "mpsc recv") << d;
            EXPECT_TRUE(ends_with(in.file, "observe_test.cpp")) << in.file;
            EXPECT_EQ(in.line, inner_line);
            EXPECT_NE(in.function.find("inner_wait"), std::string::npos) << in.function;
            EXPECT_EQ(in.function.find("clone"), std::string::npos) << in.function; // tidied
            EXPECT_EQ(in.function, t->suspended_in);
            EXPECT_EQ(in.resume_function, t->resume_function);
            EXPECT_EQ(out.kind, "task") << d;
            EXPECT_EQ(out.line, outer_line);
            EXPECT_NE(out.function.find("outer_wait"), std::string::npos) << out.function;
            // The printed dump carries the same, one line per frame.
            std::string text = d.to_string();
            EXPECT_NE(
                text.find("awaiting mpsc recv at observe_test.cpp:" + std::to_string(inner_line)),
                std::string::npos)
                << text;
            EXPECT_NE(text.find("awaiting task at observe_test.cpp:" + std::to_string(outer_line)),
                      std::string::npos)
                << text;
        }
        // Reading the chain left the task intact: it still wakes and finishes.
        auto sent = co_await tx.send(41); // named: GCC 12 (docs/compiler-traps.md)
        EXPECT_TRUE(sent.has_value());
        auto r = co_await h;
        EXPECT_EQ(r.value(), 42);
    });
}

TEST_P(Observe, DumpNamesTheAwaitableKind) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token stop;
        weft::sync::notify n;
        auto sleeper = weft::spawn(
            [](weft::cancellation_token s) -> weft::task<> {
                co_await weft::select(s.cancelled(), weft::time::sleep(std::chrono::hours(1)));
            },
            stop);
        auto notified =
            weft::spawn([](weft::sync::notify* n) -> weft::task<> { co_await n->notified(); }, &n);
        auto joiner = weft::spawn(
            [](weft::cancellation_token s) -> weft::task<> {
                auto inner = weft::spawn(wait_on, s);
                (void)co_await inner;
            },
            stop);
        for (auto [id, kind] :
             {std::pair{sleeper.id(), "branches"}, std::pair{notified.id(), "notify"},
              std::pair{joiner.id(), "join handle"}}) {
            weft::runtime_dump d = co_await dump_once_idle(id);
            const weft::task_snapshot* t = find(d, id);
            EXPECT_NE(t, nullptr) << d;
            if (t != nullptr && !t->awaiting.empty()) {
                // The innermost frame's kind; for select, the frame above
                // the join machinery is the task's own lambda, awaiting a task.
                EXPECT_EQ(t->awaiting.front().kind, kind) << d;
            } else {
                ADD_FAILURE() << "no await chain for a " << kind << " task\n" << d;
            }
        }
        stop.cancel();
        n.notify_one();
        EXPECT_TRUE((co_await sleeper).has_value());
        EXPECT_TRUE((co_await notified).has_value());
        EXPECT_TRUE((co_await joiner).has_value());
    });
}

struct local_case {
    weft::runtime* rt;
    weft::local_set* set;
    weft::cancellation_token n;
    weft::join_handle<void> h, named_h;
    std::uint32_t h_line = 0;
};

weft::task<> check_local_set_dump(local_case* c) {
    // Wait until the set's task is idle in the set's dump.
    weft::runtime_dump d;
    const weft::task_snapshot* t = nullptr;
    for (;;) {
        d = c->set->dump();
        t = find(d, c->h.id());
        if (t == nullptr || t->state == weft::task_run_state::idle) break;
        co_await weft::yield_now();
    }
    EXPECT_NE(t, nullptr) << d;
    if (t != nullptr) {
        EXPECT_EQ(t->site.line, c->h_line) << d;
        EXPECT_TRUE(ends_with(t->site.file, "observe_test.cpp")) << d;
        EXPECT_FALSE(t->awaiting.empty()) << d;
        if (!t->awaiting.empty()) {
            EXPECT_EQ(t->awaiting.front().kind, "cancelled") << d;
        }
    }
    const weft::task_snapshot* nt = find(d, c->named_h.id());
    EXPECT_NE(nt, nullptr) << d;
    if (nt != nullptr) {
        EXPECT_EQ(nt->site.name, "local-named");
    }
    // The runtime's dump lists its own tasks only.
    EXPECT_EQ(find(c->rt->dump(), c->h.id()), nullptr);
    c->n.cancel();
    auto r1 = co_await c->h;
    EXPECT_TRUE(r1.has_value());
    auto r2 = co_await c->named_h;
    EXPECT_TRUE(r2.has_value());
}

TEST_P(Observe, LocalSetTasksHaveSitesAndTheirOwnDump) {
    weft::runtime rt = make_runtime();
    weft::local_set set;
    local_case c{&rt, &set, {}, {}, {}, 0};
    c.h = set.spawn_local(wait_on, c.n);
    c.h_line = __LINE__ - 1;
    c.named_h = set.spawn_local(weft::named("local-named"), wait_on, c.n);
    set.block_on(rt, check_local_set_dump(&c));
}

TEST(ObserveCurrentThread, SpawnedFromOutsideIsScheduledUntilBlockOn) {
    weft::runtime rt = weft::runtime::current_thread().build();
    auto h = rt.spawn([]() -> weft::task<int> { co_return 5; });
    weft::runtime_dump d = rt.dump();
    const weft::task_snapshot* t = find(d, h.id());
    ASSERT_NE(t, nullptr) << d;
    EXPECT_EQ(t->state, weft::task_run_state::scheduled);
    EXPECT_TRUE(t->suspended_in.empty());
    int v = rt.block_on([&]() -> weft::task<int> {
        auto r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, 5);
}

// Dumps race wake-ups, completions and aborts: the peek (claiming RUNNING
// from idle) must hand every wake-up and abort that lands meanwhile back
// to the scheduler. Run under TSan/ASan by the CI presets.
TEST_P(Observe, DumpRacesWakeupsAndAborts) {
    weft::runtime rt = make_runtime();
    const int tasks = weft_test::scaled(64, 8);
    const int rounds = weft_test::scaled(200, 20);
    std::atomic<bool> stop{false};
    std::thread dumper([&] {
        while (!stop.load()) {
            weft::runtime_dump d = rt.dump();
            for (const auto& t : d.tasks)
                EXPECT_NE(t.id, weft::task_id());
        }
    });
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::sync::notify> ns(static_cast<std::size_t>(tasks));
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < tasks; ++i) {
            hs.push_back(weft::spawn(
                [](weft::sync::notify* n, int rounds) -> weft::task<int> {
                    for (int r = 0; r < rounds; ++r)
                        co_await n->notified();
                    co_return rounds;
                },
                &ns[static_cast<std::size_t>(i)], rounds));
        }
        for (int r = 0; r < rounds; ++r) {
            for (auto& n : ns)
                n.notify_one(); // stores a permit if the task is not waiting yet
            co_await weft::yield_now();
        }
        // Abort half of them (some done, some waiting) while dumps go on.
        for (int i = 0; i < tasks; i += 2)
            hs[static_cast<std::size_t>(i)].abort();
        for (int i = 1; i < tasks; i += 2) {
            // Permits do not add up: keep notifying until it finishes.
            auto& h = hs[static_cast<std::size_t>(i)];
            while (!h.is_finished()) {
                ns[static_cast<std::size_t>(i)].notify_one();
                co_await weft::yield_now();
            }
            auto r = co_await h;
            EXPECT_EQ(r.value(), rounds);
        }
        for (int i = 0; i < tasks; i += 2) {
            auto r = co_await hs[static_cast<std::size_t>(i)];
            EXPECT_TRUE(r.has_value() || r.error().is_cancelled());
        }
    });
    stop.store(true);
    dumper.join();
    EXPECT_EQ(rt.metrics().num_alive_tasks, 0u);
}

TEST_P(Observe, WatchdogReportsALongPollOnce) {
    std::promise<weft::long_poll_report> first;
    std::atomic<int> reports{0};
    weft::runtime rt = builder()
                           .long_poll_threshold(std::chrono::milliseconds(5))
                           .on_long_poll([&](const weft::long_poll_report& r) {
                               if (reports.fetch_add(1) == 0) first.set_value(r);
                           })
                           .build();
    auto reported = first.get_future().share();
    std::uint32_t line = 0;
    weft::task_id id;
    rt.block_on([&]() -> weft::task<> {
        // Blocks its thread (no co_await) until the watchdog has reported it.
        auto h = weft::spawn(weft::named("blocker"), [reported]() -> weft::task<> {
            reported.wait();
            co_return;
        });
        line = __LINE__ - 4; // the spawn's first line
        id = h.id();
        auto r = co_await h;
        EXPECT_TRUE(r.has_value());
    });
    weft::long_poll_report r = reported.get();
    EXPECT_EQ(r.id, id);
    EXPECT_EQ(r.site.name, "blocker");
    EXPECT_EQ(r.site.line, line);
    EXPECT_TRUE(ends_with(r.site.file, "observe_test.cpp"));
    EXPECT_EQ(r.thread.rfind(multi() ? "worker " : "block_on", 0), 0u) << r.thread;
    EXPECT_GE(r.elapsed, std::chrono::milliseconds(5));
    std::ostringstream os;
    os << r;
    std::string text = os.str();
    EXPECT_NE(text.find("\"blocker\""), std::string::npos) << text;
    std::move(rt).shutdown_background();
    EXPECT_EQ(reports.load(), 1);
}

TEST(ObserveBuilder, LongPollThresholdIsValidated) {
    EXPECT_THROW(weft::runtime::multi_thread().long_poll_threshold(std::chrono::microseconds(10)),
                 std::invalid_argument);
}

// SIGQUIT: the handler wakes a printer thread that writes the dump of every
// runtime built with dump_on_sigquit(true) to stderr. Capture stderr in a
// pipe and read until the dump arrives (bounded by the test watchdog).
TEST(ObserveSigquit, PrintsTheDumpToStderr) {
    weft::runtime rt = weft::runtime::current_thread().dump_on_sigquit(true).build();
    auto h = rt.spawn(weft::named("sigquit-visible"), []() -> weft::task<> { co_return; });
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    int saved = ::dup(2);
    ::fflush(stderr);
    ::dup2(fds[1], 2);
    ::raise(SIGQUIT);
    std::string got;
    char buf[256];
    while (got.find("\"sigquit-visible\"") == std::string::npos) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    ::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_NE(got.find("\"sigquit-visible\" scheduled"), std::string::npos) << got;
    rt.block_on([&]() -> weft::task<> {
        auto r = co_await h;
        EXPECT_TRUE(r.has_value());
    });
}

} // namespace

namespace {

TEST_P(Observe, JoinSetSpawnTakesANamedSite) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token go;
        weft::join_set<void> set;
        weft::abort_handle a = set.spawn(weft::named("set-member"), wait_on, go);
        const std::uint32_t line = __LINE__ - 1; // the spawn's line
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        const weft::task_snapshot* t = find(d, a.id());
        EXPECT_NE(t, nullptr) << d;
        if (t != nullptr) {
            EXPECT_EQ(t->site.name, "set-member");
            EXPECT_EQ(t->site.line, line);
        }
        go.cancel();
        auto r = co_await set.join_next();
        EXPECT_TRUE(r.has_value() && r->has_value());
    });
}

} // namespace

namespace {

// join_set and task_tracker spawn through the same located ladder as
// weft::spawn (decision 0045): the dump shows the line of the caller's
// set.spawn(...) / tracker.spawn(...), not a line inside weft's headers.
void expect_site_here(const weft::runtime_dump& d, weft::task_id id, std::uint32_t line) {
    const weft::task_snapshot* t = find(d, id);
    EXPECT_NE(t, nullptr) << d;
    if (t == nullptr) return;
    EXPECT_TRUE(ends_with(t->site.file, "observe_test.cpp")) << t->site.file;
    EXPECT_EQ(t->site.line, line) << d;
}

TEST_P(Observe, JoinSetSpawnRecordsTheCallersLine) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token go;
        weft::join_set<void> set;
        weft::abort_handle a = set.spawn(wait_on, go);
        const std::uint32_t line_a = __LINE__ - 1;
        weft::abort_handle b = set.spawn(wait_on_args, go, 1, 2, 3);
        const std::uint32_t line_b = __LINE__ - 1;
        weft::abort_handle c = set.spawn(wait_on(go));
        const std::uint32_t line_c = __LINE__ - 1;
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        expect_site_here(d, a.id(), line_a);
        expect_site_here(d, b.id(), line_b);
        expect_site_here(d, c.id(), line_c);
        go.cancel();
        co_await set.shutdown();
    });
}

TEST_P(Observe, JoinSetSpawnLocalRecordsTheCallersLine) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        // From a task on a worker (spawn_local needs a thread to pin to).
        auto inner = weft::spawn([]() -> weft::task<> {
            weft::cancellation_token go;
            weft::join_set<void> set;
            weft::abort_handle a = set.spawn_local(wait_on, go);
            const std::uint32_t line = __LINE__ - 1;
            expect_site_here(weft::runtime_handle::current().dump(), a.id(), line);
            go.cancel();
            co_await set.shutdown();
        });
        auto r = co_await inner;
        EXPECT_TRUE(r.has_value());
    });
}

TEST_P(Observe, TaskTrackerSpawnRecordsTheCallersLine) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::cancellation_token go;
        weft::task_tracker tracker;
        auto a = tracker.spawn(wait_on, go);
        const std::uint32_t line_a = __LINE__ - 1;
        auto b = tracker.spawn([go]() -> weft::task<> { co_await go.cancelled(); });
        const std::uint32_t line_b = __LINE__ - 1;
        weft::runtime_dump d = weft::runtime_handle::current().dump();
        expect_site_here(d, a.id(), line_a);
        expect_site_here(d, b.id(), line_b);
        go.cancel();
        tracker.close();
        co_await tracker.wait();
    });
}

} // namespace
