// owned_string: move owned data into a spawned task, then tell apart the
// three ways a task can end.
//
// The weft version of Tokio's example:
//
//     #[tokio::main]
//     async fn main() {
//         let input = String::from("owned by the task");
//         let handle = tokio::spawn(async move { input.len() });
//         match handle.await {
//             Ok(len) => assert_eq!(len, 17),
//             Err(err) if err.is_cancelled() => eprintln!("task was cancelled"),
//             Err(err) => std::panic::resume_unwind(err.into_panic()),
//         }
//     }
#include <weft/weft.hpp>

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>

int main() {
    return weft::block_on([]() -> weft::task<int> {
        std::string input = "owned by the task";

        // `async move`: the string is moved into the lambda's capture. spawn()
        // moves the lambda into the new task, so the capture lives exactly as
        // long as the task. (Capturing `&input` instead would leave the task
        // pointing into this coroutine's frame, which may be gone before the
        // task runs: the C++ counterpart of Rust's error E0373.)
        weft::join_handle<std::size_t> handle = weft::spawn(
            [input = std::move(input)]() -> weft::task<std::size_t> { co_return input.size(); });

        // match handle.await { ... }
        weft::result<std::size_t> res = co_await handle;
        if (res) {
            // Ok(len)
            std::size_t len = *res;
            if (len != 17) {
                std::fprintf(stderr, "assertion failed: len == 17 (len = %zu)\n", len);
                co_return 1;
            }
            std::printf("len = %zu\n", len);
        } else if (res.error().is_cancelled()) {
            // Err(err) if err.is_cancelled()
            std::fprintf(stderr, "task was cancelled\n");
        } else {
            // Err(err): the task threw. Rethrow its exception here, as
            // std::panic::resume_unwind does with the panic payload.
            weft::join_error err = std::move(res).error();
            weft::resume_unwind(std::move(err).into_panic());
        }
        co_return 0;
    });
}
