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

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
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

/// The *_unbatched flavours write to sockets with plain send(2) calls
/// (runtime_builder::batch_writes(false)), for the I/O suites, which run
/// both write paths.
enum class flavor {
    multi_thread,
    current_thread,
    current_thread_unbatched,
    multi_thread_unbatched
};

inline weft::runtime_builder builder_for(flavor f) {
    switch (f) {
    case flavor::multi_thread:
        return weft::runtime::multi_thread().worker_threads(2);
    case flavor::multi_thread_unbatched:
        return weft::runtime::multi_thread().worker_threads(2).batch_writes(false);
    case flavor::current_thread_unbatched:
        return weft::runtime::current_thread().batch_writes(false);
    case flavor::current_thread:
        break;
    }
    return weft::runtime::current_thread();
}

inline weft::runtime make_runtime(flavor f) {
    return builder_for(f).build();
}

inline bool is_current_thread(flavor f) {
    return f == flavor::current_thread || f == flavor::current_thread_unbatched;
}

/// A randomized test's builder for flavour `f`: the current-thread flavours
/// also get rng_seed(seed) (docs/decisions/0041), so that the seed that
/// WEFT_SEEDED prints replays the runtime's interleaving along with the
/// test's own choices. (Other threads, the blocking pool's included, still
/// run as the OS schedules them; the multi-thread flavours take no seed.)
inline weft::runtime_builder seeded_builder_for(flavor f, std::uint64_t seed) {
    weft::runtime_builder b = builder_for(f);
    if (is_current_thread(f)) b.rng_seed(seed);
    return b;
}

inline void PrintTo(flavor f, std::ostream* os) {
    switch (f) {
    case flavor::multi_thread:
        *os << "multi_thread(2 workers)";
        return;
    case flavor::multi_thread_unbatched:
        *os << "multi_thread(2 workers, batch_writes(false))";
        return;
    case flavor::current_thread:
        *os << "current_thread";
        return;
    case flavor::current_thread_unbatched:
        *os << "current_thread(batch_writes(false))";
        return;
    }
}

inline std::string flavor_name(const ::testing::TestParamInfo<flavor>& info) {
    switch (info.param) {
    case flavor::multi_thread:
        return "MultiThread";
    case flavor::multi_thread_unbatched:
        return "MultiThreadUnbatched";
    case flavor::current_thread:
        return "CurrentThread";
    case flavor::current_thread_unbatched:
        return "CurrentThreadUnbatched";
    }
    return "Unknown";
}

/// Fixture of the tests that run on both runtimes.
class RuntimeTest : public ::testing::TestWithParam<flavor> {
protected:
    bool multi() const {
        return GetParam() == flavor::multi_thread || GetParam() == flavor::multi_thread_unbatched;
    }
    weft::runtime_builder builder() const { return builder_for(GetParam()); }
    weft::runtime make_runtime() const { return builder_for(GetParam()).build(); }
    /// Randomized tests: the builder and runtime of seeded_builder_for.
    weft::runtime_builder seeded_builder(std::uint64_t seed) const {
        return seeded_builder_for(GetParam(), seed);
    }
    weft::runtime make_seeded_runtime(std::uint64_t seed) const {
        return seeded_builder_for(GetParam(), seed).build();
    }
};

#define WEFT_INSTANTIATE_FLAVORS(Suite)                                                            \
    INSTANTIATE_TEST_SUITE_P(                                                                      \
        Flavors, Suite,                                                                            \
        ::testing::Values(::weft_test::flavor::multi_thread, ::weft_test::flavor::current_thread), \
        ::weft_test::flavor_name)

/// The flavours, each with and without write batching.
#define WEFT_INSTANTIATE_IO_FLAVORS(Suite)                                                         \
    INSTANTIATE_TEST_SUITE_P(Flavors, Suite,                                                       \
                             ::testing::Values(::weft_test::flavor::multi_thread,                  \
                                               ::weft_test::flavor::current_thread,                \
                                               ::weft_test::flavor::current_thread_unbatched,      \
                                               ::weft_test::flavor::multi_thread_unbatched),       \
                             ::weft_test::flavor_name)

// --- seeds --------------------------------------------------------------------

namespace seed_detail {

// A crash (segfault, abort) ends the process before SCOPED_TRACE can print
// the seed, so the seed of the running test is also kept here, and a
// handler for the fatal signals writes it to stderr before handing the
// signal on to whoever handled it before (a sanitizer's report, or the
// default action: a core dump).
inline std::atomic<std::uint64_t> current{0};
inline std::atomic<bool> known{false};
inline constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
inline struct sigaction previous[std::size(fatal_signals)];

inline void on_fatal_signal(int sig, siginfo_t* info, void* uctx) {
    if (known.load(std::memory_order_relaxed)) {
        // write(2) and hand-made digits only: this runs in a signal handler.
        char buf[160];
        std::size_t n = 0;
        auto put = [&](const char* text) {
            while (*text != '\0' && n < sizeof buf)
                buf[n++] = *text++;
        };
        auto put_number = [&](std::uint64_t v) {
            char digits[24];
            int d = 0;
            do {
                digits[d++] = static_cast<char>('0' + v % 10);
                v /= 10;
            } while (v != 0);
            while (d > 0 && n < sizeof buf)
                buf[n++] = digits[--d];
        };
        std::uint64_t seed = current.load(std::memory_order_relaxed);
        put("\nweft_test: fatal signal ");
        put_number(static_cast<std::uint64_t>(sig));
        put(" in a randomized test; rerun with WEFT_TEST_SEED=");
        put_number(seed);
        put("\n");
        ssize_t ignored = ::write(2, buf, n);
        (void)ignored;
    }
    for (std::size_t i = 0; i < std::size(fatal_signals); ++i) {
        if (fatal_signals[i] != sig) continue;
        const struct sigaction& old = previous[i];
        if ((old.sa_flags & SA_SIGINFO) != 0 && old.sa_sigaction != nullptr) {
            old.sa_sigaction(sig, info, uctx);
            return;
        }
        if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
            old.sa_handler(sig);
            return;
        }
    }
    // Default action: re-raised now, delivered when this handler returns.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// The seed belongs to one test: forgotten when it ends, so that a crash in
// a later test of the same process does not print a stale seed.
struct forget_at_test_end final : ::testing::EmptyTestEventListener {
    void OnTestEnd(const ::testing::TestInfo&) override {
        known.store(false, std::memory_order_relaxed);
    }
};

inline void install_once() {
    static const bool installed = [] {
        ::testing::UnitTest::GetInstance()->listeners().Append(new forget_at_test_end);
        for (std::size_t i = 0; i < std::size(fatal_signals); ++i) {
            struct sigaction sa {};
            sa.sa_sigaction = &on_fatal_signal;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
            sigemptyset(&sa.sa_mask);
            ::sigaction(fatal_signals[i], &sa, &previous[i]);
        }
        return true;
    }();
    (void)installed;
}

} // namespace seed_detail

/// The seed of a randomized test: $WEFT_TEST_SEED if set, else random. Use
/// with WEFT_SEED_TRACE so that a failure prints it; a crash prints it too
/// (seed_detail).
inline std::uint64_t test_seed() {
    std::uint64_t seed;
    if (const char* s = std::getenv("WEFT_TEST_SEED")) {
        seed = std::strtoull(s, nullptr, 0);
    } else {
        std::random_device rd;
        seed = (std::uint64_t{rd()} << 32) ^ rd();
    }
    seed_detail::current.store(seed, std::memory_order_relaxed);
    seed_detail::known.store(true, std::memory_order_relaxed);
    seed_detail::install_once();
    return seed;
}

#define WEFT_SEED_TRACE(seed)                                                                      \
    SCOPED_TRACE(::testing::Message()                                                              \
                 << "seed " << (seed) << " (rerun with WEFT_TEST_SEED=" << (seed) << ")");         \
    ::testing::Test::RecordProperty("seed", std::to_string(seed))

/// A randomized test's preamble: `seed` ($WEFT_TEST_SEED or random), shown
/// with any failure (WEFT_SEED_TRACE). Build the test's current-thread
/// runtimes with rng_seed(seed) too (make_seeded_runtime(seed) in a
/// RuntimeTest), so that the same seed also replays their scheduling.
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

// --- detached threads ---------------------------------------------------------

/// Runs `fn` on a thread created detached. Use it for a short-lived helper
/// thread nobody joins, instead of std::thread(...).detach(): glibc 2.36's
/// pthread_detach reads the thread's descriptor after the exchange that lets
/// the thread, if it is exiting at that moment, free it, and the thread's
/// stack may be unmapped by then (a segfault in pthread_detach, or a
/// std::terminate when the detach fails). docs/decisions/0034. The same
/// pthread_attr_setdetachstate recipe as weft's own start_detached_thread
/// (src/), written here so that the tests use no internal symbol.
inline void run_detached(std::function<void()> fn) {
    auto* owned = new std::function<void()>(std::move(fn));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(
        &thread, &attr,
        [](void* arg) -> void* {
            std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(arg));
            (*f)();
            return nullptr;
        },
        owned);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete owned;
        throw std::system_error(rc, std::generic_category(), "pthread_create");
    }
}

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
