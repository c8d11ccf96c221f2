// A program that uses an installed weft: find_package / add_subdirectory /
// pkg-config consumers all build this file (tests/package/).
#include <weft/weft.hpp>

#include <cstdio>

int main() {
    int value = weft::block_on([]() -> weft::task<int> {
        weft::join_handle<int> handle = weft::spawn([]() -> weft::task<int> { co_return 21 * 2; });
        co_return (co_await handle).expect("task panicked");
    });
    if (value != 42) {
        std::fprintf(stderr, "consumer: expected 42, got %d\n", value);
        return 1;
    }
    std::printf("consumer: ok\n");
    return 0;
}
