// weft::task_id and weft::this_task::id().
//
// Every spawned task (and every block_on root) gets an id, unique for the
// life of the process and never 0. Ids are handed out in per-thread blocks
// (no shared counter on the spawn path), so they are not dense and not in
// spawn order across threads.
//
//   weft::spawn([]() -> weft::task<> {
//       std::cout << "I am task " << weft::this_task::id() << '\n';
//       co_return;
//   });
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace weft {

class task_id {
public:
    constexpr task_id() noexcept = default;
    constexpr explicit task_id(std::uint64_t v) noexcept : value_(v) {}
    constexpr std::uint64_t value() const noexcept { return value_; }
    friend constexpr auto operator<=>(task_id, task_id) noexcept = default;
    friend std::ostream& operator<<(std::ostream& os, task_id id) { return os << id.value_; }

private:
    std::uint64_t value_ = 0;
};

namespace this_task {
/// The id of the task running on this thread. Throws weft::runtime_error
/// when called outside a task.
task_id id();
} // namespace this_task

} // namespace weft

template <>
struct std::hash<weft::task_id> {
    std::size_t operator()(weft::task_id id) const noexcept {
        return std::hash<std::uint64_t>{}(id.value());
    }
};
