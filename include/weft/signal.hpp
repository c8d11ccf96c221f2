// weft::signal: Unix signals as awaitable events.
//
//   auto stop = weft::signal::ctrl_c();      // the handler is installed here
//   auto r = co_await std::move(stop);       // completes at the next SIGINT
//
//   auto hup = weft::signal::unix_signal(SIGHUP).value();
//   for (;;) { co_await hup.recv(); reload_config(); }
//
// Design (decision 0023): the first listener of a signal installs a
// process-wide handler for it (sigaction, SA_RESTART), which stays installed
// for the life of the process, as in Tokio: after ctrl_c() has been used,
// SIGINT no longer ends the program by default. The handler does only
// async-signal-safe work: it bumps the signal's delivery counter and writes
// to the eventfd of every listener of that signal. Each listener's eventfd
// is registered with its runtime's reactor, so recv() waits like a socket
// read. Deliveries that arrive between two recv() calls coalesce into one
// (signals do too); a listener sees only deliveries after it was created.
// At most 64 listeners exist at a time (an error says so).
//
// The name is unix_signal, not unix: `unix` is a predefined macro in the GNU
// dialects of C++ (-std=gnu++20, CMake's default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "weft/io.hpp"
#include "weft/task.hpp"

namespace weft::net::detail {
class socket_io;
}

namespace weft::signal {

/// Receives deliveries of one signal (from unix_signal).
///
///   auto term = weft::signal::unix_signal(SIGTERM).value();
///   co_await term.recv();     // the next SIGTERM after unix_signal returned
class signal_stream {
public:
    signal_stream() = default;
    signal_stream(signal_stream&& o) noexcept;
    signal_stream& operator=(signal_stream&& o) noexcept;
    ~signal_stream();

    /// Waits for the next delivery (several pending deliveries count as one).
    ///
    /// Cancel safety (`signal::signal_stream::recv`): cancel safe. A delivery
    /// that the cancelled recv() did not return is seen by the next recv()
    /// of the same stream.
    task<> recv();
    int signum() const noexcept { return signum_; }

private:
    friend io::result<signal_stream> unix_signal(int signum);
    void release() noexcept;
    std::shared_ptr<net::detail::socket_io> io_;
    int signum_ = 0;
    int slot_ = -1;
    std::uint64_t seen_ = 0;
};

/// Listens for `signum` (SIGINT, SIGTERM, SIGHUP, SIGUSR1...) from now on.
/// Errors: an invalid or uncatchable signal (SIGKILL, SIGSTOP), or more
/// than 64 listeners. Throws weft::runtime_error outside a runtime.
///
///   auto usr1 = weft::signal::unix_signal(SIGUSR1).value();
io::result<signal_stream> unix_signal(int signum);

/// Completes at the next SIGINT (Ctrl-C) after this call. The listener is
/// registered when ctrl_c() is called, not when the task is first awaited,
/// so a Ctrl-C in between is not missed.
///
///   weft::cancellation_token token;
///   weft::spawn([stop = weft::signal::ctrl_c(), token]() mutable -> weft::task<> {
///       auto r = co_await std::move(stop);   // the next SIGINT (or an error)
///       token.cancel();
///   });
///
/// Cancel safety (`signal::ctrl_c`): not cancel safe. The listener lives in
/// the returned task: a SIGINT that arrived after ctrl_c() was called and
/// that the cancelled task had not returned is lost with it (a new ctrl_c()
/// sees only later ones).
task<io::result<void>> ctrl_c();

} // namespace weft::signal
