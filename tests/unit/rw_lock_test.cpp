// sync::rw_lock<T>: shared readers, exclusive writers, try_read/try_write,
// write preference with FIFO order, downgrade, and cancellation (an aborted
// waiting writer returns the permits it collected).
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

using weft::sync::rw_lock;

namespace {

weft::runtime make_ordered(int which) {
    if (which == 0) return weft::runtime::current_thread().build();
    return weft::runtime::multi_thread().worker_threads(1).build();
}
const char* ordered_label(int which) {
    return which == 0 ? "current_thread" : "multi_thread(1 worker)";
}

} // namespace

class RwLockFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(RwLockFlavors);

TEST(RwLock, ReadersShareWritersExclude) {
    rw_lock<int> l(5);
    {
        auto r1 = l.try_read();
        auto r2 = l.try_read();
        ASSERT_TRUE(r1 && r2);
        EXPECT_EQ(**r1 + **r2, 10);
        EXPECT_FALSE(l.try_write()) << "readers hold it";
    }
    {
        auto w = l.try_write();
        ASSERT_TRUE(w);
        **w = 6;
        EXPECT_FALSE(l.try_read()) << "a writer holds it";
        EXPECT_FALSE(l.try_write());
    }
    EXPECT_EQ(**l.try_read(), 6);
    EXPECT_EQ(l.get_mut(), 6);
    static_assert(rw_lock<int>::max_readers == (1u << 29) - 1);
}

TEST(RwLock, DowngradeKeepsReadAccessAndLetsReadersIn) {
    rw_lock<int> l(0);
    auto w = l.try_write();
    ASSERT_TRUE(w);
    **w = 3;
    auto r = std::move(*w).downgrade();
    EXPECT_EQ(*r, 3);
    EXPECT_FALSE(l.try_write()) << "still read-locked";
    EXPECT_TRUE(l.try_read()) << "other readers may enter";
    r.unlock();
    EXPECT_TRUE(l.try_write());
}

TEST_P(RwLockFlavors, ReadersRunTogetherAndAWriterWaitsForThemAll) {
    weft::runtime rt = make_runtime();
    rw_lock<int> l(0);
    rt.block_on([&]() -> weft::task<> {
        auto r1 = co_await l.read();
        auto r2 = co_await l.read(); // a second reader while one holds: no wait
        auto writer = weft::spawn([&]() -> weft::task<int> {
            auto w = co_await l.write();
            *w = 1;
            co_return 1;
        });
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(writer.is_finished());
        r1.unlock();
        for (int i = 0; i < 10; ++i)
            co_await weft::yield_now();
        EXPECT_FALSE(writer.is_finished()) << "one reader still holds it";
        r2.unlock();
        EXPECT_EQ((co_await writer).value(), 1);
        auto r3 = co_await l.read();
        EXPECT_EQ(*r3, 1);
    });
}

TEST(RwLock, AWaitingWriterBlocksLaterReadersAndOrderIsFifo) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        rw_lock<int> l(0);
        std::mutex mu;
        std::vector<std::string> order;
        auto log = [&](std::string s) {
            std::lock_guard lk(mu);
            order.push_back(std::move(s));
        };
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto r = co_await l.read();
                auto writer = weft::spawn([&]() -> weft::task<> {
                    auto w = co_await l.write();
                    log("writer");
                    co_await weft::yield_now();
                });
                co_await weft::yield_now(); // the writer waits now
                EXPECT_FALSE(l.try_read()) << "a waiting writer blocks new readers";
                auto reader = weft::spawn([&]() -> weft::task<> {
                    auto r2 = co_await l.read();
                    log("reader");
                });
                co_await weft::yield_now();
                EXPECT_FALSE(reader.is_finished()) << "queued behind the writer";
                r.unlock();
                (void)co_await writer;
                (void)co_await reader;
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
        EXPECT_EQ(order, std::vector<std::string>({"writer", "reader"}));
    }
}

TEST(RwLock, AnAbortedWaitingWriterReturnsWhatItCollected) {
    for (int which : {0, 1}) {
        SCOPED_TRACE(ordered_label(which));
        weft::runtime rt = make_ordered(which);
        rw_lock<int> l(0);
        rt.block_on([&]() -> weft::task<> {
            auto controller = weft::spawn([&]() -> weft::task<> {
                auto r = co_await l.read(); // the writer collects all permits but this one
                auto writer = weft::spawn([&]() -> weft::task<> {
                    auto w = co_await l.write();
                    ADD_FAILURE() << "the writer was aborted while waiting";
                });
                co_await weft::yield_now();
                auto reader = weft::spawn([&]() -> weft::task<int> {
                    auto r2 = co_await l.read();
                    co_return 9;
                });
                co_await weft::yield_now();
                EXPECT_FALSE(reader.is_finished());
                writer.abort();
                EXPECT_TRUE((co_await writer).error().is_cancelled());
                EXPECT_EQ((co_await reader).value(), 9) << "the writer's permits went back";
                r.unlock();
                EXPECT_TRUE(l.try_write()) << "no permit lost";
            });
            EXPECT_TRUE((co_await controller).has_value());
        });
    }
}

TEST_P(RwLockFlavors, WritersExcludeEveryoneUnderContention) {
    weft::runtime rt = make_runtime();
    rw_lock<long> l(0);
    std::atomic<int> readers{0}, writers{0}, violations{0};
    rt.block_on([&]() -> weft::task<> {
        std::vector<weft::join_handle<void>> hs;
        for (int i = 0; i < 12; ++i)
            hs.push_back(weft::spawn([&, i]() -> weft::task<> {
                for (int k = 0; k < 40; ++k) {
                    if ((i + k) % 4 == 0) {
                        auto w = co_await l.write();
                        if (writers.fetch_add(1) != 0 || readers.load() != 0)
                            violations.fetch_add(1);
                        long v = *w;
                        co_await weft::yield_now();
                        *w = v + 1;
                        writers.fetch_sub(1);
                    } else {
                        auto r = co_await l.read();
                        readers.fetch_add(1);
                        if (writers.load() != 0) violations.fetch_add(1);
                        co_await weft::yield_now();
                        readers.fetch_sub(1);
                    }
                }
            }));
        for (auto& h : hs)
            EXPECT_TRUE((co_await h).has_value());
    });
    EXPECT_EQ(violations.load(), 0);
    EXPECT_EQ(l.get_mut(), 12 * 40 / 4);
}
