// sync::watch: send/borrow/changed, version tracking per receiver, copies,
// subscribe, send failing without receivers, sender drop, cancellation.
#include <gtest/gtest.h>

#include <string>

#include <weft/sync/watch.hpp>
#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

namespace watch = weft::sync::watch;

class WatchFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(WatchFlavors);

TEST(Watch, BorrowSendAndHasChanged) {
    auto [tx, rx] = watch::channel(std::string("a"));
    EXPECT_EQ(*rx.borrow(), "a");
    EXPECT_FALSE(rx.has_changed());
    EXPECT_TRUE(tx.send("b"));
    EXPECT_TRUE(rx.has_changed());
    EXPECT_TRUE(rx.borrow().has_changed());
    EXPECT_TRUE(rx.has_changed()) << "borrow() does not mark seen";
    {
        auto v = rx.borrow_and_update();
        EXPECT_EQ(*v, "b");
        EXPECT_TRUE(v.has_changed());
    }
    EXPECT_FALSE(rx.has_changed());
    tx.send_modify([](std::string& s) { s += "!"; });
    EXPECT_EQ(*rx.borrow_and_update(), "b!");
    EXPECT_EQ(tx.send_replace("c"), "b!");
    EXPECT_EQ(*tx.borrow(), "c");
}

TEST(Watch, SendFailsWithoutReceiversAndHandsTheValueBack) {
    auto [tx, rx] = watch::channel(1);
    { auto gone = std::move(rx); }
    EXPECT_TRUE(tx.is_closed());
    auto r = tx.send(2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value, 2);
    EXPECT_EQ(*tx.borrow(), 1) << "a failed send leaves the value";
    tx.send_modify([](int& v) { v = 5; }); // always modifies
    EXPECT_EQ(*tx.borrow(), 5);
    auto rx2 = tx.subscribe();
    EXPECT_FALSE(rx2.has_changed()) << "subscribe marks the current value seen";
    EXPECT_TRUE(tx.send(6));
    EXPECT_TRUE(rx2.has_changed());
}

TEST(Watch, ReceiverCopiesTrackVersionsSeparately) {
    auto [tx, rx] = watch::channel(0);
    EXPECT_TRUE(tx.send(1));
    auto rx2 = rx;
    EXPECT_EQ(tx.receiver_count(), 2u);
    EXPECT_TRUE(rx2.has_changed()) << "a copy starts where the original is";
    (void)rx.borrow_and_update();
    EXPECT_FALSE(rx.has_changed());
    EXPECT_TRUE(rx2.has_changed());
}

TEST_P(WatchFlavors, ChangedWakesEveryReceiverAndReportsSenderGone) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = watch::channel(0);
        auto watcher = [](watch::receiver<int> rx) -> weft::task<int> {
            int last = -1;
            for (;;) {
                auto r = co_await rx.changed();
                if (!r) break;
                last = *rx.borrow();
            }
            co_return last;
        };
        auto h1 = weft::spawn(watcher, rx);
        auto h2 = weft::spawn(watcher, rx);
        co_await weft::yield_now();
        for (int i = 1; i <= 50; ++i) {
            EXPECT_TRUE(tx.send(i));
            co_await weft::yield_now();
        }
        { auto gone = std::move(tx); }
        auto r1 = co_await h1;
        auto r2 = co_await h2;
        EXPECT_EQ(r1.value(), 50) << "the last value is always seen";
        EXPECT_EQ(r2.value(), 50);
    });
}

TEST_P(WatchFlavors, ChangedAfterSenderGoneStillReportsAnUnseenValue) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = watch::channel(0);
        EXPECT_TRUE(tx.send(1));
        { auto gone = std::move(tx); }
        auto a = co_await rx.changed();
        EXPECT_TRUE(a);
        auto b = co_await rx.changed();
        EXPECT_FALSE(b);
    });
}

TEST_P(WatchFlavors, AbortedChangedWaiterIsWithdrawn) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        auto [tx, rx] = watch::channel(0);
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < 4; ++i)
            hs.push_back(weft::spawn(
                [](watch::receiver<int> rx, weft_test::counted g) -> weft::task<> {
                    auto r = co_await rx.changed();
                    (void)r;
                    (void)g.value();
                },
                rx, weft_test::counted(c, i)));
        co_await weft::yield_now();
        hs[0].abort();
        hs[2].abort();
        EXPECT_TRUE(tx.send(1));
        for (auto& h : hs) {
            auto r = co_await h;
            (void)r;
        }
        EXPECT_EQ(tx.receiver_count(), 1u);
    });
    EXPECT_EQ(c.alive(), 0);
}
