// sync::semaphore: permits, try_acquire, FIFO fairness with partial grants,
// close, limits, permit merge/split/forget, and cancellation (an aborted
// waiter returns what it was granted).
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "counted.hpp"
#include "runtimes.hpp"

using weft::sync::acquire_error;
using weft::sync::semaphore;
using weft::sync::semaphore_permit;
using weft::sync::try_acquire_error;

namespace {

// 0: current_thread; 1: multi_thread with ONE worker: "spawn, then yield"
// guarantees that the spawned waiter has registered (see notify_test.cpp).
weft::runtime make_ordered(int which) {
    if (which == 0) return weft::runtime::current_thread().build();
    return weft::runtime::multi_thread().worker_threads(1).build();
}
const char* ordered_label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

/// Acquires `n`, records `index` in `order`, holds the permit until `hold`
/// is notified (if given), then returns.
weft::task<int> acquirer(semaphore& s, std::size_t n, int index, std::mutex& mu,
                         std::vector<int>& order, weft::sync::notify* hold) {
    semaphore_permit p = co_await s.acquire(n);
    EXPECT_EQ(p.num_permits(), n);
    {
        std::lock_guard lk(mu);
        order.push_back(index);
    }
    if (hold) co_await hold->notified();
    co_return index;
}

} // namespace

class SemaphoreFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(SemaphoreFlavors);

TEST(Semaphore, TryAcquireTakesAndPermitsReturnOnDestruction) {
    semaphore s(3);
    EXPECT_EQ(s.available_permits(), 3u);
    {
        auto a = s.try_acquire(2);
        ASSERT_TRUE(a.has_value());
        EXPECT_EQ(a->num_permits(), 2u);
        EXPECT_EQ(s.available_permits(), 1u);
        auto b = s.try_acquire(2);
        ASSERT_FALSE(b);
        EXPECT_EQ(b.error(), try_acquire_error::no_permits);
        auto c = s.try_acquire();
        ASSERT_TRUE(c);
        EXPECT_EQ(s.available_permits(), 0u);
        auto zero = s.try_acquire(0);
        EXPECT_TRUE(zero) << "0 permits always succeed on an open semaphore";
    }
    EXPECT_EQ(s.available_permits(), 3u);
}

TEST(Semaphore, ForgetAddPermitsMergeSplit) {
    semaphore s(4);
    s.try_acquire().value().forget();
    EXPECT_EQ(s.available_permits(), 3u);
    s.add_permits(2);
    EXPECT_EQ(s.available_permits(), 5u);
    {
        semaphore_permit a = s.try_acquire(2).value();
        a.merge(s.try_acquire(1).value());
        EXPECT_EQ(a.num_permits(), 3u);
        EXPECT_EQ(s.available_permits(), 2u);
        std::optional<semaphore_permit> one = a.split(1);
        ASSERT_TRUE(one);
        EXPECT_EQ(one->num_permits(), 1u);
        EXPECT_EQ(a.num_permits(), 2u);
        EXPECT_FALSE(a.split(3)) << "cannot split more than held";
        semaphore other(1);
        semaphore_permit o = other.try_acquire().value();
        EXPECT_THROW(a.merge(std::move(o)), std::invalid_argument);
        semaphore_permit moved = std::move(a);
        EXPECT_EQ(moved.num_permits(), 2u);
        EXPECT_EQ(a.num_permits(), 0u);
    }
    EXPECT_EQ(s.available_permits(), 5u);
}

TEST(Semaphore, LimitsThrow) {
    EXPECT_THROW(semaphore(semaphore::max_permits + 1), std::invalid_argument);
    semaphore s(semaphore::max_permits - 1);
    EXPECT_THROW(s.add_permits(2), std::overflow_error);
    EXPECT_EQ(s.available_permits(), semaphore::max_permits - 1) << "a failed add changes nothing";
    s.add_permits(1);
    EXPECT_EQ(s.available_permits(), semaphore::max_permits);
    EXPECT_THROW((void)s.acquire(semaphore::max_permits + 1), std::invalid_argument);
}

TEST(Semaphore, CloseFailsTryAcquireButPermitsOutThereStayValid) {
    semaphore s(2);
    auto p = s.try_acquire();
    ASSERT_TRUE(p);
    EXPECT_FALSE(s.is_closed());
    s.close();
    EXPECT_TRUE(s.is_closed());
    auto q = s.try_acquire();
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error(), try_acquire_error::closed);
    EXPECT_EQ(s.try_acquire(0).error(), try_acquire_error::closed);
    { auto dead = std::move(*p); }
    EXPECT_EQ(s.available_permits(), 2u) << "a permit returned after close still counts";
    EXPECT_THROW(std::move(q).value(), std::logic_error);
}

TEST_P(SemaphoreFlavors, AcquireWaitsUntilAPermitIsReleased) {
    weft::runtime rt = make_runtime();
    semaphore s(1);
    std::mutex mu;
    std::vector<int> order;
    rt.block_on([&]() -> weft::task<> {
        semaphore_permit held = co_await s.acquire();
        EXPECT_EQ(s.available_permits(), 0u);
        auto h = weft::spawn(acquirer, std::ref(s), std::size_t{1}, 1, std::ref(mu),
                             std::ref(order), nullptr);
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(h.is_finished()) << "no permit: must wait";
        { auto drop = std::move(held); }
        weft::result<int> r = co_await h;
        EXPECT_EQ(r.value(), 1);
    });
    EXPECT_EQ(s.available_permits(), 1u);
}

TEST_P(SemaphoreFlavors, AReleaseFromAForeignThreadWakesTheWaiter) {
    weft::runtime rt = make_runtime();
    semaphore s(0);
    rt.block_on([&]() -> weft::task<> {
        std::thread t([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            s.add_permits(2);
        });
        semaphore_permit p = co_await s.acquire(2);
        EXPECT_EQ(p.num_permits(), 2u);
        t.join();
    });
    EXPECT_EQ(s.available_permits(), 2u);
}

TEST(Semaphore, WaitersAreServedFifoAndAHeadNeedingMoreBlocksSmallerOnes) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        semaphore s(0);
        std::mutex mu;
        std::vector<int> order;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                std::vector<weft::join_handle<int>> hs;
                const std::size_t need[] = {3, 1, 1, 2};
                for (int i = 0; i < 4; ++i) {
                    hs.push_back(weft::spawn(acquirer, std::ref(s), need[i], i, std::ref(mu),
                                             std::ref(order), nullptr));
                    co_await weft::yield_now(); // registered in order
                }
                s.add_permits(2); // the head (3) gets 2 of 3: nobody runs, none available
                co_await weft::yield_now();
                EXPECT_TRUE(order.empty()) << "the head needs 3: later waiters must not overtake";
                EXPECT_EQ(s.available_permits(), 0u) << "assigned to the head, not stealable";
                EXPECT_FALSE(s.try_acquire(1)) << "try_acquire must not overtake waiters";
                s.add_permits(1); // head complete
                (void)co_await hs[0];
                // Its 3 permits come back: 1 -> waiter 1, 1 -> waiter 2, 1 to waiter 3 (needs 2).
                for (std::size_t i = 1; i < 3; ++i)
                    (void)co_await hs[i];
                EXPECT_FALSE(hs[3].is_finished());
                s.add_permits(1);
                (void)co_await hs[3];
            });
            weft::result<void> r = co_await controller;
            EXPECT_TRUE(r.has_value());
        });
        EXPECT_EQ(order, std::vector<int>({0, 1, 2, 3}));
        EXPECT_EQ(s.available_permits(), 4u);
    }
}

TEST_P(SemaphoreFlavors, CloseFailsWaitersAndLaterAcquiresAndReturnsPartialGrants) {
    weft::runtime rt = make_runtime();
    semaphore s(1);
    std::atomic<int> closed_errors{0};
    const bool single = !multi(); // on current_thread the yields register every waiter
    rt.block_on([&]() -> weft::task<> {
        semaphore_permit held = co_await s.acquire(); // 0 left
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < 3; ++i)
            hs.push_back(weft::spawn([&]() -> weft::task<> {
                try {
                    auto p = co_await s.acquire(2);
                    ADD_FAILURE() << "acquired from a closed semaphore";
                } catch (const acquire_error& e) {
                    EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos);
                    closed_errors.fetch_add(1);
                }
            }));
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        s.add_permits(1); // assigned to the head waiter (needs 2): a partial grant
        if (single) {
            EXPECT_EQ(s.available_permits(), 0u);
        }
        s.close();
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
        EXPECT_EQ(closed_errors.load(), 3);
        EXPECT_EQ(s.available_permits(), 1u) << "the partial grant comes back on close";
        bool threw = false;
        try {
            (void)co_await s.acquire();
        } catch (const acquire_error&) {
            threw = true;
        }
        EXPECT_TRUE(threw) << "acquire after close fails at once";
        bool zero_threw = false;
        try {
            (void)co_await s.acquire(0);
        } catch (const acquire_error&) {
            zero_threw = true;
        }
        EXPECT_TRUE(zero_threw);
    });
    EXPECT_EQ(s.available_permits(), 2u);
}

TEST(Semaphore, AnAbortedWaiterReturnsItsPartialGrantToTheNextWaiters) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        semaphore s(0);
        std::mutex mu;
        std::vector<int> order;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto big = weft::spawn(acquirer, std::ref(s), std::size_t{5}, 0, std::ref(mu),
                                       std::ref(order), nullptr);
                co_await weft::yield_now();
                auto small = weft::spawn(acquirer, std::ref(s), std::size_t{2}, 1, std::ref(mu),
                                         std::ref(order), nullptr);
                co_await weft::yield_now();
                s.add_permits(3); // 3 of 5 assigned to `big`
                co_await weft::yield_now();
                EXPECT_FALSE(small.is_finished());
                big.abort();
                weft::result<int> rb = co_await big;
                EXPECT_TRUE(rb.error().is_cancelled());
                weft::result<int> rs = co_await small; // got 2 of big's 3
                EXPECT_EQ(rs.value(), 1);
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
        EXPECT_EQ(order, std::vector<int>({1}));
        EXPECT_EQ(s.available_permits(), 3u) << "permits lost or duplicated";
    }
}

TEST(Semaphore, AWaiterAbortedAfterItWasGrantedEverythingPassesThePermitsOn) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        semaphore s(0);
        std::mutex mu;
        std::vector<int> order;
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto first = weft::spawn(acquirer, std::ref(s), std::size_t{2}, 0, std::ref(mu),
                                         std::ref(order), nullptr);
                co_await weft::yield_now();
                auto second = weft::spawn(acquirer, std::ref(s), std::size_t{2}, 1, std::ref(mu),
                                          std::ref(order), nullptr);
                co_await weft::yield_now();
                s.add_permits(2); // granted to `first`, which has not run yet...
                first.abort();    // ...and is aborted before it does
                EXPECT_TRUE((co_await first).error().is_cancelled());
                EXPECT_EQ((co_await second).value(), 1);
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
        EXPECT_EQ(order, std::vector<int>({1}));
        EXPECT_EQ(s.available_permits(), 2u);
    }
}

TEST(Semaphore, PermitsTakenAtABudgetForcedYieldComeBackWhenTheTaskIsAborted) {
    // As in notify_test: the acquire is ready, but the cooperative budget is
    // spent, so the task yields holding the permits; aborted there, it must
    // give them back.
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        for (int j = 100; j <= 140; ++j) {
            semaphore s(2);
            std::atomic<int> completed{0};
            rt.block_on([&]() -> weft::task<> {
                auto controller = weft::spawn([&]() -> weft::task<> {
                    auto a = weft::spawn([&]() -> weft::task<> {
                        weft::sync::notify m;
                        for (int i = 0; i < j; ++i) {
                            m.notify_one();
                            co_await m.notified();
                        }
                        auto p = co_await s.acquire(2);
                        completed.fetch_add(1);
                    });
                    co_await weft::yield_now();
                    a.abort();
                    (void)co_await a;
                });
                EXPECT_TRUE((co_await controller).has_value());
            });
            EXPECT_EQ(s.available_permits(), 2u) << j << " ready operations first";
        }
    }
}

TEST_P(SemaphoreFlavors, ManyTasksNeverExceedThePermitCount) {
    weft::runtime rt = make_runtime();
    semaphore s(3);
    std::atomic<int> inside{0}, max_inside{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < 40; ++i)
            hs.push_back(weft::spawn([&, i]() -> weft::task<> {
                for (int k = 0; k < 20; ++k) {
                    auto p = co_await s.acquire(1 + static_cast<std::size_t>((i + k) % 2));
                    int now = inside.fetch_add(static_cast<int>(p.num_permits())) +
                              static_cast<int>(p.num_permits());
                    int m = max_inside.load();
                    while (now > m && !max_inside.compare_exchange_weak(m, now)) {
                    }
                    co_await weft::yield_now();
                    inside.fetch_sub(static_cast<int>(p.num_permits()));
                }
            }));
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
    });
    EXPECT_LE(max_inside.load(), 3);
    EXPECT_EQ(s.available_permits(), 3u);
}

TEST(Semaphore, AcquireOutsideATaskThrowsRuntimeErrorWhenItMustWait) {
    semaphore s(0);
    auto a = s.acquire();
    EXPECT_FALSE(a.await_ready());
    EXPECT_THROW(a.await_suspend(std::noop_coroutine()), weft::runtime_error);
    EXPECT_EQ(s.available_permits(), 0u);
}
