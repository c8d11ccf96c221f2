// Write batching (src/io/write_batch.hpp, decision 0043): on the
// current-thread runtime the writes of one round go out in one
// io_uring_enter, a writer aborted before the flush sends nothing and
// leaves the socket usable, errors come back as values, and
// batch_writes(false) turns it off; the multi-thread runtime's workers send
// every write of their tasks through their own batches; yield_core_after
// decides when a flush yields the core. The NetFlavors and NetStress suites
// run every socket test on both runtimes with and without batching as well.
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>
#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

/// Whether this kernel (and seccomp profile) lets us set up an io_uring:
/// without one the runtime writes with send(2) and there is no batch.
bool io_uring_available() {
    io_uring_params p;
    std::memset(&p, 0, sizeof p);
    int fd = static_cast<int>(::syscall(__NR_io_uring_setup, 4, &p));
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

struct connected_pair {
    weft::net::tcp_stream client;
    weft::net::tcp_stream server;
};

weft::task<std::string> read_n(weft::net::tcp_stream& s, std::size_t n) {
    std::string out(n, '\0');
    auto r = co_await s.read_exact(
        std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()), out.size()));
    EXPECT_TRUE(r.has_value()) << r.message();
    co_return out;
}

/// A connected pair whose server side the reactor already knows writable
/// (a byte went through it, so an epoll_wait reported its state): a write
/// on it takes the batched path at once rather than waiting for an event.
weft::task<connected_pair> connect_pair() {
    auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
    std::string addr = "127.0.0.1:" + std::to_string(listener.local_addr().value().port());
    auto client = (co_await weft::net::tcp_stream::connect(addr)).value();
    auto server = (co_await listener.accept()).value();
    connected_pair p{std::move(client), std::move(server.first)};
    EXPECT_TRUE((co_await p.client.write_all("w")).has_value());
    EXPECT_EQ(co_await read_n(p.server, 1), "w");
    co_return p;
}

} // namespace

TEST(WriteBatch, WritesOfOneRoundGoOutInOneSystemCall) {
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
    weft::runtime rt = weft::runtime::current_thread().build();
    rt.block_on([&rt]() -> weft::task<> {
        constexpr int conns = 8;
        std::vector<connected_pair> pairs;
        for (int i = 0; i < conns; ++i)
            pairs.push_back(co_await connect_pair());
        weft::runtime_metrics before = rt.metrics();
        // Eight writers become ready together: they run in one round, each
        // queues its write, and the round ends with one flush.
        std::vector<weft::join_handle<void>> writers;
        for (int i = 0; i < conns; ++i)
            writers.push_back(weft::spawn(
                [](weft::net::tcp_stream* s, int i) -> weft::task<> {
                    auto w = co_await s->write_all("message " + std::to_string(i));
                    EXPECT_TRUE(w.has_value()) << w.message();
                },
                &pairs[static_cast<std::size_t>(i)].server, i));
        for (auto& w : writers)
            (void)co_await w;
        weft::runtime_metrics after = rt.metrics();
        EXPECT_EQ(after.io_batched_writes - before.io_batched_writes, 8u);
        EXPECT_EQ(after.io_write_batches - before.io_write_batches, 1u);
        for (int i = 0; i < conns; ++i) {
            std::string want = "message " + std::to_string(i);
            EXPECT_EQ(co_await read_n(pairs[static_cast<std::size_t>(i)].client, want.size()),
                      want);
        }
    });
}

TEST(WriteBatch, AWriterAbortedBeforeTheFlushSendsNothing) {
    weft::runtime rt = weft::runtime::current_thread().build();
    rt.block_on([&rt]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        connected_pair control = co_await connect_pair();
        weft::runtime_metrics before = rt.metrics();
        // Both writers queue their writes and suspend; the aborter, next in
        // the same round, aborts the first; its cancellation runs in that
        // round too, so its frame (and its queued write) is gone before the
        // flush, which sends the control's write alone.
        auto writer = weft::spawn(
            [](weft::net::tcp_stream* s) -> weft::task<> {
                (void)co_await s->write_all("must not be sent");
                ADD_FAILURE() << "the aborted writer went on";
            },
            &p.server);
        auto other = weft::spawn(
            [](weft::net::tcp_stream* s) -> weft::task<> {
                EXPECT_TRUE((co_await s->write_all("control")).has_value());
            },
            &control.server);
        auto aborter = weft::spawn(
            [](weft::abort_handle h) -> weft::task<> {
                h.abort();
                co_return;
            },
            writer.abort_handle());
        (void)co_await aborter;
        auto r = co_await writer;
        EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        (void)co_await other;
        EXPECT_EQ(co_await read_n(control.client, 7), "control");
        if (io_uring_available()) {
            weft::runtime_metrics after = rt.metrics();
            EXPECT_EQ(after.io_batched_writes - before.io_batched_writes, 1u);
            EXPECT_EQ(after.io_write_batches - before.io_write_batches, 1u);
        }
        // The socket is untouched: the next write is the first thing the peer reads.
        auto w = co_await p.server.write_all("after");
        EXPECT_TRUE(w.has_value()) << w.message();
        EXPECT_EQ(co_await read_n(p.client, 5), "after");
    });
}

TEST(WriteBatch, ErrorsComeBackAsValues) {
    weft::runtime rt = weft::runtime::current_thread().build();
    rt.block_on([]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        // The peer closes with unread data, so it resets the connection.
        (void)co_await p.server.write_all("x");
        { weft::net::tcp_stream gone = std::move(p.client); }
        std::error_code last;
        std::string chunk(64 * 1024, 'y');
        for (int i = 0; i < 64 && !last; ++i) {
            auto w = co_await p.server.write_all(chunk);
            if (!w) last = w.error();
        }
        EXPECT_TRUE(last == std::errc::connection_reset || last == std::errc::broken_pipe)
            << last.message();
    });
}

TEST(WriteBatch, OffMeansNoBatchAndTheSameResults) {
    weft::runtime rt = weft::runtime::current_thread().batch_writes(false).build();
    rt.block_on([&rt]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        auto w = co_await p.server.write_all("plain");
        EXPECT_TRUE(w.has_value()) << w.message();
        EXPECT_EQ(co_await read_n(p.client, 5), "plain");
        EXPECT_EQ(rt.metrics().io_batched_writes, 0u);
        EXPECT_EQ(rt.metrics().io_write_batches, 0u);
    });
}

namespace {

/// Sends `n` messages one after another through `p`, each its own round
/// and so its own flush, and reads them back.
weft::task<> write_one_at_a_time(connected_pair& p, int n) {
    for (int i = 0; i < n; ++i) {
        std::string m = "m" + std::to_string(i % 10);
        auto w = co_await p.server.write_all(m);
        EXPECT_TRUE(w.has_value()) << w.message();
        EXPECT_EQ(co_await read_n(p.client, m.size()), m);
    }
}

} // namespace

TEST(WriteBatch, YieldCoreAfterZeroYieldsAfterEveryFlushThatWokeAWriter) {
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
    weft::runtime rt =
        weft::runtime::current_thread().yield_core_after(std::chrono::microseconds(0)).build();
    rt.block_on([&rt]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        weft::runtime_metrics before = rt.metrics();
        co_await write_one_at_a_time(p, 20);
        weft::runtime_metrics after = rt.metrics();
        std::uint64_t batches = after.io_write_batches - before.io_write_batches;
        EXPECT_EQ(batches, 20u);
        EXPECT_EQ(after.core_yields - before.core_yields, batches);
    });
}

TEST(WriteBatch, YieldCoreAfterNulloptNeverYields) {
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
    weft::runtime rt = weft::runtime::current_thread().yield_core_after(std::nullopt).build();
    rt.block_on([&rt]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        co_await write_one_at_a_time(p, 20);
        EXPECT_GE(rt.metrics().io_write_batches, 20u);
        EXPECT_EQ(rt.metrics().core_yields, 0u);
    });
}

TEST(WriteBatch, YieldCoreAfterRejectsANegativeDuration) {
    try {
        (void)weft::runtime::current_thread().yield_core_after(std::chrono::microseconds(-1));
        ADD_FAILURE() << "a negative duration was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("yield_core_after"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
    }
}

// --- the multi-thread runtime: each worker batches its own writes (decision 0036)

namespace {

/// `writers` tasks, spawned onto the workers, each send `n` numbered
/// messages through its own connection; every message arrives, in order.
weft::task<> write_from_workers(int writers, int n) {
    std::vector<connected_pair> pairs;
    for (int i = 0; i < writers; ++i)
        pairs.push_back(co_await connect_pair());
    std::vector<weft::join_handle<void>> tasks;
    for (auto& p : pairs)
        tasks.push_back(weft::spawn(
            [](weft::net::tcp_stream* s, int n) -> weft::task<> {
                for (int i = 0; i < n; ++i) {
                    auto w = co_await s->write_all("message " + std::to_string(i % 10));
                    EXPECT_TRUE(w.has_value()) << w.message();
                }
            },
            &p.server, n));
    for (auto& t : tasks) {
        auto r = co_await t;
        EXPECT_TRUE(r.has_value());
    }
    for (auto& p : pairs)
        for (int i = 0; i < n; ++i) {
            std::string want = "message " + std::to_string(i % 10);
            EXPECT_EQ(co_await read_n(p.client, want.size()), want);
        }
}

} // namespace

TEST(WriteBatch, MultiThreadWorkersSendEveryWriteThroughTheirBatches) {
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    weft::runtime_metrics before = rt.metrics();
    rt.block_on(write_from_workers(8, 20));
    weft::runtime_metrics after = rt.metrics();
    // connect_pair's handshake byte is written by block_on's thread (not a
    // worker): send(2). Each of the 160 messages goes through a batch, and
    // no flush carries nothing.
    std::uint64_t writes = after.io_batched_writes - before.io_batched_writes;
    std::uint64_t batches = after.io_write_batches - before.io_write_batches;
    EXPECT_EQ(writes, 160u);
    EXPECT_GE(batches, 1u);
    EXPECT_LE(batches, writes);
}

TEST(WriteBatch, MultiThreadYieldCoreAfterZeroYieldsAfterEveryFlushThatWokeAWriter) {
    if (!io_uring_available()) GTEST_SKIP() << "io_uring is not available here";
    weft::runtime rt = weft::runtime::multi_thread()
                           .worker_threads(2)
                           .yield_core_after(std::chrono::microseconds(0))
                           .build();
    rt.block_on(write_from_workers(4, 20));
    weft::runtime_metrics m = rt.metrics();
    EXPECT_GE(m.io_write_batches, 1u);
    EXPECT_EQ(m.core_yields, m.io_write_batches);
}

TEST(WriteBatch, MultiThreadOffMeansNoBatch) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).batch_writes(false).build();
    rt.block_on(write_from_workers(4, 20));
    EXPECT_EQ(rt.metrics().io_batched_writes, 0u);
    EXPECT_EQ(rt.metrics().io_write_batches, 0u);
    EXPECT_EQ(rt.metrics().core_yields, 0u);
}

// Issue 14: a batched write that a flush performed but whose task was
// aborted before it resumed lost its count (the frames were destroyed at
// the write), so a caller that records progress after each write (as
// io::buf_writer::flush does) would send those bytes again. As in Tokio,
// where the write's system call and its Ready are one poll, the count now
// reaches the code after the write, and the abort lands at the next
// suspension (decision 0042). An aborter aborts the writer once the peer
// holds its bytes: on the current-thread runtime the writer then waits,
// woken by the flush, behind the aborter (the failing interleaving, every
// time); on the multi-thread one it may have run already. Either way every
// byte the peer got must have been reported to the writer's caller.
class WriteBatchAbort : public ::testing::TestWithParam<weft_test::flavor> {};
WEFT_INSTANTIATE_IO_FLAVORS(WriteBatchAbort);

TEST_P(WriteBatchAbort, AWriteTheFlushSentReachesItsCallerBeforeTheAbortLands) {
    weft::runtime rt = weft_test::make_runtime(GetParam());
    rt.block_on([]() -> weft::task<> {
        connected_pair p = co_await connect_pair();
        std::size_t reported = 0; // what the writer's caller saw sent
        auto writer = weft::spawn(
            [](weft::net::tcp_stream* s, std::size_t* reported) -> weft::task<> {
                auto n = co_await s->write("sent once");
                EXPECT_TRUE(n.has_value()) << n.message();
                if (n.has_value()) *reported = n.value();
                co_await weft::time::sleep(std::chrono::hours(1)); // the abort lands here
                ADD_FAILURE() << "the aborted writer went past its next suspension";
            },
            &p.server, &reported);
        // Two aborters wake each other, so the current-thread run queue is
        // never empty: the round ends at event_interval polls with one of
        // them queued, and the flush queues the writer behind it. (A task
        // that yields would wait until after the writer: decision 0040.)
        struct aborters {
            weft::sync::notify turn[2];
            weft::abort_handle writer;
            int peer;
            std::atomic<bool> done{false};
        } st{{}, writer.abort_handle(), p.client.native_handle()};
        auto aborter = [](aborters* st, int me) -> weft::task<> {
            for (int i = 0; i < 1000000 && !st->done.load(); ++i) {
                char c;
                if (::recv(st->peer, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
                    st->writer.abort();
                    st->done.store(true);
                    break;
                }
                st->turn[1 - me].notify_one();
                co_await st->turn[me].notified();
            }
            st->turn[1 - me].notify_one(); // let the other one see `done`
        };
        auto a0 = weft::spawn(aborter, &st, 0);
        auto a1 = weft::spawn(aborter, &st, 1);
        (void)co_await a0;
        (void)co_await a1;
        EXPECT_TRUE(st.done.load()) << "the write never reached the peer";
        auto r = co_await writer;
        EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        int avail = -1;
        EXPECT_EQ(::ioctl(st.peer, FIONREAD, &avail), 0);
        EXPECT_EQ(static_cast<std::size_t>(avail), reported)
            << "the peer got bytes that the writer's caller never saw sent";
        EXPECT_EQ(reported, 9u);
    });
}
