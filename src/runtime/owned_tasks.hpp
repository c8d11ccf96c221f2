// The owned-task registry: every live spawned task is in it until it
// completes, so that shutdown can find and abort tasks that nothing will
// ever wake. It is sharded (a mutex and a vector per shard; the task keeps
// its index in the vector, removal swaps the last one in). Task ids are
// handed out to threads in blocks of 1024 (see next_task_id), and the shard
// is chosen by id / 1024, so a thread that spawns mostly touches one shard.
// Once closed, the registry refuses new tasks: a task spawned during
// shutdown is cancelled before it runs.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "weft/detail/spin_mutex.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft::detail {

class owned_tasks {
public:
    /// `shards`: a power of two (the runtime picks 4 per worker, as Tokio).
    explicit owned_tasks(std::size_t shards);

    /// Adds `t`; false when the registry is closed.
    bool bind(task_header* t) noexcept;
    /// Removes `t`; false when it was not there.
    bool remove(task_header* t) noexcept;
    /// Refuses new tasks from now on.
    void close() noexcept;
    /// Any task still registered, with a reference taken for the caller.
    task_header* any() noexcept;
    /// Calls `f(t)` for each registered task under the shard's lock.
    template <class F>
    void for_each(F&& f) {
        for (std::size_t i = 0; i < num_shards_; ++i) {
            std::lock_guard lk(shards_[i].mu);
            for (std::size_t k = 0; k < shards_[i].tasks.size(); ++k)
                f(shards_[i].tasks[k]);
        }
    }
    std::uint64_t alive() const noexcept;
    std::uint64_t spawned() const noexcept;

private:
    /// A vector of task pointers in 2 KiB blocks: no doubling slack (a
    /// million parked tasks cost 8 bytes each here, not up to 16), and
    /// growth never copies. Keeps one spare block so that a shard that
    /// hovers at a block boundary does not allocate on every spawn.
    class segmented {
    public:
        static constexpr std::size_t block = 256;
        std::size_t size() const noexcept { return size_; }
        bool empty() const noexcept { return size_ == 0; }
        task_header*& operator[](std::size_t i) noexcept { return blocks_[i / block][i % block]; }
        task_header*& back() noexcept { return (*this)[size_ - 1]; }
        void push_back(task_header* t) {
            if (size_ == blocks_.size() * block)
                blocks_.push_back(std::make_unique<task_header*[]>(block));
            (*this)[size_++] = t;
        }
        void pop_back() noexcept {
            --size_;
            if (blocks_.size() * block - size_ >= 2 * block) blocks_.pop_back();
        }

    private:
        std::vector<std::unique_ptr<task_header*[]>> blocks_;
        std::size_t size_ = 0;
    };

    struct alignas(64) shard {
        spin_mutex mu;
        segmented tasks;
        bool closed = false;
        std::uint64_t spawned = 0;
    };
    shard& shard_of(const task_header* t) noexcept {
        return shards_[(t->id >> 10) & (num_shards_ - 1)];
    }
    std::size_t num_shards_;
    std::unique_ptr<shard[]> shards_;
};

} // namespace weft::detail
