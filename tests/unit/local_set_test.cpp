// spawn_local and local_set: thread affinity (every resumption of a pinned
// task is on the thread it was pinned to, whatever thread woke it), where
// spawn_local goes, misuse, run_until results, tasks left in a set, and
// what destroying a set does.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"

namespace {

using namespace std::chrono_literals;

/// Counts resumptions that happened on a thread other than `home`.
struct affinity {
    std::thread::id home;
    std::atomic<long> resumptions{0}, foreign{0};
    void check() {
        resumptions.fetch_add(1);
        if (std::this_thread::get_id() != home) foreign.fetch_add(1);
    }
};

/// What a pinned task waits on, each woken from somewhere else: an external
/// std::thread, a blocking call, a timer (fired by any worker), a task on
/// any worker, a yield.
weft::task<> wandering(affinity* a, int rounds) {
    a->check();
    for (int i = 0; i < rounds; ++i) {
        {
            auto n = std::make_shared<weft::sync::notify>();
            std::thread t([n] { n->notify_one(); });
            co_await n->notified();
            a->check();
            t.join();
        }
        {
            auto h = weft::spawn_blocking([] { return 1; });
            auto r = co_await h;
            EXPECT_EQ(r.value(), 1);
            a->check();
        }
        co_await weft::time::sleep(std::chrono::microseconds(100 * (i % 3)));
        a->check();
        {
            auto h = weft::spawn([]() -> weft::task<int> {
                co_await weft::yield_now();
                co_return 2;
            });
            auto r = co_await h;
            EXPECT_EQ(r.value(), 2);
            a->check();
        }
        co_await weft::yield_now();
        a->check();
    }
}

weft::task<long> pin_many(affinity* a, int tasks, int rounds) {
    a->home = std::this_thread::get_id(); // the worker this task runs on now
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < tasks; ++i)
        hs.push_back(weft::spawn_local(wandering, a, rounds));
    long ok = 0;
    for (auto& h : hs) {
        auto r = co_await h;
        if (r.has_value()) ++ok;
    }
    co_return ok;
}

TEST(SpawnLocal, PinnedToTheSpawningWorkerWhateverWakesIt) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    affinity a;
    constexpr int tasks = 16;
    int rounds = weft_test::scaled(20, 3);
    long ok = rt.block_on([&]() -> weft::task<long> {
        // From a task on a worker (block_on's own task is not on a worker).
        auto h = weft::spawn(pin_many, &a, tasks, rounds);
        auto r = co_await h;
        co_return r.value();
    });
    EXPECT_EQ(ok, tasks);
    EXPECT_EQ(a.resumptions.load(), tasks * (1 + 5L * rounds));
    EXPECT_EQ(a.foreign.load(), 0);
}

TEST(SpawnLocal, CurrentThreadRuntimeJustSpawns) {
    weft::runtime rt = weft::runtime::current_thread().build();
    affinity a;
    a.home = std::this_thread::get_id();
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn_local(wandering, &a, 3);
        auto r = co_await h;
        EXPECT_TRUE(r.has_value());
    });
    EXPECT_EQ(a.foreign.load(), 0);
    EXPECT_EQ(a.resumptions.load(), 1 + 5 * 3);
}

void expect_runtime_error(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "expected weft::runtime_error";
    } catch (const weft::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

weft::task<> nothing() {
    co_return;
}

TEST(SpawnLocal, ThrowsWhereThereIsNoThreadToPinTo) {
    expect_runtime_error([] { (void)weft::spawn_local(nothing); }, "outside a runtime");
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    // block_on's thread is not a worker.
    rt.block_on([]() -> weft::task<> {
        expect_runtime_error([] { (void)weft::spawn_local(nothing); }, "local_set");
        // Nor is a blocking-pool thread.
        auto h = weft::spawn_blocking(
            [] { expect_runtime_error([] { (void)weft::spawn_local(nothing); }, "local_set"); });
        (void)co_await h;
    });
}

class LocalSet : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(LocalSet);

TEST_P(LocalSet, RunsItsTasksOnTheDrivingThread) {
    weft::runtime rt = make_runtime();
    weft::local_set set;
    affinity a;
    a.home = std::this_thread::get_id();            // block_on's thread drives the set
    auto early = set.spawn_local(wandering, &a, 3); // queued before the set runs
    int v = set.block_on(rt, [](affinity* a) -> weft::task<int> {
        a->check();
        // weft::spawn_local inside the set lands in the set.
        auto h = weft::spawn_local(wandering, a, 3);
        auto r = co_await h;
        EXPECT_TRUE(r.has_value());
        a->check();
        co_return 7;
    }(&a));
    EXPECT_EQ(v, 7);
    // The early task may still be in the set; the next run_until drives it.
    set.block_on(rt, [](weft::join_handle<void>* early) -> weft::task<> {
        auto r = co_await *early;
        EXPECT_TRUE(r.has_value());
    }(&early));
    EXPECT_EQ(a.foreign.load(), 0);
    EXPECT_EQ(a.resumptions.load(), 2 + 2 * (1 + 5 * 3));
}

TEST_P(LocalSet, TasksLeftInTheSetWaitForTheNextRunUntil) {
    weft::runtime rt = make_runtime();
    weft::local_set set;
    weft::sync::notify go;
    std::atomic<int> stage{0};
    auto h = set.spawn_local([&]() -> weft::task<int> {
        stage = 1;
        co_await go.notified();
        stage = 2;
        co_return 5;
    });
    set.block_on(rt, [](std::atomic<int>* stage) -> weft::task<> {
        while (stage->load() < 1)
            co_await weft::yield_now();
    }(&stage));
    EXPECT_EQ(stage.load(), 1);
    go.notify_one(); // wakes the task into the set's queue; nobody drives it now
    EXPECT_EQ(stage.load(), 1);
    int v = set.block_on(rt, [](weft::join_handle<int>* h) -> weft::task<int> {
        auto r = co_await *h;
        co_return r.value();
    }(&h));
    EXPECT_EQ(v, 5);
    EXPECT_EQ(stage.load(), 2);
}

TEST_P(LocalSet, RunUntilRethrowsTheTasksException) {
    weft::runtime rt = make_runtime();
    weft::local_set set;
    EXPECT_THROW(set.block_on(rt,
                              []() -> weft::task<int> {
                                  throw std::out_of_range("inner");
                                  co_return 1;
                              }()),
                 std::out_of_range);
    // The set is still usable.
    EXPECT_EQ(set.block_on(rt, []() -> weft::task<int> { co_return 3; }()), 3);
}

TEST_P(LocalSet, DestroyingTheSetAbortsItsTasks) {
    weft::runtime rt = make_runtime();
    weft_test::counter objs;
    weft::join_handle<int> h;
    {
        weft::local_set set;
        weft::sync::notify never;
        h = set.spawn_local(weft_test::park_forever<weft_test::counted>, std::ref(never),
                            weft_test::counted(objs, 1), nullptr);
        set.block_on(rt, []() -> weft::task<> {
            co_await weft::yield_now(); // lets the task start and park
        }());
        EXPECT_EQ(objs.alive(), 2); // the bound argument and its copy in the frame
    }
    EXPECT_EQ(objs.alive(), 0); // destroyed with the set
    EXPECT_TRUE(h.is_finished());
    rt.block_on([&]() -> weft::task<> {
        auto r = co_await h;
        EXPECT_FALSE(r.has_value());
        if (!r.has_value()) {
            EXPECT_TRUE(r.error().is_cancelled());
        }
    });
}

TEST(LocalSetDriver, RunUntilFromAPlainMultiThreadTaskThrows) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    weft::local_set set;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn(
            [](weft::local_set* set) -> weft::task<> { co_await set->run_until(nothing()); }, &set);
        auto r = co_await h;
        EXPECT_FALSE(r.has_value());
        if (r.has_value()) co_return;
        EXPECT_TRUE(r.error().is_panic());
        try {
            weft::resume_unwind(std::move(r).error().into_panic());
        } catch (const weft::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("spawn_local"), std::string::npos) << e.what();
        }
    });
}

TEST(LocalSetDriver, APinnedTaskCanDriveASet) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    weft::local_set set;
    affinity a;
    long resumptions = rt.block_on([&]() -> weft::task<long> {
        auto outer = weft::spawn(
            [](weft::local_set* set, affinity* a) -> weft::task<long> {
                auto pinned = weft::spawn_local(
                    [](weft::local_set* set, affinity* a) -> weft::task<long> {
                        a->home = std::this_thread::get_id();
                        co_await set->run_until(wandering(a, 3));
                        co_return a->resumptions.load();
                    },
                    set, a);
                auto r = co_await pinned;
                co_return r.value();
            },
            &set, &a);
        auto r = co_await outer;
        co_return r.value();
    });
    EXPECT_EQ(resumptions, 1 + 5 * 3);
    EXPECT_EQ(a.foreign.load(), 0);
}

weft::task<> drive_forever(weft::local_set* set, weft::sync::notify* never,
                           weft::sync::notify* started, weft_test::counter* objs) {
    started->notify_one();
    auto target = weft_test::park_forever(*never, weft_test::counted(*objs, 2),
                                          static_cast<std::atomic<int>*>(nullptr));
    (void)co_await set->run_until(std::move(target));
}

weft::task<> abort_pinned_driver(weft::local_set* set, weft::sync::notify* never,
                                 weft_test::counter* objs) {
    weft::sync::notify started;
    auto pinned = weft::spawn_local(drive_forever, set, never, &started, objs);
    co_await started.notified();
    pinned.abort();
    auto r = co_await pinned;
    EXPECT_FALSE(r.has_value());
}

TEST(LocalSetDriver, AbortingTheDriverAbortsTheTarget) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    weft_test::counter objs;
    weft::sync::notify never;
    {
        weft::local_set set;
        rt.block_on([&]() -> weft::task<> {
            auto h = weft::spawn(abort_pinned_driver, &set, &never, &objs);
            auto r = co_await h;
            EXPECT_TRUE(r.has_value());
        });
        // The target was aborted with its driver. Nothing drives the set now,
        // so it is cancelled when the set is destroyed.
        EXPECT_EQ(objs.alive(), 1);
    }
    EXPECT_EQ(objs.alive(), 0);
}

} // namespace
