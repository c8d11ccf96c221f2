// Timer leaves under abort racing the wake-up: sleep and timeout entries are
// withdrawn by one thread while the driver fires them on another.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"

using namespace std::chrono_literals;

namespace {

// Sleepers with deadlines around "now" are aborted from an outside thread at
// random moments, so some aborts land before the timer fires, some while the
// driver is firing it, some after the task resumed. Every task must end
// either completed or cancelled, every guard must be destroyed, and no timer
// may stay registered.
TEST(TimeStress, AbortRacesTheFiringOfSleeps) {
    std::uint64_t seed = weft_test::test_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    weft_test::counter c;
    const int rounds = weft_test::scaled(40, 5);
    const int tasks = 200;
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        for (int round = 0; round < rounds; ++round) {
            std::vector<weft::join_handle<int>> hs;
            std::atomic<int> completed{0};
            for (int i = 0; i < tasks; ++i) {
                auto d = std::chrono::microseconds(rng() % 3000);
                hs.push_back(rt.spawn(
                    [](weft_test::counted guard, std::chrono::microseconds d,
                       std::atomic<int>* completed) -> weft::task<int> {
                        co_await weft::time::sleep(d);
                        completed->fetch_add(1);
                        co_return guard.value();
                    },
                    weft_test::counted(c, i), d, &completed));
            }
            std::vector<std::size_t> order(hs.size());
            for (std::size_t i = 0; i < order.size(); ++i)
                order[i] = i;
            std::shuffle(order.begin(), order.end(), rng);
            std::thread aborter([&] {
                for (std::size_t k = 0; k < order.size() / 2; ++k) {
                    hs[order[k]].abort();
                    if (k % 16 == 0)
                        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
                }
            });
            aborter.join();
            int ok = 0, cancelled = 0;
            rt.block_on([&]() -> weft::task<> {
                for (std::size_t i = 0; i < hs.size(); ++i) {
                    weft::result<int> r = co_await hs[i];
                    if (r) {
                        EXPECT_EQ(*r, static_cast<int>(i));
                        ++ok;
                    } else {
                        EXPECT_TRUE(r.error().is_cancelled());
                        ++cancelled;
                    }
                }
            });
            EXPECT_EQ(ok + cancelled, tasks);
            EXPECT_EQ(ok, completed.load());
            EXPECT_EQ(rt.metrics().timers_pending, 0u);
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

// Timeouts whose deadline and whose inner work finish at about the same
// time, with some tasks aborted meanwhile: each ends with exactly one of
// value / elapsed / cancelled, and the inner work's guard always dies.
TEST(TimeStress, TimeoutRacesItsWorkAndAborts) {
    std::uint64_t seed = weft_test::test_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    weft_test::counter c;
    const int rounds = weft_test::scaled(30, 4);
    const int tasks = 150;
    {
        weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
        for (int round = 0; round < rounds; ++round) {
            std::vector<weft::join_handle<int>> hs;
            for (int i = 0; i < tasks; ++i) {
                auto work_d = std::chrono::microseconds(rng() % 2000);
                auto limit = std::chrono::microseconds(rng() % 2000);
                hs.push_back(rt.spawn(
                    [](weft_test::counter* c, int i, std::chrono::microseconds work_d,
                       std::chrono::microseconds limit) -> weft::task<int> {
                        auto work = [](weft_test::counter* c, int i,
                                       std::chrono::microseconds d) -> weft::task<int> {
                            weft_test::counted g(*c, i);
                            co_await weft::time::sleep(d);
                            co_return 1;
                        };
                        auto r = co_await weft::time::timeout(limit, work(c, i, work_d));
                        co_return r ? 1 : 2;
                    },
                    &c, i, work_d, limit));
            }
            std::thread aborter([&] {
                for (std::size_t k = 0; k < hs.size(); k += 3)
                    hs[k].abort();
            });
            aborter.join();
            rt.block_on([&]() -> weft::task<> {
                for (auto& h : hs) {
                    weft::result<int> r = co_await h;
                    if (r)
                        EXPECT_TRUE(*r == 1 || *r == 2);
                    else
                        EXPECT_TRUE(r.error().is_cancelled());
                }
            });
            EXPECT_EQ(rt.metrics().timers_pending, 0u);
        }
    }
    EXPECT_EQ(c.alive(), 0);
}

} // namespace
