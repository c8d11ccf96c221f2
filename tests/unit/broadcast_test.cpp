// sync::broadcast: every receiver gets every value, send counts receivers or
// hands the value back, lagged(n) skips ahead, closed after senders go,
// try_recv, subscribe, cancellation (a cancelled recv consumed nothing),
// and values die once every receiver read them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <weft/sync/broadcast.hpp>
#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

// ASSERT_* returns from the function, which a coroutine cannot: this one
// records the failure and co_returns.
#define CO_ASSERT(cond)                                                                            \
    if (!static_cast<bool>(cond)) {                                                                \
        ADD_FAILURE() << "assertion failed: " #cond;                                               \
        co_return;                                                                                 \
    } else                                                                                         \
        (void)0

namespace broadcast = weft::sync::broadcast;

class BroadcastFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(BroadcastFlavors);

TEST(Broadcast, CapacityZeroThrows) {
    EXPECT_THROW((void)broadcast::channel<int>(0), std::invalid_argument);
}

TEST(Broadcast, SendCountsReceiversOrHandsTheValueBack) {
    auto [tx, rx] = broadcast::channel<std::string>(4);
    auto rx2 = tx.subscribe();
    auto n = tx.send("x");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 2u);
    { auto a = std::move(rx); }
    { auto b = std::move(rx2); }
    auto r = tx.send("y");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value, "y");
}

TEST(Broadcast, LaggedSkipsToTheOldestKept) {
    auto [tx, rx] = broadcast::channel<int>(2);
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(tx.send(i));
    auto r = rx.try_recv();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is_lagged());
    EXPECT_EQ(r.error().skipped(), 3u);
    EXPECT_EQ(*rx.try_recv(), 3);
    EXPECT_EQ(*rx.try_recv(), 4);
    EXPECT_TRUE(rx.try_recv().error().is_empty());
    tx = broadcast::sender<int>{};
    EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TEST(Broadcast, SubscribeSeesOnlyLaterValues) {
    auto [tx, rx] = broadcast::channel<int>(8);
    EXPECT_TRUE(tx.send(1));
    auto late = tx.subscribe();
    auto re = rx.resubscribe();
    EXPECT_TRUE(tx.send(2));
    EXPECT_EQ(*rx.try_recv(), 1);
    EXPECT_EQ(*rx.try_recv(), 2);
    EXPECT_EQ(*late.try_recv(), 2);
    EXPECT_EQ(*re.try_recv(), 2);
}

TEST(Broadcast, ValuesDieOnceEveryReceiverReadThem) {
    weft_test::counter c;
    {
        auto [tx, rx] = broadcast::channel<weft_test::counted>(4);
        auto rx2 = tx.subscribe();
        EXPECT_TRUE(tx.send(weft_test::counted(c, 1)));
        EXPECT_EQ(c.alive(), 1);
        EXPECT_EQ(rx.try_recv()->value(), 1);
        EXPECT_EQ(c.alive(), 1);
        EXPECT_EQ(rx2.try_recv()->value(), 1);
        EXPECT_EQ(c.alive(), 0) << "read by all: gone";
        EXPECT_TRUE(tx.send(weft_test::counted(c, 2)));
        { auto gone = std::move(rx2); }
        EXPECT_EQ(c.alive(), 1);
        { auto gone = std::move(rx); }
        EXPECT_EQ(c.alive(), 0) << "the last reader dropped: gone";
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(BroadcastFlavors, EveryReceiverGetsEveryValueThenClosed) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = broadcast::channel<int>(1024);
        auto reader = [](broadcast::receiver<int> rx) -> weft::task<long> {
            long sum = 0;
            for (;;) {
                auto r = co_await rx.recv();
                if (r) {
                    sum += *r;
                } else if (r.error().is_closed()) {
                    break;
                } else {
                    ADD_FAILURE() << "lagged with a big enough buffer";
                }
            }
            co_return sum;
        };
        std::vector<weft::join_handle<long>> hs;
        for (int i = 0; i < 3; ++i)
            hs.push_back(weft::spawn(reader, tx.subscribe()));
        { auto gone = std::move(rx); }
        co_await weft::yield_now();
        for (int i = 0; i < 1000; ++i) {
            EXPECT_TRUE(tx.send(i));
            if (i % 100 == 0) co_await weft::yield_now();
        }
        tx = broadcast::sender<int>{};
        for (auto& h : hs) {
            auto r = co_await h;
            EXPECT_EQ(r.value(), 999L * 1000 / 2);
        }
    });
}

TEST_P(BroadcastFlavors, RecvReportsLaggedThenContinues) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = broadcast::channel<int>(3);
        for (int i = 0; i < 10; ++i)
            EXPECT_TRUE(tx.send(i));
        auto a = co_await rx.recv();
        CO_ASSERT(!(a));
        EXPECT_TRUE(a.error().is_lagged());
        EXPECT_EQ(a.error().skipped(), 7u);
        auto b = co_await rx.recv();
        CO_ASSERT(b);
        EXPECT_EQ(*b, 7);
    });
}

TEST_P(BroadcastFlavors, AbortedRecvConsumesNothing) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = broadcast::channel<int>(4);
        auto rxp = std::make_shared<broadcast::receiver<int>>(std::move(rx));
        auto h = weft::spawn(
            [](std::shared_ptr<broadcast::receiver<int>> rx) -> weft::task<int> {
                auto r = co_await rx->recv();
                co_return r ? *r : -1;
            },
            rxp);
        co_await weft::yield_now();
        h.abort();
        EXPECT_TRUE(tx.send(9));
        auto r = co_await h;
        if (r.has_value()) {
            EXPECT_EQ(*r, 9);
            EXPECT_TRUE(rxp->try_recv().error().is_empty());
        } else {
            auto v = rxp->try_recv();
            CO_ASSERT(v);
            EXPECT_EQ(*v, 9);
        }
    });
}
