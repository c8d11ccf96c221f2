// Cancel-safety cases (support/cancel_harness.hpp) of weft's I/O: sockets
// (weft::net), the io adaptors (weft::io), the file system (weft::fs) and
// signals (weft::signal). Each awaitable is cancelled at every suspension by
// select, timeout and abort, and its class is checked.
//
// How the cases are built:
// - The outside world is a raw descriptor (the peer), driven with plain
//   system calls from step(): it writes what a read waits for, drains what a
//   write waits to send. Bytes are pattern-filled from a PRNG (no period), so
//   a byte sent twice or lost shows up as a mismatch against the expected
//   stream, not as a coincidence.
// - Writers start with a full socket (the test side's send buffer is small
//   and filled with raw sends), and each step drains what the peer can read:
//   a big write then suspends several times, once per step.
// - Checks read what is left through the object under test (it must still
//   be usable) and compare the whole stream: what the operation gave plus
//   what is still there must be exactly what the peer sent (cancel safe), or
//   differ only by the documented loss (not cancel safe).
// - fs calls and lookup_host run on the blocking pool, on another thread:
//   settle() cannot know when they end. Their step() waits for op() to finish
//   with the clock running (an event, bounded by a 10 s deadline), and the fs
//   cases that read or write use a FIFO, whose open(2) blocks the pool thread
//   until step() opens the other end: op() is then certainly suspended when
//   the first cancel comes.
// - A few awaitables cannot be cancelled mid-way on Linux and have no case:
//   unix_stream::connect (a Unix connect finishes, or fails with EAGAIN, in
//   the call itself), udp_socket::send / send_to (a UDP send on loopback never
//   waits for buffer space: the datagram is queued or dropped at once).
#include "cancel_harness.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

namespace {

using weft_test::cancel::scenario;
using namespace std::chrono_literals;
using bytes = std::vector<std::byte>;

// --- data and raw peers -------------------------------------------------------

/// n bytes from a PRNG seeded with `seed` (splitmix64): no short period, so
/// a duplicated or missing run of bytes cannot line up with the pattern.
bytes pattern(std::uint64_t seed, std::size_t n) {
    bytes out(n);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        out[i] = static_cast<std::byte>((z ^ (z >> 31)) & 0xFF);
    }
    return out;
}

std::span<const std::byte> view(const bytes& b) {
    return {b.data(), b.size()};
}

void append(bytes& to, std::span<const std::byte> b) {
    to.insert(to.end(), b.begin(), b.end());
}

bool starts_with(const bytes& whole, std::size_t at, const bytes& part, std::size_t n) {
    return at + n <= whole.size() && n <= part.size() &&
           std::equal(part.begin(), part.begin() + static_cast<std::ptrdiff_t>(n),
                      whole.begin() + static_cast<std::ptrdiff_t>(at));
}

bool ends_with(const bytes& whole, const bytes& tail) {
    return whole.size() >= tail.size() &&
           std::equal(tail.begin(), tail.end(),
                      whole.end() - static_cast<std::ptrdiff_t>(tail.size()));
}

void set_nonblocking(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/// Waits for `events` on `fd` (a kernel event, bounded: 10 s).
bool wait_fd(int fd, short events) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, 10000);
    return r > 0;
}

/// Sends all of `b` from a raw descriptor (waits for room, bounded).
void send_all(int fd, std::span<const std::byte> b) {
    while (!b.empty()) {
        ssize_t n = ::send(fd, b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            b = b.subspan(static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EAGAIN) {
            if (!wait_fd(fd, POLLOUT)) {
                ADD_FAILURE() << "the peer could not send";
                return;
            }
        } else if (n < 0 && errno != EINTR) {
            ADD_FAILURE() << "send: " << std::strerror(errno);
            return;
        }
    }
}

/// Everything a raw descriptor can read now, without waiting.
bytes drain(int fd) {
    bytes out;
    std::byte buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        out.insert(out.end(), buf, buf + n);
    }
    return out;
}

/// Fills the send side of `fd` (raw sends of pattern bytes until EAGAIN);
/// appends what was sent to `sent`.
void fill_socket(int fd, std::uint64_t seed, bytes& sent) {
    for (int round = 0;; ++round) {
        bytes chunk = pattern(seed * 1000 + static_cast<std::uint64_t>(round), 4096);
        ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) break;
        sent.insert(sent.end(), chunk.begin(), chunk.begin() + n);
    }
}

void set_sndbuf(int fd, int size) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/// Reads from the raw peer `fd` into `out` until `done(out)`, while the
/// runtime keeps running the test side's tasks (a writer spawned by the
/// check): each round drains what is there, waits briefly for the kernel
/// when nothing was, and lets the runtime poll its I/O. Bounded.
weft::task<bool> peer_read_while(int fd, bytes& out, std::function<bool(const bytes&)> done) {
    for (int i = 0; i < 20000; ++i) {
        if (done(out)) co_return true;
        bytes got = drain(fd);
        if (got.empty()) {
            pollfd p{fd, POLLIN, 0};
            ::poll(&p, 1, 1);
        }
        append(out, view(got));
        co_await weft::time::sleep(1us);
    }
    co_return done(out);
}

/// A connected loopback TCP pair of raw descriptors (blocking calls: the
/// listener's backlog takes the connection at once).
std::pair<int, int> raw_tcp_pair() {
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(l, 1) < 0 ||
        ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) < 0)
        ADD_FAILURE() << "listen: " << std::strerror(errno);
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
        ADD_FAILURE() << "connect: " << std::strerror(errno);
    int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(l);
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblocking(s);
    return {c, s};
}

/// A directory for the cases' files, removed at exit (after every runtime,
/// so after the blocking calls a cancel left running).
struct temp_root {
    std::filesystem::path dir;
    temp_root() {
        dir = std::filesystem::temp_directory_path() /
              ("weft-cancel-io-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
    }
    ~temp_root() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

std::filesystem::path fresh_path(const char* stem) {
    static temp_root root;
    static std::atomic<int> n{0};
    return root.dir / (std::string(stem) + "-" + std::to_string(n.fetch_add(1)));
}

// --- the objects under test: a stream and its raw peer --------------------------

/// tcp: a tcp_stream; uds: a unix_stream; half: the halves of a tcp_stream.
enum class kind { tcp, uds, half };

/// The stream under test and its peer. `mine` is the stream's descriptor
/// (for setsockopt and filling); `peer` is a raw, non-blocking descriptor.
template <kind K>
struct endpoint {
    weft::net::tcp_stream tcp;
    weft::net::unix_stream ux, ux_peer;
    weft::net::read_half rd;
    weft::net::write_half wr;
    int mine = -1;
    int peer = -1;

    endpoint() {
        if constexpr (K == kind::uds) {
            auto p = weft::net::unix_stream::pair().value();
            ux = std::move(p.first);
            ux_peer = std::move(p.second);
            mine = ux.native_handle();
            peer = ux_peer.native_handle();
        } else {
            auto [c, s] = raw_tcp_pair();
            tcp = weft::net::tcp_stream::from_native(c).value();
            mine = c;
            peer = s;
            if constexpr (K == kind::half) {
                auto [r, w] = std::move(tcp).into_split();
                rd = std::move(r);
                wr = std::move(w);
            }
        }
    }
    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;
    ~endpoint() {
        if constexpr (K != kind::uds) ::close(peer);
    }

    // Wrappers, not coroutines: they hand out the object's own task.
    WEFT_CORO_WRAPPER weft::task<weft::io::result<std::size_t>> read(std::span<std::byte> b) {
        if constexpr (K == kind::tcp)
            return tcp.read(b);
        else if constexpr (K == kind::uds)
            return ux.read(b);
        else
            return rd.read(b);
    }
    WEFT_CORO_WRAPPER weft::task<weft::io::result<void>> read_exact(std::span<std::byte> b) {
        if constexpr (K == kind::tcp)
            return tcp.read_exact(b);
        else if constexpr (K == kind::uds)
            return ux.read_exact(b);
        else
            return rd.read_exact(b);
    }
    WEFT_CORO_WRAPPER weft::task<weft::io::result<std::size_t>>
    write(std::span<const std::byte> b) {
        if constexpr (K == kind::tcp)
            return tcp.write(b);
        else if constexpr (K == kind::uds)
            return ux.write(b);
        else
            return wr.write(b);
    }
    auto write_all(std::span<const std::byte> b) {
        if constexpr (K == kind::tcp)
            return tcp.write_all(b);
        else if constexpr (K == kind::uds)
            return ux.write_all(b);
        else
            return wr.write_all(b);
    }
    /// A small send buffer, so that a write suspends several times.
    void small_buffers() {
        if constexpr (K == kind::uds) {
            set_sndbuf(mine, 8192);
        } else {
            set_sndbuf(mine, 32768);
            int rcv = 32768;
            ::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        }
    }
    /// How much a write case writes: several socket buffers' worth.
    static constexpr std::size_t big = K == kind::uds ? 96 * 1024 : 512 * 1024;
};

/// Reads through `r` (the object under test) whatever is there now, until
/// a read would wait or the stream ends. Each read is under a 1 ms timeout
/// of the paused clock: it elapses only once the runtime is idle with no
/// I/O event pending.
template <class Reader>
weft::task<bytes> read_rest(Reader& r) {
    bytes out;
    std::byte buf[4096];
    for (int i = 0; i < 10000; ++i) {
        auto n = co_await weft::time::timeout(1ms, r.read(std::span<std::byte>(buf)));
        if (!n.has_value()) break;  // nothing more now
        if (!n->has_value()) break; // an error
        if (**n == 0) break;        // end of stream
        out.insert(out.end(), buf, buf + **n);
    }
    co_return out;
}

/// Awaits `w.write_all(b)` in a task of its own, so that the peer can drain
/// meanwhile.
template <class W>
weft::task<bool> write_all_task(W* w, const bytes* b) {
    auto r = co_await w->write_all(view(*b));
    co_return r.has_value();
}

// --- streams: read, read_exact, write, write_all ---------------------------------

// read waits for the peer's bytes. After the cancel the peer sends more;
// every byte sent is either in read's result or read later, in order.
template <kind K>
struct stream_read : scenario {
    endpoint<K> e;
    bytes sent, got;
    weft::task<> op() override {
        std::byte buf[64];
        auto n = co_await e.read(std::span<std::byte>(buf));
        EXPECT_TRUE(n.has_value());
        if (n) got.assign(buf, buf + *n);
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        bytes b = pattern(10, 40);
        send_all(e.peer, view(b));
        append(sent, view(b));
        co_return true;
    }
    void cancel_requested() override {
        bytes b = pattern(11, 40);
        send_all(e.peer, view(b));
        append(sent, view(b));
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, !got.empty());
        bytes all = got;
        bytes rest = co_await read_rest(e);
        append(all, view(rest));
        EXPECT_EQ(all, sent) << "bytes were lost or duplicated by the cancel";
    }
};

// read_exact of 3 chunks that arrive one per step. Not cancel safe: the
// chunks read before the cancel are in the caller's buffer, but the caller
// does not learn how many; everything after them is still readable.
template <kind K>
struct stream_read_exact : scenario {
    static constexpr std::size_t chunk = 30;
    endpoint<K> e;
    bytes sent;
    std::size_t sent_before_cancel = 0;
    std::byte buf[3 * chunk] = {};
    bool ok = false;
    weft::task<> op() override {
        auto r = co_await e.read_exact(std::span<std::byte>(buf));
        ok = r.has_value();
    }
    weft::task<bool> step(int i) override {
        if (i >= 3) co_return false;
        bytes b = pattern(20 + static_cast<std::uint64_t>(i), chunk);
        send_all(e.peer, view(b));
        append(sent, view(b));
        co_return true;
    }
    void cancel_requested() override {
        sent_before_cancel = sent.size();
        bytes b = pattern(29, chunk);
        send_all(e.peer, view(b));
        append(sent, view(b));
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok);
        if (completed) sent_before_cancel = sent.size();
        bytes rest = co_await read_rest(e);
        EXPECT_LE(rest.size(), sent.size());
        std::size_t consumed = sent.size() - std::min(rest.size(), sent.size());
        EXPECT_TRUE(starts_with(sent, consumed, rest, rest.size()))
            << "what is left to read is not the rest of the stream";
        EXPECT_LE(consumed, sent_before_cancel) << "bytes sent after the cancel were consumed";
        EXPECT_LE(consumed, sizeof buf);
        if (completed) {
            EXPECT_EQ(consumed, sizeof buf);
        }
        // The stated loss: the consumed bytes are in `buf`, in order, once.
        bytes in_buf(buf, buf + std::min(consumed, sizeof buf));
        EXPECT_TRUE(starts_with(sent, 0, in_buf, in_buf.size()))
            << "the bytes read before the cancel are not the start of the stream";
    }
};

/// What the write cases share: a full socket, a peer that drains one step at
/// a time, and a check that writes a marker through the object and reads the
/// whole stream back.
template <kind K>
struct stream_writer_base : scenario {
    endpoint<K> e;
    bytes prefill, data = pattern(31, endpoint<K>::big), marker = pattern(32, 64);
    bytes received;
    weft::task<> setup() override {
        e.small_buffers();
        fill_socket(e.mine, 30, prefill);
        co_return;
    }
    weft::task<bool> step(int) override {
        append(received, view(drain(e.peer)));
        co_return true;
    }
    /// Writes the marker through the object under test while reading the
    /// stream to its end; gives the bytes between the prefill and the marker.
    weft::task<std::optional<bytes>> written_between() {
        auto h = weft::spawn(write_all_task<endpoint<K>>, &e, &marker);
        std::size_t cap = prefill.size() + data.size() + marker.size();
        // Named: a lambda temporary inside co_await is a GCC 12 trap.
        std::function<bool(const bytes&)> until_marker = [&](const bytes& b) {
            return ends_with(b, marker) || b.size() > cap;
        };
        bool got_marker = co_await peer_read_while(e.peer, received, until_marker);
        auto w = co_await h;
        EXPECT_TRUE(w.has_value() && *w) << "the stream is not usable after the cancel";
        EXPECT_TRUE(got_marker) << "the marker written after the cancel did not arrive";
        EXPECT_TRUE(drain(e.peer).empty()) << "bytes arrived after the marker";
        EXPECT_TRUE(starts_with(received, 0, prefill, prefill.size()))
            << "the bytes before the operation were disturbed";
        if (!got_marker || received.size() < prefill.size() + marker.size()) co_return std::nullopt;
        co_return bytes(received.begin() + static_cast<std::ptrdiff_t>(prefill.size()),
                        received.end() - static_cast<std::ptrdiff_t>(marker.size()));
    }
};

// write: cancel safe. Either it completed and its first n bytes were sent,
// or nothing of it was sent.
template <kind K>
struct stream_write : stream_writer_base<K> {
    std::optional<std::size_t> written;
    weft::task<> op() override {
        auto n = co_await this->e.write(view(this->data));
        EXPECT_TRUE(n.has_value());
        if (n) written = *n;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, written.has_value());
        auto mid = co_await this->written_between();
        if (!mid) co_return;
        std::size_t n = written.value_or(0);
        EXPECT_EQ(mid->size(), n) << "a cancelled write sent bytes (or a write lost some)";
        EXPECT_TRUE(starts_with(*mid, 0, this->data, std::min(n, mid->size())));
    }
};

// write_all: not cancel safe. The peer receives a prefix of the data, no
// byte twice; the caller does not learn how long.
template <kind K>
struct stream_write_all : stream_writer_base<K> {
    bool ok = false;
    weft::task<> op() override {
        auto r = co_await this->e.write_all(view(this->data));
        ok = r.has_value();
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok);
        auto mid = co_await this->written_between();
        if (!mid) co_return;
        EXPECT_LE(mid->size(), this->data.size());
        EXPECT_TRUE(starts_with(this->data, 0, *mid, mid->size()))
            << "the peer did not receive a prefix of the data (a byte lost or sent twice)";
        if (completed) {
            EXPECT_EQ(mid->size(), this->data.size());
        }
    }
};

WEFT_CANCEL_CASE("net::tcp_stream::read", safe, stream_read<kind::tcp>);
WEFT_CANCEL_CASE("net::tcp_stream::read_exact", unsafe, stream_read_exact<kind::tcp>);
WEFT_CANCEL_CASE("net::tcp_stream::write", safe, stream_write<kind::tcp>);
WEFT_CANCEL_CASE("net::tcp_stream::write_all", unsafe, stream_write_all<kind::tcp>);
WEFT_CANCEL_CASE("net::unix_stream::read", safe, stream_read<kind::uds>);
WEFT_CANCEL_CASE("net::unix_stream::read_exact", unsafe, stream_read_exact<kind::uds>);
WEFT_CANCEL_CASE("net::unix_stream::write", safe, stream_write<kind::uds>);
WEFT_CANCEL_CASE("net::unix_stream::write_all", unsafe, stream_write_all<kind::uds>);
WEFT_CANCEL_CASE("net::read_half::read", safe, stream_read<kind::half>);
WEFT_CANCEL_CASE("net::read_half::read_exact", unsafe, stream_read_exact<kind::half>);
WEFT_CANCEL_CASE("net::write_half::write", safe, stream_write<kind::half>);
WEFT_CANCEL_CASE("net::write_half::write_all", unsafe, stream_write_all<kind::half>);

// --- listeners and connect -------------------------------------------------------------

/// A raw client of `addr`, connected (blocking connect: the listener's
/// backlog takes it at once), which sends `id` as its first byte.
int raw_client(const sockaddr* addr, socklen_t len, std::byte id) {
    int c = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c, addr, len) < 0) ADD_FAILURE() << "connect: " << std::strerror(errno);
    ::send(c, &id, 1, MSG_NOSIGNAL);
    return c;
}

/// Reads the id byte a raw_client sent on an accepted stream.
template <class S>
weft::task<int> client_id(S& s) {
    std::byte b{};
    auto r = co_await weft::time::timeout(1ms, s.read_exact(std::span<std::byte>(&b, 1)));
    if (!r.has_value() || !r->has_value()) co_return -1;
    co_return static_cast<int>(b);
}

// accept: cancel safe. A connection that arrives is accepted by op() or by
// the next accept, once.
template <bool Tcp>
struct listener_accept : scenario {
    using listener_t = std::conditional_t<Tcp, weft::net::tcp_listener, weft::net::unix_listener>;
    using stream_t = std::conditional_t<Tcp, weft::net::tcp_stream, weft::net::unix_stream>;
    listener_t l;
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    std::vector<int> clients;
    std::optional<stream_t> got;
    listener_accept() {
        if constexpr (Tcp) {
            l = weft::net::tcp_listener::bind("127.0.0.1:0").value();
            auto a = l.local_addr().value();
            std::memcpy(&addr, a.native(), a.native_len());
            addr_len = a.native_len();
        } else {
            std::string path = fresh_path("sock").string();
            l = weft::net::unix_listener::bind(path).value();
            sockaddr_un un{};
            un.sun_family = AF_UNIX;
            std::memcpy(un.sun_path, path.data(), path.size());
            std::memcpy(&addr, &un, sizeof un);
            addr_len = sizeof un;
        }
    }
    ~listener_accept() override {
        for (int c : clients)
            ::close(c);
    }
    void connect_one() {
        clients.push_back(raw_client(reinterpret_cast<const sockaddr*>(&addr), addr_len,
                                     static_cast<std::byte>(clients.size() + 1)));
    }
    weft::task<> op() override {
        auto r = co_await l.accept();
        EXPECT_TRUE(r.has_value());
        if constexpr (Tcp) {
            if (r) got.emplace(std::move(r->first));
        } else {
            if (r) got.emplace(std::move(*r));
        }
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        connect_one();
        co_return true;
    }
    void cancel_requested() override { connect_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        std::vector<int> ids;
        if (got) ids.push_back(co_await client_id(*got));
        for (std::size_t i = 0; i < clients.size() + 1; ++i) {
            auto r = co_await weft::time::timeout(1ms, l.accept());
            if (!r.has_value()) break;
            EXPECT_TRUE(r->has_value());
            if (!r->has_value()) break;
            if constexpr (Tcp) {
                ids.push_back(co_await client_id((*r)->first));
            } else {
                ids.push_back(co_await client_id(**r));
            }
        }
        std::vector<int> want;
        for (std::size_t i = 0; i < clients.size(); ++i)
            want.push_back(static_cast<int>(i + 1));
        EXPECT_EQ(ids, want) << "a connection was lost or accepted twice";
    }
};
WEFT_CANCEL_CASE("net::tcp_listener::accept", safe, listener_accept<true>);
WEFT_CANCEL_CASE("net::unix_listener::accept", safe, listener_accept<false>);

// connect: cancel safe. On loopback a connect finishes within the first
// poll, so the listener's accept queue is kept full (backlog 0, one
// connection waiting): the kernel drops op()'s SYN, and the connect waits
// for its retransmission (the kernel's initial RTO, 1 s of real time). The
// step accepts the waiting connection and waits (bounded) until op()'s
// connection reaches the queue. A cancelled connect closes its socket:
// no connection reaches the listener.
struct tcp_connect : scenario {
    int listener = -1, filler = -1, accepted_filler = -1;
    sockaddr_in addr{};
    std::optional<weft::net::tcp_stream> got;
    tcp_connect() {
        listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(listener, 0);
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
        filler = raw_client(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, std::byte{1});
    }
    ~tcp_connect() override {
        for (int fd : {listener, filler, accepted_filler})
            if (fd >= 0) ::close(fd);
    }
    weft::task<> op() override {
        auto s = co_await weft::net::tcp_stream::connect(weft::net::socket_address::from_native(
            reinterpret_cast<const sockaddr*>(&addr), sizeof addr));
        EXPECT_TRUE(s.has_value()) << s.message();
        if (s) got.emplace(std::move(*s));
    }
    void accept_filler() {
        if (accepted_filler < 0)
            accepted_filler = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        accept_filler();
        EXPECT_TRUE(wait_fd(listener, POLLIN)) << "the SYN was not retransmitted";
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        accept_filler();
        pollfd p{listener, POLLIN, 0};
        int pending = ::poll(&p, 1, 0);
        if (!completed) {
            EXPECT_EQ(pending, 0) << "a cancelled connect left a connection behind";
        } else {
            EXPECT_EQ(pending, 1);
            int s = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            auto w = co_await write_all_task(&*got, &ping);
            EXPECT_TRUE(w);
            bytes in(ping.size());
            EXPECT_TRUE(wait_fd(s, POLLIN));
            EXPECT_EQ(::recv(s, in.data(), in.size(), MSG_WAITALL),
                      static_cast<ssize_t>(ping.size()));
            EXPECT_EQ(in, ping);
            ::close(s);
        }
    }
    bytes ping = pattern(40, 16);
};
WEFT_CANCEL_CASE("net::tcp_stream::connect", safe, tcp_connect);

// --- UDP ---------------------------------------------------------------------------------

// recv_from / recv: cancel safe. A datagram that arrives is received by
// op() or by the next receive, once, whole.
template <bool From>
struct udp_receive : scenario {
    weft::net::udp_socket sock = weft::net::udp_socket::bind("127.0.0.1:0").value();
    int peer = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    weft::net::socket_address peer_addr, my_addr = sock.local_addr().value();
    std::vector<bytes> sent, got;
    udp_receive() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(peer, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(peer, reinterpret_cast<sockaddr*>(&a), &len);
        peer_addr = weft::net::socket_address::from_native(reinterpret_cast<sockaddr*>(&a), len);
        if constexpr (!From) sock.connect(peer_addr).value();
    }
    ~udp_receive() override { ::close(peer); }
    weft::task<std::optional<bytes>> receive() {
        std::byte buf[256];
        if constexpr (From) {
            auto r = co_await sock.recv_from(std::span<std::byte>(buf));
            EXPECT_TRUE(r.has_value());
            if (!r) co_return std::nullopt;
            EXPECT_EQ(r->second, peer_addr);
            co_return bytes(buf, buf + r->first);
        } else {
            auto r = co_await sock.recv(std::span<std::byte>(buf));
            EXPECT_TRUE(r.has_value());
            if (!r) co_return std::nullopt;
            co_return bytes(buf, buf + *r);
        }
    }
    void send_one() {
        bytes d = pattern(50 + sent.size(), 100);
        ::sendto(peer, d.data(), d.size(), 0, my_addr.native(), my_addr.native_len());
        sent.push_back(d);
    }
    weft::task<> op() override {
        auto d = co_await receive();
        if (d) got.push_back(*d);
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        send_one();
        co_return true;
    }
    void cancel_requested() override { send_one(); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.size() == 1);
        for (std::size_t i = 0; i < sent.size() + 1; ++i) {
            auto d = co_await weft::time::timeout(1ms, receive());
            if (!d.has_value()) break;
            if (*d) got.push_back(**d);
        }
        EXPECT_EQ(got, sent) << "a datagram was lost or received twice";
    }
};
WEFT_CANCEL_CASE("net::udp_socket::recv_from", safe, udp_receive<true>);
WEFT_CANCEL_CASE("net::udp_socket::recv", safe, udp_receive<false>);

// --- calls on the blocking pool: lookup_host, fs ---------------------------------------

/// What the blocking-pool cases share: op() marks its end, and step() can
/// wait for it with the clock running (the pool's thread wakes the runtime
/// when the call returns; nothing else can).
///
/// A call that nothing can hold on the pool thread (getaddrinfo of
/// localhost, stat, mkdir, unlink) could finish before the first cancel.
/// hold_pool() makes that impossible: it fills every thread the pool may
/// start (the harness's runtime has the default maximum) with a call that
/// waits for the gate, so op()'s call waits in the pool's FIFO queue until
/// release_pool() opens it.
struct pool_case : scenario {
    weft::sync::notify done_n;
    bool done = false;
    std::shared_ptr<std::latch> gate = std::make_shared<std::latch>(1);
    bool gate_open = true;
    ~pool_case() override { release_pool(); }
    void hold_pool() {
        gate_open = false;
        std::size_t n = weft::detail::runtime_config{}.max_blocking_threads;
        for (std::size_t i = 0; i < n; ++i)
            weft::spawn_blocking([g = gate] { g->wait(); });
    }
    void release_pool() {
        if (!std::exchange(gate_open, true)) gate->count_down();
    }
    void mark_done() {
        done = true;
        done_n.notify_one();
    }
    /// Waits until op() has finished (bounded: 10 s of real time).
    weft::task<> wait_done() {
        weft::time::resume();
        if (!done) {
            auto r = co_await weft::time::timeout(10s, done_n.notified());
            EXPECT_TRUE(r.has_value()) << "the blocking call did not finish";
        }
        weft::time::pause();
    }
    /// Runs `t` to its end with the clock running (a call on the blocking
    /// pool in a check).
    template <class T>
    static weft::task<T> real_time(weft::task<T> t) {
        weft::time::resume();
        T v = co_await std::move(t);
        weft::time::pause();
        co_return v;
    }
};

/// A pool case whose call is held behind the gate until step(0).
struct held_case : pool_case {
    weft::task<> setup() override {
        hold_pool();
        co_return;
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        release_pool();
        co_await wait_done();
        co_return true;
    }
};

// lookup_host: cancel safe. The lookup may still finish on the blocking
// pool; its result is dropped.
struct lookup_case : held_case {
    std::optional<std::vector<weft::net::socket_address>> got;
    weft::task<> op() override {
        auto r = co_await weft::net::lookup_host("localhost:8080");
        EXPECT_TRUE(r.has_value()) << r.message();
        if (r) got = *r;
        mark_done();
    }
    static bool loopback(const std::vector<weft::net::socket_address>& v) {
        bool ok = !v.empty();
        for (const auto& a : v)
            ok = ok && a.port() == 8080 &&
                 (a.to_string() == "127.0.0.1:8080" || a.to_string() == "[::1]:8080");
        return ok;
    }
    weft::task<> check(bool completed) override {
        release_pool(); // a cancelled call still runs, once the pool is free
        EXPECT_EQ(completed, got.has_value());
        if (got) {
            EXPECT_TRUE(loopback(*got));
        }
        // A new lookup works.
        auto again = co_await real_time(weft::net::lookup_host("localhost:8080"));
        EXPECT_TRUE(again.has_value() && loopback(*again));
    }
};
WEFT_CANCEL_CASE("net::lookup_host", safe, lookup_case);

/// A FIFO: its open(2) blocks the pool thread until step() opens the other
/// end, so op() is suspended when the first cancel comes.
struct fifo_case : pool_case {
    std::filesystem::path path = fresh_path("fifo");
    fifo_case() { ::mkfifo(path.c_str(), 0600); }
    /// Opens the FIFO's other end without blocking, retrying (bounded) until
    /// the pool thread has opened its end.
    int open_other_end(int flags) {
        for (int i = 0; i < 10000; ++i) {
            int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0 || errno != ENXIO) return fd;
            ::poll(nullptr, 0, 1); // the pool thread has not reached open(2) yet
        }
        return -1;
    }
    /// Plays the writer of a FIFO that an fs read has open: writes `b` and
    /// closes (the reader then sees the end of the file).
    void feed(const bytes& b) {
        int fd = open_other_end(O_WRONLY);
        EXPECT_GE(fd, 0) << "the read never opened the FIFO";
        if (fd < 0) return;
        std::span<const std::byte> rest = view(b);
        while (!rest.empty()) {
            ssize_t n = ::write(fd, rest.data(), rest.size());
            if (n > 0)
                rest = rest.subspan(static_cast<std::size_t>(n));
            else if (!wait_fd(fd, POLLOUT))
                break;
        }
        ::close(fd);
    }
    /// Plays the reader of a FIFO that an fs write opens: reads until the
    /// writer closes it.
    bytes consume() {
        int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        bytes out;
        std::byte buf[4096];
        for (;;) {
            if (!wait_fd(fd, POLLIN)) {
                ADD_FAILURE() << "the write never finished";
                break;
            }
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n == 0) {
                // No writer: either it closed (done) or it has not opened yet.
                if (writer_seen) break;
                ::poll(nullptr, 0, 1);
                continue;
            }
            if (n > 0) {
                writer_seen = true;
                out.insert(out.end(), buf, buf + n);
            }
        }
        ::close(fd);
        return out;
    }
    bool writer_seen = false;
};

// fs::read / fs::read_to_string: cancel safe. The file is not changed; a
// cancelled call may still run to completion on the blocking pool, and its
// result is dropped.
template <bool String>
struct fs_read_case : fifo_case {
    bytes content = pattern(60, 3000);
    std::optional<bytes> got;
    weft::task<> op() override {
        if constexpr (String) {
            auto r = co_await weft::fs::read_to_string(path);
            EXPECT_TRUE(r.has_value()) << r.message();
            if (r)
                got = bytes(reinterpret_cast<const std::byte*>(r->data()),
                            reinterpret_cast<const std::byte*>(r->data()) + r->size());
        } else {
            auto r = co_await weft::fs::read(path);
            EXPECT_TRUE(r.has_value()) << r.message();
            if (r) got = *r;
        }
        mark_done();
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        feed(content);
        co_await wait_done();
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got.has_value());
        if (got) {
            EXPECT_EQ(*got, content);
        }
        // The cancelled call still holds the pool thread in open(2): it
        // runs to its end once a writer comes, and its result goes nowhere.
        if (!completed) feed(content);
        co_return;
    }
};
WEFT_CANCEL_CASE("fs::read", safe, fs_read_case<false>);
WEFT_CANCEL_CASE("fs::read_to_string", safe, fs_read_case<true>);

// fs::write: not cancel safe. The call cannot be stopped once the pool runs
// it: after a cancel the file still ends fully written (or untouched if the
// call never ran), and the caller does not learn which.
struct fs_write_case : fifo_case {
    std::string content = [] {
        bytes b = pattern(61, 3000);
        return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    }();
    std::optional<bool> ok;
    weft::task<> op() override {
        auto r = co_await weft::fs::write(path, content);
        ok = r.has_value();
        mark_done();
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        got = consume();
        co_await wait_done();
        co_return true;
    }
    bytes got;
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok.has_value());
        if (completed) {
            EXPECT_TRUE(*ok);
        } else {
            got = consume(); // the cancelled call writes anyway
        }
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), content)
            << "the file was not written whole";
        co_return;
    }
};
WEFT_CANCEL_CASE("fs::write", unsafe, fs_write_case);

// fs::metadata: cancel safe (it changes nothing; the result is dropped).
// create_dir_all / remove_file: not cancel safe: the change may still be
// made after the cancel. These calls cannot be held on the pool thread, so
// op() is suspended at the first cancel only if the pool's new thread has
// not finished the call yet (it must start first, which is slower than the
// runtime's settle); the check accepts both outcomes of a cancel.
struct fs_metadata_case : held_case {
    std::filesystem::path path = fresh_path("meta");
    std::optional<std::uintmax_t> size;
    fs_metadata_case() {
        bytes b = pattern(62, 123);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        EXPECT_EQ(::write(fd, b.data(), b.size()), 123);
        ::close(fd);
    }
    weft::task<> op() override {
        auto m = co_await weft::fs::metadata(path);
        EXPECT_TRUE(m.has_value()) << m.message();
        if (m) size = m->size;
        mark_done();
    }
    weft::task<> check(bool completed) override {
        release_pool(); // a cancelled call still runs, once the pool is free
        EXPECT_EQ(completed, size.has_value());
        if (size) {
            EXPECT_EQ(*size, 123u);
        }
        EXPECT_EQ(std::filesystem::file_size(path), 123u);
        co_return;
    }
};
WEFT_CANCEL_CASE("fs::metadata", safe, fs_metadata_case);

struct fs_create_dir_case : held_case {
    std::filesystem::path path = fresh_path("dir");
    std::optional<bool> ok;
    weft::task<> op() override {
        auto r = co_await weft::fs::create_dir_all(path);
        ok = r.has_value();
        mark_done();
    }
    weft::task<> check(bool completed) override {
        release_pool(); // a cancelled call still runs, once the pool is free
        EXPECT_EQ(completed, ok.has_value());
        if (completed) {
            EXPECT_TRUE(*ok);
            EXPECT_TRUE(std::filesystem::is_directory(path));
        }
        // Cancelled: the directory may or may not be there yet (one mkdir:
        // there is no half-made state). Making it again works either way.
        auto again = co_await real_time(weft::fs::create_dir_all(path));
        EXPECT_TRUE(again.has_value()) << again.message();
        EXPECT_TRUE(std::filesystem::is_directory(path));
    }
};
WEFT_CANCEL_CASE("fs::create_dir_all", unsafe, fs_create_dir_case);

struct fs_remove_case : held_case {
    std::filesystem::path path = fresh_path("rm");
    std::optional<bool> ok;
    fs_remove_case() { ::close(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)); }
    weft::task<> op() override {
        auto r = co_await weft::fs::remove_file(path);
        ok = r.has_value();
        mark_done();
    }
    weft::task<> check(bool completed) override {
        release_pool(); // a cancelled call still runs, once the pool is free
        EXPECT_EQ(completed, ok.has_value());
        if (completed) {
            EXPECT_TRUE(*ok);
            EXPECT_FALSE(std::filesystem::exists(path));
        }
        // Cancelled: the file may be gone or not yet (unlink is one step).
        co_return;
    }
};
WEFT_CANCEL_CASE("fs::remove_file", unsafe, fs_remove_case);

// --- signals -------------------------------------------------------------------------------

// signal_stream::recv: cancel safe. A delivery that arrives is seen by op()
// or by the next recv() of the same stream, once (deliveries coalesce).
// ::raise runs the handler on this thread before it returns.
struct signal_recv : scenario {
    weft::signal::signal_stream s = weft::signal::unix_signal(SIGUSR2).value();
    int raised = 0;
    bool got = false;
    weft::task<> op() override {
        co_await s.recv();
        got = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        ::raise(SIGUSR2);
        ++raised;
        co_return true;
    }
    void cancel_requested() override {
        ::raise(SIGUSR2);
        ++raised;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got);
        if (!completed) {
            auto r = co_await weft::time::timeout(1ms, s.recv());
            EXPECT_TRUE(r.has_value()) << "the delivery after the cancel was lost";
        }
        auto extra = co_await weft::time::timeout(1ms, s.recv());
        EXPECT_FALSE(extra.has_value()) << "a delivery was seen twice";
        ::raise(SIGUSR2);
        auto next = co_await weft::time::timeout(1ms, s.recv());
        EXPECT_TRUE(next.has_value()) << "the stream is not usable after the cancel";
    }
};
WEFT_CANCEL_CASE("signal::signal_stream::recv", safe, signal_recv);

// ctrl_c: not cancel safe. Its listener lives in the awaited task: a SIGINT
// that arrives after ctrl_c() was called and before the cancelled task saw
// it is lost with it; a new ctrl_c() sees only later ones. (op() installs
// the process-wide SIGINT handler before any raise here.)
struct ctrl_c_case : scenario {
    bool got = false;
    weft::task<> op() override {
        auto r = co_await weft::signal::ctrl_c();
        EXPECT_TRUE(r.has_value());
        got = true;
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        ::raise(SIGINT);
        co_return true;
    }
    void cancel_requested() override { ::raise(SIGINT); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, got);
        auto late = co_await weft::time::timeout(1ms, weft::signal::ctrl_c());
        EXPECT_FALSE(late.has_value()) << "a new ctrl_c() saw an earlier SIGINT";
        auto c = weft::signal::ctrl_c();
        ::raise(SIGINT);
        auto next = co_await weft::time::timeout(1ms, std::move(c));
        EXPECT_TRUE(next.has_value()) << "ctrl_c() does not work after the cancel";
    }
};
WEFT_CANCEL_CASE("signal::ctrl_c", unsafe, ctrl_c_case);

// --- io adaptors over a unix_stream ------------------------------------------------------

// io::read_exact: not cancel safe (as in Tokio): what it read before the
// cancel is in the buffer, but the caller does not learn how much.
struct io_read_exact : stream_read_exact<kind::uds> {
    weft::task<> op() override {
        auto r = co_await weft::io::read_exact(e.ux, std::span<std::byte>(buf));
        ok = r.has_value();
    }
};
WEFT_CANCEL_CASE("io::read_exact", unsafe, io_read_exact);

// io::write_all: not cancel safe (as in Tokio): the peer got a prefix of the
// data, the caller does not learn how long.
struct io_write_all : stream_write_all<kind::uds> {
    weft::task<> op() override {
        auto r = co_await weft::io::write_all(e.ux, view(data));
        ok = r.has_value();
    }
};
WEFT_CANCEL_CASE("io::write_all", unsafe, io_write_all);

// io::read_exact with `done`: cancel safe. buf[0, done) holds exactly the
// bytes read; the stream holds exactly the rest.
struct io_read_exact_done : stream_read_exact<kind::uds> {
    std::size_t done = 0;
    weft::task<> op() override {
        auto r = co_await weft::io::read_exact(e.ux, std::span<std::byte>(buf), done);
        ok = r.has_value();
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok);
        if (completed) {
            EXPECT_EQ(done, sizeof buf);
        }
        bytes in_buf(buf, buf + std::min(done, sizeof buf));
        EXPECT_TRUE(starts_with(sent, 0, in_buf, in_buf.size()))
            << "buf[0, done) is not the start of the stream";
        bytes rest = co_await read_rest(e);
        EXPECT_EQ(done + rest.size(), sent.size()) << "`done` miscounts: bytes lost or read twice";
        EXPECT_TRUE(starts_with(sent, done, rest, rest.size()));
    }
};
WEFT_CANCEL_CASE("io::read_exact (with done)", safe, io_read_exact_done);

// io::write_all with `done`: cancel safe. The peer got exactly data[0, done).
struct io_write_all_done : stream_writer_base<kind::uds> {
    std::size_t done = 0;
    bool ok = false;
    weft::task<> op() override {
        auto r = co_await weft::io::write_all(e.ux, view(data), done);
        ok = r.has_value();
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok);
        auto mid = co_await written_between();
        if (!mid) co_return;
        EXPECT_EQ(mid->size(), done) << "`done` does not count what the peer received";
        EXPECT_TRUE(starts_with(data, 0, *mid, mid->size()))
            << "the peer did not receive a prefix of the data";
        if (completed) {
            EXPECT_EQ(done, data.size());
        }
    }
};
WEFT_CANCEL_CASE("io::write_all (with done)", safe, io_write_all_done);

// read_to_end / read_to_string: cancel safe. Chunks arrive one per step,
// then the end of the stream; bytes appended before the cancel stay in
// `out`, the rest is still readable.
template <class Out>
struct io_read_to_end : scenario {
    endpoint<kind::uds> e;
    Out out;
    bytes sent;
    bool shut = false;
    std::optional<std::size_t> n;
    weft::task<> op() override {
        weft::io::result<std::size_t> r;
        if constexpr (std::is_same_v<Out, std::string>)
            r = co_await weft::io::read_to_string(e.ux, out);
        else
            r = co_await weft::io::read_to_end(e.ux, out);
        EXPECT_TRUE(r.has_value());
        if (r) n = *r;
    }
    void send(std::uint64_t seed) {
        bytes b = pattern(seed, 5000);
        send_all(e.peer, view(b));
        append(sent, view(b));
    }
    weft::task<bool> step(int i) override {
        if (i < 3) {
            send(70 + static_cast<std::uint64_t>(i));
        } else if (i == 3) {
            ::shutdown(e.peer, SHUT_WR);
            shut = true;
        } else {
            co_return false;
        }
        co_return true;
    }
    void cancel_requested() override {
        if (!shut) send(79);
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, n.has_value());
        bytes all(reinterpret_cast<const std::byte*>(out.data()),
                  reinterpret_cast<const std::byte*>(out.data()) + out.size());
        if (n) {
            EXPECT_EQ(*n, out.size());
        }
        append(all, view(co_await read_rest(e.ux)));
        EXPECT_EQ(all, sent) << "bytes were lost or duplicated by the cancel";
    }
};
WEFT_CANCEL_CASE("io::read_to_end", safe, io_read_to_end<std::vector<std::byte>>);
WEFT_CANCEL_CASE("io::read_to_string", safe, io_read_to_end<std::string>);

// io::copy: not cancel safe. Chunks arrive on `a` one per step while the
// peer of `b` (a small buffer) drains; then `a` ends. After a cancel, what
// `b`'s peer received is a prefix of what was sent to `a`, what `a` still
// holds is a suffix, and between them at most one buffer (8 KiB), read from
// `a` and not yet written to `b`, is lost.
struct io_copy : scenario {
    endpoint<kind::uds> a, b;
    bytes sent, received;
    bool shut = false;
    std::optional<std::uint64_t> n;
    weft::task<> setup() override {
        b.small_buffers();
        co_return;
    }
    weft::task<> op() override {
        auto r = co_await weft::io::copy(a.ux, b.ux);
        EXPECT_TRUE(r.has_value());
        if (r) n = *r;
    }
    weft::task<bool> step(int i) override {
        append(received, view(drain(b.peer)));
        if (i < 3) {
            bytes c = pattern(80 + static_cast<std::uint64_t>(i), 30000);
            send_all(a.peer, view(c));
            append(sent, view(c));
        } else if (!shut) {
            ::shutdown(a.peer, SHUT_WR);
            shut = true;
        }
        co_return true;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, n.has_value());
        append(received, view(drain(b.peer))); // nothing writes to `b` any more
        bytes rest = co_await read_rest(a.ux);
        EXPECT_TRUE(starts_with(sent, 0, received, received.size()))
            << "b's peer did not receive a prefix of the input";
        EXPECT_LE(rest.size() + received.size(), sent.size());
        EXPECT_TRUE(
            starts_with(sent, sent.size() - std::min(rest.size(), sent.size()), rest, rest.size()))
            << "what a still holds is not the end of the input";
        std::size_t lost = sent.size() - std::min(sent.size(), rest.size() + received.size());
        EXPECT_LE(lost, 8192u) << "more than the copy buffer was lost";
        if (completed) {
            EXPECT_EQ(lost, 0u);
            EXPECT_EQ(*n, sent.size());
        }
        // Both ends still work.
        bytes m = pattern(89, 32);
        auto w = co_await write_all_task(&b.ux, &m);
        EXPECT_TRUE(w);
        bytes got;
        std::function<bool(const bytes&)> enough = [&](const bytes& x) {
            return x.size() >= m.size();
        };
        co_await peer_read_while(b.peer, got, enough);
        EXPECT_EQ(got, m);
    }
};
WEFT_CANCEL_CASE("io::copy", unsafe, io_copy);

// buf_reader::read: cancel safe. The peer's bytes arrive in one step (more
// than op() asks for, more than the buffer holds); after a cancel the peer
// sends more. Everything is in op()'s result or read later, in order.
struct buf_read : scenario {
    endpoint<kind::uds> e;
    weft::io::buf_reader<weft::net::unix_stream> r{std::move(e.ux), 16};
    bytes sent, got;
    weft::task<> op() override {
        std::byte buf[8];
        auto n = co_await r.read(std::span<std::byte>(buf));
        EXPECT_TRUE(n.has_value());
        if (n) got.assign(buf, buf + *n);
    }
    void send(std::uint64_t seed, std::size_t k) {
        bytes b = pattern(seed, k);
        send_all(e.peer, view(b));
        append(sent, view(b));
    }
    weft::task<bool> step(int i) override {
        if (i > 0) co_return false;
        send(90, 40);
        co_return true;
    }
    void cancel_requested() override { send(91, 20); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, !got.empty());
        bytes all = got;
        append(all, view(co_await read_rest(r)));
        EXPECT_EQ(all, sent) << "bytes were lost or duplicated by the cancel";
    }
};
WEFT_CANCEL_CASE("io::buf_reader::read", safe, buf_read);

// read_until / read_line: cancel safe. The line arrives in pieces, one per
// step, through a 4-byte buffer; bytes read before a cancel are in `out` or
// still buffered, and a later read continues the stream.
template <bool Line>
struct buf_read_until : scenario {
    static constexpr char delim = Line ? '\n' : ';';
    endpoint<kind::uds> e;
    weft::io::buf_reader<weft::net::unix_stream> r{std::move(e.ux), 4};
    std::string sent, out;
    std::optional<std::size_t> n;
    weft::task<> op() override {
        weft::io::result<std::size_t> k;
        if constexpr (Line)
            k = co_await r.read_line(out);
        else
            k = co_await r.read_until(delim, out);
        EXPECT_TRUE(k.has_value());
        if (k) n = *k;
    }
    void send(std::string s) {
        send_all(e.peer, weft::io::bytes(s));
        sent += s;
    }
    weft::task<bool> step(int i) override {
        const char* pieces[] = {"ab", "cdefg", "h", Line ? "ij\nkl" : "ij;kl"};
        if (i >= 4) co_return false;
        send(pieces[i]);
        co_return true;
    }
    void cancel_requested() override { send(Line ? "mn\n" : "mn;"); }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, n.has_value());
        if (completed) {
            EXPECT_EQ(out, std::string("abcdefghij") + delim);
            EXPECT_EQ(*n, out.size());
        }
        bytes rest = co_await read_rest(r);
        std::string all =
            out + std::string(reinterpret_cast<const char*>(rest.data()), rest.size());
        EXPECT_EQ(all, sent) << "bytes were lost or duplicated by the cancel";
    }
};
WEFT_CANCEL_CASE("io::buf_reader::read_until", safe, buf_read_until<false>);
WEFT_CANCEL_CASE("io::buf_reader::read_line", safe, buf_read_until<true>);

/// What the buf_writer cases share: a full socket under the writer, a peer
/// that drains one step at a time, and a check that flushes and reads the
/// whole stream back.
struct buf_writer_base : scenario {
    endpoint<kind::uds> e;
    int mine = e.mine, peer = e.peer;
    weft::io::buf_writer<weft::net::unix_stream> w;
    bytes prefill, before, received;
    explicit buf_writer_base(std::size_t cap) : w(std::move(e.ux), cap) {}
    weft::task<> setup() override {
        set_sndbuf(mine, 8192);
        fill_socket(mine, 100, prefill);
        co_return;
    }
    weft::task<bool> step(int) override {
        append(received, view(drain(peer)));
        co_return true;
    }
    static weft::task<bool> flush_task(weft::io::buf_writer<weft::net::unix_stream>* w) {
        auto r = co_await w->flush();
        co_return r.has_value();
    }
    /// Flushes (the object is usable) while reading the stream to `want`
    /// bytes; checks that exactly `want` arrived.
    weft::task<> flush_and_expect(const bytes& want) {
        auto h = weft::spawn(flush_task, &w);
        std::function<bool(const bytes&)> enough = [&](const bytes& b) {
            return b.size() >= want.size();
        };
        co_await peer_read_while(peer, received, enough);
        auto f = co_await h;
        EXPECT_TRUE(f.has_value() && *f) << "flush after the cancel failed";
        EXPECT_EQ(w.buffered(), 0u);
        append(received, view(drain(peer)));
        EXPECT_EQ(received.size(), want.size());
        EXPECT_TRUE(received == want) << "bytes were lost or sent twice";
    }
};

// buf_writer::write: cancel safe. 1000 bytes are buffered over a full
// socket; op() writes 20000 (more than the 8 KiB buffer): the buffer must
// be flushed first, then the data goes out. After a cancel, a flush sends
// exactly the buffered bytes and whatever of the data write() reported.
struct buf_write : buf_writer_base {
    bytes data = pattern(102, 20000);
    std::optional<std::size_t> n;
    buf_write() : buf_writer_base(8192) {}
    weft::task<> setup() override {
        co_await buf_writer_base::setup();
        before = pattern(101, 1000);
        auto r = co_await w.write(view(before));
        EXPECT_TRUE(r.has_value());
    }
    weft::task<> op() override {
        auto r = co_await w.write(view(data));
        EXPECT_TRUE(r.has_value());
        if (r) n = *r;
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, n.has_value());
        bytes want = prefill;
        append(want, view(before));
        if (n) append(want, view(data).first(std::min(*n, data.size())));
        co_await flush_and_expect(want);
    }
};
WEFT_CANCEL_CASE("io::buf_writer::write", safe, buf_write);

// buf_writer::flush: cancel safe. 48 KiB are buffered over a full socket;
// the flush goes out in several steps. After a cancel, a second flush sends
// the rest: every buffered byte reaches the peer once.
struct buf_flush : buf_writer_base {
    bool ok = false;
    buf_flush() : buf_writer_base(64 * 1024) {}
    weft::task<> setup() override {
        co_await buf_writer_base::setup();
        for (std::uint64_t i = 0; i < 3; ++i) {
            bytes b = pattern(110 + i, 16 * 1024);
            auto r = co_await w.write(view(b));
            EXPECT_TRUE(r.has_value());
            append(before, view(b));
        }
        EXPECT_EQ(w.buffered(), before.size());
    }
    weft::task<> op() override {
        auto r = co_await w.flush();
        ok = r.has_value();
    }
    weft::task<> check(bool completed) override {
        EXPECT_EQ(completed, ok);
        bytes want = prefill;
        append(want, view(before));
        co_await flush_and_expect(want);
    }
};
WEFT_CANCEL_CASE("io::buf_writer::flush", safe, buf_flush);

} // namespace
