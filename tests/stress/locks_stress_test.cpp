// Randomized abort-during-wake stress of the sync leaves built on wait lists:
// semaphore acquire, mutex lock, rw_lock read/write, barrier wait and
// cancellation_token cancelled(). On the multi-thread runtime (2 workers),
// tasks wait, get granted, and get aborted from an external thread while the
// grant (or the cancellation, or the barrier release) is in flight; external
// threads also release permits and cancel tokens.
//
// Invariants: permits are never lost or duplicated (available_permits()
// returns to the initial count); mutual exclusion holds (a counter inside the
// critical section never exceeds 1, readers never overlap a writer); a
// barrier has at most one leader per generation and releases every live
// waiter of a completed generation; a cancelled token wakes every live
// waiter below it; nothing deadlocks (a watchdog aborts with the seed); every
// counted object is destroyed. Bounded iteration counts, scaled under
// sanitizers; rerun a failure with WEFT_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft_test::counted;
using weft_test::counter;

namespace {

weft::runtime make_mt() {
    return weft::runtime::multi_thread().worker_threads(2).build();
}

void spin(std::mt19937_64& r, unsigned max) {
    for (unsigned s = static_cast<unsigned>(r() % max); s > 0; --s)
        std::this_thread::yield();
}

/// Picks `k` distinct indices out of [0, n).
std::vector<int> pick(std::mt19937_64& r, int n, int k) {
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = i;
    std::shuffle(v.begin(), v.end(), r);
    v.resize(static_cast<std::size_t>(k));
    return v;
}

/// Aborts handles[v] for each victim from its own thread, with random pauses
/// in between, once `go` is set.
std::thread start_aborter(const std::vector<weft::abort_handle>& handles, std::vector<int> victims,
                          std::uint64_t seed, std::atomic<bool>& go) {
    return std::thread([handles, victims = std::move(victims), seed, &go] {
        std::mt19937_64 r(seed);
        go.wait(false);
        for (int v : victims) {
            spin(r, 64);
            handles[static_cast<std::size_t>(v)].abort();
        }
    });
}

/// Adds `n` to a counter for its lifetime: a task aborted inside a critical
/// section leaves it (the guard declared before it is released after).
struct presence {
    presence(std::atomic<long>& c, long n) noexcept : c_(c), n_(n) { c_.fetch_add(n_); }
    ~presence() { c_.fetch_sub(n_); }
    presence(const presence&) = delete;
    presence& operator=(const presence&) = delete;
    std::atomic<long>& c_;
    long n_;
};

template <class T>
std::vector<weft::abort_handle> abort_handles(const std::vector<weft::join_handle<T>>& hs) {
    std::vector<weft::abort_handle> v;
    for (auto& h : hs)
        v.push_back(h.abort_handle());
    return v;
}

} // namespace

// --- semaphore ------------------------------------------------------------------

TEST(LocksStress, SemaphoreAcquireAbortDuringGrantConservesPermits) {
    WEFT_SEEDED(seed);
    weft::runtime rt = make_mt();
    const int rounds = weft_test::scaled(400, 20);
    weft_test::watchdog wd("semaphore stress", std::chrono::seconds(90));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 7919);
        const std::size_t permits = 1 + rng() % 4;
        const int tasks = 3 + static_cast<int>(rng() % 8);
        const int iterations = 10 + static_cast<int>(rng() % 40);
        const bool close_midway = rng() % 4 == 0;
        std::vector<int> victims = pick(rng, tasks, static_cast<int>(rng() % (tasks + 1)));
        const std::uint64_t aborter_seed = rng(), helper_seed = rng();

        weft::sync::semaphore sem(permits);
        counter objs;
        std::atomic<long> in_use{0}, violations{0}, closed_seen{0};
        std::atomic<std::uint64_t> epoch{0};
        std::atomic<bool> go{false}, tasks_done{false};
        std::thread aborter, helper;
        rt.block_on([&]() -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < tasks; ++i)
                hs.push_back(weft::spawn(
                    [&, i](counted obj) -> weft::task<> {
                        std::mt19937_64 r(seed ^ static_cast<std::uint64_t>(i * 131 + round));
                        try {
                            for (int k = 0; k < iterations; ++k) {
                                std::size_t n = 1 + r() % permits;
                                weft::sync::semaphore_permit p = co_await sem.acquire(n);
                                presence here(in_use, static_cast<long>(n));
                                // While the helper lends a permit (odd epoch)
                                // one more may be out; judge stable epochs only.
                                std::uint64_t e1 = epoch.load();
                                long used = in_use.load();
                                if (e1 == epoch.load() &&
                                    used > static_cast<long>(permits + (e1 & 1)))
                                    violations.fetch_add(1);
                                if (r() % 2) co_await weft::yield_now();
                            }
                        } catch (const weft::sync::acquire_error&) {
                            closed_seen.fetch_add(1);
                        }
                        (void)obj.value();
                    },
                    counted(objs, i)));
            aborter = start_aborter(abort_handles(hs), victims, aborter_seed, go);
            // A foreign thread lends one permit (granted to waiters from off
            // the runtime) and takes one back, then maybe closes.
            helper = std::thread([&] {
                std::mt19937_64 r(helper_seed);
                go.wait(false);
                for (int k = 0; k < 5; ++k) {
                    spin(r, 32);
                    epoch.fetch_add(1); // odd: lending
                    sem.add_permits(1);
                    spin(r, 32);
                    for (;;) {
                        // Read before trying: once every task is done, the
                        // permit must be there.
                        const bool done = tasks_done.load();
                        if (auto p = sem.try_acquire()) {
                            std::move(*p).forget();
                            epoch.fetch_add(1); // even: back
                            break;
                        }
                        if (done) {
                            ADD_FAILURE() << "the lent permit was lost";
                            return;
                        }
                        std::this_thread::yield();
                    }
                }
                if (close_midway) sem.close();
            });
            go.store(true);
            go.notify_all();
            for (auto& h : hs) {
                weft::result<void> r = co_await h;
                EXPECT_TRUE(r.has_value() || r.error().is_cancelled());
            }
        });
        tasks_done.store(true);
        aborter.join();
        helper.join();
        EXPECT_EQ(violations.load(), 0) << "round " << round << ": more permits out than exist";
        EXPECT_EQ(sem.available_permits(), permits)
            << "round " << round << ": permits lost or duplicated (" << tasks << " tasks, "
            << victims.size() << " aborted, close " << close_midway << ")";
        EXPECT_EQ(objs.alive(), 0);
        if (::testing::Test::HasFailure()) break;
    }
}

// --- mutex ----------------------------------------------------------------------------

TEST(LocksStress, MutexLockAbortDuringHandOffKeepsExclusionAndUnlocks) {
    WEFT_SEEDED(seed);
    weft::runtime rt = make_mt();
    const int rounds = weft_test::scaled(400, 20);
    weft_test::watchdog wd("mutex stress", std::chrono::seconds(90));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 104729);
        const int tasks = 2 + static_cast<int>(rng() % 9);
        const int iterations = 10 + static_cast<int>(rng() % 40);
        std::vector<int> victims = pick(rng, tasks, static_cast<int>(rng() % (tasks + 1)));
        const std::uint64_t aborter_seed = rng();

        weft::sync::mutex<long> m(0);
        counter objs;
        std::atomic<long> inside{0}, violations{0}, entries{0};
        std::atomic<bool> go{false};
        std::thread aborter;
        rt.block_on([&]() -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < tasks; ++i)
                hs.push_back(weft::spawn(
                    [&, i](counted obj) -> weft::task<> {
                        std::mt19937_64 r(seed ^ static_cast<std::uint64_t>(i * 977 + round));
                        for (int k = 0; k < iterations; ++k) {
                            auto g = co_await m.lock();
                            presence here(inside, 1);
                            if (inside.load() != 1) violations.fetch_add(1);
                            entries.fetch_add(1);
                            long v = *g;
                            if (r() % 2) co_await weft::yield_now(); // held across a suspension
                            if (inside.load() != 1) violations.fetch_add(1);
                            *g = v + 1;
                        }
                        (void)obj.value();
                    },
                    counted(objs, i)));
            aborter = start_aborter(abort_handles(hs), victims, aborter_seed, go);
            go.store(true);
            go.notify_all();
            for (auto& h : hs) {
                weft::result<void> r = co_await h;
                EXPECT_TRUE(r.has_value() || r.error().is_cancelled());
            }
        });
        aborter.join();
        EXPECT_EQ(violations.load(), 0) << "round " << round << ": two tasks inside the mutex";
        EXPECT_TRUE(m.try_lock().has_value()) << "round " << round << ": left locked";
        // Each completed critical section added 1; an aborted one (at its
        // yield) added nothing: the value is at most the number of entries.
        EXPECT_LE(m.get_mut(), entries.load());
        EXPECT_GE(m.get_mut(), entries.load() - static_cast<long>(victims.size()));
        EXPECT_EQ(objs.alive(), 0);
        if (::testing::Test::HasFailure()) break;
    }
}

// --- rw_lock ----------------------------------------------------------------------------

TEST(LocksStress, RwLockAbortDuringGrantKeepsWritersExclusive) {
    WEFT_SEEDED(seed);
    weft::runtime rt = make_mt();
    const int rounds = weft_test::scaled(400, 20);
    weft_test::watchdog wd("rw_lock stress", std::chrono::seconds(90));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 15485863);
        const int tasks = 2 + static_cast<int>(rng() % 9);
        const int iterations = 10 + static_cast<int>(rng() % 40);
        const unsigned write_share = 1 + static_cast<unsigned>(rng() % 3); // 1..3 in 4
        std::vector<int> victims = pick(rng, tasks, static_cast<int>(rng() % (tasks + 1)));
        const std::uint64_t aborter_seed = rng();

        weft::sync::rw_lock<long> l(0);
        counter objs;
        std::atomic<long> readers{0}, writers{0}, violations{0};
        std::atomic<bool> go{false};
        std::thread aborter;
        rt.block_on([&]() -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < tasks; ++i)
                hs.push_back(weft::spawn(
                    [&, i](counted obj) -> weft::task<> {
                        std::mt19937_64 r(seed ^ static_cast<std::uint64_t>(i * 613 + round));
                        for (int k = 0; k < iterations; ++k) {
                            if (r() % 4 < write_share) {
                                auto w = co_await l.write();
                                presence here(writers, 1);
                                if (writers.load() != 1 || readers.load() != 0)
                                    violations.fetch_add(1);
                                if (r() % 2) co_await weft::yield_now();
                                ++*w;
                                if (writers.load() != 1 || readers.load() != 0)
                                    violations.fetch_add(1);
                            } else {
                                auto rd = co_await l.read();
                                presence here(readers, 1);
                                if (writers.load() != 0) violations.fetch_add(1);
                                if (r() % 2) co_await weft::yield_now();
                            }
                        }
                        (void)obj.value();
                    },
                    counted(objs, i)));
            aborter = start_aborter(abort_handles(hs), victims, aborter_seed, go);
            go.store(true);
            go.notify_all();
            for (auto& h : hs) {
                weft::result<void> r = co_await h;
                EXPECT_TRUE(r.has_value() || r.error().is_cancelled());
            }
        });
        aborter.join();
        EXPECT_EQ(violations.load(), 0) << "round " << round << ": a writer overlapped";
        EXPECT_TRUE(l.try_write().has_value()) << "round " << round << ": permits lost";
        EXPECT_EQ(objs.alive(), 0);
        if (::testing::Test::HasFailure()) break;
    }
}

// --- barrier ----------------------------------------------------------------------------

// n tasks wait on a barrier(n) for G generations while some are aborted. A
// task records its arrival at generation g right before awaiting (nothing in
// between can suspend, so the arrival happens), so once the victims are gone
// the outcome is determined: with A[g] arrivals of victims at g and `live`
// survivors, the survivors complete every generation before the first g*
// where A[g*] + live < n, and stall at g*. Each completed generation has at
// most one leader, and exactly one unless a victim arrived there (a victim
// may have been the leader, aborted before it resumed).
TEST(LocksStress, BarrierWaitAbortDuringReleaseHasOneLeaderAndLosesNoWaiter) {
    WEFT_SEEDED(seed);
    weft::runtime rt = make_mt();
    const int rounds = weft_test::scaled(600, 30);
    constexpr int generations = 12;
    weft_test::watchdog wd("barrier stress", std::chrono::seconds(90));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 32452843);
        const int n = 2 + static_cast<int>(rng() % 7);
        std::vector<int> victims = pick(rng, n, static_cast<int>(rng() % 3)); // 0..2 victims
        const std::uint64_t aborter_seed = rng();
        std::vector<bool> is_victim(static_cast<std::size_t>(n));
        for (int v : victims)
            is_victim[static_cast<std::size_t>(v)] = true;
        const int live = n - static_cast<int>(victims.size());

        weft::sync::barrier b(static_cast<std::size_t>(n));
        counter objs;
        std::atomic<int> victim_arrivals[generations] = {};
        std::atomic<int> live_arrivals[generations] = {};
        std::atomic<int> live_completions[generations] = {};
        std::atomic<int> leaders[generations] = {};
        std::atomic<bool> go{false};
        std::thread aborter;
        int stall = generations;
        rt.block_on([&]() -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < n; ++i) {
                const bool victim = is_victim[static_cast<std::size_t>(i)];
                hs.push_back(weft::spawn(
                    [&, victim](counted obj) -> weft::task<> {
                        for (int g = 0; g < generations; ++g) {
                            (victim ? victim_arrivals : live_arrivals)[g].fetch_add(1);
                            weft::sync::barrier_wait_result r = co_await b.wait();
                            if (r.is_leader()) leaders[g].fetch_add(1);
                            if (!victim) live_completions[g].fetch_add(1);
                        }
                        (void)obj.value();
                    },
                    counted(objs, i)));
            }
            aborter = start_aborter(abort_handles(hs), victims, aborter_seed, go);
            go.store(true);
            go.notify_all();
            for (int v : victims)
                (void)co_await hs[static_cast<std::size_t>(v)];
            // Victims are gone: where must the survivors stall?
            for (int g = 0; g < generations; ++g)
                if (victim_arrivals[g].load() + live < n) {
                    stall = g;
                    break;
                }
            if (stall == generations) {
                for (int i = 0; i < n; ++i)
                    if (!is_victim[static_cast<std::size_t>(i)]) {
                        weft::result<void> r = co_await hs[static_cast<std::size_t>(i)];
                        EXPECT_TRUE(r.has_value());
                    }
            } else {
                // Wait (bounded) until every survivor has arrived at the stall point.
                for (long k = 0; k < 2'000'000 && live_arrivals[stall].load() < live; ++k)
                    co_await weft::yield_now();
                EXPECT_EQ(live_arrivals[stall].load(), live)
                    << "survivors did not reach generation " << stall << ": a lost wake-up";
                for (int i = 0; i < 20; ++i)
                    co_await weft::yield_now(); // a wrongful release would show now
                for (auto& h : hs)
                    h.abort();
                for (int i = 0; i < n; ++i)
                    if (!is_victim[static_cast<std::size_t>(i)])
                        (void)co_await hs[static_cast<std::size_t>(i)];
            }
        });
        aborter.join();
        for (int g = 0; g < generations; ++g) {
            SCOPED_TRACE(::testing::Message()
                         << "round " << round << ", n " << n << ", " << victims.size()
                         << " victims, generation " << g << ", stall at " << stall);
            EXPECT_LE(leaders[g].load(), 1);
            if (g < stall) {
                EXPECT_EQ(live_completions[g].load(), live) << "a live waiter was not released";
                if (victim_arrivals[g].load() == 0) {
                    EXPECT_EQ(leaders[g].load(), 1);
                }
            } else {
                EXPECT_EQ(live_completions[g].load(), 0) << "released before n arrivals";
                EXPECT_EQ(leaders[g].load(), 0);
            }
        }
        EXPECT_EQ(objs.alive(), 0);
        if (::testing::Test::HasFailure()) break;
    }
}

// --- cancellation_token ---------------------------------------------------------------------

// A random token tree; tasks wait on random nodes (some through a child they
// make and drop themselves, churning the tree); an external thread cancels
// random nodes and finally the root while another aborts random waiters, and
// the test drops tokens of the tree concurrently (re-parenting). Every
// surviving waiter must complete and see its token cancelled.
TEST(LocksStress, CancellationTokenCancelDuringAbortWakesEveryLiveWaiter) {
    WEFT_SEEDED(seed);
    weft::runtime rt = make_mt();
    const int rounds = weft_test::scaled(600, 30);
    weft_test::watchdog wd("cancellation_token stress", std::chrono::seconds(90));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 49979687);
        const int nodes = 2 + static_cast<int>(rng() % 12);
        const int tasks = 2 + static_cast<int>(rng() % 12);
        std::vector<int> victims = pick(rng, tasks, static_cast<int>(rng() % (tasks + 1)));
        const std::uint64_t aborter_seed = rng(), canceller_seed = rng();

        std::vector<std::optional<weft::cancellation_token>> tree;
        tree.emplace_back(weft::cancellation_token());
        for (int i = 1; i < nodes; ++i) {
            std::size_t parent = rng() % tree.size();
            tree.emplace_back(tree[parent]->child_token());
        }
        weft::cancellation_token root = *tree[0];
        std::vector<weft::cancellation_token> targets;
        for (int i = 0; i < tasks; ++i)
            targets.push_back(*tree[rng() % tree.size()]);
        std::vector<int> to_cancel = pick(rng, nodes, static_cast<int>(rng() % (nodes + 1)));
        std::vector<weft::cancellation_token> cancel_list;
        for (int c : to_cancel)
            cancel_list.push_back(*tree[static_cast<std::size_t>(c)]);

        counter objs;
        std::atomic<long> woke{0}, not_cancelled{0};
        std::atomic<bool> go{false};
        std::thread aborter, canceller;
        rt.block_on([&]() -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < tasks; ++i)
                hs.push_back(weft::spawn(
                    [&, i](weft::cancellation_token t, counted obj) -> weft::task<> {
                        if (i % 2) {
                            weft::cancellation_token mine = t.child_token();
                            co_await mine.cancelled();
                            if (!mine.is_cancelled()) not_cancelled.fetch_add(1);
                        } else {
                            co_await t.cancelled();
                        }
                        if (!t.is_cancelled()) not_cancelled.fetch_add(1);
                        woke.fetch_add(1);
                        (void)obj.value();
                    },
                    targets[static_cast<std::size_t>(i)], counted(objs, i)));
            targets.clear();
            aborter = start_aborter(abort_handles(hs), victims, aborter_seed, go);
            canceller = std::thread([&] {
                std::mt19937_64 r(canceller_seed);
                go.wait(false);
                for (auto& t : cancel_list) {
                    spin(r, 64);
                    t.cancel();
                }
                spin(r, 64);
                root.cancel();
            });
            go.store(true);
            go.notify_all();
            // Drop the tree's own tokens meanwhile (the tasks keep theirs).
            std::mt19937_64 r(aborter_seed ^ canceller_seed);
            for (auto& t : tree) {
                if (r() % 2) t.reset();
                if (r() % 4 == 0) co_await weft::yield_now();
            }
            for (auto& h : hs) {
                weft::result<void> res = co_await h;
                EXPECT_TRUE(res.has_value() || res.error().is_cancelled());
            }
        });
        aborter.join();
        canceller.join();
        EXPECT_EQ(not_cancelled.load(), 0) << "round " << round << ": woken but not cancelled";
        EXPECT_GE(woke.load(), tasks - static_cast<long>(victims.size()))
            << "round " << round << ": a live waiter was not woken";
        EXPECT_EQ(objs.alive(), 0);
        if (::testing::Test::HasFailure()) break;
    }
}
