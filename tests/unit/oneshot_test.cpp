// sync::oneshot: send/receive, closed channels, values handed back, try_recv,
// close(), closed(), void channels, and cancellation (an aborted receive
// leaves the value in the channel; counted values are all destroyed).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include <weft/sync/oneshot.hpp>
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

namespace oneshot = weft::sync::oneshot;

namespace {

weft::task<int> recv_int(oneshot::receiver<int> rx) {
    auto r = co_await rx;
    co_return r ? *r : -1;
}

} // namespace

class OneshotFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(OneshotFlavors);

TEST_P(OneshotFlavors, SendThenReceive) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<std::string>();
        auto s = tx.send("hello");
        EXPECT_TRUE(s.has_value());
        EXPECT_FALSE(tx.valid()) << "a sender sends once";
        auto r = co_await rx;
        CO_ASSERT(r.has_value());
        EXPECT_EQ(*r, "hello");
    });
}

TEST_P(OneshotFlavors, ReceiverWaitsForASenderInAnotherTask) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<int>();
        auto h = weft::spawn(recv_int, std::move(rx));
        co_await weft::yield_now();
        (void)tx.send(41);
        auto r = co_await h;
        EXPECT_EQ(r.value(), 41);
    });
}

TEST_P(OneshotFlavors, SenderDroppedGivesClosed) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<int>();
        auto h = weft::spawn(recv_int, std::move(rx));
        co_await weft::yield_now();
        { auto gone = std::move(tx); }
        auto r = co_await h;
        EXPECT_EQ(r.value(), -1);

        auto [tx2, rx2] = oneshot::channel<int>();
        tx2 = oneshot::sender<int>{};
        auto r2 = co_await rx2;
        CO_ASSERT(!(r2.has_value()));
        EXPECT_EQ(r2.error(), oneshot::recv_error::closed);
        EXPECT_THROW((void)r2.value(), weft::sync::bad_result_access);
    });
}

TEST(Oneshot, FailedSendHandsTheValueBack) {
    weft_test::counter c;
    {
        auto [tx, rx] = oneshot::channel<weft_test::counted>();
        EXPECT_FALSE(tx.is_closed());
        { auto gone = std::move(rx); }
        EXPECT_TRUE(tx.is_closed());
        auto r = tx.send(weft_test::counted(c, 7));
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().value(), 7);
        auto r2 = tx.send(weft_test::counted(c, 8)); // already used
        ASSERT_FALSE(r2.has_value());
        EXPECT_EQ(r2.error().value(), 8);
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST(Oneshot, TryRecvAndClose) {
    auto [tx, rx] = oneshot::channel<int>();
    auto e = rx.try_recv();
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), oneshot::try_recv_error::empty);
    (void)tx.send(3);
    auto v = rx.try_recv();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 3);
    auto again = rx.try_recv();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), oneshot::try_recv_error::closed) << "the value was taken";

    auto [tx2, rx2] = oneshot::channel<int>();
    (void)tx2.send(5);
    rx2.close();
    auto kept = rx2.try_recv();
    ASSERT_TRUE(kept) << "a value sent before close() still arrives";
    EXPECT_EQ(*kept, 5);

    auto [tx3, rx3] = oneshot::channel<int>();
    rx3.close();
    EXPECT_TRUE(tx3.is_closed());
    auto r = tx3.send(9);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), 9);
    auto closed = rx3.try_recv();
    ASSERT_FALSE(closed);
    EXPECT_EQ(closed.error(), oneshot::try_recv_error::closed);
}

TEST_P(OneshotFlavors, VoidChannel) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<void>();
        auto h = weft::spawn(
            [](oneshot::receiver<void> rx) -> weft::task<bool> {
                auto r = co_await rx;
                co_return r.has_value();
            },
            std::move(rx));
        co_await weft::yield_now();
        EXPECT_TRUE(tx.send().has_value());
        auto r = co_await h;
        EXPECT_TRUE(r.value());
    });
}

TEST_P(OneshotFlavors, SenderClosedCompletesWhenTheReceiverGoes) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<int>();
        auto h = weft::spawn(
            [](oneshot::sender<int> tx) -> weft::task<bool> {
                co_await tx.closed();
                co_return tx.is_closed();
            },
            std::move(tx));
        co_await weft::yield_now();
        EXPECT_FALSE(h.is_finished());
        rx.close();
        auto r = co_await h;
        EXPECT_TRUE(r.value());

        auto [tx2, rx2] = oneshot::channel<int>();
        auto h2 = weft::spawn([](oneshot::sender<int> tx) -> weft::task<> { co_await tx.closed(); },
                              std::move(tx2));
        co_await weft::yield_now();
        { auto gone = std::move(rx2); }
        auto r2 = co_await h2;
        EXPECT_TRUE(r2.has_value());
    });
}

TEST_P(OneshotFlavors, AbortedReceiveLeavesNothingBehind) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<weft_test::counted>();
        auto h = weft::spawn(
            [](oneshot::receiver<weft_test::counted> rx) -> weft::task<int> {
                auto r = co_await rx;
                co_return r ? r->value() : -1;
            },
            std::move(rx));
        co_await weft::yield_now();
        h.abort();
        auto r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_TRUE(tx.is_closed()) << "the aborted task dropped its receiver";
        auto s = tx.send(weft_test::counted(c, 1));
        EXPECT_FALSE(s.has_value());
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(OneshotFlavors, ValueStaysInTheChannelWhenOnlyTheAwaiterIsDropped) {
    // select-like: an awaiter destroyed while armed withdraws; the receiver
    // survives and still gets the value.
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        auto [tx, rx] = oneshot::channel<weft_test::counted>();
        {
            auto a = rx.operator co_await();
            EXPECT_FALSE(a.await_ready());
        }
        (void)tx.send(weft_test::counted(c, 5));
        auto r = co_await rx;
        CO_ASSERT(r);
        EXPECT_EQ(r->value(), 5);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST(Oneshot, UnreceivedValueIsDestroyedWithTheChannel) {
    weft_test::counter c;
    {
        auto [tx, rx] = oneshot::channel<weft_test::counted>();
        (void)tx.send(weft_test::counted(c, 1));
        EXPECT_EQ(c.alive(), 1);
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST(Oneshot, StateIsSmall) {
    // idle_tasks_memory: the channel block stays within 40 bytes for u64.
    auto [tx, rx] = oneshot::channel<std::uint64_t>();
    std::uint64_t before = weft::detail::thread_allocated_bytes();
    auto [tx2, rx2] = oneshot::channel<std::uint64_t>();
    EXPECT_LE(weft::detail::thread_allocated_bytes() - before, 40u);
}

TEST(Oneshot, ConcurrentSendAndReceiveFromThreads) {
    // Many channels, sender on a plain thread, receiver in the runtime.
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    const int n = weft_test::scaled(2000, 50);
    for (int i = 0; i < n; ++i) {
        auto [tx, rx] = oneshot::channel<int>();
        std::thread t([tx = std::move(tx), i]() mutable { (void)tx.send(i); });
        int got = rt.block_on(recv_int(std::move(rx)));
        t.join();
        ASSERT_EQ(got, i);
    }
}
