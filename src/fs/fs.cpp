// weft::fs: each call is a std::filesystem/POSIX call on the blocking pool
// (see include/weft/fs.hpp for why). `run` does the hop and maps a call
// cancelled by shutdown to std::errc::operation_canceled; an exception from
// the call (std::bad_alloc) is rethrown in the awaiting task.
#include "weft/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "weft/blocking.hpp"

namespace weft::fs {

namespace {

std::string describe(const char* op, const std::filesystem::path& p, std::error_code ec) {
    return std::string(op) + " '" + p.string() + "': " + ec.message();
}

template <class T, class F>
task<io::result<T>> run(const char* op, std::filesystem::path path, F f) {
    auto r = co_await weft::spawn_blocking(std::move(f));
    if (!r) {
        if (r.error().is_panic()) weft::resume_unwind(std::move(r).error().into_panic());
        std::error_code ec = std::make_error_code(std::errc::operation_canceled);
        co_return io::result<T>(ec, describe(op, path, ec));
    }
    co_return std::move(*r);
}

/// Reads the whole file into a byte container (std::string or vector<byte>).
template <class Buf>
io::result<Buf> read_all(const char* op, const std::filesystem::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::error_code ec = io::last_error();
        return io::result<Buf>(ec, describe(op, p, ec));
    }
    Buf out;
    std::size_t used = 0;
    for (;;) {
        if (out.size() - used < 64 * 1024) out.resize(used + 64 * 1024);
        ssize_t n = ::read(fd, out.data() + used, out.size() - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::error_code ec = io::last_error();
            ::close(fd);
            return io::result<Buf>(ec, describe(op, p, ec));
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(used);
    return out;
}

io::result<void> write_all(const std::filesystem::path& p, const void* data, std::size_t size) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    auto fail = [&](std::error_code ec) { return io::result<void>(ec, describe("write", p, ec)); };
    if (fd < 0) return fail(io::last_error());
    const auto* at = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, at, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::error_code ec = io::last_error();
            ::close(fd);
            return fail(ec);
        }
        at += n;
        size -= static_cast<std::size_t>(n);
    }
    if (::close(fd) < 0) return fail(io::last_error()); // NFS reports write errors here
    return {};
}

} // namespace

WEFT_CORO_WRAPPER task<io::result<std::vector<std::byte>>> read(std::filesystem::path path) {
    auto p = path;
    return run<std::vector<std::byte>>("read", std::move(path), [p = std::move(p)] {
        return read_all<std::vector<std::byte>>("read", p);
    });
}

WEFT_CORO_WRAPPER task<io::result<std::string>> read_to_string(std::filesystem::path path) {
    auto p = path;
    return run<std::string>("read_to_string", std::move(path), [p = std::move(p)] {
        return read_all<std::string>("read_to_string", p);
    });
}

WEFT_CORO_WRAPPER task<io::result<void>> write(std::filesystem::path path, std::string data) {
    auto p = path;
    return run<void>("write", std::move(path), [p = std::move(p), d = std::move(data)] {
        return write_all(p, d.data(), d.size());
    });
}

WEFT_CORO_WRAPPER task<io::result<void>> write(std::filesystem::path path,
                                               std::vector<std::byte> data) {
    auto p = path;
    return run<void>("write", std::move(path), [p = std::move(p), d = std::move(data)] {
        return write_all(p, d.data(), d.size());
    });
}

WEFT_CORO_WRAPPER task<io::result<metadata_t>> metadata(std::filesystem::path path) {
    auto p = path;
    return run<metadata_t>("metadata", std::move(path), [p = std::move(p)] {
        std::error_code ec;
        std::filesystem::file_status st = std::filesystem::status(p, ec);
        if (ec) return io::result<metadata_t>(ec, describe("metadata", p, ec));
        metadata_t m;
        m.is_file = std::filesystem::is_regular_file(st);
        m.is_dir = std::filesystem::is_directory(st);
        m.permissions = st.permissions();
        m.is_symlink = std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec));
        if (m.is_file) m.size = std::filesystem::file_size(p, ec);
        if (!ec) m.modified = std::filesystem::last_write_time(p, ec);
        if (ec) return io::result<metadata_t>(ec, describe("metadata", p, ec));
        return io::result<metadata_t>(m);
    });
}

WEFT_CORO_WRAPPER task<io::result<void>> create_dir_all(std::filesystem::path path) {
    auto p = path;
    return run<void>("create_dir_all", std::move(path), [p = std::move(p)] {
        std::error_code ec;
        std::filesystem::create_directories(p, ec);
        if (ec) return io::result<void>(ec, describe("create_dir_all", p, ec));
        return io::result<void>();
    });
}

WEFT_CORO_WRAPPER task<io::result<void>> remove_file(std::filesystem::path path) {
    auto p = path;
    return run<void>("remove_file", std::move(path), [p = std::move(p)] {
        std::error_code ec;
        if (std::filesystem::is_directory(std::filesystem::symlink_status(p, ec))) {
            ec = std::make_error_code(std::errc::is_a_directory);
            return io::result<void>(ec, describe("remove_file", p, ec));
        }
        if (!std::filesystem::remove(p, ec) && !ec)
            ec = std::make_error_code(std::errc::no_such_file_or_directory);
        if (ec) return io::result<void>(ec, describe("remove_file", p, ec));
        return io::result<void>();
    });
}

} // namespace weft::fs
