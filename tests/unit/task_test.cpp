// task<T>: laziness, results (value / void / reference / move-only),
// exceptions through co_await, empty tasks, and constant-stack awaiting.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"
#include "test_tasks.hpp"

using weft_test::counted;
using weft_test::counter;
using weft_test::forty_two;

namespace {

struct task_error : std::runtime_error {
    explicit task_error(int c) : std::runtime_error("task_error " + std::to_string(c)), code(c) {}
    int code;
};

weft::task<> set_flag(bool& flag) {
    flag = true;
    co_return;
}

weft::task<int&> ref_to(int& x) {
    co_return x;
}

weft::task<std::unique_ptr<int>> make_unique_int(int v) {
    co_return std::make_unique<int>(v);
}

weft::task<int> throws_after_await(int code) {
    int v = co_await forty_two();
    if (v == 42) throw task_error(code);
    co_return v;
}

weft::task<int> rethrow_through(int code) {
    int v = co_await throws_after_await(code); // propagates, nothing after runs
    co_return v + 1000;
}

weft::task<> throws_void() {
    throw task_error(3);
    co_return;
}

weft::task<std::uint64_t> nested(int depth) {
    if (depth == 0) co_return 0;
    std::uint64_t v = co_await nested(depth - 1);
    co_return v + 1;
}

weft::task<int> ready_value(int i) {
    co_return i;
}

weft::task<std::uint64_t> ready_loop(int n) {
    std::uint64_t sum = 0;
    for (int i = 0; i < n; ++i)
        sum += static_cast<std::uint64_t>(co_await ready_value(i & 7));
    co_return sum;
}

std::uint64_t expected_ready_loop(int n) {
    std::uint64_t sum = 0;
    for (int i = 0; i < n; ++i)
        sum += static_cast<std::uint64_t>(i & 7);
    return sum;
}

weft::task<weft::task_id> id_of_awaited() {
    co_return weft::this_task::id();
}

constexpr int million = 1'000'000;
constexpr int deep = 10'000;

} // namespace

class TaskFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(TaskFlavors);

// --- laziness -------------------------------------------------------------------

TEST(Task, IsLazyNothingRunsUntilAwaited) {
    bool ran = false;
    {
        weft::task<> t = set_flag(ran);
        EXPECT_TRUE(t.valid());
        EXPECT_FALSE(ran) << "creating a task must not run it";
    } // destroyed without being awaited: it never runs
    EXPECT_FALSE(ran);
}

TEST(Task, DefaultConstructedTaskIsEmpty) {
    weft::task<int> t;
    EXPECT_FALSE(t.valid());
}

TEST(Task, UnawaitedTaskDestroysItsParameters) {
    counter c;
    auto fn = [](counted x) -> weft::task<int> { co_return x.value(); };
    {
        weft::task<int> t = fn(counted(c, 1));
        EXPECT_GE(c.alive(), 1) << "the parameter lives in the frame";
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(TaskFlavors, LazyTaskRunsWhenAwaitedInsideTheCurrentTask) {
    weft::runtime rt = make_runtime();
    bool ran = false;
    std::uint64_t spawned_before = rt.metrics().spawned_tasks_count;
    rt.block_on([&]() -> weft::task<> {
        weft::task<> t = set_flag(ran);
        EXPECT_FALSE(ran);
        co_await t;
        EXPECT_TRUE(ran);
        EXPECT_FALSE(t.valid()) << "awaiting consumes the task";
    });
    EXPECT_TRUE(ran);
    EXPECT_EQ(rt.metrics().spawned_tasks_count, spawned_before) << "co_await creates no task";
}

TEST_P(TaskFlavors, AwaitedTaskRunsAsPartOfTheCurrentTask) {
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        weft::task_id mine = weft::this_task::id();
        weft::task_id child = co_await id_of_awaited();
        EXPECT_EQ(mine, child);
        auto h = weft::spawn([]() -> weft::task<> {
            weft::task_id outer = weft::this_task::id();
            weft::task_id inner = co_await id_of_awaited();
            EXPECT_EQ(outer, inner);
        });
        weft::result<void> r = co_await h;
        EXPECT_TRUE(r.has_value());
    });
}

// --- results ----------------------------------------------------------------------

TEST_P(TaskFlavors, ValueVoidReferenceAndMoveOnlyResults) {
    weft::runtime rt = make_runtime();
    int target = 5;
    rt.block_on([&]() -> weft::task<> {
        int v = co_await forty_two();
        EXPECT_EQ(v, 42);

        bool flag = false;
        co_await set_flag(flag);
        EXPECT_TRUE(flag);

        int& r = co_await ref_to(target);
        EXPECT_EQ(&r, &target) << "task<int&> must give the same object, not a copy";
        r = 9;

        std::unique_ptr<int> p = co_await make_unique_int(7);
        EXPECT_TRUE(p != nullptr && *p == 7);
    });
    EXPECT_EQ(target, 9);
}

TEST_P(TaskFlavors, BlockOnReturnsTaskValueAndTaskForm) {
    weft::runtime rt = make_runtime();
    EXPECT_EQ(rt.block_on(forty_two()), 42);
    std::unique_ptr<int> p = rt.block_on(make_unique_int(3));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 3);
}

// --- exceptions -------------------------------------------------------------------

TEST_P(TaskFlavors, ExceptionPropagatesThroughCoAwait) {
    weft::runtime rt = make_runtime();
    int caught = 0;
    bool after = false;
    rt.block_on([&]() -> weft::task<> {
        try {
            int v = co_await rethrow_through(17);
            after = true;
            (void)v;
        } catch (const task_error& e) {
            caught = e.code;
        }
        try {
            co_await throws_void();
            after = true;
        } catch (const task_error& e) {
            caught += e.code;
        }
    });
    EXPECT_EQ(caught, 20);
    EXPECT_FALSE(after) << "code after a throwing co_await must not run";
}

TEST_P(TaskFlavors, BlockOnRethrowsTheTaskException) {
    weft::runtime rt = make_runtime();
    try {
        rt.block_on(rethrow_through(5));
        ADD_FAILURE() << "block_on must rethrow";
    } catch (const task_error& e) {
        EXPECT_EQ(e.code, 5);
    }
    // The runtime is still usable.
    EXPECT_EQ(rt.block_on(forty_two()), 42);
}

TEST_P(TaskFlavors, AwaitingMovedFromTaskThrowsLogicError) {
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        weft::task<int> a = forty_two();
        weft::task<int> b = std::move(a);
        bool threw = false;
        try {
            int v = co_await a;
            (void)v;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw) << "co_await on a moved-from task";
        int v = co_await b;
        EXPECT_EQ(v, 42);

        threw = false;
        try {
            int again = co_await b; // already awaited
            (void)again;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw) << "co_await on an already awaited task";

        weft::task<> empty;
        threw = false;
        try {
            co_await empty;
        } catch (const std::logic_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw) << "co_await on a default-constructed task";
    });
}

TEST_P(TaskFlavors, LocalsOfAwaitedTaskAreDestroyedWhenItCompletes) {
    weft::runtime rt = make_runtime();
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto child = [&c]() -> weft::task<int> {
            counted local(c, 4);
            co_await weft::yield_now();
            co_return local.value();
        };
        int v = co_await child();
        EXPECT_EQ(v, 4);
        EXPECT_EQ(c.alive(), 0);
    });
}

// --- stack depth --------------------------------------------------------------------

TEST_P(TaskFlavors, MillionReadyAwaitsInALoopDoNotOverflowTheStack) {
    weft::runtime rt = make_runtime();
    // In the block_on root (the test's main thread)...
    EXPECT_EQ(rt.block_on(ready_loop(million)), expected_ready_loop(million));
    // ...and in a spawned task (a worker thread on the multi-thread runtime).
    std::uint64_t v = rt.block_on([]() -> weft::task<std::uint64_t> {
        auto h = weft::spawn(ready_loop, million);
        weft::result<std::uint64_t> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, expected_ready_loop(million));
}

TEST_P(TaskFlavors, NestedChainOfDepthTenThousand) {
    weft::runtime rt = make_runtime();
    EXPECT_EQ(rt.block_on(nested(deep)), static_cast<std::uint64_t>(deep));
    std::uint64_t v = rt.block_on([]() -> weft::task<std::uint64_t> {
        auto h = weft::spawn(nested, deep);
        weft::result<std::uint64_t> r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(v, static_cast<std::uint64_t>(deep));
}

TEST_P(TaskFlavors, NestedChainThatSuspendsAtTheBottomResumesAllTheWayUp) {
    weft::runtime rt = make_runtime();
    struct chain {
        static weft::task<int> down(int depth) {
            if (depth == 0) {
                co_await weft::yield_now(); // suspend at the leaf, resume via the scheduler
                co_return 0;
            }
            int v = co_await down(depth - 1);
            co_return v + 1;
        }
    };
    EXPECT_EQ(rt.block_on(chain::down(deep)), deep);
}
