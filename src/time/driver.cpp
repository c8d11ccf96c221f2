// Timing wheel and time driver (design in driver.hpp).
#include "time/driver.hpp"

#include <bit>
#include <limits>
#include <mutex>

#include "weft/detail/assert.hpp"
#include "weft/runtime_error.hpp"

namespace weft::detail {

// --- timer_wheel -------------------------------------------------------------------

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
    e->next = nullptr;
    e->prev = l.tail;
    if (l.tail)
        l.tail->next = e;
    else
        l.head = e;
    l.tail = e;
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
    if (e->prev)
        e->prev->next = e->next;
    else
        l.head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l.tail = e->prev;
    e->prev = e->next = nullptr;
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
                if (e->interrupt && w)
                    w.task()->state.fetch_or(state_bits::interrupted, std::memory_order_acq_rel);
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

// --- time_driver -------------------------------------------------------------------

time_driver::time_driver(bool start_paused) : origin_(std::chrono::steady_clock::now()) {
    if (start_paused) {
        paused_at_ = origin_;
        paused_.store(true, std::memory_order_release);
    }
}

clock_time time_driver::now() const noexcept {
    if (paused_.load(std::memory_order_acquire)) {
        std::lock_guard lk(mu_);
        if (paused_.load(std::memory_order_relaxed)) return paused_at_;
    }
    return std::chrono::steady_clock::now() + offset();
}

std::uint64_t time_driver::ticks_of(clock_time t) const noexcept {
    if (t <= origin_) return 0;
    // Unsigned: rounding up the largest deadline (clock_time::max()) must
    // not overflow.
    auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count());
    return (ns + 999'999) / 1'000'000;
}

clock_time time_driver::time_of(std::uint64_t ticks) const noexcept {
    // The tick of clock_time::max() (rounded up) lies past it: saturate.
    auto room = std::chrono::duration_cast<std::chrono::milliseconds>(clock_time::max() - origin_);
    if (ticks > static_cast<std::uint64_t>(room.count())) return clock_time::max();
    return origin_ + std::chrono::milliseconds(ticks);
}

bool time_driver::register_entry(timer_entry& e, clock_time deadline, std::coroutine_handle<> h) {
    std::uint64_t when = ticks_of(deadline);
    bool wake_waiter = false;
    {
        std::lock_guard lk(mu_);
        if (when <= wheel_.elapsed()) return false; // due already
        WEFT_ASSERT(e.st != timer_entry::state::registered, "register_entry: registered twice");
        e.when = when;
        e.driver = this;
        e.w = suspend_waker(h);
        e.st = timer_entry::state::registered;
        wheel_.insert(&e);
        pending_.fetch_add(1, std::memory_order_relaxed);
        if (waiter_ != nullptr && (waiter_wake_ == 0 || when < waiter_wake_)) {
            waiter_wake_ = when; // the waiter re-plans for this one
            wake_waiter = true;
        }
    }
    if (wake_waiter) unpark_waiter();
    return true;
}

void time_driver::cancel(timer_entry& e) noexcept {
    waker dropped;
    {
        std::lock_guard lk(mu_);
        if (e.st != timer_entry::state::registered) return;
        wheel_.remove(&e);
        e.st = timer_entry::state::idle;
        dropped = std::move(e.w);
        pending_.fetch_sub(1, std::memory_order_relaxed);
    }
    // `dropped` releases the task reference outside the lock.
}

std::size_t time_driver::fire_due() noexcept {
    if (pending_.load(std::memory_order_relaxed) == 0) return 0;
    std::vector<waker> due;
    {
        std::lock_guard lk(mu_);
        clock_time now = paused_.load(std::memory_order_relaxed)
                             ? paused_at_
                             : std::chrono::steady_clock::now() + offset();
        // Deadlines were rounded up to whole ticks: tick T is due once now
        // has reached it, i.e. T <= floor(now).
        // A paused clock at clock_time::max() has reached every deadline,
        // including max() itself, whose rounded-up tick lies past it.
        std::uint64_t now_tick =
            now <= origin_ ? 0
            : now == clock_time::max()
                ? std::numeric_limits<std::uint64_t>::max()
                : static_cast<std::uint64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - origin_).count());
        try {
            wheel_.advance_to(now_tick, due, rng_.get());
        } catch (...) {
            // Out of memory for the waker list: fire what was collected.
        }
        pending_.fetch_sub(due.size(), std::memory_order_relaxed);
    }
    for (waker& w : due)
        std::move(w).wake();
    return due.size();
}

std::size_t time_driver::pending() const noexcept {
    return pending_.load(std::memory_order_relaxed);
}

bool time_driver::try_become_waiter(parker* p, std::optional<clock_time>& deadline) noexcept {
    std::lock_guard lk(mu_);
    if (waiter_ != nullptr) return false;
    waiter_ = p;
    std::optional<std::uint64_t> t = wheel_.next_expiration();
    waiter_wake_ = t ? *t : 0;
    // The parker sleeps on the real clock: the timer's tick is on the
    // runtime's clock, which runs `offset` ahead of it after a pause, a jump
    // and a resume (sleeping until the virtual deadline read as a real one
    // hung the next sleep by the length of the jump: issue 14).
    deadline = t ? std::optional<clock_time>(time_of(*t) - offset()) : std::nullopt;
    return true;
}

void time_driver::stop_waiting() noexcept {
    std::lock_guard lk(mu_);
    waiter_ = nullptr;
    waiter_wake_ = 0;
}

void time_driver::unpark_waiter() noexcept {
    parker* p;
    {
        std::lock_guard lk(mu_);
        p = waiter_;
    }
    // A parker outlives its worker's stay as waiter: workers (and block_on
    // threads) clear waiter_ under the lock before their parker dies.
    if (p) p->unpark();
}

void time_driver::pause() {
    std::lock_guard lk(mu_);
    if (paused_.load(std::memory_order_relaxed))
        throw runtime_error("weft::time::pause: the clock is already paused");
    paused_at_ = std::chrono::steady_clock::now() + offset();
    paused_.store(true, std::memory_order_release);
}

void time_driver::resume() {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed))
            throw runtime_error("weft::time::resume: the clock is not paused");
        offset_.store((paused_at_ - std::chrono::steady_clock::now()).count(),
                      std::memory_order_relaxed);
        paused_.store(false, std::memory_order_release); // publishes offset_ to now()
    }
    // A waiter parked while the clock was paused sleeps without a deadline
    // (scheduler/current_thread.cpp): it re-plans on the running clock.
    unpark_waiter();
}

void time_driver::advance(std::chrono::nanoseconds d) {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed))
            throw runtime_error("weft::time::advance: the clock is not paused (call time::pause() "
                                "first, or build the runtime with start_paused(true))");
        // Saturated: advancing past the end of the clock stops at its end.
        if (d >= clock_time::max() - paused_at_)
            paused_at_ = clock_time::max();
        else
            paused_at_ += d;
    }
    fire_due();
}

bool time_driver::auto_advance() noexcept {
    {
        std::lock_guard lk(mu_);
        if (!paused_.load(std::memory_order_relaxed)) return false;
        std::optional<std::uint64_t> t = wheel_.next_expiration();
        if (!t) return false;
        clock_time at = time_of(*t);
        if (at > paused_at_) paused_at_ = at;
    }
    fire_due();
    return true;
}

} // namespace weft::detail
