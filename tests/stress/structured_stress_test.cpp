// join/select/join_set under wakes from other threads and aborts: branches
// are woken (and cancelled) while foreign threads send, notify and abort.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"

using namespace std::chrono_literals;

namespace {

using msg_rx = weft::sync::mpsc::unbounded_receiver<weft_test::counted>;

// A task that selects, in a loop, between a channel recv, a notify wait, a
// short sleep, a yield and a nested join of both waits. Foreign threads
// send (counted) messages, notify, and abort every other task at random
// moments. Invariants: a task that was not aborted receives every message
// sent to it exactly once (cancelled recvs lose nothing); every message and
// guard is destroyed in the end (nothing leaked, nothing freed twice: the
// counted canary); no timer stays registered.
weft::task<long> select_worker(msg_rx rx, weft::sync::notify* n, weft_test::counter* c,
                               std::uint64_t seed) {
    weft_test::counted guard(*c, -1);
    std::minstd_rand rng(static_cast<std::uint32_t>(seed));
    long got = 0;
    for (;;) {
        auto us = std::chrono::microseconds(rng() % 40);
        if (rng() % 4 == 0) {
            // A nested join inside a select branch, itself inside a timeout.
            auto r = co_await weft::select(
                rx.recv(),
                weft::time::timeout(us, weft::join(n->notified(), weft::time::sleep(us / 2))));
            if (r.index() == 0) {
                auto& m = std::get<0>(r);
                if (!m.has_value()) break;
                got += m->value();
            }
        } else {
            auto r = co_await weft::select(rx.recv(), n->notified(), weft::time::sleep(us),
                                           weft::yield_now());
            if (r.index() == 0) {
                auto& m = std::get<0>(r);
                if (!m.has_value()) break;
                got += m->value();
            }
        }
    }
    co_return got + guard.value() + 1;
}

TEST(StructuredStress, SelectRacesForeignWakesAndAborts) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::counter c;
    const int rounds = weft_test::scaled(16, 3);
    const int tasks = 16;
    const int msgs = 1000;
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        for (int round = 0; round < rounds; ++round) {
            weft::sync::notify n;
            std::vector<weft::sync::mpsc::unbounded_sender<weft_test::counted>> txs;
            std::vector<weft::join_handle<long>> hs;
            std::vector<long> sent(tasks, 0);
            for (int i = 0; i < tasks; ++i) {
                auto [tx, rx] = weft::sync::mpsc::unbounded_channel<weft_test::counted>();
                txs.push_back(std::move(tx));
                hs.push_back(rt.spawn(select_worker, std::move(rx), &n, &c, rng()));
            }
            std::vector<weft::abort_handle> aborts;
            for (auto& h : hs)
                aborts.push_back(h.abort_handle());
            std::uint64_t s1 = rng(), s2 = rng();
            std::thread sender([&, s1] {
                std::mt19937_64 r(s1);
                for (int k = 0; k < msgs * tasks; ++k) {
                    std::size_t i = r() % txs.size();
                    int v = static_cast<int>(r() % 100);
                    auto res = txs[i].send(weft_test::counted(c, v));
                    if (res.has_value()) sent[i] += v; // fails only if the task was aborted
                    if (k % 64 == 0) n.notify_waiters();
                    if (k % 7 == 0) n.notify_one();
                }
                txs.clear(); // close every channel: the workers finish
            });
            std::thread aborter([&, s2] {
                std::mt19937_64 r(s2);
                for (std::size_t i = 0; i < aborts.size(); i += 2) {
                    std::this_thread::sleep_for(std::chrono::microseconds(r() % 300));
                    aborts[i].abort();
                }
            });
            sender.join();
            aborter.join();
            rt.block_on([&]() -> weft::task<> {
                for (std::size_t i = 0; i < hs.size(); ++i) {
                    weft::result<long> r = co_await hs[i];
                    if (r) {
                        EXPECT_EQ(*r, sent[i]) << "task " << i << " lost or duplicated a message";
                    } else {
                        EXPECT_EQ(i % 2, 0u) << "only even tasks are aborted";
                        EXPECT_TRUE(r.error().is_cancelled());
                    }
                }
            });
            EXPECT_EQ(rt.metrics().timers_pending, 0u);
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

// A join_set whose members finish concurrently on other workers while the
// owner joins some, aborts all at a random point, or drops the set; outside
// threads abort members through their abort_handles. Every member ends
// exactly once (value or cancelled), results match ids, guards all die.
TEST(StructuredStress, JoinSetConcurrentCompletionsAbortAllAndDrop) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::counter c;
    const int rounds = weft_test::scaled(30, 4);
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        for (int round = 0; round < rounds; ++round) {
            const int members = 100;
            std::uint64_t s = rng();
            int mode = static_cast<int>(rng() % 3); // 0 join all, 1 abort_all midway, 2 drop
            std::vector<weft::abort_handle> handles;
            std::mutex handles_mu;
            std::atomic<bool> spawned{false};
            std::thread outside([&, s] {
                std::mt19937_64 r(s ^ 0x5bd1e995);
                while (!spawned.load())
                    std::this_thread::yield();
                std::lock_guard lk(handles_mu);
                for (std::size_t k = 0; k < handles.size(); k += 1 + r() % 7)
                    handles[k].abort();
            });
            rt.block_on([&]() -> weft::task<> {
                std::mt19937_64 r(s);
                std::optional<weft::join_set<int>> set(std::in_place);
                std::vector<std::uint64_t> ids;
                {
                    std::lock_guard lk(handles_mu);
                    for (int i = 0; i < members; ++i) {
                        int yields = static_cast<int>(r() % 4);
                        auto a = set->spawn(
                            [](int i, int yields, weft_test::counted g) -> weft::task<int> {
                                for (int k = 0; k < yields; ++k)
                                    co_await weft::yield_now();
                                co_return i + g.value() * 0;
                            },
                            i, yields, weft_test::counted(c, i));
                        ids.push_back(a.id().value());
                        handles.push_back(a);
                    }
                }
                spawned.store(true);
                int seen = 0;
                int stop_at = static_cast<int>(r() % members);
                std::vector<int> count(members, 0);
                for (;;) {
                    if (seen == stop_at && mode == 1) set->abort_all();
                    if (seen == stop_at && mode == 2) break;
                    auto jr = co_await set->join_next_with_id();
                    if (!jr.has_value()) break;
                    ++seen;
                    auto it = std::find(ids.begin(), ids.end(), jr->first.value());
                    EXPECT_NE(it, ids.end());
                    if (it == ids.end()) co_return;
                    int idx = static_cast<int>(it - ids.begin());
                    ++count[static_cast<std::size_t>(idx)];
                    if (jr->second.has_value())
                        EXPECT_EQ(*jr->second, idx);
                    else
                        EXPECT_TRUE(jr->second.error().is_cancelled());
                }
                if (mode != 2) {
                    EXPECT_EQ(seen, members);
                    for (int k : count)
                        EXPECT_EQ(k, 1);
                }
                set.reset(); // mode 2: aborts the rest
            });
            outside.join();
            // Every member is finished (or will be, when aborted ones are
            // polled): wait for them through the handles.
            rt.block_on([&]() -> weft::task<> {
                for (auto& h : handles) {
                    bool done = co_await weft_test::wait_finished(h);
                    EXPECT_TRUE(done);
                }
            });
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

// Tasks blocked in join/try_join on foreign-woken leaves, aborted while the
// wakes land: nothing leaks, every handle ends cancelled or with a value.
TEST(StructuredStress, JoinAbortRacesWakes) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::counter c;
    const int rounds = weft_test::scaled(40, 5);
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        for (int round = 0; round < rounds; ++round) {
            weft::sync::notify n;
            std::vector<weft::join_handle<int>> hs;
            for (int i = 0; i < 64; ++i)
                hs.push_back(rt.spawn(
                    [](weft::sync::notify* n, weft_test::counted g) -> weft::task<int> {
                        auto wait = [](weft::sync::notify* n,
                                       weft_test::counted g) -> weft::task<int> {
                            co_await n->notified();
                            co_return g.value();
                        };
                        // Tasks made first: no counted temporaries inside a
                        // co_await expression (docs/compiler-traps.md).
                        auto w1 = wait(n, g);
                        auto w2 = wait(n, g);
                        auto t = co_await weft::join(std::move(w1), std::move(w2), n->notified());
                        auto w3 = wait(n, g);
                        auto w4 = wait(n, g);
                        auto r = co_await weft::try_join(
                            weft::time::timeout(std::chrono::microseconds(50), std::move(w3)),
                            std::move(w4));
                        co_return std::get<0>(t) + (r.has_value() ? 1 : 0);
                    },
                    &n, weft_test::counted(c, i)));
            std::atomic<bool> stop{false};
            std::thread notifier([&] {
                while (!stop.load()) {
                    n.notify_waiters();
                    n.notify_one();
                    std::this_thread::yield();
                }
            });
            std::uint64_t s = rng();
            std::thread aborter([&, s] {
                std::mt19937_64 r(s);
                for (std::size_t i = 0; i < hs.size(); i += 1 + r() % 3) {
                    std::this_thread::sleep_for(std::chrono::microseconds(r() % 100));
                    hs[i].abort();
                }
            });
            aborter.join();
            rt.block_on([&]() -> weft::task<> {
                for (auto& h : hs) {
                    weft::result<int> r = co_await h;
                    if (!r) {
                        EXPECT_TRUE(r.error().is_cancelled());
                    }
                }
            });
            stop.store(true);
            notifier.join();
            EXPECT_EQ(rt.metrics().timers_pending, 0u);
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

} // namespace
