// spawn: eager start, decay-copied callable and arguments (lifetimes proved
// with counted), spawn(task&&), misuse outside a runtime, task ids.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using weft_test::counted;
using weft_test::counter;
using weft_test::forty_two;

namespace {

template <class T>
concept spawnable_lvalue = requires(T& t) {
    weft::spawn(t);
};

} // namespace

class SpawnFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(SpawnFlavors);

// --- misuse ---------------------------------------------------------------------

TEST(Spawn, OutsideARuntimeThrowsRuntimeErrorWithAHelpfulMessage) {
    bool called = false;
    auto fn = [&called]() -> weft::task<> {
        called = true;
        co_return;
    };
    try {
        auto h = weft::spawn(fn);
        ADD_FAILURE() << "spawn outside a runtime must throw";
    } catch (const weft::runtime_error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("outside a runtime"), std::string::npos) << what;
        EXPECT_NE(what.find("spawn"), std::string::npos) << what;
    }
    EXPECT_FALSE(called);
    // runtime_error is a std::runtime_error.
    EXPECT_THROW({ auto h = weft::spawn(forty_two); }, std::runtime_error);
}

TEST(Spawn, OutsideARuntimeDestroysTheCallable) {
    counter c;
    {
        auto fn = [x = counted(c, 1)]() -> weft::task<int> { co_return x.value(); };
        EXPECT_THROW({ auto h = weft::spawn(fn); }, weft::runtime_error);
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST(Spawn, ThisTaskIdOutsideATaskThrows) {
    EXPECT_THROW((void)weft::this_task::id(), weft::runtime_error);
}

TEST(Spawn, AnLvalueTaskCannotBeSpawned) {
    // spawn(task&&) only: spawning an lvalue task would leave it empty behind
    // the caller's back.
    static_assert(!spawnable_lvalue<weft::task<int>>);
    static_assert(spawnable_lvalue<decltype(forty_two)>);
    SUCCEED();
}

// --- eager start ----------------------------------------------------------------

TEST_P(SpawnFlavors, TaskRunsEvenIfItsHandleIsDroppedAtOnce) {
    weft::runtime rt = make_runtime();
    std::atomic<int> ran{0};
    weft::sync::notify done;
    rt.block_on([&]() -> weft::task<> {
        {
            auto h = weft::spawn([&]() -> weft::task<> {
                ran.fetch_add(1);
                done.notify_one();
                co_return;
            });
        } // dropped before the task had any chance to run
        co_await done.notified();
    });
    EXPECT_EQ(ran.load(), 1);
}

TEST_P(SpawnFlavors, TaskRunsWithoutBeingAwaited) {
    weft::runtime rt = make_runtime();
    std::atomic<int> ran{0};
    weft::sync::notify done;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            ran.fetch_add(1);
            done.notify_one();
            co_return 1;
        });
        co_await done.notified(); // the handle is held, never awaited
        EXPECT_EQ(ran.load(), 1);
    });
    EXPECT_EQ(ran.load(), 1);
}

TEST_P(SpawnFlavors, SpawnedTaskRunsConcurrentlyWithItsSpawner) {
    // The spawner waits for something only the spawned task does. (Guarded
    // by a watchdog: a lost notify_one would otherwise hang the suite.)
    weft::runtime rt = make_runtime();
    weft::sync::notify ping, pong;
    std::atomic<bool> stop{false};
    weft_test::watchdog wd("ping-pong between a task and its spawner", std::chrono::seconds(10),
                           [&] {
                               stop.store(true);
                               for (int i = 0; i < 100; ++i) {
                                   ping.notify_waiters();
                                   pong.notify_waiters();
                               }
                           });
    int rounds = rt.block_on([&]() -> weft::task<int> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            int i = 0;
            for (; i < 1000; ++i) {
                auto f = ping.notified();
                if (stop.load()) break;
                co_await std::move(f);
                pong.notify_one();
            }
            co_return i;
        });
        for (int i = 0; i < 1000; ++i) {
            ping.notify_one();
            auto f = pong.notified();
            if (stop.load()) break;
            co_await std::move(f);
        }
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_FALSE(wd.fired()) << "a notify_one was lost (see NotifyFlavors.PingPong...)";
    EXPECT_EQ(rounds, 1000);
}

// --- decay-copy and lifetimes ---------------------------------------------------------

TEST_P(SpawnFlavors, LambdaCapturesLiveAsLongAsTheTaskAndDieWhenItFinishes) {
    weft::runtime rt = make_runtime();
    counter c;
    weft::sync::notify gate, done;
    rt.block_on([&]() -> weft::task<> {
        weft::join_handle<std::size_t> h;
        {
            std::string text(100, 'x'); // on the heap: a dangling capture would show
            auto fn = [obj = counted(c, 7), text, &gate, &done]() -> weft::task<std::size_t> {
                co_await gate.notified();
                std::size_t n = text.size() + static_cast<std::size_t>(obj.value());
                done.notify_one();
                co_return n;
            };
            h = weft::spawn(std::move(fn));
        } // the spawner's copies are gone; the task's own copies remain
        EXPECT_EQ(c.alive(), 1) << "exactly the task's copy of the capture is alive";
        co_await weft::yield_now();
        EXPECT_EQ(c.alive(), 1) << "the capture lives while the task is suspended";
        gate.notify_one();
        co_await done.notified();
        bool finished = co_await weft_test::wait_finished(h.abort_handle());
        EXPECT_TRUE(finished);
        EXPECT_EQ(c.alive(), 0) << "captures are destroyed when the task finishes, "
                                   "not when its handle is joined";
        weft::result<std::size_t> r = co_await h;
        EXPECT_EQ(r.value(), 107u);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(SpawnFlavors, ArgumentsAreMovedInAndDestroyedWhenTheTaskFinishes) {
    weft::runtime rt = make_runtime();
    counter c;
    weft::sync::notify gate, done;
    rt.block_on([&]() -> weft::task<> {
        auto fn = [&gate, &done](std::string s, counted obj) -> weft::task<std::size_t> {
            co_await gate.notified();
            std::size_t n = s.size() + static_cast<std::size_t>(obj.value());
            done.notify_one();
            co_return n;
        };
        std::string arg(64, 'y');
        auto h = weft::spawn(fn, std::move(arg), counted(c, 3));
        EXPECT_GE(c.alive(), 1) << "the task owns a copy of the argument";
        gate.notify_one();
        co_await done.notified();
        bool finished = co_await weft_test::wait_finished(h.abort_handle());
        EXPECT_TRUE(finished);
        EXPECT_EQ(c.alive(), 0) << "arguments moved into a task must be destroyed when the "
                                   "task finishes (Tokio drops the future on completion), "
                                   "not only when the join handle is awaited or dropped";
        weft::result<std::size_t> r = co_await h;
        EXPECT_EQ(r.value(), 67u);
        EXPECT_EQ(c.alive(), 0);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(SpawnFlavors, DetachedTaskDestroysItsCapturesAndArguments) {
    weft::runtime rt = make_runtime();
    counter c;
    weft::sync::notify done;
    rt.block_on([&]() -> weft::task<> {
        auto fn = [cap = counted(c, 1), &done](counted arg) -> weft::task<int> {
            co_await weft::yield_now();
            int v = cap.value() + arg.value();
            done.notify_one();
            co_return v;
        };
        weft::abort_handle ah;
        {
            auto h = weft::spawn(fn, counted(c, 2));
            ah = h.abort_handle();
        }
        co_await done.notified();
        bool finished = co_await weft_test::wait_finished(ah);
        EXPECT_TRUE(finished);
        // The local `fn` still holds one counted (its capture).
        EXPECT_EQ(c.alive(), 1);
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(SpawnFlavors, ArgumentsAreCopiedUnlessWrappedInStdRef) {
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        std::string s = "before";
        int target = 0;
        auto fn = [](std::string copy, int& ref) -> weft::task<std::string> {
            co_await weft::yield_now();
            ref = 5;
            co_return copy;
        };
        auto h = weft::spawn(fn, s, std::ref(target));
        s = "after"; // the task has its own copy
        weft::result<std::string> r = co_await h;
        EXPECT_EQ(r.value(), "before");
        EXPECT_EQ(target, 5) << "std::ref passes a reference";
    });
}

TEST_P(SpawnFlavors, MoveOnlyArgumentsIncludingJoinHandles) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        auto first = weft::spawn([](std::unique_ptr<int> p) -> weft::task<int> { co_return *p; },
                                 std::make_unique<int>(20));
        // A join handle moved into another task: that task awaits it.
        auto second = weft::spawn(
            [](weft::join_handle<int> other) -> weft::task<int> {
                weft::result<int> r = co_await other;
                co_return r.value() + 1;
            },
            std::move(first));
        weft::result<int> r = co_await second;
        co_return r.value();
    });
    EXPECT_EQ(v, 21);
}

TEST_P(SpawnFlavors, SpawnAnAlreadyCreatedTask) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        weft::task<int> t = forty_two();
        auto h = weft::spawn(std::move(t));
        EXPECT_FALSE(t.valid()) << "spawn(task&&) takes the task";
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, 42);
    // Also through the runtime and its handle, from outside.
    auto h = rt.spawn(forty_two());
    int w = rt.block_on([&]() -> weft::task<int> {
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(w, 42);
}

TEST_P(SpawnFlavors, SpawnedTaskWithParametersCreatedBeforeSpawn) {
    // spawn(task&&): the coroutine's parameters live in its frame.
    weft::runtime rt = make_runtime();
    counter c;
    auto make = [](counted obj, std::string s) -> weft::task<int> {
        co_await weft::yield_now();
        co_return obj.value() + static_cast<int>(s.size());
    };
    int v = rt.block_on([&]() -> weft::task<int> {
        auto h = weft::spawn(make(counted(c, 10), std::string(5, 'z')));
        weft::result<int> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, 15);
    EXPECT_EQ(c.alive(), 0);
}

// --- ids ---------------------------------------------------------------------------

TEST_P(SpawnFlavors, ThisTaskIdIsUniqueAndEqualsTheHandleId) {
    weft::runtime rt = make_runtime();
    constexpr int n = 200;
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<weft::task_id>> hs;
        for (int i = 0; i < n; ++i)
            hs.push_back(weft::spawn([]() -> weft::task<weft::task_id> {
                weft::task_id before = weft::this_task::id();
                co_await weft::yield_now();
                EXPECT_EQ(before, weft::this_task::id()) << "the id is stable across suspension";
                co_return weft::this_task::id();
            }));
        std::set<std::uint64_t> seen;
        weft::task_id root = weft::this_task::id();
        EXPECT_NE(root.value(), 0u);
        seen.insert(root.value());
        for (auto& h : hs) {
            weft::task_id expected = h.id();
            EXPECT_NE(expected.value(), 0u);
            EXPECT_EQ(h.abort_handle().id(), expected);
            weft::result<weft::task_id> r = co_await h;
            EXPECT_EQ(r.value(), expected);
            EXPECT_TRUE(seen.insert(expected.value()).second) << "duplicate id " << expected;
        }
        EXPECT_EQ(seen.size(), static_cast<std::size_t>(n + 1));
    });
}

TEST_P(SpawnFlavors, ManyTasksAllRunToCompletion) {
    weft::runtime rt = make_runtime();
    constexpr int n = 2000;
    long long sum = rt.block_on([]() -> weft::task<long long> {
        std::vector<weft::join_handle<int>> hs;
        hs.reserve(n);
        for (int i = 0; i < n; ++i)
            hs.push_back(weft::spawn(
                [](int k) -> weft::task<int> {
                    if (k % 3 == 0) co_await weft::yield_now();
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
    EXPECT_EQ(sum, static_cast<long long>(n) * (n - 1) / 2);
}

TEST_P(SpawnFlavors, DetachedTaskThatThrowsDoesNotDisturbTheRuntime) {
    weft::runtime rt = make_runtime();
    weft::sync::notify done;
    int v = rt.block_on([&]() -> weft::task<int> {
        {
            auto h = weft::spawn([&]() -> weft::task<> {
                done.notify_one();
                throw std::runtime_error("detached failure");
                co_return;
            });
        }
        co_await done.notified();
        auto h2 = weft::spawn(forty_two);
        weft::result<int> r = co_await h2;
        co_return r.value();
    });
    EXPECT_EQ(v, 42);
}
