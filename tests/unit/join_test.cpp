// weft::join and weft::try_join: branches inside one task, their values,
// cancellation of the others on an exception or error, teardown on abort,
// timeouts inside branches, and nesting.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;

namespace {

class JoinFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(JoinFlavors);

using weft_test::guarded_forever;
using weft_test::paused_runtime;
using weft_test::ready;
using weft_test::timers_pending;
using weft_test::value_after;

TEST_P(JoinFlavors, GivesATupleInOperandOrderVoidIsMonostate) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto t = co_await weft::join(value_after(1, 2ms), weft::time::sleep(1ms), ready(3),
                                     weft::yield_now());
        static_assert(
            std::is_same_v<decltype(t), std::tuple<int, std::monostate, int, std::monostate>>);
        EXPECT_EQ(std::get<0>(t), 1);
        EXPECT_EQ(std::get<2>(t), 3);
    });
}

TEST(Join, BranchesWaitConcurrentlyOnOnePausedClock) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto t0 = weft::time::instant::now();
        auto t = co_await weft::join(value_after(1, 1000ms), value_after(2, 2000ms),
                                     value_after(3, 1500ms));
        EXPECT_EQ(weft::time::instant::now() - t0, std::chrono::nanoseconds(2s))
            << "the sleeps overlap: the join takes the longest, not the sum";
        EXPECT_EQ(t, std::make_tuple(1, 2, 3));
    });
}

TEST_P(JoinFlavors, BranchesInterleaveInsideTheTaskOnItsThread) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::task_id me = weft::this_task::id();
        weft::sync::notify to_a, to_b;
        std::vector<int> log;
        auto a = [](weft::sync::notify* to_a, weft::sync::notify* to_b, std::vector<int>* log,
                    weft::task_id me) -> weft::task<std::thread::id> {
            for (int i = 0; i < 3; ++i) {
                co_await to_a->notified();
                EXPECT_EQ(weft::this_task::id(), me);
                log->push_back(1);
                to_b->notify_one();
            }
            co_return std::this_thread::get_id();
        };
        auto b = [](weft::sync::notify* to_a, weft::sync::notify* to_b, std::vector<int>* log,
                    weft::task_id me) -> weft::task<std::thread::id> {
            for (int i = 0; i < 3; ++i) {
                to_a->notify_one();
                co_await to_b->notified();
                EXPECT_EQ(weft::this_task::id(), me);
                log->push_back(2);
            }
            co_return std::this_thread::get_id();
        };
        auto t = co_await weft::join(a(&to_a, &to_b, &log, me), b(&to_a, &to_b, &log, me));
        EXPECT_EQ(log, (std::vector<int>{1, 2, 1, 2, 1, 2})) << "a ping-pong needs both at once";
        (void)t;
    });
}

TEST(Join, ReadyBranchesFinishWithoutSuspending) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        for (int i = 0; i < 1000; ++i) {
            auto t = co_await weft::join(ready(i), ready(i + 1));
            EXPECT_EQ(std::get<1>(t), i + 1);
        }
    });
}

TEST(Join, AnExceptionCancelsTheOtherBranchesAndPropagates) {
    weft::runtime rt = paused_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto boom = []() -> weft::task<std::string> {
            co_await weft::time::sleep(10ms);
            throw std::runtime_error("boom");
        };
        bool caught = false;
        try {
            (void)co_await weft::join(guarded_forever(&c, &after), boom(),
                                      guarded_forever(&c, &after));
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "boom";
        }
        EXPECT_TRUE(caught);
        EXPECT_EQ(c.alive(), 0) << "the other branches' frames were destroyed";
        EXPECT_EQ(timers_pending(), 0u) << "their sleeps were withdrawn";
    });
    EXPECT_EQ(after.load(), 0) << "nothing after a cancelled branch's co_await ran";
}

TEST_P(JoinFlavors, AbortOfTheTaskTearsDownEveryBranch) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        weft::sync::notify never;
        auto h = weft::spawn(
            [](weft_test::counter* c, std::atomic<int>* after,
               weft::sync::notify* never) -> weft::task<> {
                (void)co_await weft::join(guarded_forever(c, after), never->notified(),
                                          guarded_forever(c, after));
                after->fetch_add(100);
            },
            &c, &after, &never);
        while (timers_pending() < 2)
            co_await weft::yield_now();
        h.abort();
        auto r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_EQ(timers_pending(), 0u);
        never.notify_one(); // the withdrawn waiter took nothing: a permit is stored
        co_await never.notified();
    });
    EXPECT_EQ(c.alive(), 0);
    EXPECT_EQ(after.load(), 0);
}

TEST_P(JoinFlavors, JoinHandlesAsOperandsByReference) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h1 = weft::spawn(value_after, 5, 2ms);
        auto h2 = weft::spawn(ready, 6);
        auto t = co_await weft::join(h1, h2);
        EXPECT_EQ(std::get<0>(t).value() + std::get<1>(t).value(), 11);
        EXPECT_THROW((void)co_await h1, std::logic_error) << "the join took the output";
    });
}

TEST(Join, TimeoutsInDifferentBranchesFinishInAnyOrder) {
    // Each branch has its own interrupt-scope stack: the first timeout
    // pushed is not the first one popped here.
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto t0 = weft::time::instant::now();
        auto t = co_await weft::join(weft::time::timeout(30ms, weft::time::sleep(1h)),
                                     weft::time::timeout(10ms, weft::time::sleep(1h)),
                                     weft::time::timeout(1h, value_after(7, 20ms)));
        EXPECT_TRUE(std::get<0>(t).is_elapsed());
        EXPECT_TRUE(std::get<1>(t).is_elapsed());
        EXPECT_EQ(std::get<2>(t).value(), 7);
        EXPECT_EQ(weft::time::instant::now() - t0, std::chrono::nanoseconds(30ms));
        EXPECT_EQ(timers_pending(), 0u);
    });
}

TEST(Join, AnElapsedTimeoutAroundAJoinCancelsEveryBranch) {
    weft::runtime rt = paused_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto r = co_await weft::time::timeout(
            50ms, weft::join(guarded_forever(&c, &after),
                             weft::select(guarded_forever(&c, &after), weft::time::sleep(2h)),
                             weft::time::timeout(1h, guarded_forever(&c, &after))));
        EXPECT_TRUE(r.is_elapsed());
        EXPECT_EQ(c.alive(), 0);
        EXPECT_EQ(timers_pending(), 0u);
        // The task goes on normally afterwards.
        int v = co_await value_after(3, 5ms);
        EXPECT_EQ(v, 3);
    });
    EXPECT_EQ(after.load(), 0);
}

TEST(Join, NestedJoinsAndSelects) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto t0 = weft::time::instant::now();
        auto t =
            co_await weft::join(weft::join(value_after(1, 10ms),
                                           weft::select(value_after(2, 30ms), value_after(3, 5ms))),
                                weft::select(weft::join(value_after(4, 40ms), value_after(5, 1ms)),
                                             weft::time::sleep(20ms)));
        auto& inner = std::get<0>(t);
        EXPECT_EQ(std::get<0>(inner), 1);
        EXPECT_EQ(std::get<1>(inner).index(), 1u);
        EXPECT_EQ(std::get<1>(t).index(), 1u) << "the sleep beat the 40 ms join";
        EXPECT_EQ(weft::time::instant::now() - t0, std::chrono::nanoseconds(20ms));
        EXPECT_EQ(timers_pending(), 0u);
    });
}

TEST_P(JoinFlavors, YieldingBranchesTakeTurns) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        std::vector<int> log;
        auto spin = [](int id, std::vector<int>* log) -> weft::task<> {
            for (int i = 0; i < 50; ++i) {
                log->push_back(id);
                co_await weft::yield_now();
            }
        };
        (void)co_await weft::join(spin(0, &log), spin(1, &log));
        EXPECT_EQ(log.size(), 100u);
        // Each pass runs every branch once: no branch runs twice in a row
        // while the other is waiting to run.
        int switches = 0;
        for (std::size_t i = 1; i < log.size(); ++i)
            switches += log[i] != log[i - 1];
        EXPECT_GE(switches, 49);
    });
}

TEST_P(JoinFlavors, ABranchThatSpinsOnReadyOperationsDoesNotStarveOtherTasks) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        std::atomic<bool> other_ran{false};
        auto other = weft::spawn(
            [](std::atomic<bool>* ran) -> weft::task<> {
                ran->store(true);
                co_return;
            },
            &other_ran);
        auto spin = [](std::atomic<bool>* ran) -> weft::task<int> {
            int n = 0;
            weft::sync::notify ready_n;
            while (!ran->load()) {
                ready_n.notify_one(); // a permit: notified() is ready at once
                co_await ready_n.notified();
                ++n;
            }
            co_return n;
        };
        auto t = co_await weft::join(spin(&other_ran), ready(1));
        EXPECT_TRUE(other_ran.load());
        (void)t;
        (void)co_await other;
    });
}

TEST_P(JoinFlavors, AnAbortFromInsideABranchLandsAtItsNextCoAwaitEvenAReadyOne) {
    // Cancellation belongs to the task, not the branch: coop_proceed reads
    // thread_context::task, so a ready leaf inside a branch still suspends.
    weft::runtime rt = make_runtime();
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        weft::abort_handle self;
        weft::sync::notify start;
        auto h = weft::spawn(
            [](weft::abort_handle* self, weft::sync::notify* start,
               std::atomic<int>* after) -> weft::task<> {
                co_await start->notified();
                auto a = [](weft::abort_handle* self, std::atomic<int>* after) -> weft::task<> {
                    self->abort();
                    weft::sync::notify n;
                    n.notify_one();
                    co_await n.notified(); // ready, but the task is aborted
                    after->fetch_add(1);
                };
                auto b = [](std::atomic<int>* after) -> weft::task<> {
                    co_await weft::yield_now();
                    after->fetch_add(10);
                };
                auto ta = a(self, after);
                auto tb = b(after);
                (void)co_await weft::join(std::move(ta), std::move(tb));
                after->fetch_add(100);
            },
            &self, &start, &after);
        self = h.abort_handle();
        start.notify_one();
        auto r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
    });
    EXPECT_EQ(after.load(), 0);
}

TEST(Join, EmptyTaskOperandThrowsLogicError) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::task<int> t = ready(1);
        weft::task<int> moved = std::move(t);
        bool threw = false;
        try {
            (void)co_await weft::join(std::move(t), std::move(moved));
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
    });
}

// --- try_join -------------------------------------------------------------------

TEST_P(JoinFlavors, TryJoinAllOkGivesUnwrappedValues) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h = weft::spawn(ready, 4);
        auto r = co_await weft::try_join(std::move(h), weft::time::timeout(1h, value_after(5, 1ms)),
                                         ready(6), weft::time::sleep(1ms));
        static_assert(
            std::is_same_v<decltype(r)::values_type, std::tuple<int, int, int, std::monostate>>);
        EXPECT_TRUE(r.has_value());
        if (!r.has_value()) co_return;
        EXPECT_EQ(std::get<0>(*r) + std::get<1>(*r) + std::get<2>(*r), 15);
    });
}

TEST(TryJoin, TheFirstErrorCancelsTheRestAndIsReturned) {
    weft::runtime rt = paused_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto r = co_await weft::try_join(guarded_forever(&c, &after),
                                         weft::time::timeout(10ms, weft::time::sleep(1h)),
                                         weft::time::timeout(1h, guarded_forever(&c, &after)));
        EXPECT_FALSE(r.has_value());
        EXPECT_EQ(r.failed_branch(), 1u);
        EXPECT_TRUE(std::get<1>(r.error()).is_elapsed());
        EXPECT_THROW((void)r.value(), weft::time::elapsed);
        EXPECT_EQ(c.alive(), 0);
        EXPECT_EQ(timers_pending(), 0u);
    });
    EXPECT_EQ(after.load(), 0);
}

TEST_P(JoinFlavors, TryJoinOfJoinHandlesReturnsThePanic) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::sync::notify never;
        auto bad = weft::spawn([]() -> weft::task<int> {
            throw std::runtime_error("task failed");
            co_return 0;
        });
        auto r = co_await weft::try_join(never.notified(), std::move(bad));
        EXPECT_FALSE(r.has_value());
        if (r.has_value()) co_return;
        EXPECT_EQ(r.failed_branch(), 1u);
        EXPECT_TRUE(std::get<1>(r.error()).error().is_panic());
        EXPECT_THROW((void)std::move(r).value(), weft::join_error);
    });
}

TEST(TryJoin, ExceptionsPropagate) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto boom = []() -> weft::task<weft::result<int>> {
            throw std::invalid_argument("bad");
            co_return weft::result<int>(1);
        };
        EXPECT_THROW((void)co_await weft::try_join(weft::time::sleep(1h), boom()),
                     std::invalid_argument);
    });
}

} // namespace
