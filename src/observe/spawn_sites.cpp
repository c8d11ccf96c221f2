// The spawn-site table: every spawn site (file, line, function, name) is
// interned once into an append-only table of chunks, so a task carries a
// 32-bit index and a dump or a long-poll report can name where it was
// spawned without a lock on the read side (include/weft/detail/spawn_site.hpp,
// docs/observability.md).
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "weft/detail/spawn_site.hpp"
#include "weft/detail/task/state.hpp"
#include "weft/observe.hpp"

namespace weft::detail {

// --- the site table ------------------------------------------------------------------

namespace {

constexpr std::size_t chunk_size = 1024;
constexpr std::size_t max_chunks = (state_bits::max_site + 1) / chunk_size;

struct site_content {
    std::string_view file, function;
    std::uint32_t line, column;
    const char* name;
    bool operator==(const site_content&) const = default;
};

struct site_content_hash {
    std::size_t operator()(const site_content& c) const noexcept {
        std::size_t h = std::hash<std::string_view>{}(c.file);
        h ^= std::hash<std::string_view>{}(c.function) + 0x9E3779B97F4A7C15ull + (h << 6);
        h ^= (std::size_t{c.line} << 20) ^ c.column ^ std::hash<const void*>{}(c.name);
        return h;
    }
};

struct site_table {
    // Readers index `chunks` without the lock: a chunk pointer is published
    // (release) before any index into it is handed out, and the index
    // travels to readers through task state words.
    std::atomic<site_record*> chunks[max_chunks]{};
    std::atomic<std::uint32_t> count{1}; // index 0: "unknown"
    std::mutex mu;
    std::unordered_map<site_content, std::uint32_t, site_content_hash> by_content; // mu
    std::unordered_map<std::string, std::unique_ptr<char[]>> owned_names;          // mu

    site_table() {
        auto* c = new site_record[chunk_size];
        chunks[0].store(c, std::memory_order_release);
    }

    std::uint32_t add(const site_content& k) {
        auto it = by_content.find(k);
        if (it != by_content.end()) return it->second;
        std::uint32_t i = count.load(std::memory_order_relaxed);
        if (i > state_bits::max_site) return 0; // full: "unknown"
        site_record* c = chunks[i / chunk_size].load(std::memory_order_relaxed);
        if (c == nullptr) {
            c = new site_record[chunk_size];
            chunks[i / chunk_size].store(c, std::memory_order_release);
        }
        c[i % chunk_size] = site_record{k.file.data(), k.function.data(), k.line, k.column,
                                        k.name != nullptr ? k.name : ""};
        count.store(i + 1, std::memory_order_release);
        by_content.emplace(k, i);
        return i;
    }
};

site_table& table() {
    static site_table* t = new site_table(); // never destroyed: sites outlive everything
    return *t;
}

site_content content_of(const std::source_location& loc, const char* name) {
    return {loc.file_name(), loc.function_name(), loc.line(), loc.column(), name};
}

} // namespace

const site_record& site_at(std::uint32_t index) noexcept {
    site_table& t = table();
    site_record* c = t.chunks[index / chunk_size].load(std::memory_order_acquire);
    return c[index % chunk_size];
}

std::uint32_t site_count() noexcept {
    return table().count.load(std::memory_order_acquire);
}

std::uint32_t intern_site_slow(const std::source_location& loc, const char* name,
                               site_cache_entry& slot) noexcept {
    site_table& t = table();
    std::uint32_t i;
    try {
        std::lock_guard lk(t.mu);
        i = t.add(content_of(loc, name));
    } catch (...) {
        return 0; // out of memory: the task goes unrecorded, not unspawned
    }
    slot = site_cache_entry{site_key(loc), name, i};
    return i;
}

std::uint32_t intern_site_owned(const std::source_location& loc, std::string_view name) noexcept {
    static const char too_many[] = "<too many names>";
    site_table& t = table();
    try {
        std::lock_guard lk(t.mu);
        std::string key(name);
        auto it = t.owned_names.find(key);
        const char* stable;
        if (it != t.owned_names.end()) {
            stable = it->second.get();
        } else if (t.owned_names.size() >= max_owned_names) {
            stable = too_many;
        } else {
            auto copy = std::make_unique<char[]>(key.size() + 1);
            std::memcpy(copy.get(), key.c_str(), key.size() + 1);
            stable = copy.get();
            t.owned_names.emplace(std::move(key), std::move(copy));
        }
        return t.add(content_of(loc, stable));
    } catch (...) {
        return 0;
    }
}

} // namespace weft::detail

namespace weft {

const char* to_string(task_run_state s) noexcept {
    switch (s) {
    case task_run_state::idle:
        return "idle";
    case task_run_state::scheduled:
        return "scheduled";
    case task_run_state::running:
        return "running";
    }
    return "?";
}

namespace detail {
spawn_site make_spawn_site(std::uint32_t index) noexcept {
    const site_record& r = site_at(index);
    return spawn_site{r.name, r.file, r.function, r.line, r.column};
}
} // namespace detail

} // namespace weft
