// Randomized stress of the task model on the multi-thread runtime: tasks
// spawning, aborting, detaching, awaiting each other and notifying, from
// tasks and from external std::threads (runtime_handle::spawn,
// abort_handle::abort). Bounded by iteration counts; the seed is printed on
// failure (rerun with WEFT_TEST_SEED=<seed>).
//
// Invariants: every joined task gave its own value, or cancelled (or, for the
// jobs that throw, its own exception); every counted object is destroyed once
// the runtime is gone; nothing deadlocks (a watchdog aborts with the seed).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft_test::counted;
using weft_test::counter;

namespace {

std::uint64_t mix(std::uint64_t x) { // splitmix64
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

int expected_value(std::uint64_t key) {
    return static_cast<int>(key % 1000003);
}

enum kind : int { immediate, yielder, gated, parent, detacher, relay, thrower, kinds };

int kind_of(std::uint64_t key, int depth) {
    int k = static_cast<int>(mix(key) % kinds);
    if (depth >= 3 && (k == parent || k == detacher || k == relay)) return yielder;
    return k;
}

struct job_error : std::runtime_error {
    explicit job_error(std::uint64_t k) : std::runtime_error("job failed"), key(k) {}
    std::uint64_t key;
};

struct world {
    weft::sync::notify gate;
    std::atomic<bool> stop{false};
    counter objs;
    std::atomic<long> violations{0};
    std::atomic<long> values{0}, cancelled{0}, panics{0};
    std::atomic<std::uint64_t> next_key{1};

    std::uint64_t new_key(std::uint64_t seed) { return mix(seed ^ next_key.fetch_add(1)) | 1; }

    /// Checks a joined result against the job's key.
    void check(weft::result<int>& r, std::uint64_t key, int depth) {
        if (r.has_value()) {
            if (*r != expected_value(key) || kind_of(key, depth) == thrower)
                violations.fetch_add(1);
            values.fetch_add(1);
            return;
        }
        if (r.error().is_cancelled()) {
            cancelled.fetch_add(1);
            return;
        }
        panics.fetch_add(1);
        try {
            weft::resume_unwind(std::move(r).error().into_panic());
        } catch (const job_error& e) {
            if (e.key != key || kind_of(key, depth) != thrower) violations.fetch_add(1);
        } catch (...) {
            violations.fetch_add(1);
        }
    }
};

weft::task<int> job(world& w, std::uint64_t key, int depth, counted token);

weft::task<int> job(world& w, std::uint64_t key, int depth, counted token) {
    counted local(w.objs, token.value());
    std::mt19937_64 rng(key);
    switch (kind_of(key, depth)) {
    case immediate:
        break;
    case yielder:
        for (int i = static_cast<int>(rng() % 4); i > 0; --i)
            co_await weft::yield_now();
        break;
    case gated:
        for (;;) {
            auto f = w.gate.notified();
            if (w.stop.load()) break;
            co_await std::move(f);
            if (rng() % 2 == 0) break;
        }
        break;
    case parent: {
        std::vector<std::pair<weft::join_handle<int>, std::uint64_t>> kids;
        for (int i = 1 + static_cast<int>(rng() % 3); i > 0; --i) {
            std::uint64_t k = mix(key + static_cast<std::uint64_t>(i));
            kids.emplace_back(weft::spawn(job, std::ref(w), k, depth + 1, counted(w.objs, i)), k);
        }
        if (rng() % 3 == 0) kids[rng() % kids.size()].first.abort();
        for (auto& [h, k] : kids) {
            weft::result<int> r = co_await h;
            w.check(r, k, depth + 1);
        }
        break;
    }
    case detacher: {
        std::uint64_t k = mix(key ^ 0xD37AC4);
        auto h = weft::spawn(job, std::ref(w), k, depth + 1, counted(w.objs, 1));
        if (rng() % 4 == 0) h.abort();
        break; // dropped: detached
    }
    case relay: {
        // One child awaits another's handle (tasks awaiting each other).
        std::uint64_t k = mix(key ^ 0x4E1A7);
        auto inner = weft::spawn(job, std::ref(w), k, depth + 1, counted(w.objs, 2));
        auto outer = weft::spawn(
            [&w, k, depth](weft::join_handle<int> h) -> weft::task<int> {
                weft::result<int> r = co_await h;
                w.check(r, k, depth + 1);
                co_return 0;
            },
            std::move(inner));
        if (rng() % 4 == 0) outer.abort(); // withdraws its wait on `inner`, which goes on
        weft::result<int> r = co_await outer;
        if (r.has_value() && *r != 0) w.violations.fetch_add(1);
        break;
    }
    case thrower:
        if (rng() % 2) co_await weft::yield_now();
        throw job_error(key);
    default:
        break;
    }
    co_return expected_value(key) + 0 * local.value();
}

struct registry {
    std::mutex mu;
    std::vector<std::pair<weft::join_handle<int>, std::uint64_t>> handles;
};

} // namespace

TEST(TaskStress, RandomizedSpawnAbortDetachAwaitNotifyAcrossThreads) {
    WEFT_SEEDED(seed);
    const int external_iterations = weft_test::scaled(120000, 500);
    const int driver_iterations = weft_test::scaled(60000, 200);
    constexpr int external_threads = 2, drivers = 3;

    weft_test::watchdog wd("TaskStress deadlock, seed " + std::to_string(seed),
                           std::chrono::seconds(100));
    world w;
    registry reg;
    long joined_at_end = 0;
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(3).build();
        weft::runtime_handle handle = rt.handle();

        auto external = [&](int index) {
            std::mt19937_64 rng(mix(seed + static_cast<std::uint64_t>(index)));
            for (int i = 0; i < external_iterations; ++i) {
                switch (rng() % 8) {
                case 0:
                case 1:
                case 2: { // spawn, keep the handle
                    std::uint64_t k = w.new_key(seed);
                    auto h = handle.spawn(job, std::ref(w), k, 0, counted(w.objs, 3));
                    std::lock_guard lk(reg.mu);
                    reg.handles.emplace_back(std::move(h), k);
                    break;
                }
                case 3: { // spawn and detach at once
                    auto h = handle.spawn(job, std::ref(w), w.new_key(seed), 0, counted(w.objs, 4));
                    break;
                }
                case 4: { // abort a random task
                    weft::abort_handle a;
                    {
                        std::lock_guard lk(reg.mu);
                        if (!reg.handles.empty())
                            a = reg.handles[rng() % reg.handles.size()].first.abort_handle();
                    }
                    a.abort();
                    break;
                }
                case 5: { // detach a random task
                    weft::join_handle<int> dropped;
                    {
                        std::lock_guard lk(reg.mu);
                        if (!reg.handles.empty()) {
                            std::size_t j = rng() % reg.handles.size();
                            dropped = std::move(reg.handles[j].first);
                            reg.handles[j] = std::move(reg.handles.back());
                            reg.handles.pop_back();
                        }
                    } // dropped here, outside the lock
                    break;
                }
                case 6:
                    w.gate.notify_one();
                    break;
                default:
                    w.gate.notify_waiters();
                    break;
                }
            }
        };

        rt.block_on([&]() -> weft::task<> {
            // Drivers: tasks that spawn, abort, await and notify.
            std::vector<weft::join_handle<void>> ds;
            for (int d = 0; d < drivers; ++d)
                ds.push_back(weft::spawn([&w, &seed, d, driver_iterations]() -> weft::task<> {
                    std::mt19937_64 rng(mix(seed ^ (0xD21 + static_cast<std::uint64_t>(d))));
                    std::vector<std::pair<weft::join_handle<int>, std::uint64_t>> mine;
                    for (int i = 0; i < driver_iterations; ++i) {
                        switch (rng() % 6) {
                        case 0:
                        case 1: {
                            std::uint64_t k = w.new_key(seed);
                            mine.emplace_back(
                                weft::spawn(job, std::ref(w), k, 0, counted(w.objs, 5)), k);
                            break;
                        }
                        case 2:
                            if (!mine.empty()) mine[rng() % mine.size()].first.abort();
                            break;
                        case 3:
                            if (!mine.empty()) {
                                auto [h, k] = std::move(mine.back());
                                mine.pop_back();
                                weft::result<int> r = co_await h;
                                w.check(r, k, 0);
                            }
                            break;
                        case 4:
                            w.gate.notify_one();
                            co_await weft::yield_now();
                            break;
                        default:
                            if (!mine.empty() && rng() % 2) {
                                mine.erase(mine.begin() +
                                           static_cast<std::ptrdiff_t>(rng() % mine.size()));
                            }
                            break;
                        }
                    }
                    // Drain: stop-aware gated jobs are released at the end.
                    for (auto& [h, k] : mine) {
                        if (rng() % 2) h.abort();
                        weft::result<int> r = co_await h;
                        w.check(r, k, 0);
                    }
                }));

            std::vector<std::thread> threads;
            for (int t = 0; t < external_threads; ++t)
                threads.emplace_back(external, t);
            for (auto& t : threads)
                t.join(); // blocks the root's thread only; the workers go on

            // Release every gated job, then join everything still held.
            w.stop.store(true);
            w.gate.notify_waiters();
            for (auto& d : ds) {
                weft::result<void> r = co_await d;
                if (!r.has_value()) w.violations.fetch_add(1);
            }
            std::vector<std::pair<weft::join_handle<int>, std::uint64_t>> held;
            {
                std::lock_guard lk(reg.mu);
                held = std::move(reg.handles);
            }
            for (auto& [h, k] : held) {
                weft::result<int> r = co_await h;
                w.check(r, k, 0);
                ++joined_at_end;
            }
        });
    } // ~runtime: anything still alive (detached gated jobs) is aborted
    EXPECT_EQ(w.violations.load(), 0) << "a task gave a value that was not its own";
    EXPECT_EQ(w.objs.alive(), 0) << "counted objects leaked or were not destroyed";
    EXPECT_GT(w.values.load(), 0);
    RecordProperty("values", std::to_string(w.values.load()));
    RecordProperty("cancelled", std::to_string(w.cancelled.load()));
    RecordProperty("panics", std::to_string(w.panics.load()));
    RecordProperty("joined_at_end", std::to_string(joined_at_end));
}

// Runtimes torn down while tasks spawn, wait and get aborted from outside:
// whatever is pending at shutdown is cancelled and freed, and spawns racing
// with the shutdown either run or are cancelled, never leak.
TEST(TaskStress, ShutdownRacesWithExternalSpawnsAndAborts) {
    WEFT_SEEDED(seed);
    const int rounds = weft_test::scaled(1000, 20);
    weft_test::watchdog wd("shutdown race deadlock, seed " + std::to_string(seed),
                           std::chrono::seconds(100));
    for (int round = 0; round < rounds; ++round) {
        std::mt19937_64 rng(mix(seed + static_cast<std::uint64_t>(round)));
        world w;
        std::vector<weft::abort_handle> seen;
        std::mutex seen_mu;
        {
            weft::runtime rt = (round % 2 == 0)
                                   ? weft::runtime::multi_thread().worker_threads(2).build()
                                   : weft::runtime::current_thread()
                                         .rng_seed(seed + static_cast<std::uint64_t>(round))
                                         .build();
            weft::runtime_handle handle = rt.handle();
            std::atomic<bool> quit{false};
            const std::uint64_t ext_seed = rng();
            std::thread spawner([&] {
                std::mt19937_64 r(ext_seed);
                for (int i = 0; i < 400 && !quit.load(); ++i) {
                    auto h = handle.spawn(job, std::ref(w), w.new_key(seed), 0, counted(w.objs, 6));
                    if (r() % 3 == 0) h.abort();
                    if (r() % 5 == 0) w.gate.notify_one();
                    std::lock_guard lk(seen_mu);
                    seen.push_back(h.abort_handle());
                }
            });
            const int root_spawns = static_cast<int>(rng() % 50);
            rt.block_on([&]() -> weft::task<> {
                for (int i = 0; i < root_spawns; ++i) {
                    auto h = weft::spawn(job, std::ref(w), w.new_key(seed), 0, counted(w.objs, 7));
                    if (i % 7 == 0) co_await weft::yield_now();
                }
            });
            quit.store(rng() % 2 == 0); // sometimes the spawner runs into the shutdown
            // ~runtime now, racing with the spawner; the handle stays valid.
            rt = weft::runtime::current_thread().build();
            spawner.join();
        }
        EXPECT_EQ(w.violations.load(), 0) << "round " << round;
        EXPECT_EQ(w.objs.alive(), 0) << "round " << round << ": objects not destroyed";
        for (auto& a : seen)
            EXPECT_TRUE(a.is_finished()) << "round " << round;
        if (::testing::Test::HasFailure()) break;
    }
}

// A join handle's output must be visible to its awaiter however the awaiter
// was queued. Here a stale wake (a notify_waiters that took the waker of a
// timed-out notified(), and wakes it late) often queues the task while it
// waits for a blocking call; the call's completion then finds the task
// NOTIFIED already and its state CAS writes nothing. The awaiter must still
// read the output the call wrote: under ThreadSanitizer a missing
// happens-before shows up as a data race on the output (the bug this test
// was written for: the wake token was raised and read with relaxed order).
TEST(TaskStress, JoinOutputIsVisibleWhenAStaleWakeQueuedTheAwaiter) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("stale-wake join stress, seed " + std::to_string(seed));
    // Not scaled down under sanitizers: the race is rare per step, and
    // ThreadSanitizer is where it shows.
    constexpr int rounds = 8;
    constexpr int steps = 400;
    for (int round = 0; round < rounds; ++round) {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        weft::sync::notify bell;
        std::atomic<bool> stop{false};
        // Rings from outside the runtime: its wakes land at any moment,
        // often after the waiter it woke gave up.
        std::thread ringer([&] {
            while (!stop.load(std::memory_order_relaxed))
                bell.notify_waiters();
        });
        const std::uint64_t round_seed = rng();
        int wrong = rt.block_on([&]() -> weft::task<int> {
            std::vector<weft::join_handle<int>> hs;
            for (int t = 0; t < 2; ++t) {
                hs.push_back(weft::spawn([&bell, t,
                                          s = round_seed +
                                              static_cast<std::uint64_t>(t)]() -> weft::task<int> {
                    std::mt19937_64 r(s);
                    int bad = 0;
                    for (int i = 0; i < steps; ++i) {
                        // Register on the bell, then give up at once (or
                        // after a ring): a ring may now wake us late.
                        (void)co_await weft::time::timeout(std::chrono::microseconds(r() % 50),
                                                           bell.notified());
                        std::string want = "call " + std::to_string(t) + "/" + std::to_string(i);
                        auto h = weft::spawn_blocking([want] { return want; });
                        auto got = co_await h;
                        if (!got.has_value() || got.value() != want) ++bad;
                    }
                    co_return bad;
                }));
            }
            int bad = 0;
            for (auto& h : hs)
                bad += (co_await h).value();
            co_return bad;
        });
        stop.store(true);
        ringer.join();
        ASSERT_EQ(wrong, 0) << "round " << round;
    }
}

// shutdown_background() and a short shutdown_timeout() return without
// waiting: the runtime detaches the workers still running (under its exit
// lock, so that none is exiting meanwhile: glibc 2.36's pthread_detach races
// a thread's exit, decision 0034) and joins those already gone, and the last
// worker out drops what never ran. Checks that every task's arguments are
// destroyed and nothing crashes or hangs while workers exit.
TEST(TaskStress, ShutdownBackgroundWhileWorkersExit) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("shutdown_background stress, seed " + std::to_string(seed));
    const int rounds = weft_test::scaled(1500, 100);
    counter objs;
    for (int round = 0; round < rounds; ++round) {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        const int tasks = static_cast<int>(rng() % 4);
        for (int i = 0; i < tasks; ++i)
            rt.spawn([](counted) -> weft::task<> { co_return; }, counted(objs));
        if (rng() % 2 == 0)
            std::move(rt).shutdown_background();
        else
            std::move(rt).shutdown_timeout(std::chrono::microseconds(rng() % 50));
    }
    // The last worker of each runtime drops what never ran; every task's
    // arguments are destroyed once all of them are done (bounded by the
    // watchdog, not by a timing threshold).
    while (objs.alive() != 0)
        std::this_thread::yield();
    EXPECT_EQ(objs.alive(), 0);
}
