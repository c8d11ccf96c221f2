// join_handle and abort_handle: results, detach on drop, double await,
// is_finished, id, abort through a copyable abort_handle.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using weft_test::counted;
using weft_test::counter;
using weft_test::forty_two;

class JoinHandleFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(JoinHandleFlavors);

TEST(JoinHandle, DefaultConstructedHandleIsEmpty) {
    weft::join_handle<int> h;
    EXPECT_TRUE(h.is_finished());
    EXPECT_EQ(h.id(), weft::task_id());
    h.abort(); // no effect, no crash
    weft::abort_handle a = h.abort_handle();
    EXPECT_TRUE(a.is_finished());
    EXPECT_EQ(a.id(), weft::task_id());
    a.abort();
}

TEST_P(JoinHandleFlavors, AwaitGivesTheValueAsResult) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h = weft::spawn(forty_two);
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.has_value());
        EXPECT_TRUE(static_cast<bool>(r));
        EXPECT_EQ(*r, 42);

        auto hv = weft::spawn([]() -> weft::task<> { co_return; });
        weft::result<void> rv = co_await hv;
        EXPECT_TRUE(rv.has_value());

        auto hs = weft::spawn([]() -> weft::task<std::string> { co_return std::string(50, 'q'); });
        weft::result<std::string> rs = co_await hs;
        EXPECT_EQ(rs->size(), 50u);
    });
}

TEST_P(JoinHandleFlavors, AwaitingARvalueHandle) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        auto h = weft::spawn(forty_two);
        weft::result<int> r = co_await std::move(h);
        co_return r.value();
    });
    EXPECT_EQ(v, 42);
}

TEST_P(JoinHandleFlavors, AwaitWaitsForATaskThatSuspends) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate;
    std::atomic<bool> released{false};
    int v = rt.block_on([&]() -> weft::task<int> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            co_await gate.notified();
            EXPECT_TRUE(released.load());
            co_return 7;
        });
        EXPECT_FALSE(h.is_finished());
        released.store(true);
        gate.notify_one();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(h.is_finished());
        co_return r.value();
    });
    EXPECT_EQ(v, 7);
}

TEST_P(JoinHandleFlavors, DropDetachesTask) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate, done;
    std::atomic<int> finished{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        weft::abort_handle ah;
        {
            auto h = weft::spawn([&, obj = counted(c, 1)]() -> weft::task<int> {
                co_await gate.notified(); // still waiting when the handle goes
                finished.fetch_add(obj.value());
                done.notify_one();
                co_return 1;
            });
            ah = h.abort_handle();
        }
        EXPECT_FALSE(ah.is_finished()) << "dropping the handle must not cancel the task";
        gate.notify_one();
        co_await done.notified();
        bool ok = co_await weft_test::wait_finished(ah);
        EXPECT_TRUE(ok);
    });
    EXPECT_EQ(finished.load(), 1) << "a detached task runs to the end";
    EXPECT_EQ(c.alive(), 0) << "its captures and output are dropped";
}

TEST_P(JoinHandleFlavors, DropAfterCompletionDropsTheOutput) {
    weft::runtime rt = make_runtime();
    counter c;
    weft::sync::notify done;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<counted> {
            done.notify_one();
            co_return counted(c, 5);
        });
        co_await done.notified();
        bool ok = co_await weft_test::wait_finished(h.abort_handle());
        EXPECT_TRUE(ok);
        EXPECT_GE(c.alive(), 1) << "the output is kept for the handle";
        h = weft::join_handle<counted>(); // drop it without awaiting
        EXPECT_EQ(c.alive(), 0) << "dropping the handle of a finished task drops its output";
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(JoinHandleFlavors, AwaitingTwiceThrowsLogicError) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h = weft::spawn(forty_two);
        weft::result<int> r = co_await h;
        EXPECT_EQ(r.value(), 42);
        bool threw = false;
        try {
            weft::result<int> again = co_await h;
            (void)again;
        } catch (const std::logic_error& e) {
            threw = true;
            EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(threw);
    });
}

TEST_P(JoinHandleFlavors, AwaitingAnEmptyHandleThrowsLogicError) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        weft::join_handle<int> empty;
        bool threw = false;
        try {
            weft::result<int> r = co_await empty;
            (void)r;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);

        auto h = weft::spawn(forty_two);
        auto moved = std::move(h);
        threw = false;
        try {
            weft::result<int> r = co_await h; // moved from
            (void)r;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw);
        weft::result<int> r = co_await moved;
        EXPECT_EQ(r.value(), 42);
    });
}

TEST_P(JoinHandleFlavors, IsFinishedTracksTheTask) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate, done;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            co_await gate.notified();
            done.notify_one();
            co_return 3;
        });
        weft::abort_handle a = h.abort_handle();
        EXPECT_FALSE(h.is_finished());
        EXPECT_FALSE(a.is_finished());
        gate.notify_one();
        co_await done.notified();
        bool ok = co_await weft_test::wait_finished(a);
        EXPECT_TRUE(ok);
        EXPECT_TRUE(h.is_finished());
        EXPECT_TRUE(a.is_finished());
        weft::result<int> r = co_await h; // finished, not yet consumed
        EXPECT_EQ(r.value(), 3);
        EXPECT_TRUE(h.is_finished());
    });
}

TEST_P(JoinHandleFlavors, AbortHandleIsCopyableAndAbortsThroughAnyCopy) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never;
    std::atomic<int> after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h =
            weft::spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, 1), &after);
        weft::abort_handle a = h.abort_handle();
        weft::abort_handle b = a; // copy
        weft::abort_handle d;
        d = b; // copy-assign
        weft::abort_handle e = std::move(b);
        EXPECT_EQ(a.id(), h.id());
        EXPECT_EQ(d.id(), h.id());
        EXPECT_EQ(e.id(), h.id());
        EXPECT_FALSE(d.is_finished());
        d.abort();
        d.abort(); // idempotent
        weft::result<int> r = co_await h;
        EXPECT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_EQ(r.error().id(), h.id());
        EXPECT_TRUE(a.is_finished());
        EXPECT_TRUE(e.is_finished());
        EXPECT_EQ(c.alive(), 0);
    });
    EXPECT_EQ(after.load(), 0);
}

TEST_P(JoinHandleFlavors, AbortHandleOutlivesTheJoinHandleAndTheTask) {
    weft::runtime rt = make_runtime();
    weft::abort_handle kept;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn(forty_two);
        kept = h.abort_handle();
        weft::result<int> r = co_await h;
        EXPECT_EQ(r.value(), 42);
    });
    EXPECT_TRUE(kept.is_finished());
    kept.abort(); // finished: nothing happens
    EXPECT_NE(kept.id().value(), 0u);
}

TEST_P(JoinHandleFlavors, AbortThroughJoinHandleGivesCancelled) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never;
    std::atomic<int> after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h =
            weft::spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, 1), &after);
        h.abort();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_FALSE(r.error().is_panic());
    });
    EXPECT_EQ(after.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(JoinHandleFlavors, PanicGivesIsPanicWithTheException) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h = weft::spawn([]() -> weft::task<int> {
            co_await weft::yield_now();
            throw std::out_of_range("index 9");
            co_return 0;
        });
        weft::result<int> r = co_await h;
        EXPECT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().is_panic());
        EXPECT_FALSE(r.error().is_cancelled());
        EXPECT_EQ(r.error().id(), h.id());
        std::exception_ptr e = std::move(r).error().into_panic();
        EXPECT_THROW(weft::resume_unwind(e), std::out_of_range);
    });
}

TEST_P(JoinHandleFlavors, HandlesAwaitedFromAnotherTaskAndInAnyOrder) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate, progress;
    std::atomic<long> arrived{0};
    long long total = rt.block_on([&]() -> weft::task<long long> {
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < 50; ++i)
            hs.push_back(weft::spawn(
                [&](int k) -> weft::task<int> {
                    if (k % 2 == 0) {
                        auto f = gate.notified(); // counts for notify_waiters from here on
                        weft_test::bump(progress, arrived);
                        co_await std::move(f); // GCC 12 copies an lvalue awaiter: see notify_test
                    }
                    co_return k;
                },
                i));
        // A collector task owns the handles and awaits them in reverse order.
        auto collector = weft::spawn(
            [](std::vector<weft::join_handle<int>> v) -> weft::task<long long> {
                long long s = 0;
                for (auto it = v.rbegin(); it != v.rend(); ++it) {
                    weft::result<int> r = co_await *it;
                    s += r.value();
                }
                co_return s;
            },
            std::move(hs));
        co_await weft_test::wait_at_least(progress, arrived, 25);
        gate.notify_waiters();
        weft::result<long long> r = co_await collector;
        co_return r.value();
    });
    EXPECT_EQ(total, 49 * 50 / 2);
}

TEST_P(JoinHandleFlavors, AwaitAHandleOfATaskOnAnotherRuntime) {
    // The waker crosses runtimes: the task completes on the other runtime's
    // worker and wakes the awaiting task through this runtime's scheduler.
    weft::runtime other = weft::runtime::multi_thread().worker_threads(1).build();
    weft::runtime rt = make_runtime();
    weft::sync::notify gate;
    auto h = other.spawn([&]() -> weft::task<int> {
        co_await gate.notified();
        co_return 77;
    });
    int v = rt.block_on([&]() -> weft::task<int> {
        auto waiter = weft::spawn([&]() -> weft::task<int> {
            weft::result<int> r = co_await h;
            co_return r.value();
        });
        gate.notify_one();
        weft::result<int> r = co_await waiter;
        co_return r.value();
    });
    EXPECT_EQ(v, 77);
}
