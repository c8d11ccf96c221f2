// weft::runtime, weft::runtime_builder, weft::runtime_handle, weft::block_on.
//
// A runtime owns the schedulers' threads and every task spawned on it.
//
//   int main() {
//       weft::runtime rt = weft::runtime::multi_thread().worker_threads(4).build();
//       int v = rt.block_on([]() -> weft::task<int> {
//           auto h = weft::spawn([]() -> weft::task<int> { co_return 21 * 2; });
//           co_return *co_await h;
//       });
//       return v == 42 ? 0 : 1;
//   }
//
// or, like #[tokio::main], with the free function:
//
//   int main() { return weft::block_on(async_main); }
//
// Flavours:
// - multi_thread(): N workers (default: one per CPU) with work stealing
//   (src/multi_thread.cpp). block_on runs its task on the calling thread,
//   which is not a worker: what it spawns goes through the inject queue.
// - current_thread(): no threads of its own; the thread in block_on runs
//   every task. Tasks spawned from outside wait until someone calls block_on.
//
// Shutdown (the destructor, shutdown_timeout, shutdown_background): workers
// stop at their next task boundary, then every task left is aborted: its
// frames are destroyed (destructors run), its join handle gives cancelled.
// Then the blocking pool: spawn_blocking calls that never started are
// cancelled, started ones are waited for. shutdown_timeout(d) waits at most
// d in all for workers stuck in a long poll and for blocking calls, then
// leaves them (the last one out cleans up); shutdown_background() does not
// wait at all.
//
// Misuse throws weft::runtime_error: spawn outside a runtime, block_on
// inside one (use co_await), block_on on a runtime after it shut down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/blocking.hpp"
#include "weft/detail/runtime_config.hpp"
#include "weft/detail/runtime_core.hpp"
#include "weft/detail/spawn_site.hpp"
#include "weft/join_handle.hpp"
#include "weft/observe.hpp"
#include "weft/runtime_error.hpp"
#include "weft/spawn.hpp"
#include "weft/task.hpp"

namespace weft {

/// What happens when an exception escapes a spawned task.
enum class unhandled_exception_policy {
    /// The exception goes into the task's join_error (is_panic); the runtime
    /// keeps running. Tokio's default.
    ignore,
    /// The runtime shuts down at once: every task is aborted and block_on
    /// throws weft::runtime_error (nesting the exception). Tokio has this on
    /// its current-thread runtime only, as an unstable option; weft has it on
    /// both.
    shutdown_runtime,
};

/// Counters of a runtime, read without stopping it. Values read while the
/// runtime runs are approximate (each counter is read on its own).
struct runtime_metrics {
    std::size_t num_workers = 0;
    std::uint64_t num_alive_tasks = 0;
    std::uint64_t spawned_tasks_count = 0;
    std::uint64_t global_queue_depth = 0;
    std::uint64_t budget_forced_yield_count = 0;
    /// Timers registered and not yet fired or cancelled.
    std::uint64_t timers_pending = 0;
    /// Threads of the blocking pool (busy or idle), idle ones among them,
    /// and spawn_blocking calls waiting for a thread (Tokio's
    /// num_blocking_threads, num_idle_blocking_threads, blocking_queue_depth).
    std::uint64_t num_blocking_threads = 0;
    std::uint64_t num_idle_blocking_threads = 0;
    std::uint64_t blocking_queue_depth = 0;
    /// Sockets (and signal descriptors) registered with the I/O driver.
    std::uint64_t io_registrations = 0;
    /// Socket writes sent through write batching, and the io_uring_enter
    /// calls that carried them (runtime_builder::batch_writes). Their ratio
    /// is the mean batch size; both stay 0 when batching is off or where
    /// io_uring is not available.
    std::uint64_t io_batched_writes = 0;
    std::uint64_t io_write_batches = 0;
    /// Times a runtime thread offered its core to the threads its batched
    /// writes woke (runtime_builder::yield_core_after).
    std::uint64_t core_yields = 0;
    struct worker {
        std::uint64_t poll_count = 0;
        std::uint64_t steal_count = 0;
        std::uint64_t steal_operations = 0;
        std::uint64_t lifo_hits = 0;
        std::uint64_t park_count = 0;
        std::uint64_t overflow_count = 0;
        std::uint64_t local_queue_depth = 0;
    };
    std::vector<worker> workers;
};

// runtime_config value-initialises its policy (detail/runtime_config.hpp).
static_assert(unhandled_exception_policy{} == unhandled_exception_policy::ignore);

/// A handle to a runtime: spawn onto it and enter it from any thread. Cheap
/// to copy. Keeps the runtime's internals alive, not its threads: after the
/// runtime shut down, spawn gives a cancelled task and block_on throws.
class runtime_handle {
public:
    /// The runtime this thread is inside (a worker, or a thread in block_on).
    /// Throws weft::runtime_error elsewhere.
    static runtime_handle current();

    /// Spawns `f(args...)` onto this runtime, from any thread; the same
    /// overloads as weft::spawn (named(...) first, or a task<R>), and the
    /// task records this call's location.
    ///
    ///   auto h = rt.handle().spawn([]() -> weft::task<> { co_return; });
    ///   auto h2 = rt.handle().spawn(weft::named("ticker"), tick, 10);
    WEFT_DETAIL_LOCATED_SPAWN(spawn, spawn_at, const)

    /// Runs the plain callable `f(args...)` on this runtime's blocking pool,
    /// from any thread (see weft::spawn_blocking).
    ///
    ///   auto h = rt.handle().spawn_blocking([] { return std::filesystem::file_size("x"); });
    template <class F, class... Args>
    auto spawn_blocking(F&& f, Args&&... args) const {
        return detail::spawn_blocking_on(core_.get(), std::forward<F>(f),
                                         std::forward<Args>(args)...);
    }

    /// Runs `f(args...)` to completion on the calling thread (see runtime::block_on).
    template <class F, class... Args>
    auto block_on(F&& f, Args&&... args) const {
        return detail::block_on_core(*core_, 0, std::forward<F>(f), std::forward<Args>(args)...);
    }

    runtime_metrics metrics() const { return core_->metrics(); }

    /// Lists the runtime's live spawned tasks: id, name, spawn site, state,
    /// and, for an idle task, the coroutine it is suspended in (see
    /// observe.hpp). Takes each registry shard's lock briefly; safe from
    /// any thread, including a task of this runtime.
    ///
    ///   std::cerr << rt.handle().dump();
    runtime_dump dump() const { return core_->dump(); }

    explicit runtime_handle(std::shared_ptr<detail::runtime_core> core) noexcept
        : core_(std::move(core)) {}

private:
    template <class... A>
    auto spawn_at(std::uint32_t site, A&&... a) const {
        return detail::spawn_into(detail::runtime_spawn_target(*core_), site,
                                  std::forward<A>(a)...);
    }

    std::shared_ptr<detail::runtime_core> core_;
};

class runtime;

/// Settings of a new runtime. Each setter validates its value and throws
/// std::invalid_argument naming the setting.
///
///   auto rt = weft::runtime::multi_thread()
///                 .worker_threads(2)
///                 .thread_name("io")
///                 .unhandled_exception(weft::unhandled_exception_policy::shutdown_runtime)
///                 .build();
class runtime_builder {
public:
    /// Worker threads of a multi-thread runtime (>= 1). Default: one per CPU.
    runtime_builder& worker_threads(std::size_t n);
    /// Most threads the blocking pool (spawn_blocking) may start (>= 1). Default 512.
    runtime_builder& max_blocking_threads(std::size_t n);
    /// How long an idle blocking thread waits for work before it exits. Default 10 s.
    runtime_builder& thread_keep_alive(std::chrono::nanoseconds d);
    /// Name of the runtime's threads, workers and blocking threads (Linux
    /// keeps 15 characters).
    runtime_builder& thread_name(std::string name);
    /// Stack size of the runtime's threads, in bytes (>= 64 KiB).
    runtime_builder& thread_stack_size(std::size_t bytes);
    /// Scheduler ticks between two polls of the I/O and time drivers (>= 1). Default 61.
    /// A thread busy with ready tasks (or a block_on task that is always
    /// ready) still polls the drivers, without blocking, at least this often;
    /// a task that yields waits for the next poll (decision 0040). Lower it
    /// for I/O latency under CPU load, raise it for throughput.
    runtime_builder& event_interval(std::uint32_t ticks);
    /// Scheduler ticks between two looks at the global queue (>= 1). Default 31.
    runtime_builder& global_queue_interval(std::uint32_t ticks);
    /// Start with the clock paused (tests; see weft::time).
    runtime_builder& start_paused(bool paused);
    /// Called on each runtime thread (workers and blocking threads) when it
    /// starts / before it exits.
    runtime_builder& on_thread_start(std::function<void()> f);
    runtime_builder& on_thread_stop(std::function<void()> f);
    /// What an exception escaping a spawned task does. Default: ignore.
    runtime_builder& unhandled_exception(unhandled_exception_policy policy);
    /// Turns on the long-poll watchdog: a thread that reports, once per
    /// occurrence, a task that has been in a single poll for at least `d`
    /// (it blocks its worker: a blocking call, a long computation). Costs
    /// the scheduler two relaxed stores per poll; the watchdog samples every
    /// d / 4. Default: off. d >= 1 ms.
    ///
    ///   auto rt = weft::runtime::multi_thread()
    ///                 .long_poll_threshold(std::chrono::milliseconds(100))
    ///                 .build();  // reports go to stderr
    runtime_builder& long_poll_threshold(std::chrono::nanoseconds d);
    /// Where long-poll reports go (default: one line on stderr). Called on
    /// the watchdog's thread; it may block the watchdog, not the runtime.
    ///
    ///   auto rt = weft::runtime::multi_thread()
    ///                 .on_long_poll([](const weft::long_poll_report& r) { log(r); })
    ///                 .build();
    runtime_builder& on_long_poll(std::function<void(const long_poll_report&)> f);
    /// Prints this runtime's dump() to stderr on SIGQUIT (Ctrl-\). Installs
    /// a process-wide handler (install_sigquit_dump) that only wakes a
    /// printer thread. Default: off (SIGQUIT keeps its default action).
    ///
    ///   auto rt = weft::runtime::multi_thread().dump_on_sigquit(true).build();
    runtime_builder& dump_on_sigquit(bool on);
    /// Write batching (decision 0043, with the measurements). On (the
    /// default), a socket write does not call send(2) at once: the thread
    /// it runs on (the current-thread runtime's, or its worker) gathers the
    /// writes of its current round of tasks and hands them to the kernel in
    /// one io_uring_enter before it runs the next round, polls for I/O or
    /// parks. A writer waits at most for the tasks queued before it. With
    /// many connections busy at once that is one system call per round
    /// instead of one per write. Off, or where io_uring is not available
    /// (old kernel, seccomp), every write is its own send(2). Results and
    /// errors are the same either way. On a multi-thread runtime, a task
    /// that polls for long holds back the writes its worker gathered before
    /// it: keep long computations on the blocking pool.
    ///
    ///   auto rt = weft::runtime::current_thread().batch_writes(false).build();
    runtime_builder& batch_writes(bool on);
    /// With write batching: once a runtime thread (the current-thread
    /// runtime's, or a worker) has run for `after` without parking, its
    /// next flush that woke a writer is followed by
    /// sched_yield(2), so that threads waiting for this core (often the
    /// peers the flush just woke) run now rather than at the next scheduler
    /// tick. Per-write send(2) gives that hand-off at each wake-up; one
    /// io_uring_enter for the whole round does not (decision 0043).
    /// Default 100 µs; a yield with no other thread ready returns at once.
    /// std::nullopt: never yield; 0: after every flush that woke a writer.
    /// A negative duration throws std::invalid_argument.
    ///
    ///   auto rt = weft::runtime::current_thread().yield_core_after(std::nullopt).build();
    runtime_builder& yield_core_after(std::optional<std::chrono::microseconds> after);
    /// Replayable scheduling, for tests (current_thread() only; decision
    /// 0041). Every choice the runtime makes between things ready at the
    /// same moment comes from a generator seeded with `seed`: which ready
    /// task runs next, the order of one epoll_wait's I/O events, the order
    /// of timers due at the same tick, and where an unbiased select or join
    /// starts its pass. The same seed and the same program (with the same
    /// inputs) give the same interleaving, run after run; other seeds give
    /// other, equally valid, interleavings. Use it with start_paused(true):
    /// the real clock is not replayable. Not replayed: spawn_blocking calls
    /// and wake-ups from other threads (their timing is the OS's), I/O with
    /// peers outside the program, task ids. yield_now still lets every task
    /// woken or spawned before it run first; tasks that yielded in the same
    /// lap run in the seed's order. Without a seed the scheduler is FIFO, as
    /// before. On a multi_thread() builder, build() throws
    /// std::invalid_argument (the OS interleaves its workers). See
    /// docs/guide/10-deterministic-tests.md.
    ///
    ///   std::uint64_t seed = std::getenv("SEED") ? std::stoull(std::getenv("SEED")) : 1;
    ///   auto rt = weft::runtime::current_thread().start_paused(true).rng_seed(seed).build();
    ///   rt.block_on(test_body);   // a failure is replayed by passing the same SEED
    runtime_builder& rng_seed(std::uint64_t seed);

    runtime build();

private:
    friend class runtime;
    explicit runtime_builder(bool multi_thread) { cfg_.multi_thread = multi_thread; }
    detail::runtime_config cfg_;
};

class runtime {
public:
    /// The default runtime: multi_thread().build().
    runtime();
    static runtime_builder multi_thread() { return runtime_builder(true); }
    static runtime_builder current_thread() { return runtime_builder(false); }

    runtime(runtime&&) noexcept = default;
    runtime& operator=(runtime&& o) noexcept;
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;
    /// Shuts down: stops the workers, aborts every task left, waits.
    ~runtime();

    /// Runs `f(args...)` (a callable returning task<R>), or a task<R>, to
    /// completion on the calling thread, and returns its value or rethrows
    /// its exception. Throws weft::runtime_error inside a runtime.
    ///
    ///   int v = rt.block_on([]() -> weft::task<int> { co_return 42; });
    template <class F, class... Args>
    auto block_on(F&& f, Args&&... args) {
        return detail::block_on_core(*core(), 0, std::forward<F>(f), std::forward<Args>(args)...);
    }

    /// Spawns onto this runtime from any thread (like handle().spawn).
    ///
    ///   auto h = rt.spawn(weft::named("worker"), []() -> weft::task<> { co_return; });
    WEFT_DETAIL_LOCATED_SPAWN(spawn, spawn_at, )

    /// Runs a plain callable on the blocking pool, from any thread (like
    /// handle().spawn_blocking; see weft::spawn_blocking).
    ///
    ///   auto h = rt.spawn_blocking([] { return 6 * 7; });
    template <class F, class... Args>
    auto spawn_blocking(F&& f, Args&&... args) {
        return detail::spawn_blocking_on(core().get(), std::forward<F>(f),
                                         std::forward<Args>(args)...);
    }

    runtime_handle handle() const { return runtime_handle(core()); }
    runtime_metrics metrics() const { return core()->metrics(); }
    /// Like handle().dump().
    runtime_dump dump() const { return core()->dump(); }

    /// Shuts down, waiting at most `d` for workers busy in a long poll.
    void shutdown_timeout(std::chrono::nanoseconds d) &&;
    /// Shuts down without waiting.
    void shutdown_background() &&;

private:
    friend class runtime_builder;
    explicit runtime(std::shared_ptr<detail::runtime_core> core) noexcept
        : core_(std::move(core)) {}
    const std::shared_ptr<detail::runtime_core>& core() const;
    template <class... A>
    auto spawn_at(std::uint32_t site, A&&... a) {
        return detail::spawn_into(detail::runtime_spawn_target(*core()), site,
                                  std::forward<A>(a)...);
    }
    std::shared_ptr<detail::runtime_core> core_;
};

/// Builds a default runtime, runs `f(args...)` on it, shuts it down and
/// returns the value (the analogue of #[tokio::main]).
///
///   int main() {
///       return weft::block_on([]() -> weft::task<int> { co_return 0; });
///   }
template <class F, class... Args>
auto block_on(F&& f, Args&&... args) {
    detail::check_not_in_runtime("block_on");
    runtime rt;
    return rt.block_on(std::forward<F>(f), std::forward<Args>(args)...);
}

} // namespace weft
