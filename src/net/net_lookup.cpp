// weft::net::lookup_host: getaddrinfo on the blocking pool.
//
// getaddrinfo blocks (DNS, /etc/hosts, NSS modules), so it runs through
// spawn_blocking; the awaiting task suspends, its worker does not. A
// numeric address is parsed in place without a blocking call. The string is
// split at its last ':' ("[v6]:port" keeps the brackets' contents), and the
// port must be numeric: a service name would be a second lookup with its
// own failure modes, and Tokio accepts only numbers here too.
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "weft/blocking.hpp"
#include "weft/net.hpp"

namespace weft::net {

namespace {

class lookup_category_t final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft.lookup_host"; }
    std::string message(int ev) const override { return ::gai_strerror(ev); }
};

using addresses = io::result<std::vector<socket_address>>;

addresses invalid(const std::string& s) {
    return addresses(std::make_error_code(std::errc::invalid_argument),
                     "lookup_host '" + s + "': expected host:port with a numeric port");
}

/// The blocking part: resolves `host`, stamps `port` on each address.
addresses resolve(const std::string& what, const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; // one entry per address, not per socket type
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        std::error_code ec =
            rc == EAI_SYSTEM ? io::last_error() : std::error_code(rc, lookup_error_category());
        return addresses(ec, "lookup_host '" + what + "': " + ec.message());
    }
    std::vector<socket_address> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        sockaddr_storage ss{};
        std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        if (ai->ai_family == AF_INET)
            reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(port);
        else
            reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(port);
        out.push_back(socket_address::from_native(reinterpret_cast<const sockaddr*>(&ss),
                                                  static_cast<socklen_t>(ai->ai_addrlen)));
    }
    ::freeaddrinfo(res);
    return out;
}

} // namespace

const std::error_category& lookup_error_category() noexcept {
    static const lookup_category_t c;
    return c;
}

task<addresses> lookup_host(std::string host_port) {
    if (auto a = socket_address::parse(host_port))
        co_return std::vector<socket_address>{*a}; // numeric: nothing to look up
    std::string host;
    std::string_view port;
    std::string_view s = host_port;
    if (!s.empty() && s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            co_return invalid(host_port);
        host = std::string(s.substr(1, close - 1));
        port = s.substr(close + 2);
    } else {
        std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos || colon == 0) co_return invalid(host_port);
        host = std::string(s.substr(0, colon));
        port = s.substr(colon + 1);
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
        co_return invalid(host_port);
    auto r = co_await weft::spawn_blocking(resolve, host_port, std::move(host),
                                           static_cast<std::uint16_t>(p));
    if (!r) {
        if (r.error().is_panic()) weft::resume_unwind(std::move(r).error().into_panic());
        co_return addresses(std::make_error_code(std::errc::operation_canceled),
                            "lookup_host '" + host_port + "': cancelled (runtime shutting down)");
    }
    co_return std::move(*r);
}

} // namespace weft::net
