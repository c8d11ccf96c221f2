// A worker's local run queue: a fixed ring of 256 task pointers with one
// owner (pushes and pops) and any number of thieves (steal half).
//
// The algorithm is Tokio's (runtime/scheduler/multi_thread/queue.rs):
//
//   head  = (steal << 32) | real, in one atomic word
//   tail  = written only by the owner
//
// `real` is the next slot the owner pops; `steal` trails it while a thief
// is copying slots [steal, real) out. Packing both in one word gives the
// owner and the thieves one CAS to agree on, and `steal` keeps the owner
// from overwriting slots that a thief is still reading: the owner counts
// free space from `steal`, not from `real`.
//
// Invariants:
//   - Every pushed task is popped by the owner or stolen by exactly one
//     thief, exactly once.
//   - Only one thief at a time (a thief backs off when steal != real).
//   - Slots are atomics accessed relaxed; the release store of tail and the
//     acq_rel CAS on head order them (this keeps ThreadSanitizer exact).
//   - Overflow: when the ring is full, the owner moves half of it (128) plus
//     the new task to the inject queue in one batch, so a busy worker
//     shares its backlog.
//   - steal <= real <= tail (mod 2^32) and tail - steal <= capacity; a
//     thief takes at most half; a pushed task is NOTIFIED (it holds its one
//     queue entry). WEFT_ASSERT checks these in Debug and sanitizer builds.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "scheduler/inject_queue.hpp"
#include "weft/detail/assert.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

class local_queue {
public:
    static constexpr std::uint32_t capacity = 256;
    static constexpr std::uint32_t mask = capacity - 1;

    /// Owner: pushes at the back; overflows into `inject`. Returns true when
    /// it overflowed.
    bool push_back(task_header* t, inject_queue& inject) noexcept {
        WEFT_ASSERT(task_is_notified(t), "local_queue push: the task is NOTIFIED");
        for (;;) {
            std::uint64_t head = head_.load(std::memory_order_acquire);
            std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
            std::uint32_t tail = tail_.load(std::memory_order_relaxed);
            WEFT_ASSERT(real - steal <= tail - steal && tail - steal <= capacity,
                        "local_queue push: steal <= real <= tail <= steal + capacity");
            if (tail - steal < capacity) {
                buffer_[tail & mask].store(t, std::memory_order_relaxed);
                tail_.store(tail + 1, std::memory_order_release);
                return false;
            }
            if (steal != real) {
                // A thief is copying out; it frees room soon. Do not wait for it.
                if (!inject.push(t)) task_ref_dec(t);
                return true;
            }
            if (push_overflow(t, real, tail, inject)) return true;
            // Lost a race with a thief: retry.
        }
    }

    /// Owner: pops from the front.
    task_header* pop() noexcept {
        std::uint64_t head = head_.load(std::memory_order_acquire);
        for (;;) {
            std::uint32_t steal = unpack_steal(head), real = unpack_real(head);
            std::uint32_t tail = tail_.load(std::memory_order_relaxed);
            WEFT_ASSERT(real - steal <= tail - steal && tail - steal <= capacity,
                        "local_queue pop: steal <= real <= tail <= steal + capacity");
            if (real == tail) return nullptr;
            std::uint32_t next_real = real + 1;
            std::uint64_t next =
                steal == real ? pack(next_real, next_real) : pack(steal, next_real);
            if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                return buffer_[real & mask].load(std::memory_order_relaxed);
        }
    }

    /// Thief: moves half of this queue into `dst` (owned by the calling
    /// thread) and returns one of the stolen tasks, or nullptr.
    task_header* steal_into(local_queue& dst) noexcept {
        std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
        std::uint32_t dst_steal = unpack_steal(dst.head_.load(std::memory_order_acquire));
        if (dst_tail - dst_steal > capacity / 2) return nullptr; // room for half of ours
        std::uint32_t n = steal_into2(dst, dst_tail);
        if (n == 0) return nullptr;
        --n;
        task_header* ret = dst.buffer_[(dst_tail + n) & mask].load(std::memory_order_relaxed);
        if (n != 0) dst.tail_.store(dst_tail + n, std::memory_order_release);
        return ret;
    }

    std::uint32_t len() const noexcept {
        std::uint32_t real = unpack_real(head_.load(std::memory_order_acquire));
        return tail_.load(std::memory_order_acquire) - real;
    }
    bool empty() const noexcept { return len() == 0; }

private:
    static std::uint32_t unpack_steal(std::uint64_t h) noexcept {
        return static_cast<std::uint32_t>(h >> 32);
    }
    static std::uint32_t unpack_real(std::uint64_t h) noexcept {
        return static_cast<std::uint32_t>(h);
    }
    static std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
        return (static_cast<std::uint64_t>(steal) << 32) | real;
    }

    bool push_overflow(task_header* t, std::uint32_t head, std::uint32_t tail,
                       inject_queue& inject) noexcept {
        constexpr std::uint32_t take = capacity / 2;
        (void)tail;
        std::uint64_t prev = pack(head, head);
        // Claim [head, head + take) for ourselves; fails if a thief moved in.
        if (!head_.compare_exchange_strong(prev, pack(head + take, head + take),
                                           std::memory_order_release, std::memory_order_relaxed))
            return false;
        std::array<task_header*, take + 1> batch;
        for (std::uint32_t i = 0; i < take; ++i)
            batch[i] = buffer_[(head + i) & mask].load(std::memory_order_relaxed);
        batch[take] = t;
        inject.push_batch(batch.data(), batch.size());
        return true;
    }

    std::uint32_t steal_into2(local_queue& dst, std::uint32_t dst_tail) noexcept {
        std::uint64_t prev = head_.load(std::memory_order_acquire);
        std::uint64_t next;
        std::uint32_t n;
        std::uint32_t first;
        for (;;) {
            std::uint32_t steal = unpack_steal(prev), real = unpack_real(prev);
            if (steal != real) return 0; // another thief is at work
            std::uint32_t src_tail = tail_.load(std::memory_order_acquire);
            n = src_tail - real;
            WEFT_ASSERT(n <= capacity, "local_queue steal: at most capacity tasks queued");
            n -= n / 2;
            WEFT_ASSERT(n <= capacity / 2, "local_queue steal: a thief takes at most half");
            if (n == 0) return 0;
            first = real;
            next = pack(steal, real + n);
            if (head_.compare_exchange_weak(prev, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                break;
        }
        for (std::uint32_t i = 0; i < n; ++i) {
            task_header* t = buffer_[(first + i) & mask].load(std::memory_order_relaxed);
            dst.buffer_[(dst_tail + i) & mask].store(t, std::memory_order_relaxed);
        }
        // Done copying: let `steal` catch up with `real` (which the owner may
        // have moved meanwhile).
        prev = next;
        for (;;) {
            std::uint32_t real = unpack_real(prev);
            if (head_.compare_exchange_weak(prev, pack(real, real), std::memory_order_acq_rel,
                                            std::memory_order_acquire))
                return n;
        }
    }

    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::atomic<std::uint32_t> tail_{0};
    alignas(64) std::array<std::atomic<task_header*>, capacity> buffer_{};
};

} // namespace weft::detail
