// sync::mpsc: bounded/unbounded channels, sender counting, values handed back
// on failure, try_send/try_recv, reserve/permit, recv_many, close, FIFO of
// waiting senders, and cancellation (nothing lost or duplicated).
#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/sync/mpsc.hpp>
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

namespace mpsc = weft::sync::mpsc;

namespace {

weft::task<> produce(mpsc::sender<int> tx, int from, int count) {
    for (int i = from; i < from + count; ++i) {
        auto r = co_await tx.send(i);
        if (!r) co_return;
    }
}

weft::task<long> sum_all(mpsc::receiver<int> rx) {
    long sum = 0;
    while (auto v = co_await rx.recv())
        sum += *v;
    co_return sum;
}

} // namespace

class MpscFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(MpscFlavors);

TEST(Mpsc, CapacityZeroThrows) {
    try {
        (void)mpsc::channel<int>(0);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("capacity"), std::string::npos);
    }
}

TEST_P(MpscFlavors, ManyProducersNothingLostReceiverSeesEndWhenSendersGone) {
    weft::runtime rt = make_runtime();
    const int per = weft_test::scaled(5000, 200);
    rt.block_on([per]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(8);
        auto consumer = weft::spawn(sum_all, std::move(rx));
        std::vector<weft::join_handle<void>> hs;
        for (int p = 0; p < 4; ++p)
            hs.push_back(weft::spawn(produce, tx, p * per, per));
        tx = mpsc::sender<int>{};
        auto sum = co_await consumer;
        long n = 4L * per;
        EXPECT_EQ(sum.value(), n * (n - 1) / 2);
        for (auto& h : hs) {
            auto r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
    });
}

TEST_P(MpscFlavors, PerSenderOrderIsKept) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(3);
        auto h = weft::spawn(produce, std::move(tx), 0, 500);
        int expect = 0;
        while (auto v = co_await rx.recv())
            EXPECT_EQ(*v, expect++);
        EXPECT_EQ(expect, 500);
        (void)co_await h;
    });
}

TEST_P(MpscFlavors, SendFailsHandingTheValueBackWhenReceiverDropped) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<weft_test::counted>(1);
        EXPECT_FALSE(tx.is_closed());
        { auto gone = std::move(rx); }
        EXPECT_TRUE(tx.is_closed());
        auto r = co_await tx.send(weft_test::counted(c, 3));
        CO_ASSERT(!(r));
        EXPECT_EQ(r.error().value.value(), 3);
        auto t = tx.try_send(weft_test::counted(c, 4));
        CO_ASSERT(!(t));
        EXPECT_TRUE(t.error().is_closed());
        EXPECT_EQ(t.error().value.value(), 4);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(MpscFlavors, WaitingSenderFailsWithItsValueOnClose) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(1);
        EXPECT_TRUE(tx.try_send(1).has_value());
        auto h = weft::spawn(
            [](mpsc::sender<int> tx) -> weft::task<int> {
                auto r = co_await tx.send(2); // full: waits
                co_return r ? 0 : r.error().value;
            },
            tx);
        co_await weft::yield_now();
        co_await weft::yield_now();
        EXPECT_FALSE(h.is_finished());
        rx.close();
        auto r = co_await h;
        EXPECT_EQ(r.value(), 2) << "the waiting send got its value back";
        auto buffered = co_await rx.recv();
        CO_ASSERT(buffered);
        EXPECT_EQ(*buffered, 1);
        tx = mpsc::sender<int>{};
        auto end = co_await rx.recv();
        EXPECT_FALSE(end);
    });
}

TEST(Mpsc, TrySendFullAndTryRecv) {
    auto [tx, rx] = mpsc::channel<int>(2);
    EXPECT_TRUE(tx.try_send(1));
    EXPECT_TRUE(tx.try_send(2));
    auto full = tx.try_send(3);
    ASSERT_FALSE(full);
    EXPECT_TRUE(full.error().is_full());
    EXPECT_EQ(full.error().value, 3);
    EXPECT_EQ(rx.size(), 2u);
    EXPECT_EQ(*rx.try_recv(), 1);
    EXPECT_TRUE(tx.try_send(3)) << "a freed slot is usable at once";
    EXPECT_EQ(*rx.try_recv(), 2);
    EXPECT_EQ(*rx.try_recv(), 3);
    auto empty = rx.try_recv();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error(), mpsc::try_recv_error::empty);
    tx = mpsc::sender<int>{};
    auto disc = rx.try_recv();
    ASSERT_FALSE(disc);
    EXPECT_EQ(disc.error(), mpsc::try_recv_error::disconnected);
}

TEST(Mpsc, SenderCopiesCount) {
    auto [tx, rx] = mpsc::unbounded_channel<int>();
    auto tx2 = tx;
    tx = mpsc::unbounded_sender<int>{};
    EXPECT_TRUE(tx2.send(1));
    EXPECT_EQ(*rx.try_recv(), 1);
    EXPECT_EQ(rx.try_recv().error(), mpsc::try_recv_error::empty) << "tx2 still alive";
    tx2 = mpsc::unbounded_sender<int>{};
    EXPECT_EQ(rx.try_recv().error(), mpsc::try_recv_error::disconnected);
}

TEST_P(MpscFlavors, UnboundedNeverWaits) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::unbounded_channel<std::string>();
        for (int i = 0; i < 10000; ++i)
            EXPECT_TRUE(tx.send(std::to_string(i)));
        tx = mpsc::unbounded_sender<std::string>{};
        int n = 0;
        while (auto v = co_await rx.recv())
            EXPECT_EQ(*v, std::to_string(n++));
        EXPECT_EQ(n, 10000);
        auto [tx2, rx2] = mpsc::unbounded_channel<int>();
        rx2.close();
        auto r = tx2.send(5);
        CO_ASSERT(!(r));
        EXPECT_EQ(r.error().value, 5);
    });
}

TEST_P(MpscFlavors, RecvManyTakesUpToLimit) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(16);
        for (int i = 0; i < 10; ++i)
            EXPECT_TRUE(tx.try_send(i));
        std::vector<int> out;
        std::size_t n = co_await rx.recv_many(out, 4);
        EXPECT_EQ(n, 4u);
        n = co_await rx.recv_many(out, 100);
        EXPECT_EQ(n, 6u);
        std::vector<int> want(10);
        std::iota(want.begin(), want.end(), 0);
        EXPECT_EQ(out, want);
        n = co_await rx.recv_many(out, 0);
        EXPECT_EQ(n, 0u);
        tx = mpsc::sender<int>{};
        n = co_await rx.recv_many(out, 4);
        EXPECT_EQ(n, 0u) << "closed and drained";
    });
}

TEST_P(MpscFlavors, ReservePermitSendsAndUnusedPermitFreesTheSlot) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(1);
        auto p = co_await tx.reserve();
        CO_ASSERT(p.has_value());
        EXPECT_TRUE(tx.try_send(1).error().is_full()) << "the permit holds the only slot";
        p->send(7);
        EXPECT_EQ(*rx.try_recv(), 7);
        {
            auto p2 = co_await tx.reserve();
            CO_ASSERT(p2);
        } // unused: the slot comes back
        EXPECT_TRUE(tx.try_send(8));
        EXPECT_EQ(*rx.try_recv(), 8);
        rx.close();
        auto p3 = co_await tx.reserve();
        EXPECT_FALSE(p3.has_value()) << "closed";
    });
}

TEST_P(MpscFlavors, PermitKeepsChannelOpenAfterCloseUntilUsed) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(2);
        auto p = co_await tx.reserve();
        CO_ASSERT(p);
        tx = mpsc::sender<int>{};
        rx.close();
        auto h = weft::spawn(
            [](mpsc::permit<int> p) -> weft::task<> {
                co_await weft::yield_now();
                p.send(11);
            },
            std::move(*p));
        auto v = co_await rx.recv();
        CO_ASSERT(v);
        EXPECT_EQ(*v, 11);
        auto end = co_await rx.recv();
        EXPECT_FALSE(end);
        (void)co_await h;
    });
}

TEST_P(MpscFlavors, WaitingSendersAreServedInFifoOrder) {
    // One thread runs tasks, so "spawn, then yield" registers each sender in turn.
    weft::runtime rt = multi() ? weft::runtime::multi_thread().worker_threads(1).build()
                               : weft::runtime::current_thread().build();
    rt.block_on([]() -> weft::task<> {
        auto ctl = weft::spawn([]() -> weft::task<> {
            auto [tx, rx] = mpsc::channel<int>(1);
            EXPECT_TRUE(tx.try_send(-1));
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < 5; ++i) {
                hs.push_back(weft::spawn(produce, tx, i, 1));
                co_await weft::yield_now();
            }
            tx = mpsc::sender<int>{};
            std::vector<int> got;
            while (auto v = co_await rx.recv())
                got.push_back(*v);
            EXPECT_EQ(got, (std::vector<int>{-1, 0, 1, 2, 3, 4}));
            for (auto& h : hs)
                (void)co_await h;
        });
        (void)co_await ctl;
    });
}

TEST_P(MpscFlavors, AbortedWaitingSendDropsItsValueAndSendsNothing) {
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<weft_test::counted>(1);
        EXPECT_TRUE(tx.try_send(weft_test::counted(c, 1)));
        auto h = weft::spawn(
            [](mpsc::sender<weft_test::counted> tx, weft_test::counter* c) -> weft::task<> {
                (void)co_await tx.send(weft_test::counted(*c, 2));
            },
            tx, &c);
        co_await weft::yield_now();
        co_await weft::yield_now();
        h.abort();
        auto hr = co_await h;
        EXPECT_TRUE(hr.error().is_cancelled());
        tx = mpsc::sender<weft_test::counted>{};
        std::vector<int> got;
        while (auto v = co_await rx.recv())
            got.push_back(v->value());
        if (got.size() == 2)
            EXPECT_EQ(got, (std::vector<int>{1, 2})) << "sent before the abort: once";
        else
            EXPECT_EQ(got, (std::vector<int>{1}));
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(MpscFlavors, AbortedRecvLosesNothing) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [tx, rx] = mpsc::channel<int>(4);
        auto rxp = std::make_shared<mpsc::receiver<int>>(std::move(rx));
        auto h = weft::spawn(
            [](std::shared_ptr<mpsc::receiver<int>> rx) -> weft::task<int> {
                auto v = co_await rx->recv();
                co_return v ? *v : -1;
            },
            rxp);
        co_await weft::yield_now();
        h.abort();
        (void)tx.try_send(5);
        auto r = co_await h;
        if (r.has_value()) {
            EXPECT_EQ(*r, 5); // it won the race and received it
            EXPECT_FALSE(rxp->try_recv());
        } else {
            auto v = rxp->try_recv();
            CO_ASSERT(v);
            EXPECT_EQ(*v, 5);
        }
    });
}

TEST_P(MpscFlavors, GrantedReserveThatIsCancelledPassesTheSlotOn) {
    weft::runtime rt = multi() ? weft::runtime::multi_thread().worker_threads(1).build()
                               : weft::runtime::current_thread().build();
    rt.block_on([]() -> weft::task<> {
        auto ctl = weft::spawn([]() -> weft::task<> {
            auto [tx, rx] = mpsc::channel<int>(1);
            EXPECT_TRUE(tx.try_send(0));
            auto reserver = weft::spawn(
                [](mpsc::sender<int> tx) -> weft::task<> {
                    auto p = co_await tx.reserve();
                    p->send(100);
                },
                tx);
            co_await weft::yield_now(); // reserver waits
            auto sender2 = weft::spawn(produce, tx, 1, 1);
            co_await weft::yield_now();   // sender2 waits behind it
            EXPECT_EQ(*rx.try_recv(), 0); // the slot is granted to the reserver...
            reserver.abort();             // ...which is aborted before it runs
            (void)co_await reserver;
            tx = mpsc::sender<int>{};
            std::vector<int> got;
            while (auto v = co_await rx.recv())
                got.push_back(*v);
            EXPECT_EQ(got, (std::vector<int>{1})) << "the slot went to the next sender";
            (void)co_await sender2;
        });
        (void)co_await ctl;
    });
}

TEST(Mpsc, DroppedReceiverDestroysBufferedValues) {
    weft_test::counter c;
    {
        auto [tx, rx] = mpsc::channel<weft_test::counted>(4);
        EXPECT_TRUE(tx.try_send(weft_test::counted(c, 1)));
        EXPECT_TRUE(tx.try_send(weft_test::counted(c, 2)));
        { auto gone = std::move(rx); }
        EXPECT_EQ(c.alive(), 0);
    }
    EXPECT_EQ(c.alive(), 0);
}

// --- issue 14, bug 3: an aborted send delivers nothing ------------------------

namespace {

// A sender task whose send is the last thing it does: it reports success
// only if its value went in, and has no later suspension point for an abort
// to land at after the send completed.
weft::task<bool> send_one(mpsc::sender<weft_test::counted> tx, weft_test::counter* c, int v) {
    auto r = co_await tx.send(weft_test::counted(*c, v));
    co_return r.has_value();
}

} // namespace

// Capacity 1, full; A waits in send(1), B behind it in send(2); A is aborted,
// then the receiver frees the slot before A's task has run again. The slot
// must go to B: A's value dies with its awaiter (it was never received), as
// in Tokio, where the value of an aborted send is dropped with its future.
// Before the fix the receiver moved A's value into the buffer on its way out.
TEST_P(MpscFlavors, AbortedWaitingSenderDeliversNothingAndItsSlotGoesToTheNext) {
    // One thread runs the tasks, so "spawn, then yield" queues each sender in turn.
    weft::runtime rt = multi() ? weft::runtime::multi_thread().worker_threads(1).build()
                               : weft::runtime::current_thread().build();
    weft_test::counter c;
    rt.block_on([&c]() -> weft::task<> {
        auto ctl = weft::spawn([&c]() -> weft::task<> {
            auto [tx, rx] = mpsc::channel<weft_test::counted>(1);
            EXPECT_TRUE(tx.try_send(weft_test::counted(c, 0)));
            auto a = weft::spawn(send_one, tx, &c, 1);
            co_await weft::yield_now(); // A waits
            auto b = weft::spawn(send_one, tx, &c, 2);
            co_await weft::yield_now(); // B waits behind it
            a.abort();                  // requested; A has not run since
            auto first = co_await rx.recv();
            CO_ASSERT(first);
            EXPECT_EQ(first->value(), 0);
            auto second = co_await rx.recv();
            CO_ASSERT(second);
            EXPECT_EQ(second->value(), 2) << "the aborted sender's value was delivered";
            auto ar = co_await a;
            EXPECT_TRUE(!ar.has_value() && ar.error().is_cancelled());
            auto br = co_await b;
            EXPECT_TRUE(br.has_value() && *br);
            tx = mpsc::sender<weft_test::counted>{};
            auto end = co_await rx.recv();
            EXPECT_FALSE(end.has_value()) << "nothing else was sent";
        });
        (void)co_await ctl;
    });
    EXPECT_EQ(c.alive(), 0) << "A's value was destroyed, not leaked";
}

// The same through select: the send loses to a branch that finished first
// (checked first: biased), after the receiver granted it the slot but before
// the select ran again. The abandoned send must not deliver either.
TEST_P(MpscFlavors, SendAbandonedBySelectDeliversNothing) {
    weft::runtime rt = multi() ? weft::runtime::multi_thread().worker_threads(1).build()
                               : weft::runtime::current_thread().build();
    weft_test::counter c;
    rt.block_on([&c]() -> weft::task<> {
        auto ctl = weft::spawn([&c]() -> weft::task<> {
            auto [tx, rx] = mpsc::channel<weft_test::counted>(1);
            EXPECT_TRUE(tx.try_send(weft_test::counted(c, 0)));
            weft::sync::notify go;
            auto a = weft::spawn(
                [](mpsc::sender<weft_test::counted> tx, weft_test::counter* c,
                   weft::sync::notify* go) -> weft::task<std::size_t> {
                    auto r = co_await weft::select(weft::biased, go->notified(),
                                                   tx.send(weft_test::counted(*c, 1)));
                    co_return r.index();
                },
                tx, &c, &go);
            co_await weft::yield_now(); // A waits in both branches
            auto b = weft::spawn(send_one, tx, &c, 2);
            co_await weft::yield_now();      // B waits behind A's send
            go.notify_one();                 // A's first branch is done...
            auto first = co_await rx.recv(); // ...and its send is granted the slot
            CO_ASSERT(first);
            EXPECT_EQ(first->value(), 0);
            auto ar = co_await a;
            CO_ASSERT(ar.has_value());
            EXPECT_EQ(*ar, 0u) << "the notify branch wins (biased)";
            auto second = co_await rx.recv();
            CO_ASSERT(second);
            EXPECT_EQ(second->value(), 2) << "the abandoned send's value was delivered";
            auto br = co_await b;
            EXPECT_TRUE(br.has_value() && *br);
        });
        (void)co_await ctl;
    });
    EXPECT_EQ(c.alive(), 0);
}

// Randomized: many senders, each aborted or not at a random moment (before
// it runs, while it waits, after it sent), while the receiver takes values
// in between, right after an abort too (the moment of the bug: a slot freed
// between the abort and the aborted task's next poll). Every value is
// received exactly once or destroyed unsent; a sender that reported success
// had its value received; one that reported cancelled did not.
TEST_P(MpscFlavors, SeededAbortsOfWaitingSendersNeverDeliverAndNeverLose) {
    WEFT_SEEDED_RNG(seed, rng);
    weft::runtime rt = make_runtime();
    weft_test::counter c;
    const int rounds = weft_test::scaled(20, 4);
    for (int round = 0; round < rounds; ++round) {
        const std::size_t cap = 1 + rng() % 3;
        constexpr int n = 60;
        std::uint64_t round_seed = rng();
        rt.block_on([&c, cap, round_seed]() -> weft::task<> {
            std::mt19937_64 r(round_seed);
            auto [tx, rx] = mpsc::channel<weft_test::counted>(cap);
            std::vector<int> got;
            std::vector<weft::join_handle<bool>> hs;
            // Aborts aim near the oldest unfinished sender, the likeliest to
            // be first in the queue (the one a freed slot goes to).
            std::size_t lo = 0;
            auto abort_one = [&] {
                while (lo < hs.size() && hs[lo].is_finished())
                    ++lo;
                std::size_t i = r() % 4 == 0 ? r() % hs.size() : lo + r() % 3;
                if (i < hs.size()) hs[i].abort();
            };
            auto step = [&]() -> weft::task<> {
                if (r() % 2 == 0) abort_one();
                if (r() % 2 == 0) {
                    if (auto v = rx.try_recv()) got.push_back(v->value());
                }
                if (r() % 2 == 0) co_await weft::yield_now();
            };
            for (int i = 0; i < n; ++i) {
                hs.push_back(weft::spawn(send_one, tx, &c, i));
                co_await step();
            }
            tx = mpsc::sender<weft_test::counted>{};
            for (int k = 0; k < 2 * n; ++k)
                co_await step();
            while (auto v = co_await rx.recv()) // until every sender is gone
                got.push_back(v->value());
            std::vector<int> times(static_cast<std::size_t>(n));
            for (int v : got) {
                CO_ASSERT(v >= 0 && v < n);
                ++times[static_cast<std::size_t>(v)];
            }
            for (int i = 0; i < n; ++i) {
                auto k = static_cast<std::size_t>(i);
                auto res = co_await hs[k];
                if (res.has_value()) {
                    EXPECT_TRUE(*res) << "the receiver is open: a send cannot fail";
                    EXPECT_EQ(times[k], 1) << "sender " << i << " reported success";
                } else {
                    EXPECT_TRUE(res.error().is_cancelled());
                    EXPECT_EQ(times[k], 0) << "sender " << i << " reported cancelled";
                }
            }
        });
        EXPECT_EQ(c.alive(), 0) << "every value received or destroyed";
        if (::testing::Test::HasFailure()) break;
    }
}
