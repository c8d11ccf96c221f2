// White-box walk of the task state table (detail/task/state.hpp), in the
// spirit of Tokio's task_combinations.rs: for every transition, each
// outcome it can have (success, refusal, the reference it takes or drops)
// from a word set up by hand, and the resulting word bit for bit; and, in
// builds with WEFT_ASSERT on, that each precondition stops the program.
//
// The site bits (top 24) ride along in every word: no transition may touch
// them (decision 0027).
#include <gtest/gtest.h>

#include <cstdint>

#include "weft/detail/assert.hpp"
#include "weft/detail/task/state.hpp"

namespace {

namespace d = weft::detail;
namespace b = weft::detail::state_bits;

constexpr std::uint64_t site = std::uint64_t{0xabcdef} << b::site_shift;
constexpr std::uint64_t r1 = b::ref_one;
constexpr std::uint64_t r2 = 2 * b::ref_one;
constexpr std::uint64_t r3 = 3 * b::ref_one;

std::uint64_t word(const d::task_state& s) {
    return s.load().bits;
}

#define WEFT_SKIP_WITHOUT_ASSERTS()                                                                \
    do {                                                                                           \
        if (!WEFT_ASSERTS_ENABLED) GTEST_SKIP() << "WEFT_ASSERT is compiled out in this build";    \
        GTEST_FLAG_SET(death_test_style, "threadsafe");                                            \
    } while (0)

TEST(TaskState, SnapshotPredicatesNameTheBits) {
    d::state_snapshot s{b::initial | site};
    EXPECT_TRUE(s.is_notified());
    EXPECT_TRUE(s.has_join_interest());
    EXPECT_TRUE(s.is_idle());
    EXPECT_FALSE(s.is_running() || s.is_complete() || s.is_cancelled() || s.is_interrupted() ||
                 s.has_join_waker());
    EXPECT_EQ(s.refs(), 3u);
    EXPECT_EQ(s.site(), 0xabcdefu);
    d::state_snapshot all{b::running | b::complete | b::cancelled | b::interrupted | b::join_waker};
    EXPECT_TRUE(all.is_running() && all.is_complete() && all.is_cancelled() &&
                all.is_interrupted() && all.has_join_waker());
    EXPECT_FALSE(all.is_idle());
}

TEST(TaskState, ToRunning) {
    { // a queued idle task: NOTIFIED -> RUNNING, the reference stays
        d::task_state s{site | r3 | b::notified | b::join_interest};
        EXPECT_EQ(s.to_running(), d::to_running_result::success);
        EXPECT_EQ(word(s), site | r3 | b::running | b::join_interest);
    }
    { // aborted while queued: the poller must cancel
        d::task_state s{site | r2 | b::notified | b::cancelled};
        EXPECT_EQ(s.to_running(), d::to_running_result::cancelled);
        EXPECT_EQ(word(s), site | r2 | b::running | b::cancelled);
    }
    { // a stale entry of a task that shutdown claimed: gives its reference back
        d::task_state s{site | r2 | b::running | b::notified};
        EXPECT_EQ(s.to_running(), d::to_running_result::failed);
        EXPECT_EQ(word(s), site | r1 | b::running | b::notified);
    }
    { // a stale entry of a complete task holding the last reference
        d::task_state s{site | r1 | b::complete};
        EXPECT_EQ(s.to_running(), d::to_running_result::dealloc);
        EXPECT_EQ(word(s), site | b::complete);
    }
}

TEST(TaskState, ToIdle) {
    { // suspended, nobody woke it: the queue entry's reference goes
        d::task_state s{site | r2 | b::running};
        EXPECT_EQ(s.to_idle(false), d::to_idle_result::ok);
        EXPECT_EQ(word(s), site | r1);
    }
    { // ... and it was the last
        d::task_state s{site | r1 | b::running};
        EXPECT_EQ(s.to_idle(false), d::to_idle_result::ok_dealloc);
        EXPECT_EQ(word(s), site);
    }
    { // woken while running: rescheduled, the reference moves to the new entry
        d::task_state s{site | r2 | b::running | b::notified};
        EXPECT_EQ(s.to_idle(false), d::to_idle_result::ok_notified);
        EXPECT_EQ(word(s), site | r2 | b::notified);
    }
    { // yielded: as if NOTIFIED were set
        d::task_state s{site | r2 | b::running};
        EXPECT_EQ(s.to_idle(true), d::to_idle_result::ok_notified);
        EXPECT_EQ(word(s), site | r2 | b::notified);
    }
    { // aborted meanwhile: the word is left alone, the poller cancels
        d::task_state s{site | r2 | b::running | b::notified | b::cancelled};
        EXPECT_EQ(s.to_idle(false), d::to_idle_result::cancelled);
        EXPECT_EQ(word(s), site | r2 | b::running | b::notified | b::cancelled);
    }
}

TEST(TaskState, ToIdleAfterPeek) {
    {
        d::task_state s{site | r2 | b::running};
        EXPECT_EQ(s.to_idle_after_peek(), d::to_idle_result::ok);
        EXPECT_EQ(word(s), site | r1);
    }
    {
        d::task_state s{site | r1 | b::running};
        EXPECT_EQ(s.to_idle_after_peek(), d::to_idle_result::ok_dealloc);
        EXPECT_EQ(word(s), site);
    }
    { // woken during the peek
        d::task_state s{site | r2 | b::running | b::notified};
        EXPECT_EQ(s.to_idle_after_peek(), d::to_idle_result::ok_notified);
        EXPECT_EQ(word(s), site | r2 | b::notified);
    }
    { // aborted during the peek: rescheduled, not cancelled on this thread
        d::task_state s{site | r2 | b::running | b::cancelled};
        EXPECT_EQ(s.to_idle_after_peek(), d::to_idle_result::ok_notified);
        EXPECT_EQ(word(s), site | r2 | b::notified | b::cancelled);
    }
}

TEST(TaskState, ToIdleKeepCancelled) {
    {
        d::task_state s{site | r2 | b::running | b::cancelled};
        EXPECT_EQ(s.to_idle_keep_cancelled(), d::to_idle_result::ok);
        EXPECT_EQ(word(s), site | r1 | b::cancelled);
    }
    {
        d::task_state s{site | r1 | b::running | b::cancelled};
        EXPECT_EQ(s.to_idle_keep_cancelled(), d::to_idle_result::ok_dealloc);
        EXPECT_EQ(word(s), site | b::cancelled);
    }
    { // the flush's wake already came: reschedule
        d::task_state s{site | r2 | b::running | b::cancelled | b::notified};
        EXPECT_EQ(s.to_idle_keep_cancelled(), d::to_idle_result::ok_notified);
        EXPECT_EQ(word(s), site | r2 | b::cancelled | b::notified);
    }
}

TEST(TaskState, ToComplete) {
    d::task_state s{site | r2 | b::running | b::join_interest | b::join_waker};
    d::state_snapshot before = s.to_complete();
    EXPECT_EQ(before.bits, site | r2 | b::running | b::join_interest | b::join_waker);
    EXPECT_EQ(word(s), site | r2 | b::complete | b::join_interest | b::join_waker);
}

TEST(TaskState, NotifiedByVal) {
    { // idle: our reference becomes the queue entry's
        d::task_state s{site | r1};
        EXPECT_EQ(s.notified_by_val(), d::notify_result::submit);
        EXPECT_EQ(word(s), site | r1 | b::notified);
    }
    { // running: the poller reschedules; our reference goes
        d::task_state s{site | r2 | b::running};
        EXPECT_EQ(s.notified_by_val(), d::notify_result::do_nothing);
        EXPECT_EQ(word(s), site | r1 | b::running | b::notified);
    }
    { // already queued
        d::task_state s{site | r2 | b::notified};
        EXPECT_EQ(s.notified_by_val(), d::notify_result::do_nothing);
        EXPECT_EQ(word(s), site | r1 | b::notified);
    }
    { // complete, not our last reference
        d::task_state s{site | r2 | b::complete};
        EXPECT_EQ(s.notified_by_val(), d::notify_result::do_nothing);
        EXPECT_EQ(word(s), site | r1 | b::complete);
    }
    { // complete, our last reference
        d::task_state s{site | r1 | b::complete};
        EXPECT_EQ(s.notified_by_val(), d::notify_result::dealloc);
        EXPECT_EQ(word(s), site | b::complete);
    }
}

TEST(TaskState, NotifiedByRef) {
    { // idle: a new reference for the queue entry
        d::task_state s{site | r1};
        EXPECT_EQ(s.notified_by_ref(), d::notify_result::submit);
        EXPECT_EQ(word(s), site | r2 | b::notified);
    }
    { // running: NOTIFIED only
        d::task_state s{site | r2 | b::running};
        EXPECT_EQ(s.notified_by_ref(), d::notify_result::do_nothing);
        EXPECT_EQ(word(s), site | r2 | b::running | b::notified);
    }
    for (std::uint64_t w : {site | r1 | b::notified, site | r1 | b::complete}) {
        d::task_state s{w}; // queued or complete: unchanged
        EXPECT_EQ(s.notified_by_ref(), d::notify_result::do_nothing);
        EXPECT_EQ(word(s), w);
    }
}

TEST(TaskState, NotifiedAndCancel) {
    { // idle: the caller schedules it with a new reference
        d::task_state s{site | r1};
        EXPECT_TRUE(s.notified_and_cancel());
        EXPECT_EQ(word(s), site | r2 | b::notified | b::cancelled);
    }
    { // running: the poller cancels after its poll
        d::task_state s{site | r1 | b::running};
        EXPECT_FALSE(s.notified_and_cancel());
        EXPECT_EQ(word(s), site | r1 | b::running | b::notified | b::cancelled);
    }
    { // queued: the entry cancels when popped
        d::task_state s{site | r1 | b::notified};
        EXPECT_FALSE(s.notified_and_cancel());
        EXPECT_EQ(word(s), site | r1 | b::notified | b::cancelled);
    }
    for (std::uint64_t w : {site | r1 | b::cancelled, site | r1 | b::complete}) {
        d::task_state s{w}; // already cancelled or complete: refused
        EXPECT_FALSE(s.notified_and_cancel());
        EXPECT_EQ(word(s), w);
    }
}

TEST(TaskState, ToShutdown) {
    { // idle: claimed
        d::task_state s{site | r1 | b::notified};
        EXPECT_TRUE(s.to_shutdown());
        EXPECT_EQ(word(s), site | r1 | b::notified | b::running | b::cancelled);
    }
    { // running: marked, its poller cancels
        d::task_state s{site | r1 | b::running};
        EXPECT_FALSE(s.to_shutdown());
        EXPECT_EQ(word(s), site | r1 | b::running | b::cancelled);
    }
    { // complete: not claimed
        d::task_state s{site | r1 | b::complete};
        EXPECT_FALSE(s.to_shutdown());
        EXPECT_EQ(word(s), site | r1 | b::complete | b::cancelled);
    }
}

TEST(TaskState, JoinHandleDropped) {
    { // running, waker published: the handle takes the field back
        d::task_state s{site | r2 | b::running | b::join_interest | b::join_waker};
        d::task_state::join_drop j = s.join_handle_dropped();
        EXPECT_FALSE(j.drop_output);
        EXPECT_TRUE(j.drop_waker);
        EXPECT_EQ(word(s), site | r2 | b::running);
    }
    { // complete, waker still the task's: output dropped, the task clears the field
        d::task_state s{site | r1 | b::complete | b::join_interest | b::join_waker};
        d::task_state::join_drop j = s.join_handle_dropped();
        EXPECT_TRUE(j.drop_output);
        EXPECT_FALSE(j.drop_waker);
        EXPECT_EQ(word(s), site | r1 | b::complete | b::join_waker);
    }
    { // complete, no waker
        d::task_state s{site | r1 | b::complete | b::join_interest};
        d::task_state::join_drop j = s.join_handle_dropped();
        EXPECT_TRUE(j.drop_output);
        EXPECT_TRUE(j.drop_waker);
        EXPECT_EQ(word(s), site | r1 | b::complete);
    }
}

TEST(TaskState, JoinWakerFieldHandover) {
    {
        d::task_state s{site | r1 | b::join_interest};
        EXPECT_TRUE(s.set_join_waker());
        EXPECT_EQ(word(s), site | r1 | b::join_interest | b::join_waker);
        EXPECT_TRUE(s.unset_join_waker());
        EXPECT_EQ(word(s), site | r1 | b::join_interest);
    }
    for (std::uint64_t w : {site | r1 | b::join_interest | b::complete,
                            site | r1 | b::join_interest | b::join_waker | b::complete}) {
        d::task_state s{w}; // completed first: refused, the word unchanged
        EXPECT_FALSE(s.set_join_waker());
        EXPECT_FALSE(s.unset_join_waker());
        EXPECT_EQ(word(s), w);
    }
    {
        d::task_state s{site | r1 | b::complete | b::join_interest | b::join_waker};
        d::state_snapshot before = s.unset_waker_after_complete();
        EXPECT_TRUE(before.has_join_waker());
        EXPECT_EQ(word(s), site | r1 | b::complete | b::join_interest);
    }
}

TEST(TaskState, References) {
    d::task_state s{site | r1 | b::notified};
    s.ref_inc();
    s.ref_inc();
    EXPECT_EQ(word(s), site | r3 | b::notified);
    EXPECT_FALSE(s.ref_dec(2));
    EXPECT_EQ(word(s), site | r1 | b::notified);
    EXPECT_TRUE(s.ref_dec(1));
    EXPECT_EQ(word(s), site | b::notified);
}

TEST(TaskState, ClaimForPeek) {
    {
        d::task_state s{site | r1 | b::join_interest};
        EXPECT_TRUE(s.claim_for_peek());
        EXPECT_EQ(word(s), site | r1 | b::join_interest | b::running);
    }
    for (std::uint64_t w :
         {site | r1 | b::running, site | r1 | b::complete, site | r1 | b::notified}) {
        d::task_state s{w}; // someone else's frames: left alone
        EXPECT_FALSE(s.claim_for_peek());
        EXPECT_EQ(word(s), w);
    }
}

TEST(TaskState, Interrupted) {
    d::task_state s{site | r1 | b::running};
    s.set_interrupted();
    EXPECT_TRUE(s.load().is_interrupted());
    s.set_interrupted(); // a second timeout before the poll: idempotent
    EXPECT_EQ(word(s), site | r1 | b::running | b::interrupted);
    s.clear_interrupted();
    EXPECT_EQ(word(s), site | r1 | b::running);
}

TEST(TaskState, BranchWord) {
    d::task_state s{b::initial};
    s.init_branch();
    EXPECT_EQ(word(s), r1 | b::notified);
    s.take_branch_notified();
    EXPECT_EQ(word(s), r1);
    s.set_branch_notified();
    EXPECT_EQ(word(s), r1 | b::notified);
    s.seal_branch();
    EXPECT_EQ(word(s), r1 | b::notified | b::complete);
    s.init_join_set_entry();
    EXPECT_EQ(word(s), r1);
}

// Every precondition WEFT_ASSERT (Debug and sanitizer builds).
TEST(TaskStateDeathTest, PreconditionsFire) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    auto dies = [](std::uint64_t w, auto op, const char* msg) {
        EXPECT_DEATH(
            {
                d::task_state s{w};
                op(s);
            },
            msg)
            << msg;
    };
    dies(
        0, [](d::task_state& s) { (void)s.to_running(); }, "to_running: the caller holds");
    dies(
        r1, [](d::task_state& s) { (void)s.to_running(); }, "popped from a queue is NOTIFIED");
    dies(
        r1, [](d::task_state& s) { (void)s.to_idle(false); }, "to_idle: the poller holds RUNNING");
    dies(
        b::running, [](d::task_state& s) { (void)s.to_idle(false); },
        "to_idle: the poller holds the queue");
    dies(
        r1, [](d::task_state& s) { (void)s.to_idle_after_peek(); }, "the peek holds RUNNING");
    dies(
        r1 | b::cancelled, [](d::task_state& s) { (void)s.to_idle_keep_cancelled(); },
        "to_idle_keep_cancelled: the poller holds RUNNING");
    dies(
        r1 | b::notified, [](d::task_state& s) { (void)s.to_complete(); },
        "to_complete: only from RUNNING");
    dies(
        b::running, [](d::task_state& s) { (void)s.to_complete(); },
        "to_complete: the poller holds a reference");
    dies(
        0, [](d::task_state& s) { (void)s.notified_by_val(); }, "the waker holds a reference");
    dies(
        r1 | b::running, [](d::task_state& s) { (void)s.notified_by_val(); },
        "the poller holds a reference too");
    dies(
        0, [](d::task_state& s) { (void)s.notified_by_ref(); }, "notified_by_ref: the waker");
    dies(
        0, [](d::task_state& s) { (void)s.notified_and_cancel(); },
        "notified_and_cancel: the caller holds");
    dies(
        0, [](d::task_state& s) { (void)s.to_shutdown(); }, "to_shutdown: the caller holds");
    dies(
        r1, [](d::task_state& s) { (void)s.join_handle_dropped(); }, "a join handle exists");
    dies(
        r1, [](d::task_state& s) { (void)s.set_join_waker(); }, "only a join handle sets");
    dies(
        r1 | b::join_interest | b::join_waker, [](d::task_state& s) { (void)s.set_join_waker(); },
        "the field is the handle's");
    dies(
        r1, [](d::task_state& s) { (void)s.unset_join_waker(); }, "only a join handle unsets");
    dies(
        r1 | b::join_interest, [](d::task_state& s) { (void)s.unset_join_waker(); },
        "unset_join_waker: a waker is published");
    dies(
        r1 | b::complete, [](d::task_state& s) { (void)s.unset_waker_after_complete(); },
        "completed with a waker published");
    dies(
        0, [](d::task_state& s) { s.ref_inc(); }, "taking a reference requires holding one");
    dies(
        r1, [](d::task_state& s) { (void)s.ref_dec(2); }, "drops only references that are held");
    dies(
        0, [](d::task_state& s) { (void)s.claim_for_peek(); }, "peek_suspension: the caller");
    dies(
        r1 | b::running, [](d::task_state& s) { s.clear_interrupted(); },
        "clear_interrupted: INTERRUPTED is set");
    dies(
        r1 | b::notified | b::complete, [](d::task_state& s) { s.take_branch_notified(); },
        "only the pass clears a live branch's NOTIFIED");
    dies(
        0, [](d::task_state& s) { s.seal_branch(); }, "seal: the branch_set holds");
}

} // namespace
