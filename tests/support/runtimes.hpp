// Runtime flavours for parameterized tests, and helpers shared by the suites.
//
//   class SpawnFlavors : public weft_test::RuntimeTest {};
//   WEFT_INSTANTIATE_FLAVORS(SpawnFlavors);
//   TEST_P(SpawnFlavors, Something) {
//       weft::runtime rt = make_runtime();   // multi_thread(2 workers) or current_thread
//       ...
//   }
//
// Also here: the sanitizer scale-down for iteration counts (scaled()), the
// seed of randomized tests (test_seed(), printed on failure), a watchdog that
// turns a deadlock into a failure with a message instead of a hung suite,
// and small coroutine helpers.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <weft/weft.hpp>

// --- sanitizers -------------------------------------------------------------
#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif

namespace weft_test {

/// Divisor applied to stress iteration counts: sanitizers are 5-20x slower.
#if defined(WEFT_TEST_TSAN)
inline constexpr int stress_divisor = 8;
#elif defined(WEFT_TEST_ASAN)
inline constexpr int stress_divisor = 4;
#else
inline constexpr int stress_divisor = 1;
#endif

/// An iteration count scaled down under sanitizers (never below `floor`).
inline int scaled(int n, int floor = 1) {
    int v = n / stress_divisor;
    return v < floor ? floor : v;
}

// --- flavours ---------------------------------------------------------------

/// current_thread_unbatched: a current-thread runtime whose socket writes
/// are plain send(2) calls (runtime_builder::batch_writes(false)), for the
/// I/O suites, which run both write paths.
enum class flavor { multi_thread, current_thread, current_thread_unbatched };

inline weft::runtime_builder builder_for(flavor f) {
    if (f == flavor::multi_thread) return weft::runtime::multi_thread().worker_threads(2);
    if (f == flavor::current_thread_unbatched)
        return weft::runtime::current_thread().batch_writes(false);
    return weft::runtime::current_thread();
}

inline weft::runtime make_runtime(flavor f) {
    return builder_for(f).build();
}

inline void PrintTo(flavor f, std::ostream* os) {
    *os << (f == flavor::multi_thread     ? "multi_thread(2 workers)"
            : f == flavor::current_thread ? "current_thread"
                                          : "current_thread(batch_writes(false))");
}

inline std::string flavor_name(const ::testing::TestParamInfo<flavor>& info) {
    return info.param == flavor::multi_thread     ? "MultiThread"
           : info.param == flavor::current_thread ? "CurrentThread"
                                                  : "CurrentThreadUnbatched";
}

/// Fixture of the tests that run on both runtimes.
class RuntimeTest : public ::testing::TestWithParam<flavor> {
protected:
    bool multi() const { return GetParam() == flavor::multi_thread; }
    weft::runtime_builder builder() const { return builder_for(GetParam()); }
    weft::runtime make_runtime() const { return builder_for(GetParam()).build(); }
};

#define WEFT_INSTANTIATE_FLAVORS(Suite)                                                            \
    INSTANTIATE_TEST_SUITE_P(                                                                      \
        Flavors, Suite,                                                                            \
        ::testing::Values(::weft_test::flavor::multi_thread, ::weft_test::flavor::current_thread), \
        ::weft_test::flavor_name)

/// The flavours plus a current-thread runtime without write batching.
#define WEFT_INSTANTIATE_IO_FLAVORS(Suite)                                                         \
    INSTANTIATE_TEST_SUITE_P(Flavors, Suite,                                                       \
                             ::testing::Values(::weft_test::flavor::multi_thread,                  \
                                               ::weft_test::flavor::current_thread,                \
                                               ::weft_test::flavor::current_thread_unbatched),     \
                             ::weft_test::flavor_name)

// --- seeds --------------------------------------------------------------------

/// The seed of a randomized test: $WEFT_TEST_SEED if set, else random. Use
/// with WEFT_SEED_TRACE so that a failure prints it.
inline std::uint64_t test_seed() {
    if (const char* s = std::getenv("WEFT_TEST_SEED")) return std::strtoull(s, nullptr, 0);
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
}

#define WEFT_SEED_TRACE(seed)                                                                      \
    SCOPED_TRACE(::testing::Message()                                                              \
                 << "seed " << (seed) << " (rerun with WEFT_TEST_SEED=" << (seed) << ")");         \
    ::testing::Test::RecordProperty("seed", std::to_string(seed))

/// A randomized test's preamble: `seed` ($WEFT_TEST_SEED or random), shown
/// with any failure (WEFT_SEED_TRACE).
///
///   TEST_P(Stress, Something) {
///       WEFT_SEEDED_RNG(seed, rng); // or WEFT_SEEDED(seed) without a generator
///       ... rng() ...
#define WEFT_SEEDED(seed)                                                                          \
    const std::uint64_t seed = ::weft_test::test_seed();                                           \
    WEFT_SEED_TRACE(seed)

/// WEFT_SEEDED(seed) plus `std::mt19937_64 rng(seed)`.
#define WEFT_SEEDED_RNG(seed, rng)                                                                 \
    WEFT_SEEDED(seed);                                                                             \
    std::mt19937_64 rng(seed)

// --- watchdog -------------------------------------------------------------------

/// Turns a deadlock into a diagnosable event: if not destroyed within
/// `limit`, calls `on_timeout` (default: print `what` and abort, since a
/// hung test would hang the whole suite). Not a timing threshold: the limit
/// is minutes where the work takes milliseconds.
class watchdog {
public:
    explicit watchdog(std::string what, std::chrono::seconds limit = std::chrono::seconds(90),
                      std::function<void()> on_timeout = {})
        : what_(std::move(what)), on_timeout_(std::move(on_timeout)) {
        thread_ = std::thread([this, limit] {
            std::unique_lock lk(mu_);
            if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
                fired_.store(true);
                lk.unlock();
                if (on_timeout_) {
                    on_timeout_();
                } else {
                    std::fprintf(stderr, "weft_test::watchdog: deadlock? %s\n", what_.c_str());
                    std::fflush(stderr);
                    std::abort();
                }
            }
        });
    }
    ~watchdog() {
        {
            std::lock_guard lk(mu_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    bool fired() const { return fired_.load(); }

private:
    std::string what_;
    std::function<void()> on_timeout_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::atomic<bool> fired_{false};
    std::thread thread_;
};

// --- per-test hang guard -------------------------------------------------------------

/// Every test of a binary that includes this header runs under a watchdog:
/// a test that hangs (a lost wake-up in the library, say) aborts the process
/// with its name after 100 s instead of hanging the suite silently.
class hang_guard_listener : public ::testing::EmptyTestEventListener {
public:
    void OnTestStart(const ::testing::TestInfo& info) override {
        std::string name = std::string(info.test_suite_name()) + "." + info.name();
        dog_ = std::make_unique<watchdog>("test " + name + " hung for 100 s",
                                          std::chrono::seconds(100));
    }
    void OnTestEnd(const ::testing::TestInfo&) override { dog_.reset(); }

private:
    std::unique_ptr<watchdog> dog_;
};

inline const bool hang_guard_installed = [] {
    ::testing::UnitTest::GetInstance()->listeners().Append(new hang_guard_listener);
    return true;
}();

// --- coroutine helpers ------------------------------------------------------------

/// Waits (inside a task) until `value >= target`. Whoever raises `value`
/// must call `progress.notify_one()` after each increment.
inline weft::task<> wait_at_least(weft::sync::notify& progress, const std::atomic<long>& value,
                                  long target) {
    while (value.load() < target)
        co_await progress.notified();
}

/// Increments `value` and signals `progress` (pairs with wait_at_least).
inline void bump(weft::sync::notify& progress, std::atomic<long>& value) {
    value.fetch_add(1);
    progress.notify_one();
}

/// A task that waits on `n` forever (until aborted), holding `guard`.
template <class Guard>
weft::task<int> park_forever(weft::sync::notify& n, Guard guard, std::atomic<int>* after) {
    co_await n.notified();
    after->fetch_add(1); // must never run in tests that abort this task
    co_return guard.value();
}

/// Waits (inside a task) until the task behind `h` has finished, yielding
/// in between; gives false if it did not finish within `max_yields` yields
/// (a bound, so that a scheduling bug fails the test instead of hanging it).
/// Use where the task is known to finish on its own (it runs elsewhere).
inline weft::task<bool> wait_finished(weft::abort_handle h, long max_yields = 2'000'000) {
    for (long i = 0; i < max_yields; ++i) {
        if (h.is_finished()) co_return true;
        co_await weft::yield_now();
    }
    co_return h.is_finished();
}

} // namespace weft_test
