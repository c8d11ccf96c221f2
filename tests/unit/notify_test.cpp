// sync::notify: permits, FIFO order, notify_waiters, and cancellation safety
// (an aborted waiter chosen by notify_one passes the notification on).
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

namespace {

/// A waiter that creates its notified() object, reports that, then awaits it.
weft::task<int> waiter(weft::sync::notify& n, weft::sync::notify& progress,
                       std::atomic<long>& arrived, std::atomic<long>& woke, int index) {
    auto f = n.notified();
    weft_test::bump(progress, arrived);
    co_await std::move(f);
    weft_test::bump(progress, woke);
    co_return index;
}

/// A waiter that registers at once (spawn it, then let it run).
weft::task<int> plain_waiter(weft::sync::notify& n, weft::sync::notify& progress,
                             std::atomic<long>& woke, int index) {
    co_await n.notified();
    weft_test::bump(progress, woke);
    co_return index;
}

weft::runtime make_flavor(int which, std::optional<std::uint64_t> seed = std::nullopt) {
    // 0: current_thread; 1: multi_thread with ONE worker. With one thread
    // running tasks, "spawn, then yield" guarantees that the spawned waiter
    // has registered (yield_now puts the spawner behind every ready task),
    // which the FIFO and pass-on tests need.
    // A randomized test passes its seed: the current-thread run replays.
    if (which == 0) {
        weft::runtime_builder b = weft::runtime::current_thread();
        if (seed) b.rng_seed(*seed);
        return b.build();
    }
    return weft::runtime::multi_thread().worker_threads(1).build();
}

const char* flavor_label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

} // namespace

class NotifyFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(NotifyFlavors);

// --- permits -------------------------------------------------------------------

TEST_P(NotifyFlavors, NotifyOneBeforeNotifiedStoresOnePermitThatDoesNotAccumulate) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n, progress;
    std::atomic<long> woke{0};
    rt.block_on([&]() -> weft::task<> {
        n.notify_one();
        n.notify_one();
        n.notify_one();        // still one permit
        co_await n.notified(); // takes it at once
        auto probe = n.notified();
        EXPECT_FALSE(probe.await_ready()) << "permits must not add up";

        auto h = weft::spawn(plain_waiter, std::ref(n), std::ref(progress), std::ref(woke), 1);
        co_await weft::yield_now();
        EXPECT_EQ(woke.load(), 0) << "no permit left: the waiter must wait";
        EXPECT_FALSE(h.is_finished());
        n.notify_one();
        weft::result<int> r = co_await h;
        EXPECT_EQ(r.value(), 1);
        EXPECT_EQ(woke.load(), 1);
    });
}

TEST(Notify, PermitIsVisibleWithoutARuntime) {
    weft::sync::notify n;
    {
        auto a = n.notified();
        EXPECT_FALSE(a.await_ready());
    }
    n.notify_one();
    n.notify_one();
    {
        auto a = n.notified();
        EXPECT_TRUE(a.await_ready());
    }
    {
        auto b = n.notified();
        EXPECT_FALSE(b.await_ready())
            << "the second notify_one must not have stored a second permit";
    }
}

TEST_P(NotifyFlavors, NotifyOneWakesOneWaiterAtATime) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n, progress;
    std::atomic<long> woke{0}, arrived{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < 4; ++i)
            hs.push_back(weft::spawn(waiter, std::ref(n), std::ref(progress), std::ref(arrived),
                                     std::ref(woke), i));
        co_await weft_test::wait_at_least(progress, arrived, 4);
        for (long k = 1; k <= 4; ++k) {
            n.notify_one();
            co_await weft_test::wait_at_least(progress, woke, k);
            EXPECT_EQ(woke.load(), k) << "one notify_one, one waiter";
        }
        for (auto& h : hs) {
            weft::result<int> r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
        auto probe = n.notified();
        EXPECT_FALSE(probe.await_ready()) << "every notification went to a waiter";
    });
}

// --- FIFO ------------------------------------------------------------------------

TEST(Notify, WaitersAreWokenInFifoOrder) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(flavor_label(which));
        weft::runtime rt = make_flavor(which);
        weft::sync::notify n, progress;
        std::atomic<long> woke{0};
        std::mutex mu;
        std::vector<int> order;
        constexpr int count = 8;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                std::vector<weft::join_handle<int>> hs;
                for (int i = 0; i < count; ++i) {
                    hs.push_back(weft::spawn(
                        [&](int index) -> weft::task<int> {
                            co_await n.notified();
                            {
                                std::lock_guard lk(mu);
                                order.push_back(index);
                            }
                            weft_test::bump(progress, woke);
                            co_return index;
                        },
                        i));
                    co_await weft::yield_now(); // waiter i registers before i + 1 exists
                }
                for (long k = 1; k <= count; ++k) {
                    n.notify_one();
                    co_await weft_test::wait_at_least(progress, woke, k);
                }
                for (auto& h : hs) {
                    weft::result<int> r = co_await h;
                    EXPECT_TRUE(r.has_value());
                }
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
        std::vector<int> expected(count);
        for (int i = 0; i < count; ++i)
            expected[static_cast<std::size_t>(i)] = i;
        EXPECT_EQ(order, expected);
    }
}

// --- notify_waiters -------------------------------------------------------------------

TEST_P(NotifyFlavors, NotifyWaitersWakesAllCurrentWaitersAndStoresNoPermit) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n, progress;
    std::atomic<long> woke{0}, arrived{0};
    constexpr int count = 6;
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < count; ++i)
            hs.push_back(weft::spawn(waiter, std::ref(n), std::ref(progress), std::ref(arrived),
                                     std::ref(woke), i));
        co_await weft_test::wait_at_least(progress, arrived, count);
        n.notify_waiters(); // every notified() made before this call completes
        for (auto& h : hs) {
            weft::result<int> r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
        EXPECT_EQ(woke.load(), count);
        auto probe = n.notified();
        EXPECT_FALSE(probe.await_ready()) << "notify_waiters must not store a permit";
    });
}

TEST_P(NotifyFlavors, NotifyWaitersCompletesObjectsCreatedBeforeTheCallOnly) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n;
    rt.block_on([&]() -> weft::task<> {
        auto before = n.notified();
        n.notify_waiters();
        auto after = n.notified();
        co_await std::move(before); // completes although it was not awaited at the call
        EXPECT_FALSE(after.await_ready()) << "made after notify_waiters: not woken by it";
        n.notify_waiters(); // nobody waits: nothing stored
        auto probe = n.notified();
        EXPECT_FALSE(probe.await_ready());
    });
}

TEST_P(NotifyFlavors, NotifyWaitersKeepsAnExistingPermit) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n;
    rt.block_on([&]() -> weft::task<> {
        n.notify_one();
        n.notify_waiters();
        co_await n.notified(); // the permit from notify_one is still there
        auto probe = n.notified();
        EXPECT_FALSE(probe.await_ready());
    });
}

// --- cancellation -------------------------------------------------------------------

TEST(Notify, AbortedWaiterChosenByNotifyOnePassesItOnToTheNextWaiter) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(flavor_label(which));
        weft::runtime rt = make_flavor(which);
        weft::sync::notify n, progress;
        std::atomic<long> woke{0};
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto first =
                    weft::spawn(plain_waiter, std::ref(n), std::ref(progress), std::ref(woke), 1);
                co_await weft::yield_now();
                auto second =
                    weft::spawn(plain_waiter, std::ref(n), std::ref(progress), std::ref(woke), 2);
                co_await weft::yield_now();
                n.notify_one(); // chooses `first` (FIFO), which has not run yet...
                first.abort();  // ...and is aborted before it does
                weft::result<int> r1 = co_await first;
                EXPECT_TRUE(r1.error().is_cancelled());
                weft::result<int> r2 = co_await second; // must have received it
                EXPECT_EQ(r2.value(), 2);
                auto probe = n.notified();
                EXPECT_FALSE(probe.await_ready()) << "passed on, not duplicated into a permit";
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
        EXPECT_EQ(woke.load(), 1);
    }
}

TEST(Notify, AbortedWaiterChosenByNotifyOneWithNobodyElseLeavesAPermit) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(flavor_label(which));
        weft::runtime rt = make_flavor(which);
        weft::sync::notify n, progress;
        std::atomic<long> woke{0};
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto only =
                    weft::spawn(plain_waiter, std::ref(n), std::ref(progress), std::ref(woke), 1);
                co_await weft::yield_now();
                n.notify_one();
                only.abort();
                weft::result<int> r = co_await only;
                EXPECT_TRUE(r.error().is_cancelled());
                auto probe = n.notified();
                EXPECT_TRUE(probe.await_ready()) << "the notification must come back as a permit";
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
    }
}

TEST(Notify, PermitTakenAtABudgetForcedYieldIsNotLostWhenTheWaiterIsAborted) {
    // A waiter may take the permit in await_ready and then be made to yield
    // because its cooperative budget is spent; if it is aborted during that
    // yield, the notification must come back (API: notify_one is never lost).
    // For each j, the task does j ready operations and then awaits `n`, which
    // holds a permit; the controller aborts it at its first forced yield.
    // Whatever j is, either the task completed (it used the permit) or the
    // permit must still be in `n`.
    for (int which : {0, 1}) {
        SCOPED_TRACE(flavor_label(which));
        weft::runtime rt = make_flavor(which);
        for (int j = 100; j <= 160; ++j) {
            SCOPED_TRACE(::testing::Message() << j << " ready operations first");
            weft::sync::notify n;
            std::atomic<int> completed{0};
            bool permit_back = false;
            rt.block_on([&]() -> weft::task<> {
                auto controller = weft::spawn([&]() -> weft::task<> {
                    n.notify_one(); // the permit
                    auto a = weft::spawn([&]() -> weft::task<> {
                        weft::sync::notify m;
                        for (int i = 0; i < j; ++i) {
                            m.notify_one();
                            co_await m.notified(); // ready: spends budget
                        }
                        co_await n.notified(); // ready (permit) unless the budget is spent
                        completed.fetch_add(1);
                    });
                    co_await weft::yield_now(); // a runs until its first forced yield
                    a.abort();
                    weft::result<void> r = co_await a;
                    (void)r;
                    auto probe = n.notified();
                    permit_back = probe.await_ready();
                });
                weft::result<void> r = co_await controller;
                EXPECT_TRUE(r.has_value());
            });
            EXPECT_TRUE(completed.load() == 1 || permit_back)
                << "the permit was taken by a waiter that was then aborted: notification lost";
            EXPECT_FALSE(completed.load() == 1 && permit_back) << "notification duplicated";
        }
    }
}

// Randomized: external threads call notify_one and abort concurrently with
// the runtime polling and cancelling the waiters. With K notifications and
// at least K waiters never aborted, exactly K waiters must complete: an
// aborted waiter that was chosen passes its notification on (none lost) and
// none is delivered twice.
TEST(Notify, AbortedChosenWaitersNeverLoseANotificationRandomized) {
    WEFT_SEEDED(seed);
    for (int which : {0, 1}) {
        SCOPED_TRACE(flavor_label(which));
        weft::runtime rt = make_flavor(which, seed);
        const int rounds = weft_test::scaled(200, 10);
        for (int round = 0; round < rounds; ++round) {
            std::mt19937_64 rng(seed + static_cast<std::uint64_t>(round) * 7919 +
                                static_cast<std::uint64_t>(which));
            const int waiters = 2 + static_cast<int>(rng() % 9);                         // 2..10
            const int aborts = static_cast<int>(rng() % static_cast<unsigned>(waiters)); // 0..w-1
            const int notifies =
                1 + static_cast<int>(rng() % static_cast<unsigned>(waiters - aborts));
            std::vector<int> victims(static_cast<std::size_t>(waiters));
            for (int i = 0; i < waiters; ++i)
                victims[static_cast<std::size_t>(i)] = i;
            std::shuffle(victims.begin(), victims.end(), rng);
            victims.resize(static_cast<std::size_t>(aborts));
            const std::uint64_t notifier_seed = rng(), aborter_seed = rng();

            weft::sync::notify n, progress;
            std::atomic<long> woke{0};
            std::atomic<bool> go{false};
            std::vector<weft::abort_handle> abort_handles;
            std::mutex ah_mu;
            std::thread notifier, aborter;
            long values = 0, cancelled = 0;
            weft_test::watchdog wd("notification lost", std::chrono::seconds(60), [&] {
                // Rescue: wake everyone so the test can report instead of hanging.
                for (int i = 0; i < 1000; ++i)
                    n.notify_waiters();
            });
            rt.block_on([&]() -> weft::task<> {
                auto controller = weft::spawn([&]() -> weft::task<> {
                    std::vector<weft::join_handle<int>> hs;
                    for (int i = 0; i < waiters; ++i) {
                        hs.push_back(weft::spawn(plain_waiter, std::ref(n), std::ref(progress),
                                                 std::ref(woke), i));
                        co_await weft::yield_now(); // registered, in order
                    }
                    {
                        std::lock_guard lk(ah_mu);
                        for (auto& h : hs)
                            abort_handles.push_back(h.abort_handle());
                    }
                    notifier = std::thread([&, notifier_seed] {
                        std::mt19937_64 r(notifier_seed);
                        go.wait(false);
                        for (int k = 0; k < notifies; ++k) {
                            for (unsigned s = static_cast<unsigned>(r() % 4); s > 0; --s)
                                std::this_thread::yield();
                            n.notify_one();
                        }
                    });
                    aborter = std::thread([&, aborter_seed] {
                        std::mt19937_64 r(aborter_seed);
                        go.wait(false);
                        for (int v : victims) {
                            for (unsigned s = static_cast<unsigned>(r() % 4); s > 0; --s)
                                std::this_thread::yield();
                            abort_handles[static_cast<std::size_t>(v)].abort();
                        }
                    });
                    go.store(true);
                    go.notify_all();
                    // The victims finish (cancelled, or with their value if woken first).
                    for (int v : victims) {
                        weft::result<int> r = co_await hs[static_cast<std::size_t>(v)];
                        EXPECT_TRUE(r.has_value() || r.error().is_cancelled());
                    }
                    // Every notification reaches a waiter that completes.
                    co_await weft_test::wait_at_least(progress, woke, notifies);
                    // Then stop the rest and count.
                    for (auto& h : hs)
                        h.abort();
                    for (int i = 0; i < waiters; ++i) {
                        auto& h = hs[static_cast<std::size_t>(i)];
                        if (std::find(victims.begin(), victims.end(), i) != victims.end())
                            continue; // already joined above
                        weft::result<int> r = co_await h;
                        if (r.has_value())
                            ++values;
                        else
                            ++cancelled;
                    }
                });
                weft::result<void> r = co_await controller;
                EXPECT_TRUE(r.has_value());
            });
            notifier.join();
            aborter.join();
            ASSERT_FALSE(wd.fired())
                << "round " << round << ": a notification was lost (" << waiters << " waiters, "
                << aborts << " aborted, " << notifies << " notify_one)";
            EXPECT_EQ(woke.load(), notifies)
                << "round " << round << ": each notify_one must wake exactly one waiter ("
                << waiters << " waiters, " << aborts << " aborted)";
            if (::testing::Test::HasFailure()) break;
        }
    }
}

// A waiter and a notifier on different threads, strictly alternating: at most
// one permit is ever outstanding, so every notify_one must be received. A
// lost wake-up (e.g. a permit stored by notify_one's lock-free path while the
// waiter is registering) shows as the watchdog firing instead of a hang.
TEST_P(NotifyFlavors, PingPongWithAnExternalThreadNeverLosesAWakeup) {
    weft::runtime rt = make_runtime();
    const int rounds = weft_test::scaled(20'000, 2'000);
    weft::sync::notify ping;
    std::atomic<long> pongs{0};
    std::atomic<bool> stop{false};
    std::atomic<long> last_round{0};
    {
        weft_test::watchdog wd("ping-pong", std::chrono::seconds(10), [&] {
            stop.store(true);
            for (int i = 0; i < 100; ++i)
                ping.notify_waiters();
            pongs.fetch_add(1'000'000'000);
            pongs.notify_all();
        });
        std::thread pinger([&] {
            for (long i = 0; i < rounds && !stop.load(); ++i) {
                ping.notify_one();
                long want = i + 1;
                for (long p = pongs.load(); p < want; p = pongs.load())
                    pongs.wait(p);
            }
        });
        rt.block_on([&]() -> weft::task<> {
            for (long i = 0; i < rounds; ++i) {
                auto f = ping.notified();
                if (stop.load()) break;
                co_await std::move(f);
                last_round.store(i);
                pongs.fetch_add(1);
                pongs.notify_all();
            }
        });
        pinger.join();
        EXPECT_FALSE(wd.fired()) << "a notify_one was lost after " << last_round.load()
                                 << " rounds (both sides waited forever)";
    }
}
