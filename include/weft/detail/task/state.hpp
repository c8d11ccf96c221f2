// The task state word: lifecycle bits and the reference count in one atomic.
//
// Bits (as in Tokio's runtime/task/state.rs):
//
//   RUNNING        a worker is polling the task (or cancelling it). At most
//                  one thread holds it; it owns the coroutine frames.
//   COMPLETE       the task has finished (value, exception or cancelled).
//                  Never unset once set; never set together with RUNNING.
//   NOTIFIED       the task is on a run queue, or will be put there by the
//                  worker that is running it. At most one queue entry exists.
//   JOIN_INTEREST  a join_handle exists. Cleared when it is dropped.
//   JOIN_WAKER     the join waker field is set and, until COMPLETE, belongs
//                  to the task; while clear it belongs to the join handle.
//   CANCELLED      abort() was requested; the next poll destroys the frames.
//   INTERRUPTED    a timeout inside the task elapsed: the next poll abandons
//                  the timed-out work (see interrupt_scope in detail/task/header.hpp).
//   refcount       bits 7..39 (33 bits), in units of REF_ONE.
//   site           bits 40..63 (24 bits): the interned spawn site of the task
//                  (detail/spawn_site.hpp; 0 = unknown). Written once by the
//                  task_header constructor, before the task is published, and
//                  never changed: every transition below is an add/sub of
//                  REF_ONE or an and/or/xor of flag bits, so no RMW carries
//                  into or clears it, as long as the refcount stays below
//                  2^33 (each reference is an object of at least 8 bytes:
//                  2^33 of them would need 64 GiB).
//
// References are held by: the owned-task registry (until the task completes),
// each run-queue entry (NOTIFIED), the join handle, each abort_handle and
// each waker. INITIAL = 3 references (registry, first queue entry, join
// handle) | JOIN_INTEREST | NOTIFIED: a new task is scheduled at once.
//
// Transitions (each one CAS loop, written next to its code below):
//
//   to_running        NOTIFIED -> RUNNING, by the worker that popped the task.
//   to_idle           RUNNING -> idle after a poll that suspended; keeps the
//                     queue reference when NOTIFIED was set meanwhile (the
//                     task is rescheduled), else drops it.
//   to_idle_after_peek
//                     the dump's RUNNING -> idle: as to_idle, but an abort
//                     that arrived meanwhile reschedules the task instead.
//   to_idle_keep_cancelled
//                     an aborted task waits for a flush's wake (decision 0042).
//   to_complete       RUNNING -> COMPLETE.
//   notified_by_val   a waker fires and gives up its reference.
//   notified_by_ref   a waker fires and keeps its reference.
//   notified_and_cancel
//                     abort(): sets CANCELLED, schedules an idle task.
//   to_shutdown       runtime shutdown claims an idle task to cancel it inline.
//   join_handle_dropped, set_join_waker, unset_join_waker, unset_waker_after_complete
//                     the join handle protocol.
//   ref_inc, ref_dec  a reference is taken / dropped (ref_dec: was it the last).
//   claim_for_peek    the dump borrows RUNNING from an idle task (undone by
//                     to_idle_after_peek).
//   set_interrupted, clear_interrupted
//                     a timeout elapsed / the poller acts on it.
//   init_branch, init_join_set_entry, set_branch_notified,
//   take_branch_notified, seal_branch
//                     the words of join/select branches and join_set entries,
//                     which use only NOTIFIED, COMPLETE and one reference.
//
// The word is a private member of task_state: nothing outside this file
// changes it, and readers get a state_snapshot with named predicates.
//
// Each transition WEFT_ASSERTs (detail/assert.hpp; Debug and sanitizer
// builds) the bits it requires of the word it read: e.g. to_running finds
// an idle task NOTIFIED, to_idle and to_complete find RUNNING, the join
// waker is published only while JOIN_INTEREST is set and the field is the
// handle's, and no transition drops a reference that is not there. The
// checks read values the CAS loops load anyway; they add no atomic access.
#pragma once

#include <atomic>
#include <cstdint>

#include "weft/detail/assert.hpp"

namespace weft::detail {

namespace state_bits {
inline constexpr std::uint64_t running = 1;
inline constexpr std::uint64_t complete = 2;
inline constexpr std::uint64_t notified = 4;
inline constexpr std::uint64_t join_interest = 8;
inline constexpr std::uint64_t join_waker = 16;
inline constexpr std::uint64_t cancelled = 32;
inline constexpr std::uint64_t interrupted = 64;
inline constexpr std::uint64_t ref_shift = 7;
inline constexpr std::uint64_t ref_one = std::uint64_t{1} << ref_shift;
inline constexpr std::uint64_t flag_mask = ref_one - 1;
inline constexpr std::uint64_t site_shift = 40;
inline constexpr std::uint64_t ref_mask = (std::uint64_t{1} << (site_shift - ref_shift)) - 1;
inline constexpr std::uint64_t max_site = (std::uint64_t{1} << (64 - site_shift)) - 1;
inline constexpr std::uint64_t initial = 3 * ref_one | join_interest | notified;
} // namespace state_bits

inline std::uint64_t ref_count(std::uint64_t s) noexcept {
    return (s >> state_bits::ref_shift) & state_bits::ref_mask;
}

/// The spawn-site index kept in a state word's top bits.
inline std::uint32_t site_index(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s >> state_bits::site_shift);
}

/// One reading of a state word, with the bits named. Transitions that
/// return the word they replaced (to_complete, ...) return one of these.
struct state_snapshot {
    std::uint64_t bits;

    bool is_running() const noexcept { return (bits & state_bits::running) != 0; }
    bool is_complete() const noexcept { return (bits & state_bits::complete) != 0; }
    bool is_notified() const noexcept { return (bits & state_bits::notified) != 0; }
    bool is_cancelled() const noexcept { return (bits & state_bits::cancelled) != 0; }
    bool is_interrupted() const noexcept { return (bits & state_bits::interrupted) != 0; }
    bool has_join_interest() const noexcept { return (bits & state_bits::join_interest) != 0; }
    bool has_join_waker() const noexcept { return (bits & state_bits::join_waker) != 0; }
    /// Neither running nor complete: its frames are at rest.
    bool is_idle() const noexcept {
        return (bits & (state_bits::running | state_bits::complete)) == 0;
    }
    std::uint64_t refs() const noexcept { return ref_count(bits); }
    std::uint32_t site() const noexcept { return site_index(bits); }
};

enum class to_running_result { success, cancelled, failed, dealloc };
enum class to_idle_result { ok, ok_notified, ok_dealloc, cancelled };
enum class notify_result { do_nothing, submit, dealloc };

/// The state word and its transitions. The word is private: every change
/// is one of the named member functions below, each of which checks its
/// precondition on the value it read (WEFT_ASSERT) and keeps its memory
/// order written next to it.
class task_state {
public:
    explicit task_state(std::uint64_t initial_bits) noexcept : word(initial_bits) {}
    task_state(const task_state&) = delete;
    task_state& operator=(const task_state&) = delete;

    // NOTIFIED -> RUNNING. The caller holds the queue entry's reference. A
    // task that is already running or complete (a stale queue entry after a
    // shutdown claimed it) gives the reference back: failed / dealloc.
    [[nodiscard]] to_running_result to_running() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(ref_count(s) != 0,
                        "to_running: the caller holds the queue entry's reference");
            if ((s & (running | complete)) != 0) {
                std::uint64_t next = s - ref_one;
                if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
                    return ref_count(next) == 0 ? to_running_result::dealloc
                                                : to_running_result::failed;
                continue;
            }
            WEFT_ASSERT(s & notified, "to_running: an idle task popped from a queue is NOTIFIED");
            std::uint64_t next = (s | running) & ~notified;
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return (s & cancelled) ? to_running_result::cancelled : to_running_result::success;
        }
    }

    // RUNNING -> idle. `yielded`: the task asked to run again (treated as if
    // NOTIFIED were set, without the extra RMW). CANCELLED leaves the word
    // alone: the caller still holds RUNNING and cancels.
    [[nodiscard]] to_idle_result to_idle(bool yielded) noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_relaxed);
        for (;;) {
            WEFT_ASSERT((s & (running | complete)) == running, "to_idle: the poller holds RUNNING");
            WEFT_ASSERT(ref_count(s) != 0, "to_idle: the poller holds the queue entry's reference");
            if (s & cancelled) return to_idle_result::cancelled;
            std::uint64_t next = s & ~running;
            to_idle_result r;
            if (yielded || (s & notified)) {
                next |= notified; // the queue reference moves to the new entry
                r = to_idle_result::ok_notified;
            } else {
                next -= ref_one;
                r = ref_count(next) == 0 ? to_idle_result::ok_dealloc : to_idle_result::ok;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
                return r;
        }
    }

    // The dump gives back the RUNNING bit it borrowed (peek_suspension). As
    // to_idle, except that an abort that arrived meanwhile is not acted on
    // here: cancelling runs the task's destructors, which belong on its own
    // thread (a spawn_local task's above all), not the dumping one. The
    // task is rescheduled instead and its poller finds CANCELLED.
    [[nodiscard]] to_idle_result to_idle_after_peek() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_relaxed);
        for (;;) {
            WEFT_ASSERT((s & (running | complete)) == running,
                        "to_idle_after_peek: the peek holds RUNNING");
            WEFT_ASSERT(ref_count(s) != 0, "to_idle_after_peek: the peek holds a reference");
            std::uint64_t next = s & ~running;
            to_idle_result r;
            if (s & (notified | cancelled)) {
                next |= notified; // the peek's reference becomes the queue entry's
                r = to_idle_result::ok_notified;
            } else {
                next -= ref_one;
                r = ref_count(next) == 0 ? to_idle_result::ok_dealloc : to_idle_result::ok;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
                return r;
        }
    }

    // RUNNING -> idle with CANCELLED kept: an aborted task whose batched
    // write another worker's flush may be sending waits for that flush's
    // wake (src/task/harness.cpp, decision 0042). As to_idle otherwise: a wake that
    // came meanwhile keeps the queue reference (reschedule).
    [[nodiscard]] to_idle_result to_idle_keep_cancelled() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_relaxed);
        for (;;) {
            WEFT_ASSERT((s & (running | complete)) == running,
                        "to_idle_keep_cancelled: the poller holds RUNNING");
            WEFT_ASSERT(ref_count(s) != 0,
                        "to_idle_keep_cancelled: the poller holds the queue entry's reference");
            std::uint64_t next = s & ~running;
            to_idle_result r;
            if (s & notified) {
                r = to_idle_result::ok_notified;
            } else {
                next -= ref_one;
                r = ref_count(next) == 0 ? to_idle_result::ok_dealloc : to_idle_result::ok;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed))
                return r;
        }
    }

    // RUNNING -> COMPLETE in one XOR; returns the word before.
    state_snapshot to_complete() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.fetch_xor(running | complete, std::memory_order_acq_rel);
        WEFT_ASSERT((s & (running | complete)) == running, "to_complete: only from RUNNING");
        WEFT_ASSERT(ref_count(s) != 0, "to_complete: the poller holds a reference");
        return {s};
    }

    // A waker fires and gives up its reference.
    [[nodiscard]] notify_result notified_by_val() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(ref_count(s) != 0, "notified_by_val: the waker holds a reference");
            std::uint64_t next;
            notify_result r;
            if (s & running) {
                WEFT_ASSERT(ref_count(s) >= 2, "notified_by_val: the poller holds a reference too");
                // The poller sees NOTIFIED in to_idle and reschedules; it
                // holds a reference, so ours cannot be the last.
                next = (s | notified) - ref_one;
                r = notify_result::do_nothing;
            } else if (s & (complete | notified)) {
                next = s - ref_one;
                r = ref_count(next) == 0 ? notify_result::dealloc : notify_result::do_nothing;
            } else {
                next = s | notified; // our reference becomes the queue's
                r = notify_result::submit;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return r;
        }
    }

    // A waker fires and keeps its reference.
    [[nodiscard]] notify_result notified_by_ref() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(ref_count(s) != 0, "notified_by_ref: the waker holds a reference");
            std::uint64_t next;
            notify_result r;
            if (s & (complete | notified)) return notify_result::do_nothing;
            if (s & running) {
                next = s | notified;
                r = notify_result::do_nothing;
            } else {
                next = (s | notified) + ref_one; // a new reference for the queue
                r = notify_result::submit;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return r;
        }
    }

    // abort(). Returns true when the caller must schedule the task (it took
    // a reference for the queue entry).
    [[nodiscard]] bool notified_and_cancel() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(ref_count(s) != 0, "notified_and_cancel: the caller holds a reference");
            if (s & (cancelled | complete)) return false;
            std::uint64_t next;
            bool submit = false;
            if (s & running) {
                next = s | notified | cancelled; // the poller cancels after its poll
            } else if (s & notified) {
                next = s | cancelled; // the queued entry cancels when popped
            } else {
                next = (s | notified | cancelled) + ref_one;
                submit = true;
            }
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return submit;
        }
    }

    // Runtime shutdown: sets CANCELLED and, if the task is idle, RUNNING so
    // that the caller may cancel it inline. True when claimed.
    [[nodiscard]] bool to_shutdown() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(ref_count(s) != 0, "to_shutdown: the caller holds a reference");
            bool idle = (s & (running | complete)) == 0;
            std::uint64_t next = s | cancelled | (idle ? running : 0);
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return idle;
        }
    }

    struct join_drop {
        bool drop_output; // the task is complete: the handle destroys the output
        bool drop_waker;  // the handle owns the waker field: it clears it
    };

    // The join handle goes away.
    [[nodiscard]] join_drop join_handle_dropped() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            WEFT_ASSERT(s & join_interest, "join_handle_dropped: a join handle exists");
            WEFT_ASSERT(ref_count(s) != 0, "join_handle_dropped: the handle holds a reference");
            std::uint64_t next = s & ~join_interest;
            if (!(s & complete)) next &= ~join_waker;
            if (word.compare_exchange_weak(s, next, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return {(s & complete) != 0, (next & join_waker) == 0};
        }
    }

    // The handle has written the waker field and publishes it. Fails (false)
    // when the task completed first; the field stays the handle's.
    [[nodiscard]] bool set_join_waker() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            if (s & complete) return false;
            WEFT_ASSERT(s & join_interest, "set_join_waker: only a join handle sets the waker");
            WEFT_ASSERT(!(s & join_waker), "set_join_waker: the field is the handle's (bit clear)");
            if (word.compare_exchange_weak(s, s | join_waker, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return true;
        }
    }

    // The handle takes the waker field back to replace it. Fails when the
    // task completed (the task then owns the field until it unsets the bit).
    [[nodiscard]] bool unset_join_waker() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        for (;;) {
            if (s & complete) return false;
            WEFT_ASSERT(s & join_interest, "unset_join_waker: only a join handle unsets the waker");
            WEFT_ASSERT(s & join_waker, "unset_join_waker: a waker is published");
            if (word.compare_exchange_weak(s, s & ~join_waker, std::memory_order_acq_rel,
                                           std::memory_order_acquire))
                return true;
        }
    }

    // After COMPLETE and waking the join waker, the task gives the field back.
    state_snapshot unset_waker_after_complete() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.fetch_and(~join_waker, std::memory_order_acq_rel);
        WEFT_ASSERT((s & (complete | join_waker)) == (complete | join_waker),
                    "unset_waker_after_complete: the task completed with a waker published");
        return {s};
    }

    // --- References -------------------------------------------------------

    // Relaxed, as for shared_ptr: taking a reference requires already holding one.
    void ref_inc() noexcept {
        std::uint64_t prev = word.fetch_add(state_bits::ref_one, std::memory_order_relaxed);
        WEFT_ASSERT(ref_count(prev) != 0, "task_ref_inc: taking a reference requires holding one");
    }

    // Drops `n` references; true when they were the last (the caller frees).
    [[nodiscard]] bool ref_dec(std::uint64_t n) noexcept {
        std::uint64_t prev = word.fetch_sub(n * state_bits::ref_one, std::memory_order_acq_rel);
        WEFT_ASSERT(ref_count(prev) >= n, "task_ref_dec: drops only references that are held");
        return ref_count(prev) == n;
    }

    // --- The dump's borrow of an idle task --------------------------------

    // idle -> RUNNING for peek_suspension (the caller holds a reference). A
    // running, scheduled or complete task is left alone: its frames belong
    // to someone else or are about to. True when claimed; give it back with
    // to_idle_after_peek.
    [[nodiscard]] bool claim_for_peek() noexcept {
        using namespace state_bits;
        std::uint64_t s = word.load(std::memory_order_acquire);
        do {
            WEFT_ASSERT(ref_count(s) != 0, "peek_suspension: the caller holds a reference");
            if (s & (running | complete | notified)) return false;
        } while (!word.compare_exchange_weak(s, s | running, std::memory_order_acq_rel,
                                             std::memory_order_acquire));
        return true;
    }

    // --- Timeouts (INTERRUPTED) -------------------------------------------

    // A timeout's deadline passed (the timing wheel, or a deadline already
    // due at registration): the next poll abandons the timed-out work.
    void set_interrupted() noexcept {
        word.fetch_or(state_bits::interrupted, std::memory_order_acq_rel);
    }

    // The poller (holding RUNNING) takes the interrupt it is about to act on.
    void clear_interrupted() noexcept {
        std::uint64_t prev = word.fetch_and(~state_bits::interrupted, std::memory_order_acq_rel);
        WEFT_ASSERT(prev & state_bits::interrupted, "clear_interrupted: INTERRUPTED is set");
    }

    // --- join/select branches and join_set entries (branch.hpp) -----------
    //
    // A branch's word holds one reference (its branch_set's) and uses only
    // NOTIFIED (woken since the last pass) and COMPLETE (sealed: a late wake
    // just drops its reference). A join_set entry's word holds its set's
    // reference and is otherwise touched only by wakes.

    // A fresh branch: the set's reference, NOTIFIED so that the first pass
    // starts it. Before the branch is published (relaxed).
    void init_branch() noexcept {
        word.store(state_bits::ref_one | state_bits::notified, std::memory_order_relaxed);
    }

    // A fresh join_set entry: one reference, the set's.
    void init_join_set_entry() noexcept {
        word.store(state_bits::ref_one, std::memory_order_relaxed);
    }

    // A branch asked to run again (yield_now, spent budget): next pass.
    void set_branch_notified() noexcept {
        word.fetch_or(state_bits::notified, std::memory_order_acq_rel);
    }

    // The pass takes a live branch's NOTIFIED before running it: a wake
    // that lands while the branch runs sets it again, so none is lost.
    void take_branch_notified() noexcept {
        using namespace state_bits;
        std::uint64_t prev = word.fetch_and(~notified, std::memory_order_acq_rel);
        WEFT_ASSERT((prev & (notified | complete)) == notified,
                    "pass: only the pass clears a live branch's NOTIFIED");
    }

    // The branch finished or was dropped: wakers only drop their reference.
    void seal_branch() noexcept {
        std::uint64_t prev = word.fetch_or(state_bits::complete, std::memory_order_acq_rel);
        WEFT_ASSERT(ref_count(prev) != 0, "seal: the branch_set holds the header's reference");
    }

    // --- Reading ----------------------------------------------------------

    state_snapshot load(std::memory_order o = std::memory_order_acquire) const noexcept {
        return {word.load(o)};
    }

private:
    std::atomic<std::uint64_t> word;
};

} // namespace weft::detail
