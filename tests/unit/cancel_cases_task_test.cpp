// Cancel-safety cases (support/cancel_harness.hpp) of tasks, structured
// concurrency and time: join handles, join_set, task_tracker, local_set,
// yield_now, join/try_join/select, sleep, interval, timeout and the test
// clock's advance.
#include "cancel_harness.hpp"

#include <optional>
#include <vector>

#include <weft/weft.hpp>

namespace {

using weft_test::cancel::one_step_scenario;
using weft_test::cancel::scenario;
using namespace std::chrono_literals;

/// Gives `v` once `n` is notified.
weft::task<int> value_when(weft::sync::notify* n, int v) {
    co_await n->notified();
    co_return v;
}

/// True if `n` holds a stored notify_one permit (consumes it).
weft::task<bool> has_permit(weft::sync::notify& n) {
    auto r = co_await weft::time::timeout(1ms, n.notified());
    co_return r.has_value();
}

// --- tasks --------------------------------------------------------------------

struct join_handle_await : one_step_scenario {
    weft::sync::notify n;
    weft::join_handle<int> child;
    std::optional<int> got;
    weft::task<> setup() override {
        child = weft::spawn(value_when, &n, 7);
        co_return;
    }
    weft::task<> op() override {
        weft::result<int> r = co_await child;
        if (r) got = *r;
    }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (!completed) {
            // The handle still joins the child (which was not aborted).
            n.notify_one();
            weft::result<int> r = co_await child;
            EXPECT_TRUE(r.has_value()) << "the child was lost with the cancelled join";
            if (r) got = *r;
        }
        EXPECT_EQ(got, 7);
    }
};
WEFT_CANCEL_CASE("join_handle (co_await handle)", safe, join_handle_await);

struct join_set_join_next : one_step_scenario {
    weft::sync::notify n;
    weft::join_set<int> set;
    std::optional<int> got;
    weft::task<> setup() override {
        set.spawn(value_when, &n, 7);
        co_return;
    }
    weft::task<> op() override {
        auto r = co_await set.join_next();
        EXPECT_TRUE(r.has_value());
        if (r && r->has_value()) got = **r;
    }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (!completed) {
            EXPECT_EQ(set.size(), 1u) << "the cancelled join_next took the task";
            if (steps == 0) n.notify_one();
            auto r = co_await set.join_next();
            EXPECT_TRUE(r && r->has_value());
            if (r && r->has_value()) got = **r;
        }
        EXPECT_EQ(got, 7);
        EXPECT_EQ(set.size(), 0u);
    }
};
WEFT_CANCEL_CASE("join_set::join_next", safe, join_set_join_next);

struct join_set_join_next_with_id : one_step_scenario {
    weft::sync::notify n;
    weft::join_set<int> set;
    weft::task_id id{};
    std::optional<int> got;
    weft::task<> setup() override {
        id = set.spawn(value_when, &n, 7).id();
        co_return;
    }
    weft::task<> op() override {
        auto r = co_await set.join_next_with_id();
        EXPECT_TRUE(r.has_value());
        if (r && r->second.has_value()) {
            EXPECT_EQ(r->first, id);
            got = *r->second;
        }
    }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (!completed) {
            EXPECT_EQ(set.size(), 1u) << "the cancelled join_next_with_id took the task";
            if (steps == 0) n.notify_one();
            auto r = co_await set.join_next_with_id();
            EXPECT_TRUE(r && r->first == id && r->second.has_value());
            if (r && r->second.has_value()) got = *r->second;
        }
        EXPECT_EQ(got, 7);
    }
};
WEFT_CANCEL_CASE("join_set::join_next_with_id", safe, join_set_join_next_with_id);

// shutdown() aborts every task, then reaps them: it suspends while the
// aborted tasks wait in the run queue to be cancelled.
struct join_set_shutdown : scenario {
    weft::sync::notify n;
    weft::join_set<int> set;
    bool done = false;
    weft::task<> setup() override {
        for (int i = 0; i < 3; ++i)
            set.spawn(value_when, &n, i);
        co_return;
    }
    bool immediate() const override { return true; }
    weft::task<> op() override {
        co_await set.shutdown();
        done = true;
    }
    weft::task<bool> step(int) override { co_return false; }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        // Every task was aborted before the first suspension; what was not
        // reaped yet stays in the set, and a second shutdown finishes.
        co_await set.shutdown();
        EXPECT_EQ(set.size(), 0u);
        n.notify_waiters();
    }
};
WEFT_CANCEL_CASE("join_set::shutdown", safe, join_set_shutdown);

struct tracker_wait : one_step_scenario {
    weft::sync::notify n;
    weft::task_tracker tracker;
    bool done = false;
    weft::task<> setup() override {
        tracker.spawn(value_when, &n, 1);
        tracker.close();
        co_return;
    }
    weft::task<> op() override {
        co_await tracker.wait();
        done = true;
    }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        EXPECT_EQ(tracker.empty(), steps > 0);
        if (steps == 0) n.notify_one();
        co_await tracker.wait(); // usable: completes once the task is gone
        EXPECT_TRUE(tracker.empty());
    }
};
WEFT_CANCEL_CASE("task_tracker::wait", safe, tracker_wait);

// run_until(t): a cancel aborts t (its work is lost, as when Tokio drops
// LocalSet::run_until's future); the set's other tasks stay and run later.
struct local_set_run_until : one_step_scenario {
    weft::sync::notify n, other_go;
    weft::local_set set;
    std::optional<int> got;
    int other = 0;
    weft::task<> setup() override {
        set.spawn_local(
            [](weft::sync::notify* go, int* out) -> weft::task<> {
                co_await go->notified();
                *out = 1;
            },
            &other_go, &other);
        co_return;
    }
    weft::task<> op() override { got = co_await set.run_until(value_when(&n, 7)); }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (completed) {
            EXPECT_EQ(got, 7);
        }
        // Usable, and the other local task survived the cancel.
        other_go.notify_one();
        int v = co_await set.run_until([](int* o) -> weft::task<int> {
            while (*o == 0)
                co_await weft::yield_now();
            co_return *o;
        }(&other));
        EXPECT_EQ(v, 1) << "a local task was lost with the cancelled run_until";
    }
};
WEFT_CANCEL_CASE("local_set::run_until", unsafe, local_set_run_until);

struct yield_now_case : scenario {
    bool done = false;
    bool immediate() const override { return true; }
    weft::task<> op() override {
        co_await weft::yield_now();
        done = true;
    }
    weft::task<bool> step(int) override { co_return false; }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        co_return;
    }
};
WEFT_CANCEL_CASE("yield_now", safe, yield_now_case);

// --- join, try_join, select -----------------------------------------------------

// join: a branch that completed before the cancel took its notification,
// and its value is dropped with the join: the stated loss.
struct join_case : scenario {
    weft::sync::notify a, b;
    int steps = 0;
    bool done = false;
    weft::task<> op() override {
        auto [x, y] = co_await weft::join(value_when(&a, 1), value_when(&b, 2));
        EXPECT_EQ(x + y, 3);
        done = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 1) co_return false;
        ++steps;
        (i == 0 ? a : b).notify_one();
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        // Neither notification survives: a's was taken by its finished branch
        // (lost with the join), b's was never sent unless the join completed.
        bool pa = co_await has_permit(a);
        bool pb = co_await has_permit(b);
        EXPECT_FALSE(pa) << "a completed branch's input came back";
        EXPECT_FALSE(pb);
    }
};
WEFT_CANCEL_CASE("join", unsafe, join_case);

struct try_join_case : scenario {
    weft::sync::notify a, b;
    bool done = false;
    weft::task<> op() override {
        auto r = co_await weft::try_join(value_when(&a, 1), value_when(&b, 2));
        EXPECT_TRUE(r.has_value());
        done = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 1) co_return false;
        (i == 0 ? a : b).notify_one();
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        bool pa = co_await has_permit(a);
        bool pb = co_await has_permit(b);
        EXPECT_FALSE(pa);
        EXPECT_FALSE(pb);
    }
};
WEFT_CANCEL_CASE("try_join", unsafe, try_join_case);

// select over cancel-safe branches: a cancel leaves every branch's input.
struct select_case : one_step_scenario {
    weft::sync::notify a, b;
    std::optional<std::size_t> winner;
    weft::task<> op() override {
        auto r = co_await weft::select(a.notified(), b.notified());
        winner = r.index();
    }
    void act() override { b.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, winner.has_value());
        if (completed) {
            EXPECT_EQ(winner, 1u);
        }
        bool pa = co_await has_permit(a);
        bool pb = co_await has_permit(b);
        EXPECT_FALSE(pa);
        EXPECT_EQ(pb, steps > 0 && !completed) << "the cancelled select lost b's notification";
    }
};
WEFT_CANCEL_CASE("select", safe, select_case);

// --- time -----------------------------------------------------------------------

struct sleep_case : scenario {
    bool done = false;
    weft::time::instant deadline;
    weft::task<> op() override {
        deadline = weft::time::instant::now() + 1h;
        co_await weft::time::sleep(1h);
        EXPECT_GE(weft::time::instant::now(), deadline);
        done = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        co_await weft::time::advance(1h);
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        EXPECT_EQ(weft::runtime_handle::current().metrics().timers_pending, 0u)
            << "a cancelled sleep left its timer registered";
        co_return;
    }
};
WEFT_CANCEL_CASE("time::sleep", safe, sleep_case);

struct sleep_until_case : sleep_case {
    weft::task<> op() override {
        deadline = weft::time::instant::now() + 1h;
        co_await weft::time::sleep_until(deadline);
        EXPECT_GE(weft::time::instant::now(), deadline);
        done = true;
    }
};
WEFT_CANCEL_CASE("time::sleep_until", safe, sleep_until_case);

// A cancelled tick() does not consume the tick: the next one is still due.
// (Periods are long: settle() moves the paused clock by a few ms.)
struct interval_tick : scenario {
    std::optional<weft::time::interval> iv;
    weft::time::instant start;
    bool done = false;
    weft::task<> setup() override {
        start = weft::time::instant::now();
        iv.emplace(start, 1h);
        (void)co_await iv->tick(); // the first tick is immediate
    }
    weft::task<> op() override {
        (void)co_await iv->tick();
        done = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        co_await weft::time::advance(1h);
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        // The tick op() waited for is still the next one unless op() took it.
        weft::time::instant next = start + (completed ? 2h : 1h);
        bool due = weft::time::instant::now() >= next;
        auto r = co_await weft::time::timeout(1ms, iv->tick());
        EXPECT_EQ(r.has_value(), due) << "a cancelled tick() consumed the tick (or invented one)";
        if (r) {
            EXPECT_EQ(*r, next);
        }
    }
};
WEFT_CANCEL_CASE("time::interval::tick", safe, interval_tick);

// timeout(d, work) is as cancel safe as its work: cancelled, it cancels the
// work in the work's own class (here a cancel-safe notified()).
struct timeout_case : one_step_scenario {
    weft::sync::notify n;
    bool done = false;
    weft::task<> op() override {
        auto r = co_await weft::time::timeout(1h, n.notified());
        EXPECT_TRUE(r.has_value());
        done = true;
    }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        bool p = co_await has_permit(n);
        EXPECT_EQ(p, steps > 0 && !completed);
        EXPECT_EQ(weft::runtime_handle::current().metrics().timers_pending, 0u);
    }
};
WEFT_CANCEL_CASE("time::timeout", safe, timeout_case);

// advance(d) moves the clock before its only suspension (a yield that lets
// the woken tasks run): a cancel leaves the clock moved and the timers fired.
struct advance_case : scenario {
    weft::time::instant start;
    bool done = false;
    bool immediate() const override { return true; }
    weft::task<> setup() override {
        start = weft::time::instant::now();
        co_return;
    }
    weft::task<> op() override {
        co_await weft::time::advance(1s);
        done = true;
    }
    weft::task<bool> step(int) override { co_return false; }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, done);
        EXPECT_GE(weft::time::instant::now() - start, 1s);
        co_return;
    }
};
WEFT_CANCEL_CASE("time::advance", safe, advance_case);

} // namespace
