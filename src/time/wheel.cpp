// The timing wheel (design in wheel.hpp).
#include "time/wheel.hpp"

#include <bit>

#include "weft/detail/assert.hpp"
#include "weft/detail/intrusive_list.hpp"

namespace weft::detail {

unsigned timer_wheel::level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
    constexpr std::uint64_t slot_mask = slots_per_level - 1;
    std::uint64_t masked = (elapsed ^ when) | slot_mask;
    if (masked > max_ticks) masked = max_ticks;
    unsigned significant = 63 - static_cast<unsigned>(std::countl_zero(masked));
    return significant / 6;
}

void timer_wheel::push(unsigned lvl, unsigned slot, timer_entry* e) noexcept {
    WEFT_ASSERT(lvl < num_levels && slot < slots_per_level, "wheel push: level/slot in range");
    slot_list& l = levels_[lvl].slots[slot];
    e->level = static_cast<unsigned char>(lvl);
    e->slot = static_cast<unsigned char>(slot);
    list_push_back(l.head, l.tail, e);
    levels_[lvl].occupied |= std::uint64_t{1} << slot;
}

void timer_wheel::insert(timer_entry* e) noexcept {
    WEFT_ASSERT(!is_linked(e), "wheel insert: the entry is not in the wheel already");
    WEFT_ASSERT(e->when >= elapsed_, "wheel insert: the deadline has not passed");
    // `when` is never clamped: an entry beyond the wheel's reach goes to the
    // top level (level_for caps it there), fires "early" when its slot comes
    // round, and advance_to puts it back because its deadline is still ahead.
    unsigned lvl = level_for(elapsed_, e->when);
    unsigned slot = static_cast<unsigned>((e->when >> (lvl * 6)) & (slots_per_level - 1));
    push(lvl, slot, e);
    ++size_;
}

void timer_wheel::remove(timer_entry* e) noexcept {
    WEFT_ASSERT(e->level < num_levels && e->slot < slots_per_level,
                "wheel remove: level/slot in range");
    WEFT_ASSERT(is_linked(e), "wheel remove: only an entry that is in the wheel");
    WEFT_ASSERT(size_ != 0, "wheel remove: the wheel holds entries");
    slot_list& l = levels_[e->level].slots[e->slot];
    list_unlink(l.head, l.tail, e);
    if (l.head == nullptr) levels_[e->level].occupied &= ~(std::uint64_t{1} << e->slot);
    --size_;
}

std::optional<std::uint64_t> timer_wheel::next_expiration() const noexcept {
    // Entries in a lower level are always due before the occupied slots of a
    // higher one, so the first level with an occupied slot gives the answer.
    for (unsigned lvl = 0; lvl < num_levels; ++lvl) {
        std::uint64_t occ = levels_[lvl].occupied;
        if (occ == 0) continue;
        std::uint64_t slot_range = std::uint64_t{1} << (lvl * 6);
        std::uint64_t level_range = slot_range << 6;
        unsigned now_slot = static_cast<unsigned>((elapsed_ / slot_range) % slots_per_level);
        // The top level is a ring that far deadlines go round: its current
        // slot holds only entries at least a rotation ahead (nearer ones sit
        // lower), so it comes last, after the slots still ahead in this
        // rotation. A lower level's current slot is empty (its entries were
        // due and have been taken), so its search starts there.
        unsigned first = lvl == num_levels - 1 ? (now_slot + 1) % slots_per_level : now_slot;
        unsigned zeros =
            static_cast<unsigned>(std::countr_zero(std::rotr(occ, static_cast<int>(first))));
        unsigned slot = (zeros + first) % slots_per_level;
        std::uint64_t level_start = elapsed_ & ~(level_range - 1);
        std::uint64_t deadline = level_start + slot * slot_range;
        if (deadline < elapsed_ || (lvl == num_levels - 1 && slot == now_slot))
            deadline += level_range; // wrapped past the end of the level
        return deadline;
    }
    return std::nullopt;
}

void timer_wheel::advance_to(std::uint64_t now, std::vector<waker>& out, seeded_rng* shuffle) {
    for (;;) {
        std::optional<std::uint64_t> next = next_expiration();
        if (!next || *next > now) break;
        // Take the due slot: fire what is due, push the rest down a level.
        std::uint64_t deadline = *next;
        unsigned lvl = 0;
        for (; lvl < num_levels; ++lvl)
            if (levels_[lvl].occupied != 0) break;
        unsigned slot = static_cast<unsigned>((deadline >> (lvl * 6)) & (slots_per_level - 1));
        slot_list l = levels_[lvl].slots[slot];
        levels_[lvl].slots[slot] = {};
        levels_[lvl].occupied &= ~(std::uint64_t{1} << slot);
        if (deadline > elapsed_) elapsed_ = deadline;
        // Every entry this slot fires is due at `deadline` (a slot of a
        // higher level starts at it; later ones move down a level).
        const std::size_t first = out.size();
        for (timer_entry* e = l.head; e != nullptr;) {
            timer_entry* next_e = e->next;
            e->prev = e->next = nullptr;
            if (e->when <= elapsed_) { // else: a far deadline the top level held
                e->st = timer_entry::state::fired;
                waker w = std::move(e->w);
                if (e->interrupt && w) w.task()->state.set_interrupted();
                // Last write to the entry: once `fired` is seen, its owner may
                // destroy it without taking the lock.
                e->fired.store(true, std::memory_order_release);
                --size_;
                out.push_back(std::move(w));
            } else {
                --size_;
                insert(e);
            }
            e = next_e;
        }
        if (WEFT_UNLIKELY(shuffle != nullptr) && out.size() - first > 1)
            shuffle->shuffle(out.data() + first, out.size() - first);
    }
    if (now > elapsed_) elapsed_ = now;
}

} // namespace weft::detail
