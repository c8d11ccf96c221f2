// runtime: builder validation, block_on, misuse errors, runtime_handle,
// shutdown (destructor, shutdown_timeout, shutdown_background), thread
// hooks and names, the unhandled-exception policy, metrics.
#include <gtest/gtest.h>

#include <pthread.h>

#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using weft_test::counted;
using weft_test::counter;
using weft_test::forty_two;

namespace {

struct custom_error : std::runtime_error {
    explicit custom_error(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
    int code;
};

std::string current_thread_name() {
    char buf[64] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    return buf;
}

template <class F>
void expect_invalid_argument_naming(F&& f, const std::string& setting) {
    try {
        f();
        ADD_FAILURE() << setting << ": expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(setting), std::string::npos)
            << "what() must name the setting '" << setting << "': " << e.what();
    } catch (...) {
        ADD_FAILURE() << setting << ": threw something other than std::invalid_argument";
    }
}

/// Spins (outside any runtime) until `pred` holds. Used only where the work
/// finishes on a runtime thread we cannot join; the watchdog bounds it.
template <class P>
void spin_until(P pred, const char* what) {
    weft_test::watchdog wd(what);
    while (!pred())
        std::this_thread::yield();
}

} // namespace

class RuntimeFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(RuntimeFlavors);

// --- builder -------------------------------------------------------------------

TEST(Runtime, BuilderRejectsInvalidSettingsNamingThem) {
    for (bool multi : {true, false}) {
        SCOPED_TRACE(multi ? "multi_thread()" : "current_thread()");
        auto b = [multi] {
            return multi ? weft::runtime::multi_thread() : weft::runtime::current_thread();
        };
        expect_invalid_argument_naming([&] { b().worker_threads(0); }, "worker_threads");
        expect_invalid_argument_naming([&] { b().event_interval(0); }, "event_interval");
        expect_invalid_argument_naming([&] { b().global_queue_interval(0); },
                                       "global_queue_interval");
        expect_invalid_argument_naming([&] { b().max_blocking_threads(0); },
                                       "max_blocking_threads");
        expect_invalid_argument_naming([&] { b().thread_stack_size(10); }, "thread_stack_size");
        expect_invalid_argument_naming([&] { b().thread_name(""); }, "thread_name");
    }
}

TEST(Runtime, BuilderAcceptsSmallestValidSettings) {
    for (bool multi : {true, false}) {
        SCOPED_TRACE(multi ? "multi_thread()" : "current_thread()");
        auto b = multi ? weft::runtime::multi_thread() : weft::runtime::current_thread();
        b.worker_threads(1)
            .event_interval(1)
            .global_queue_interval(1)
            .max_blocking_threads(1)
            .thread_stack_size(256 * 1024)
            .thread_keep_alive(std::chrono::milliseconds(1))
            .thread_name("w");
        weft::runtime rt = b.build();
        long long sum = rt.block_on([]() -> weft::task<long long> {
            std::vector<weft::join_handle<int>> hs;
            for (int i = 0; i < 100; ++i)
                hs.push_back(weft::spawn(
                    [](int k) -> weft::task<int> {
                        co_await weft::yield_now();
                        co_return k;
                    },
                    i));
            long long s = 0;
            for (auto& h : hs) {
                weft::result<int> r = co_await h;
                s += r.value();
            }
            co_return s;
        });
        EXPECT_EQ(sum, 4950);
    }
}

TEST(Runtime, DefaultConstructedRuntimeIsMultiThread) {
    weft::runtime rt;
    EXPECT_GE(rt.metrics().num_workers, 1u);
    EXPECT_EQ(rt.block_on(forty_two), 42);
}

// --- block_on -----------------------------------------------------------------

TEST_P(RuntimeFlavors, BlockOnReturnsTheValueOrRethrows) {
    weft::runtime rt = make_runtime();
    EXPECT_EQ(rt.block_on(forty_two), 42);
    std::size_t n = rt.block_on(
        [](int a, std::string s) -> weft::task<std::size_t> {
            co_await weft::yield_now();
            co_return s.size() + static_cast<std::size_t>(a);
        },
        3, std::string("four"));
    EXPECT_EQ(n, 7u);
    try {
        rt.block_on([]() -> weft::task<int> {
            co_await weft::yield_now();
            throw custom_error(8);
            co_return 0;
        });
        ADD_FAILURE() << "block_on must rethrow";
    } catch (const custom_error& e) {
        EXPECT_EQ(e.code, 8);
    }
    rt.block_on([]() -> weft::task<> { co_return; }); // void
}

TEST_P(RuntimeFlavors, BlockOnInsideARuntimeThrowsRuntimeError) {
    weft::runtime rt = make_runtime();
    weft::runtime other = weft_test::make_runtime(weft_test::flavor::current_thread);
    auto misuse = [&]() {
        int thrown = 0;
        try {
            rt.block_on(forty_two);
        } catch (const weft::runtime_error& e) {
            ++thrown;
            EXPECT_NE(std::string(e.what()).find("block_on"), std::string::npos) << e.what();
        }
        try {
            other.block_on(forty_two); // another runtime: still refused
        } catch (const weft::runtime_error&) {
            ++thrown;
        }
        try {
            weft::block_on(forty_two);
        } catch (const weft::runtime_error&) {
            ++thrown;
        }
        try {
            weft::runtime_handle::current().block_on(forty_two);
        } catch (const weft::runtime_error&) {
            ++thrown;
        }
        return thrown;
    };
    int in_root = rt.block_on([&]() -> weft::task<int> { co_return misuse(); });
    EXPECT_EQ(in_root, 4);
    int in_spawned = rt.block_on([&]() -> weft::task<int> {
        auto h = weft::spawn([&]() -> weft::task<int> { co_return misuse(); });
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(in_spawned, 4);
    // The runtimes still work.
    EXPECT_EQ(rt.block_on(forty_two), 42);
    EXPECT_EQ(other.block_on(forty_two), 42);
}

TEST(Runtime, FreeBlockOnWorks) {
    EXPECT_EQ(weft::block_on(forty_two), 42);
    int v = weft::block_on(
        [](int a) -> weft::task<int> {
            auto h = weft::spawn([a]() -> weft::task<int> { co_return a * 2; });
            weft::result<int> r = co_await h;
            co_return r.value();
        },
        21);
    EXPECT_EQ(v, 42);
    EXPECT_THROW(weft::block_on([]() -> weft::task<> {
                     throw custom_error(1);
                     co_return;
                 }),
                 custom_error);
}

TEST(Runtime, CurrentThreadTasksSpawnedFromOutsideWaitForBlockOn) {
    weft::runtime rt = weft::runtime::current_thread().build();
    std::atomic<int> ran{0};
    auto h = rt.spawn([&]() -> weft::task<int> {
        ran.fetch_add(1);
        co_return 5;
    });
    EXPECT_EQ(ran.load(), 0) << "a current_thread runtime has no thread of its own";
    EXPECT_FALSE(h.is_finished());
    int v = rt.block_on([&]() -> weft::task<int> {
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, 5);
    EXPECT_EQ(ran.load(), 1);
}

TEST_P(RuntimeFlavors, TasksLiveAcrossSuccessiveBlockOnCalls) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate;
    weft::join_handle<int> h = rt.block_on([&]() -> weft::task<weft::join_handle<int>> {
        auto jh = weft::spawn([&]() -> weft::task<int> {
            co_await gate.notified();
            co_return 9;
        });
        co_return jh;
    });
    gate.notify_one(); // from outside the runtime
    int v = rt.block_on([&]() -> weft::task<int> {
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, 9);
}

TEST_P(RuntimeFlavors, ConcurrentBlockOnFromTwoThreads) {
    weft::runtime rt = make_runtime();
    std::atomic<long long> total{0};
    auto work = [&](int base) {
        long long v = rt.block_on([base]() -> weft::task<long long> {
            std::vector<weft::join_handle<int>> hs;
            for (int i = 0; i < 50; ++i)
                hs.push_back(weft::spawn(
                    [](int k) -> weft::task<int> {
                        co_await weft::yield_now();
                        co_return k;
                    },
                    base + i));
            long long s = 0;
            for (auto& h : hs) {
                weft::result<int> r = co_await h;
                s += r.value();
            }
            co_return s;
        });
        total.fetch_add(v);
    };
    std::thread a(work, 0), b(work, 1000);
    a.join();
    b.join();
    EXPECT_EQ(total.load(), 1225 + (50 * 1000 + 1225));
}

// --- runtime_handle ------------------------------------------------------------------

TEST(Runtime, HandleCurrentOutsideARuntimeThrows) {
    EXPECT_THROW((void)weft::runtime_handle::current(), weft::runtime_error);
}

TEST_P(RuntimeFlavors, HandleCurrentInsideATaskCanSpawn) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        weft::runtime_handle h = weft::runtime_handle::current();
        auto jh = h.spawn([]() -> weft::task<int> {
            // And from inside a spawned task.
            weft::runtime_handle inner = weft::runtime_handle::current();
            auto j2 = inner.spawn(forty_two);
            weft::result<int> r = co_await j2;
            co_return r.value() + 1;
        });
        weft::result<int> r = co_await jh;
        co_return r.value();
    });
    EXPECT_EQ(v, 43);
}

TEST_P(RuntimeFlavors, HandleSpawnFromAnExternalThread) {
    weft::runtime rt = make_runtime();
    weft::runtime_handle handle = rt.handle();
    weft::sync::notify progress;
    std::atomic<long> done{0};
    constexpr int per_thread = 100;
    rt.block_on([&]() -> weft::task<> {
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < per_thread; ++i) {
                    auto h = handle.spawn([&]() -> weft::task<> {
                        weft_test::bump(progress, done);
                        co_return;
                    });
                } // detached
            });
        co_await weft_test::wait_at_least(progress, done, 2 * per_thread);
        for (auto& t : threads)
            t.join();
    });
    EXPECT_EQ(done.load(), 2 * per_thread);
}

TEST_P(RuntimeFlavors, MovedFromRuntimeThrowsRuntimeError) {
    weft::runtime rt = make_runtime();
    weft::runtime rt2 = std::move(rt);
    EXPECT_THROW(rt.block_on(forty_two), weft::runtime_error);
    EXPECT_THROW((void)rt.handle(), weft::runtime_error);
    EXPECT_EQ(rt2.block_on(forty_two), 42);
}

// --- shutdown ---------------------------------------------------------------------------

TEST_P(RuntimeFlavors, DestructorAbortsPendingTasksAndRunsTheirDestructors) {
    counter c;
    weft::sync::notify never; // outlives the runtime
    std::atomic<int> after{0};
    std::vector<weft::abort_handle> handles;
    weft::join_handle<int> outside;
    {
        weft::runtime rt = make_runtime();
        rt.block_on([&]() -> weft::task<> {
            for (int i = 0; i < 20; ++i) {
                auto h = weft::spawn(weft_test::park_forever<counted>, std::ref(never),
                                     counted(c, i), &after);
                handles.push_back(h.abort_handle());
                // odd ones detached, even ones kept alive in a task's frame below
                if (i % 2 == 0) {
                    auto keeper = weft::spawn(
                        [&never](weft::join_handle<int> kept) -> weft::task<> {
                            co_await never.notified();
                            weft::result<int> r = co_await kept;
                            (void)r;
                        },
                        std::move(h));
                    handles.push_back(keeper.abort_handle());
                }
            }
            co_return;
        });
        // One more from outside (never polled on current_thread), handle kept here.
        outside =
            rt.spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, 99), &after);
        EXPECT_GT(c.alive(), 0);
    } // ~runtime: every task left is aborted
    EXPECT_EQ(c.alive(), 0) << "destructors of pending tasks must have run";
    EXPECT_EQ(after.load(), 0);
    for (auto& h : handles)
        EXPECT_TRUE(h.is_finished());
    EXPECT_TRUE(outside.is_finished());
}

TEST_P(RuntimeFlavors, DestructorCancelsTasksSpawnedByDestructorsDuringShutdown) {
    counter c;
    weft::sync::notify never;
    std::atomic<int> spawned_ran{0}, spawn_threw{0};
    struct spawns_on_destroy {
        counter* c;
        std::atomic<int>* ran;
        std::atomic<int>* threw;
        ~spawns_on_destroy() {
            try {
                auto h = weft::spawn([r = ran, obj = counted(*c, 1)]() -> weft::task<> {
                    r->fetch_add(1);
                    co_return;
                });
            } catch (...) {
                threw->fetch_add(1);
            }
        }
    };
    weft::sync::notify progress;
    std::atomic<long> guarded{0};
    {
        weft::runtime rt = make_runtime();
        rt.block_on([&]() -> weft::task<> {
            for (int i = 0; i < 5; ++i) {
                auto h = weft::spawn([&]() -> weft::task<> {
                    spawns_on_destroy guard{&c, &spawned_ran, &spawn_threw};
                    weft_test::bump(progress, guarded);
                    co_await never.notified();
                });
            }
            co_await weft_test::wait_at_least(progress, guarded, 5); // every guard exists
        });
    }
    EXPECT_EQ(c.alive(), 0) << "tasks spawned while shutting down are cancelled and freed";
    EXPECT_EQ(spawned_ran.load(), 0) << "a task spawned during shutdown must not run";
}

TEST_P(RuntimeFlavors, ShutdownTimeoutCompletes) {
    counter c;
    weft::sync::notify never;
    std::atomic<int> after{0};
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        for (int i = 0; i < 10; ++i) {
            auto h = weft::spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, i),
                                 &after);
        }
        co_return;
    });
    std::move(rt).shutdown_timeout(std::chrono::seconds(60));
    EXPECT_EQ(c.alive(), 0) << "idle workers exit at once: shutdown_timeout cleans up";
    EXPECT_EQ(after.load(), 0);
    EXPECT_THROW(rt.block_on(forty_two), weft::runtime_error) << "use after shutdown";
}

TEST_P(RuntimeFlavors, ShutdownBackgroundCompletes) {
    counter c;
    weft::sync::notify never;
    std::atomic<int> after{0};
    weft::runtime rt = make_runtime();
    weft::runtime_handle handle = rt.handle();
    rt.block_on([&]() -> weft::task<> {
        for (int i = 0; i < 10; ++i) {
            auto h = weft::spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, i),
                                 &after);
        }
        co_return;
    });
    std::move(rt).shutdown_background();
    spin_until([&] { return c.alive() == 0; }, "shutdown_background never cleaned up");
    EXPECT_EQ(after.load(), 0);
    EXPECT_THROW(rt.block_on(forty_two), weft::runtime_error);

    // A handle outlives the runtime: spawn gives a cancelled task, block_on throws.
    std::atomic<int> ran{0};
    auto h = handle.spawn([&ran, obj = counted(c, 1)]() -> weft::task<> {
        ran.fetch_add(1);
        co_return;
    });
    EXPECT_TRUE(h.is_finished()) << "spawn after shutdown gives a task that is already cancelled";
    EXPECT_EQ(ran.load(), 0);
    EXPECT_EQ(c.alive(), 0);
    EXPECT_THROW(handle.block_on(forty_two), weft::runtime_error);
}

TEST(Runtime, ShutdownTimeoutLeavesABusyWorkerAndTheLastOneOutCleansUp) {
    counter c;
    std::atomic<bool> release{false};
    std::atomic<int> after{0};
    weft::sync::notify started;
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<> {
            counted obj(c, 1);
            started.notify_one();
            while (!release.load()) // a long poll: no suspension
                std::this_thread::yield();
            co_await weft::yield_now();
            after.fetch_add(1);
        });
        co_await started.notified();
    });
    std::move(rt).shutdown_timeout(std::chrono::milliseconds(1));
    // The busy worker cannot have exited: the task is still alive.
    EXPECT_EQ(c.alive(), 1);
    release.store(true);
    spin_until([&] { return c.alive() == 0; }, "the last worker never cleaned up");
    EXPECT_EQ(after.load(), 0) << "the task is cancelled at its next suspension";
}

// --- thread hooks, names, stack size --------------------------------------------------

TEST(Runtime, OnThreadStartAndStopAreCalledOncePerWorker) {
    std::mutex mu;
    std::set<std::thread::id> started, stopped;
    std::atomic<int> starts{0}, stops{0};
    std::thread::id task_thread;
    {
        weft::runtime rt = weft::runtime::multi_thread()
                               .worker_threads(3)
                               .on_thread_start([&] {
                                   starts.fetch_add(1);
                                   std::lock_guard lk(mu);
                                   started.insert(std::this_thread::get_id());
                               })
                               .on_thread_stop([&] {
                                   stops.fetch_add(1);
                                   std::lock_guard lk(mu);
                                   stopped.insert(std::this_thread::get_id());
                               })
                               .build();
        task_thread = rt.block_on([]() -> weft::task<std::thread::id> {
            auto h = weft::spawn(
                []() -> weft::task<std::thread::id> { co_return std::this_thread::get_id(); });
            weft::result<std::thread::id> r = co_await h;
            co_return r.value();
        });
    }
    EXPECT_EQ(starts.load(), 3);
    EXPECT_EQ(stops.load(), 3);
    std::lock_guard lk(mu);
    EXPECT_EQ(started.size(), 3u) << "once on each worker";
    EXPECT_EQ(started, stopped);
    EXPECT_EQ(started.count(std::this_thread::get_id()), 0u);
    EXPECT_EQ(started.count(task_thread), 1u) << "the task ran on a worker that was started";
}

TEST(Runtime, ThreadNameIsApplied) {
    for (std::string name : {std::string("weft-test"), std::string("a-rather-long-thread-name")}) {
        weft::runtime rt =
            weft::runtime::multi_thread().worker_threads(2).thread_name(name).build();
        std::string seen = rt.block_on([]() -> weft::task<std::string> {
            auto h =
                weft::spawn([]() -> weft::task<std::string> { co_return current_thread_name(); });
            weft::result<std::string> r = co_await h;
            co_return r.value();
        });
        EXPECT_EQ(seen, name.substr(0, 15)) << "Linux keeps 15 characters";
    }
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(1).build();
    std::string seen = rt.block_on([]() -> weft::task<std::string> {
        auto h = weft::spawn([]() -> weft::task<std::string> { co_return current_thread_name(); });
        weft::result<std::string> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(seen, "weft-worker") << "the default name";
}

TEST(Runtime, ThreadStackSizeIsApplied) {
    constexpr std::size_t size = 4u << 20;
    weft::runtime rt =
        weft::runtime::multi_thread().worker_threads(1).thread_stack_size(size).build();
    std::size_t seen = rt.block_on([]() -> weft::task<std::size_t> {
        auto h = weft::spawn([]() -> weft::task<std::size_t> {
            pthread_attr_t attr;
            std::size_t s = 0;
            if (pthread_getattr_np(pthread_self(), &attr) == 0) {
                pthread_attr_getstacksize(&attr, &s);
                pthread_attr_destroy(&attr);
            }
            co_return s;
        });
        weft::result<std::size_t> r = co_await h;
        co_return r.value();
    });
    EXPECT_GE(seen, size);
}

// --- unhandled exceptions -----------------------------------------------------------------

TEST_P(RuntimeFlavors, ShutdownRuntimePolicyMakesBlockOnThrowAndAbortsTheOtherTasks) {
    counter c;
    weft::sync::notify never;
    std::atomic<int> after{0}, root_after{0};
    std::vector<weft::abort_handle> others;
    {
        weft::runtime rt =
            builder()
                .unhandled_exception(weft::unhandled_exception_policy::shutdown_runtime)
                .build();
        try {
            rt.block_on([&]() -> weft::task<> {
                std::vector<weft::join_handle<int>> hs;
                for (int i = 0; i < 10; ++i) {
                    hs.push_back(weft::spawn(weft_test::park_forever<counted>, std::ref(never),
                                             counted(c, i), &after));
                    others.push_back(hs.back().abort_handle());
                }
                auto thrower = weft::spawn([]() -> weft::task<> {
                    co_await weft::yield_now();
                    throw custom_error(500);
                });
                weft::result<int> r = co_await hs.front(); // never completes on its own
                root_after.fetch_add(1);
                (void)r;
            });
            ADD_FAILURE() << "block_on must throw";
        } catch (const weft::runtime_error& e) {
            bool nested = false;
            try {
                std::rethrow_if_nested(e);
            } catch (const custom_error& inner) {
                nested = true;
                EXPECT_EQ(inner.code, 500);
            } catch (...) {
                ADD_FAILURE() << "the nested exception has the wrong type";
            }
            EXPECT_TRUE(nested) << "runtime_error must nest the task's exception: " << e.what();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "block_on threw something else: " << e.what();
        }
        EXPECT_EQ(root_after.load(), 0) << "the root was aborted at its suspension point";
        // The runtime refuses further work.
        EXPECT_THROW(rt.block_on(forty_two), weft::runtime_error);
    }
    EXPECT_EQ(after.load(), 0) << "the other tasks were aborted, not resumed";
    EXPECT_EQ(c.alive(), 0);
    for (auto& h : others)
        EXPECT_TRUE(h.is_finished());
}

TEST_P(RuntimeFlavors, ShutdownRuntimePolicyLeavesTheRootsOwnExceptionToTheCaller) {
    weft::runtime rt =
        builder().unhandled_exception(weft::unhandled_exception_policy::shutdown_runtime).build();
    EXPECT_THROW(rt.block_on([]() -> weft::task<> {
        co_await weft::yield_now();
        throw custom_error(1);
    }),
                 custom_error);
    EXPECT_EQ(rt.block_on(forty_two), 42) << "a root's exception does not shut the runtime down";
}

TEST_P(RuntimeFlavors, DefaultPolicyGivesIsPanicAndTheRuntimeContinues) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        auto bad = weft::spawn([]() -> weft::task<int> {
            co_await weft::yield_now();
            throw custom_error(3);
            co_return 0;
        });
        weft::result<int> r = co_await bad;
        EXPECT_TRUE(r.error().is_panic());
        auto good = weft::spawn(forty_two);
        weft::result<int> g = co_await good;
        co_return g.value();
    });
    EXPECT_EQ(v, 42);
    EXPECT_EQ(rt.block_on(forty_two), 42);
}

// --- metrics ------------------------------------------------------------------------------------

TEST_P(RuntimeFlavors, MetricsCountSpawnedAndAliveTasks) {
    weft::runtime rt = make_runtime();
    weft::runtime_metrics m0 = rt.metrics();
    EXPECT_EQ(m0.num_workers, multi() ? 2u : 1u);
    EXPECT_EQ(m0.spawned_tasks_count, 0u);
    EXPECT_EQ(m0.num_alive_tasks, 0u);
    weft::sync::notify never;
    std::atomic<int> after{0};
    counter c;
    bool multi_rt = multi();
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<int>> parked;
        for (int i = 0; i < 10; ++i)
            parked.push_back(weft::spawn(weft_test::park_forever<counted>, std::ref(never),
                                         counted(c, i), &after));
        for (int i = 0; i < 5; ++i) {
            auto h = weft::spawn(forty_two);
            weft::result<int> r = co_await h;
            EXPECT_EQ(r.value(), 42);
        }
        weft::runtime_metrics m = weft::runtime_handle::current().metrics();
        EXPECT_EQ(m.spawned_tasks_count, 15u);
        EXPECT_GE(m.num_alive_tasks, 10u) << "the parked tasks are alive";
        EXPECT_LE(m.num_alive_tasks, 15u);
        if (!multi_rt) {
            EXPECT_EQ(m.num_alive_tasks, 10u);
        }
        for (auto& h : parked)
            h.abort();
        for (auto& h : parked) {
            weft::result<int> r = co_await h;
            EXPECT_TRUE(r.error().is_cancelled());
        }
        m = weft::runtime_handle::current().metrics();
        EXPECT_LE(m.num_alive_tasks, 15u);
        if (!multi_rt) {
            EXPECT_EQ(m.num_alive_tasks, 0u);
        }
    });
    weft::runtime_metrics m1 = rt.metrics();
    EXPECT_EQ(m1.spawned_tasks_count, 15u) << "block_on roots are not counted";
    EXPECT_EQ(m1.workers.size(), m1.num_workers);
    std::uint64_t polls = 0;
    for (auto& w : m1.workers)
        polls += w.poll_count;
    EXPECT_GE(polls, 15u) << "every spawned task was polled at least once";
}

// The block_on thread spawns one task at a time and waits for it: every
// spawn must wake an idle worker, every completion the block_on thread. A
// lost wake-up shows as the watchdog firing (it then spawns no-op tasks to
// kick the workers, so the test reports instead of hanging).
TEST_P(RuntimeFlavors, SequentialSpawnAndAwaitFromTheRootNeverLosesAWakeup) {
    weft::runtime rt = make_runtime();
    weft::runtime_handle handle = rt.handle();
    const int rounds = weft_test::scaled(20'000, 2'000);
    std::atomic<bool> kick{false};
    long done = 0;
    {
        weft_test::watchdog wd("spawn/await ping-pong", std::chrono::seconds(10),
                               [&] { kick.store(true); });
        std::thread kicker;
        rt.block_on([&]() -> weft::task<> {
            for (int i = 0; i < rounds; ++i) {
                auto h = weft::spawn([](int k) -> weft::task<int> { co_return k; }, i);
                weft::result<int> r = co_await h;
                if (r.value() == i) ++done;
            }
            co_return;
        });
        EXPECT_FALSE(wd.fired()) << "a wake-up was lost";
    }
    EXPECT_EQ(done, rounds);
}
