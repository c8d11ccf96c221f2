// Owned-task registry, inject queue, parker (design in runtime_parts.hpp).
#include "runtime_parts.hpp"

#include "reactor.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <memory>
#include <string>
#include <system_error>

namespace weft::detail {

// --- owned_tasks ---------------------------------------------------------------

owned_tasks::owned_tasks(std::size_t shards)
    : num_shards_(std::bit_ceil(shards < 4 ? 4 : shards)), shards_(new shard[num_shards_]) {}

bool owned_tasks::bind(task_header* t) noexcept {
    shard& s = shard_of(t);
    std::lock_guard lk(s.mu);
    if (s.closed) return false;
    t->owned_index = static_cast<std::uint32_t>(s.tasks.size());
    s.tasks.push_back(t);
    ++s.spawned;
    return true;
}

bool owned_tasks::remove(task_header* t) noexcept {
    shard& s = shard_of(t);
    std::lock_guard lk(s.mu);
    std::uint32_t i = t->owned_index;
    if (i >= s.tasks.size() || s.tasks[i] != t) return false;
    task_header* last = s.tasks.back();
    s.tasks[i] = last;
    last->owned_index = i;
    s.tasks.pop_back();
    return true;
}

void owned_tasks::close() noexcept {
    for (std::size_t i = 0; i < num_shards_; ++i) {
        std::lock_guard lk(shards_[i].mu);
        shards_[i].closed = true;
    }
}

task_header* owned_tasks::any() noexcept {
    for (std::size_t i = 0; i < num_shards_; ++i) {
        std::lock_guard lk(shards_[i].mu);
        if (!shards_[i].tasks.empty()) {
            task_header* t = shards_[i].tasks.back();
            task_ref_inc(t);
            return t;
        }
    }
    return nullptr;
}

std::uint64_t owned_tasks::alive() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < num_shards_; ++i) {
        std::lock_guard lk(shards_[i].mu);
        n += shards_[i].tasks.size();
    }
    return n;
}

std::uint64_t owned_tasks::spawned() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < num_shards_; ++i) {
        std::lock_guard lk(shards_[i].mu);
        n += shards_[i].spawned;
    }
    return n;
}

// --- inject_queue ----------------------------------------------------------------

void inject_queue::grow() {
    std::vector<task_header*> next(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
        next[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(next);
    head_ = 0;
}

bool inject_queue::push(task_header* t) noexcept {
    WEFT_ASSERT(task_is_notified(t), "inject push: the task is NOTIFIED");
    std::lock_guard lk(mu_);
    if (closed_) return false;
    if (count_ == ring_.size()) grow();
    ring_[(head_ + count_) & (ring_.size() - 1)] = t;
    ++count_;
    len_.store(count_, std::memory_order_release);
    return true;
}

void inject_queue::push_batch(task_header* const* ts, std::size_t n) noexcept {
    {
        std::lock_guard lk(mu_);
        if (!closed_) {
            while (ring_.size() - count_ < n)
                grow();
            for (std::size_t i = 0; i < n; ++i) {
                WEFT_ASSERT(task_is_notified(ts[i]), "inject push_batch: the task is NOTIFIED");
                ring_[(head_ + count_ + i) & (ring_.size() - 1)] = ts[i];
            }
            count_ += n;
            len_.store(count_, std::memory_order_release);
            return;
        }
    }
    for (std::size_t i = 0; i < n; ++i)
        task_ref_dec(ts[i]);
}

task_header* inject_queue::pop() noexcept {
    if (empty()) return nullptr;
    std::lock_guard lk(mu_);
    if (count_ == 0) return nullptr;
    task_header* t = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
    len_.store(count_, std::memory_order_release);
    shrink_if_drained();
    return t;
}

void inject_queue::shrink_if_drained() noexcept {
    // A burst (a million spawns overflowing a worker) can grow the ring to
    // megabytes; give that back once it is drained, so that parked tasks do
    // not pay 8 bytes each for a queue they left long ago.
    if (count_ == 0 && ring_.size() > shrink_above) {
        std::vector<task_header*>().swap(ring_);
        try {
            ring_.resize(256);
        } catch (...) {
            ring_.resize(1); // keep a valid power-of-two ring; grow() recovers
        }
        head_ = 0;
    }
}

std::size_t inject_queue::pop_n(task_header** out, std::size_t max) noexcept {
    if (empty()) return 0;
    std::lock_guard lk(mu_);
    std::size_t n = count_ < max ? count_ : max;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = ring_[head_];
        head_ = (head_ + 1) & (ring_.size() - 1);
    }
    count_ -= n;
    len_.store(count_, std::memory_order_release);
    shrink_if_drained();
    return n;
}

void inject_queue::close() noexcept {
    std::lock_guard lk(mu_);
    closed_ = true;
}

bool inject_queue::is_closed() const noexcept {
    std::lock_guard lk(mu_);
    return closed_;
}

// --- parker ------------------------------------------------------------------------

namespace {
long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val,
           const struct timespec* ts) noexcept {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), op, val, ts, nullptr, 0);
}
} // namespace

void parker::park(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    std::uint32_t expected = notified;
    // A pending unpark: consume it (acquire pairs with unpark's exchange).
    if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return;
    expected = empty;
    if (!state_.compare_exchange_strong(expected, parked, std::memory_order_relaxed)) {
        state_.exchange(empty, std::memory_order_acquire); // it was NOTIFIED
        return;
    }
    for (;;) {
        if (deadline) {
            auto now = std::chrono::steady_clock::now();
            if (now >= *deadline) break;
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - now).count();
            struct timespec ts {
                static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)
            };
            futex(&state_, FUTEX_WAIT_PRIVATE, parked, &ts);
        } else {
            futex(&state_, FUTEX_WAIT_PRIVATE, parked, nullptr);
        }
        expected = notified;
        if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire)) return;
        // spurious wake-up: sleep again
    }
    // Timed out: leave PARKED, unless an unpark raced in.
    if (state_.exchange(empty, std::memory_order_acquire) == notified) return;
}

std::size_t
parker::park_driver(reactor& r,
                    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
    int timeout_ms = -1;
    if (deadline) {
        auto now = std::chrono::steady_clock::now();
        if (now >= *deadline) {
            timeout_ms = 0;
        } else {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - now).count();
            long long ms = (ns + 999'999) / 1'000'000; // never wake before the timer
            timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
        }
    }
    driver_.store(&r, std::memory_order_relaxed);
    std::uint32_t expected = empty;
    if (!state_.compare_exchange_strong(expected, parked_driver, std::memory_order_acq_rel)) {
        // NOTIFIED already: consume it, but still collect what is ready.
        state_.exchange(empty, std::memory_order_acquire);
        return r.poll(0);
    }
    std::size_t woken = r.poll(timeout_ms);
    // Consume a pending unpark (its eventfd write, if any, is drained by a
    // later poll: a spurious wake-up at worst).
    state_.exchange(empty, std::memory_order_acquire);
    return woken;
}

void parker::unpark() noexcept {
    std::uint32_t prev = state_.exchange(notified, std::memory_order_acq_rel);
    if (prev == parked)
        futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
    else if (prev == parked_driver)
        driver_.load(std::memory_order_relaxed)->wake();
}

void start_detached_thread(std::function<void()> fn) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* arg = new std::function<void()>(std::move(fn));
    pthread_t tid;
    int rc = pthread_create(
        &tid, &attr,
        [](void* p) -> void* {
            std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
            (*f)();
            return nullptr;
        },
        arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete arg;
        throw std::system_error(rc, std::generic_category(), "weft: starting a thread failed");
    }
}

void set_thread_name(const std::string& name) noexcept {
    std::string n = name.substr(0, 15);
    pthread_setname_np(pthread_self(), n.c_str());
}

} // namespace weft::detail

// --- spin_mutex ------------------------------------------------------------------

namespace weft::detail {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}
// Spins before sleeping; about a microsecond on current x86. Value picked
// by measuring spawn_many_remote_idle; tune with data.
constexpr int spin_limit = 128;
} // namespace

void spin_mutex::lock_slow(spin_style style) noexcept {
    // Both styles spin about as long (spin_limit pauses) before sleeping;
    // backoff looks at the lock word less often (backoff_spin_mutex).
    int pauses = 1;
    for (int i = 0; i < spin_limit; i += pauses) {
        for (int k = 0; k < pauses; ++k)
            cpu_relax();
        if (style == spin_style::backoff && pauses < 16) pauses <<= 1;
        std::uint32_t c = state_.load(std::memory_order_relaxed);
        if (c == 0 && state_.compare_exchange_weak(c, 1, std::memory_order_acquire,
                                                   std::memory_order_relaxed))
            return;
    }
    // Announce a sleeper (2) and sleep until the holder's unlock wakes us.
    while (state_.exchange(2, std::memory_order_acquire) != 0)
        futex(&state_, FUTEX_WAIT_PRIVATE, 2, nullptr);
}

void spin_mutex::wake_one() noexcept {
    futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

} // namespace weft::detail
