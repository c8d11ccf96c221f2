// result<T>, join_error and resume_unwind.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

struct custom_error : std::runtime_error {
    explicit custom_error(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
    int code;
};

struct not_a_std_exception {
    int payload;
};

weft::result<int> cancelled_result(std::uint64_t id) {
    return weft::join_error::cancelled(weft::task_id(id));
}

weft::result<int> panic_result(std::uint64_t id, int code) {
    return weft::join_error::panic(weft::task_id(id), std::make_exception_ptr(custom_error(code)));
}

} // namespace

class ResultFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(ResultFlavors);

// --- result<T> -------------------------------------------------------------------

TEST(Result, HoldsAValue) {
    weft::result<int> r = 5;
    EXPECT_TRUE(r.has_value());
    EXPECT_TRUE(static_cast<bool>(r));
    EXPECT_EQ(*r, 5);
    EXPECT_EQ(r.value(), 5);
    EXPECT_EQ(r.expect("must have a value"), 5);
    EXPECT_THROW((void)r.error(), std::logic_error) << "error() on a value";
    *r = 6;
    EXPECT_EQ(r.value(), 6);
}

TEST(Result, ArrowAndMoveOnlyValues) {
    weft::result<std::string> s = std::string("hello");
    EXPECT_EQ(s->size(), 5u);
    weft::result<std::unique_ptr<int>> p = std::make_unique<int>(3);
    std::unique_ptr<int> taken = std::move(p).value();
    ASSERT_NE(taken, nullptr);
    EXPECT_EQ(*taken, 3);
    weft::result<std::unique_ptr<int>> q = std::make_unique<int>(4);
    std::unique_ptr<int> t2 = std::move(q).expect("value");
    ASSERT_NE(t2, nullptr);
    EXPECT_EQ(*t2, 4);
}

TEST(Result, VoidResult) {
    weft::result<void> ok;
    EXPECT_TRUE(ok.has_value());
    EXPECT_NO_THROW(ok.value());
    EXPECT_NO_THROW(ok.expect("fine"));
    EXPECT_THROW((void)ok.error(), std::logic_error);
    weft::result<void> bad = weft::join_error::cancelled(weft::task_id(7));
    EXPECT_FALSE(bad.has_value());
    EXPECT_THROW(bad.value(), weft::join_error);
}

TEST(Result, ValueThrowsTheJoinError) {
    weft::result<int> r = cancelled_result(1234);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(static_cast<bool>(r));
    try {
        (void)r.value();
        ADD_FAILURE() << "value() must throw";
    } catch (const weft::join_error& e) {
        EXPECT_TRUE(e.is_cancelled());
        EXPECT_EQ(e.id(), weft::task_id(1234));
    }
    // The result still holds the error afterwards.
    EXPECT_TRUE(r.error().is_cancelled());
    EXPECT_THROW((void)std::move(r).value(), weft::join_error);
}

TEST(Result, ExpectThrowsWithTheMessageFirstAndTheJoinErrorNested) {
    weft::result<int> r = cancelled_result(77);
    try {
        (void)r.expect("loading the config");
        ADD_FAILURE() << "expect must throw";
    } catch (const std::exception& e) {
        std::string what = e.what();
        EXPECT_EQ(what.rfind("loading the config", 0), 0u) << what;
        bool nested_found = false;
        try {
            std::rethrow_if_nested(e);
        } catch (const weft::join_error& je) {
            nested_found = true;
            EXPECT_TRUE(je.is_cancelled());
            EXPECT_EQ(je.id(), weft::task_id(77));
        }
        EXPECT_TRUE(nested_found) << "expect must nest the join_error";
    }
    // The rvalue overload too, and for a panic.
    weft::result<int> p = panic_result(78, 2);
    try {
        (void)std::move(p).expect("step two");
        ADD_FAILURE();
    } catch (const std::exception& e) {
        EXPECT_EQ(std::string(e.what()).rfind("step two", 0), 0u) << e.what();
        bool nested_found = false;
        try {
            std::rethrow_if_nested(e);
        } catch (const weft::join_error& je) {
            nested_found = true;
            EXPECT_TRUE(je.is_panic());
        }
        EXPECT_TRUE(nested_found);
    }
}

// --- join_error ---------------------------------------------------------------------

TEST(JoinError, CancelledKind) {
    weft::join_error e = weft::join_error::cancelled(weft::task_id(4242));
    EXPECT_TRUE(e.is_cancelled());
    EXPECT_FALSE(e.is_panic());
    EXPECT_EQ(e.id(), weft::task_id(4242));
    std::string what = e.what();
    EXPECT_NE(what.find("4242"), std::string::npos) << "what() must mention the task id: " << what;
    EXPECT_NE(what.find("cancel"), std::string::npos) << what;
    EXPECT_THROW((void)std::move(e).into_panic(), std::logic_error)
        << "into_panic on a cancelled task";
    weft::join_error e2 = weft::join_error::cancelled(weft::task_id(1));
    EXPECT_FALSE(std::move(e2).try_into_panic().has_value());
}

TEST(JoinError, PanicKindRethrowsTheOriginalException) {
    weft::join_error e =
        weft::join_error::panic(weft::task_id(99), std::make_exception_ptr(custom_error(13)));
    EXPECT_TRUE(e.is_panic());
    EXPECT_FALSE(e.is_cancelled());
    std::string what = e.what();
    EXPECT_NE(what.find("99"), std::string::npos) << what;
    EXPECT_NE(what.find("custom 13"), std::string::npos)
        << "what() should carry the exception's message: " << what;
    std::exception_ptr p = std::move(e).into_panic();
    ASSERT_TRUE(p);
    try {
        weft::resume_unwind(p);
        ADD_FAILURE() << "resume_unwind must throw";
    } catch (const custom_error& ce) {
        EXPECT_EQ(ce.code, 13);
    }
}

TEST(JoinError, PanicWithANonStdException) {
    weft::join_error e =
        weft::join_error::panic(weft::task_id(5), std::make_exception_ptr(not_a_std_exception{21}));
    EXPECT_TRUE(e.is_panic());
    EXPECT_NE(std::string(e.what()).find('5'), std::string::npos);
    try {
        weft::resume_unwind(std::move(e).into_panic());
    } catch (const not_a_std_exception& x) {
        EXPECT_EQ(x.payload, 21);
    }
}

TEST(JoinError, IsAStdExceptionAndCopyable) {
    weft::join_error e = weft::join_error::cancelled(weft::task_id(3));
    const std::exception& base = e;
    EXPECT_STREQ(base.what(), e.what());
    weft::join_error copy = e;
    EXPECT_EQ(copy.id(), e.id());
    EXPECT_STREQ(copy.what(), e.what());
}

// --- from real tasks ------------------------------------------------------------------

TEST_P(ResultFlavors, PanicOfASpawnedTaskRoundTripsThroughResumeUnwind) {
    weft::runtime rt = make_runtime();
    int code = rt.block_on([]() -> weft::task<int> {
        auto h = weft::spawn([]() -> weft::task<int> {
            co_await weft::yield_now();
            throw custom_error(404);
            co_return 0;
        });
        weft::task_id id = h.id();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.error().is_panic());
        EXPECT_EQ(r.error().id(), id);
        std::string what = r.error().what();
        EXPECT_NE(what.find(std::to_string(id.value())), std::string::npos) << what;
        try {
            weft::resume_unwind(std::move(r).error().into_panic());
        } catch (const custom_error& e) {
            co_return e.code;
        }
        co_return -1;
    });
    EXPECT_EQ(code, 404);
}

TEST_P(ResultFlavors, CancelledResultOfARealTaskMentionsItsId) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            co_await never.notified();
            co_return 1;
        });
        weft::task_id id = h.id();
        h.abort();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_EQ(r.error().id(), id);
        std::string what = r.error().what();
        EXPECT_NE(what.find(std::to_string(id.value())), std::string::npos) << what;
        EXPECT_THROW((void)std::move(r).error().into_panic(), std::logic_error);
    });
}
