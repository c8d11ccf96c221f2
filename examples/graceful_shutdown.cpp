// graceful_shutdown: stop long-running tasks cleanly, two ways.
//
// The seeds' advice: "Prefer explicit shutdown channels or cancellation
// tokens for long-running tasks" and "a common pattern is to use a shutdown
// channel (watch or broadcast) to signal tasks to terminate gracefully".
// abort() would also stop them, but at an arbitrary suspension point with
// no chance to finish the item in hand or to say goodbye; a signal lets each
// task stop between two items and run its async cleanup.
//
// Part 1 uses a weft::cancellation_token (tokio_util's CancellationToken):
// the workers check it between items, and a listener waits on cancelled().
// Part 2 uses a watch channel carrying a `bool shutting_down`.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// A worker that processes items until told to stop, then cleans up.
weft::task<int> worker(int id, weft::cancellation_token stop) {
    int items = 0;
    while (!stop.is_cancelled()) {
        co_await weft::time::sleep(2ms); // one item's worth of work
        ++items;
    }
    // Async cleanup still runs: the task was asked, not aborted.
    co_await weft::time::sleep(1ms);
    (void)id;
    co_return items;
}

// A task that only waits for the signal.
weft::task<std::string> listener(weft::cancellation_token stop) {
    co_await stop.cancelled();
    co_return "listener: shutdown signal received";
}

// The same worker with a watch channel as the signal.
weft::task<int> watch_worker(weft::sync::watch::receiver<bool> shutting_down) {
    int items = 0;
    while (!*shutting_down.borrow()) {
        co_await weft::time::sleep(2ms);
        ++items;
    }
    co_return items;
}

weft::task<int> async_main() {
    std::printf("--- part 1: cancellation_token ---\n");
    weft::cancellation_token shutdown;
    std::vector<weft::join_handle<int>> workers;
    for (int id = 1; id <= 3; ++id)
        workers.push_back(weft::spawn(worker, id, shutdown.child_token()));
    auto l = weft::spawn(listener, shutdown);

    co_await weft::time::sleep(20ms); // the service runs for a while
    std::printf("main: asking every task to stop\n");
    shutdown.cancel();

    for (std::size_t i = 0; i < workers.size(); ++i) {
        weft::result<int> r = co_await workers[i];
        // The item count depends on timing; what matters is a clean return.
        std::printf("worker %zu: %s\n", i + 1, r ? "stopped cleanly" : r.error().what());
    }
    std::printf("%s\n", (co_await l).expect("listener").c_str());

    std::printf("--- part 2: watch channel ---\n");
    auto [tx, rx] = weft::sync::watch::channel(false);
    std::vector<weft::join_handle<int>> watchers;
    for (int i = 0; i < 2; ++i)
        watchers.push_back(weft::spawn(watch_worker, rx));
    co_await weft::time::sleep(10ms);
    std::printf("main: sending shutting_down = true\n");
    (void)tx.send(true);
    for (std::size_t i = 0; i < watchers.size(); ++i) {
        weft::result<int> r = co_await watchers[i];
        std::printf("watch worker %zu: %s\n", i + 1, r ? "stopped cleanly" : r.error().what());
    }
    std::printf("all tasks stopped\n");
    co_return 0;
}

int main() {
    return weft::block_on(async_main);
}
