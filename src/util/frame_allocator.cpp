// Per-thread size-class pools (design in include/weft/detail/frame_allocator.hpp).
#include "weft/detail/frame_allocator.hpp"

#include <array>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace weft::detail {

namespace {

// Classes are 8 bytes apart. Coroutine frames are rounded to 16 and carved
// 16-byte aligned (what operator new promises); task headers need only 8,
// so a 72-byte header takes a 72-byte block, not an 80-byte one.
constexpr std::size_t granule = 8;
constexpr std::size_t max_pooled = 1024;
constexpr std::size_t num_classes = max_pooled / granule;
constexpr std::size_t slab_bytes = 64 * 1024;
// Longest local free list before half of it goes to the depot. Value picked
// to cover the 10,000-task bursts of the spawn benchmarks within a few
// depot round trips; tune with data.
constexpr std::size_t local_limit = 2048;
constexpr std::size_t batch = local_limit / 2;

struct free_block {
    free_block* next;
};

struct free_list {
    free_block* head = nullptr;
    std::size_t count = 0;
};

// Blocks given back by threads with too many, or by threads that exited.
struct depot {
    std::mutex mu;
    std::array<std::vector<free_list>, num_classes> batches;
    std::vector<void*> slabs; // kept for the life of the process
};

depot& the_depot() {
    static depot* d = new depot; // never destroyed: threads may exit after main
    return *d;
}

[[maybe_unused]] std::size_t class_of(std::size_t n) noexcept {
    return (n + granule - 1) / granule - 1;
}

struct thread_pool {
    std::array<free_list, num_classes> lists{};
    char* slab_cur = nullptr;
    char* slab_end = nullptr;
    char* odd_cur = nullptr;
    char* odd_end = nullptr;
    std::uint64_t allocated = 0;

    ~thread_pool() {
        depot& d = the_depot();
        std::lock_guard lk(d.mu);
        for (std::size_t c = 0; c < num_classes; ++c) {
            if (lists[c].count != 0) d.batches[c].push_back(lists[c]);
        }
    }

    void* carve(std::size_t cls) {
        std::size_t sz = (cls + 1) * granule;
        // Sizes that are odd multiples of 8 (task headers) come from a slab
        // of their own, so that they never knock the frames' slab off its
        // 16-byte alignment (which would waste 8 bytes per block).
        if (sz % 16 != 0) return carve_from(odd_cur, odd_end, sz);
        return carve_from(slab_cur, slab_end, sz);
    }

    void* carve_from(char*& slab_cur, char*& slab_end, std::size_t sz) {
        if (static_cast<std::size_t>(slab_end - slab_cur) < sz) {
            void* slab = ::operator new(slab_bytes);
            {
                depot& d = the_depot();
                std::lock_guard lk(d.mu);
                d.slabs.push_back(slab);
            }
            slab_cur = static_cast<char*>(slab);
            slab_end = slab_cur + slab_bytes;
        }
        void* p = slab_cur;
        slab_cur += sz;
        return p;
    }

    void* refill(std::size_t cls) {
        depot& d = the_depot();
        {
            std::lock_guard lk(d.mu);
            auto& v = d.batches[cls];
            if (!v.empty()) {
                lists[cls] = v.back();
                v.pop_back();
            }
        }
        free_list& l = lists[cls];
        if (l.head == nullptr) return carve(cls);
        free_block* b = l.head;
        l.head = b->next;
        --l.count;
        return b;
    }

    void spill(std::size_t cls) {
        free_list& l = lists[cls];
        free_list out;
        for (std::size_t i = 0; i < batch; ++i) {
            free_block* b = l.head;
            l.head = b->next;
            b->next = out.head;
            out.head = b;
        }
        out.count = batch;
        l.count -= batch;
        depot& d = the_depot();
        std::lock_guard lk(d.mu);
        d.batches[cls].push_back(out);
    }
};

thread_local thread_pool tls_pool;
constinit thread_local std::uint64_t tls_allocated = 0;

} // namespace

namespace {

void* pool_allocate(std::size_t size) {
#if WEFT_POOL_FRAMES
    if (size <= max_pooled && size != 0) {
        std::size_t cls = class_of(size);
        thread_pool& p = tls_pool;
        free_list& l = p.lists[cls];
        if (WEFT_LIKELY(l.head != nullptr)) {
            free_block* b = l.head;
            l.head = b->next;
            --l.count;
            return b;
        }
        return p.refill(cls);
    }
#endif
    return ::operator new(size);
}

void pool_deallocate(void* ptr, std::size_t size) noexcept {
#if WEFT_POOL_FRAMES
    if (size <= max_pooled && size != 0) {
        std::size_t cls = class_of(size);
        thread_pool& p = tls_pool;
        free_list& l = p.lists[cls];
        auto* b = static_cast<free_block*>(ptr);
        b->next = l.head;
        l.head = b;
        if (WEFT_UNLIKELY(++l.count > local_limit)) p.spill(cls);
        return;
    }
#endif
    ::operator delete(ptr, size);
}

std::size_t round16(std::size_t n) noexcept {
    return (n + 15) & ~std::size_t{15};
}
std::size_t round8(std::size_t n) noexcept {
    return (n + 7) & ~std::size_t{7};
}

} // namespace

// thread_allocated_bytes counts the bytes asked for (as Tokio's figure
// does), not the size class they land in.
void* frame_allocate(std::size_t size) {
    tls_allocated += size;
    return pool_allocate(round16(size));
}
void frame_deallocate(void* p, std::size_t size) noexcept {
    pool_deallocate(p, round16(size));
}
void* header_allocate(std::size_t size) {
    tls_allocated += size;
    return pool_allocate(round8(size));
}
void header_deallocate(void* p, std::size_t size) noexcept {
    pool_deallocate(p, round8(size));
}

std::uint64_t thread_allocated_bytes() noexcept {
    return tls_allocated;
}

} // namespace weft::detail
