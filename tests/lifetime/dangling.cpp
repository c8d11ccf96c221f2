// Compile-time checks of Clang's coroutine lifetime analysis on weft::task
// (docs/decisions/0026-clang-lifetime-attributes.md). Each WEFT_CASE_* below
// is a bug that must be reported as -Wdangling; the CTest cases in
// lifetime.cmake compile this file once per case with -Werror=dangling and
// pass only when Clang names the dangling temporary. WEFT_CASE_NONE is the
// control: the same shapes without the bug compile cleanly.
#include <cstddef>
#include <string>

#include <weft/weft.hpp>

namespace {

weft::task<std::size_t> length(const std::string& s) {
    co_return s.size();
}

struct counter {
    weft::task<int> add(int x) { co_return base + x; }
    int base = 1;
};

} // namespace

int main() {
    weft::runtime rt(weft::runtime::current_thread().build());
    return rt.block_on([]() -> weft::task<int> {
#if defined(WEFT_CASE_SPAWN_TEMPORARY_ARGUMENT)
        // The std::string dies at the end of this statement; the task still
        // reads it later.
        auto h = weft::spawn(length(std::string("temporary")));
        co_return static_cast<int>((co_await h).value());
#elif defined(WEFT_CASE_STORED_TASK_TEMPORARY_ARGUMENT)
        auto t = length(std::string("temporary"));
        auto h = weft::spawn(std::move(t));
        co_return static_cast<int>((co_await h).value());
#elif defined(WEFT_CASE_DEAD_LAMBDA_CAPTURES)
        // The lambda object (and its capture) is a temporary; its coroutine
        // reads the capture after the lambda is gone.
        auto h = weft::spawn(
            [s = std::string("captured")]() -> weft::task<std::size_t> { co_return s.size(); }());
        co_return static_cast<int>((co_await h).value());
#elif defined(WEFT_CASE_NONE)
        std::string named = "named";
        auto h1 = weft::spawn(length(named)); // named outlives h1
        auto h2 = weft::spawn([s = std::string("captured")]() -> weft::task<std::size_t> {
            co_return s.size(); // spawn(lambda): the capture lives in the task
        });
        auto h3 = weft::spawn(length, std::string("copied")); // arguments are copied
        counter c;
        auto h4 = weft::spawn(&counter::add, &c, 2);
        std::size_t n = (co_await h1).value() + (co_await h2).value() + (co_await h3).value();
        co_return static_cast<int>(n) + (co_await h4).value() - 22;
#else
#error "define one WEFT_CASE_*"
#endif
    });
}
