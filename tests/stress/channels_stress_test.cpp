// Randomized abort-during-wake stress tests for every channel leaf (docs/architecture.md,
// "Cancellation"): tasks wait on a leaf on the multi-thread runtime while a
// plain thread aborts them at random moments and the value or wake-up is
// being delivered. Each test checks conservation (every message is received
// exactly once, or is still in the channel, or went back to its sender; none
// twice) and that every counted object was destroyed. Seeded (WEFT_TEST_SEED),
// bounded, scaled down under sanitizers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <weft/sync/broadcast.hpp>
#include <weft/sync/mpsc.hpp>
#include <weft/sync/oneshot.hpp>
#include <weft/sync/watch.hpp>
#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

namespace {

using weft_test::counted;
using weft_test::counter;

/// Aborts each handle in `hs` with probability 1/2, in random order, with
/// random short pauses, on a plain thread; returns the thread.
std::thread aborter(std::vector<weft::abort_handle> hs, std::uint64_t seed) {
    return std::thread([hs = std::move(hs), seed]() mutable {
        std::mt19937_64 rng(seed);
        std::shuffle(hs.begin(), hs.end(), rng);
        for (auto& h : hs) {
            if (rng() % 2) h.abort();
            if (rng() % 4 == 0) std::this_thread::yield();
        }
    });
}

/// Marks index `i` seen; fails on a duplicate.
struct seen_set {
    std::mutex mu;
    std::vector<int> hits;
    explicit seen_set(int n) : hits(static_cast<std::size_t>(n), 0) {}
    void hit(int i) {
        std::lock_guard lk(mu);
        ++hits.at(static_cast<std::size_t>(i));
    }
};

weft::runtime make_mt() {
    return weft::runtime::multi_thread().worker_threads(2).build();
}

} // namespace

// --- oneshot recv ------------------------------------------------------------------

TEST(ChannelsStress, OneshotRecvAbortDuringSend) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("OneshotRecvAbortDuringSend");
    const int rounds = weft_test::scaled(200, 10), k = 64;
    counter c;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        seen_set seen(k);
        std::vector<weft::sync::oneshot::sender<counted>> txs;
        std::vector<weft::join_handle<void>> hs;
        std::vector<weft::abort_handle> abs;
        for (int i = 0; i < k; ++i) {
            auto [tx, rx] = weft::sync::oneshot::channel<counted>();
            txs.push_back(std::move(tx));
            hs.push_back(rt.handle().spawn(
                [](weft::sync::oneshot::receiver<counted> rx, seen_set* s) -> weft::task<> {
                    auto r = co_await rx;
                    if (r) s->hit(r->value());
                },
                std::move(rx), &seen));
            abs.push_back(hs.back().abort_handle());
        }
        std::thread ab = aborter(abs, rng());
        std::vector<int> returned(k, 0);
        for (int i = 0; i < k; ++i) {
            auto r = txs[static_cast<std::size_t>(i)].send(counted(c, i));
            if (!r) {
                returned[static_cast<std::size_t>(i)] = 1;
                EXPECT_EQ(r.error().value(), i) << "the value handed back is the one sent";
            }
        }
        ab.join();
        rt.block_on([&]() -> weft::task<> {
            for (int i = 0; i < k; ++i) {
                auto r = co_await hs[static_cast<std::size_t>(i)];
                int got = seen.hits[static_cast<std::size_t>(i)];
                EXPECT_LE(got, 1) << "received twice";
                if (r.has_value()) {
                    // The task finished normally: it got the value, unless it
                    // was handed back (the receiver died first: impossible here,
                    // since a finished task received before dropping it).
                    EXPECT_EQ(got + returned[static_cast<std::size_t>(i)], 1);
                } else {
                    EXPECT_TRUE(r.error().is_cancelled());
                    EXPECT_EQ(got, 0) << "an aborted task cannot have recorded it";
                }
            }
        });
    }
    EXPECT_EQ(c.alive(), 0) << "values received, handed back or dropped with their channel";
}

// --- oneshot closed() ----------------------------------------------------------------

// The sender's closed() waker lives in its awaiter (decision 0025): a receiver
// drop on one thread reads it while an abort on another destroys it. ASan and
// TSan check the TX_WAKING handshake; the test checks every task either saw the
// channel closed or was cancelled.
TEST(ChannelsStress, OneshotClosedAbortDuringReceiverDrop) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("OneshotClosedAbortDuringReceiverDrop");
    const int rounds = weft_test::scaled(200, 10), k = 64;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        std::vector<weft::sync::oneshot::receiver<int>> rxs;
        std::vector<weft::join_handle<bool>> hs;
        std::vector<weft::abort_handle> abs;
        for (int i = 0; i < k; ++i) {
            auto [tx, rx] = weft::sync::oneshot::channel<int>();
            rxs.push_back(std::move(rx));
            hs.push_back(rt.handle().spawn(
                [](weft::sync::oneshot::sender<int> tx) -> weft::task<bool> {
                    co_await tx.closed();
                    co_return tx.is_closed();
                },
                std::move(tx)));
            abs.push_back(hs.back().abort_handle());
        }
        std::thread ab = aborter(abs, rng());
        std::shuffle(rxs.begin(), rxs.end(), rng);
        for (auto& rx : rxs) {
            if (rng() % 2)
                rx.close();
            else
                rx = {};
        }
        ab.join();
        rt.block_on([&]() -> weft::task<> {
            for (auto& h : hs) {
                auto r = co_await h;
                if (r.has_value())
                    EXPECT_TRUE(*r) << "closed() completed only once the receiver went away";
                else
                    EXPECT_TRUE(r.error().is_cancelled());
            }
        });
    }
}

// --- mpsc send --------------------------------------------------------------------

TEST(ChannelsStress, MpscSendAbortWhileWaitingForCapacity) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("MpscSendAbortWhileWaitingForCapacity");
    const int rounds = weft_test::scaled(200, 10), k = 64;
    counter c;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        const std::size_t cap = 1 + rng() % 3;
        auto [tx, rx] = weft::sync::mpsc::channel<counted>(cap);
        std::vector<int> completed(k, 0);
        std::vector<weft::join_handle<void>> hs;
        std::vector<weft::abort_handle> abs;
        for (int i = 0; i < k; ++i) {
            hs.push_back(rt.handle().spawn(
                [](weft::sync::mpsc::sender<counted> tx, counter* c, int i,
                   int* done) -> weft::task<> {
                    auto r = co_await tx.send(counted(*c, i));
                    if (r) *done = 1;
                },
                tx, &c, i, &completed[static_cast<std::size_t>(i)]));
            abs.push_back(hs.back().abort_handle());
        }
        tx = weft::sync::mpsc::sender<counted>{};
        std::thread ab = aborter(abs, rng());
        seen_set seen(k);
        rt.block_on([&]() -> weft::task<> {
            while (auto v = co_await rx.recv()) {
                seen.hit(v->value());
                if (rng() % 8 == 0) co_await weft::yield_now();
            }
        });
        ab.join();
        rt.block_on([&]() -> weft::task<> {
            for (auto& h : hs) {
                auto r = co_await h;
                (void)r;
            }
        });
        for (int i = 0; i < k; ++i) {
            int got = seen.hits[static_cast<std::size_t>(i)];
            EXPECT_LE(got, 1) << "message " << i << " duplicated";
            if (completed[static_cast<std::size_t>(i)]) {
                EXPECT_EQ(got, 1) << "sent but lost: " << i;
            }
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST(ChannelsStress, MpscReserveAbortAfterGrantReleasesCapacity) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("MpscReserveAbortAfterGrantReleasesCapacity");
    const int rounds = weft_test::scaled(200, 10), k = 48;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        const std::size_t cap = 1 + rng() % 2;
        auto [tx, rx] = weft::sync::mpsc::channel<int>(cap);
        std::vector<weft::join_handle<void>> hs;
        std::vector<weft::abort_handle> abs;
        std::vector<int> completed(k, 0);
        for (int i = 0; i < k; ++i) {
            hs.push_back(rt.handle().spawn(
                [](weft::sync::mpsc::sender<int> tx, int i, int* done) -> weft::task<> {
                    auto p = co_await tx.reserve();
                    if (!p) co_return;
                    p->send(i);
                    *done = 1;
                },
                tx, i, &completed[static_cast<std::size_t>(i)]));
            abs.push_back(hs.back().abort_handle());
        }
        std::thread ab = aborter(abs, rng());
        seen_set seen(k);
        // Receive until every task has finished and the buffer is empty.
        rt.block_on([&]() -> weft::task<> {
            auto drop_tx = std::move(tx);
            drop_tx = weft::sync::mpsc::sender<int>{};
            while (auto v = co_await rx.recv())
                seen.hit(*v);
        });
        ab.join();
        rt.block_on([&]() -> weft::task<> {
            for (auto& h : hs) {
                auto r = co_await h;
                (void)r;
            }
        });
        for (int i = 0; i < k; ++i) {
            EXPECT_LE(seen.hits[static_cast<std::size_t>(i)], 1);
            if (completed[static_cast<std::size_t>(i)]) {
                EXPECT_EQ(seen.hits[static_cast<std::size_t>(i)], 1);
            }
        }
    }
}

// --- mpsc recv --------------------------------------------------------------------

TEST(ChannelsStress, MpscRecvAbortDuringDelivery) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("MpscRecvAbortDuringDelivery");
    const int rounds = weft_test::scaled(200, 10), n = 200;
    counter c;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        auto [tx, rx] = weft::sync::mpsc::channel<counted>(4);
        auto rxp = std::make_shared<weft::sync::mpsc::receiver<counted>>(std::move(rx));
        seen_set seen(n);
        auto consumer = rt.handle().spawn(
            [](std::shared_ptr<weft::sync::mpsc::receiver<counted>> rx,
               seen_set* s) -> weft::task<> {
                while (auto v = co_await rx->recv())
                    s->hit(v->value()); // no suspension between recv and recording
            },
            rxp, &seen);
        std::thread ab([h = consumer.abort_handle(), d = rng() % 2000]() {
            for (std::uint64_t i = 0; i < d; ++i)
                std::this_thread::yield();
            h.abort();
        });
        // Send from a task; after the abort the buffer fills and try_send fails.
        std::vector<int> sent(n, 0);
        rt.block_on([&]() -> weft::task<> {
            for (int i = 0; i < n; ++i) {
                auto r = tx.try_send(counted(c, i));
                if (r)
                    sent[static_cast<std::size_t>(i)] = 1;
                else
                    co_await weft::yield_now();
            }
        });
        ab.join();
        rt.block_on([&]() -> weft::task<> {
            auto r = co_await consumer;
            (void)r;
        });
        while (auto v = rxp->try_recv())
            seen.hit(v->value()); // still in the channel
        for (int i = 0; i < n; ++i)
            EXPECT_EQ(seen.hits[static_cast<std::size_t>(i)], sent[static_cast<std::size_t>(i)])
                << "message " << i << ": every sent message received exactly once";
    }
    EXPECT_EQ(c.alive(), 0);
}

// --- watch changed -------------------------------------------------------------------

TEST(ChannelsStress, WatchChangedAbortDuringSend) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("WatchChangedAbortDuringSend");
    const int rounds = weft_test::scaled(200, 10), k = 32, last = 50;
    counter c;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        auto [tx, rx] = weft::sync::watch::channel(0);
        std::vector<weft::join_handle<int>> hs;
        std::vector<weft::abort_handle> abs;
        for (int i = 0; i < k; ++i) {
            hs.push_back(rt.handle().spawn(
                [](weft::sync::watch::receiver<int> rx, counted guard) -> weft::task<int> {
                    int v = 0;
                    for (;;) {
                        auto r = co_await rx.changed();
                        if (!r) break;
                        v = *rx.borrow_and_update();
                    }
                    co_return v + guard.value() * 0;
                },
                rx, counted(c, i)));
            abs.push_back(hs.back().abort_handle());
        }
        std::thread ab = aborter(abs, rng());
        for (int v = 1; v <= last; ++v)
            (void)tx.send(v);
        ab.join();
        { auto gone = std::move(tx); }
        rt.block_on([&]() -> weft::task<> {
            for (auto& h : hs) {
                auto r = co_await h;
                if (r.has_value()) {
                    EXPECT_EQ(*r, last) << "a finished watcher saw the last value";
                }
            }
        });
    }
    EXPECT_EQ(c.alive(), 0);
}

// --- broadcast recv --------------------------------------------------------------------

TEST(ChannelsStress, BroadcastRecvAbortDuringSend) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("BroadcastRecvAbortDuringSend");
    const int rounds = weft_test::scaled(150, 10), k = 16, n = 100;
    counter c;
    weft::runtime rt = make_mt();
    for (int round = 0; round < rounds; ++round) {
        {
            auto [tx, rx] = weft::sync::broadcast::channel<counted>(static_cast<std::size_t>(n));
            std::vector<weft::join_handle<long>> hs;
            std::vector<weft::abort_handle> abs;
            for (int i = 0; i < k; ++i) {
                hs.push_back(rt.handle().spawn(
                    [](weft::sync::broadcast::receiver<counted> rx) -> weft::task<long> {
                        long sum = 0, expect = 0;
                        for (;;) {
                            auto r = co_await rx.recv();
                            if (!r) {
                                EXPECT_TRUE(r.error().is_closed()) << "no lag: buffer holds all";
                                break;
                            }
                            EXPECT_EQ(r->value(), expect) << "in order, none skipped or twice";
                            ++expect;
                            sum += r->value();
                        }
                        co_return sum;
                    },
                    tx.subscribe()));
                abs.push_back(hs.back().abort_handle());
            }
            { auto gone = std::move(rx); }
            std::thread ab = aborter(abs, rng());
            for (int v = 0; v < n; ++v) {
                auto r = tx.send(counted(c, v));
                if (!r) {
                    EXPECT_EQ(r.error().value.value(), v);
                }
            }
            ab.join();
            tx = weft::sync::broadcast::sender<counted>{};
            rt.block_on([&]() -> weft::task<> {
                for (auto& h : hs) {
                    auto r = co_await h;
                    if (r.has_value()) {
                        EXPECT_EQ(*r, long(n) * (n - 1) / 2);
                    }
                }
            });
        }
        EXPECT_EQ(c.alive(), 0) << "every value died once read by all or with the channel";
    }
}
