// weft::net, weft::io and weft::signal over loopback, on both runtimes:
// echo, errors as values (refused, end of stream, address in use, bad
// address), into_split from two tasks, aborting tasks blocked in read and
// accept, I/O flowing while a worker runs a long task, UDP, Unix sockets,
// io::copy, buffered reader/writer, and signals.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

using weft::io::bytes;

std::span<std::byte> as_bytes(std::string& s) {
    return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}

/// A listener on a free loopback port, and the address to connect to.
struct server {
    weft::net::tcp_listener listener;
    std::string addr;
};

server listen_any() {
    server s;
    s.listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
    s.addr = "127.0.0.1:" + std::to_string(s.listener.local_addr().value().port());
    return s;
}

/// Echoes one connection until end of stream.
weft::task<> echo(weft::net::tcp_stream s) {
    std::byte buf[4096];
    for (;;) {
        weft::io::result<std::size_t> n = co_await s.read(buf);
        if (!n || *n == 0) co_return;
        weft::io::result<void> w = co_await s.write_all(std::span<const std::byte>(buf, *n));
        if (!w) co_return;
    }
}

} // namespace

class NetFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_IO_FLAVORS(NetFlavors);

TEST_P(NetFlavors, EchoOverLoopback) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        auto acceptor = weft::spawn([&srv]() -> weft::task<> {
            auto conn = co_await srv.listener.accept();
            EXPECT_TRUE(conn.has_value()) << conn.message();
            if (!conn) co_return;
            EXPECT_TRUE(conn->second.is_ipv4());
            co_await echo(std::move(conn->first));
        });
        auto c = co_await weft::net::tcp_stream::connect(srv.addr);
        EXPECT_TRUE(c.has_value()) << c.message();
        if (!c) co_return;
        weft::net::tcp_stream s = std::move(c).value();
        EXPECT_TRUE(s.set_nodelay(true).has_value());
        EXPECT_TRUE(*s.nodelay());
        EXPECT_EQ(s.peer_addr().value().port(), srv.listener.local_addr().value().port());
        for (int i = 0; i < 100; ++i) {
            std::string msg = "message " + std::to_string(i);
            auto w = co_await s.write_all(msg);
            EXPECT_TRUE(w.has_value()) << w.message();
            std::string back(msg.size(), '\0');
            auto r = co_await s.read_exact(as_bytes(back));
            EXPECT_TRUE(r.has_value()) << r.message();
            EXPECT_EQ(back, msg);
        }
        EXPECT_TRUE(s.shutdown(weft::net::shutdown_how::write).has_value());
        std::byte b[1];
        auto eof = co_await s.read(b);
        EXPECT_TRUE(eof.has_value());
        EXPECT_EQ(*eof, 0u) << "end of stream is a read of 0 bytes";
        auto done = co_await acceptor;
        EXPECT_TRUE(done.has_value());
    });
}

TEST_P(NetFlavors, LargeTransferKeepsEveryByteInOrder) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        constexpr std::size_t total = 4 << 20; // more than the socket buffers hold
        auto sender = weft::spawn([&srv]() -> weft::task<> {
            auto conn = (co_await srv.listener.accept()).value();
            std::vector<std::byte> data(total);
            for (std::size_t i = 0; i < total; ++i)
                data[i] = static_cast<std::byte>(i * 7 + i / 251);
            auto w = co_await conn.first.write_all(data);
            EXPECT_TRUE(w.has_value()) << w.message();
        });
        auto s = (co_await weft::net::tcp_stream::connect(srv.addr)).value();
        std::vector<std::byte> got(total);
        auto r = co_await s.read_exact(got);
        EXPECT_TRUE(r.has_value()) << r.message();
        std::size_t bad = 0;
        for (std::size_t i = 0; i < total; ++i)
            if (got[i] != static_cast<std::byte>(i * 7 + i / 251)) ++bad;
        EXPECT_EQ(bad, 0u);
        (void)co_await sender;
        std::byte b[1];
        auto eof = co_await s.read_exact(b);
        EXPECT_EQ(eof.error(), weft::io::error::unexpected_eof);
    });
}

TEST_P(NetFlavors, RefusedIsAnErrorCodeNotAnException) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        std::string addr;
        {
            server srv = listen_any();
            addr = srv.addr;
        } // closed: nothing listens there now
        auto c = co_await weft::net::tcp_stream::connect(addr);
        EXPECT_FALSE(c.has_value());
        EXPECT_EQ(c.error(), std::errc::connection_refused);
        EXPECT_NE(c.message().find(addr), std::string::npos) << c.message();
    });
}

TEST_P(NetFlavors, AddressInUseAndBadAddressesNameTheAddress) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        auto again = weft::net::tcp_listener::bind(srv.addr);
        EXPECT_FALSE(again.has_value());
        EXPECT_EQ(again.error(), std::errc::address_in_use);
        EXPECT_NE(again.message().find(srv.addr), std::string::npos) << again.message();
        try {
            (void)again.value();
            ADD_FAILURE() << "value() of an error must throw";
        } catch (const std::system_error& e) {
            EXPECT_NE(std::string(e.what()).find(srv.addr), std::string::npos) << e.what();
        }
        for (const char* bad : {"localhost:80", "127.0.0.1", "127.0.0.1:99999", "::1:80", ""}) {
            auto b = weft::net::tcp_listener::bind(bad);
            EXPECT_EQ(b.error(), std::errc::invalid_argument) << bad;
            EXPECT_NE(b.message().find("'" + std::string(bad) + "'"), std::string::npos)
                << b.message();
        }
        auto v6 = weft::net::socket_address::parse("[::1]:8080");
        EXPECT_TRUE(v6.has_value());
        EXPECT_EQ(v6->to_string(), "[::1]:8080");
        co_return;
    });
}

TEST_P(NetFlavors, SplitHalvesWorkFromTwoTasks) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        auto acceptor = weft::spawn([&srv]() -> weft::task<std::uint64_t> {
            auto conn = (co_await srv.listener.accept()).value();
            auto [rd, wr] = std::move(conn.first).into_split();
            // io::copy from the read half to the write half, in one task.
            auto n = co_await weft::io::copy(rd, wr);
            co_return n.value();
        });
        auto s = (co_await weft::net::tcp_stream::connect(srv.addr)).value();
        auto [rd, wr] = std::move(s).into_split();
        constexpr int rounds = 200;
        auto writer = weft::spawn([w = std::move(wr)]() mutable -> weft::task<> {
            for (int i = 0; i < rounds; ++i) {
                auto r = co_await w.write_all("0123456789");
                EXPECT_TRUE(r.has_value());
            }
            // Dropping the write half shuts the direction down: the copy ends.
        });
        std::string all(rounds * 10, '\0');
        auto r = co_await rd.read_exact(as_bytes(all));
        EXPECT_TRUE(r.has_value()) << r.message();
        std::string expect;
        for (int i = 0; i < rounds; ++i)
            expect += "0123456789";
        EXPECT_EQ(all, expect);
        (void)co_await writer;
        auto copied = co_await acceptor;
        EXPECT_EQ(copied.value(), std::uint64_t{rounds * 10});
    });
}

TEST_P(NetFlavors, AbortInReadLeavesTheSocketUsable) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        auto client = (co_await weft::net::tcp_stream::connect(srv.addr)).value();
        auto conn = (co_await srv.listener.accept()).value();
        weft::net::tcp_stream& s = conn.first;
        std::atomic<int> after{0};
        weft::sync::notify started;
        auto reader = weft::spawn([&]() -> weft::task<> {
            started.notify_one();
            std::byte b[16];
            (void)co_await s.read(b); // nothing comes until it is aborted
            after.fetch_add(1);
        });
        co_await started.notified();
        reader.abort();
        auto r = co_await reader;
        EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        EXPECT_EQ(after.load(), 0);
        // The registration is intact: another task reads what comes next.
        EXPECT_TRUE((co_await client.write_all("after abort")).has_value());
        std::string got(11, '\0');
        auto ok = co_await s.read_exact(as_bytes(got));
        EXPECT_TRUE(ok.has_value());
        EXPECT_EQ(got, "after abort");
    });
}

// write_all finishes at once on a writable socket (no frame, decision 0031),
// but an aborted task must still stop there without sending: the fast
// path gives way to the slow one, whose co_await the abort lands at.
TEST_P(NetFlavors, AbortedTaskSendsNothingThroughAReadyWriteAll) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        auto client = (co_await weft::net::tcp_stream::connect(srv.addr)).value();
        auto conn = (co_await srv.listener.accept()).value();
        weft::sync::notify go;
        weft::abort_handle self;
        std::atomic<int> after{0};
        auto writer = weft::spawn(
            [](weft::net::tcp_stream s, weft::sync::notify* go, weft::abort_handle* self,
               std::atomic<int>* after) -> weft::task<> {
                co_await go->notified();
                self->abort(); // aborted while running: lands at the next co_await
                auto w = co_await s.write_all("must not be sent");
                (void)w;
                after->fetch_add(1);
            },
            std::move(conn.first), &go, &self, &after);
        self = writer.abort_handle();
        go.notify_one();
        auto r = co_await writer;
        EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        EXPECT_EQ(after.load(), 0);
        // The task's socket died with it: the client reads end of stream.
        std::byte b[32];
        auto n = co_await client.read(b);
        EXPECT_TRUE(n.has_value());
        EXPECT_EQ(n.value(), 0u);
    });
}

TEST_P(NetFlavors, AbortInAcceptLeavesTheListenerUsable) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        weft::sync::notify started;
        auto acceptor = weft::spawn([&]() -> weft::task<> {
            started.notify_one();
            (void)co_await srv.listener.accept();
            ADD_FAILURE() << "accept completed after abort";
        });
        co_await started.notified();
        acceptor.abort();
        auto r = co_await acceptor;
        EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        auto second = weft::spawn([&]() -> weft::task<bool> {
            auto c = co_await srv.listener.accept();
            co_return c.has_value();
        });
        auto client = co_await weft::net::tcp_stream::connect(srv.addr);
        EXPECT_TRUE(client.has_value());
        EXPECT_TRUE((co_await second).value());
    });
}

TEST_P(NetFlavors, UdpSendToAndRecvFrom) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto a = weft::net::udp_socket::bind("127.0.0.1:0").value();
        auto b = weft::net::udp_socket::bind("127.0.0.1:0").value();
        auto to = b.local_addr().value();
        auto sent = co_await a.send_to(bytes("datagram"), to);
        EXPECT_EQ(sent.value(), 8u);
        std::byte buf[64];
        auto got = co_await b.recv_from(buf);
        EXPECT_TRUE(got.has_value());
        EXPECT_EQ(got->first, 8u);
        EXPECT_EQ(std::memcmp(buf, "datagram", 8), 0);
        EXPECT_EQ(got->second, a.local_addr().value());
        // Connected: send/recv.
        EXPECT_TRUE(b.connect(got->second).has_value());
        EXPECT_EQ((co_await b.send(bytes("reply"))).value(), 5u);
        auto n = co_await a.recv(buf);
        EXPECT_EQ(n.value(), 5u);
    });
}

TEST_P(NetFlavors, UnixListenerAndPair) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        std::string path = "/tmp/weft-net-test-" + std::to_string(::getpid()) + "-" +
                           std::to_string(reinterpret_cast<std::uintptr_t>(&path) & 0xFFFF) +
                           ".sock";
        ::unlink(path.c_str());
        auto l = weft::net::unix_listener::bind(path).value();
        auto acceptor = weft::spawn([&l]() -> weft::task<> {
            auto s = (co_await l.accept()).value();
            std::string got(5, '\0');
            EXPECT_TRUE((co_await s.read_exact(as_bytes(got))).has_value());
            EXPECT_EQ(got, "hello");
            EXPECT_TRUE((co_await s.write_all("world")).has_value());
        });
        auto c = (co_await weft::net::unix_stream::connect(path)).value();
        EXPECT_TRUE((co_await c.write_all("hello")).has_value());
        std::string back(5, '\0');
        EXPECT_TRUE((co_await c.read_exact(as_bytes(back))).has_value());
        EXPECT_EQ(back, "world");
        (void)co_await acceptor;
        ::unlink(path.c_str());

        auto too_long = weft::net::unix_listener::bind(std::string(200, 'x'));
        EXPECT_FALSE(too_long.has_value());

        auto [x, y] = weft::net::unix_stream::pair().value();
        EXPECT_TRUE((co_await x.write_all("ab")).has_value());
        std::string two(2, '\0');
        EXPECT_TRUE((co_await y.read_exact(as_bytes(two))).has_value());
        EXPECT_EQ(two, "ab");
    });
}

TEST_P(NetFlavors, BufferedReaderAndWriter) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto [x, y] = weft::net::unix_stream::pair().value();
        weft::io::buf_writer out(std::move(x));
        for (int i = 0; i < 50; ++i) {
            std::string line = "line " + std::to_string(i) + "\n";
            EXPECT_TRUE((co_await out.write(bytes(line))).has_value());
        }
        EXPECT_GT(out.buffered(), 0u) << "small writes are gathered";
        EXPECT_TRUE((co_await out.flush()).has_value());
        EXPECT_EQ(out.buffered(), 0u);
        EXPECT_TRUE(out.get_ref().shutdown().has_value());
        weft::io::buf_reader in(std::move(y), 16); // smaller than a line or two
        for (int i = 0; i < 50; ++i) {
            std::string line;
            auto n = co_await in.read_line(line);
            EXPECT_EQ(n.value(), line.size());
            EXPECT_EQ(line, "line " + std::to_string(i) + "\n");
        }
        std::string rest;
        auto end = co_await in.read_line(rest);
        EXPECT_EQ(end.value(), 0u);
    });
}

TEST_P(NetFlavors, ReadToEndAndReadToStringAppendUntilEndOfStream) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        std::string sent;
        for (int i = 0; i < 2000; ++i) // about 11 KB: several reads of the 4 KB chunk
            sent += std::to_string(i) + ",";
        auto [x, y] = weft::net::unix_stream::pair().value();
        auto writer = weft::spawn(
            [](weft::net::unix_stream s, std::string data) -> weft::task<> {
                EXPECT_TRUE((co_await s.write_all(data)).has_value());
                // Dropping `s` closes it: the reader sees end of stream.
            },
            std::move(x), sent);
        std::string got = "kept:";
        auto n = co_await weft::io::read_to_string(y, got);
        EXPECT_EQ(n.value(), sent.size());
        EXPECT_EQ(got, "kept:" + sent);
        (void)co_await writer;

        auto [p, q] = weft::net::unix_stream::pair().value();
        EXPECT_TRUE((co_await p.write_all("abc")).has_value());
        EXPECT_TRUE(p.shutdown().has_value());
        std::vector<std::byte> bytes_got;
        auto m = co_await weft::io::read_to_end(q, bytes_got);
        EXPECT_EQ(m.value(), 3u);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes_got.data()), bytes_got.size()),
                  "abc");

        weft::net::unix_stream closed; // not open: the error comes back, `out` is untouched
        std::string untouched = "same";
        auto e = co_await weft::io::read_to_string(closed, untouched);
        EXPECT_FALSE(e.has_value());
        EXPECT_EQ(untouched, "same");
    });
}

TEST_P(NetFlavors, UnixSignalIsDelivered) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto usr1 = weft::signal::unix_signal(SIGUSR1).value();
        auto other = weft::signal::unix_signal(SIGUSR1).value();
        ::kill(::getpid(), SIGUSR1);
        co_await usr1.recv();
        co_await other.recv(); // every listener sees the delivery
        ::kill(::getpid(), SIGUSR1);
        co_await usr1.recv();
        auto bad = weft::signal::unix_signal(SIGKILL);
        EXPECT_EQ(bad.error(), std::errc::invalid_argument);
    });
}

TEST_P(NetFlavors, CtrlCCompletesOnSigint) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        auto stop = weft::signal::ctrl_c(); // the handler is installed now
        ::kill(::getpid(), SIGINT);
        auto r = co_await std::move(stop);
        EXPECT_TRUE(r.has_value());
    });
}

TEST_P(NetFlavors, TimersStillFireWhileTheDriverWaitsForIo) {
    weft::runtime rt = make_runtime();
    rt.block_on([]() -> weft::task<> {
        server srv = listen_any();
        // Something waits on a socket forever while the root sleeps.
        auto idle = weft::spawn([&srv]() -> weft::task<> { (void)co_await srv.listener.accept(); });
        auto t0 = weft::time::instant::now();
        co_await weft::time::sleep(std::chrono::milliseconds(20));
        EXPECT_GE(weft::time::instant::now() - t0, std::chrono::milliseconds(20));
        idle.abort();
        (void)co_await idle;
    });
}

// Tokio issue 4730: the worker that polled last runs a task that never
// yields; I/O for every other socket must keep flowing.
TEST(NetMultiThread, LongTaskOnThePollingWorkerDoesNotStallIo) {
    weft::runtime rt = weft::runtime::multi_thread().worker_threads(2).build();
    std::atomic<bool> done{false};
    rt.block_on([&]() -> weft::task<> {
        server srv = listen_any();
        auto [trigger, hog_end] = weft::net::unix_stream::pair().value();
        auto hog = weft::spawn([&, s = std::move(hog_end)]() mutable -> weft::task<> {
            std::byte b[1];
            (void)co_await s.read(b); // woken by the reactor, on the polling worker
            while (!done.load())      // then never yields
                std::this_thread::yield();
        });
        auto srv_task = weft::spawn([&srv]() -> weft::task<> {
            auto conn = co_await srv.listener.accept();
            if (conn) co_await echo(std::move(conn->first));
        });
        EXPECT_TRUE((co_await trigger.write_all("x")).has_value());
        auto c = (co_await weft::net::tcp_stream::connect(srv.addr)).value();
        for (int i = 0; i < 50; ++i) {
            EXPECT_TRUE((co_await c.write_all("ping")).has_value());
            std::string got(4, '\0');
            EXPECT_TRUE((co_await c.read_exact(as_bytes(got))).has_value());
            EXPECT_EQ(got, "ping");
        }
        done.store(true);
        (void)co_await hog;
        c = weft::net::tcp_stream();
        (void)co_await srv_task;
    });
}

TEST(Net, OutsideARuntimeThrows) {
    EXPECT_THROW((void)weft::net::tcp_listener::bind("127.0.0.1:0"), weft::runtime_error);
}

TEST_P(NetFlavors, MetricsCountIoRegistrations) {
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        auto count = [] { return weft::runtime_handle::current().metrics().io_registrations; };
        std::uint64_t before = count();
        {
            server s = listen_any();
            auto c = co_await weft::net::tcp_stream::connect(s.addr);
            EXPECT_TRUE(c) << c.message();
            EXPECT_EQ(count(), before + 2) << "the listener and the stream";
        }
        EXPECT_EQ(count(), before) << "closing a socket deregisters it";
    });
}
