// counted: a value type that counts its constructions and destructions, so a
// test can prove that every object a task owned was destroyed (and when).
//
//   weft_test::counter c;
//   {
//       weft_test::counted x(c, 7);
//       auto y = x;                 // copies and moves count as constructions
//   }
//   EXPECT_EQ(c.alive(), 0);
//
// Each test uses its own `counter`, so tests cannot disturb each other. A
// counted object also carries a canary that its destructor clears: reading
// `value()` through a dangling object fails loudly (and ASan reports it).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iostream>

namespace weft_test {

struct counter {
    std::atomic<long> constructed{0};
    std::atomic<long> destroyed{0};

    long alive() const noexcept {
        // destroyed first: a concurrent construct/destroy pair never shows a
        // negative count.
        long d = destroyed.load(std::memory_order_acquire);
        long c = constructed.load(std::memory_order_acquire);
        return c - d;
    }
};

class counted {
public:
    explicit counted(counter& c, int value = 0) noexcept : c_(&c), value_(value) {
        c_->constructed.fetch_add(1, std::memory_order_acq_rel);
    }
    counted(const counted& o) noexcept : c_(o.c_), value_(o.value_) {
        o.check();
        c_->constructed.fetch_add(1, std::memory_order_acq_rel);
    }
    counted(counted&& o) noexcept : c_(o.c_), value_(o.value_) {
        o.check();
        c_->constructed.fetch_add(1, std::memory_order_acq_rel);
    }
    // Assignment would move an object between counters; tests do not need it.
    counted& operator=(const counted&) = delete;
    counted& operator=(counted&&) = delete;
    ~counted() {
        check();
        canary_ = dead;
        c_->destroyed.fetch_add(1, std::memory_order_acq_rel);
    }

    int value() const noexcept {
        check();
        return value_;
    }

private:
    static constexpr std::uint32_t live = 0xC0FFEE42u, dead = 0xDEADBEEFu;
    void check() const noexcept {
        if (canary_ != live) {
            std::cerr << "weft_test::counted: use of a destroyed object\n";
            std::abort();
        }
    }
    counter* c_;
    int value_;
    std::uint32_t canary_ = live;
};

} // namespace weft_test
