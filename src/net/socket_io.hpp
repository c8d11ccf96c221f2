// A registered, owned descriptor: what every weft socket (and the signal
// streams' eventfds) holds through a shared_ptr. Closing (the destructor)
// deregisters it from the reactor and closes the descriptor.
#pragma once

#include <unistd.h>

#include <memory>

#include "io/reactor.hpp"

namespace weft::net::detail {

class socket_io {
public:
    /// Takes ownership of `fd` (closes it if registering fails).
    socket_io(std::shared_ptr<weft::detail::reactor> r, int fd) : r_(std::move(r)) {
        try {
            io_ = r_->register_fd(fd);
        } catch (...) {
            ::close(fd);
            throw;
        }
    }
    ~socket_io() { r_->deregister(io_); }
    socket_io(const socket_io&) = delete;
    socket_io& operator=(const socket_io&) = delete;

    int fd() const noexcept { return io_->fd; }
    weft::detail::scheduled_io& sio() noexcept { return *io_; }

private:
    std::shared_ptr<weft::detail::reactor> r_;
    weft::detail::scheduled_io* io_ = nullptr;
};

} // namespace weft::net::detail
