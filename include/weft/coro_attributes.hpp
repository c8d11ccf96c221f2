// weft/coro_attributes.hpp: the attributes of Clang's coroutine lifetime
// analysis, as macros that expand to nothing on other compilers.
//
//   template <typename F>
//   WEFT_CORO_WRAPPER weft::task<int> retry(F f) { return f(); }  // not a coroutine
//
// - WEFT_CORO_WRAPPER: put it on your own function that returns a
//   weft::task without being a coroutine itself (it forwards one made
//   elsewhere). Clang >= 17 rejects such a function otherwise, because task
//   is a [[clang::coro_return_type]] (docs/compiler-traps.md).
// - WEFT_CORO_WRAPPER_OWNING: the same for a wrapper that takes its operands
//   by value, so that its arguments are not treated as borrowed.
// - WEFT_LIFETIMEBOUND: [[clang::lifetimebound]] where Clang has it.
// - WEFT_CORO_RETURN_TYPE: what weft::task is marked with.
// Define WEFT_NO_LIFETIME_ATTRIBUTES to turn them all off.
#pragma once

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
