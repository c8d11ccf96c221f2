// weft::net sockets (design in include/weft/net.hpp and reactor.hpp).
//
// Every operation follows one loop: wait until the direction is ready,
// try the system call, and on EAGAIN clear the readiness seen before the
// call and wait again. `seen` is the readiness word read just before the
// call, so that an edge that arrives during the call keeps the bit set.
#include "weft/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "io/reactor.hpp"
#include "io/write_batch.hpp"
#include "net/socket_io.hpp"

namespace weft::net {

namespace {

using detail::socket_io;
using weft::detail::io_clear_readiness;
using weft::detail::io_direction;
using weft::detail::readiness_awaiter;

bool would_block(int e) noexcept {
    return e == EAGAIN || e == EWOULDBLOCK;
}

std::error_code not_open() noexcept {
    return std::make_error_code(std::errc::bad_file_descriptor);
}

std::string describe(const std::string& what, std::error_code ec) {
    return what + ": " + ec.message();
}

/// Wraps `fd` for the current runtime (throws runtime_error outside one).
std::shared_ptr<socket_io> adopt(int fd, const char* what) {
    return std::make_shared<socket_io>(weft::detail::current_reactor(what), fd);
}

/// `stream`: a short read means the socket buffer was drained (true of
/// stream sockets, not of datagrams), so the readiness is cleared at once and
/// the next read waits for an edge instead of spending a recv on EAGAIN
/// (Tokio does the same).
task<io::result<std::size_t>> read_op(socket_io* s, std::span<std::byte> buf, bool stream = true) {
    if (s == nullptr) co_return not_open();
    weft::detail::scheduled_io& io = s->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::read);
        ssize_t n = ::recv(io.fd, buf.data(), buf.size(), 0);
        if (n >= 0) {
            if (stream && n > 0 && static_cast<std::size_t>(n) < buf.size())
                io_clear_readiness(io, io_direction::read, seen);
            co_return static_cast<std::size_t>(n);
        }
        int e = errno;
        if (would_block(e)) {
            io_clear_readiness(io, io_direction::read, seen);
        } else if (e != EINTR) {
            co_return std::error_code(e, std::generic_category());
        }
    }
}

/// One send of `buf`: through this worker's write batch when it has one
/// (decision 0043), else send(2) now. Bytes sent, or -errno.
weft::detail::send_awaiter send_once(weft::detail::scheduled_io& io,
                                     std::span<const std::byte> buf) noexcept {
    return weft::detail::send_awaiter(weft::detail::this_thread_send_batch(), io.fd, buf);
}

task<io::result<std::size_t>> write_op(socket_io* s, std::span<const std::byte> buf) {
    if (s == nullptr) co_return not_open();
    weft::detail::scheduled_io& io = s->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::write);
        long n = co_await send_once(io, buf);
        if (n >= 0) {
            if (n > 0 && static_cast<std::size_t>(n) < buf.size())
                io_clear_readiness(io, io_direction::write, seen); // send buffer full
            co_return static_cast<std::size_t>(n);
        }
        int e = static_cast<int>(-n);
        if (would_block(e)) {
            io_clear_readiness(io, io_direction::write, seen);
        } else if (e != EINTR) {
            co_return std::error_code(e, std::generic_category());
        }
    }
}

task<io::result<void>> read_exact_op(socket_io* s, std::span<std::byte> buf) {
    while (!buf.empty()) {
        io::result<std::size_t> n = co_await read_op(s, buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(io::error::unexpected_eof);
        buf = buf.subspan(*n);
    }
    co_return io::result<void>{};
}

/// Waits for a non-blocking connect started on `s` to finish.
task<std::error_code> finish_connect(socket_io* s) {
    weft::detail::scheduled_io& io = s->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::write);
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) co_return io::last_error();
        if (err != 0) co_return std::error_code(err, std::generic_category());
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (::getpeername(io.fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) co_return {};
        if (errno != ENOTCONN) co_return io::last_error();
        io_clear_readiness(io, io_direction::write, seen); // still in progress
    }
}

io::result<socket_address> sock_name(const std::shared_ptr<socket_io>& s, bool peer) {
    if (!s) return not_open();
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? ::getpeername(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len)
                  : ::getsockname(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len);
    if (rc < 0) return io::last_error();
    return socket_address::from_native(reinterpret_cast<sockaddr*>(&ss), len);
}

/// socket(2) + bind(2) (+ listen(2)) for `addr`; errors name `what` and the address.
io::result<int> bound_socket(const socket_address& addr, int type, bool listen, const char* what) {
    std::string where = std::string(what) + " " + addr.to_string();
    int fd = ::socket(addr.native()->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return {io::last_error(), describe(where, io::last_error())};
    int one = 1;
    if (listen) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, addr.native(), addr.native_len()) < 0 || (listen && ::listen(fd, 1024) < 0)) {
        std::error_code ec = io::last_error();
        ::close(fd);
        return {ec, describe(where, ec)};
    }
    return fd;
}

task<io::result<tcp_stream>> connect_error(std::error_code ec, std::string what) {
    co_return io::result<tcp_stream>(ec, std::move(what));
}

} // namespace

namespace detail {

// The fast path of write_all (decision 0031): no frame when the socket takes
// the bytes at once, which on the echo and HTTP response paths it nearly
// always does.
bool write_all_now(socket_io* s, std::span<const std::byte>& buf, io::result<void>& out) {
    if (s == nullptr) {
        out = not_open();
        return true;
    }
    weft::detail::scheduled_io& io = s->sio();
    std::uint64_t seen = io.readiness.load(std::memory_order_acquire);
    if ((seen & weft::detail::io_interest_bits(io_direction::write)) == 0) return false;
    // A worker that batches writes (decision 0043) sends them at the end of
    // its round: the slow path's loop suspends there.
    weft::detail::send_batch* batch = weft::detail::this_thread_send_batch();
    if (batch != nullptr && batch->usable()) return false;
    // A spent budget or an abort: the slow path's readiness_awaiter yields
    // there, so that the abort lands and the others run.
    if (!weft::detail::coop_proceed()) return false;
    while (!buf.empty()) {
        ssize_t n = ::send(io.fd, buf.data(), buf.size(), MSG_NOSIGNAL);
        if (n > 0) {
            buf = buf.subspan(static_cast<std::size_t>(n));
            if (buf.empty()) break;
            io_clear_readiness(io, io_direction::write, seen); // send buffer full
            return false;
        }
        if (n == 0) {
            out = make_error_code(io::error::write_zero);
            return true;
        }
        int e = errno;
        if (would_block(e)) {
            io_clear_readiness(io, io_direction::write, seen);
            return false;
        }
        if (e != EINTR) {
            out = std::error_code(e, std::generic_category());
            return true;
        }
    }
    out = io::result<void>{};
    return true;
}

// The rest of write_all, when the socket could not take it all at once: one
// frame for the whole loop.
task<io::result<void>> write_all_slow(socket_io* s, std::span<const std::byte> buf) {
    if (s == nullptr) co_return not_open();
    weft::detail::scheduled_io& io = s->sio();
    while (!buf.empty()) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::write);
        long n = co_await send_once(io, buf);
        if (n > 0) {
            // A short write means the send buffer is full: wait for an edge.
            if (static_cast<std::size_t>(n) < buf.size())
                io_clear_readiness(io, io_direction::write, seen);
            buf = buf.subspan(static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) co_return make_error_code(io::error::write_zero);
        int e = static_cast<int>(-n);
        if (would_block(e)) {
            io_clear_readiness(io, io_direction::write, seen);
        } else if (e != EINTR) {
            co_return std::error_code(e, std::generic_category());
        }
    }
    co_return io::result<void>{};
}

} // namespace detail

// --- socket_address -----------------------------------------------------------------

socket_address::socket_address() noexcept {
    std::memset(&ss_, 0, sizeof ss_);
}

io::result<socket_address> socket_address::parse(std::string_view s) {
    auto invalid = [&] {
        return io::result<socket_address>(
            std::make_error_code(std::errc::invalid_argument),
            "invalid socket address '" + std::string(s) +
                "': expected IPv4:port or [IPv6]:port with a numeric address");
    };
    std::string_view host, port;
    if (!s.empty() && s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return invalid();
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
    } else {
        std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos) return invalid();
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return invalid(); // v6 needs brackets
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
        return invalid();
    std::string h(host);
    socket_address a;
    if (s.front() != '[') {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.ss_);
        if (::inet_pton(AF_INET, h.c_str(), &in->sin_addr) != 1) return invalid();
        in->sin_family = AF_INET;
        in->sin_port = htons(static_cast<std::uint16_t>(p));
        a.len_ = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss_);
        if (::inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) != 1) return invalid();
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(static_cast<std::uint16_t>(p));
        a.len_ = sizeof(sockaddr_in6);
    }
    return a;
}

socket_address socket_address::from_native(const sockaddr* sa, socklen_t len) noexcept {
    socket_address a;
    if (len > sizeof a.ss_) len = sizeof a.ss_;
    std::memcpy(&a.ss_, sa, len);
    a.len_ = len;
    return a;
}

std::uint16_t socket_address::port() const noexcept {
    if (ss_.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
    if (ss_.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
    return 0;
}

bool socket_address::is_ipv4() const noexcept {
    return ss_.ss_family == AF_INET;
}
bool socket_address::is_ipv6() const noexcept {
    return ss_.ss_family == AF_INET6;
}

std::string socket_address::to_string() const {
    // Built with append: GCC 12 warns (-Wrestrict, a false positive) on
    // "[" + std::string(buf) + "]:" here.
    char buf[INET6_ADDRSTRLEN] = {};
    std::string out;
    if (ss_.ss_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, buf,
                    sizeof buf);
        out.append(buf);
    } else if (ss_.ss_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, buf,
                    sizeof buf);
        out.append(1, '[').append(buf).append(1, ']');
    } else {
        return "(unspecified)";
    }
    out.append(1, ':').append(std::to_string(port()));
    return out;
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(&a.ss_, &b.ss_, a.len_) == 0;
}

// --- halves and stream_base -------------------------------------------------------------

WEFT_CORO_WRAPPER task<io::result<std::size_t>> read_half::read(std::span<std::byte> buf) {
    return read_op(io_.get(), buf);
}
WEFT_CORO_WRAPPER task<io::result<void>> read_half::read_exact(std::span<std::byte> buf) {
    return read_exact_op(io_.get(), buf);
}

write_half& write_half::operator=(write_half&& o) noexcept {
    if (this != &o) {
        (void)shutdown();
        io_ = std::move(o.io_);
    }
    return *this;
}
write_half::~write_half() {
    (void)shutdown();
}
WEFT_CORO_WRAPPER task<io::result<std::size_t>> write_half::write(std::span<const std::byte> buf) {
    return write_op(io_.get(), buf);
}
io::result<void> write_half::shutdown() {
    if (!io_) return not_open();
    if (::shutdown(io_->fd(), SHUT_WR) < 0) return io::last_error();
    return {};
}

WEFT_CORO_WRAPPER task<io::result<std::size_t>> stream_base::read(std::span<std::byte> buf) {
    return read_op(io_.get(), buf);
}
WEFT_CORO_WRAPPER task<io::result<void>> stream_base::read_exact(std::span<std::byte> buf) {
    return read_exact_op(io_.get(), buf);
}
WEFT_CORO_WRAPPER task<io::result<std::size_t>> stream_base::write(std::span<const std::byte> buf) {
    return write_op(io_.get(), buf);
}
io::result<void> stream_base::shutdown(shutdown_how how) {
    if (!io_) return not_open();
    if (::shutdown(io_->fd(), static_cast<int>(how)) < 0) return io::last_error();
    return {};
}
std::pair<read_half, write_half> stream_base::into_split() && {
    std::shared_ptr<socket_io> io = std::move(io_);
    return {read_half(io), write_half(io)};
}
int stream_base::native_handle() const noexcept {
    return io_ ? io_->fd() : -1;
}

// --- tcp_stream -----------------------------------------------------------------------------

WEFT_CORO_WRAPPER task<io::result<tcp_stream>> tcp_stream::connect(std::string_view addr) {
    // Parsed now, not when the task first runs: `addr` may not live that long.
    io::result<socket_address> a = socket_address::parse(addr);
    if (!a) return connect_error(a.error(), "connect: " + a.message());
    return connect(*a);
}

task<io::result<tcp_stream>> tcp_stream::connect(socket_address addr) {
    std::string where = "connect " + addr.to_string();
    int fd = ::socket(addr.native()->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        co_return io::result<tcp_stream>(io::last_error(), describe(where, io::last_error()));
    std::shared_ptr<socket_io> s = adopt(fd, "weft::net::tcp_stream::connect");
    if (::connect(fd, addr.native(), addr.native_len()) < 0) {
        if (errno != EINPROGRESS) {
            std::error_code ec = io::last_error();
            co_return io::result<tcp_stream>(ec, describe(where, ec));
        }
        std::error_code ec = co_await finish_connect(s.get());
        if (ec) co_return io::result<tcp_stream>(ec, describe(where, ec));
    }
    co_return tcp_stream(std::move(s));
}

io::result<tcp_stream> tcp_stream::from_native(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return io::last_error();
    return tcp_stream(adopt(fd, "weft::net::tcp_stream::from_native"));
}

io::result<void> tcp_stream::set_nodelay(bool on) {
    if (!io_) return not_open();
    int v = on ? 1 : 0;
    if (::setsockopt(io_->fd(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0)
        return io::last_error();
    return {};
}

io::result<bool> tcp_stream::nodelay() const {
    if (!io_) return not_open();
    int v = 0;
    socklen_t len = sizeof v;
    if (::getsockopt(io_->fd(), IPPROTO_TCP, TCP_NODELAY, &v, &len) < 0) return io::last_error();
    return v != 0;
}

io::result<socket_address> tcp_stream::local_addr() const {
    return sock_name(io_, false);
}
io::result<socket_address> tcp_stream::peer_addr() const {
    return sock_name(io_, true);
}

// --- tcp_listener ---------------------------------------------------------------------------

io::result<tcp_listener> tcp_listener::bind(std::string_view addr) {
    io::result<socket_address> a = socket_address::parse(addr);
    if (!a) return {a.error(), "bind: " + a.message()};
    return bind(*a);
}

io::result<tcp_listener> tcp_listener::bind(const socket_address& addr) {
    auto r = weft::detail::current_reactor("weft::net::tcp_listener::bind");
    io::result<int> fd = bound_socket(addr, SOCK_STREAM, true, "bind");
    if (!fd) return {fd.error(), fd.message()};
    tcp_listener l;
    l.io_ = std::make_shared<socket_io>(std::move(r), *fd);
    return l;
}

task<io::result<std::pair<tcp_stream, socket_address>>> tcp_listener::accept() {
    using R = io::result<std::pair<tcp_stream, socket_address>>;
    if (!io_) co_return R(not_open());
    socket_io* s = io_.get();
    weft::detail::scheduled_io& io = s->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::read);
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd =
            ::accept4(io.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            co_return std::pair<tcp_stream, socket_address>(
                tcp_stream(adopt(fd, "weft::net::tcp_listener::accept")),
                socket_address::from_native(reinterpret_cast<sockaddr*>(&ss), len));
        }
        int e = errno;
        if (would_block(e))
            io_clear_readiness(io, io_direction::read, seen);
        else if (e != EINTR && e != ECONNABORTED)
            co_return R(std::error_code(e, std::generic_category()));
    }
}

io::result<socket_address> tcp_listener::local_addr() const {
    return sock_name(io_, false);
}
int tcp_listener::native_handle() const noexcept {
    return io_ ? io_->fd() : -1;
}

// --- udp_socket -----------------------------------------------------------------------------

io::result<udp_socket> udp_socket::bind(std::string_view addr) {
    io::result<socket_address> a = socket_address::parse(addr);
    if (!a) return {a.error(), "bind: " + a.message()};
    return bind(*a);
}

io::result<udp_socket> udp_socket::bind(const socket_address& addr) {
    auto r = weft::detail::current_reactor("weft::net::udp_socket::bind");
    io::result<int> fd = bound_socket(addr, SOCK_DGRAM, false, "bind");
    if (!fd) return {fd.error(), fd.message()};
    udp_socket u;
    u.io_ = std::make_shared<socket_io>(std::move(r), *fd);
    return u;
}

io::result<void> udp_socket::connect(const socket_address& peer) {
    if (!io_) return not_open();
    if (::connect(io_->fd(), peer.native(), peer.native_len()) < 0) {
        std::error_code ec = io::last_error();
        return {ec, describe("connect " + peer.to_string(), ec)};
    }
    return {};
}

task<io::result<std::size_t>> udp_socket::send_to(std::span<const std::byte> buf,
                                                  socket_address dest) {
    if (!io_) co_return not_open();
    weft::detail::scheduled_io& io = io_->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::write);
        ssize_t n =
            ::sendto(io.fd, buf.data(), buf.size(), MSG_NOSIGNAL, dest.native(), dest.native_len());
        if (n >= 0) co_return static_cast<std::size_t>(n);
        int e = errno;
        if (would_block(e))
            io_clear_readiness(io, io_direction::write, seen);
        else if (e != EINTR)
            co_return std::error_code(e, std::generic_category());
    }
}

task<io::result<std::pair<std::size_t, socket_address>>>
udp_socket::recv_from(std::span<std::byte> buf) {
    using R = io::result<std::pair<std::size_t, socket_address>>;
    if (!io_) co_return R(not_open());
    weft::detail::scheduled_io& io = io_->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::read);
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        ssize_t n =
            ::recvfrom(io.fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
        if (n >= 0)
            co_return std::pair<std::size_t, socket_address>(
                static_cast<std::size_t>(n),
                socket_address::from_native(reinterpret_cast<sockaddr*>(&ss), len));
        int e = errno;
        if (would_block(e))
            io_clear_readiness(io, io_direction::read, seen);
        else if (e != EINTR)
            co_return R(std::error_code(e, std::generic_category()));
    }
}

WEFT_CORO_WRAPPER task<io::result<std::size_t>> udp_socket::send(std::span<const std::byte> buf) {
    return write_op(io_.get(), buf);
}
WEFT_CORO_WRAPPER task<io::result<std::size_t>> udp_socket::recv(std::span<std::byte> buf) {
    return read_op(io_.get(), buf, false);
}
io::result<socket_address> udp_socket::local_addr() const {
    return sock_name(io_, false);
}
int udp_socket::native_handle() const noexcept {
    return io_ ? io_->fd() : -1;
}

// --- unix sockets ---------------------------------------------------------------------------

namespace {
io::result<sockaddr_un> unix_address(const std::string& path, const char* what) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof un.sun_path) {
        auto ec = std::make_error_code(std::errc::filename_too_long);
        return {ec, std::string(what) + " '" + path + "': the path is empty or longer than " +
                        std::to_string(sizeof un.sun_path - 1) + " bytes"};
    }
    std::memcpy(un.sun_path, path.data(), path.size());
    return un;
}
} // namespace

io::result<unix_listener> unix_listener::bind(std::string path) {
    auto r = weft::detail::current_reactor("weft::net::unix_listener::bind");
    io::result<sockaddr_un> un = unix_address(path, "bind");
    if (!un) return {un.error(), un.message()};
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return {io::last_error(), describe("bind " + path, io::last_error())};
    if (::bind(fd, reinterpret_cast<sockaddr*>(&*un), sizeof(sockaddr_un)) < 0 ||
        ::listen(fd, 1024) < 0) {
        std::error_code ec = io::last_error();
        ::close(fd);
        return {ec, describe("bind " + path, ec)};
    }
    unix_listener l;
    l.io_ = std::make_shared<socket_io>(std::move(r), fd);
    return l;
}

task<io::result<unix_stream>> unix_listener::accept() {
    if (!io_) co_return not_open();
    weft::detail::scheduled_io& io = io_->sio();
    for (;;) {
        std::uint64_t seen = co_await readiness_awaiter(io, io_direction::read);
        int fd = ::accept4(io.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) co_return unix_stream(adopt(fd, "weft::net::unix_listener::accept"));
        int e = errno;
        if (would_block(e))
            io_clear_readiness(io, io_direction::read, seen);
        else if (e != EINTR && e != ECONNABORTED)
            co_return std::error_code(e, std::generic_category());
    }
}

int unix_listener::native_handle() const noexcept {
    return io_ ? io_->fd() : -1;
}

task<io::result<unix_stream>> unix_stream::connect(std::string path) {
    io::result<sockaddr_un> un = unix_address(path, "connect");
    if (!un) co_return io::result<unix_stream>(un.error(), un.message());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        co_return io::result<unix_stream>(io::last_error(),
                                          describe("connect " + path, io::last_error()));
    std::shared_ptr<socket_io> s = adopt(fd, "weft::net::unix_stream::connect");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&*un), sizeof(sockaddr_un)) < 0) {
        if (errno != EINPROGRESS) {
            std::error_code ec = io::last_error();
            co_return io::result<unix_stream>(ec, describe("connect " + path, ec));
        }
        std::error_code ec = co_await finish_connect(s.get());
        if (ec) co_return io::result<unix_stream>(ec, describe("connect " + path, ec));
    }
    co_return unix_stream(std::move(s));
}

io::result<std::pair<unix_stream, unix_stream>> unix_stream::pair() {
    auto r = weft::detail::current_reactor("weft::net::unix_stream::pair");
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        return io::last_error();
    std::shared_ptr<socket_io> a;
    try {
        a = std::make_shared<socket_io>(r, fds[0]);
    } catch (...) {
        ::close(fds[1]);
        throw;
    }
    auto b = std::make_shared<socket_io>(r, fds[1]); // on failure `a` closes fds[0]
    return std::pair<unix_stream, unix_stream>(unix_stream(std::move(a)),
                                               unix_stream(std::move(b)));
}

} // namespace weft::net

// --- io::error ----------------------------------------------------------------------------------

namespace weft::io {

namespace {
class io_error_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft::io"; }
    std::string message(int c) const override {
        switch (static_cast<error>(c)) {
        case error::unexpected_eof:
            return "unexpected end of stream";
        case error::write_zero:
            return "the writer accepted no bytes";
        }
        return "unknown weft::io error";
    }
};
} // namespace

const std::error_category& error_category() noexcept {
    static const io_error_category c;
    return c;
}

} // namespace weft::io
