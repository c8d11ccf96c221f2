// runtime_builder::rng_seed (decision 0041): a seeded current-thread run
// replays exactly. A racy program (tasks that yield, exchange through
// channels, select between ready branches, sleep to one deadline on the
// paused clock, and read socket pairs) writes a trace; two runs with one
// seed give the same trace, and different seeds give different ones. The
// seeds are fixed, so every test here is deterministic. Without a seed the
// scheduler stays FIFO. A multi-thread builder refuses a seed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtimes.hpp"
#include "test_tasks.hpp"
#include "time/driver.hpp"
#include "util/seeded_rng.hpp"

using namespace std::chrono_literals;

namespace {

using trace = std::vector<std::string>;

std::string joined(const trace& t) {
    std::ostringstream os;
    for (const std::string& s : t)
        os << s << ' ';
    return os.str();
}

// --- the racy program ------------------------------------------------------------

weft::task<> producer(trace* tr, int id, weft::sync::mpsc::unbounded_sender<int> tx) {
    for (int k = 0; k < 4; ++k) {
        co_await weft::yield_now();
        tr->push_back("p" + std::to_string(id) + "." + std::to_string(k));
        (void)tx.send(id * 10 + k);
    }
}

weft::task<> consumer(trace* tr, weft::sync::mpsc::unbounded_receiver<int> rx) {
    while (auto v = co_await rx.recv())
        tr->push_back("c" + std::to_string(*v));
}

weft::task<> sleeper(trace* tr, int id, weft::time::instant deadline) {
    co_await weft::time::sleep_until(deadline);
    tr->push_back("s" + std::to_string(id));
}

/// Eight selects between two channels that always hold a message: the
/// unbiased select's start branch decides each winner.
weft::task<> selector(trace* tr) {
    auto [tx_a, rx_a] = weft::sync::mpsc::unbounded_channel<int>();
    auto [tx_b, rx_b] = weft::sync::mpsc::unbounded_channel<int>();
    for (int i = 0; i < 8; ++i) {
        (void)tx_a.send(i);
        (void)tx_b.send(i);
    }
    for (int i = 0; i < 8; ++i) {
        auto r = co_await weft::select(rx_a.recv(), rx_b.recv());
        tr->push_back(r.index() == 0 ? "sa" : "sb");
    }
}

weft::task<> reader(trace* tr, int id, weft::net::unix_stream s) {
    std::byte b[1];
    auto n = co_await s.read(b);
    tr->push_back("r" + std::to_string(id) + (n && *n == 1 ? "" : "!"));
}

weft::task<> writer(trace* tr, int id, weft::net::unix_stream s) {
    co_await weft::yield_now();
    auto w = co_await s.write_all("x");
    tr->push_back("w" + std::to_string(id) + (w ? "" : "!"));
}

weft::task<> racy_program(trace* tr) {
    std::vector<weft::join_handle<void>> hs;
    auto [tx, rx] = weft::sync::mpsc::unbounded_channel<int>();
    hs.push_back(weft::spawn(consumer, tr, std::move(rx)));
    for (int i = 0; i < 4; ++i)
        hs.push_back(weft::spawn(producer, tr, i, tx));
    tx = {}; // the consumer ends once every producer has
    weft::time::instant deadline = weft::time::instant::now() + 5ms;
    for (int i = 0; i < 4; ++i)
        hs.push_back(weft::spawn(sleeper, tr, i, deadline));
    hs.push_back(weft::spawn(selector, tr));
    for (int i = 0; i < 3; ++i) {
        auto pair = weft::net::unix_stream::pair();
        if (!pair) {
            ADD_FAILURE() << "socketpair failed";
            co_return;
        }
        hs.push_back(weft::spawn(reader, tr, i, std::move(pair->first)));
        hs.push_back(weft::spawn(writer, tr, i, std::move(pair->second)));
    }
    for (auto& h : hs)
        (void)co_await h;
}

trace run_racy(std::uint64_t seed) {
    trace tr;
    weft::runtime rt = weft::runtime::current_thread().start_paused(true).rng_seed(seed).build();
    rt.block_on(racy_program, &tr);
    return tr;
}

TEST(SeededRuntime, ARacyProgramReplaysExactlyWithOneSeed) {
    for (std::uint64_t seed : {1ull, 42ull, 0xdeadbeefull}) {
        WEFT_SEED_TRACE(seed);
        trace first = run_racy(seed);
        ASSERT_EQ(first.size(), 16u + 16u + 4u + 8u + 6u) << joined(first);
        trace second = run_racy(seed);
        EXPECT_EQ(first, second) << "first:  " << joined(first) << "\nsecond: " << joined(second);
    }
}

TEST(SeededRuntime, DifferentSeedsGiveDifferentInterleavings) {
    std::set<trace> seen;
    for (std::uint64_t seed = 1; seed <= 8; ++seed)
        seen.insert(run_racy(seed));
    // 8 fixed seeds over a program with thousands of possible traces.
    EXPECT_GE(seen.size(), 4u);
}

// --- the parts, one by one -----------------------------------------------------

weft::task<> record(trace* tr, int id) {
    tr->push_back(std::to_string(id));
    co_return;
}

trace spawn_order(weft::runtime rt) {
    trace tr;
    rt.block_on(
        [](trace* t) -> weft::task<> {
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < 8; ++i)
                hs.push_back(weft::spawn(record, t, i));
            for (auto& h : hs)
                (void)co_await h;
        },
        &tr);
    return tr;
}

TEST(SeededRuntime, WithoutASeedTasksRunInSpawnOrder) {
    trace fifo{"0", "1", "2", "3", "4", "5", "6", "7"};
    EXPECT_EQ(spawn_order(weft::runtime::current_thread().build()), fifo);
    // With seeds, the same tasks run in orders the seeds pick.
    std::set<trace> seen;
    for (std::uint64_t seed = 1; seed <= 8; ++seed)
        seen.insert(spawn_order(weft::runtime::current_thread().rng_seed(seed).build()));
    EXPECT_GE(seen.size(), 2u);
    EXPECT_EQ(spawn_order(weft::runtime::current_thread().rng_seed(5).build()),
              spawn_order(weft::runtime::current_thread().rng_seed(5).build()));
}

trace select_winners(std::uint64_t seed) {
    trace tr;
    weft::runtime rt = weft::runtime::current_thread().rng_seed(seed).build();
    rt.block_on(
        [](trace* t) -> weft::task<> {
            for (int i = 0; i < 32; ++i) {
                auto r = co_await weft::select(weft_test::ready(0), weft_test::ready(1),
                                               weft_test::ready(2));
                t->push_back(std::to_string(r.index()));
            }
        },
        &tr);
    return tr;
}

// The start branch of an unbiased select comes from the runtime's seed, not
// from the thread's own generator (which would differ from run to run).
TEST(SeededRuntime, UnbiasedSelectStartsWhereTheSeedSays) {
    trace a = select_winners(7);
    EXPECT_EQ(a, select_winners(7)) << joined(a);
    std::set<std::string> winners(a.begin(), a.end());
    EXPECT_EQ(winners.size(), 3u) << "every branch wins some: " << joined(a);
    EXPECT_NE(a, select_winners(8));
}

weft::task<> timer_at(trace* tr, int id, weft::time::instant at) {
    co_await weft::time::sleep_until(at);
    tr->push_back(std::to_string(id));
}

trace equal_deadlines(std::uint64_t seed) {
    trace tr;
    weft::runtime rt = weft::runtime::current_thread().start_paused(true).rng_seed(seed).build();
    rt.block_on(
        [](trace* t) -> weft::task<> {
            weft::time::instant at = weft::time::instant::now() + 10ms;
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < 6; ++i)
                hs.push_back(weft::spawn(timer_at, t, i, at));
            for (auto& h : hs)
                (void)co_await h;
        },
        &tr);
    return tr;
}

// White-box: the wheel shuffles the wakers of one tick, and only those
// (entries of an earlier tick still come first).
std::vector<std::uint32_t> fire_order(weft::detail::seeded_rng* rng) {
    weft::detail::timer_wheel wheel;
    std::vector<weft::detail::timer_entry> entries(16);
    for (std::uint32_t i = 0; i < entries.size(); ++i) {
        entries[i].when = i < 8 ? 10 : 200; // level 0, and level 1 (cascades)
        entries[i].st = weft::detail::timer_entry::state::registered;
        entries[i].w = weft::detail::waker(nullptr, i);
        wheel.insert(&entries[i]);
    }
    std::vector<weft::detail::waker> out;
    wheel.advance_to(1000, out, rng);
    std::vector<std::uint32_t> order;
    for (const auto& w : out)
        order.push_back(w.token());
    return order;
}

TEST(SeededRuntime, TheWheelShufflesTheEntriesOfOneTick) {
    std::vector<std::uint32_t> insertion(16);
    for (std::uint32_t i = 0; i < 16; ++i)
        insertion[i] = i;
    EXPECT_EQ(fire_order(nullptr), insertion);
    std::set<std::vector<std::uint32_t>> seen;
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        weft::detail::seeded_rng a(seed), b(seed);
        std::vector<std::uint32_t> order = fire_order(&a);
        EXPECT_EQ(order, fire_order(&b));
        ASSERT_EQ(order.size(), 16u);
        for (std::size_t i = 0; i < 16; ++i)
            EXPECT_EQ(order[i] < 8, i < 8) << "tick 10 fires before tick 200";
        seen.insert(std::move(order));
    }
    EXPECT_GE(seen.size(), 2u);
    EXPECT_EQ(seen.count(insertion), 0u);
}

TEST(SeededRuntime, TimersWithOneDeadlineFireInTheSeedsOrder) {
    std::set<trace> seen;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        trace t = equal_deadlines(seed);
        EXPECT_EQ(t.size(), 6u);
        EXPECT_EQ(t, equal_deadlines(seed)) << "seed " << seed;
        seen.insert(std::move(t));
    }
    EXPECT_GE(seen.size(), 2u);
}

// yield_now keeps its promise with a seed: every task woken or spawned
// before the yield runs first (tests that spawn a waiter and yield so that
// it registers rely on it).
TEST(SeededRuntime, YieldLetsEveryQueuedTaskRunFirst) {
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
        WEFT_SEED_TRACE(seed);
        weft::runtime rt = weft::runtime::current_thread().rng_seed(seed).build();
        rt.block_on([]() -> weft::task<> {
            int started = 0;
            std::vector<weft::join_handle<void>> hs;
            for (int i = 0; i < 8; ++i)
                hs.push_back(weft::spawn(
                    [](int* s) -> weft::task<> {
                        ++*s;
                        co_return;
                    },
                    &started));
            auto checker = weft::spawn(
                [](int* s) -> weft::task<> {
                    co_await weft::yield_now();
                    EXPECT_EQ(*s, 8);
                },
                &started);
            co_await weft::yield_now();
            EXPECT_EQ(started, 8);
            (void)co_await checker;
            for (auto& h : hs)
                (void)co_await h;
        });
    }
}

TEST(SeededRuntime, AMultiThreadBuilderRefusesASeed) {
    EXPECT_THROW(weft::runtime::multi_thread().worker_threads(1).rng_seed(1).build(),
                 std::invalid_argument);
}

} // namespace
