// Randomized stress of spawn_blocking and spawn_local. Bounded by iteration
// counts; the seed is printed on failure (rerun with WEFT_TEST_SEED=<seed>).
//
// spawn_blocking: random pool limits and keep-alives, calls that return,
// throw or block on a gate that an outside thread opens, aborts before and
// during the calls (from the task and from outside threads), and rounds
// that end by joining, by destroying the runtime, by shutdown_timeout(0) or
// by shutdown_background. Invariants: a call runs at most once; a join
// gives cancelled exactly when the call never ran (abort after the start
// has no effect); a value or exception is the call's own.
//
// spawn_local: pinned tasks on a 2-worker runtime, woken by outside
// threads, blocking calls, timers, tasks on any worker and each other, some
// aborted from outside. Invariant: every resumption of a pinned task is on
// the thread it was pinned to. local_set: the same tasks in a set driven by
// block_on's thread (both runtimes), with another thread spawning onto the
// set and aborting its tasks while it runs.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

struct call_error : std::runtime_error {
    explicit call_error(int k) : std::runtime_error("call failed"), id(k) {}
    int id;
};

enum class call_kind { value, thrower, gated };

struct call_state {
    call_kind kind = call_kind::value;
    std::atomic<int> runs{0};
    bool aborted = false;
};

struct round_state {
    std::atomic<bool> gate{false};
    std::vector<std::unique_ptr<call_state>> calls;
    std::vector<weft::join_handle<int>> handles;
};

int blocking_call(round_state* rs, int i) {
    call_state& c = *rs->calls[static_cast<std::size_t>(i)];
    c.runs.fetch_add(1);
    if (c.kind == call_kind::thrower) throw call_error(i);
    if (c.kind == call_kind::gated) {
        while (!rs->gate.load())
            std::this_thread::yield();
    }
    return i * 3;
}

/// Checks one joined result; returns the number of violations. After a
/// shutdown, a call that never started may be cancelled without an abort.
int check_result(round_state& rs, int i, weft::result<int>& r, bool shut_down) {
    call_state& c = *rs.calls[static_cast<std::size_t>(i)];
    int runs = c.runs.load();
    if (runs > 1) return 1;
    if (r.has_value()) return (runs == 1 && c.kind != call_kind::thrower && *r == i * 3) ? 0 : 1;
    if (r.error().is_cancelled()) return (runs == 0 && (c.aborted || shut_down)) ? 0 : 1;
    if (runs != 1 || c.kind != call_kind::thrower) return 1;
    try {
        weft::resume_unwind(std::move(r).error().into_panic());
    } catch (const call_error& e) {
        return e.id == i ? 0 : 1;
    } catch (...) {
    }
    return 1;
}

weft::task<int> join_all(round_state* rs, bool shut_down) {
    int bad = 0;
    for (std::size_t i = 0; i < rs->handles.size(); ++i) {
        auto r = co_await rs->handles[i];
        bad += check_result(*rs, static_cast<int>(i), r, shut_down);
    }
    co_return bad;
}

weft::task<> submit_round(round_state* rs, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < rs->calls.size(); ++i) {
        rs->handles.push_back(weft::spawn_blocking(blocking_call, rs, static_cast<int>(i)));
        if (rng() % 5 == 0) {
            rs->calls[i]->aborted = true;
            rs->handles.back().abort();
        }
        if (rng() % 7 == 0) co_await weft::yield_now();
    }
    // Late aborts: some of these calls have started (no effect), some not.
    for (std::size_t i = 0; i < rs->calls.size(); ++i) {
        if (rng() % 6 == 0) {
            rs->calls[i]->aborted = true;
            rs->handles[i].abort();
        }
    }
}

class BlockingStress : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(BlockingStress);

TEST_P(BlockingStress, RandomCallsAbortsAndShutdowns) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("BlockingStress seed " + std::to_string(seed));
    int rounds = weft_test::scaled(80, 10);
    long violations = 0;
    for (int round = 0; round < rounds; ++round) {
        static constexpr std::size_t limits[] = {1, 2, 3, 8, 512};
        static constexpr std::chrono::nanoseconds keep[] = {
            std::chrono::nanoseconds(0), std::chrono::milliseconds(1), std::chrono::seconds(10)};
        auto rs = std::make_unique<round_state>();
        std::size_t n = 8 + rng() % 40;
        for (std::size_t i = 0; i < n; ++i) {
            auto c = std::make_unique<call_state>();
            std::uint64_t k = rng() % 10;
            c->kind = k < 2 ? call_kind::thrower : k < 5 ? call_kind::gated : call_kind::value;
            rs->calls.push_back(std::move(c));
        }
        auto rt =
            std::make_unique<weft::runtime>(seeded_builder(seed + static_cast<std::uint64_t>(round))
                                                .max_blocking_threads(limits[rng() % 5])
                                                .thread_keep_alive(keep[rng() % 3])
                                                .build());
        std::uint64_t round_seed = rng();
        int end = static_cast<int>(rng() % 4);
        int opener_yields = static_cast<int>(rng() % 200);
        // The gate opens from outside, independently of the runtime.
        std::thread opener([&rs, opener_yields] {
            for (int i = 0; i < opener_yields; ++i)
                std::this_thread::yield();
            rs->gate.store(true);
        });
        rt->block_on(submit_round(rs.get(), round_seed));
        // An outside thread aborts some more while calls run.
        std::thread aborter([&rs, s = rng()] {
            std::mt19937_64 r(s);
            for (std::size_t i = 0; i < rs->handles.size(); ++i)
                if (r() % 8 == 0) {
                    rs->calls[i]->aborted = true; // before abort: a cancel implies the flag
                    rs->handles[i].abort_handle().abort();
                }
        });
        aborter.join();
        if (end == 0) {
            violations += rt->block_on(join_all(rs.get(), false));
            rt.reset();
        } else {
            if (end == 1) rt.reset();
            if (end == 2) std::move(*rt).shutdown_timeout(std::chrono::nanoseconds(0));
            if (end == 3) std::move(*rt).shutdown_background();
            // The calls that were running finish once the gate opens; the
            // others were cancelled. Join them on another runtime.
            weft::runtime other = weft::runtime::current_thread().build();
            violations += other.block_on(join_all(rs.get(), true));
            rt.reset();
        }
        opener.join();
        ASSERT_EQ(violations, 0) << "round " << round;
    }
}

// --- spawn_local -----------------------------------------------------------------

struct local_world {
    std::atomic<long> foreign{0}, resumptions{0}, finished{0};
    std::vector<std::shared_ptr<weft::sync::notify>> bells;
};

void check_home(local_world* w, std::thread::id home) {
    w->resumptions.fetch_add(1);
    if (std::this_thread::get_id() != home) w->foreign.fetch_add(1);
}

weft::task<> pinned_body(local_world* w, std::thread::id home, std::uint64_t seed, int steps) {
    std::mt19937_64 rng(seed);
    check_home(w, home);
    for (int s = 0; s < steps; ++s) {
        switch (rng() % 5) {
        case 0: {
            auto n = std::make_shared<weft::sync::notify>();
            // The notify outlives us if we are aborted; nobody joins the
            // thread (run_detached, not std::thread::detach: see there).
            weft_test::run_detached([n] { n->notify_one(); });
            co_await n->notified();
            break;
        }
        case 1: {
            auto h = weft::spawn_blocking([] { return 1; });
            (void)co_await h;
            break;
        }
        case 2:
            co_await weft::time::sleep(std::chrono::microseconds(rng() % 300));
            break;
        case 3: {
            // A bell another pinned task (maybe on the other worker) rings.
            w->bells[rng() % w->bells.size()]->notify_waiters();
            auto other = w->bells[rng() % w->bells.size()];
            // Rung by another task, or not: the timeout bounds the wait.
            auto r = co_await weft::time::timeout(std::chrono::milliseconds(1), other->notified());
            (void)r;
            break;
        }
        default:
            co_await weft::yield_now();
            break;
        }
        check_home(w, home);
    }
    w->finished.fetch_add(1);
}

weft::task<int> pinned_spawner(local_world* w, std::uint64_t seed, int tasks, int steps) {
    std::mt19937_64 rng(seed);
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < tasks; ++i) {
        std::thread::id home = std::this_thread::get_id(); // no suspension before the spawn
        hs.push_back(weft::spawn_local(pinned_body, w, home, rng(), steps));
        if (rng() % 3 == 0) co_await weft::yield_now(); // may move to the other worker
    }
    // Abort some from an outside thread while they run.
    std::vector<weft::abort_handle> victims;
    for (auto& h : hs)
        if (rng() % 4 == 0) victims.push_back(h.abort_handle());
    std::thread aborter([victims] {
        for (auto& v : victims)
            v.abort();
    });
    int done = 0;
    for (auto& h : hs) {
        auto r = co_await h;
        if (r.has_value() || r.error().is_cancelled()) ++done;
    }
    aborter.join();
    co_return done;
}

TEST(SpawnLocalStress, PinnedTasksStayOnTheirWorker) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("SpawnLocalStress seed " + std::to_string(seed));
    int rounds = weft_test::scaled(16, 3);
    for (int round = 0; round < rounds; ++round) {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        local_world w;
        for (int i = 0; i < 4; ++i)
            w.bells.push_back(std::make_shared<weft::sync::notify>());
        constexpr int spawners = 3, tasks = 12;
        int steps = weft_test::scaled(40, 8);
        std::uint64_t round_seed = rng();
        int done = rt.block_on([&]() -> weft::task<int> {
            std::vector<weft::join_handle<int>> hs;
            for (int s = 0; s < spawners; ++s)
                hs.push_back(weft::spawn(pinned_spawner, &w, round_seed + s, tasks, steps));
            int total = 0;
            for (auto& h : hs) {
                auto r = co_await h;
                total += r.value();
            }
            co_return total;
        });
        EXPECT_EQ(done, spawners * tasks);
        ASSERT_EQ(w.foreign.load(), 0) << "round " << round;
        EXPECT_GT(w.resumptions.load(), 0);
    }
}

// --- local_set -------------------------------------------------------------------

weft::task<int> set_driver_body(local_world* w, weft::local_set* set, std::uint64_t seed, int tasks,
                                int steps) {
    std::mt19937_64 rng(seed);
    std::thread::id home = std::this_thread::get_id(); // block_on's thread drives the set
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < tasks; ++i)
        hs.push_back(weft::spawn_local(pinned_body, w, home, rng(), steps)); // onto the set
    // Another thread spawns onto the set while it runs, and aborts some.
    std::vector<weft::join_handle<void>> outside(static_cast<std::size_t>(tasks));
    std::vector<weft::abort_handle> victims;
    for (auto& h : hs)
        if (rng() % 4 == 0) victims.push_back(h.abort_handle());
    std::thread helper([&outside, &victims, set, w, home, s = rng(), steps] {
        std::mt19937_64 r(s);
        for (auto& h : outside)
            h = set->spawn_local(pinned_body, w, home, r(), steps);
        for (auto& v : victims)
            v.abort();
    });
    int done = 0;
    for (auto& h : hs) {
        auto r = co_await h;
        if (r.has_value() || r.error().is_cancelled()) ++done;
    }
    helper.join();
    for (auto& h : outside) {
        auto r = co_await h;
        if (r.has_value()) ++done;
    }
    co_return done;
}

TEST_P(BlockingStress, LocalSetTasksStayOnTheDrivingThread) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("LocalSetStress seed " + std::to_string(seed));
    int rounds = weft_test::scaled(16, 3);
    for (int round = 0; round < rounds; ++round) {
        weft::runtime rt = make_seeded_runtime(seed + static_cast<std::uint64_t>(round));
        weft::local_set set;
        local_world w;
        for (int i = 0; i < 4; ++i)
            w.bells.push_back(std::make_shared<weft::sync::notify>());
        constexpr int tasks = 12;
        int steps = weft_test::scaled(30, 6);
        int done = set.block_on(rt, set_driver_body(&w, &set, rng(), tasks, steps));
        EXPECT_EQ(done, 2 * tasks);
        ASSERT_EQ(w.foreign.load(), 0) << "round " << round;
    }
}

} // namespace
