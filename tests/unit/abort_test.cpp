// abort: before the first poll, at a suspension point, while running, after
// completion, and while awaiting another task's join handle.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft_test::counted;
using weft_test::counter;

namespace {

// Records the order in which destructors run.
struct order_log {
    std::mutex mu;
    std::vector<std::string> v;
    void add(std::string s) {
        std::lock_guard lk(mu);
        v.push_back(std::move(s));
    }
};

struct logged {
    order_log* log;
    std::string name;
    ~logged() { log->add(name); }
};

weft::task<int> leaf(weft::sync::notify& never, order_log& log, counter& c,
                     std::atomic<int>& after) {
    logged l{&log, "leaf"};
    counted obj(c, 1);
    co_await never.notified();
    after.fetch_add(1);
    co_return obj.value();
}

weft::task<int> middle(weft::sync::notify& never, order_log& log, counter& c,
                       std::atomic<int>& after) {
    logged l{&log, "middle"};
    counted obj(c, 2);
    int v = co_await leaf(never, log, c, after);
    after.fetch_add(1);
    co_return v + obj.value();
}

} // namespace

class AbortFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(AbortFlavors);

// --- before the first poll --------------------------------------------------------

TEST(Abort, BeforeFirstPollTheTaskNeverRuns) {
    // current_thread: a task spawned from outside waits for block_on, so it
    // has certainly not been polled when it is aborted.
    weft::runtime rt = weft::runtime::current_thread().build();
    counter c;
    std::atomic<int> ran{0};
    auto h = rt.spawn(
        [&ran, obj = counted(c, 1)](counted arg) -> weft::task<int> {
            ran.fetch_add(1);
            co_return obj.value() + arg.value();
        },
        counted(c, 2));
    EXPECT_FALSE(h.is_finished());
    h.abort();
    weft::result<int> r =
        rt.block_on([&]() -> weft::task<weft::result<int>> { co_return co_await h; });
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().is_cancelled());
    EXPECT_EQ(ran.load(), 0) << "a task aborted before its first poll must never run";
    EXPECT_EQ(c.alive(), 0) << "its callable and arguments are destroyed";
}

TEST(Abort, BeforeFirstPollFromInsideATask) {
    weft::runtime rt = weft::runtime::current_thread().build();
    std::atomic<int> ran{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&ran, obj = counted(c, 1)]() -> weft::task<> {
            ran.fetch_add(1);
            co_return;
        });
        h.abort(); // same poll of the root: the task cannot have run on this runtime
        weft::result<void> r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
    });
    EXPECT_EQ(ran.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

// --- at a suspension point -----------------------------------------------------------

TEST_P(AbortFlavors, AtASuspensionPointDestructorsRunAndNothingAfterRuns) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never, started;
    order_log log;
    counter c;
    std::atomic<int> after{0};
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            logged l{&log, "top"};
            counted obj(c, 3);
            started.notify_one();
            int v = co_await middle(never, log, c, after);
            after.fetch_add(1);
            co_return v + obj.value();
        });
        co_await started.notified();
        EXPECT_FALSE(h.is_finished());
        h.abort();
        weft::result<int> r = co_await h;
        EXPECT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().is_cancelled());
        EXPECT_EQ(c.alive(), 0) << "every frame's locals are destroyed by the time join sees "
                                   "the cancellation";
    });
    EXPECT_EQ(after.load(), 0) << "code after the co_await must never run";
    std::lock_guard lk(log.mu);
    EXPECT_EQ(log.v, (std::vector<std::string>{"leaf", "middle", "top"}))
        << "frames are destroyed from the suspension point outwards";
}

TEST_P(AbortFlavors, AbortedWaiterIsWithdrawnFromTheNotify) {
    weft::runtime rt = make_runtime();
    weft::sync::notify n, started;
    std::atomic<int> after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            counted obj(c, 1);
            auto f = n.notified();
            started.notify_one();
            co_await std::move(f);
            after.fetch_add(1);
            co_return obj.value();
        });
        co_await started.notified();
        // Make sure the waiter is registered (it may still be running on a
        // worker): abort, then join.
        h.abort();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
        // The aborted waiter is gone: notify_one now finds nobody and stores a permit.
        n.notify_one();
        auto probe = n.notified();
        EXPECT_TRUE(probe.await_ready()) << "the notification went to the aborted waiter";
    });
    EXPECT_EQ(after.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(AbortFlavors, AbortFromAnotherThread) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never;
    std::atomic<int> after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h =
            weft::spawn(weft_test::park_forever<counted>, std::ref(never), counted(c, 1), &after);
        std::thread t([a = h.abort_handle()] { a.abort(); });
        weft::result<int> r = co_await h;
        t.join();
        EXPECT_TRUE(r.error().is_cancelled());
    });
    EXPECT_EQ(after.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(AbortFlavors, AbortManyParkedTasks) {
    weft::runtime rt = make_runtime();
    weft::sync::notify never;
    std::atomic<int> after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < 300; ++i)
            hs.push_back(weft::spawn(weft_test::park_forever<counted>, std::ref(never),
                                     counted(c, i), &after));
        co_await weft::yield_now();
        for (auto& h : hs)
            h.abort();
        for (auto& h : hs) {
            weft::result<int> r = co_await h;
            EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        }
        EXPECT_EQ(c.alive(), 0);
    });
    EXPECT_EQ(after.load(), 0);
}

// --- while running -----------------------------------------------------------------------

TEST_P(AbortFlavors, RunningTaskThatAbortsItselfStopsAtItsNextSuspension) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate;
    weft::abort_handle self; // written before `gate` is notified
    std::atomic<int> before{0}, after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            counted obj(c, 1);
            co_await gate.notified();
            self.abort();        // we are running: takes effect at the next suspension
            before.fetch_add(1); // still runs
            co_await weft::yield_now();
            after.fetch_add(1); // must not run
            co_return obj.value();
        });
        self = h.abort_handle();
        gate.notify_one();
        weft::result<int> r = co_await h;
        EXPECT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().is_cancelled());
    });
    EXPECT_EQ(before.load(), 1);
    EXPECT_EQ(after.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

TEST(Abort, RunningTaskAbortedFromOutsideStopsAtItsNextSuspension) {
    // multi_thread: the task runs on a worker while block_on's thread aborts it.
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    std::atomic<bool> running{false}, aborted{false};
    std::atomic<int> after{0};
    weft::sync::notify started;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<> {
            running.store(true);
            started.notify_one();
            // Busy until the abort request has been made (bounded).
            for (long i = 0; i < 2'000'000'000L && !aborted.load(); ++i) {
            }
            EXPECT_TRUE(aborted.load());
            co_await weft::yield_now(); // first suspension after the abort
            after.fetch_add(1);
        });
        co_await started.notified();
        EXPECT_TRUE(running.load());
        h.abort();
        aborted.store(true);
        weft::result<void> r = co_await h;
        EXPECT_TRUE(r.error().is_cancelled());
    });
    EXPECT_EQ(after.load(), 0);
}

// --- after completion ---------------------------------------------------------------------

TEST_P(AbortFlavors, AbortOfAFinishedTaskDoesNothing) {
    weft::runtime rt = make_runtime();
    weft::sync::notify done;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            done.notify_one();
            co_return 11;
        });
        co_await done.notified();
        bool ok = co_await weft_test::wait_finished(h.abort_handle());
        EXPECT_TRUE(ok);
        h.abort();
        h.abort_handle().abort();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.has_value()) << "abort after completion must keep the value";
        EXPECT_EQ(r.value(), 11);
        h.abort(); // also after the output was taken
    });
}

// --- while awaiting another task -----------------------------------------------------------

TEST_P(AbortFlavors, AbortOfATaskAwaitingAJoinHandleWithdrawsTheWait) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate_b, a_started;
    std::atomic<int> a_after{0};
    counter c;
    rt.block_on([&]() -> weft::task<> {
        auto hb = weft::spawn([&]() -> weft::task<int> {
            counted obj(c, 30);
            co_await gate_b.notified();
            co_return obj.value();
        });
        // A awaits B's handle, which the root keeps.
        auto ha = weft::spawn([&]() -> weft::task<int> {
            a_started.notify_one();
            weft::result<int> r = co_await hb;
            a_after.fetch_add(1);
            co_return r.value();
        });
        co_await a_started.notified();
        ha.abort();
        weft::result<int> ra = co_await ha;
        EXPECT_TRUE(ra.error().is_cancelled());
        EXPECT_FALSE(hb.is_finished()) << "aborting the waiter must not cancel the awaited task";
        // B completes normally; its completion must not touch the dead waiter,
        // and the cancelled await took nothing: the handle can be awaited again.
        gate_b.notify_one();
        weft::result<int> rb = co_await hb;
        EXPECT_TRUE(rb.has_value());
        EXPECT_EQ(rb.value(), 30);
    });
    EXPECT_EQ(a_after.load(), 0);
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(AbortFlavors, AbortOfATaskOwningAJoinHandleDetachesTheAwaitedTask) {
    weft::runtime rt = make_runtime();
    weft::sync::notify gate_b, a_started, b_done;
    std::atomic<int> b_finished{0}, a_after{0};
    rt.block_on([&]() -> weft::task<> {
        auto hb = weft::spawn([&]() -> weft::task<int> {
            co_await gate_b.notified();
            b_finished.fetch_add(1);
            b_done.notify_one();
            co_return 5;
        });
        auto ha = weft::spawn(
            [&](weft::join_handle<int> h) -> weft::task<int> {
                a_started.notify_one();
                weft::result<int> r = co_await h;
                a_after.fetch_add(1);
                co_return r.value();
            },
            std::move(hb));
        co_await a_started.notified();
        ha.abort();
        weft::result<int> ra = co_await ha;
        EXPECT_TRUE(ra.error().is_cancelled());
        gate_b.notify_one();
        co_await b_done.notified();
    });
    EXPECT_EQ(b_finished.load(), 1) << "the awaited task still completes";
    EXPECT_EQ(a_after.load(), 0);
}

TEST_P(AbortFlavors, RunningTaskAbortedThatFinishesWithoutSuspendingKeepsItsValue) {
    // "A running task is destroyed at its next suspension": one that has no
    // further suspension completes (as in Tokio, where the poll returns Ready).
    weft::runtime rt = make_runtime();
    weft::sync::notify gate;
    weft::abort_handle self;
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<int> {
            co_await gate.notified();
            self.abort();
            co_return 8;
        });
        self = h.abort_handle();
        gate.notify_one();
        weft::result<int> r = co_await h;
        EXPECT_TRUE(r.has_value());
        if (r.has_value()) {
            EXPECT_EQ(*r, 8);
        }
    });
}
