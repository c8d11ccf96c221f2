// The hierarchical timing wheel behind the time driver (driver.hpp).
//
// Wheel (Varghese & Lauck, as in Tokio's runtime/time/wheel): 6 levels of
// 64 slots, 1 ms ticks at level 0; a slot at level L spans 64^L ms, so the
// wheel covers 2^36 ms (about 2.2 years). A later deadline is kept as it is
// and goes to the top level, whose slots act as a ring: when its slot comes
// round (at most one rotation, 2^36 ms, ahead) and the deadline is still
// ahead, the entry is put back (Tokio does the same), so a deadline of any
// size, up to clock_time::max(), fires at or after it. Each level has a
// 64-bit bitmap of occupied slots. An entry sits in the level of the most
// significant 6-bit group in which its deadline and `elapsed` differ;
// insert and cancel are O(1) list operations. Expiring a slot at level
// L > 0 reinserts its entries further down (cascading); an entry moves at
// most 6 times per rotation of the top level it waits.
//
// No lock of its own: the time driver's mutex guards it and every entry.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "util/seeded_rng.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/detail/timer_entry.hpp"

namespace weft::detail {

class timer_wheel {
public:
    static constexpr unsigned num_levels = 6;
    static constexpr unsigned slots_per_level = 64;
    static constexpr std::uint64_t max_ticks = (std::uint64_t{1} << 36) - 1;

    std::uint64_t elapsed() const noexcept { return elapsed_; }
    /// Inserts `e` (e.when > elapsed()).
    void insert(timer_entry* e) noexcept;
    void remove(timer_entry* e) noexcept;
    /// The tick at which the earliest occupied slot is due, if any.
    std::optional<std::uint64_t> next_expiration() const noexcept;
    /// Fires (unlinks, marks fired, moves the waker to `out`) every entry
    /// due at or before `now`, and moves elapsed() to `now`. With `shuffle`,
    /// the wakers of the entries due at one tick are put in random order.
    void advance_to(std::uint64_t now, std::vector<waker>& out, seeded_rng* shuffle = nullptr);
    std::size_t size() const noexcept { return size_; }

private:
    struct slot_list {
        timer_entry* head = nullptr;
        timer_entry* tail = nullptr;
    };
    struct level {
        std::uint64_t occupied = 0;
        std::array<slot_list, slots_per_level> slots{};
    };
    static unsigned level_for(std::uint64_t elapsed, std::uint64_t when) noexcept;
    /// Whether `e` is in the slot list its level/slot name (for WEFT_ASSERT;
    /// inline, so that a build without asserts emits no code for it). An
    /// entry alone in its slot has no neighbours: it is the slot's head.
    bool is_linked(const timer_entry* e) const noexcept {
        return e->prev != nullptr || e->next != nullptr ||
               (e->level < num_levels && e->slot < slots_per_level &&
                levels_[e->level].slots[e->slot].head == e);
    }
    void push(unsigned lvl, unsigned slot, timer_entry* e) noexcept;

    std::uint64_t elapsed_ = 0;
    std::size_t size_ = 0;
    std::array<level, num_levels> levels_{};
};

} // namespace weft::detail
