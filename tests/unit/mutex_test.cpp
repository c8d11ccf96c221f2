// sync::mutex<T>: data access through guards, try_lock, FIFO fairness,
// guards held across co_await and released on other threads, mutex<void>,
// and cancellation (an aborted waiter never leaves the mutex locked).
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft::sync::mutex;
using weft::sync::mutex_guard;

namespace {

weft::runtime make_ordered(int which) {
    if (which == 0) return weft::runtime::current_thread().build();
    return weft::runtime::multi_thread().worker_threads(1).build();
}
const char* ordered_label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

} // namespace

class MutexFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(MutexFlavors);

TEST(Mutex, TryLockGivesTheDataAndFailsWhileHeld) {
    mutex<std::string> m("weft");
    {
        std::optional<mutex_guard<std::string>> g = m.try_lock();
        ASSERT_TRUE(g);
        EXPECT_EQ(**g, "weft");
        (*g)->append("!");
        EXPECT_FALSE(m.try_lock()) << "held";
        mutex_guard<std::string> moved = std::move(*g);
        EXPECT_FALSE(g->owns_lock());
        EXPECT_TRUE(moved.owns_lock());
        EXPECT_FALSE(m.try_lock()) << "still held by the moved-to guard";
        moved.unlock();
        EXPECT_FALSE(moved.owns_lock());
        auto again = m.try_lock();
        ASSERT_TRUE(again);
        EXPECT_EQ(**again, "weft!");
    }
    EXPECT_TRUE(m.try_lock());
    EXPECT_EQ(m.get_mut(), "weft!");
}

TEST(Mutex, VoidMutexAndDeduction) {
    weft::sync::mutex plain; // CTAD: mutex<void>
    static_assert(std::is_same_v<decltype(plain), mutex<void>>);
    mutex<> also;
    auto g = plain.try_lock();
    ASSERT_TRUE(g);
    EXPECT_FALSE(plain.try_lock());
    EXPECT_TRUE(also.try_lock());
    g.reset();
    EXPECT_TRUE(plain.try_lock());
}

TEST_P(MutexFlavors, LockWaitsForTheHolder) {
    weft::runtime rt = make_runtime();
    mutex<int> m(0);
    rt.block_on([&]() -> weft::task<> {
        auto g = co_await m.lock();
        *g = 1;
        auto h = weft::spawn([&]() -> weft::task<int> {
            auto g2 = co_await m.lock();
            co_return *g2;
        });
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(h.is_finished());
        *g = 2;
        g.unlock();
        weft::result<int> r = co_await h;
        EXPECT_EQ(r.value(), 2) << "the waiter sees what the holder wrote";
    });
}

TEST_P(MutexFlavors, MutualExclusionWithGuardsHeldAcrossCoAwait) {
    weft::runtime rt = make_runtime();
    mutex<long> m(0);
    std::atomic<int> inside{0}, violations{0};
    std::atomic<int> migrated{0};
    constexpr int tasks = 16, rounds = 50;
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < tasks; ++i)
            hs.push_back(weft::spawn([&]() -> weft::task<> {
                for (int k = 0; k < rounds; ++k) {
                    auto g = co_await m.lock();
                    if (inside.fetch_add(1) != 0) violations.fetch_add(1);
                    std::thread::id before = std::this_thread::get_id();
                    long v = *g;
                    co_await weft::yield_now(); // held across a suspension
                    *g = v + 1;
                    if (std::this_thread::get_id() != before) migrated.fetch_add(1);
                    inside.fetch_sub(1);
                }
            }));
        for (auto& h : hs) {
            weft::result<void> r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
    });
    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(m.get_mut(), long{tasks} * rounds);
    // On the multi-thread runtime some guards are usually released on another
    // worker than the one that locked; not guaranteed, so only reported.
    if (multi()) std::printf("  guards released after migrating: %d\n", migrated.load());
}

TEST_P(MutexFlavors, AGuardReleasedOnAForeignThreadWakesTheNextWaiter) {
    weft::runtime rt = make_runtime();
    mutex<int> m(0);
    rt.block_on([&]() -> weft::task<> {
        auto g = co_await m.lock();
        *g = 7;
        std::thread t([g = std::move(g)]() mutable {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            *g = 8;
            g.unlock(); // on a thread that is not a worker
        });
        auto g2 = co_await m.lock();
        EXPECT_EQ(*g2, 8);
        t.join();
    });
}

TEST_P(MutexFlavors, AGuardMovedIntoAnotherTaskIsReleasedThere) {
    weft::runtime rt = make_runtime();
    mutex<int> m(0);
    rt.block_on([&]() -> weft::task<> {
        auto g = co_await m.lock();
        auto h = weft::spawn(
            [](mutex_guard<int> guard) -> weft::task<> {
                co_await weft::yield_now();
                *guard = 5;
            },
            std::move(g));
        auto g2 = co_await m.lock(); // after the other task's guard is gone
        EXPECT_EQ(*g2, 5);
        (void)co_await h;
    });
}

TEST(Mutex, WaitersGetTheLockInFifoOrder) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        mutex<std::vector<int>> m;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto g = co_await m.lock();
                std::vector<weft::join_handle<void>> hs;
                for (int i = 0; i < 6; ++i) {
                    hs.push_back(weft::spawn(
                        [&m](int index) -> weft::task<> {
                            auto gi = co_await m.lock();
                            gi->push_back(index);
                            co_await weft::yield_now(); // others pile up behind
                        },
                        i));
                    co_await weft::yield_now();
                }
                EXPECT_FALSE(m.try_lock()) << "try_lock never overtakes waiters";
                g.unlock();
                for (auto& h : hs)
                    (void)co_await h;
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
        EXPECT_EQ(m.get_mut(), std::vector<int>({0, 1, 2, 3, 4, 5}));
    }
}

TEST(Mutex, AWaiterAbortedAfterTheLockWasHandedToItPassesItOn) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        mutex<int> m(0);
        weft_test::counter c;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto g = co_await m.lock();
                auto first = weft::spawn(
                    [&m](weft_test::counted obj) -> weft::task<> {
                        auto gi = co_await m.lock();
                        *gi = obj.value();
                    },
                    weft_test::counted(c, 1));
                co_await weft::yield_now();
                auto second = weft::spawn([&m]() -> weft::task<int> {
                    auto gi = co_await m.lock();
                    co_return *gi;
                });
                co_await weft::yield_now();
                g.unlock();    // hands the lock to `first`...
                first.abort(); // ...which is aborted before it runs
                EXPECT_TRUE((co_await first).error().is_cancelled());
                weft::result<int> r = co_await second;
                EXPECT_EQ(r.value(), 0) << "`first` never ran its critical section";
                EXPECT_TRUE(m.try_lock()) << "the mutex must end unlocked";
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
        EXPECT_EQ(c.alive(), 0);
    }
}

TEST_P(MutexFlavors, AbortingATaskThatHoldsTheGuardUnlocks) {
    weft::runtime rt = make_runtime();
    mutex<int> m(0);
    weft::sync::notify never;
    rt.block_on([&]() -> weft::task<> {
        auto holder = weft::spawn([&]() -> weft::task<> {
            auto g = co_await m.lock();
            co_await never.notified(); // parked holding the lock
        });
        while (m.try_lock())
            co_await weft::yield_now(); // until the holder has it
        auto waiter = weft::spawn([&]() -> weft::task<int> {
            auto g = co_await m.lock();
            co_return 42;
        });
        holder.abort();
        EXPECT_TRUE((co_await holder).error().is_cancelled());
        EXPECT_EQ((co_await waiter).value(), 42);
    });
}
