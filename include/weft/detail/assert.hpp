// WEFT_ASSERT(cond, msg): weft's internal invariant checks.
//
// The preconditions of the task-state transitions (detail/task/state.hpp), of the
// run queues and of the timer wheel are written down as WEFT_ASSERTs next
// to the code that relies on them, so that a broken invariant stops the
// program where it broke instead of corrupting a task or a queue that
// fails much later somewhere else.
//
// On when WEFT_ENABLE_ASSERTS is defined. CMake defines it (PUBLIC on the
// weft target, so the library, its inline headers and the code built
// against it agree) from the WEFT_ASSERTS option: AUTO (the default) turns
// the checks on in Debug builds and in sanitizer builds (WEFT_SANITIZE),
// ON and OFF force them. The debug, asan and tsan presets set ON.
//
// Off, an assert compiles to nothing: the condition sits in an unevaluated
// sizeof, so it costs no code on the hot paths (spawn, wake, queues,
// timers) and still counts as a use (no unused-variable warnings for a
// value kept only for an assert) and still has to compile.
//
// On, a failed assert prints `file:line: weft: assertion failed: cond
// (msg)` to stderr with fprintf (no iostreams: usable anywhere, from any
// thread, before main) and calls std::abort(). `msg` is a string literal
// that says which invariant broke. Conditions must have no side effects.
#pragma once

#ifdef WEFT_ENABLE_ASSERTS

#include <cstdio>
#include <cstdlib>

namespace weft::detail {

[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void
assert_failed(const char* cond, const char* msg, const char* file, int line) noexcept {
    std::fprintf(stderr, "%s:%d: weft: assertion failed: %s (%s)\n", file, line, cond, msg);
    std::fflush(stderr);
    std::abort();
}

} // namespace weft::detail

#define WEFT_ASSERTS_ENABLED 1
#define WEFT_ASSERT(cond, msg)                                                                     \
    (__builtin_expect(!!(cond), 1)                                                                 \
         ? static_cast<void>(0)                                                                    \
         : ::weft::detail::assert_failed(#cond, msg, __FILE__, __LINE__))

#else

#define WEFT_ASSERTS_ENABLED 0
#define WEFT_ASSERT(cond, msg) static_cast<void>(sizeof(!(cond)))

#endif
