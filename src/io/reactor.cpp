// epoll reactor (design in reactor.hpp).
#include "io/reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/thread_state.hpp"
#include "weft/detail/intrusive_list.hpp"
#include "weft/runtime_error.hpp"

namespace weft::detail {

reactor::reactor() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0)
        throw std::system_error(errno, std::generic_category(), "weft: epoll_create1 failed");
    eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (eventfd_ < 0) {
        int e = errno;
        ::close(epfd_);
        throw std::system_error(e, std::generic_category(), "weft: eventfd failed");
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = nullptr; // the wake-up token
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev) < 0) {
        int e = errno;
        ::close(eventfd_);
        ::close(epfd_);
        throw std::system_error(e, std::generic_category(), "weft: epoll_ctl(eventfd) failed");
    }
}

reactor::~reactor() {
    free_released();
    ::close(eventfd_);
    ::close(epfd_);
}

scheduled_io* reactor::register_fd(int fd) {
    auto* io = new scheduled_io;
    io->fd = fd;
    // Optimistic: the first operation tries its system call (EAGAIN then
    // clears the bit). EPOLL_CTL_ADD reports the real state right away too.
    io->readiness.store(io_ready::readable | io_ready::writable, std::memory_order_relaxed);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = io;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        delete io;
        throw std::system_error(e, std::generic_category(), "weft: epoll_ctl(ADD) failed");
    }
    registered_.fetch_add(1, std::memory_order_relaxed);
    return io;
}

void reactor::deregister(scheduled_io* io) noexcept {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, io->fd, nullptr);
    ::close(io->fd);
    io->fd = -1;
    registered_.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lk(release_mu_);
    io->next_release = release_;
    release_ = io;
}

void reactor::free_released() noexcept {
    scheduled_io* list;
    {
        std::lock_guard lk(release_mu_);
        list = std::exchange(release_, nullptr);
    }
    while (list != nullptr) {
        scheduled_io* next = list->next_release;
        delete list;
        list = next;
    }
}

void reactor::wake() noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(eventfd_, &one, sizeof one);
    (void)r; // EAGAIN: the counter is saturated, a wake-up is pending anyway
}

std::size_t reactor::poll(int timeout_ms) noexcept {
    if (timeout_ms == 0) {
        if (!poll_mu_.try_lock()) return 0;
    } else {
        poll_mu_.lock();
    }
    std::lock_guard lk(poll_mu_, std::adopt_lock);
    free_released();
    constexpr int max_events = 256;
    epoll_event events[max_events];
    int n = ::epoll_wait(epfd_, events, max_events, timeout_ms);
    if (WEFT_UNLIKELY(rng_ != nullptr) && n > 1) rng_->shuffle(events, static_cast<std::size_t>(n));
    std::size_t woken = 0;
    for (int i = 0; i < n; ++i) {
        auto* io = static_cast<scheduled_io*>(events[i].data.ptr);
        if (io == nullptr) {
            std::uint64_t v;
            ssize_t r = ::read(eventfd_, &v, sizeof v);
            (void)r;
            continue;
        }
        woken += dispatch(io, events[i].events);
    }
    return woken;
}

std::size_t reactor::dispatch(scheduled_io* io, std::uint32_t events) noexcept {
    std::uint64_t bits = 0;
    if (events & (EPOLLIN | EPOLLPRI)) bits |= io_ready::readable;
    if (events & EPOLLOUT) bits |= io_ready::writable;
    if (events & EPOLLRDHUP) bits |= io_ready::readable | io_ready::read_closed;
    if (events & EPOLLHUP) bits |= io_ready::read_closed | io_ready::write_closed;
    if (events & EPOLLERR) bits |= io_ready::error;
    // One update: a new sequence (so that a concurrent io_clear_readiness
    // that saw the old one keeps the bits) and the new bits.
    std::uint64_t cur = io->readiness.load(std::memory_order_relaxed);
    while (!io->readiness.compare_exchange_weak(
        cur, ((cur + io_ready::seq_one) & ~io_ready::mask) | (cur & io_ready::mask) | bits,
        std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }

    // Wakers are woken after the lock; a small batch avoids allocating.
    constexpr int batch = 16;
    waker ws[batch];
    std::size_t total = 0;
    for (;;) {
        int k = 0;
        {
            std::lock_guard lk(io->mu);
            for (int d = 0; d < 2 && k < batch; ++d) {
                if ((bits & io_interest_bits(static_cast<io_direction>(d))) == 0) continue;
                while (io->head[d] != nullptr && k < batch) {
                    io_waiter* w = io->head[d];
                    list_unlink(io->head[d], io->tail[d], w);
                    ws[k++] = std::move(w->w);
                    w->linked.store(false, std::memory_order_release); // last write to the node
                }
            }
        }
        for (int i = 0; i < k; ++i)
            std::move(ws[i]).wake();
        total += static_cast<std::size_t>(k);
        if (k < batch) break;
    }
    return total;
}

// --- waiters -------------------------------------------------------------------------

bool io_register_waiter(scheduled_io& io, io_direction d, io_waiter& node,
                        std::coroutine_handle<> h) {
    int di = static_cast<int>(d);
    std::lock_guard lk(io.mu);
    if (io.readiness.load(std::memory_order_acquire) & io_interest_bits(d)) return false;
    node.w = suspend_waker(h);
    list_push_back(io.head[di], io.tail[di], &node);
    node.linked.store(true, std::memory_order_relaxed);
    return true;
}

void io_cancel_waiter(scheduled_io& io, io_direction d, io_waiter& node) noexcept {
    int di = static_cast<int>(d);
    waker dropped;
    {
        std::lock_guard lk(io.mu);
        if (!node.linked.load(std::memory_order_relaxed)) return;
        list_unlink(io.head[di], io.tail[di], &node);
        node.linked.store(false, std::memory_order_relaxed);
        dropped = std::move(node.w);
    }
    // `dropped` releases the task reference outside the lock.
}

void io_clear_readiness(scheduled_io& io, io_direction d, std::uint64_t seen) noexcept {
    std::uint64_t clear = d == io_direction::read ? io_ready::readable : io_ready::writable;
    std::uint64_t cur = io.readiness.load(std::memory_order_acquire);
    while ((cur & ~io_ready::mask) == (seen & ~io_ready::mask) && (cur & clear) != 0) {
        if (io.readiness.compare_exchange_weak(cur, cur & ~clear, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
            return;
    }
}

std::shared_ptr<reactor> current_reactor(const char* what) {
    driver_context* d = this_thread_state().drivers;
    if (d == nullptr)
        throw runtime_error(std::string(what) +
                            " used outside a runtime: call it from a task or inside block_on");
    return d->io;
}

} // namespace weft::detail
