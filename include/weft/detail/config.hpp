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

// WEFT_CORO_WRAPPER and the other coroutine lifetime attributes are public:
// weft/coro_attributes.hpp (this include keeps the old path working).
#include "weft/coro_attributes.hpp"
