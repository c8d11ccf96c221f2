// weft::io: results of I/O operations, reader/writer concepts, io::copy and
// buffered readers and writers.
//
//   weft::io::result<std::size_t> n = co_await stream.read(buf);
//   if (!n) { log(n.error().message()); co_return; }   // reset, refused...
//   if (*n == 0) co_return;                            // end of stream
//
// Errors (decision 0021): the conditions a network program expects (end of
// stream, connection reset or refused, broken pipe) are values, not
// exceptions: every operation gives an io::result<T>, which holds a T or a
// std::error_code (std::generic_category's errno values, or io::error for
// the conditions without an errno, such as an end of stream in read_exact).
// Setting up (bind, connect, an address that does not parse) also keeps a
// message that names what failed ("bind 127.0.0.1:8080: Address already in
// use"); value() throws std::system_error with that message.
//
// io::result<T> is a weft::expected<T, std::error_code> (weft/expected.hpp)
// plus the set-up message: any T (move-only, not default-constructible).
// Two members differ from weft::expected, as they always have here: value()
// throws std::system_error, and error() is the code, zero on success.
//
// Readers and writers: any type with
//   task<io::result<std::size_t>> read(std::span<std::byte>)
//   task<io::result<std::size_t>> write(std::span<const std::byte>)
// (tcp_stream, unix_stream, their split halves, buf_reader, buf_writer).
// io::copy and the buffered adaptors work over those.
//
// Cancellation (an abort, or a timeout/select that abandons the operation)
// lands at a suspension point, i.e. while an inner read or write waits; an
// inner read or write cancelled there has taken or sent nothing (net.hpp).
// Each adaptor below says in a "Cancel safety" line what a cancelled call
// keeps, in Tokio's terms: "cancel safe" (nothing is lost or repeated when
// it is called again) or "not cancel safe" (followed by what is lost). The
// rule behind the cancel-safe ones: progress is recorded in the adaptor (or
// in the caller's `out`) as soon as each inner read or write returns,
// before the next suspension point, never only when the whole call ends.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/expected.hpp"
#include "weft/task.hpp"

namespace weft::io {

/// Conditions that have no errno value.
enum class error {
    /// read_exact met the end of the stream before the buffer was full.
    unexpected_eof = 1,
    /// write returned 0: the writer accepts no more bytes.
    write_zero = 2,
};

/// The category of io::error.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

} // namespace weft::io

template <>
struct std::is_error_code_enum<weft::io::error> : std::true_type {};

namespace weft::io {

/// The outcome of an I/O operation: a T, or an error code (plus, for set-up
/// operations, a message naming what failed).
///
///   weft::io::result<std::size_t> r = co_await s.write(data);
///   if (r) use(*r); else if (r.error() == std::errc::broken_pipe) log("peer went away");
///   auto listener = weft::net::tcp_listener::bind("127.0.0.1:0").value(); // throws
template <class T>
class [[nodiscard]] result : public expected<T, std::error_code> {
    using base = expected<T, std::error_code>;

public:
    /// Success holding a value-initialised T (void: just success).
    result() requires std::is_default_constructible_v<base>
    = default;
    /// Success holding `v`.
    template <class U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U&&> &&
             !std::is_same_v<std::remove_cvref_t<U>, result> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::error_code>) result(U&& v)
        : base(std::in_place, std::forward<U>(v)) {}
    /// Failure with code `ec` (a zero code is success: T = void, or a
    /// value-initialised T).
    result(std::error_code ec) : base(make(ec)) {}
    /// Failure with code `ec` and a message that names what failed.
    result(std::error_code ec, std::string what) : base(make(ec)), what_(std::move(what)) {}

    /// The code: zero on success.
    std::error_code error() const noexcept {
        return this->has_value() ? std::error_code() : base::error();
    }
    /// The error's message, with what failed when the operation named it.
    std::string message() const { return what_.empty() ? error().message() : what_; }

    /// The value; throws std::system_error when this is an error.
    decltype(auto) value() & {
        check();
        if constexpr (!std::is_void_v<T>) return (**this);
    }
    decltype(auto) value() const& {
        check();
        if constexpr (!std::is_void_v<T>) return (**this);
    }
    decltype(auto) value() && {
        check();
        if constexpr (!std::is_void_v<T>) return T(std::move(**this));
    }

private:
    static base make(std::error_code ec) {
        if (ec) return base(unexpect, ec);
        if constexpr (std::is_default_constructible_v<base>) {
            return base();
        } else {
            // A success without a value to hold: a caller's bug.
            return base(unexpect, std::make_error_code(std::errc::invalid_argument));
        }
    }
    void check() const {
        if (!this->has_value())
            throw std::system_error(base::error(), what_.empty() ? "weft::io" : what_);
    }

    std::string what_;
};

/// The error code of the current errno.
inline std::error_code last_error() noexcept {
    return {errno, std::generic_category()};
}

/// Views a character range as bytes (read/write take bytes).
///
///   auto w = co_await s.write_all(weft::io::bytes("GET / HTTP/1.1\r\n\r\n"));
inline std::span<const std::byte> bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
/// Views a writable character buffer as bytes.
///
///   char buf[4096]; auto n = co_await s.read(weft::io::buffer(buf));
template <std::size_t N>
std::span<std::byte> buffer(char (&a)[N]) noexcept {
    return {reinterpret_cast<std::byte*>(a), N};
}
inline std::span<std::byte> buffer(std::string& s) noexcept {
    return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}

namespace detail {

/// An I/O operation with a fast path (decision 0031): `Derived::await_ready`
/// tries to finish at once (the socket is writable, the line is already
/// buffered) and, if it did, stores the result in `ready_`; otherwise the
/// operation goes on in a task of its own (`Derived::slow_path()`), awaited
/// as a task<R> would be. The common case costs no coroutine frame.
///
/// Copyable until it is awaited (GCC 12 copies named awaiters,
/// docs/compiler-traps.md): a copy carries the operation, not its progress.
template <class Derived, class R>
class fast_path_op : public weft::detail::awaitable_tag {
public:
    /// In the dump, the frame awaiting it shows "task": when it suspends,
    /// the next frame is its slow path's.
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::task;

    fast_path_op() = default;
    fast_path_op(const fast_path_op&) noexcept {}
    fast_path_op& operator=(const fast_path_op&) = delete;

    void await_suspend(std::coroutine_handle<> h) {
        slow_.emplace(static_cast<Derived*>(this)->slow_path().operator co_await());
        slow_->await_suspend(h);
    }
    R await_resume() { return slow_ ? slow_->await_resume() : std::move(*ready_); }

protected:
    std::optional<R> ready_;
    std::optional<typename task<R>::awaiter> slow_;
};

} // namespace detail

/// A source of bytes (tcp_stream, unix_stream, a read half, buf_reader).
template <class R>
concept async_read = requires(R& r, std::span<std::byte> b) {
    { r.read(b) } -> std::same_as<task<result<std::size_t>>>;
};

/// A sink of bytes (tcp_stream, unix_stream, a write half, buf_writer).
template <class W>
concept async_write = requires(W& w, std::span<const std::byte> b) {
    { w.write(b) } -> std::same_as<task<result<std::size_t>>>;
};

/// Reads into all of `buf`; io::error::unexpected_eof if the stream ends first.
///
/// Cancel safety (`io::read_exact`): not cancel safe. The bytes already read are in a prefix
/// of `buf` but their count is not reported, so the stream position is
/// unknown (as Tokio's read_exact). The overload with `done` is cancel safe.
///
///   std::array<std::byte, 8> header;
///   if (auto r = co_await weft::io::read_exact(stream, header); !r) co_return;
template <async_read R>
task<result<void>> read_exact(R& r, std::span<std::byte> buf) {
    while (!buf.empty()) {
        result<std::size_t> n = co_await r.read(buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(error::unexpected_eof);
        buf = buf.subspan(*n);
    }
    co_return result<void>{};
}

/// read_exact that keeps its progress in `done`: reads into buf[done..],
/// adding each read's count to `done` as it returns, until done ==
/// buf.size(). Call it again with the same `buf` and `done` to go on.
///
/// Cancel safety (`io::read_exact (with done)`): cancel safe. A cancelled call leaves `done` bytes
/// of `buf` read and nothing else taken from the stream.
///
///   std::size_t done = 0;
///   auto r = co_await weft::time::timeout(1s, weft::io::read_exact(s, frame, done));
///   if (!r) { /* frame[0..done) arrived; call again to finish */ }
template <async_read R>
task<result<void>> read_exact(R& r, std::span<std::byte> buf, std::size_t& done) {
    while (done < buf.size()) {
        result<std::size_t> n = co_await r.read(buf.subspan(done));
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(error::unexpected_eof);
        done += *n;
    }
    co_return result<void>{};
}

namespace detail {
// Appends what `r` gives to `out` until end of stream. Reads go through a
// chunk in the frame, so `out` only ever holds bytes that were read: an
// abort between two reads leaves it exactly as far as it got.
template <class R, class C>
task<result<std::size_t>> read_append(R& r, C& out) {
    std::byte chunk[4096];
    std::size_t total = 0;
    for (;;) {
        result<std::size_t> n = co_await r.read(std::span<std::byte>(chunk));
        if (!n) co_return n.error();
        if (*n == 0) co_return total;
        auto* first = reinterpret_cast<const typename C::value_type*>(chunk);
        out.insert(out.end(), first, first + *n);
        total += *n;
    }
}
} // namespace detail

/// Reads until end of stream and appends the bytes to `out`; gives how many
/// it appended (Tokio's read_to_end). On an error, `out` keeps what was read
/// before it.
///
/// Cancel safety (`io::read_to_end`): cancel safe. Every byte read before the cancel stays
/// appended to `out` (the count is not reported; out.size() tells it).
///
///   std::vector<std::byte> body;
///   auto n = co_await weft::io::read_to_end(stream, body);
template <async_read R>
WEFT_CORO_WRAPPER task<result<std::size_t>> read_to_end(R& r, std::vector<std::byte>& out) {
    return detail::read_append(r, out);
}

/// read_to_end into a std::string (bytes as they are; no encoding check,
/// unlike Tokio's read_to_string).
///
/// Cancel safety (`io::read_to_string`): cancel safe. As read_to_end, the bytes read stay in `out`.
///
///   std::string reply;
///   if (auto n = co_await weft::io::read_to_string(stream, reply); !n) log(n.message());
template <async_read R>
WEFT_CORO_WRAPPER task<result<std::size_t>> read_to_string(R& r, std::string& out) {
    return detail::read_append(r, out);
}

/// Writes all of `buf`; io::error::write_zero if the writer takes nothing.
///
/// Cancel safety (`io::write_all`): not cancel safe. The bytes already written are not
/// reported, so how much of `buf` went out is unknown, and writing `buf`
/// again repeats them (as Tokio's write_all). The overload with `done` is
/// cancel safe.
///
///   auto w = co_await weft::io::write_all(stream, weft::io::bytes("pong\n"));
template <async_write W>
task<result<void>> write_all(W& w, std::span<const std::byte> buf) {
    while (!buf.empty()) {
        result<std::size_t> n = co_await w.write(buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(error::write_zero);
        buf = buf.subspan(*n);
    }
    co_return result<void>{};
}

/// write_all that keeps its progress in `done`: writes buf[done..], adding
/// each write's count to `done` as it returns, until done == buf.size().
/// Call it again with the same `buf` and `done` to go on.
///
/// Cancel safety (`io::write_all (with done)`): cancel safe. A cancelled call has sent exactly
/// buf[0..done); nothing is repeated when it is called again.
///
///   std::size_t done = 0;
///   auto r = co_await weft::time::timeout(1s, weft::io::write_all(s, msg, done));
template <async_write W>
task<result<void>> write_all(W& w, std::span<const std::byte> buf, std::size_t& done) {
    while (done < buf.size()) {
        result<std::size_t> n = co_await w.write(buf.subspan(done));
        if (!n) co_return n.error();
        if (*n == 0) co_return make_error_code(error::write_zero);
        done += *n;
    }
    co_return result<void>{};
}

/// Copies `r` to `w` until `r` ends (Tokio's io::copy); gives the number of
/// bytes copied. Uses an 8 KiB buffer; flushes `w` at the end if it can.
///
/// Cancel safety (`io::copy`): not cancel safe. Up to 8 KiB read from `r` but not yet
/// written to `w` are lost with the call's buffer, and the count copied so
/// far is not reported (as Tokio's copy).
///
///   auto [rd, wr] = std::move(stream).into_split();
///   auto copied = co_await weft::io::copy(rd, wr);   // an echo server
template <async_read R, async_write W>
task<result<std::uint64_t>> copy(R& r, W& w) {
    auto buf = std::make_unique<std::byte[]>(8192);
    std::uint64_t total = 0;
    for (;;) {
        result<std::size_t> n = co_await r.read(std::span<std::byte>(buf.get(), 8192));
        if (!n) co_return n.error();
        if (*n == 0) break;
        result<void> ok = co_await write_all(w, std::span<const std::byte>(buf.get(), *n));
        if (!ok) co_return ok.error();
        total += *n;
    }
    if constexpr (requires { w.flush(); }) {
        result<void> f = co_await w.flush();
        if (!f) co_return f.error();
    }
    co_return total;
}

/// Adds a buffer in front of a reader: fewer system calls for small reads,
/// and line reading (Tokio's BufReader). Owns the reader.
///
///   weft::io::buf_reader in(std::move(stream));
///   std::string line;
///   while (*(co_await in.read_line(line)) > 0) { handle(line); line.clear(); }
template <async_read R>
class buf_reader {
public:
    explicit buf_reader(R inner, std::size_t capacity = 8192)
        : inner_(std::move(inner)), buf_(std::make_unique<std::byte[]>(capacity)), cap_(capacity) {}

    /// Reads what is buffered, or refills the buffer once (a read larger than
    /// the buffer with an empty buffer goes straight to the reader).
    ///
    /// Cancel safety (`io::buf_reader::read`): cancel safe. A cancelled read took nothing; bytes
    /// that reached the buffer stay there for the next call.
    task<result<std::size_t>> read(std::span<std::byte> out) {
        if (pos_ == end_ && out.size() >= cap_) co_return co_await inner_.read(out);
        if (pos_ == end_) {
            result<std::size_t> n = co_await inner_.read(std::span<std::byte>(buf_.get(), cap_));
            if (!n) co_return n;
            pos_ = 0;
            end_ = *n;
        }
        std::size_t k = std::min(out.size(), end_ - pos_);
        std::memcpy(out.data(), buf_.get() + pos_, k);
        pos_ += k;
        co_return k;
    }

    /// co_await of read_until / read_line: a line that is already buffered
    /// is handed out without a coroutine frame (decision 0031).
    class read_until_op : public detail::fast_path_op<read_until_op, result<std::size_t>> {
    public:
        read_until_op(buf_reader* r, char delim, std::string* out) noexcept
            : r_(r), delim_(delim), out_(out) {}
        bool await_ready() {
            if (auto k = r_->take_buffered_until(delim_, *out_)) {
                this->ready_.emplace(k);
                return true;
            }
            return false;
        }
        WEFT_CORO_WRAPPER task<result<std::size_t>> slow_path() {
            return r_->read_until_slow(delim_, *out_);
        }

    private:
        buf_reader* r_;
        char delim_;
        std::string* out_;
    };

    /// Appends bytes up to and including `delim` to `out`; gives how many
    /// were appended by this call (0 at the end of the stream).
    ///
    /// Cancel safety (`io::buf_reader::read_until`): cancel safe. The bytes of a partial line read
    /// before the cancel stay appended to `out` (the rest stays buffered or in the stream); calling
    /// again with the same `out` completes the line (as Tokio's read_until).
    read_until_op read_until(char delim, std::string& out) noexcept {
        return read_until_op(this, delim, &out);
    }

    /// read_until('\n').
    ///
    /// Cancel safety (`io::buf_reader::read_line`): cancel safe. As read_until, a partial line
    /// stays in `out` and calling again with the same `out` completes it. (Tokio's read_line is not
    /// cancel safe because it checks UTF-8; this one does not check.)
    read_until_op read_line(std::string& out) noexcept { return read_until('\n', out); }

    R& get_ref() noexcept { return inner_; }
    /// Bytes read from the reader but not yet handed out.
    std::size_t buffered() const noexcept { return end_ - pos_; }

private:
    /// The fast path: when the buffer holds `delim`, appends up to it and
    /// gives the count; 0 (nothing taken) otherwise.
    std::size_t take_buffered_until(char delim, std::string& out) {
        if (pos_ == end_) return 0;
        const char* start = reinterpret_cast<const char*>(buf_.get()) + pos_;
        const void* hit = std::memchr(start, delim, end_ - pos_);
        if (hit == nullptr) return 0;
        std::size_t k = static_cast<std::size_t>(static_cast<const char*>(hit) - start) + 1;
        out.append(start, k);
        pos_ += k;
        return k;
    }

    task<result<std::size_t>> read_until_slow(char delim, std::string& out) {
        std::size_t appended = 0;
        for (;;) {
            if (pos_ == end_) {
                result<std::size_t> n =
                    co_await inner_.read(std::span<std::byte>(buf_.get(), cap_));
                if (!n) co_return n;
                if (*n == 0) co_return appended;
                pos_ = 0;
                end_ = *n;
            }
            const char* start = reinterpret_cast<const char*>(buf_.get()) + pos_;
            const void* hit = std::memchr(start, delim, end_ - pos_);
            std::size_t k =
                hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - start) + 1
                    : end_ - pos_;
            out.append(start, k);
            pos_ += k;
            appended += k;
            if (hit) co_return appended;
        }
    }

    R inner_;
    std::unique_ptr<std::byte[]> buf_;
    std::size_t cap_;
    std::size_t pos_ = 0, end_ = 0;
};

/// Adds a buffer in front of a writer: small writes are gathered and sent
/// when the buffer is full or on flush() (Tokio's BufWriter). Call flush()
/// before dropping it: a destructor cannot write.
///
/// The buffered bytes are buf_[pos_, len_): each inner write that returns
/// moves pos_ past what it sent at once, so a flush cancelled while it waits
/// for the writer keeps its progress (issue 14: it used to send the whole
/// buffer again).
///
///   weft::io::buf_writer out(std::move(stream));
///   auto a = co_await out.write(weft::io::bytes("a"));
///   auto b = co_await out.write(weft::io::bytes("b"));
///   auto f = co_await out.flush();          // one write(2) for "ab"
template <async_write W>
class buf_writer {
public:
    explicit buf_writer(W inner, std::size_t capacity = 8192)
        : inner_(std::move(inner)), buf_(std::make_unique<std::byte[]>(capacity)), cap_(capacity) {}

    /// Buffers `in` (flushing first if it does not fit) and gives in.size().
    /// A write at least as large as the buffer goes straight to the writer,
    /// after the flush, in one write: like a stream's write it may take only
    /// part of `in` and gives how much (io::write_all takes all of it).
    ///
    /// Cancel safety (`io::buf_writer::write`): cancel safe. A cancelled write took nothing of
    /// `in`; buffered bytes its flush sent are gone from the buffer, the rest stay.
    task<result<std::size_t>> write(std::span<const std::byte> in) {
        if (len_ + in.size() > cap_) {
            result<void> f = co_await flush_buffer();
            if (!f) co_return f.error();
        }
        if (in.size() >= cap_) co_return co_await inner_.write(in);
        std::memcpy(buf_.get() + len_, in.data(), in.size());
        len_ += in.size();
        co_return in.size();
    }

    /// Writes out what is buffered, then flushes the writer if it can.
    ///
    /// Cancel safety (`io::buf_writer::flush`): cancel safe. The bytes sent before the cancel are
    /// gone from the buffer (buffered() counts the rest); the next flush sends the rest, nothing
    /// twice.
    task<result<void>> flush() {
        result<void> r = co_await flush_buffer();
        if (!r) co_return r;
        if constexpr (requires { inner_.flush(); }) co_return co_await inner_.flush();
        co_return r;
    }

    W& get_ref() noexcept { return inner_; }
    /// Bytes written to the buffer and not yet sent.
    std::size_t buffered() const noexcept { return len_ - pos_; }

private:
    task<result<void>> flush_buffer() {
        while (pos_ < len_) {
            result<std::size_t> n =
                co_await inner_.write(std::span<const std::byte>(buf_.get() + pos_, len_ - pos_));
            if (!n) co_return n.error();
            if (*n == 0) co_return make_error_code(error::write_zero);
            pos_ += *n; // before the next suspension point: a cancel keeps it
        }
        pos_ = len_ = 0;
        co_return result<void>{};
    }
    W inner_;
    std::unique_ptr<std::byte[]> buf_;
    std::size_t cap_;
    std::size_t pos_ = 0; // first byte not yet sent
    std::size_t len_ = 0; // end of the buffered bytes
};

} // namespace weft::io
