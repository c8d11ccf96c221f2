// Observability: task names and spawn sites, the live task dump, and the
// long-poll watchdog's report. See docs/observability.md.
//
// Every task records where it was spawned (the std::source_location of the
// weft::spawn call, at no extra memory: it is interned into the task's
// state word, see detail/spawn_site.hpp) and may be given a name:
//
//   weft::spawn(weft::named("accept-loop"), accept_loop, port);
//   weft::spawn(weft::named("conn-" + std::to_string(id)), serve, std::move(sock));
//
// The runtime lists its live tasks on demand:
//
//   std::cerr << rt.handle().dump();  // id, name, spawn site, state, where suspended
//
// and, when built with .long_poll_threshold(d), reports a task that keeps
// its worker busy for longer than d without yielding (long_poll_report).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "weft/detail/spawn_site.hpp"
#include "weft/task_id.hpp"

namespace weft {

/// A task's name, passed as spawn's first argument. Also captures the
/// location of the spawn call (the expression `named(...)` is written there).
///
///   weft::spawn(weft::named("accept-loop"), accept_loop, port);   // a literal: free
///   weft::spawn(weft::named("conn-" + peer), serve, std::move(sock)); // copied, bounded
///
/// A `const char*` name must be a constant expression (a string literal or
/// a constexpr array): the constructor is consteval, so a pointer to a
/// temporary buffer does not compile. Build run-time names as std::string:
/// they are copied into the process-wide site table once per distinct text
/// (at most detail::max_owned_names of them; further ones are recorded as
/// "<too many names>").
class named {
public:
    consteval named(const char* name,
                    std::source_location loc = std::source_location::current()) noexcept
        : literal_(name), loc_(loc) {}
    /// A name built at run time: interned (copied, deduplicated) here.
    named(const std::string& name,
          std::source_location loc = std::source_location::current()) noexcept
        : literal_(nullptr), loc_(loc) {
#if WEFT_SPAWN_SITES
        owned_site_ = detail::intern_site_owned(loc, name);
#else
        (void)name;
#endif
    }

    /// The interned site (location + name) of this spawn (an index into
    /// the process-wide site table; weft::spawn calls it).
    std::uint32_t site() const noexcept {
        return literal_ != nullptr ? detail::intern_site(loc_, literal_) : owned_site_;
    }
    /// Where the named(...) expression was written (the spawn call).
    ///
    ///   weft::named n("job");  // n.location().line() is this line
    const std::source_location& location() const noexcept {
        return loc_;
    }

private:
    const char* literal_;
    std::source_location loc_;
    std::uint32_t owned_site_ = 0;
};

/// Where a task is in its life, as seen by runtime_handle::dump().
enum class task_run_state {
    idle,      ///< suspended, waiting for a wake-up
    scheduled, ///< woken (or new), waiting in a run queue
    running,   ///< being polled by a worker right now
};

/// "idle", "scheduled" or "running".
const char* to_string(task_run_state s) noexcept;

/// Where a task was spawned. The strings live as long as the process.
///
///   auto site = snapshot.site;  // site.file, site.line, site.name ...
struct spawn_site {
    std::string_view name;     ///< "" when the task was spawned without named()
    std::string_view file;     ///< "" when unknown (WEFT_SPAWN_SITES=0)
    std::string_view function; ///< the function that called spawn
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

/// One coroutine of an idle task's chain, as runtime_handle::dump() sees
/// it: which coroutine, and the co_await it is stopped at.
///
///   for (const weft::await_frame& f : snapshot.awaiting)
///       std::cout << f.function << " awaits " << f.kind << " at " << f.line << '\n';
struct await_frame {
    /// The coroutine, as task_snapshot::suspended_in names it.
    std::string function;
    /// Its resume function's address (for addr2line).
    const void* resume_function = nullptr;
    /// What it awaits: "sleep", "mpsc recv", "task" (another coroutine:
    /// the next frame), "join handle", "io readiness", ... ("unknown" for
    /// an awaitable weft does not know).
    std::string_view kind;
    /// The co_await expression (std::source_location of it); file is ""
    /// when unknown.
    std::string_view file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

/// One live task in a runtime_dump.
///
///   for (const weft::task_snapshot& t : rt.handle().dump().tasks)
///       if (t.state == weft::task_run_state::idle) std::cout << t.suspended_in << '\n';
struct task_snapshot {
    task_id id;
    spawn_site site;
    task_run_state state = task_run_state::idle;
    /// For an idle task: the coroutine it is suspended in, as a demangled
    /// name ("accept_loop(int)") read from the symbol table of the binary
    /// that holds it, or, when stripped, the address of its resume function
    /// ("0x..."). Empty for a scheduled or
    /// running task, whose frames the dump must not read.
    std::string suspended_in;
    /// The address of the suspended coroutine's resume function (idle
    /// tasks), for addr2line; nullptr otherwise.
    const void* resume_function = nullptr;
    /// For an idle task: its async call chain, innermost first (the
    /// coroutine named by suspended_in, then the one awaiting it, ... up to
    /// the task's root), each with the co_await it is stopped at. At most
    /// 32 frames (awaiting_truncated says the chain went deeper). A task
    /// inside join/select shows the join's own coroutine, awaiting
    /// "branches"; the branches' frames are not walked.
    std::vector<await_frame> awaiting;
    bool awaiting_truncated = false;
};

/// A listing of a runtime's live spawned tasks (block_on roots are not
/// included), taken by runtime_handle::dump(). Printing it gives one line
/// per task:
///
///   std::cout << rt.handle().dump();
///   // weft: 2 live tasks
///   //   task 1025 "accept-loop" idle, spawned at main.cpp:12,
///   //     suspended in weft::net::tcp_listener::accept()
///   //       awaiting io readiness at net.cpp:212 in weft::net::tcp_listener::accept()
///   //       awaiting task at main.cpp:20 in accept_loop(int)
///   //   task 1026 "ticker" scheduled, spawned at main.cpp:13
struct runtime_dump {
    std::vector<task_snapshot> tasks;
    std::string to_string() const;
};

std::ostream& operator<<(std::ostream& os, const runtime_dump& d);

/// What the long-poll watchdog reports (runtime_builder::long_poll_threshold):
/// a task that has been in one poll for at least `threshold`, keeping its
/// thread from running anything else. Reported once per such poll.
///
///   auto rt = weft::runtime::multi_thread()
///                 .on_long_poll([](const weft::long_poll_report& r) { std::cerr << r << '\n'; })
///                 .build();
struct long_poll_report {
    task_id id;
    spawn_site site;
    /// "worker N" (multi-thread), or "block_on" (the thread in block_on).
    std::string thread;
    /// How long the poll had lasted when it was noticed (>= threshold).
    std::chrono::nanoseconds elapsed{0};
};

std::ostream& operator<<(std::ostream& os, const long_poll_report& r);

/// Prints the dump of every runtime built with dump_on_sigquit(true) to
/// stderr when the process receives SIGQUIT (Ctrl-\). Called by the
/// builder; exposed for programs that want it without a builder flag.
/// Installs the handler once; the handler only wakes a printer thread.
void install_sigquit_dump();

namespace detail {
spawn_site make_spawn_site(std::uint32_t index) noexcept;
} // namespace detail

} // namespace weft
