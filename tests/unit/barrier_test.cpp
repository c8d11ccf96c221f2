// sync::barrier: n waits per generation, exactly one leader, reuse across
// generations, barrier(0) rejected, and the documented cancellation
// behaviour (Tokio's: an aborted wait that already arrived still counts).
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

using weft::sync::barrier;

namespace {

weft::runtime make_ordered(int which) {
    if (which == 0) return weft::runtime::current_thread().build();
    return weft::runtime::multi_thread().worker_threads(1).build();
}
const char* ordered_label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

} // namespace

class BarrierFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(BarrierFlavors);

TEST(Barrier, ZeroThrows) {
    EXPECT_THROW(barrier(0), std::invalid_argument);
}

TEST_P(BarrierFlavors, WithOneEveryWaitIsTheLeader) {
    weft::runtime rt = make_runtime();
    barrier b(1);
    rt.block_on([&]() -> weft::task<> {
        for (int i = 0; i < 5; ++i) {
            weft::sync::barrier_wait_result r = co_await b.wait();
            EXPECT_TRUE(r.is_leader());
        }
    });
}

TEST_P(BarrierFlavors, ExactlyOneLeaderPerGenerationAcrossReuses) {
    weft::runtime rt = make_runtime();
    constexpr int n = 5, generations = 20;
    barrier b(n);
    std::atomic<int> leaders[generations] = {};
    std::atomic<int> passed[generations] = {};
    std::atomic<int> early{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < n; ++i)
            hs.push_back(weft::spawn([&]() -> weft::task<> {
                for (int g = 0; g < generations; ++g) {
                    passed[g].fetch_add(1);
                    bool leader = (co_await b.wait()).is_leader();
                    // Everyone of generation g arrived before anyone leaves it.
                    if (passed[g].load() != n) early.fetch_add(1);
                    if (leader) leaders[g].fetch_add(1);
                }
            }));
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
    });
    EXPECT_EQ(early.load(), 0);
    for (int g = 0; g < generations; ++g)
        EXPECT_EQ(leaders[g].load(), 1) << "generation " << g;
}

TEST_P(BarrierFlavors, NobodyPassesUntilTheLastArrives) {
    weft::runtime rt = make_runtime();
    barrier b(3);
    rt.block_on([&]() -> weft::task<> {
        auto a =
            weft::spawn([&]() -> weft::task<bool> { co_return (co_await b.wait()).is_leader(); });
        auto c =
            weft::spawn([&]() -> weft::task<bool> { co_return (co_await b.wait()).is_leader(); });
        for (int i = 0; i < 20; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(a.is_finished());
        EXPECT_FALSE(c.is_finished());
        bool me = (co_await b.wait()).is_leader();
        bool la = (co_await a).value(), lc = (co_await c).value();
        EXPECT_EQ(int{me} + int{la} + int{lc}, 1);
    });
}

TEST(Barrier, AnAbortedWaitThatArrivedStillCounts) {
    // Tokio's behaviour (documented in barrier.hpp): the arrival is not
    // withdrawn, so the generation completes with the two live waiters.
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        barrier b(3);
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto first = weft::spawn([&]() -> weft::task<> {
                    (void)co_await b.wait();
                    ADD_FAILURE() << "aborted while waiting";
                });
                co_await weft::yield_now(); // `first` arrived
                first.abort();
                EXPECT_TRUE((co_await first).error().is_cancelled());
                auto second = weft::spawn(
                    [&]() -> weft::task<bool> { co_return (co_await b.wait()).is_leader(); });
                co_await weft::yield_now();
                EXPECT_FALSE(second.is_finished()) << "2 of 3 arrived";
                bool me = (co_await b.wait()).is_leader(); // the third arrival
                EXPECT_TRUE(me);
                EXPECT_FALSE((co_await second).value());
                // The next generation starts from zero.
                auto third = weft::spawn(
                    [&]() -> weft::task<bool> { co_return (co_await b.wait()).is_leader(); });
                co_await weft::yield_now();
                EXPECT_FALSE(third.is_finished());
                third.abort();
                (void)co_await third;
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
    }
}

TEST(Barrier, AWaitNeverAwaitedNeverArrives) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        barrier b(2);
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                { auto unused = b.wait(); } // created, dropped: no arrival
                auto other = weft::spawn(
                    [&]() -> weft::task<bool> { co_return (co_await b.wait()).is_leader(); });
                co_await weft::yield_now();
                EXPECT_FALSE(other.is_finished()) << "only one arrival so far";
                EXPECT_TRUE((co_await b.wait()).is_leader());
                EXPECT_FALSE((co_await other).value());
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
    }
}

TEST(Barrier, ALeaderReleasesWaitersBeyondOneWakeBatch) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    constexpr int n = 100; // more than the 32 wakers a leader wakes per batch
    barrier b(n);
    std::atomic<int> leaders{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < n; ++i)
            hs.push_back(weft::spawn([&]() -> weft::task<> {
                for (int g = 0; g < 3; ++g)
                    if ((co_await b.wait()).is_leader()) leaders.fetch_add(1);
            }));
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
    });
    EXPECT_EQ(leaders.load(), 3);
}
