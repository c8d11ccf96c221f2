// spawn_blocking and the blocking pool: results, exceptions, abort before
// and after the start, the thread limit and the queue, keep-alive, thread
// hooks, metrics, and shutdown (destructor, shutdown_timeout,
// shutdown_background). No sleeps decide an outcome: calls wait on gates
// that the test opens, and metric changes are awaited with bounded loops.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtimes.hpp"

namespace {

using namespace std::chrono_literals;

/// A one-shot gate that blocking calls wait on (opened by the test).
class gate {
public:
    void open() { p_.set_value(); }
    void wait() const { f_.wait(); }

private:
    std::promise<void> p_;
    std::shared_future<void> f_ = p_.get_future().share();
};

/// Waits (bounded) until `pred()` holds; false if it never did. For state
/// that another thread changes (metrics, flags), not a timing threshold.
template <class P>
bool eventually(P pred, std::chrono::seconds limit = 60s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class SpawnBlocking : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(SpawnBlocking);

TEST_P(SpawnBlocking, ReturnsTheValueFromAnotherThread) {
    weft::runtime rt = make_runtime();
    auto main_id = std::this_thread::get_id();
    auto [value, call_thread, task_thread] =
        rt.block_on([]() -> weft::task<std::tuple<int, std::thread::id, std::thread::id>> {
            auto h =
                weft::spawn_blocking([] { return std::make_pair(42, std::this_thread::get_id()); });
            auto r = co_await h;
            co_return std::make_tuple(r->first, r->second, std::this_thread::get_id());
        });
    EXPECT_EQ(value, 42);
    EXPECT_NE(call_thread, main_id);
    EXPECT_NE(call_thread, task_thread);
}

TEST_P(SpawnBlocking, ArgumentsAreDecayCopiedAndVoidWorks) {
    weft::runtime rt = make_runtime();
    std::atomic<int> ran{0};
    std::size_t n = rt.block_on([&]() -> weft::task<std::size_t> {
        std::string s = "abcdef";
        auto h = weft::spawn_blocking([](std::string x, int k) { return x.size() * k; }, s, 2);
        s.clear(); // the call has its own copy
        auto v = weft::spawn_blocking([&ran] { ran.fetch_add(1); });
        auto rv = co_await v;
        EXPECT_TRUE(rv.has_value());
        auto r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(n, 12u);
    EXPECT_EQ(ran.load(), 1);
}

TEST_P(SpawnBlocking, MoveOnlyResultAndCallable) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        auto p = std::make_unique<int>(7);
        auto h = weft::spawn_blocking([p = std::move(p)]() mutable { return std::move(p); });
        auto r = co_await h;
        co_return **r;
    });
    EXPECT_EQ(v, 7);
}

TEST_P(SpawnBlocking, ExceptionBecomesAPanicJoinError) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto h = weft::spawn_blocking([]() -> int { throw std::out_of_range("boom"); });
        auto id = h.id();
        auto r = co_await h;
        EXPECT_FALSE(r.has_value());
        if (r.has_value()) co_return;
        EXPECT_TRUE(r.error().is_panic());
        EXPECT_FALSE(r.error().is_cancelled());
        EXPECT_EQ(r.error().id(), id);
        EXPECT_THROW(std::rethrow_exception(std::move(r).error().into_panic()), std::out_of_range);
    });
}

TEST_P(SpawnBlocking, FromOutsideTheRuntimeThroughHandleAndRuntime) {
    weft::runtime rt = make_runtime();
    auto h1 = rt.handle().spawn_blocking([](int a) { return a + 1; }, 1);
    auto h2 = rt.spawn_blocking([] { return 10; });
    int sum = rt.block_on([&]() -> weft::task<int> {
        auto a = co_await h1;
        auto b = co_await h2;
        co_return *a + *b;
    });
    EXPECT_EQ(sum, 12);
}

TEST(SpawnBlockingMisuse, OutsideARuntimeThrows) {
    try {
        (void)weft::spawn_blocking([] { return 1; });
        FAIL() << "expected weft::runtime_error";
    } catch (const weft::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("runtime_handle::spawn_blocking"), std::string::npos)
            << e.what();
    }
}

TEST_P(SpawnBlocking, AbortBeforeStartPreventsTheCall) {
    weft::runtime rt = builder().max_blocking_threads(1).build();
    gate started, release;
    std::atomic<bool> second_ran{false};
    auto first = rt.spawn_blocking([&] {
        started.open();
        release.wait();
        return 1;
    });
    started.wait();
    auto second = rt.spawn_blocking([&] {
        second_ran = true;
        return 2;
    });
    auto m = rt.metrics();
    EXPECT_EQ(m.num_blocking_threads, 1u);
    EXPECT_EQ(m.num_idle_blocking_threads, 0u);
    EXPECT_EQ(m.blocking_queue_depth, 1u);
    second.abort();
    EXPECT_FALSE(second.is_finished()); // still queued: the thread that pops it cancels it
    release.open();
    rt.block_on([&]() -> weft::task<> {
        auto r2 = co_await second;
        EXPECT_FALSE(r2.has_value());
        if (!r2.has_value()) {
            EXPECT_TRUE(r2.error().is_cancelled());
        }
        auto r1 = co_await first;
        EXPECT_EQ(r1.value(), 1);
    });
    EXPECT_FALSE(second_ran.load());
}

TEST_P(SpawnBlocking, AbortAfterStartHasNoEffect) {
    weft::runtime rt = make_runtime();
    gate started, release;
    std::atomic<bool> finished{false};
    auto h = rt.spawn_blocking([&] {
        started.open();
        release.wait();
        finished = true;
        return 5;
    });
    started.wait();
    h.abort();
    h.abort_handle().abort();
    release.open();
    int v = rt.block_on([&]() -> weft::task<int> {
        auto r = co_await h;
        co_return r.value(); // the value, not a cancelled error
    });
    EXPECT_EQ(v, 5);
    EXPECT_TRUE(finished.load());
}

TEST_P(SpawnBlocking, CallsQueueWhenEveryThreadIsBusy) {
    constexpr int limit = 2, calls = 6;
    weft::runtime rt = builder().max_blocking_threads(limit).build();
    std::atomic<int> running{0}, peak{0}, started{0};
    gate release;
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < calls; ++i) {
        hs.push_back(rt.spawn_blocking([&, i] {
            int now = running.fetch_add(1) + 1;
            int p = peak.load();
            while (now > p && !peak.compare_exchange_weak(p, now)) {
            }
            started.fetch_add(1);
            release.wait();
            running.fetch_sub(1);
            return i;
        }));
    }
    ASSERT_TRUE(eventually([&] { return started.load() == limit; }));
    auto m = rt.metrics();
    EXPECT_EQ(m.num_blocking_threads, static_cast<std::uint64_t>(limit));
    EXPECT_EQ(m.blocking_queue_depth, static_cast<std::uint64_t>(calls - limit));
    release.open();
    rt.block_on([&]() -> weft::task<> {
        for (int i = 0; i < calls; ++i) {
            auto r = co_await hs[static_cast<std::size_t>(i)];
            EXPECT_EQ(r.value(), i);
        }
    });
    EXPECT_EQ(peak.load(), limit);
    EXPECT_EQ(rt.metrics().blocking_queue_depth, 0u);
}

TEST_P(SpawnBlocking, EachQueuedCallGetsItsOwnThreadWhenAllowed) {
    // Calls that wait for each other: they can only finish if every one of
    // them runs at once, i.e. none waits behind a blocked one in the queue.
    constexpr int calls = 8;
    weft::runtime rt = make_runtime();
    std::atomic<int> arrived{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < calls; ++i) {
            hs.push_back(weft::spawn_blocking([&] {
                arrived.fetch_add(1);
                while (arrived.load() < calls)
                    std::this_thread::yield();
            }));
        }
        for (auto& h : hs) {
            auto r = co_await h;
            EXPECT_TRUE(r.has_value());
        }
    });
    EXPECT_EQ(arrived.load(), calls);
    EXPECT_GE(rt.metrics().num_blocking_threads, static_cast<std::uint64_t>(calls));
}

TEST_P(SpawnBlocking, IdleThreadIsReusedThenRetiresAfterKeepAlive) {
    {
        weft::runtime rt = builder().thread_keep_alive(1h).build();
        auto first = rt.block_on([]() -> weft::task<std::thread::id> {
            auto r = co_await weft::spawn_blocking([] { return std::this_thread::get_id(); });
            co_return *r;
        });
        ASSERT_TRUE(eventually([&] { return rt.metrics().num_idle_blocking_threads == 1; }));
        EXPECT_EQ(rt.metrics().num_blocking_threads, 1u);
        auto second = rt.block_on([]() -> weft::task<std::thread::id> {
            auto r = co_await weft::spawn_blocking([] { return std::this_thread::get_id(); });
            co_return *r;
        });
        EXPECT_EQ(first, second); // the idle thread took the call
        EXPECT_EQ(rt.metrics().num_blocking_threads, 1u);
    }
    weft::runtime rt = builder().thread_keep_alive(1ms).build();
    rt.block_on([]() -> weft::task<> { (void)co_await weft::spawn_blocking([] {}); });
    EXPECT_TRUE(eventually([&] { return rt.metrics().num_blocking_threads == 0; }));
    EXPECT_EQ(rt.metrics().num_idle_blocking_threads, 0u);
    // The pool starts a new thread for the next call.
    int v = rt.block_on([]() -> weft::task<int> {
        auto r = co_await weft::spawn_blocking([] { return 3; });
        co_return *r;
    });
    EXPECT_EQ(v, 3);
}

std::string thread_name() {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    return buf;
}

TEST_P(SpawnBlocking, ThreadHooksAndNameApplyToBlockingThreads) {
    std::mutex mu;
    std::set<std::thread::id> started, stopped;
    std::thread::id call_thread;
    std::string name;
    {
        weft::runtime rt = builder()
                               .thread_name("weft-blk-test")
                               .on_thread_start([&] {
                                   std::lock_guard lk(mu);
                                   started.insert(std::this_thread::get_id());
                               })
                               .on_thread_stop([&] {
                                   std::lock_guard lk(mu);
                                   stopped.insert(std::this_thread::get_id());
                               })
                               .build();
        rt.block_on([&]() -> weft::task<> {
            auto r = co_await weft::spawn_blocking([&] {
                call_thread = std::this_thread::get_id();
                name = thread_name();
            });
            EXPECT_TRUE(r.has_value());
        });
    }
    std::lock_guard lk(mu);
    EXPECT_EQ(name, "weft-blk-test");
    EXPECT_EQ(started.count(call_thread), 1u);
    EXPECT_EQ(stopped.count(call_thread), 1u); // the destructor waited for the thread to stop
}

TEST_P(SpawnBlocking, InsideACallTheRuntimeIsCurrent) {
    weft::runtime rt = make_runtime();
    int v = rt.block_on([]() -> weft::task<int> {
        auto h = weft::spawn_blocking([] {
            weft::task_id self = weft::this_task::id();
            auto handle = weft::runtime_handle::current();
            // Nested blocking call and a task spawned from the blocking thread;
            // block_on of another runtime is allowed here (not on a worker).
            auto inner = weft::spawn_blocking([] { return 20; });
            auto task = weft::spawn([]() -> weft::task<int> { co_return 1; });
            weft::runtime other = weft::runtime::current_thread().build();
            int got = other.block_on([&]() -> weft::task<int> {
                auto a = co_await inner;
                auto b = co_await task;
                co_return *a + *b;
            });
            (void)handle;
            return std::make_pair(got, self);
        });
        auto id = h.id();
        auto r = co_await h;
        EXPECT_EQ(r->second, id);
        co_return r->first;
    });
    EXPECT_EQ(v, 21);
}

TEST_P(SpawnBlocking, DetachedCallStillRuns) {
    weft::runtime rt = make_runtime();
    std::atomic<bool> ran{false};
    (void)rt.spawn_blocking([&] { ran = true; });
    EXPECT_TRUE(eventually([&] { return ran.load(); }));
}

TEST_P(SpawnBlocking, DestructorCancelsQueuedCallsAndWaitsForStartedOnes) {
    auto rt = std::make_unique<weft::runtime>(builder().max_blocking_threads(1).build());
    gate started, release;
    std::atomic<bool> first_done{false}, second_ran{false};
    auto first = rt->spawn_blocking([&] {
        started.open();
        release.wait();
        first_done = true;
    });
    started.wait();
    auto second = rt->spawn_blocking([&] { second_ran = true; });
    weft::abort_handle second_abort = second.abort_handle();
    // Once shutdown has cancelled the queued call, let the first one end.
    std::thread opener([&] {
        EXPECT_TRUE(eventually([&] { return second_abort.is_finished(); }));
        release.open();
    });
    rt.reset(); // waits for the started call
    EXPECT_TRUE(first_done.load());
    EXPECT_FALSE(second_ran.load());
    EXPECT_TRUE(first.is_finished());
    opener.join();
    // The join handles outlive the runtime and still tell what happened.
    weft::runtime other = weft::runtime::current_thread().build();
    other.block_on([&]() -> weft::task<> {
        auto r1 = co_await first;
        EXPECT_TRUE(r1.has_value());
        auto r2 = co_await second;
        EXPECT_FALSE(r2.has_value());
        if (!r2.has_value()) {
            EXPECT_TRUE(r2.error().is_cancelled());
        }
    });
}

TEST_P(SpawnBlocking, ShutdownTimeoutAndBackgroundDoNotWaitForeverForACall) {
    for (bool background : {false, true}) {
        SCOPED_TRACE(background ? "shutdown_background" : "shutdown_timeout");
        weft::runtime rt = make_runtime();
        gate started, release;
        std::atomic<bool> done{false};
        auto h = rt.spawn_blocking([&] {
            started.open();
            release.wait();
            done = true;
            return 9;
        });
        started.wait();
        if (background) {
            std::move(rt).shutdown_background();
        } else {
            std::move(rt).shutdown_timeout(1ms);
        }
        EXPECT_FALSE(done.load()); // returned while the call was still blocked
        auto late = weft::runtime::current_thread().build();
        release.open();
        // The call ends after its runtime shut down, and still delivers.
        int v = late.block_on([&]() -> weft::task<int> {
            auto r = co_await h;
            co_return r.value();
        });
        EXPECT_EQ(v, 9);
        EXPECT_TRUE(done.load());
    }
}

TEST_P(SpawnBlocking, AfterShutdownACallIsCancelledAtOnce) {
    weft::runtime rt = make_runtime();
    weft::runtime_handle handle = rt.handle();
    std::move(rt).shutdown_timeout(1s);
    std::atomic<bool> ran{false};
    auto h = handle.spawn_blocking([&] { ran = true; });
    EXPECT_TRUE(h.is_finished());
    weft::runtime other = weft::runtime::current_thread().build();
    other.block_on([&]() -> weft::task<> {
        auto r = co_await h;
        EXPECT_FALSE(r.has_value());
        if (!r.has_value()) {
            EXPECT_TRUE(r.error().is_cancelled());
        }
    });
    EXPECT_FALSE(ran.load());
}

TEST(SpawnBlockingBuilder, InvalidSettingsThrow) {
    EXPECT_THROW(weft::runtime::multi_thread().max_blocking_threads(0), std::invalid_argument);
    EXPECT_THROW(weft::runtime::current_thread().thread_keep_alive(-1ms), std::invalid_argument);
}

} // namespace
