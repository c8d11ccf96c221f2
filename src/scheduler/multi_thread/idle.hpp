// The multi-thread runtime's idle state (Tokio's scheduler/multi_thread/idle.rs):
// which workers are parked, and how many are searching for work.
//
// One word, (unparked << 16) | searching, plus the sleepers list (worker
// indices, LIFO). Changes of the list happen under `mu_`; the word can be
// read without it, so notify_should_wakeup, the check on every wake-up that
// might need a parked worker, is a plain load. All word RMWs are seq_cst:
// a worker that parks (decrements `unparked`, then rechecks the queues)
// and a waker that pushes work (then reads the word) must not both miss
// each other.
//
// At most half the workers search at once (transition_to_searching), so a
// burst of wake-ups does not make every worker contend on the queues. A
// worker woken by a notifier starts out searching; the last searcher to
// find work wakes another (transition_from_searching's result), which
// spreads work without waking everyone.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace weft::detail {

class idle_state {
public:
    explicit idle_state(std::size_t num_workers) noexcept
        : num_workers_(num_workers), state_(std::uint64_t{num_workers} << 16) {}

    /// A worker with no work starts searching (stealing), unless half the
    /// workers already are.
    bool transition_to_searching() noexcept {
        std::uint64_t s = state_.load(std::memory_order_seq_cst);
        if (2 * searching_of(s) >= num_workers_) return false;
        state_.fetch_add(1, std::memory_order_seq_cst);
        return true;
    }

    /// A searching worker found work (or gave up). True when the caller was
    /// the last searcher.
    bool transition_from_searching() noexcept {
        return searching_of(state_.fetch_sub(1, std::memory_order_seq_cst)) == 1;
    }

    /// Whether new work should wake a parked worker: nobody is searching
    /// and someone is parked.
    bool notify_should_wakeup() const noexcept {
        std::uint64_t s = state_.load(std::memory_order_seq_cst);
        return searching_of(s) == 0 && unparked_of(s) < num_workers_;
    }

    /// Takes a sleeper to wake, counted as unparked and searching, or none.
    std::optional<std::size_t> worker_to_notify() {
        if (!notify_should_wakeup()) return std::nullopt;
        std::lock_guard lk(mu_);
        if (!notify_should_wakeup() || sleepers_.empty()) return std::nullopt;
        std::size_t index = sleepers_.back();
        sleepers_.pop_back();
        // The woken worker starts out searching.
        state_.fetch_add((std::uint64_t{1} << 16) | 1, std::memory_order_seq_cst);
        return index;
    }

    /// Worker `index` parks (joins the sleepers). True when it was the last
    /// searcher: then it must recheck for work and notify if there is some.
    bool transition_to_parked(std::size_t index, bool searching) {
        std::lock_guard lk(mu_);
        std::uint64_t dec = (std::uint64_t{1} << 16) | (searching ? 1 : 0);
        std::uint64_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
        sleepers_.push_back(index);
        return searching && searching_of(prev) == 1;
    }

    /// Whether worker `index` is still in the sleepers list.
    bool is_parked(std::size_t index) {
        std::lock_guard lk(mu_);
        for (std::size_t i : sleepers_)
            if (i == index) return true;
        return false;
    }

    /// Worker `index` leaves the sleepers list on its own. False if a
    /// notifier already took it out: it was then counted as searching.
    bool unpark_self(std::size_t index) {
        std::lock_guard lk(mu_);
        for (std::size_t i = 0; i < sleepers_.size(); ++i) {
            if (sleepers_[i] == index) {
                sleepers_.erase(sleepers_.begin() + static_cast<std::ptrdiff_t>(i));
                state_.fetch_add(std::uint64_t{1} << 16, std::memory_order_seq_cst);
                return true;
            }
        }
        return false;
    }

private:
    static std::size_t searching_of(std::uint64_t s) noexcept { return s & 0xFFFF; }
    static std::size_t unparked_of(std::uint64_t s) noexcept { return s >> 16; }

    const std::size_t num_workers_;
    std::atomic<std::uint64_t> state_;
    std::mutex mu_;
    std::vector<std::size_t> sleepers_; // guarded by mu_
};

} // namespace weft::detail
