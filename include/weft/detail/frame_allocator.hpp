// Per-thread size-class pools for coroutine frames and task headers.
// Classes are 8 bytes apart; frames use the 16-byte multiples only, task
// headers the others too.
//
// Spawning a task allocates two blocks: the task header (with the callable)
// and the root coroutine frame; every awaited task<T> allocates its frame.
// These are small, short-lived and freed on whichever worker finishes the
// task, so the pool keeps one free list per 8-byte size class per thread:
//
//   - allocate pops the calling thread's list; when it is empty it takes a
//     batch from the process-wide depot, and only then carves a fresh block
//     from the thread's current 64 KiB slab.
//   - deallocate pushes onto the calling thread's list; a list longer than
//     `local_limit` gives half of itself back to the depot, so a producer /
//     consumer pair of threads cannot make one list grow without bound.
//   - a thread that exits gives all its lists to the depot.
//
// Slabs are never returned to the system (like most allocators, the memory
// is reused, not released). Blocks above `max_pooled` bytes go to operator
// new. With WEFT_POOL_FRAMES=0 (sanitizer builds) everything goes to
// operator new, so AddressSanitizer sees each block.
//
// thread_allocated_bytes() counts the bytes requested on the calling thread, for
// the "bytes per spawned task" figure; it is a plain thread-local counter.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/detail/config.hpp"

namespace weft::detail {

/// Coroutine frames: 16-byte aligned, sizes rounded up to 16.
void* frame_allocate(std::size_t size);
void frame_deallocate(void* p, std::size_t size) noexcept;
/// Task headers (8-byte alignment is enough): sizes rounded up to 8.
void* header_allocate(std::size_t size);
void header_deallocate(void* p, std::size_t size) noexcept;

/// Bytes requested through frame_allocate on this thread since it started.
std::uint64_t thread_allocated_bytes() noexcept;

} // namespace weft::detail
