// weft-bench: the weft driver for the workloads specified in
// shared/baselines/WORKLOADS.md, side by side with tokio-bench (Tokio 1.24)
// and asio-bench (Boost.Asio 1.81). Every workload here must do exactly the
// work the spec describes, no more and no less, so that each figure means the
// same thing in every column of benches/run.sh's table.
//
// Usage (identical to tokio-bench and asio-bench):
//   weft-bench <workload>... [--repeat N] [--iters K]
//   weft-bench all [--repeat N]        every implemented workload except tcp_echo
//   weft-bench list                    the implemented workload names
//   weft-bench echo-server <port> [--current-thread]   the tcp_echo server
//   weft-bench --child <name>          one sample of a fresh-process workload
//
// Output: one line per figure, `<label> median=<v> min=<v> max=<v> unit=<u>`.
//
// Mapping (WORKLOADS.md, "Mapping for weft"):
//   multi-thread flavour     runtime::multi_thread().worker_threads(2).build()
//   current-thread flavour   runtime::current_thread().build()
//   block_on(f)              runtime::block_on(task)
//   spawn from the measuring thread   runtime_handle::spawn
//   spawn from a task        weft::spawn (join handle dropped = detached)
//   countdown event          sync::notify::notify_one (stores a permit)
//   yield                    weft::yield_now()
//   blocking call            weft::spawn_blocking (the runtime's default pool)
// Tasks count down as the last action of their body, as in Tokio.
//
// Shared state (countdown) is allocated once per sample, outside the timed
// region, and handed to tasks as a plain pointer (no per-task refcounting).
// Task bodies are free functions taking that pointer as an argument: nothing
// is captured by reference, and no lambda with captures sits inside a
// co_await expression (GCC 12 miscompiles that; see docs/compiler-traps.md).
//
// Adding a workload: write `std::vector<double> name(weft::runtime&, std::size_t iters)`
// (one value per figure, for one sample of `iters` back-to-back iterations),
// or `std::vector<double> name(flavor)` for a fresh-process workload, and add
// a row to workloads(). `list` and `all` only show rows that exist, so a
// workload whose weft feature is missing is simply not in the table.

#include <weft/detail/frame_allocator.hpp> // thread_allocated_bytes(), for task_bytes
#include <weft/sync/mpsc.hpp>
#include <weft/sync/notify.hpp>
#include <weft/sync/oneshot.hpp>
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <thread>

#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t k_workers = 2; // multi-thread flavour (WORKLOADS.md, "Runtimes")

enum class flavor { multi_thread, current_thread };

// WEFT_BENCH_LONG_POLL_MS=<n>: build the runtimes with the long-poll
// watchdog on (threshold n ms), to measure its cost (docs/observability.md).
weft::runtime make_runtime(flavor fl) {
    weft::runtime_builder b = fl == flavor::multi_thread
                                  ? weft::runtime::multi_thread().worker_threads(k_workers)
                                  : weft::runtime::current_thread();
    if (const char* ms = std::getenv("WEFT_BENCH_LONG_POLL_MS"))
        b.long_poll_threshold(std::chrono::milliseconds(std::atoi(ms)));
    // Write batching's worth on the socket workloads (decision 0033).
    if (const char* off = std::getenv("WEFT_BENCH_NO_BATCH_WRITES"); off && *off == '1')
        b.batch_writes(false);
    // The yield after a flush, in microseconds; "off" never (decision 0035).
    if (const char* y = std::getenv("WEFT_BENCH_YIELD_CORE_US")) {
        if (std::string_view(y) == "off")
            b.yield_core_after(std::nullopt);
        else
            b.yield_core_after(std::chrono::microseconds(std::atoi(y)));
    }
    return b.build();
}

double per_op_ns(clock_type::duration d, std::size_t ops) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
           static_cast<double>(ops);
}

[[maybe_unused]] std::uint64_t rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    throw std::runtime_error("VmRSS not found in /proc/self/status");
}

// Awaits a join handle and fails loudly if the task did not complete
// normally (Tokio's `.unwrap()`).
template <class T>
void check(weft::result<T> const& r, char const* what) {
    if (!r.has_value())
        throw std::runtime_error(std::string(what) +
                                 ": a task did not complete: " + r.error().what());
}

// ---------------------------------------------------------------------------
// Countdown: an atomic counter set to the number of tasks of the iteration
// plus an event. Every task decrements it as its very last action; the
// decrement that reaches zero fires the event (notify_one stores a permit if
// nobody waits yet, so it cannot be lost); the root awaits the event.
// ---------------------------------------------------------------------------
struct countdown {
    std::atomic<std::size_t> remaining{0};
    weft::sync::notify done;

    // acq_rel, not Tokio's Relaxed: the measuring thread frees the countdown
    // after the event, so every earlier decrement must happen-before the
    // last one (TSan flags the free otherwise). On x86 both are one
    // `lock xadd`, so the cost is the same as Tokio's.
    void count_down() {
        if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify_one();
    }
};

// ---------------------------------------------------------------------------
// Workloads. Each runs `iters` back-to-back iterations (one sample) on `rt`
// and returns one value per figure.
// ---------------------------------------------------------------------------

// spawn_many_local ------------------------------------------------------------
constexpr std::size_t k_num_spawn = 10'000;

weft::task<> count_down_task(countdown* cd) {
    cd->count_down();
    co_return;
}

weft::task<> spawn_many_spawner(countdown* cd) {
    for (std::size_t i = 0; i < k_num_spawn; ++i)
        (void)weft::spawn(count_down_task, cd); // detached
    cd->count_down();
    co_return;
}

weft::task<> spawn_many_local_root(countdown* cd) {
    (void)weft::spawn(spawn_many_spawner, cd);
    co_await cd->done.notified();
}

std::vector<double> spawn_many_local(weft::runtime& rt, std::size_t iters) {
    auto cd = std::make_unique<countdown>();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        cd->remaining.store(k_num_spawn + 1, std::memory_order_relaxed); // + the spawner
        rt.block_on(spawn_many_local_root(cd.get()));
    }
    return {per_op_ns(clock_type::now() - start, iters * k_num_spawn)};
}

// spawn_many_remote_idle ---------------------------------------------------------
weft::task<> empty_task() {
    co_return;
}

weft::task<> join_all(std::vector<weft::join_handle<void>>* handles) {
    for (auto& h : *handles)
        check(co_await h, "join_all");
}

// Runs one empty task through block_on (spawned and joined), so that the
// workers exist.
weft::task<> join_all_one(weft::runtime&) {
    check(co_await weft::spawn(empty_task), "empty task");
}

std::vector<double> spawn_many_remote_idle(weft::runtime& rt, std::size_t iters) {
    std::vector<weft::join_handle<void>> handles;
    handles.reserve(k_num_spawn);
    auto handle = rt.handle();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        for (std::size_t i = 0; i < k_num_spawn; ++i)
            handles.push_back(handle.spawn(empty_task));
        rt.block_on(join_all(&handles));
        handles.clear();
    }
    return {per_op_ns(clock_type::now() - start, iters * k_num_spawn)};
}

// yield_many ---------------------------------------------------------------------
constexpr std::size_t k_num_yield = 1'000;
constexpr std::size_t k_yield_tasks = 200;

weft::task<> yielder() {
    for (std::size_t i = 0; i < k_num_yield; ++i)
        co_await weft::yield_now();
}

std::vector<double> yield_many(weft::runtime& rt, std::size_t iters) {
    std::vector<weft::join_handle<void>> handles;
    handles.reserve(k_yield_tasks);
    auto handle = rt.handle();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        for (std::size_t i = 0; i < k_yield_tasks; ++i)
            handles.push_back(handle.spawn(yielder));
        rt.block_on(join_all(&handles));
        handles.clear();
    }
    return {per_op_ns(clock_type::now() - start, iters * k_yield_tasks * k_num_yield)};
}

// chained_spawn ------------------------------------------------------------------
constexpr std::size_t k_chain = 1'000;

weft::task<> chain_link(countdown* cd, std::size_t n) {
    if (n > 0) (void)weft::spawn(chain_link, cd, n - 1);
    cd->count_down();
    co_return;
}

weft::task<> chained_spawn_root(countdown* cd) {
    (void)weft::spawn(chain_link, cd, k_chain);
    co_await cd->done.notified();
}

std::vector<double> chained_spawn(weft::runtime& rt, std::size_t iters) {
    auto cd = std::make_unique<countdown>();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        cd->remaining.store(k_chain + 1, std::memory_order_relaxed); // tasks 1000..0
        rt.block_on(chained_spawn_root(cd.get()));
    }
    return {per_op_ns(clock_type::now() - start, iters * k_chain)};
}

// ping_pong -------------------------------------------------------------------
// Tokio's ping_pong (NUM_PINGS = 1,000) with void-like oneshot channels.
constexpr std::size_t k_num_pings = 1'000;
using signal_tx = weft::sync::oneshot::sender<void>;
using signal_rx = weft::sync::oneshot::receiver<void>;

weft::task<> pong_task(countdown* cd, signal_rx rx1, signal_tx tx2) {
    // (The result is named: GCC 12 miscompiles `if (!co_await x) throw ...`.)
    auto got = co_await rx1;
    if (!got) throw std::runtime_error("ping_pong: ping's sender dropped");
    if (!tx2.send()) throw std::runtime_error("ping_pong: ping's receiver dropped");
    cd->count_down();
}

weft::task<> ping_task(countdown* cd) {
    auto [tx1, rx1] = weft::sync::oneshot::channel<void>();
    auto [tx2, rx2] = weft::sync::oneshot::channel<void>();
    (void)weft::spawn(pong_task, cd, std::move(rx1), std::move(tx2));
    if (!tx1.send()) throw std::runtime_error("ping_pong: pong's receiver dropped");
    auto got = co_await rx2;
    if (!got) throw std::runtime_error("ping_pong: pong's sender dropped");
    cd->count_down();
}

weft::task<> ping_pong_spawner(countdown* cd) {
    for (std::size_t i = 0; i < k_num_pings; ++i)
        (void)weft::spawn(ping_task, cd);
    cd->count_down();
    co_return;
}

weft::task<> ping_pong_root(countdown* cd) {
    (void)weft::spawn(ping_pong_spawner, cd);
    co_await cd->done.notified();
}

std::vector<double> ping_pong(weft::runtime& rt, std::size_t iters) {
    auto cd = std::make_unique<countdown>();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        cd->remaining.store(2 * k_num_pings + 1, std::memory_order_relaxed);
        rt.block_on(ping_pong_root(cd.get()));
    }
    return {per_op_ns(clock_type::now() - start, iters * k_num_pings)};
}

// idle_tasks_memory (fresh process per sample) -----------------------------------
constexpr std::size_t k_idle_tasks = 1'000'000;

struct idle_shared {
    std::atomic<std::size_t> parked{0};
    weft::sync::notify all_parked;
    countdown done;
};

weft::task<> idle_parked_task(idle_shared* sh, signal_rx rx) {
    if (sh->parked.fetch_add(1, std::memory_order_relaxed) + 1 == k_idle_tasks)
        sh->all_parked.notify_one();
    auto got = co_await rx;
    if (!got) throw std::runtime_error("idle_tasks_memory: sender dropped");
    sh->done.count_down();
}

weft::task<> idle_spawner(idle_shared* sh, std::vector<signal_tx>* senders) {
    for (auto& slot : *senders) {
        auto [tx, rx] = weft::sync::oneshot::channel<void>();
        // The task object itself is spawned (Tokio: `tokio::spawn(async move {..})`):
        // the arguments live in the coroutine frame only.
        (void)weft::spawn(idle_parked_task(sh, std::move(rx)));
        slot = std::move(tx);
    }
    co_return;
}

weft::task<> idle_root1(idle_shared* sh, std::vector<signal_tx>* senders) {
    check(co_await weft::spawn(idle_spawner, sh, senders), "idle spawner");
    co_await sh->all_parked.notified();
}

weft::task<> idle_sender(std::vector<signal_tx>* senders) {
    for (auto& tx : *senders) {
        if (!tx.send()) throw std::runtime_error("idle_tasks_memory: receiver dropped");
        tx = signal_tx{}; // released after its send
    }
    co_return;
}

weft::task<> idle_root2(idle_shared* sh, std::vector<signal_tx>* senders) {
    auto h = weft::spawn(idle_sender, senders);
    co_await sh->done.done.notified();
    check(co_await h, "idle sender");
}

std::vector<double> idle_tasks_memory(flavor fl) {
    auto sh = std::make_unique<idle_shared>();
    sh->done.remaining.store(k_idle_tasks, std::memory_order_relaxed);
    weft::runtime rt = make_runtime(fl);
    rt.block_on(join_all_one(rt));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<signal_tx> senders(k_idle_tasks); // every slot written (empty senders)
    std::uint64_t rss0 = rss_bytes();
    auto t0 = clock_type::now();
    rt.block_on(idle_root1(sh.get(), &senders));
    auto spawn_elapsed = clock_type::now() - t0;
    std::uint64_t rss1 = rss_bytes();
    auto t2 = clock_type::now();
    rt.block_on(idle_root2(sh.get(), &senders));
    auto wake_elapsed = clock_type::now() - t2;
    return {static_cast<double>(rss1 > rss0 ? rss1 - rss0 : 0) / static_cast<double>(k_idle_tasks),
            per_op_ns(spawn_elapsed, k_idle_tasks), per_op_ns(wake_elapsed, k_idle_tasks)};
}

// mpsc_throughput ---------------------------------------------------------------
constexpr std::size_t k_mpsc_capacity = 1'024;
constexpr std::uint64_t k_producers = 4;
constexpr std::uint64_t k_per_producer = 250'000;
constexpr std::uint64_t k_total_msgs = k_producers * k_per_producer;

weft::task<std::uint64_t> mpsc_consumer(weft::sync::mpsc::receiver<std::uint64_t> rx) {
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < k_total_msgs; ++i) {
        std::optional<std::uint64_t> v = co_await rx.recv();
        if (!v) throw std::runtime_error("mpsc_throughput: channel closed early");
        sum += *v;
    }
    co_return sum;
}

weft::task<> mpsc_producer(weft::sync::mpsc::sender<std::uint64_t> tx, std::uint64_t p) {
    for (std::uint64_t i = 0; i < k_per_producer; ++i) {
        auto sent = co_await tx.send(p * k_per_producer + i);
        if (!sent) throw std::runtime_error("mpsc_throughput: receiver dropped");
    }
}

weft::task<> mpsc_root() {
    auto [tx, rx] = weft::sync::mpsc::channel<std::uint64_t>(k_mpsc_capacity);
    auto consumer = weft::spawn(mpsc_consumer, std::move(rx));
    std::vector<weft::join_handle<void>> producers;
    producers.reserve(k_producers);
    for (std::uint64_t p = 0; p < k_producers; ++p)
        producers.push_back(weft::spawn(mpsc_producer, tx, p));
    tx = {}; // drop ours
    weft::result<std::uint64_t> sum = co_await consumer;
    check(sum, "mpsc consumer");
    if (*sum != k_total_msgs * (k_total_msgs - 1) / 2)
        throw std::runtime_error("mpsc_throughput: lost or duplicated messages");
    for (auto& h : producers)
        check(co_await h, "mpsc producer");
}

std::vector<double> mpsc_throughput(weft::runtime& rt, std::size_t iters) {
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it)
        rt.block_on(mpsc_root());
    return {per_op_ns(clock_type::now() - start, iters * k_total_msgs)};
}

// timers ------------------------------------------------------------------------
// A task spawns 100,000 tasks; task i sleeps until start + (i % 50 + 1) ms and
// adds how late it woke to a shared sum. Figures: wall time per iteration
// minus the 50 ms of the longest sleep, and the mean lateness.
constexpr std::size_t k_timers = 100'000;

struct timers_shared {
    std::atomic<std::uint64_t> late_ns{0};
    countdown done;
};

weft::task<> timer_sleeper(std::size_t i, timers_shared* sh) {
    auto d = std::chrono::milliseconds(i % 50 + 1);
    weft::time::instant deadline = weft::time::instant::now() + d;
    co_await weft::time::sleep_until(deadline);
    auto late = weft::time::instant::now().duration_since(deadline);
    sh->late_ns.fetch_add(static_cast<std::uint64_t>(late.count()), std::memory_order_relaxed);
    sh->done.count_down();
}

weft::task<> timers_spawner(timers_shared* sh) {
    for (std::size_t i = 0; i < k_timers; ++i)
        (void)weft::spawn(timer_sleeper, i, sh);
    sh->done.count_down();
    co_return;
}

weft::task<> timers_root(timers_shared* sh) {
    (void)weft::spawn(timers_spawner, sh);
    co_await sh->done.done.notified();
}

std::vector<double> timers(weft::runtime& rt, std::size_t iters) {
    auto sh = std::make_unique<timers_shared>();
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it) {
        sh->done.remaining.store(k_timers + 1, std::memory_order_relaxed);
        rt.block_on(timers_root(sh.get()));
    }
    double total_ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    double overhead_ms = total_ms / static_cast<double>(iters) - 50.0;
    double lateness_us =
        static_cast<double>(sh->late_ns.load()) / static_cast<double>(k_timers * iters) / 1e3;
    return {overhead_ms, lateness_us};
}

// spawn_blocking ----------------------------------------------------------------
// One task makes 10,000 spawn_blocking calls in 625 batches of 16 (Tokio's
// BATCH_SIZE): it submits 16 calls, then awaits their 16 join handles in
// order. The callable returns 0 through an optimisation barrier.
constexpr std::size_t k_blocking_calls = 10'000;
constexpr std::size_t k_blocking_batch = 16;

std::size_t blocking_zero() {
    std::size_t v = 0;
    asm volatile("" : "+r"(v)); // black_box(0)
    return v;
}

weft::task<> spawn_blocking_task() {
    std::vector<weft::join_handle<std::size_t>> batch;
    batch.reserve(k_blocking_batch);
    for (std::size_t b = 0; b < k_blocking_calls / k_blocking_batch; ++b) {
        for (std::size_t i = 0; i < k_blocking_batch; ++i)
            batch.push_back(weft::spawn_blocking(blocking_zero));
        for (auto& h : batch) {
            weft::result<std::size_t> r = co_await h;
            check(r, "spawn_blocking call");
            std::size_t v = *r;
            asm volatile("" : "+r"(v)); // black_box(handle.await.unwrap())
        }
        batch.clear();
    }
}

weft::task<> spawn_blocking_root() {
    check(co_await weft::spawn(spawn_blocking_task), "spawn_blocking task");
}

std::vector<double> spawn_blocking(weft::runtime& rt, std::size_t iters) {
    auto start = clock_type::now();
    for (std::size_t it = 0; it < iters; ++it)
        rt.block_on(spawn_blocking_root());
    return {per_op_ns(clock_type::now() - start, iters * k_blocking_calls)};
}

// task_bytes (weft only, not in WORKLOADS.md) -------------------------------------
// Bytes that spawning one task allocates: a spawner task spawns 10,000 tasks
// exactly like spawn_many_local's (a coroutine taking one pointer, counting
// down) and reads weft's per-thread counter of bytes requested from the frame
// pools (task header + callable + root frame) around its spawn loop. The loop
// never suspends, so nothing else runs on that thread meanwhile. Requested
// bytes, before rounding to the pool's 16-byte size classes.
weft::task<> task_bytes_spawner(countdown* cd, std::uint64_t* bytes, std::uint64_t* empty_bytes) {
    std::uint64_t before = weft::detail::thread_allocated_bytes();
    for (std::size_t i = 0; i < k_num_spawn; ++i)
        (void)weft::spawn(count_down_task, cd);
    *bytes += weft::detail::thread_allocated_bytes() - before;
    // The empty task of the foundation issue: a lambda without captures
    // that does nothing (Tokio: spawn(async {}), 112-128 bytes).
    before = weft::detail::thread_allocated_bytes();
    for (std::size_t i = 0; i < k_num_spawn; ++i)
        (void)weft::spawn([]() -> weft::task<> { co_return; });
    *empty_bytes += weft::detail::thread_allocated_bytes() - before;
    cd->count_down();
    co_return;
}

weft::task<> task_bytes_root(countdown* cd, std::uint64_t* bytes, std::uint64_t* empty_bytes) {
    (void)weft::spawn(task_bytes_spawner, cd, bytes, empty_bytes);
    co_await cd->done.notified();
}

std::vector<double> task_bytes(weft::runtime& rt, std::size_t iters) {
    auto cd = std::make_unique<countdown>();
    std::uint64_t bytes = 0, empty_bytes = 0;
    for (std::size_t it = 0; it < iters; ++it) {
        cd->remaining.store(k_num_spawn + 1, std::memory_order_relaxed);
        rt.block_on(task_bytes_root(cd.get(), &bytes, &empty_bytes));
    }
    double n = static_cast<double>(iters * k_num_spawn);
    return {static_cast<double>(empty_bytes) / n, static_cast<double>(bytes) / n};
}

// ---------------------------------------------------------------------------
// Registry and driver.
// ---------------------------------------------------------------------------
struct figure {
    char const* suffix;
    char const* unit;
};

struct workload {
    char const* name;
    std::size_t iters; // back-to-back iterations per sample (WORKLOADS.md, column K)
    std::vector<figure> figures;
    std::vector<double> (*in_runtime)(weft::runtime&, std::size_t); // warm-up sample first
    std::vector<double> (*fresh_process)(flavor);                   // one child process per sample
};

// Every workload of WORKLOADS.md; tcp_echo runs through `echo-server`
// (benches/run.sh drives it).
std::vector<workload> const& workloads() {
    static std::vector<workload> const w = {
        {"spawn_many_local", 20, {{"", "ns/task"}}, spawn_many_local, nullptr},
        {"spawn_many_remote_idle", 20, {{"", "ns/task"}}, spawn_many_remote_idle, nullptr},
        {"yield_many", 5, {{"", "ns/yield"}}, yield_many, nullptr},
        {"ping_pong", 100, {{"", "ns/ping"}}, ping_pong, nullptr},
        {"chained_spawn", 200, {{"", "ns/spawn"}}, chained_spawn, nullptr},
        {"idle_tasks_memory",
         1,
         {{"", "bytes/task"}, {":spawn", "ns/task"}, {":wake", "ns/task"}},
         nullptr,
         idle_tasks_memory},
        {"mpsc_throughput", 1, {{"", "ns/msg"}}, mpsc_throughput, nullptr},
        {"timers", 1, {{"", "ms"}, {":lateness", "us"}}, timers, nullptr},
        {"spawn_blocking", 1, {{"", "ns/call"}}, spawn_blocking, nullptr},
        // weft's own figure (no Tokio/Asio counterpart): see task_bytes above.
        {"task_bytes",
         1,
         {{"", "bytes/task"}, {":countdown_task", "bytes/task"}},
         task_bytes,
         nullptr},
    };
    return w;
}

constexpr std::string_view k_ct_suffix = "/current_thread";

std::vector<std::string> all_names() {
    std::vector<std::string> names;
    for (auto const& w : workloads()) {
        names.emplace_back(w.name);
        names.push_back(std::string(w.name) + std::string(k_ct_suffix));
    }
    return names;
}

std::optional<std::pair<workload const*, flavor>> lookup(std::string_view name) {
    flavor fl = flavor::multi_thread;
    if (name.size() > k_ct_suffix.size() &&
        name.substr(name.size() - k_ct_suffix.size()) == k_ct_suffix) {
        name.remove_suffix(k_ct_suffix.size());
        fl = flavor::current_thread;
    }
    for (auto const& w : workloads())
        if (name == w.name) return std::make_pair(&w, fl);
    return std::nullopt;
}

struct stats {
    double median, min, max;
};

stats compute_stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto n = v.size();
    double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    return {median, v.front(), v.back()};
}

// Runs `weft-bench --child <name>` and parses its "sample v1 v2 ..." line.
[[maybe_unused]] std::vector<double> run_child(std::string const& name) {
    char exe[4096];
    ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
    exe[len] = '\0';
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execl(exe, exe, "--child", name.c_str(), static_cast<char*>(nullptr));
        std::perror("execl");
        std::_Exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("child process for " + name + " failed");
    auto pos = out.find("sample ");
    if (pos == std::string::npos)
        throw std::runtime_error("child for " + name + " printed no sample: " + out);
    std::vector<double> values;
    char const* p = out.c_str() + pos + 7;
    char* end = nullptr;
    for (double v = std::strtod(p, &end); end != p; v = std::strtod(p, &end)) {
        values.push_back(v);
        p = end;
    }
    return values;
}

void run_workload(std::string const& name, std::size_t repeat,
                  std::optional<std::size_t> iters_override) {
    auto [w, fl] = *lookup(name);
    std::size_t iters = iters_override.value_or(w->iters);
    std::vector<std::vector<double>> samples;
    if (w->in_runtime) {
        // The runtime is built once, outside any timing, and reused.
        weft::runtime rt = make_runtime(fl);
        (void)w->in_runtime(rt, iters); // warm-up, not reported
        for (std::size_t r = 0; r < repeat; ++r)
            samples.push_back(w->in_runtime(rt, iters));
    } else {
        for (std::size_t r = 0; r < repeat; ++r)
            samples.push_back(run_child(name));
    }
    for (std::size_t i = 0; i < w->figures.size(); ++i) {
        std::vector<double> col;
        for (auto const& s : samples)
            col.push_back(s.at(i));
        auto st = compute_stats(std::move(col));
        std::printf("%s%s median=%.1f min=%.1f max=%.1f unit=%s\n", name.c_str(),
                    w->figures[i].suffix, st.median, st.min, st.max, w->figures[i].unit);
        std::fflush(stdout);
    }
}

// --- tcp_echo server (WORKLOADS.md): the client is shared/baselines/echo-client ---

weft::task<> echo_connection(weft::net::tcp_stream sock) {
    (void)sock.set_nodelay(true);
    std::vector<std::byte> buf(4096);
    for (;;) {
        weft::io::result<std::size_t> n = co_await sock.read(buf);
        if (!n || *n == 0) co_return;
        weft::io::result<void> w =
            co_await sock.write_all(std::span<const std::byte>(buf.data(), *n));
        if (!w) co_return;
    }
}

// Serves 127.0.0.1:<port> (0: any free port, printed as "listening
// 127.0.0.1:<port>" for the scripts) with one `handler` task per connection,
// until killed.
void serve_tcp(std::uint16_t port, flavor fl, weft::task<> (*handler)(weft::net::tcp_stream)) {
    weft::runtime rt = make_runtime(fl);
    rt.block_on([](std::uint16_t port,
                   weft::task<> (*handler)(weft::net::tcp_stream)) -> weft::task<> {
        auto listener = weft::net::tcp_listener::bind("127.0.0.1:" + std::to_string(port)).value();
        std::printf("listening %s\n", listener.local_addr().value().to_string().c_str());
        std::fflush(stdout);
        // The accept loop is a task, so that it runs on a worker thread.
        auto acceptor = weft::spawn(
            [](weft::net::tcp_listener l,
               weft::task<> (*handler)(weft::net::tcp_stream)) -> weft::task<> {
                for (;;) {
                    auto conn = co_await l.accept();
                    if (conn) {
                        weft::spawn(handler, std::move(conn->first));
                    } else {
                        // Out of descriptors: back off instead of spinning.
                        std::fprintf(stderr, "accept failed: %s\n", conn.message().c_str());
                        co_await weft::time::sleep(std::chrono::milliseconds(100));
                    }
                }
            },
            std::move(listener), handler);
        (void)co_await acceptor;
    }(port, handler));
}

void echo_server(std::uint16_t port, flavor fl) {
    serve_tcp(port, fl, echo_connection);
}

// --- http_hello server (benches/http.sh drives wrk against it and Tokio's
// benches/tokio-http): examples/http_hello.cpp's server, on the bench's
// runtimes (2 workers, or current-thread). ---

constexpr std::string_view k_http_response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
constexpr std::string_view k_http_response_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: "
    "close\r\n\r\nHello, world!";

weft::task<> http_connection(weft::net::tcp_stream s) {
    (void)s.set_nodelay(true);
    auto [rd, wr] = std::move(s).into_split();
    weft::io::buf_reader in(std::move(rd), 4096);
    std::string line;
    for (;;) {
        bool close = false, any = false;
        for (;;) {
            line.clear();
            auto n = co_await in.read_line(line);
            if (!n || *n == 0) co_return;
            if (line == "\r\n" || line == "\n") break;
            any = true;
            if (line.size() >= 17 && strncasecmp(line.c_str(), "connection: close", 17) == 0)
                close = true;
        }
        if (!any) continue;
        auto w = co_await wr.write_all(close ? k_http_response_close : k_http_response);
        if (!w || close) co_return;
    }
}

void http_server(std::uint16_t port, flavor fl) {
    serve_tcp(port, fl, http_connection);
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: weft-bench <workload>... [--repeat N] [--iters K]\n"
                         "       weft-bench all [--repeat N]\n"
                         "       weft-bench list\n"
                         "       weft-bench echo-server <port> [--current-thread]\n"
                         "       weft-bench http-server <port> [--current-thread]\n");
    std::exit(2);
}

std::size_t parse_positive(char const* s) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v == 0) usage();
    return static_cast<std::size_t>(v);
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) usage();
    try {
        if (args[0] == "--child") {
            if (args.size() < 2) usage();
            auto found = lookup(args[1]);
            if (!found || !found->first->fresh_process) usage();
            auto values = found->first->fresh_process(found->second);
            std::printf("sample");
            for (double v : values)
                std::printf(" %.6f", v);
            std::printf("\n");
            return 0;
        }
        if (args[0] == "echo-server" || args[0] == "http-server") {
            if (args.size() < 2 || args.size() > 3) usage();
            bool current = args.size() == 3;
            if (current && args[2] != "--current-thread") usage();
            char* end = nullptr;
            unsigned long port = std::strtoul(args[1].c_str(), &end, 10);
            if (end == args[1].c_str() || *end != '\0' || port > 65535) usage();
            (args[0] == "echo-server" ? echo_server : http_server)(static_cast<std::uint16_t>(port),
                                                                   current ? flavor::current_thread
                                                                           : flavor::multi_thread);
            return 0;
        }
        if (args[0] == "list") {
            for (auto const& n : all_names())
                std::printf("%s\n", n.c_str());
            return 0;
        }
        std::size_t repeat = 5;
        std::optional<std::size_t> iters;
        std::vector<std::string> names;
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == "--repeat") {
                if (++i >= args.size()) usage();
                repeat = parse_positive(args[i].c_str());
            } else if (args[i] == "--iters") {
                if (++i >= args.size()) usage();
                iters = parse_positive(args[i].c_str());
            } else if (args[i] == "all") {
                auto all = all_names();
                names.insert(names.end(), all.begin(), all.end());
            } else if (args[i].rfind("--", 0) == 0) {
                usage();
            } else {
                names.push_back(args[i]);
            }
        }
        if (names.empty()) usage();
        for (auto const& n : names) {
            if (!lookup(n)) {
                std::fprintf(stderr, "unknown workload '%s'; `weft-bench list` shows the names\n",
                             n.c_str());
                return 2;
            }
        }
        for (auto const& n : names)
            run_workload(n, repeat, iters);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "weft-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
