// Sockets under aborts racing data arrival, and many connections at once.
//
// - A reader blocked in read is aborted at a random moment while a writer
//   streams data to it: every byte must end up read exactly once, by the
//   aborted reader before its abort or by the next reader after it (a read
//   either completes with its bytes or is withdrawn without taking any).
// - An accept loop is aborted while connections arrive; a second one must
//   accept every connection the first did not.
// - Many concurrent echo clients with random message sizes, some aborted at
//   random moments; the others must get exactly their bytes back.
// - Writers aborted at random moments, while their writes may be gathered in
//   a write batch (decision 0033): each peer reads whole records in order,
//   all of them when its writer finished.
// - A runtime dropped (or shut down in the background) while its tasks
//   stream writes, some of them gathered in a write batch: every task and
//   its arguments are destroyed, and no batch outlives the writes linked
//   into it (the sanitizer builds catch a use after free).
// Every test runs on both runtimes, each with and without write batching.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "counted.hpp"
#include "runtimes.hpp"

namespace {

using weft_test::counted;
using weft_test::counter;

class NetStress : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_IO_FLAVORS(NetStress);

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s)
        c = static_cast<char>('a' + rng() % 26);
    return s;
}

/// Record `k` of writer `id`: "w<id> r<k>" padded with dots to 32 bytes.
std::string record_text(int id, std::uint32_t k) {
    char buf[33];
    int n = std::snprintf(buf, sizeof buf, "w%d r%u", id, k);
    std::string s(buf, static_cast<std::size_t>(n));
    s.resize(32, '.');
    return s;
}

weft::task<> yield_n(int n) {
    for (int i = 0; i < n; ++i)
        co_await weft::yield_now();
}

TEST_P(NetStress, AbortInReadRacingDataArrivalLosesNothing) {
    WEFT_SEEDED_RNG(seed, rng);
    weft::runtime rt = make_seeded_runtime(seed);
    const int rounds = weft_test::scaled(200, 20);
    rt.block_on([&]() -> weft::task<> {
        for (int round = 0; round < rounds; ++round) {
            auto [a, b] = weft::net::unix_stream::pair().value();
            std::string sent;
            std::vector<std::string> chunks;
            int nchunks = 1 + static_cast<int>(rng() % 8);
            for (int i = 0; i < nchunks; ++i) {
                chunks.push_back(random_bytes(rng, 1 + rng() % 3000));
                sent += chunks.back();
            }
            std::string received;
            auto reader = weft::spawn([&b, &received]() -> weft::task<> {
                char buf[512];
                for (;;) {
                    auto n = co_await b.read(weft::io::buffer(buf));
                    if (!n || *n == 0) co_return;
                    received.append(buf, *n);
                }
            });
            int writer_yields = static_cast<int>(rng() % 4);
            auto writer = weft::spawn([&a, &chunks, writer_yields]() -> weft::task<> {
                for (auto& c : chunks) {
                    auto w = co_await a.write_all(c);
                    EXPECT_TRUE(w.has_value()) << w.message();
                    co_await yield_n(writer_yields);
                }
            });
            co_await yield_n(static_cast<int>(rng() % 12));
            reader.abort();
            (void)co_await reader; // completed (unlikely) or cancelled
            (void)co_await writer;
            EXPECT_TRUE(a.shutdown().has_value());
            // The same socket, read by the next reader, gives the rest.
            auto rest = co_await weft::io::read_to_string(b, received);
            EXPECT_TRUE(rest.has_value()) << rest.message();
            EXPECT_EQ(received.size(), sent.size()) << "round " << round;
            EXPECT_TRUE(received == sent) << "round " << round;
            if (received != sent) co_return;
        }
    });
}

TEST_P(NetStress, AbortedAcceptLoopLeavesConnectionsForTheNext) {
    WEFT_SEEDED_RNG(seed, rng);
    weft::runtime rt = make_seeded_runtime(seed);
    const int rounds = weft_test::scaled(40, 5);
    rt.block_on([&]() -> weft::task<> {
        for (int round = 0; round < rounds; ++round) {
            auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
            auto addr = listener.local_addr().value();
            const int conns = 1 + static_cast<int>(rng() % 10);
            std::atomic<int> accepted{0};
            auto first = weft::spawn([&]() -> weft::task<> {
                for (;;) {
                    auto c = co_await listener.accept();
                    if (c) accepted.fetch_add(1);
                }
            });
            std::vector<weft::join_handle<weft::net::tcp_stream>> clients;
            for (int i = 0; i < conns; ++i)
                clients.push_back(weft::spawn([addr]() -> weft::task<weft::net::tcp_stream> {
                    co_return (co_await weft::net::tcp_stream::connect(addr)).value();
                }));
            co_await yield_n(static_cast<int>(rng() % 6));
            first.abort();
            (void)co_await first;
            int before = accepted.load();
            // Connections the first loop did not take wait in the backlog.
            for (int i = before; i < conns; ++i) {
                auto c = co_await listener.accept();
                EXPECT_TRUE(c.has_value()) << c.message();
            }
            for (auto& c : clients)
                EXPECT_TRUE((co_await c).has_value());
        }
    });
}

TEST_P(NetStress, ManyEchoClientsSomeAborted) {
    WEFT_SEEDED_RNG(seed, rng);
    weft::runtime rt = make_seeded_runtime(seed);
    const int nclients = weft_test::scaled(64, 8);
    rt.block_on([&]() -> weft::task<> {
        auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
        auto addr = listener.local_addr().value();
        auto server = weft::spawn([&listener]() -> weft::task<> {
            for (;;) {
                auto c = co_await listener.accept();
                if (!c) continue;
                weft::spawn(
                    [](weft::net::tcp_stream s) -> weft::task<> {
                        char buf[1024];
                        for (;;) {
                            auto n = co_await s.read(weft::io::buffer(buf));
                            if (!n || *n == 0) co_return;
                            auto w = co_await s.write_all(std::string_view(buf, *n));
                            if (!w) co_return;
                        }
                    },
                    std::move(c->first));
            }
        });
        std::vector<weft::join_handle<bool>> clients;
        std::vector<bool> abort_it;
        for (int i = 0; i < nclients; ++i) {
            std::uint64_t cseed = rng();
            abort_it.push_back(rng() % 4 == 0);
            clients.push_back(weft::spawn([addr, cseed]() -> weft::task<bool> {
                std::mt19937_64 r(cseed);
                auto s = (co_await weft::net::tcp_stream::connect(addr)).value();
                int msgs = 1 + static_cast<int>(r() % 20);
                for (int m = 0; m < msgs; ++m) {
                    std::string msg = random_bytes(r, 1 + r() % 5000);
                    auto w = co_await s.write_all(msg); // named: docs/compiler-traps.md
                    if (!w) co_return false;
                    std::string back(msg.size(), '\0');
                    auto got = co_await s.read_exact(weft::io::buffer(back));
                    if (!got || back != msg) co_return false;
                }
                co_return true;
            }));
        }
        co_await yield_n(static_cast<int>(rng() % 20));
        for (int i = 0; i < nclients; ++i)
            if (abort_it[i]) clients[i].abort();
        for (int i = 0; i < nclients; ++i) {
            auto r = co_await clients[i];
            if (abort_it[i])
                EXPECT_TRUE(r.has_value() ? r.value() : r.error().is_cancelled());
            else
                EXPECT_TRUE(r.has_value() && r.value()) << "client " << i;
        }
        server.abort();
        (void)co_await server;
    });
}

TEST_P(NetStress, AbortedWritersSendWholeRecordsOrNothing) {
    WEFT_SEEDED_RNG(seed, rng);
    weft::runtime rt = make_seeded_runtime(seed);
    const int nwriters = weft_test::scaled(48, 8);
    constexpr std::size_t record = 32;
    constexpr std::uint32_t records = 64; // 2 KiB: a socket always takes it whole
    rt.block_on([&]() -> weft::task<> {
        auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
        auto addr = listener.local_addr().value();
        // Each reader takes records until end of stream (its writer finished
        // or was aborted and its socket closed) and returns how many it got.
        std::vector<weft::join_handle<std::uint32_t>> readers;
        std::vector<weft::join_handle<void>> writers;
        for (int i = 0; i < nwriters; ++i) {
            auto client = (co_await weft::net::tcp_stream::connect(addr)).value();
            auto conn = (co_await listener.accept()).value();
            readers.push_back(weft::spawn(
                [](weft::net::tcp_stream s, int id) -> weft::task<std::uint32_t> {
                    std::string all;
                    auto n = co_await weft::io::read_to_string(s, all);
                    EXPECT_TRUE(n.has_value()) << n.message();
                    EXPECT_EQ(all.size() % record, 0u) << "torn record from writer " << id;
                    std::uint32_t got = static_cast<std::uint32_t>(all.size() / record);
                    for (std::uint32_t k = 0; k < got; ++k) {
                        std::string want = record_text(id, k);
                        EXPECT_EQ(all.substr(k * record, record), want) << "writer " << id;
                    }
                    co_return got;
                },
                std::move(client), i));
            int pause = static_cast<int>(rng() % 8);
            writers.push_back(weft::spawn(
                [](weft::net::tcp_stream s, int id, int pause) -> weft::task<> {
                    for (std::uint32_t k = 0; k < records; ++k) {
                        std::string rec = record_text(id, k);
                        auto w = co_await s.write_all(rec); // named: docs/compiler-traps.md
                        EXPECT_TRUE(w.has_value()) << w.message();
                        if (k % 8 == 0) co_await yield_n(pause);
                    }
                },
                std::move(conn.first), i, pause));
        }
        std::vector<bool> aborted(static_cast<std::size_t>(nwriters));
        for (int round = 0; round < 8; ++round) {
            co_await yield_n(static_cast<int>(rng() % 6));
            for (int i = 0; i < nwriters; ++i)
                if (rng() % 16 == 0) {
                    writers[static_cast<std::size_t>(i)].abort();
                    aborted[static_cast<std::size_t>(i)] = true;
                }
        }
        for (int i = 0; i < nwriters; ++i) {
            auto w = co_await writers[static_cast<std::size_t>(i)];
            bool finished = w.has_value();
            if (!finished) {
                EXPECT_TRUE(aborted[static_cast<std::size_t>(i)]);
                EXPECT_TRUE(w.error().is_cancelled());
            }
            auto got = co_await readers[static_cast<std::size_t>(i)];
            EXPECT_TRUE(got.has_value());
            if (finished && got.has_value()) {
                EXPECT_EQ(got.value(), records) << "writer " << i;
            }
        }
    });
}

TEST_P(NetStress, RuntimeDroppedWhileWritesAreInFlight) {
    WEFT_SEEDED_RNG(seed, rng);
    weft_test::watchdog dog("NetStress drop with writes in flight, seed " + std::to_string(seed));
    const int rounds = weft_test::scaled(40, 8);
    counter objs;
    for (int round = 0; round < rounds; ++round) {
        weft::runtime rt = make_seeded_runtime(seed + static_cast<std::uint64_t>(round));
        const int conns = 2 + static_cast<int>(rng() % 6);
        const int steps = static_cast<int>(rng() % 40);
        rt.block_on([&]() -> weft::task<> {
            auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value();
            auto addr = listener.local_addr().value();
            for (int i = 0; i < conns; ++i) {
                auto client = (co_await weft::net::tcp_stream::connect(addr)).value();
                auto conn = (co_await listener.accept()).value();
                // The reader drains its end, so the writer never waits for
                // room: its writes keep going through the batch.
                weft::spawn(
                    [](weft::net::tcp_stream s, counted) -> weft::task<> {
                        std::array<std::byte, 4096> buf;
                        for (;;) {
                            auto n = co_await s.read(buf);
                            if (!n || *n == 0) co_return;
                        }
                    },
                    std::move(client), counted(objs));
                weft::spawn(
                    [](weft::net::tcp_stream s, counted) -> weft::task<> {
                        for (;;) {
                            auto w = co_await s.write_all("0123456789abcdef");
                            if (!w) co_return;
                            co_await weft::yield_now(); // unbatched, the reader's turn
                        }
                    },
                    std::move(conn.first), counted(objs));
            }
            co_await yield_n(steps);
        });
        // The writers are mid-round: the runtime goes with writes queued.
        if (rng() % 2 == 0) std::move(rt).shutdown_background();
    }
    // shutdown_background leaves the last worker to drop what is left;
    // bounded by the watchdog, not by a timing threshold.
    while (objs.alive() != 0)
        std::this_thread::yield();
    EXPECT_EQ(objs.alive(), 0);
}

} // namespace
