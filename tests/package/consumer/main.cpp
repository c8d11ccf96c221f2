// A program that uses an installed weft: find_package / add_subdirectory /
// pkg-config consumers all build this file (tests/package/). The pkg-config
// build compiles it with `-I` (not -isystem, so weft's headers get no
// warning exemption) and -Wall -Wextra -Wshadow -Werror: the main API must
// be warning-free in a user's translation unit.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace {

weft::task<int> twice(int v) {
    co_await weft::yield_now();
    co_return 2 * v;
}

// Non-coroutine function that hands on a task: the public attribute header.
WEFT_CORO_WRAPPER weft::task<int> twice_later(int v) {
    return twice(v);
}

weft::task<int> consumer_main() {
    using namespace std::chrono_literals;
    int total = 0;

    // spawn + join_handle
    weft::join_handle<int> handle = weft::spawn([]() -> weft::task<int> { co_return 21 * 2; });
    total += (co_await handle).expect("task panicked"); // 42

    // join and select
    auto [a, b] = co_await weft::join(twice(1), twice_later(2)); // 2, 4
    total += a + b;
    auto first = co_await weft::select(twice(3), weft::time::sleep(1h));
    if (first.index() == 0) total += std::get<0>(first); // 6

    // mpsc, oneshot, join_set, cancellation_token, spawn_blocking, timeout
    auto [tx, rx] = weft::sync::mpsc::channel<int>(4);
    auto sent = co_await tx.send(1);
    if (sent) total += *co_await rx.recv(); // 1
    auto [otx, orx] = weft::sync::oneshot::channel<std::string>();
    if (!otx.send("x")) co_return -1;
    auto got = co_await orx;
    if (got) total += static_cast<int>(got->size()); // 1
    weft::join_set<int> set;
    set.spawn([]() -> weft::task<int> { co_return 3; });
    while (auto r = co_await set.join_next())
        total += r->expect("member panicked"); // 3
    weft::cancellation_token token;
    token.cancel();
    co_await token.cancelled();
    total += (co_await weft::spawn_blocking([] { return 5; })).expect("blocking call threw"); // 5
    auto timed = co_await weft::time::timeout(1h, twice(0));
    if (timed) total += *timed; // 0
    co_return total;
}

} // namespace

int main() {
    int value = weft::block_on(consumer_main);
    if (value != 64) {
        std::fprintf(stderr, "consumer: expected 64, got %d\n", value);
        return 1;
    }
    std::printf("consumer: ok\n");
    return 0;
}
