// Build-wide switches of weft's internals.
//
// WEFT_POOL_FRAMES: coroutine frames and task headers come from per-thread
// size-class pools (see frame_allocator.hpp). Sanitizer builds turn the pools
// off so that AddressSanitizer sees every allocation and every free.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT_SANITIZER_BUILD 1
#endif
#endif

#ifndef WEFT_POOL_FRAMES
#ifdef WEFT_SANITIZER_BUILD
#define WEFT_POOL_FRAMES 0
#else
#define WEFT_POOL_FRAMES 1
#endif
#endif

#if defined(__GNUC__)
#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WEFT_LIKELY(x) (x)
#define WEFT_UNLIKELY(x) (x)
#endif

// Clang's coroutine lifetime analysis (Clang >= 17): a function returning a
// type marked coro_return_type is checked for arguments that dangle.
#if defined(__clang__) && defined(__has_cpp_attribute)
//
// task is also a gsl::Pointer: it borrows whatever its coroutine's
// reference parameters (and a lambda coroutine's captures) refer to. With
// spawn(task<R> t WEFT_LIFETIMEBOUND) the join handle inherits those
// borrows, so `auto h = weft::spawn(f(std::string("tmp")))` warns
// (-Wdangling) while `spawn(f(named))` and `spawn(g())` do not. See
// docs/decisions/0026-clang-lifetime-attributes.md. Define
// WEFT_NO_LIFETIME_ATTRIBUTES to turn the analysis off.
#if __has_cpp_attribute(clang::coro_return_type) &&                                                \
    __has_cpp_attribute(clang::coro_lifetimebound) && !defined(WEFT_NO_LIFETIME_ATTRIBUTES)
#define WEFT_CORO_RETURN_TYPE [[clang::coro_return_type, clang::coro_lifetimebound, gsl::Pointer]]
#define WEFT_CORO_WRAPPER [[clang::coro_wrapper]]
#define WEFT_LIFETIMEBOUND [[clang::lifetimebound]]
// For wrappers that take their operands by value or move them in (join,
// select): their arguments are not borrowed, so they are not lifetimebound.
#if __has_cpp_attribute(clang::coro_disable_lifetimebound)
#define WEFT_CORO_WRAPPER_OWNING [[clang::coro_wrapper, clang::coro_disable_lifetimebound]]
#else
#define WEFT_CORO_WRAPPER_OWNING [[clang::coro_wrapper]]
#endif
#endif
#endif
#ifndef WEFT_CORO_RETURN_TYPE
#define WEFT_CORO_RETURN_TYPE
#define WEFT_CORO_WRAPPER
#define WEFT_CORO_WRAPPER_OWNING
#define WEFT_LIFETIMEBOUND
#endif
