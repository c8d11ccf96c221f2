// weft::net: TCP, UDP and Unix-domain sockets on the runtime's reactor.
//
//   auto listener = weft::net::tcp_listener::bind("127.0.0.1:8080").value();
//   for (;;) {
//       auto conn = co_await listener.accept();
//       if (!conn) {
//           // Out of descriptors (EMFILE, ENFILE) or memory: an accept
//           // retried at once fails again, and the loop would spin at 100%
//           // CPU. Log and back off a little, as servers do (hyper: 1 s).
//           std::fprintf(stderr, "accept: %s\n", conn.message().c_str());
//           co_await weft::time::sleep(std::chrono::milliseconds(100));
//           continue;
//       }
//       weft::spawn([s = std::move(conn->first)]() mutable -> weft::task<> {
//           std::byte buf[4096];
//           for (;;) {
//               auto n = co_await s.read(buf);
//               if (!n || *n == 0) co_return;        // error or end of stream
//               auto w = co_await s.write_all(std::span<const std::byte>(buf, *n));
//               if (!w) co_return;                   // reset, broken pipe
//           }
//       });
//   }
//
// Design (decision 0020 for the reactor, 0021 for errors, 0022 for the
// operations as tasks):
// - A socket is non-blocking and registered once with the reactor of the
//   runtime it was created in (edge-triggered, both directions). Creating
//   one outside a runtime throws weft::runtime_error.
// - Each operation is a task<io::result<...>>: it tries the system call
//   when its direction is ready, and on EAGAIN clears the readiness and
//   waits for the next edge (io_registration.hpp). Operations that find
//   their direction ready spend cooperative budget, so a task that reads
//   a fast socket in a loop still lets the others run, and an abort lands
//   at its next operation.
// - Writes are batched (decisions 0033, 0036): a write to a writable socket
//   waits for the end of its thread's round of tasks, and the round's
//   writes go to the kernel in one io_uring_enter. Results are those of
//   send(2); runtime_builder::batch_writes(false) turns it off.
// - Aborting a task blocked in accept/read/write withdraws its waiter (or
//   its batched write, before the round's flush); no data is lost (nothing
//   was read, nothing was sent) and the socket stays usable by other tasks.
// - Expected conditions are values: end of stream is a read of 0 bytes;
//   reset, refused, broken pipe are io::result errors. SIGPIPE is never
//   raised (MSG_NOSIGNAL).
// - Ownership: a socket object owns its descriptor (move-only; closing is
//   the destructor). One read and one write may be pending at the same time
//   from different tasks (into_split gives each task its half); a socket
//   must outlive the operations pending on it.
// - Addresses here are numeric ("IPv4:port", "[IPv6]:port"); lookup_host
//   resolves names (getaddrinfo on the blocking pool).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/io.hpp"
#include "weft/task.hpp"

namespace weft::net {

namespace detail {
class socket_io;

/// write_all's fast path: when the socket is known writable (and the
/// cooperative budget allows), sends at once. True when it finished
/// (`out` holds the outcome); false when the rest (`buf`, advanced past
/// what was sent) must wait: write_all_slow does it.
bool write_all_now(socket_io* s, std::span<const std::byte>& buf, io::result<void>& out);
task<io::result<void>> write_all_slow(socket_io* s, std::span<const std::byte> buf);
} // namespace detail

/// co_await of write_all: a socket that can take the bytes at once costs no
/// coroutine frame (decision 0031).
class write_all_op : public io::detail::fast_path_op<write_all_op, io::result<void>> {
public:
    write_all_op(detail::socket_io* s, std::span<const std::byte> buf) noexcept
        : s_(s), buf_(buf) {}
    bool await_ready() {
        io::result<void> out;
        if (!detail::write_all_now(s_, buf_, out)) return false;
        ready_.emplace(std::move(out));
        return true;
    }
    WEFT_CORO_WRAPPER task<io::result<void>> slow_path() {
        return detail::write_all_slow(s_, buf_);
    }

private:
    detail::socket_io* s_;
    std::span<const std::byte> buf_;
};

/// An IPv4 or IPv6 address with a port.
///
///   auto a = weft::net::socket_address::parse("127.0.0.1:8080").value();
///   a.port();        // 8080
///   a.to_string();   // "127.0.0.1:8080"
class socket_address {
public:
    socket_address() noexcept;
    /// Parses "a.b.c.d:port" or "[v6]:port"; the error names the string.
    static io::result<socket_address> parse(std::string_view s);
    /// From a sockaddr (AF_INET or AF_INET6).
    static socket_address from_native(const sockaddr* sa, socklen_t len) noexcept;

    std::uint16_t port() const noexcept;
    bool is_ipv4() const noexcept;
    bool is_ipv6() const noexcept;
    /// "127.0.0.1:8080" or "[::1]:8080".
    std::string to_string() const;

    const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&ss_); }
    socklen_t native_len() const noexcept { return len_; }

    friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

private:
    sockaddr_storage ss_;
    socklen_t len_ = 0;
};

/// Which directions shutdown() closes.
enum class shutdown_how { read = SHUT_RD, write = SHUT_WR, both = SHUT_RDWR };

/// The half of a stream that reads (from into_split). Movable into another
/// task than the write half's.
///
///   auto [rd, wr] = std::move(stream).into_split();
///   weft::spawn([rd = std::move(rd)]() mutable -> weft::task<> {
///       std::byte buf[4096];
///       while (auto n = co_await rd.read(buf)) if (*n == 0) co_return;
///   });
class read_half {
public:
    read_half() = default;
    /// As tcp_stream::read.
    /// Cancel safety (`net::read_half::read`): cancel safe. A cancel loses nothing: bytes not yet
    /// returned stay in the socket.
    task<io::result<std::size_t>> read(std::span<std::byte> buf);
    /// As tcp_stream::read_exact.
    /// Cancel safety (`net::read_half::read_exact`): not cancel safe. The bytes read before the
    /// cancel are in `buf`, but the caller does not learn how many; the rest stays in the socket.
    task<io::result<void>> read_exact(std::span<std::byte> buf);
    const std::shared_ptr<detail::socket_io>& io() const noexcept { return io_; }

private:
    friend class stream_base;
    explicit read_half(std::shared_ptr<detail::socket_io> io) noexcept : io_(std::move(io)) {}
    std::shared_ptr<detail::socket_io> io_;
};

/// The half of a stream that writes (from into_split). Dropping it shuts the
/// write direction down (the peer reads end of stream), as in Tokio.
///
///   auto w = co_await wr.write_all(weft::io::bytes("bye\n"));
class write_half {
public:
    write_half() = default;
    write_half(write_half&&) noexcept = default;
    write_half& operator=(write_half&& o) noexcept;
    ~write_half();
    /// As tcp_stream::write.
    /// Cancel safety (`net::write_half::write`): cancel safe. A cancelled write sent nothing.
    task<io::result<std::size_t>> write(std::span<const std::byte> buf);
    WEFT_CORO_WRAPPER task<io::result<std::size_t>> write(std::string_view s) {
        return write(io::bytes(s));
    }
    /// As tcp_stream::write_all.
    /// Cancel safety (`net::write_half::write_all`): not cancel safe. The peer may have received a
    /// prefix of `buf` (no byte twice); the caller does not learn how long.
    write_all_op write_all(std::span<const std::byte> buf) noexcept {
        return write_all_op(io_.get(), buf);
    }
    write_all_op write_all(std::string_view s) noexcept { return write_all(io::bytes(s)); }
    /// Shuts the write direction down now.
    io::result<void> shutdown();
    const std::shared_ptr<detail::socket_io>& io() const noexcept { return io_; }

private:
    friend class stream_base;
    explicit write_half(std::shared_ptr<detail::socket_io> io) noexcept : io_(std::move(io)) {}
    std::shared_ptr<detail::socket_io> io_;
};

/// What tcp_stream and unix_stream share: reading, writing, shutdown and
/// splitting. Not used on its own.
class stream_base {
public:
    /// Reads at most buf.size() bytes; 0 means end of stream (or an empty
    /// buffer). Waits until at least one byte is there.
    ///
    ///   char buf[4096];
    ///   auto n = co_await s.read(weft::io::buffer(buf));
    ///
    /// Cancel safety (`net::tcp_stream::read`): cancel safe. A cancel loses nothing: bytes not yet
    /// returned stay in the socket.
    ///
    /// Cancel safety (`net::unix_stream::read`): cancel safe. A cancel loses nothing: bytes not yet
    /// returned stay in the socket.
    task<io::result<std::size_t>> read(std::span<std::byte> buf);
    /// Fills `buf`; io::error::unexpected_eof if the stream ends first.
    ///
    /// Cancel safety (`net::tcp_stream::read_exact`): not cancel safe. The bytes read before the
    /// cancel are in `buf`, but the caller does not learn how many; the rest stays in the socket.
    ///
    /// Cancel safety (`net::unix_stream::read_exact`): not cancel safe. The bytes read before the
    /// cancel are in `buf`, but the caller does not learn how many; the rest stays in the socket.
    task<io::result<void>> read_exact(std::span<std::byte> buf);
    /// Writes some of `buf` (at least one byte unless it is empty).
    ///
    /// Cancel safety (`net::tcp_stream::write`): cancel safe. A cancelled write sent nothing.
    ///
    /// Cancel safety (`net::unix_stream::write`): cancel safe. A cancelled write sent nothing.
    task<io::result<std::size_t>> write(std::span<const std::byte> buf);
    WEFT_CORO_WRAPPER task<io::result<std::size_t>> write(std::string_view s) {
        return write(io::bytes(s));
    }
    /// Writes all of `buf`.
    ///
    ///   auto w = co_await s.write_all("HTTP/1.1 200 OK\r\n...");
    ///
    /// The bytes must stay alive until the co_await finishes (as for every
    /// operation here); the stream too.
    ///
    /// Cancel safety (`net::tcp_stream::write_all`): not cancel safe. The peer may have received a
    /// prefix of `buf` (no byte twice); the caller does not learn how long.
    ///
    /// Cancel safety (`net::unix_stream::write_all`): not cancel safe. The peer may have received a
    /// prefix of `buf` (no byte twice); the caller does not learn how long.
    write_all_op write_all(std::span<const std::byte> buf) noexcept {
        return write_all_op(io_.get(), buf);
    }
    write_all_op write_all(std::string_view s) noexcept { return write_all(io::bytes(s)); }
    /// shutdown(2): after shutdown_how::write the peer reads end of stream.
    io::result<void> shutdown(shutdown_how how = shutdown_how::write);
    /// Splits into halves that two tasks may use at once (Tokio's into_split).
    ///
    ///   auto [rd, wr] = std::move(stream).into_split();
    std::pair<read_half, write_half> into_split() &&;

    bool is_open() const noexcept { return io_ != nullptr; }
    /// The descriptor (owned by the stream), or -1.
    int native_handle() const noexcept;

protected:
    stream_base() = default;
    explicit stream_base(std::shared_ptr<detail::socket_io> io) noexcept : io_(std::move(io)) {}
    std::shared_ptr<detail::socket_io> io_;
};

/// A TCP connection.
///
///   auto s = (co_await weft::net::tcp_stream::connect("127.0.0.1:8080")).value();
///   s.set_nodelay(true).value();
///   auto w = co_await s.write_all("ping\n");
class tcp_stream : public stream_base {
public:
    tcp_stream() = default;
    /// Connects to "ip:port"; refused, unreachable... are errors naming the address.
    ///
    /// Cancel safety (`net::tcp_stream::connect`): cancel safe. A cancel closes the half-open
    /// socket: no connection is left behind.
    static task<io::result<tcp_stream>> connect(std::string_view addr);
    static task<io::result<tcp_stream>> connect(socket_address addr);
    /// Adopts a connected socket descriptor (made non-blocking here).
    static io::result<tcp_stream> from_native(int fd);

    /// TCP_NODELAY: send small writes at once (no Nagle delay).
    io::result<void> set_nodelay(bool on);
    io::result<bool> nodelay() const;
    io::result<socket_address> local_addr() const;
    io::result<socket_address> peer_addr() const;

private:
    friend class tcp_listener;
    using stream_base::stream_base;
};

/// A TCP socket that accepts connections.
///
///   auto l = weft::net::tcp_listener::bind("127.0.0.1:0").value(); // any free port
///   std::uint16_t port = l.local_addr().value().port();
///   auto [stream, peer] = (co_await l.accept()).value();
class tcp_listener {
public:
    tcp_listener() = default;
    /// Binds and listens (SO_REUSEADDR, backlog 1024). An address that does
    /// not parse or is in use gives an error that names it.
    static io::result<tcp_listener> bind(std::string_view addr);
    static io::result<tcp_listener> bind(const socket_address& addr);

    /// Waits for a connection; gives the stream and the peer's address.
    ///
    /// Cancel safety (`net::tcp_listener::accept`): cancel safe. A cancel loses nothing: a
    /// connection not yet accepted stays in the backlog for the next accept.
    task<io::result<std::pair<tcp_stream, socket_address>>> accept();
    io::result<socket_address> local_addr() const;
    bool is_open() const noexcept { return io_ != nullptr; }
    int native_handle() const noexcept;

private:
    std::shared_ptr<detail::socket_io> io_;
};

/// A UDP socket.
///
///   auto sock = weft::net::udp_socket::bind("127.0.0.1:0").value();
///   auto sent = co_await sock.send_to(weft::io::bytes("hi"), peer);
///   std::byte buf[1500];
///   auto got = co_await sock.recv_from(buf);   // {size, from}
class udp_socket {
public:
    udp_socket() = default;
    static io::result<udp_socket> bind(std::string_view addr);
    static io::result<udp_socket> bind(const socket_address& addr);

    /// Sets the default peer (send/recv then use it and filter on it).
    io::result<void> connect(const socket_address& peer);
    task<io::result<std::size_t>> send_to(std::span<const std::byte> buf, socket_address to);
    /// Receives one datagram (truncated to buf.size()); gives its size and sender.
    ///
    /// Cancel safety (`net::udp_socket::recv_from`): cancel safe. A cancel loses nothing: a
    /// datagram not yet received stays queued for the next receive.
    task<io::result<std::pair<std::size_t, socket_address>>> recv_from(std::span<std::byte> buf);
    task<io::result<std::size_t>> send(std::span<const std::byte> buf);
    /// Cancel safety (`net::udp_socket::recv`): cancel safe. A cancel loses nothing: a datagram not
    /// yet received stays queued for the next receive.
    task<io::result<std::size_t>> recv(std::span<std::byte> buf);
    io::result<socket_address> local_addr() const;
    int native_handle() const noexcept;

private:
    std::shared_ptr<detail::socket_io> io_;
};

/// A Unix-domain stream socket.
///
///   auto [a, b] = weft::net::unix_stream::pair().value();
///   auto w = co_await a.write_all("x");   // b reads "x"
class unix_stream : public stream_base {
public:
    unix_stream() = default;
    static task<io::result<unix_stream>> connect(std::string path);
    /// Two connected streams (socketpair).
    static io::result<std::pair<unix_stream, unix_stream>> pair();

private:
    friend class unix_listener;
    using stream_base::stream_base;
};

/// A Unix-domain socket that accepts connections at a path. The path is not
/// removed on close (as with Tokio); remove it yourself.
///
///   auto l = weft::net::unix_listener::bind("/tmp/app.sock").value();
///   auto s = (co_await l.accept()).value();
class unix_listener {
public:
    unix_listener() = default;
    static io::result<unix_listener> bind(std::string path);
    /// Cancel safety (`net::unix_listener::accept`): cancel safe. A cancel loses nothing: a
    /// connection not yet accepted stays in the backlog for the next accept.
    task<io::result<unix_stream>> accept();
    int native_handle() const noexcept;

private:
    std::shared_ptr<detail::socket_io> io_;
};

/// Resolves "host:port" (a host name, or a numeric address as accepted by
/// socket_address::parse) to its addresses, with getaddrinfo on the
/// blocking pool, so the worker keeps running other tasks meanwhile. A name
/// that does not resolve gives an error (in net::lookup_error_category())
/// whose message names it.
///
///   auto addrs = co_await weft::net::lookup_host("localhost:8080");
///   if (!addrs) { std::puts(addrs.message().c_str()); co_return; }
///   auto s = co_await weft::net::tcp_stream::connect(addrs->front());
///
/// Cancel safety (`net::lookup_host`): cancel safe. The lookup may still finish on the blocking
/// pool; its result is dropped.
task<io::result<std::vector<socket_address>>> lookup_host(std::string host_port);

/// The category of getaddrinfo's EAI_* errors from lookup_host.
const std::error_category& lookup_error_category() noexcept;

} // namespace weft::net
