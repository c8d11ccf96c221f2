// The owned-task registry (design in owned_tasks.hpp).
#include "runtime/owned_tasks.hpp"

namespace weft::detail {

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

} // namespace weft::detail
