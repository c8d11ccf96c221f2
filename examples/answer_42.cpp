// answer_42: spawn a task and await its result.
//
// The weft version of Tokio's first spawn example:
//
//     #[tokio::main]
//     async fn main() {
//         let handle = tokio::spawn(async { 21 * 2 });
//         let answer = handle.await.expect("task panicked");
//         assert_eq!(answer, 42);
//     }
#include <weft/weft.hpp>

#include <cstdio>

int main() {
    // weft::block_on is weft's #[tokio::main]: it builds a default runtime,
    // runs the coroutine to completion on this thread and returns its value.
    return weft::block_on([]() -> weft::task<int> {
        // spawn() schedules a new task at once (it does not wait for the
        // first co_await) and returns a join_handle<int> to observe it.
        weft::join_handle<int> handle = weft::spawn([]() -> weft::task<int> { co_return 21 * 2; });

        // Awaiting the handle gives a weft::result<int>: the task's value, or
        // a join_error if it threw (Tokio: panicked) or was aborted.
        // expect() unwraps the value or throws with the given message.
        int answer = (co_await handle).expect("task panicked");

        // assert_eq!(answer, 42), kept in Release builds too.
        if (answer != 42) {
            std::fprintf(stderr, "assertion failed: answer == 42 (answer = %d)\n", answer);
            co_return 1;
        }
        std::printf("answer = %d\n", answer);
        co_return 0;
    });
}
