// weft::cancellation_token: shared state, cancelled() waiters, child-token
// trees (propagation down only, children of cancelled tokens, re-parenting
// when a middle token is dropped), drop guards, and waiters withdrawn by abort.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft::cancellation_token;

class CancellationTokenFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(CancellationTokenFlavors);

TEST(CancellationToken, CopiesShareStateAndCancelIsIdempotent) {
    cancellation_token a;
    cancellation_token b = a;
    cancellation_token other;
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a == other);
    EXPECT_FALSE(a.is_cancelled());
    b.cancel();
    EXPECT_TRUE(a.is_cancelled());
    EXPECT_TRUE(b.is_cancelled());
    EXPECT_FALSE(other.is_cancelled());
    a.cancel(); // no effect
    EXPECT_TRUE(a.is_cancelled());
    cancellation_token moved = std::move(a); // a move copies: `a` stays usable
    EXPECT_TRUE(a.is_cancelled());
    EXPECT_TRUE(moved.is_cancelled());
    other = b;
    EXPECT_TRUE(other.is_cancelled());
}

TEST(CancellationToken, ChildTreesPropagateDownOnly) {
    cancellation_token root;
    cancellation_token child = root.child_token();
    cancellation_token grandchild = child.child_token();
    cancellation_token sibling = root.child_token();
    EXPECT_FALSE(child == root);

    child.cancel();
    EXPECT_TRUE(child.is_cancelled());
    EXPECT_TRUE(grandchild.is_cancelled());
    EXPECT_FALSE(root.is_cancelled()) << "cancelling a child does not cancel its parent";
    EXPECT_FALSE(sibling.is_cancelled());

    cancellation_token late = child.child_token();
    EXPECT_TRUE(late.is_cancelled()) << "a child of a cancelled token starts cancelled";

    root.cancel();
    EXPECT_TRUE(sibling.is_cancelled());
}

TEST(CancellationToken, DroppingAMiddleTokenKeepsTheGrandchildConnected) {
    cancellation_token root;
    std::optional<cancellation_token> middle = root.child_token();
    cancellation_token grandchild = middle->child_token();
    cancellation_token other_branch =
        middle->child_token().child_token(); // its parent dies at once
    middle.reset();                          // grandchild re-parented to root
    EXPECT_FALSE(grandchild.is_cancelled());
    root.cancel();
    EXPECT_TRUE(grandchild.is_cancelled());
    EXPECT_TRUE(other_branch.is_cancelled());
}

TEST(CancellationToken, DroppedChildrenUnregisterFromTheirParent) {
    // Under ASan a child left linked into its parent after it was freed
    // shows as a use-after-free when the parent cancels (and a leak if never freed).
    cancellation_token root;
    std::vector<cancellation_token> kept;
    for (int i = 0; i < 1000; ++i) {
        cancellation_token c = root.child_token();
        cancellation_token gc = c.child_token();
        if (i % 100 == 0) kept.push_back(gc);
    }
    // Dropping the root while children live: they become roots.
    {
        cancellation_token temp_root;
        kept.push_back(temp_root.child_token());
    }
    EXPECT_FALSE(kept.back().is_cancelled());
    kept.back().cancel();
    root.cancel();
    for (auto& k : kept)
        EXPECT_TRUE(k.is_cancelled());
}

TEST(CancellationToken, DropGuardCancelsUnlessDisarmed) {
    cancellation_token t;
    { auto g = t.drop_guard(); }
    EXPECT_TRUE(t.is_cancelled());

    cancellation_token u;
    {
        auto g = u.drop_guard();
        EXPECT_TRUE(g.armed());
        cancellation_token back = g.disarm();
        EXPECT_FALSE(g.armed());
        EXPECT_TRUE(back == u);
        auto moved = std::move(g); // disarmed stays disarmed
        EXPECT_FALSE(moved.armed());
    }
    EXPECT_FALSE(u.is_cancelled());

    cancellation_token v;
    {
        auto g = v.drop_guard();
        auto moved = std::move(g);
        EXPECT_FALSE(g.armed());
        EXPECT_TRUE(moved.armed());
    }
    EXPECT_TRUE(v.is_cancelled()) << "the moved-to guard cancels, once";
}

TEST_P(CancellationTokenFlavors, CancelledWakesEveryWaiterOnTheTreeBelow) {
    weft::runtime rt = make_runtime();
    cancellation_token root;
    std::atomic<int> woke{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        cancellation_token child = root.child_token();
        for (int i = 0; i < 6; ++i) {
            cancellation_token t = i % 3 == 0 ? root : i % 3 == 1 ? child : child.child_token();
            hs.push_back(weft::spawn(
                [&woke](cancellation_token tok) -> weft::task<> {
                    co_await tok.cancelled();
                    EXPECT_TRUE(tok.is_cancelled());
                    woke.fetch_add(1);
                },
                t));
        }
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_EQ(woke.load(), 0);
        root.cancel();
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
        EXPECT_EQ(woke.load(), 6);
        co_await root.cancelled(); // already cancelled: at once
        co_await child.cancelled();
    });
}

TEST_P(CancellationTokenFlavors, CancellingAChildWakesOnlyItsWaiters) {
    weft::runtime rt = make_runtime();
    cancellation_token root;
    rt.block_on([&]() -> weft::task<> {
        cancellation_token child = root.child_token();
        auto on_root = weft::spawn([root]() -> weft::task<> { co_await root.cancelled(); });
        auto on_child = weft::spawn([child]() -> weft::task<> { co_await child.cancelled(); });
        child.cancel();
        EXPECT_TRUE((co_await on_child).has_value());
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(on_root.is_finished());
        root.cancel();
        EXPECT_TRUE((co_await on_root).has_value());
    });
}

TEST_P(CancellationTokenFlavors, CancelFromAForeignThreadWakesTheWaiter) {
    weft::runtime rt = make_runtime();
    cancellation_token t;
    rt.block_on([&]() -> weft::task<> {
        std::thread th([t] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            t.cancel();
        });
        co_await t.child_token().cancelled();
        th.join();
    });
}

TEST_P(CancellationTokenFlavors, AnAbortedWaiterWithdrawsAndCountedObjectsDie) {
    weft::runtime rt = make_runtime();
    cancellation_token t;
    weft_test::counter c;
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < 4; ++i)
            hs.push_back(weft::spawn(
                [t](weft_test::counted obj) -> weft::task<> {
                    co_await t.cancelled();
                    (void)obj.value();
                },
                weft_test::counted(c, i)));
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        hs[0].abort();
        hs[2].abort();
        EXPECT_TRUE((co_await hs[0]).error().is_cancelled());
        EXPECT_TRUE((co_await hs[2]).error().is_cancelled());
        t.cancel();
        EXPECT_TRUE((co_await hs[1]).has_value());
        EXPECT_TRUE((co_await hs[3]).has_value());
    });
    EXPECT_EQ(c.alive(), 0);
}

TEST_P(CancellationTokenFlavors, ADropGuardInAnAbortedTaskCancels) {
    weft::runtime rt = make_runtime();
    cancellation_token t;
    weft::sync::notify never;
    std::atomic<bool> armed{false};
    rt.block_on([&]() -> weft::task<> {
        auto h = weft::spawn([&]() -> weft::task<> {
            auto guard = t.drop_guard();
            armed.store(true);
            co_await never.notified();
        });
        auto watcher = weft::spawn([t]() -> weft::task<> { co_await t.cancelled(); });
        while (!armed.load())
            co_await weft::yield_now();
        EXPECT_FALSE(t.is_cancelled());
        h.abort();
        (void)co_await h;
        EXPECT_TRUE((co_await watcher).has_value());
        EXPECT_TRUE(t.is_cancelled());
    });
}

TEST(CancellationToken, CancelledOutsideATaskThrowsWhenItMustWait) {
    cancellation_token t;
    auto a = t.cancelled();
    EXPECT_FALSE(a.await_ready());
    EXPECT_THROW(a.await_suspend(std::noop_coroutine()), weft::runtime_error);
    t.cancel();
    auto b = t.cancelled();
    EXPECT_TRUE(b.await_ready());
}
