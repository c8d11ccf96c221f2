// No task can starve the I/O driver or the timers (issue 14, decision 0040).
//
// A task that never waits, the block_on root or a spawned task, looping on
// yield_now or on operations that are always ready (so that only the
// cooperative budget suspends it), must still let a task blocked on a socket
// wake when bytes arrive, and a sleeping task wake when its timer is due.
// On the current-thread runtime a root looping on yield_now used to be
// polled again and again without the reactor ever being polled.
//
// Every spinner is bounded: it gives up after spin_limit laps, and the test
// then fails (the waiter never woke) instead of hanging. The spinners stop
// as soon as the waiter has woken, so a passing test is quick.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

constexpr long spin_limit = 10'000'000;

enum class spin_kind {
    yield,     // co_await yield_now() in a loop
    ready_ops, // a notify whose permit is always stored: the budget suspends it
};

/// Loops without ever waiting for anything until `stop` is set. False if it
/// gave up after spin_limit laps with `stop` still clear.
weft::task<bool> spin_until(const std::atomic<bool>* stop, spin_kind kind) {
    weft::sync::notify n;
    for (long i = 0; i < spin_limit; ++i) {
        if (stop->load()) co_return true;
        if (kind == spin_kind::yield) {
            co_await weft::yield_now();
        } else {
            n.notify_one(); // stores a permit: the wait below is ready at once
            co_await n.notified();
        }
    }
    co_return stop->load();
}

/// Spins in a task pinned to its thread (spawn_local: a worker's pinned
/// queue on the multi-thread runtime, a plain spawn on the current-thread one).
weft::task<bool> spin_pinned(const std::atomic<bool>* stop, spin_kind kind) {
    auto h = weft::spawn_local(spin_until, stop, kind);
    weft::result<bool> r = co_await h;
    co_return r.has_value() && *r;
}

/// Who spins.
enum class spinner {
    root,      // the block_on task itself
    spawned,   // spawned tasks, one per worker, while the root waits
    pinned,    // spawn_local tasks, one per worker, while the root waits
    local_set, // a task of a local_set driven by the root
};

/// What the waiter waits for.
enum class wake_source {
    socket_written_by_root,   // a byte written (write(2)) by the root task
    socket_written_by_thread, // a byte written by another thread
    timer,                    // a 1 ms sleep on the real clock
};

const char* name(spinner s) {
    switch (s) {
    case spinner::root:
        return "root spins";
    case spinner::spawned:
        return "spawned tasks spin";
    case spinner::pinned:
        return "spawn_local tasks spin";
    case spinner::local_set:
        return "a local_set task spins";
    }
    return "?";
}

const char* name(spin_kind k) {
    return k == spin_kind::yield ? "on yield_now" : "on ready operations";
}

const char* name(wake_source w) {
    switch (w) {
    case wake_source::socket_written_by_root:
        return "socket written by the root";
    case wake_source::socket_written_by_thread:
        return "socket written by another thread";
    case wake_source::timer:
        return "timer";
    }
    return "?";
}

struct shared_state {
    std::atomic<bool> waiting{false}; // the waiter is about to block
    weft::sync::notify waiting_n;
    std::atomic<bool> woke{false};
};

/// Reads one byte from `s` (after telling the root it is about to block).
weft::task<> read_one(weft::net::unix_stream s, shared_state* st) {
    std::byte b[1];
    st->waiting.store(true);
    st->waiting_n.notify_one();
    auto n = co_await s.read(b);
    EXPECT_TRUE(n.has_value() && *n == 1);
    st->woke.store(true);
}

weft::task<> sleep_one_ms(shared_state* st) {
    st->waiting.store(true);
    st->waiting_n.notify_one();
    co_await weft::time::sleep(std::chrono::milliseconds(1));
    st->woke.store(true);
}

/// The scenario: a waiter blocks on a socket (or a timer); the wake-up is
/// made to happen; `who` spins until the waiter has woken. Returns whether
/// the waiter woke while the spinner(s) still ran.
weft::task<bool> scenario(spinner who, spin_kind kind, wake_source src, std::size_t workers) {
    shared_state st;
    auto pair = weft::net::unix_stream::pair();
    EXPECT_TRUE(pair.has_value());
    if (!pair) co_return false;
    int write_fd = pair->first.native_handle();
    weft::join_handle<void> waiter = src == wake_source::timer
                                         ? weft::spawn(sleep_one_ms, &st)
                                         : weft::spawn(read_one, std::move(pair->second), &st);
    std::vector<weft::join_handle<bool>> spinners;
    for (std::size_t i = 0; i < workers; ++i) {
        if (who == spinner::spawned) spinners.push_back(weft::spawn(spin_until, &st.woke, kind));
        if (who == spinner::pinned) spinners.push_back(weft::spawn(spin_pinned, &st.woke, kind));
    }
    // The byte is written once the reader is blocked (or about to: a byte
    // that beats its read makes the test pass without testing anything,
    // never fail).
    while (!st.waiting.load())
        co_await st.waiting_n.notified();
    std::thread writer;
    if (src == wake_source::socket_written_by_root) {
        EXPECT_EQ(::write(write_fd, "x", 1), 1);
    } else if (src == wake_source::socket_written_by_thread) {
        writer = std::thread([write_fd] { EXPECT_EQ(::write(write_fd, "x", 1), 1); });
    }
    bool woke_while_spinning = false;
    switch (who) {
    case spinner::root:
        woke_while_spinning = co_await spin_until(&st.woke, kind);
        break;
    case spinner::spawned:
    case spinner::pinned:
        woke_while_spinning = true;
        for (auto& h : spinners) {
            weft::result<bool> r = co_await h;
            woke_while_spinning = woke_while_spinning && r.has_value() && *r;
        }
        break;
    case spinner::local_set: {
        weft::local_set set;
        woke_while_spinning = co_await set.run_until(spin_until(&st.woke, kind));
        break;
    }
    }
    if (writer.joinable()) writer.join();
    // Whatever happened, the waiter finishes now (the runtime parks).
    weft::result<void> w = co_await waiter;
    EXPECT_TRUE(w.has_value());
    co_return woke_while_spinning;
}

void run_all(weft_test::flavor f, spinner who) {
    std::size_t workers = f == weft_test::flavor::current_thread ? 1 : 2;
    for (spin_kind kind : {spin_kind::yield, spin_kind::ready_ops}) {
        for (wake_source src : {wake_source::socket_written_by_root,
                                wake_source::socket_written_by_thread, wake_source::timer}) {
            SCOPED_TRACE(::testing::Message()
                         << name(who) << " " << name(kind) << ", " << name(src));
            weft::runtime rt = weft_test::make_runtime(f);
            bool ok = rt.block_on(scenario(who, kind, src, workers));
            EXPECT_TRUE(ok) << "the waiter did not wake in " << spin_limit
                            << " laps of the spinner: the drivers were starved";
        }
    }
}

} // namespace

class DriverStarvation : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(DriverStarvation);

TEST_P(DriverStarvation, RootThatNeverWaitsLetsSocketsAndTimersWake) {
    run_all(GetParam(), spinner::root);
}

TEST_P(DriverStarvation, SpawnedTasksThatNeverWaitLetSocketsAndTimersWake) {
    run_all(GetParam(), spinner::spawned);
}

TEST_P(DriverStarvation, SpawnLocalTasksThatNeverWaitLetSocketsAndTimersWake) {
    run_all(GetParam(), spinner::pinned);
}

TEST_P(DriverStarvation, LocalSetTaskThatNeverWaitsLetsSocketsAndTimersWake) {
    run_all(GetParam(), spinner::local_set);
}
