// Cancel-safety cases (support/cancel_harness.hpp) of weft::sync and the
// cancellation token: each awaitable is cancelled at every suspension by
// select, timeout and abort, and its class is checked.
#include "cancel_harness.hpp"

#include <optional>
#include <vector>

#include <weft/weft.hpp>

namespace {

using weft_test::cancel::one_step_scenario;
using weft_test::cancel::scenario;
using namespace std::chrono_literals;
namespace mpsc = weft::sync::mpsc;

template <class T>
std::vector<T> drain(mpsc::receiver<T>& rx) {
    std::vector<T> out;
    while (auto v = rx.try_recv())
        out.push_back(*v);
    return out;
}

// --- mpsc -------------------------------------------------------------------

// Capacity 1, full with 0. op() waits to send 1; the step takes the 0. The
// cancel is requested, and then the receiver takes a value at once, before
// the cancelled task runs again: an aborted send must not deliver after
// the abort was requested (issue 14, bug 3).
struct mpsc_send : one_step_scenario {
    mpsc::sender<int> tx;
    mpsc::receiver<int> rx;
    std::vector<int> got;
    mpsc_send() {
        std::tie(tx, rx) = mpsc::channel<int>(1);
        (void)tx.try_send(0);
    }
    weft::task<> op() override {
        auto r = co_await tx.send(1);
        EXPECT_TRUE(r.has_value());
    }
    void act() override {
        for (int v : drain(rx))
            got.push_back(v);
    }
    void cancel_requested() override {
        for (int v : drain(rx))
            got.push_back(v);
    }
    weft::task<> check(bool completed) override {
        for (int v : drain(rx))
            got.push_back(v);
        if (completed)
            EXPECT_EQ(got, (std::vector<int>{0, 1}));
        else
            EXPECT_EQ(got, (std::vector<int>{0})) << "a cancelled send delivered its value";
        // Usable, and no slot leaked: a new value fits and arrives.
        EXPECT_TRUE(tx.try_send(9).has_value());
        EXPECT_EQ(drain(rx), (std::vector<int>{9}));
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::mpsc::sender::send", safe, mpsc_send);

struct mpsc_reserve : one_step_scenario {
    mpsc::sender<int> tx;
    mpsc::receiver<int> rx;
    std::vector<int> got;
    mpsc_reserve() {
        std::tie(tx, rx) = mpsc::channel<int>(1);
        (void)tx.try_send(0);
    }
    weft::task<> op() override {
        auto p = co_await tx.reserve();
        EXPECT_TRUE(p.has_value());
        if (p) p->send(1);
    }
    void act() override {
        for (int v : drain(rx))
            got.push_back(v);
    }
    void cancel_requested() override {
        for (int v : drain(rx))
            got.push_back(v);
    }
    weft::task<> check(bool completed) override {
        for (int v : drain(rx))
            got.push_back(v);
        EXPECT_EQ(got, (completed ? std::vector<int>{0, 1} : std::vector<int>{0}));
        // A slot granted to a cancelled reserve came back.
        EXPECT_TRUE(tx.try_send(9).has_value()) << "a cancelled reserve kept its slot";
        EXPECT_EQ(drain(rx), (std::vector<int>{9}));
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::mpsc::sender::reserve", safe, mpsc_reserve);

struct mpsc_recv : one_step_scenario {
    mpsc::sender<int> tx;
    mpsc::receiver<int> rx;
    std::optional<int> got;
    mpsc_recv() { std::tie(tx, rx) = mpsc::channel<int>(4); }
    weft::task<> op() override { got = co_await rx.recv(); }
    void act() override { (void)tx.try_send(1); }
    weft::task<> check(bool completed) override {
        std::vector<int> all;
        if (got) all.push_back(*got);
        EXPECT_EQ(completed, got.has_value());
        for (int v : drain(rx))
            all.push_back(v);
        EXPECT_EQ(all, (steps ? std::vector<int>{1} : std::vector<int>{}))
            << "the message was lost or duplicated";
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::mpsc::receiver::recv", safe, mpsc_recv);

struct mpsc_recv_many : one_step_scenario {
    mpsc::unbounded_sender<int> tx;
    mpsc::receiver<int> rx;
    std::vector<int> got;
    mpsc_recv_many() { std::tie(tx, rx) = mpsc::unbounded_channel<int>(); }
    weft::task<> op() override {
        std::size_t n = co_await rx.recv_many(got, 8);
        EXPECT_EQ(n, got.size());
    }
    void act() override {
        (void)tx.send(1);
        (void)tx.send(2);
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, !got.empty());
        std::vector<int> all = got;
        for (int v : drain(rx))
            all.push_back(v);
        EXPECT_EQ(all, (steps ? std::vector<int>{1, 2} : std::vector<int>{}));
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::mpsc::receiver::recv_many", safe, mpsc_recv_many);

// --- oneshot ----------------------------------------------------------------

struct oneshot_recv : one_step_scenario {
    weft::sync::oneshot::sender<int> tx;
    weft::sync::oneshot::receiver<int> rx;
    std::optional<int> got;
    oneshot_recv() { std::tie(tx, rx) = weft::sync::oneshot::channel<int>(); }
    weft::task<> op() override {
        auto r = co_await rx;
        if (r) got = *r;
    }
    void act() override { (void)tx.send(7); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (!completed) {
            // The value waits for the next await of the same receiver.
            auto r = rx.try_recv();
            EXPECT_EQ(r.has_value(), steps > 0) << "the value was lost";
            if (r) got = *r;
        }
        if (steps > 0) {
            EXPECT_EQ(got, 7);
        }
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::oneshot::receiver (co_await rx)", safe, oneshot_recv);

struct oneshot_closed : one_step_scenario {
    weft::sync::oneshot::sender<int> tx;
    weft::sync::oneshot::receiver<int> rx;
    oneshot_closed() { std::tie(tx, rx) = weft::sync::oneshot::channel<int>(); }
    weft::task<> op() override { co_await tx.closed(); }
    void act() override { rx.close(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(tx.is_closed(), steps > 0);
        if (completed) {
            EXPECT_EQ(steps, 1);
        }
        if (steps > 0) co_await tx.closed(); // usable: completes at once
    }
};
WEFT_CANCEL_CASE("sync::oneshot::sender::closed", safe, oneshot_closed);

// --- broadcast, watch ---------------------------------------------------------

struct broadcast_recv : one_step_scenario {
    weft::sync::broadcast::sender<int> tx;
    weft::sync::broadcast::receiver<int> rx;
    std::optional<int> got;
    broadcast_recv() { std::tie(tx, rx) = weft::sync::broadcast::channel<int>(4); }
    weft::task<> op() override {
        auto r = co_await rx.recv();
        if (r) got = *r;
    }
    void act() override { (void)tx.send(1); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        std::vector<int> all;
        if (got) all.push_back(*got);
        while (auto r = rx.try_recv())
            all.push_back(*r);
        EXPECT_EQ(all, (steps ? std::vector<int>{1} : std::vector<int>{}));
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::broadcast::receiver::recv", safe, broadcast_recv);

struct watch_changed : one_step_scenario {
    weft::sync::watch::sender<int> tx;
    weft::sync::watch::receiver<int> rx;
    watch_changed() { std::tie(tx, rx) = weft::sync::watch::channel(0); }
    weft::task<> op() override {
        bool ok = co_await rx.changed();
        EXPECT_TRUE(ok);
    }
    void act() override { (void)tx.send(5); }
    weft::task<> check(bool completed) override {
        // A cancelled changed() leaves the change unseen; a completed one saw it.
        EXPECT_EQ(rx.has_changed(), steps > 0 && !completed);
        EXPECT_EQ(*rx.borrow_and_update(), steps > 0 ? 5 : 0);
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::watch::receiver::changed", safe, watch_changed);

// --- locks --------------------------------------------------------------------

struct mutex_lock : one_step_scenario {
    weft::sync::mutex<int> m{0};
    std::optional<weft::sync::mutex_guard<int>> held;
    bool locked_by_op = false;
    weft::task<> setup() override { held.emplace(co_await m.lock()); }
    weft::task<> op() override {
        auto g = co_await m.lock();
        *g += 1;
        locked_by_op = true;
    }
    void act() override { held.reset(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, locked_by_op);
        held.reset();
        auto g = m.try_lock();
        EXPECT_TRUE(g.has_value()) << "a cancelled lock() left the mutex locked";
        if (g) {
            EXPECT_EQ(**g, completed ? 1 : 0);
        }
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::mutex::lock", safe, mutex_lock);

struct rw_read : one_step_scenario {
    weft::sync::rw_lock<int> l{0};
    std::optional<weft::sync::rw_lock_write_guard<int>> held;
    bool read_by_op = false;
    weft::task<> setup() override { held.emplace(co_await l.write()); }
    weft::task<> op() override {
        auto g = co_await l.read();
        read_by_op = true;
    }
    void act() override { held.reset(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, read_by_op);
        held.reset();
        EXPECT_TRUE(l.try_write().has_value()) << "a cancelled read() kept permits";
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::rw_lock::read", safe, rw_read);

// Readers hold the lock; a writer waits and collects permits as they go
// (partial grants), then is cancelled: every permit must come back.
struct rw_write : scenario {
    weft::sync::rw_lock<int> l{0};
    std::vector<weft::sync::rw_lock_read_guard<int>> readers;
    bool written = false;
    weft::task<> setup() override {
        for (int i = 0; i < 3; ++i)
            readers.push_back(co_await l.read());
    }
    weft::task<> op() override {
        auto g = co_await l.write();
        *g = 1;
        written = true;
    }
    weft::task<bool> step(int) override {
        if (readers.empty()) co_return false;
        readers.pop_back();
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, written);
        readers.clear();
        auto w = l.try_write();
        EXPECT_TRUE(w.has_value()) << "a cancelled write() kept permits";
        if (w) {
            EXPECT_EQ(**w, completed ? 1 : 0);
        }
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::rw_lock::write", safe, rw_write);

// acquire(3) on an empty semaphore; each step adds one permit, which is
// assigned to the waiter (a partial grant). A cancel must return them all.
struct sem_acquire : scenario {
    weft::sync::semaphore sem{0};
    int added = 0;
    bool acquired = false;
    weft::task<> op() override {
        auto p = co_await sem.acquire(3);
        EXPECT_EQ(p.num_permits(), 3u);
        acquired = true;
    } // the permit goes back here
    weft::task<bool> step(int) override {
        if (added == 3) co_return false;
        ++added;
        sem.add_permits(1);
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, acquired);
        EXPECT_EQ(sem.available_permits(), static_cast<std::size_t>(added))
            << "a cancelled acquire kept the permits assigned to it";
        co_return;
    }
};
WEFT_CANCEL_CASE("sync::semaphore::acquire", safe, sem_acquire);

struct notify_notified : one_step_scenario {
    weft::sync::notify n;
    weft::task<> op() override { co_await n.notified(); }
    void act() override { n.notify_one(); }
    weft::task<> check(bool completed) override {
        // A notify_one that chose a cancelled waiter is passed on as a permit.
        auto r = co_await weft::time::timeout(1ms, n.notified());
        EXPECT_EQ(r.has_value(), steps > 0 && !completed)
            << "notify_one was lost (or invented) by the cancel";
    }
};
WEFT_CANCEL_CASE("sync::notify::notified", safe, notify_notified);

// Not cancel safe (as Tokio): the wait arrives when first awaited and its
// arrival still counts after a cancel. The check pins exactly that loss.
struct barrier_wait : scenario {
    weft::sync::barrier b{2};
    int steps = 0;
    weft::task<> op() override { (void)co_await b.wait(); }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        ++steps;
        weft::spawn([](weft::sync::barrier* b) -> weft::task<> { (void)co_await b->wait(); }, &b);
        co_return true;
    }
    weft::task<> check(bool completed) override {
        if (completed) {
            EXPECT_EQ(steps, 1);
            co_return;
        }
        // The cancelled wait arrived: one more arrival completes the generation
        // (the stated loss), and the barrier is usable for the next one.
        if (steps == 0) {
            auto r = co_await weft::time::timeout(1ms, b.wait());
            EXPECT_TRUE(r.has_value()) << "the cancelled wait's arrival did not count";
        }
        auto h1 = weft::spawn(
            [](weft::sync::barrier* b) -> weft::task<bool> {
                co_return (co_await b->wait()).is_leader();
            },
            &b);
        auto r2 = co_await weft::time::timeout(1ms, b.wait());
        EXPECT_TRUE(r2.has_value()) << "the barrier is not usable after a cancelled wait";
        auto l1 = co_await h1;
        EXPECT_TRUE(l1.has_value());
    }
};
WEFT_CANCEL_CASE("sync::barrier::wait", unsafe, barrier_wait);

// --- cancellation token -----------------------------------------------------

struct token_cancelled : one_step_scenario {
    weft::cancellation_token parent;
    weft::cancellation_token child = parent.child_token();
    weft::task<> op() override { co_await child.cancelled(); }
    void act() override { parent.cancel(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(child.is_cancelled(), steps > 0);
        EXPECT_TRUE(!completed || steps > 0);
        if (steps > 0) co_await child.cancelled(); // at once
    }
};
WEFT_CANCEL_CASE("cancellation_token::cancelled", safe, token_cancelled);

} // namespace
