// weft::expected<T, E> and the result types built on it (decision 0044):
// any T (void, move-only, not default-constructible), state changes through
// copy and move, what value() and error() throw, and each result type
// awaited in a condition.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

namespace {

struct no_default {
    explicit no_default(int x) : v(x) {}
    int v;
};

using weft::expected;
using weft::unexpect;

static_assert(!std::is_default_constructible_v<no_default>);
static_assert(std::is_trivially_destructible_v<expected<int, int>>);
static_assert(!std::is_trivially_destructible_v<expected<std::string, int>>);
static_assert(!std::is_copy_constructible_v<expected<std::unique_ptr<int>, int>>);
static_assert(std::is_nothrow_move_constructible_v<expected<std::unique_ptr<int>, int>>);
static_assert(!std::is_default_constructible_v<expected<no_default, int>>);
// The result types are expected underneath.
static_assert(std::is_base_of_v<expected<int, weft::join_error>, weft::result<int>>);
static_assert(
    std::is_base_of_v<expected<int, weft::time::elapsed>, weft::time::timeout_result<int>>);
static_assert(std::is_base_of_v<expected<int, std::error_code>, weft::io::result<int>>);
static_assert(std::is_same_v<weft::sync::expected<int, long>, expected<int, long>>);
static_assert(std::is_same_v<weft::sync::bad_result_access, weft::bad_expected_access>);

} // namespace

TEST(Expected, HoldsAValueNotDefaultConstructible) {
    expected<no_default, std::string> r(std::in_place, 7);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->v, 7);
    EXPECT_EQ(r.value().v, 7);
    EXPECT_THROW((void)r.error(), weft::bad_expected_access);
}

TEST(Expected, HoldsAnErrorAndValueThrowsBadAccessForANonExceptionError) {
    expected<int, std::string> r = weft::unexpected(std::string("no such key"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "no such key");
    EXPECT_EQ(r.value_or(3), 3);
    EXPECT_THROW((void)r.value(), weft::bad_expected_access);
}

TEST(Expected, ValueThrowsTheErrorItselfWhenItIsAnException) {
    expected<int, std::runtime_error> r(unexpect, "boom");
    try {
        (void)r.value();
        FAIL() << "value() on an error must throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
}

TEST(Expected, VoidSuccessAndFailure) {
    expected<void, int> ok;
    EXPECT_TRUE(ok.has_value());
    EXPECT_NO_THROW(ok.value());
    expected<void, int> bad(unexpect, 4);
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error(), 4);
    EXPECT_THROW(bad.value(), weft::bad_expected_access);
}

TEST(Expected, MoveOnlyValueMovesOut) {
    expected<std::unique_ptr<int>, int> r(std::make_unique<int>(5));
    std::unique_ptr<int> p = std::move(r).value();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 5);
    expected<std::unique_ptr<int>, int> moved(std::move(r));
    EXPECT_TRUE(moved.has_value());
}

TEST(Expected, AssignmentAcrossStatesDestroysWhatItReplaces) {
    weft_test::counter c;
    {
        expected<weft_test::counted, std::string> a(std::in_place, c, 1);
        expected<weft_test::counted, std::string> b(unexpect, "gone");
        a = b; // value -> error: the counted value is destroyed
        EXPECT_FALSE(a.has_value());
        EXPECT_EQ(a.error(), "gone");
        EXPECT_EQ(c.alive(), 0);
        expected<weft_test::counted, std::string> d(std::in_place, c, 2);
        a = std::move(d); // error -> value
        ASSERT_TRUE(a.has_value());
        EXPECT_EQ(a->value(), 2);
        EXPECT_EQ(c.alive(), 2); // a's and d's (moved-from)
        b = a;                   // error -> value, by copy
        ASSERT_TRUE(b.has_value());
        EXPECT_EQ(b->value(), 2);
        EXPECT_EQ(c.alive(), 3);
        b = expected<weft_test::counted, std::string>(unexpect, "again"); // value -> error
        EXPECT_EQ(c.alive(), 2);
    }
    EXPECT_EQ(c.alive(), 0);
}

TEST(Expected, ResultKeepsItsMembers) {
    weft::result<int> r = weft::join_error::cancelled(weft::task_id(9));
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.error().is_cancelled());
    EXPECT_THROW((void)r.value(), weft::join_error);
    EXPECT_THROW((void)r.expect("needed"), std::runtime_error);
    weft::result<int> ok = 3;
    EXPECT_EQ(ok.value_or(0), 3);
    EXPECT_THROW((void)ok.error(), std::logic_error);
}

TEST(Expected, IoResultKeepsItsCodeAndMessage) {
    weft::io::result<std::size_t> r(std::make_error_code(std::errc::connection_reset), "read");
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_reset);
    EXPECT_EQ(r.message(), "read");
    EXPECT_THROW((void)r.value(), std::system_error);
    weft::io::result<std::size_t> ok = std::size_t{4};
    EXPECT_TRUE(ok);
    EXPECT_FALSE(ok.error()); // zero on success, as io::result always said
    weft::io::result<no_default> nd{no_default(1)};
    EXPECT_EQ(nd->v, 1);
    weft::io::result<void> v;
    EXPECT_TRUE(v);
    weft::io::result<void> zero{std::error_code()};
    EXPECT_TRUE(zero) << "a zero code is success";
}

TEST(Expected, TryAcquireResultIsAnExpected) {
    weft::sync::semaphore sem(1);
    weft::sync::try_acquire_result r = sem.try_acquire(2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), weft::sync::try_acquire_error::no_permits);
    EXPECT_THROW((void)std::move(r).value(), std::logic_error);
    auto ok = sem.try_acquire(1);
    ASSERT_TRUE(ok);
    EXPECT_THROW((void)ok.error(), weft::bad_expected_access);
}

class ExpectedFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(ExpectedFlavors);

// Each result type tests false in a condition when it holds an error. (The
// coroutine declares locals: GCC 12 miscompiles a co_await in a condition
// of a coroutine without any, whatever the type: docs/compiler-traps.md.)
TEST_P(ExpectedFlavors, EachResultTypeIsFalseInAConditionWhenItHoldsAnError) {
    weft::runtime rt = make_runtime();
    int seen = rt.block_on([]() -> weft::task<int> {
        int n = 0;
        if (!co_await weft::spawn([]() -> weft::task<int> { co_return 1; })) co_return -1;
        ++n;
        auto failing = weft::spawn([]() -> weft::task<int> {
            throw std::runtime_error("x");
            co_return 0;
        });
        if (!co_await failing) ++n;
        auto never = []() -> weft::task<int> {
            weft::sync::notify nt;
            co_await nt.notified();
            co_return 0;
        };
        if (!co_await weft::time::timeout(std::chrono::milliseconds(1), never())) ++n;
        auto [tx, rx] = weft::sync::oneshot::channel<int>();
        { auto dropped = std::move(tx); }
        if (!co_await rx) ++n;
        co_return n;
    });
    EXPECT_EQ(seen, 4);
}
