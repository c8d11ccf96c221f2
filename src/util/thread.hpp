// Thread helpers both schedulers and the blocking pool use.
#pragma once

#include <functional>
#include <string>

namespace weft::detail {

/// Sets a thread's name (Linux keeps 15 characters).
void set_thread_name(const std::string& name) noexcept;

/// Runs `fn` on a new thread that is detached from its creation: a running
/// thread is never pthread_detach'ed, since glibc 2.36 races that call with
/// the thread's own exit (decision 0034). Throws std::system_error when the
/// thread cannot be started.
void start_detached_thread(std::function<void()> fn);

} // namespace weft::detail
