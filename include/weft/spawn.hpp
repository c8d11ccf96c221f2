// weft::spawn: start a new task.
//
//   auto h = weft::spawn([name = std::string("job")]() -> weft::task<std::size_t> {
//       co_return name.size();      // the capture lives as long as the task
//   });
//   auto h2 = weft::spawn(fetch, std::string("db"), 300);  // fetch(std::string, int)
//
// `spawn(f, args...)`: `f(args...)` must return `task<R>`. `f` and `args` are
// decay-copied (moved) into the task, like std::thread, so a lambda's
// captures and the arguments live exactly as long as the task; a reference
// needs std::ref. The task is scheduled at once (eager) and the call returns
// join_handle<R>. Outside a runtime, spawn throws weft::runtime_error.
//
// `spawn(task<R>&&)` spawns a task that was already created. Its coroutine
// must not refer to anything that dies before the task does.
//
// Every overload records the task's spawn site (the caller's source
// location, and a name when spawned as `spawn(named("x"), f, args...)`):
// see observe.hpp.
//
// Layout: one block holds the task_header and the callable; the callable
// is invoked once, in place, so the coroutine frame may point into it. An
// empty lambda adds nothing to the 72-byte header (detail/task/cell.hpp;
// built by detail::spawn_into, detail/task/spawn_into.hpp).
#pragma once

#include <source_location>
#include <type_traits>
#include <utility>

#include "weft/detail/spawn_site.hpp"
#include "weft/detail/task/spawn_into.hpp"
#include "weft/join_handle.hpp"
#include "weft/observe.hpp"
#include "weft/task.hpp"

namespace weft {

/// What spawn's first argument may be when it is a callable: anything but
/// a task<R> (spawn(task) has its own overload) or a weft::named.
///
///   static_assert(weft::spawnable_callable<decltype(&serve)>);
template <class F>
concept spawnable_callable = !detail::is_task<std::remove_cvref_t<F>>::value &&
                             !std::is_same_v<std::remove_cvref_t<F>, named>;

namespace detail {
/// weft::spawn's ladder target: the runtime this thread is inside.
template <class... A>
auto spawn_here(std::uint32_t site, A&&... a) {
    return spawn_into(current_spawn_target(), site, std::forward<A>(a)...);
}
} // namespace detail

/// Spawns `f(args...)` (which returns task<R>) as a new task on the current
/// runtime and returns its join_handle<R>. Throws weft::runtime_error when
/// called outside a runtime.
///
///   auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
///   auto h2 = weft::spawn(fetch, std::string("db"), 300);
///
/// The task records where it was spawned (this call's source location; see
/// observe.hpp). The trailing std::source_location parameter is filled in by
/// the compiler: do not pass it. With more than four arguments the location
/// is not recorded (pass them in a lambda's captures, or bind them).
///
/// `spawn(named(name), f, args...)` spawns `f(args...)` as a task named
/// `name` (which also carries the location of the call; any number of
/// arguments).
///
///   weft::spawn(weft::named("accept-loop"), accept_loop, port);
///
/// `spawn(task<R>)` spawns a task that was already created. Its coroutine
/// must not borrow anything that dies before the task does; with Clang the
/// join handle is checked for that (WEFT_LIFETIMEBOUND, see
/// detail/config.hpp):
///
///   weft::task<> serve(const config& c);
///   auto h = weft::spawn(serve(cfg));            // fine: cfg outlives h
///   auto bad = weft::spawn(serve(config{}));     // Clang: -Wdangling
///
/// (The overloads are written by WEFT_DETAIL_LOCATED_SPAWN, spawn_site.hpp.)
WEFT_DETAIL_LOCATED_SPAWN(spawn, detail::spawn_here, )

} // namespace weft
