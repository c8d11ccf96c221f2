// fetch_concurrently: two spawned "fetches" run while the main task works.
//
// The weft version of the spawn example of the Tokio tutorial
// ("Spawning Lightweight Asynchronous Tasks with Tokio"):
//
//     async fn fetch_data_from(source: &str, delay_ms: u64) -> String {
//         println!("Start fetching from {}...", source);
//         sleep(Duration::from_millis(delay_ms)).await;
//         let data = format!("Data from {}", source);
//         println!("Finished fetching from {}.", source);
//         data
//     }
//
// The Rust version borrows `source: &str` from a string literal, which is
// 'static. In C++ the coroutine's parameters are copied into its frame, so
// taking std::string by value is what keeps it alive while the task sleeps
// (a `const std::string&` parameter would dangle once the caller's
// temporary is gone).
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

// An async function that simulates a network request.
weft::task<std::string> fetch_data_from(std::string source, std::chrono::milliseconds delay) {
    std::printf("Start fetching from %s...\n", source.c_str());
    std::fflush(stdout);
    // sleep is an awaitable: co_await suspends this task, not the thread.
    co_await weft::time::sleep(delay);
    std::string data = "Data from " + source;
    std::printf("Finished fetching from %s.\n", source.c_str());
    std::fflush(stdout);
    co_return data;
}

weft::task<int> async_main() {
    std::printf("--- Spawning Concurrent Tasks ---\n");

    // 1. Spawn a task for the first data source. The task owns its
    //    arguments (copied into it, like std::thread), and starts at once.
    weft::join_handle<std::string> task_1_handle =
        weft::spawn(fetch_data_from, "API Server", 500ms);

    // 2. Spawn a task for the second data source.
    weft::join_handle<std::string> task_2_handle = weft::spawn(fetch_data_from, "Database", 300ms);

    // 3. Do other work in the main task while the spawned tasks run.
    //    yield_now lets the two tasks start first, so that the output has
    //    the seed's order every time (in Tokio's multi-thread version that
    //    order is a race that the spawned tasks usually win).
    co_await weft::yield_now();
    std::printf("Main task is free to do other work while fetches are running.\n");
    co_await weft::time::sleep(100ms);
    std::printf("Main task has finished its other work.\n");

    // 4. Wait for the results. expect() plays unwrap(): it throws if the
    //    task threw or was cancelled.
    std::string result_1 = (co_await task_1_handle).expect("fetch from API Server");
    std::string result_2 = (co_await task_2_handle).expect("fetch from Database");

    std::printf("\n--- Results ---\n");
    std::printf("Result from Task 1: '%s'\n", result_1.c_str());
    std::printf("Result from Task 2: '%s'\n", result_2.c_str());
    co_return 0;
}

// #[tokio::main(flavor = "current_thread")]: one thread runs every task, so
// the interleaving above is deterministic (see step 3).
int main() {
    weft::runtime rt = weft::runtime::current_thread().build();
    return rt.block_on(async_main);
}
