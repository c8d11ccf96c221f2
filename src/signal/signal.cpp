// weft::signal (design in include/weft/signal.hpp).
//
// Slots: a fixed table of listeners that the handler scans without locks.
// A slot's `signum` and `fd` are published with release stores after the
// listener is set up; the handler marks the slot `busy` while it reads them,
// and a listener that goes away clears them and then waits for `busy` to
// drop before closing its eventfd, so the handler never writes to a closed
// (or reused) descriptor.
#include "weft/signal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <string>

#include "io/reactor.hpp"
#include "net/socket_io.hpp"

namespace weft::signal {

namespace {

constexpr int max_signal = 65;
constexpr int max_listeners = 64;

struct slot {
    std::atomic<int> signum{0};
    std::atomic<int> fd{-1};
    std::atomic<int> busy{0};
    bool used = false; // guarded by table_mu
};

std::atomic<std::uint64_t> deliveries[max_signal];
slot slots[max_listeners];
bool installed[max_signal]; // guarded by table_mu
std::mutex table_mu;

extern "C" void weft_signal_handler(int sig) {
    int saved = errno;
    if (sig > 0 && sig < max_signal) deliveries[sig].fetch_add(1, std::memory_order_acq_rel);
    for (slot& s : slots) {
        s.busy.fetch_add(1, std::memory_order_acq_rel);
        if (s.signum.load(std::memory_order_acquire) == sig) {
            int fd = s.fd.load(std::memory_order_acquire);
            if (fd >= 0) {
                std::uint64_t one = 1;
                ssize_t r = ::write(fd, &one, sizeof one);
                (void)r;
            }
        }
        s.busy.fetch_sub(1, std::memory_order_acq_rel);
    }
    errno = saved;
}

task<io::result<void>> ctrl_c_wait(signal_stream s) {
    co_await s.recv();
    co_return io::result<void>{};
}

task<io::result<void>> ctrl_c_error(std::error_code ec, std::string what) {
    co_return io::result<void>(ec, std::move(what));
}

} // namespace

io::result<signal_stream> unix_signal(int signum) {
    std::string what = "weft::signal::unix_signal(" + std::to_string(signum) + ")";
    if (signum <= 0 || signum >= max_signal || signum == SIGKILL || signum == SIGSTOP)
        return {std::make_error_code(std::errc::invalid_argument),
                what + ": not a signal that can be caught"};
    auto r = weft::detail::current_reactor("weft::signal::unix_signal");
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return {io::last_error(), what + ": eventfd: " + io::last_error().message()};
    signal_stream s;
    s.io_ = std::make_shared<net::detail::socket_io>(std::move(r), efd);
    s.signum_ = signum;
    std::lock_guard lk(table_mu);
    if (!installed[signum]) {
        struct sigaction sa {};
        sa.sa_handler = &weft_signal_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        if (::sigaction(signum, &sa, nullptr) < 0)
            return {io::last_error(), what + ": sigaction: " + io::last_error().message()};
        installed[signum] = true;
    }
    for (int i = 0; i < max_listeners; ++i) {
        if (slots[i].used) continue;
        slots[i].used = true;
        s.slot_ = i;
        s.seen_ = deliveries[signum].load(std::memory_order_acquire);
        slots[i].fd.store(efd, std::memory_order_release);
        slots[i].signum.store(signum, std::memory_order_release);
        return s;
    }
    return {std::make_error_code(std::errc::too_many_files_open),
            what + ": more than 64 signal listeners at once"};
}

signal_stream::signal_stream(signal_stream&& o) noexcept
    : io_(std::move(o.io_)), signum_(o.signum_), slot_(std::exchange(o.slot_, -1)), seen_(o.seen_) {
}

signal_stream& signal_stream::operator=(signal_stream&& o) noexcept {
    if (this != &o) {
        release();
        io_ = std::move(o.io_);
        signum_ = o.signum_;
        slot_ = std::exchange(o.slot_, -1);
        seen_ = o.seen_;
    }
    return *this;
}

signal_stream::~signal_stream() {
    release();
}

void signal_stream::release() noexcept {
    if (slot_ >= 0) {
        slot& s = slots[slot_];
        s.signum.store(0, std::memory_order_release);
        s.fd.store(-1, std::memory_order_release);
        while (s.busy.load(std::memory_order_acquire) != 0) {
        } // a handler is between its load of fd and its write: a few instructions
        std::lock_guard lk(table_mu);
        s.used = false;
        slot_ = -1;
    }
    io_.reset(); // closes the eventfd
}

task<> signal_stream::recv() {
    if (!io_) throw std::logic_error("weft::signal::signal_stream::recv on an empty stream");
    weft::detail::scheduled_io& io = io_->sio();
    for (;;) {
        std::uint64_t now = deliveries[signum_].load(std::memory_order_acquire);
        if (now != seen_) {
            seen_ = now;
            co_return;
        }
        std::uint64_t seen =
            co_await weft::detail::readiness_awaiter(io, weft::detail::io_direction::read);
        std::uint64_t v;
        if (::read(io.fd, &v, sizeof v) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            weft::detail::io_clear_readiness(io, weft::detail::io_direction::read, seen);
    }
}

WEFT_CORO_WRAPPER task<io::result<void>> ctrl_c() {
    io::result<signal_stream> s = unix_signal(SIGINT);
    if (!s) return ctrl_c_error(s.error(), s.message());
    return ctrl_c_wait(std::move(*s));
}

} // namespace weft::signal
