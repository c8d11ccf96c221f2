// weft::select: the first branch wins, losers are cancelled at their
// suspension points before select returns, fairness and biased order, late
// wakes from cancelled branches, abort, nesting.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using namespace std::chrono_literals;

namespace {

class SelectFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(SelectFlavors);

using weft_test::guarded_forever;
using weft_test::paused_runtime;
using weft_test::ready;
using weft_test::timers_pending;
using weft_test::value_after;

TEST(Select, TheFirstToFinishWinsDuplicateTypesStayDistinct) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto r =
            co_await weft::select(value_after(1, 20ms), value_after(2, 10ms), value_after(3, 30ms));
        static_assert(std::is_same_v<decltype(r), std::variant<int, int, int>>);
        EXPECT_EQ(r.index(), 1u);
        EXPECT_EQ(std::get<1>(r), 2);
        EXPECT_EQ(timers_pending(), 0u) << "the losers' sleeps were withdrawn";
    });
}

TEST(Select, LosersAreCancelledAtTheirSuspensionPointBeforeSelectReturns) {
    weft::runtime rt = paused_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto r = co_await weft::select(guarded_forever(&c, &after), weft::time::sleep(5ms),
                                       guarded_forever(&c, &after));
        EXPECT_EQ(r.index(), 1u);
        EXPECT_EQ(c.alive(), 0);
        EXPECT_EQ(timers_pending(), 0u);
    });
    EXPECT_EQ(after.load(), 0);
}

TEST(Select, AReadyBranchWinsAndLaterBranchesNeverStartWhenBiased) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        bool started = false;
        auto never = [](bool* started) -> weft::task<int> {
            *started = true;
            co_return 0;
        };
        auto r = co_await weft::select(weft::biased, ready(9), never(&started));
        EXPECT_EQ(r.index(), 0u);
        EXPECT_EQ(std::get<0>(r), 9);
        EXPECT_FALSE(started) << "a branch that has not started never runs";
    });
}

TEST(Select, StartOrderIsRandomisedUnlessBiased) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        int wins[3] = {0, 0, 0};
        for (int i = 0; i < 600; ++i) {
            auto r = co_await weft::select(ready(0), ready(1), ready(2));
            ++wins[r.index()];
        }
        for (int w : wins)
            EXPECT_GT(w, 0) << "every always-ready branch wins sometimes";
        for (int i = 0; i < 100; ++i) {
            auto r = co_await weft::select(weft::biased, ready(0), ready(1), ready(2));
            EXPECT_EQ(r.index(), 0u);
        }
    });
}

TEST(Select, VoidAndReferenceResults) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        int x = 5;
        auto ref = [](int* p) -> weft::task<int&> { co_return *p; };
        auto r = co_await weft::select(weft::biased, ref(&x), weft::time::sleep(1ms));
        static_assert(
            std::is_same_v<decltype(r), std::variant<std::reference_wrapper<int>, std::monostate>>);
        EXPECT_EQ(&std::get<0>(r).get(), &x);
    });
}

TEST(Select, AnExceptionOfTheFirstToFinishPropagates) {
    weft::runtime rt = paused_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto boom = []() -> weft::task<int> {
            co_await weft::time::sleep(1ms);
            throw std::runtime_error("boom");
        };
        EXPECT_THROW((void)co_await weft::select(guarded_forever(&c, &after), boom()),
                     std::runtime_error);
        EXPECT_EQ(c.alive(), 0);
    });
    EXPECT_EQ(after.load(), 0);
}

TEST_P(SelectFlavors, ACancelledRecvLosesNoMessage) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = weft::sync::mpsc::channel<int>(4);
        for (int i = 0; i < 100; ++i) {
            auto r = co_await weft::select(weft::biased, weft::yield_now(), rx.recv());
            EXPECT_EQ(r.index(), 0u);
            auto sent = co_await tx.send(i);
            EXPECT_TRUE(sent.has_value());
            auto got = co_await weft::select(weft::biased, rx.recv(), weft::time::sleep(1h));
            EXPECT_EQ(got.index(), 0u);
            if (got.index() != 0) co_return;
            EXPECT_EQ(std::get<0>(got), std::optional<int>(i));
        }
    });
}

TEST_P(SelectFlavors, LateWakesOfACancelledBranchAreHarmless) {
    // A loser's notify wait is withdrawn; a notify_waiters racing with the
    // select (from another task, maybe another thread) must neither resume
    // the task at a stale point nor be lost for the waiters that remain.
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::sync::notify n;
        std::atomic<bool> stop{false};
        auto pinger = weft::spawn(
            [](weft::sync::notify* n, std::atomic<bool>* stop) -> weft::task<> {
                while (!stop->load()) {
                    n->notify_waiters();
                    co_await weft::yield_now();
                }
            },
            &n, &stop);
        int notified = 0, yielded = 0;
        for (int i = 0; i < 2000; ++i) {
            auto r = co_await weft::select(n.notified(), weft::yield_now());
            ++(r.index() == 0 ? notified : yielded);
            // Suspend on something else right after: a stale wake of the
            // withdrawn notify wait must not resume this one.
            auto v = co_await weft::select(weft::biased, weft::yield_now(), n.notified());
            (void)v;
        }
        stop.store(true);
        (void)co_await pinger;
        EXPECT_EQ(notified + yielded, 2000);
    });
}

TEST_P(SelectFlavors, AbortOfTheTaskTearsDownEveryBranch) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn(
            [](weft_test::counter* c, std::atomic<int>* after) -> weft::task<> {
                auto [tx, rx] = weft::sync::mpsc::channel<int>(1);
                (void)co_await weft::select(
                    guarded_forever(c, after), rx.recv(),
                    weft::join(guarded_forever(c, after), guarded_forever(c, after)));
                after->fetch_add(100);
                (void)tx;
            },
            &c, &after);
        while (timers_pending() < 3)
            co_await weft::yield_now();
        h.abort();
        auto r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_EQ(timers_pending(), 0u);
    });
    EXPECT_EQ(c.alive(), 0);
    EXPECT_EQ(after.load(), 0);
}

TEST_P(SelectFlavors, AJoinHandleThatLostCanBeAwaitedAgain) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::sync::notify go;
        auto h = weft::spawn(
            [](weft::sync::notify* go) -> weft::task<int> {
                co_await go->notified();
                co_return 8;
            },
            &go);
        auto r = co_await weft::select(weft::biased, h, weft::yield_now());
        EXPECT_EQ(r.index(), 1u);
        go.notify_one();
        auto v = co_await h;
        EXPECT_EQ(v.value(), 8);
    });
}

TEST(Select, InsideJoinInsideTimeout) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto r = co_await weft::time::timeout(
            1h, weft::join(weft::select(value_after(1, 30ms), value_after(2, 10ms)),
                           value_after(3, 20ms)));
        EXPECT_TRUE(r.has_value());
        if (!r.has_value()) co_return;
        EXPECT_EQ(std::get<0>(*r).index(), 1u);
        EXPECT_EQ(std::get<1>(*r), 3);
        EXPECT_EQ(timers_pending(), 0u);
    });
}

TEST(Select, ATimeoutInsideALosingBranchIsWithdrawn) {
    weft::runtime rt = paused_runtime();
    rt.block_on([]() -> weft::task<> {
        auto r = co_await weft::select(weft::time::timeout(1h, weft::time::sleep(2h)),
                                       weft::time::timeout(5ms, weft::time::sleep(2h)));
        EXPECT_EQ(r.index(), 1u);
        EXPECT_TRUE(std::get<1>(r).is_elapsed());
        EXPECT_EQ(timers_pending(), 0u);
        // The task's own scope stack is intact: a timeout afterwards works.
        auto r2 = co_await weft::time::timeout(10ms, value_after(4, 20ms));
        EXPECT_TRUE(r2.is_elapsed());
    });
}

TEST_P(SelectFlavors, YieldsInsideNestedBranchesKeepEveryLevelRunning) {
    // A yield deep inside select-inside-join marks each enclosing branch
    // ready again and makes the task yield; nothing else wakes it here, so
    // a lost propagation would hang the test.
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto spin = [](int n) -> weft::task<int> {
            for (int i = 0; i < n; ++i)
                co_await weft::yield_now();
            co_return n;
        };
        weft::sync::notify never;
        auto inner = weft::select(spin(30), never.notified(), weft::join(spin(50), spin(60)));
        auto t = co_await weft::join(std::move(inner), spin(40));
        EXPECT_EQ(std::get<0>(t).index(), 0u);
        EXPECT_EQ(std::get<1>(t), 40);
    });
}

TEST(Select, IsLazy) {
    // Creating the awaitable runs nothing (and needs no runtime).
    auto s = weft::select(ready(1), ready(2));
    EXPECT_TRUE(s.valid());
}

} // namespace
