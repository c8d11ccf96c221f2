// weft::join_set<T>: results in completion order, ids, try_join_next,
// abort_all, detach_all, shutdown, destruction aborts, cancelled join_next.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;

namespace {

class JoinSetFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(JoinSetFlavors);

using weft_test::paused_runtime;
using weft_test::value_after;

weft::task<int> wait_then(weft::sync::notify* n, int v) {
    co_await n->notified();
    co_return v;
}

TEST(JoinSet, ResultsComeInCompletionOrderThenNullopt) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        EXPECT_TRUE(set.empty());
        set.spawn(value_after, 3, 30ms);
        set.spawn(value_after, 1, 10ms);
        set.spawn(value_after, 2, 20ms);
        EXPECT_EQ(set.size(), 3u);
        std::vector<int> got;
        for (;;) {
            auto r = co_await set.join_next();
            if (!r.has_value()) break;
            got.push_back(r->value());
        }
        EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
        EXPECT_TRUE(set.empty());
        auto again = co_await set.join_next();
        EXPECT_FALSE(again.has_value());
    });
}

TEST_P(JoinSetFlavors, EveryResultArrivesOnceWithItsId) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        std::set<std::uint64_t> ids;
        const int n = 200;
        for (int i = 0; i < n; ++i) {
            auto a = set.spawn(
                [](int i) -> weft::task<int> {
                    if (i % 3 == 0) co_await weft::yield_now();
                    co_return i;
                },
                i);
            ids.insert(a.id().value());
        }
        long sum = 0;
        for (;;) {
            auto r = co_await set.join_next_with_id();
            if (!r.has_value()) break;
            EXPECT_EQ(ids.erase(r->first.value()), 1u) << "each id once";
            sum += r->second.value();
        }
        EXPECT_TRUE(ids.empty());
        EXPECT_EQ(sum, long{n} * (n - 1) / 2);
    });
}

TEST_P(JoinSetFlavors, TryJoinNextNeverWaits) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        weft::sync::notify go;
        set.spawn(wait_then, &go, 5);
        auto none = set.try_join_next();
        EXPECT_FALSE(none.has_value());
        go.notify_one();
        // Wait for it without consuming it through join_next.
        while (true) {
            auto r = set.try_join_next();
            if (r.has_value()) {
                EXPECT_EQ(r->value(), 5);
                break;
            }
            co_await weft::yield_now();
        }
        EXPECT_TRUE(set.empty());
    });
}

TEST_P(JoinSetFlavors, AbortAllKeepsTasksUntilJoinedAsCancelled) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        weft::join_set<int> set;
        weft::sync::notify never;
        std::atomic<int> after{0};
        for (int i = 0; i < 10; ++i)
            set.spawn(weft_test::park_forever<weft_test::counted>, std::ref(never),
                      weft_test::counted(c, i), &after);
        set.abort_all();
        EXPECT_EQ(set.size(), 10u);
        int cancelled = 0;
        for (;;) {
            auto r = co_await set.join_next();
            if (!r.has_value()) break;
            cancelled += !r->has_value() && r->error().is_cancelled();
        }
        EXPECT_EQ(cancelled, 10);
        EXPECT_EQ(after.load(), 0);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(JoinSetFlavors, DestroyingTheSetAbortsEveryTask) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        weft::sync::notify never;
        std::vector<weft::abort_handle> handles;
        {
            weft::join_set<int> set;
            for (int i = 0; i < 10; ++i)
                handles.push_back(set.spawn(weft_test::park_forever<weft_test::counted>,
                                            std::ref(never), weft_test::counted(c, i), &after));
        }
        for (auto& h : handles) {
            bool done = co_await weft_test::wait_finished(h);
            EXPECT_TRUE(done);
        }
    });
    EXPECT_EQ(c.alive(), 0);
    EXPECT_EQ(after.load(), 0);
}

TEST_P(JoinSetFlavors, DetachAllLetsTasksRun) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::sync::notify go;
        std::atomic<int> ran{0};
        weft::abort_handle h;
        {
            weft::join_set<int> set;
            h = set.spawn(
                [](weft::sync::notify* go, std::atomic<int>* ran) -> weft::task<int> {
                    co_await go->notified();
                    ran->fetch_add(1);
                    co_return 1;
                },
                &go, &ran);
            set.detach_all();
            EXPECT_TRUE(set.empty());
        } // destroying the (empty) set aborts nothing
        go.notify_one();
        bool done = co_await weft_test::wait_finished(h);
        EXPECT_TRUE(done);
        EXPECT_EQ(ran.load(), 1);
    });
}

TEST_P(JoinSetFlavors, ShutdownAbortsAndWaitsForAll) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        weft::join_set<int> set;
        weft::sync::notify never;
        std::atomic<int> after{0};
        for (int i = 0; i < 5; ++i)
            set.spawn(weft_test::park_forever<weft_test::counted>, std::ref(never),
                      weft_test::counted(c, i), &after);
        co_await set.shutdown();
        EXPECT_TRUE(set.empty());
        EXPECT_EQ(c.alive(), 0) << "shutdown returns after every task is gone";
    });
}

TEST(JoinSet, ACancelledJoinNextTakesNothing) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        set.spawn(value_after, 7, 20ms);
        auto r = co_await weft::time::timeout(10ms, set.join_next());
        EXPECT_TRUE(r.is_elapsed());
        EXPECT_EQ(set.size(), 1u);
        auto s = co_await weft::select(set.join_next(), weft::time::sleep(1h));
        EXPECT_EQ(s.index(), 0u);
        if (s.index() != 0) co_return;
        EXPECT_EQ(std::get<0>(s)->value(), 7);
    });
}

TEST_P(JoinSetFlavors, PanicsAreResultsNotExceptions) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        set.spawn([]() -> weft::task<int> {
            throw std::runtime_error("member failed");
            co_return 0;
        });
        auto r = co_await set.join_next();
        EXPECT_TRUE(r.has_value());
        if (!r.has_value()) co_return;
        EXPECT_TRUE(r->error().is_panic());
    });
}

TEST_P(JoinSetFlavors, AdoptAnExistingHandle) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_set<int> set;
        auto h = weft::spawn(value_after, 4, 1ms);
        weft::abort_handle a = set.adopt(std::move(h));
        EXPECT_EQ(set.size(), 1u);
        auto r = co_await set.join_next();
        EXPECT_EQ(r->value(), 4);
        EXPECT_TRUE(a.is_finished());
        weft::join_handle<int> empty;
        EXPECT_THROW((void)set.adopt(std::move(empty)), std::logic_error);
    });
}

// --- task_tracker -------------------------------------------------------------------

TEST_P(JoinSetFlavors, TaskTrackerWaitsUntilClosedAndEmpty) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        weft::task_tracker tracker;
        weft::cancellation_token go;
        std::atomic<long> finished{0};
        for (int i = 0; i < 20; ++i)
            tracker.spawn(
                [](weft::cancellation_token go, std::atomic<long>* finished,
                   weft_test::counted g) -> weft::task<> {
                    co_await go.cancelled();
                    finished->fetch_add(1);
                    (void)g;
                },
                go, &finished, weft_test::counted(c, i));
        EXPECT_EQ(tracker.size(), 20u);
        EXPECT_FALSE(tracker.is_closed());
        // Not closed: wait() does not complete even when tasks finish.
        auto early = co_await weft::select(weft::biased, tracker.wait(), weft::yield_now());
        EXPECT_EQ(early.index(), 1u);
        EXPECT_TRUE(tracker.close());
        EXPECT_FALSE(tracker.close());
        auto waiter =
            weft::spawn([](weft::task_tracker t) -> weft::task<> { co_await t.wait(); }, tracker);
        go.cancel();
        co_await tracker.wait();
        EXPECT_EQ(finished.load(), 20);
        EXPECT_EQ(tracker.size(), 0u);
        EXPECT_EQ(c.alive(), 0) << "callables and arguments are gone before wait returns";
        auto w = co_await waiter;
        EXPECT_TRUE(w.has_value());
    });
}

TEST_P(JoinSetFlavors, TaskTrackerCountsAbortedTasks) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::task_tracker tracker;
        weft::sync::notify never;
        auto h = tracker.spawn(
            [](weft::sync::notify* n) -> weft::task<int> {
                co_await n->notified();
                co_return 1;
            },
            &never);
        tracker.close();
        EXPECT_EQ(tracker.size(), 1u);
        h.abort();
        co_await tracker.wait();
        EXPECT_TRUE(tracker.empty());
        auto r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        // Closed and empty: wait() is immediate; reopen makes it wait again.
        co_await tracker.wait();
        EXPECT_TRUE(tracker.reopen());
        auto s = co_await weft::select(weft::biased, tracker.wait(), weft::yield_now());
        EXPECT_EQ(s.index(), 1u);
    });
}

// The tracker takes every form weft::spawn takes (one ladder, decision 0045):
// a task already created, and named(...). The task's frame (and the counted
// argument in it) is gone before wait() returns.
TEST_P(JoinSetFlavors, TaskTrackerSpawnsATaskAndANamedCallable) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        weft::task_tracker tracker;
        weft::cancellation_token go;
        auto body = [](weft::cancellation_token go, weft_test::counted g) -> weft::task<int> {
            co_await go.cancelled();
            (void)g;
            co_return 7;
        };
        auto a = tracker.spawn(body(go, weft_test::counted(c, 1)));
        auto b = tracker.spawn(weft::named("tracked"), body, go, weft_test::counted(c, 2));
        EXPECT_EQ(tracker.size(), 2u);
        tracker.close();
        go.cancel();
        co_await tracker.wait();
        EXPECT_EQ(c.alive(), 0) << "the tasks' frames are gone before wait returns";
        auto ra = co_await a;
        auto rb = co_await b;
        EXPECT_EQ(ra.value(), 7);
        EXPECT_EQ(rb.value(), 7);
    });
}

} // namespace

TEST_P(JoinSetFlavors, BlockingAndLocalMembersJoinLikeTasks) {
    weft::runtime rt = make_runtime();
    // Inside a spawned task: on the multi-thread runtime that is a worker,
    // where spawn_local pins to the worker (block_on's thread is not one).
    rt.block_on([]() -> weft::task<> {
        auto inner = co_await weft::spawn([]() -> weft::task<> {
            weft::join_set<int> set;
            // No co_await until the spawns are done: still on this thread.
            const std::thread::id here = std::this_thread::get_id();
            std::atomic<int> off_thread{0};
            for (int i = 0; i < 8; ++i) {
                (void)set.spawn_blocking(
                    [&off_thread, here](int v) {
                        if (std::this_thread::get_id() != here) off_thread.fetch_add(1);
                        return v;
                    },
                    i);
            }
            // Local tasks stay on the thread that spawned them.
            for (int i = 8; i < 12; ++i) {
                (void)set.spawn_local(
                    [here](int v) -> weft::task<int> {
                        co_await weft::yield_now();
                        co_return std::this_thread::get_id() == here ? v : -1000;
                    },
                    i);
            }
            EXPECT_EQ(set.size(), 12u);
            int sum = 0;
            for (;;) {
                auto r = co_await set.join_next();
                if (!r.has_value()) break;
                sum += r->value();
            }
            EXPECT_EQ(sum, 66) << "every member once; local ones on the spawning thread";
            EXPECT_EQ(off_thread.load(), 8) << "blocking calls run on the pool's threads";
        });
        EXPECT_TRUE(inner.has_value());
    });
}
