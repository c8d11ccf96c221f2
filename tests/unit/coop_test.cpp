// yield_now and the cooperative budget: a task looping on ready operations
// cannot starve the other tasks of its thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

constexpr int loop_iterations = 10'000;

/// Loops on a notify whose permit is re-armed every time: each co_await is
/// ready at once. Returns the first iteration at which `flag` was seen set
/// (loop_iterations if never).
weft::task<int> ready_notify_loop(const std::atomic<bool>& flag) {
    weft::sync::notify n;
    int first_seen = loop_iterations;
    for (int i = 0; i < loop_iterations; ++i) {
        if (first_seen == loop_iterations && flag.load()) first_seen = i;
        n.notify_one();
        co_await n.notified();
    }
    co_return first_seen;
}

weft::runtime make_single_threaded(int which) {
    // The budget matters where tasks share one thread: current_thread, or a
    // multi-thread runtime with one worker.
    if (which == 0) return weft::runtime::current_thread().build();
    return weft::runtime::multi_thread().worker_threads(1).build();
}

const char* label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

} // namespace

class CoopFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(CoopFlavors);

TEST(Coop, LoopOnAReadyNotifyCannotStarveAnotherTask) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(label(which));
        weft::runtime rt = make_single_threaded(which);
        std::atomic<bool> flag{false};
        weft::sync::notify go;
        int first_seen = rt.block_on([&]() -> weft::task<int> {
            // The loop starts only once `other` has been spawned (on the
            // multi-thread runtime the worker could otherwise run the whole
            // loop before block_on's thread gets to spawn `other`).
            auto looper = weft::spawn([&]() -> weft::task<int> {
                co_await go.notified();
                int seen = co_await ready_notify_loop(flag);
                co_return seen;
            });
            auto other = weft::spawn([&]() -> weft::task<> {
                flag.store(true);
                co_return;
            });
            go.notify_one();
            weft::result<int> r = co_await looper;
            weft::result<void> o = co_await other;
            EXPECT_TRUE(o.has_value());
            co_return r.value();
        });
        EXPECT_LT(first_seen, loop_iterations)
            << "the other task never ran while the loop was busy with ready operations";
        EXPECT_GT(rt.metrics().budget_forced_yield_count, 0u);
    }
}

TEST(Coop, LoopOnFinishedJoinHandlesCannotStarveAnotherTask) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(label(which));
        weft::runtime rt = make_single_threaded(which);
        std::atomic<bool> flag{false};
        struct outcome {
            int first_seen;
            long long sum;
        };
        weft::sync::notify go;
        outcome o = rt.block_on([&]() -> weft::task<outcome> {
            std::vector<weft::join_handle<int>> hs;
            hs.reserve(loop_iterations);
            for (int i = 0; i < loop_iterations; ++i)
                hs.push_back(weft::spawn([](int k) -> weft::task<int> { co_return k; }, i));
            // Queued behind the short tasks: by the time it runs they are finished,
            // so every co_await below is ready.
            auto looper = weft::spawn(
                [&flag, &go](std::vector<weft::join_handle<int>> v) -> weft::task<outcome> {
                    co_await go.notified(); // `other` exists (see above)
                    outcome out{loop_iterations, 0};
                    for (int i = 0; i < loop_iterations; ++i) {
                        if (out.first_seen == loop_iterations && flag.load()) out.first_seen = i;
                        weft::result<int> r = co_await v[static_cast<std::size_t>(i)];
                        out.sum += r.value();
                    }
                    co_return out;
                },
                std::move(hs));
            auto other = weft::spawn([&]() -> weft::task<> {
                flag.store(true);
                co_return;
            });
            go.notify_one();
            weft::result<outcome> r = co_await looper;
            weft::result<void> ro = co_await other;
            EXPECT_TRUE(ro.has_value());
            co_return r.value();
        });
        EXPECT_EQ(o.sum, static_cast<long long>(loop_iterations) * (loop_iterations - 1) / 2)
            << "a forced yield must not lose the value";
        EXPECT_LT(o.first_seen, loop_iterations);
        EXPECT_GT(rt.metrics().budget_forced_yield_count, 0u);
    }
}

TEST(Coop, BlockOnRootLoopingOnReadyOperationsCannotStarveSpawnedTasks) {
    // The block_on root is a task like the others: on a current_thread
    // runtime, a root busy with ready operations must let spawned tasks run.
    weft::runtime rt = weft::runtime::current_thread().build();
    std::atomic<bool> flag{false};
    int first_seen = rt.block_on([&]() -> weft::task<int> {
        auto other = weft::spawn([&]() -> weft::task<> {
            flag.store(true);
            co_return;
        });
        int seen = co_await ready_notify_loop(flag);
        weft::result<void> o = co_await other;
        EXPECT_TRUE(o.has_value());
        co_return seen;
    });
    EXPECT_LT(first_seen, loop_iterations)
        << "the spawned task never ran while the block_on root looped on ready operations "
           "(the root is re-polled ahead of the run queue after a forced yield)";
}

TEST(Coop, YieldNowInTheBlockOnRootLetsSpawnedTasksRun) {
    weft::runtime rt = weft::runtime::current_thread().build();
    std::atomic<bool> flag{false};
    bool seen = rt.block_on([&]() -> weft::task<bool> {
        auto other = weft::spawn([&]() -> weft::task<> {
            flag.store(true);
            co_return;
        });
        for (int i = 0; i < 3; ++i)
            co_await weft::yield_now(); // "behind the others ready to run"
        bool s = flag.load();
        weft::result<void> o = co_await other;
        EXPECT_TRUE(o.has_value());
        co_return s;
    });
    EXPECT_TRUE(seen) << "yield_now in the block_on root did not let the ready spawned task run";
}

TEST(Coop, YieldNowPutsTheTaskBehindTheReadyTasks) {
    // current_thread only: on the multi-thread runtime a task spawned by the
    // running task goes to the worker's LIFO slot and runs first, by design.
    {
        weft::runtime rt = weft::runtime::current_thread().build();
        std::mutex mu;
        std::vector<std::string> log;
        auto note = [&](std::string s) {
            std::lock_guard lk(mu);
            log.push_back(std::move(s));
        };
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto a = weft::spawn([&]() -> weft::task<> {
                    note("a1");
                    co_await weft::yield_now();
                    note("a2");
                });
                co_await weft::yield_now(); // a runs up to its yield
                auto b = weft::spawn([&]() -> weft::task<> {
                    note("b");
                    co_return;
                });
                weft::result<void> ra = co_await a;
                weft::result<void> rb = co_await b;
                EXPECT_TRUE(ra.has_value() && rb.has_value());
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
        // a yielded before b was spawned, so a is ahead of b in the queue.
        EXPECT_EQ(log, (std::vector<std::string>{"a1", "a2", "b"}));
    }
}

TEST(Coop, YieldingTaskRunsAfterTasksReadyBeforeIt) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(label(which));
        weft::runtime rt = make_single_threaded(which);
        std::mutex mu;
        std::vector<std::string> log;
        auto note = [&](std::string s) {
            std::lock_guard lk(mu);
            log.push_back(std::move(s));
        };
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto a = weft::spawn([&]() -> weft::task<> {
                    note("a1");
                    co_await weft::yield_now();
                    note("a2");
                });
                auto b = weft::spawn([&]() -> weft::task<> {
                    note("b");
                    co_return;
                });
                weft::result<void> ra = co_await a;
                weft::result<void> rb = co_await b;
                EXPECT_TRUE(ra.has_value() && rb.has_value());
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
        // Both ready; whichever order they start in (current_thread: FIFO;
        // multi_thread: the LIFO slot runs b first), a's yield lets b run
        // before a continues.
        auto pos = [&](const char* s) {
            return std::find(log.begin(), log.end(), s) - log.begin();
        };
        ASSERT_EQ(log.size(), 3u);
        EXPECT_LT(pos("a1"), pos("a2"));
        EXPECT_LT(pos("b"), pos("a2")) << "yield_now must let the ready task run first";
        if (which == 0) {
            EXPECT_EQ(log, (std::vector<std::string>{"a1", "b", "a2"}));
        }
    }
}

TEST_P(CoopFlavors, LoopsOfReadyOperationsCompleteAndForcedYieldsAreCounted) {
    weft::runtime rt = make_runtime();
    std::atomic<bool> flag{true};
    int first_seen = rt.block_on([&]() -> weft::task<int> {
        auto looper = weft::spawn(ready_notify_loop, std::cref(flag));
        weft::result<int> r = co_await looper;
        co_return r.value();
    });
    EXPECT_EQ(first_seen, 0);
    // 10,000 ready operations with a budget of 128 per poll: the looping
    // task was made to yield many times (counted by the worker that ran it).
    EXPECT_GT(rt.metrics().budget_forced_yield_count, 0u);
}
