// WEFT_ASSERT (detail/assert.hpp): on in Debug and sanitizer builds, the
// invariant checks stop the program at a broken precondition; off, they
// compile to nothing and do not evaluate their condition.
//
// The death tests break an invariant on purpose through white-box paths
// (a state word, a wait list, the timing wheel, a run queue), each one the
// kind of misuse an internal bug would produce. In builds without the
// asserts they are skipped and say so.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>

#include "scheduler/inject_queue.hpp"
#include "scheduler/multi_thread/local_queue.hpp"
#include "scheduler/task_ring.hpp"
#include "time/driver.hpp"
#include "weft/detail/assert.hpp"
#include "weft/detail/intrusive_list.hpp"
#include "weft/detail/task/state.hpp"
#include "weft/detail/task/wake.hpp"

namespace {

namespace d = weft::detail;
namespace bits = weft::detail::state_bits;

#define WEFT_SKIP_WITHOUT_ASSERTS()                                                                \
    do {                                                                                           \
        if (!WEFT_ASSERTS_ENABLED)                                                                 \
            GTEST_SKIP() << "WEFT_ASSERT is compiled out in this build (WEFT_ENABLE_ASSERTS is "   \
                            "not defined: a Release build with WEFT_ASSERTS=AUTO or OFF)";         \
        GTEST_FLAG_SET(death_test_style, "threadsafe");                                            \
    } while (0)

TEST(WeftAssert, EvaluatesItsConditionOnlyWhenEnabled) {
    int evaluated = 0;
    WEFT_ASSERT(++evaluated == 1, "the condition holds");
    EXPECT_EQ(evaluated, WEFT_ASSERTS_ENABLED ? 1 : 0);
#ifdef WEFT_ENABLE_ASSERTS
    EXPECT_EQ(WEFT_ASSERTS_ENABLED, 1);
#else
    EXPECT_EQ(WEFT_ASSERTS_ENABLED, 0);
#endif
}

TEST(WeftAssert, ValidTransitionsPass) {
    // A task's life on its state word: every precondition holds.
    d::task_state st{bits::initial};
    ASSERT_EQ(st.to_running(), d::to_running_result::success);
    EXPECT_EQ(st.to_idle(false), d::to_idle_result::ok); // the queue entry's reference goes
    EXPECT_EQ(st.notified_by_ref(), d::notify_result::submit);
    ASSERT_EQ(st.to_running(), d::to_running_result::success);
    EXPECT_TRUE(st.set_join_waker());
    d::state_snapshot before = st.to_complete();
    EXPECT_TRUE(before.is_running());
    EXPECT_FALSE(before.is_complete());
    st.unset_waker_after_complete();
    d::task_state::join_drop jd = st.join_handle_dropped();
    EXPECT_TRUE(jd.drop_output);
    EXPECT_EQ(st.load().refs(), 3u); // registry, queue entry, join handle
}

TEST(WeftAssertDeathTest, CompleteOnlyFromRunning) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::task_state w{bits::initial}; // NOTIFIED, not RUNNING
    EXPECT_DEATH((void)w.to_complete(), "weft: assertion failed: .*to_complete: only from RUNNING");
}

TEST(WeftAssertDeathTest, RunningRequiresNotified) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::task_state w{bits::ref_one | bits::join_interest}; // idle, not queued
    EXPECT_DEATH((void)w.to_running(), "to_running: an idle task popped from a queue is NOTIFIED");
}

TEST(WeftAssertDeathTest, JoinWakerOnlyWithJoinInterest) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::task_state w{bits::ref_one}; // no join handle
    EXPECT_DEATH((void)w.set_join_waker(), "set_join_waker: only a join handle sets the waker");
}

TEST(WeftAssertDeathTest, ReferenceCountNeverUnderflows) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    // A running task whose last reference a waker would drop: the poller's
    // reference is missing.
    d::task_state w{bits::running | bits::ref_one};
    EXPECT_DEATH((void)w.notified_by_val(), "notified_by_val: the poller holds a reference too");
}

struct list_node {
    list_node* prev = nullptr;
    list_node* next = nullptr;
};

TEST(WeftAssertDeathTest, ListPushOfALinkedNode) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    list_node a, b;
    list_node *head = nullptr, *tail = nullptr;
    d::list_push_back(head, tail, &a);
    d::list_push_back(head, tail, &b);
    EXPECT_DEATH(d::list_push_back(head, tail, &a),
                 "list_push_back: the node is not in a list already");
}

TEST(WeftAssertDeathTest, ListUnlinkOfANodeNotInTheList) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    list_node a, stranger;
    list_node *head = nullptr, *tail = nullptr;
    d::list_push_back(head, tail, &a);
    EXPECT_DEATH(d::list_unlink(head, tail, &stranger),
                 "list_unlink: a node without predecessor is the head");
}

TEST(WeftAssertDeathTest, WheelInsertTwice) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::timer_wheel wheel;
    d::timer_entry e;
    e.when = 10;
    wheel.insert(&e);
    EXPECT_DEATH(wheel.insert(&e), "wheel insert: the entry is not in the wheel already");
}

TEST(WeftAssertDeathTest, WheelInsertInThePast) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::timer_wheel wheel;
    std::vector<d::waker> out;
    wheel.advance_to(100, out);
    d::timer_entry e;
    e.when = 99;
    EXPECT_DEATH(wheel.insert(&e), "wheel insert: the deadline has not passed");
}

TEST(WeftAssertDeathTest, WheelRemoveOfAnEntryNotInTheWheel) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    d::timer_wheel wheel;
    d::timer_entry in, out;
    in.when = 10;
    wheel.insert(&in);
    EXPECT_DEATH(wheel.remove(&out), "wheel remove: only an entry that is in the wheel");
}

TEST(WeftAssertDeathTest, RunQueuePushOfATaskThatIsNotNotified) {
    WEFT_SKIP_WITHOUT_ASSERTS();
    // A header that is never run: no vtable entry is called.
    static constexpr d::task_vtable vt{};
    d::task_header t(&vt, nullptr, 1, nullptr);
    ASSERT_EQ(t.state.to_running(), d::to_running_result::success); // its queue entry was consumed
    d::inject_queue inject;
    d::local_queue q;
    EXPECT_DEATH(q.push_back(&t, inject), "local_queue push: the task is NOTIFIED");
    EXPECT_DEATH((void)inject.push(&t), "inject push: the task is NOTIFIED");
}

} // namespace
