// The cancel-safety harness: every public awaitable, cancelled at each of its
// suspensions, in each of the three ways a user cancels, against the class
// its header documents.
//
//   struct recv_case : weft_test::cancel::scenario {
//       weft::sync::mpsc::sender<int> tx; weft::sync::mpsc::receiver<int> rx;
//       std::optional<int> got;
//       recv_case() { std::tie(tx, rx) = weft::sync::mpsc::channel<int>(4); }
//       weft::task<> op() override { got = co_await rx.recv(); }      // the awaitable
//       weft::task<bool> step(int i) override {                        // the outside world
//           if (i > 0) co_return false;
//           (void)tx.try_send(1);
//           co_return true;
//       }
//       weft::task<> check(bool completed) override { ... }           // the class holds
//   };
//   WEFT_CANCEL_CASE("sync::mpsc::receiver::recv", safe, recv_case);
//
// How one case runs (cancel_safety_test.cpp). For each way (losing a select,
// a timeout, abort() of the task) and for k = 0, 1, 2, ...:
//   1. A fresh current-thread runtime with the paused clock, a fresh scenario.
//   2. A task is spawned that awaits op() inside the way's wrapper:
//        select: select(biased, op(), trigger.notified())
//        timeout: timeout_at(now + 24h, op())
//        abort:  op() itself
//   3. The runtime settles (every task idle: the root sleeps on the paused
//      clock, which advances only when nothing else can run), then step(0),
//      settle, step(1), settle, ... k steps in all: op() has been suspended
//      k+1 times unless it finished.
//   4. If op() has not finished, it is cancelled: the trigger is notified,
//      the clock is advanced past the deadline, or the task is aborted;
//      then cancel_requested() acts at once, before that task runs again.
//   5. The runtime settles again and check(completed) asserts the class:
//      - safe: cancelling lost nothing and duplicated nothing; the object is
//        usable (check() uses it again);
//      - unsafe: what is lost is exactly what the header says, nothing more
//        (check() asserts that bound).
//   The k loop ends at the first k where op() finished before its cancel,
//   and must end: step() must eventually make op() complete (a case that
//   never completes its operation is a broken case, and fails).
//
// The names passed to WEFT_CANCEL_CASE are the ones in the guide's table
// (docs/guide/11-cancel-safety.md) and in each header's "Cancel safety
// (`name`):" line; CancelSafety.TableHeadersAndHarnessAgree fails when the
// three sets differ.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace weft_test::cancel {

/// The two classes of the table.
enum class safety { safe, unsafe };

/// One run of an awaitable under test. Built fresh for every (way, k), on
/// the runtime's thread, inside the runtime; destroyed there too.
struct scenario {
    virtual ~scenario() = default;
    /// Runs before op() is started (inside the runtime).
    virtual weft::task<> setup() { co_return; }
    /// Awaits the awaitable under test once, recording what it gave.
    virtual weft::task<> op() = 0;
    /// The i-th (0-based) action of the outside world that lets op() make
    /// progress. Gives false when there is no such action (op() is then
    /// expected to have completed).
    virtual weft::task<bool> step(int i) = 0;
    /// True for an operation that is woken at once after it suspends
    /// (yield_now, the test clock's advance): the harness then cancels it
    /// after one yield of the root, while it waits in the run queue, since
    /// settling would let it finish.
    virtual bool immediate() const { return false; }
    /// Called right after the cancel was requested, before the cancelled
    /// task runs again: what the outside world does here must not let the
    /// cancelled operation take effect (Tokio: nothing of an aborted
    /// operation happens after the abort unless it had completed).
    virtual void cancel_requested() {}
    /// After the cancel, or after op() completed: asserts the class.
    virtual weft::task<> check(bool completed) = 0;
};

/// A scenario whose outside world takes one synchronous action (a send, a
/// notify, a release), then none: the shape of most cases. `steps` says
/// whether it was taken, for check().
struct one_step_scenario : scenario {
    int steps = 0;
    /// The action.
    virtual void act() = 0;
    weft::task<bool> step(int i) final {
        if (i > 0) co_return false;
        ++steps;
        act();
        co_return true;
    }
};

struct cancel_case {
    std::string name; // as in the table, e.g. "sync::mpsc::receiver::recv"
    safety cls;
    std::function<std::unique_ptr<scenario>()> make;
};

/// Every case, from every translation unit that registers one.
inline std::vector<cancel_case>& registry() {
    static std::vector<cancel_case> cases;
    return cases;
}

struct registrar {
    registrar(std::string name, safety cls, std::function<std::unique_ptr<scenario>()> make) {
        registry().push_back(cancel_case{std::move(name), cls, std::move(make)});
    }
};

/// Lets every task of the current (paused, current-thread) runtime run
/// until none can: the root's sleep ends only when the runtime is idle,
/// after the I/O driver was polled. Used between steps and after a cancel.
/// Each call moves the paused clock by a few milliseconds (the timer
/// wheel's resolution), so time cases use periods of an hour.
inline weft::task<> settle() {
    for (int i = 0; i < 3; ++i)
        co_await weft::time::sleep(std::chrono::microseconds(1));
}

} // namespace weft_test::cancel

#define WEFT_CANCEL_CONCAT2(a, b) a##b
#define WEFT_CANCEL_CONCAT(a, b) WEFT_CANCEL_CONCAT2(a, b)
/// Registers scenario type S as the case `name` of class `cls` (safe, unsafe).
#define WEFT_CANCEL_CASE(name, cls, S)                                                             \
    static const ::weft_test::cancel::registrar WEFT_CANCEL_CONCAT(weft_cancel_case_, __LINE__)(   \
        name, ::weft_test::cancel::safety::cls,                                                    \
        []() -> std::unique_ptr<::weft_test::cancel::scenario> { return std::make_unique<S>(); })
