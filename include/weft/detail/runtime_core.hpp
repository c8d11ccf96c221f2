// The runtime behind weft::runtime and weft::runtime_handle, as the public
// templates see it: an abstract class (implemented by src/runtime/core.hpp
// and the two schedulers), the functions that find or make one, and
// block_on_core, which builds a root task and drives it. Kept out of the
// public runtime.hpp, which holds only the classes users name.
#pragma once

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

#include "weft/detail/runtime_config.hpp"
#include "weft/detail/task/spawn_into.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/runtime_error.hpp"

namespace weft {

struct runtime_metrics; // runtime.hpp
struct runtime_dump;    // observe.hpp

namespace detail {

/// The runtime behind runtime and runtime_handle (src/runtime.cpp).
class runtime_core : public std::enable_shared_from_this<runtime_core> {
public:
    virtual ~runtime_core() = default;
    virtual scheduler* task_scheduler() noexcept = 0;
    /// Registers and schedules a freshly spawned task.
    virtual void submit(task_header* t) noexcept = 0;
    /// Drives `root` (not yet scheduled) to completion on this thread.
    virtual void block_on(task_header* root) = 0;
    /// Stops the workers and aborts every task. `timeout` < 0: wait forever.
    virtual void shutdown(std::chrono::nanoseconds timeout) noexcept = 0;
    virtual runtime_metrics metrics() const = 0;
    /// The live task listing (src/observe.cpp).
    virtual runtime_dump dump() const = 0;
};

std::shared_ptr<runtime_core> make_runtime(runtime_config cfg);
std::shared_ptr<runtime_core> current_runtime_or_throw(const char* what);
void check_not_in_runtime(const char* what);

template <class H>
struct joined_type; // T of join_handle<T>
template <class T>
struct joined_type<join_handle<T>> {
    using type = T;
};

template <class F, class... Args>
auto block_on_core(runtime_core& rt, std::uint32_t site, F&& f, Args&&... args) {
    check_not_in_runtime("block_on");
    // The root is a task like any other, except that block_on's thread
    // polls it: it is created here and handed to the runtime unscheduled.
    auto jh = spawn_into(block_on_root_target(), site, std::forward<F>(f),
                         std::forward<Args>(args)...); // owns the root's join reference
    using R = typename joined_type<decltype(jh)>::type;
    rt.block_on(join_access::task_of(jh)); // returns (or throws) with the root complete
    result<R> r = join_access::take(jh);
    if (r) {
        if constexpr (std::is_void_v<R>) {
            return;
        } else {
            return std::move(*r);
        }
    }
    if (r.error().is_panic()) resume_unwind(std::move(r).error().into_panic());
    throw runtime_error("block_on: the runtime shut down before the task finished");
}

} // namespace detail
} // namespace weft
