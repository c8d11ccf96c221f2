// Cancel safety of the io.hpp adaptors (issue 14, bug 2): a buf_writer flush
// cancelled after part of its buffer went out keeps that progress (nothing
// sent twice, nothing lost); a buf_reader read_line cancelled after part of
// a line arrived keeps the partial line in `out`; read_exact / write_all
// with a `done` counter resume where they stopped.
//
// Writes block because the socket pair's buffers are small and the peer does
// not read. Cancelling: on the current-thread flavours the shape,
// time::timeout on a paused clock (it fires only when the runtime is idle,
// i.e. while the flush waits for the socket); on the multi-thread flavours
// an abort once the peer has received some bytes.
//
// Every flavour runs the writer tests: a batched write that the round's
// flush sent reports its count even when its task is aborted before it
// resumes (decision 0042; before it, the multi-thread batched flavour was
// left out).
#include <gtest/gtest.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

using namespace std::chrono_literals;

namespace {

using weft::net::unix_stream;
using weft_test::flavor;

constexpr std::size_t mib = 1 << 20;

std::byte pattern(std::size_t i) {
    return static_cast<std::byte>((i * 7 + i / 251) & 0xff);
}

void shrink_buffers(int fd) {
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

/// Bytes waiting in `fd`'s receive queue.
int pending(int fd) {
    int n = 0;
    ::ioctl(fd, FIONREAD, &n);
    return n;
}

/// Yields until `fd`'s receive queue has bytes (or, with `empty`, has none);
/// false if that did not happen within a bound of yields.
weft::task<bool> wait_pending(int fd, bool empty = false) {
    for (long i = 0; i < 2'000'000; ++i) {
        if ((pending(fd) == 0) == empty) co_return true;
        co_await weft::yield_now();
    }
    co_return false;
}

/// Reads `s` until end of stream.
weft::task<std::vector<std::byte>> drain(unix_stream s) {
    std::vector<std::byte> got;
    auto n = co_await weft::io::read_to_end(s, got);
    EXPECT_TRUE(n.has_value());
    co_return got;
}

weft::runtime runtime_for(flavor f) {
    if (f == flavor::current_thread || f == flavor::current_thread_unbatched)
        return weft_test::builder_for(f).start_paused(true).build();
    return weft_test::builder_for(f).build();
}

bool is_multi(flavor f) {
    return f == flavor::multi_thread || f == flavor::multi_thread_unbatched;
}

/// Cancels `op` (a task) after it made progress: timeout on the paused
/// clock, or an abort of a task running it once `peer_fd` has bytes.
/// Gives false when `op` finished instead.
template <class Make>
weft::task<bool> cancel_midway(flavor f, Make make, int peer_fd) {
    if (!is_multi(f)) {
        auto r = co_await weft::time::timeout(50ms, make());
        co_return r.is_elapsed();
    }
    auto h = weft::spawn(make);
    bool seen = co_await wait_pending(peer_fd);
    EXPECT_TRUE(seen);
    h.abort();
    auto r = co_await h;
    co_return !r.has_value() && r.error().is_cancelled();
}

} // namespace

class IoCancelWriter : public ::testing::TestWithParam<flavor> {};
INSTANTIATE_TEST_SUITE_P(Flavors, IoCancelWriter,
                         ::testing::Values(flavor::current_thread, flavor::current_thread_unbatched,
                                           flavor::multi_thread, flavor::multi_thread_unbatched),
                         weft_test::flavor_name);

// The issue: a 1 MiB buf_writer, a slow reader, `timeout(50ms, out.flush())`;
// the cancelled flush sent ~8 KiB, buffered() still said 1 MiB, and the next
// flush sent those bytes again (1,056,640 received for 1,048,576 written).
TEST_P(IoCancelWriter, CancelledFlushKeepsItsProgress) {
    weft::runtime rt = runtime_for(GetParam());
    rt.block_on([f = GetParam()]() -> weft::task<> {
        auto [x, y] = unix_stream::pair().value();
        shrink_buffers(x.native_handle());
        shrink_buffers(y.native_handle());
        const int peer = y.native_handle();
        weft::io::buf_writer out(std::move(x), mib);
        std::vector<std::byte> data(mib);
        for (std::size_t i = 0; i < mib; ++i)
            data[i] = pattern(i);
        // Small writes, gathered: nothing is sent yet.
        for (std::size_t i = 0; i < mib; i += 4096) {
            auto w = co_await out.write(std::span<const std::byte>(data).subspan(i, 4096));
            EXPECT_EQ(w.value(), 4096u);
        }
        EXPECT_EQ(out.buffered(), mib);
        auto* o = &out;
        auto flush = [o]() -> weft::task<weft::io::result<void>> { co_return co_await o->flush(); };
        bool cancelled = co_await cancel_midway(f, flush, peer);
        EXPECT_TRUE(cancelled) << "the flush cannot finish: nobody reads";
        EXPECT_GT(pending(peer), 0) << "part of the buffer went out before the cancel";
        EXPECT_LT(out.buffered(), mib) << "what went out is no longer buffered";
        // Now a reader drains the peer, and a second flush sends the rest.
        auto reader = weft::spawn(drain, std::move(y));
        auto again = co_await out.flush();
        EXPECT_TRUE(again.has_value());
        EXPECT_EQ(out.buffered(), 0u);
        EXPECT_TRUE(out.get_ref().shutdown().has_value());
        auto got = co_await reader;
        if (!got.has_value()) co_return;
        EXPECT_EQ(got->size(), mib) << "bytes sent twice or lost";
        std::size_t first_bad = got->size();
        for (std::size_t i = 0; i < got->size(); ++i) {
            if ((*got)[i] != pattern(i)) {
                first_bad = i;
                break;
            }
        }
        EXPECT_EQ(first_bad, got->size()) << "content differs from the pattern";
    });
}

// write_all with `done`: cancelled midway, `done` says what went out; the
// call resumed with the same `done` sends the rest, once.
TEST_P(IoCancelWriter, WriteAllWithDoneResumesWhereItStopped) {
    weft::runtime rt = runtime_for(GetParam());
    rt.block_on([f = GetParam()]() -> weft::task<> {
        auto [x, y] = unix_stream::pair().value();
        shrink_buffers(x.native_handle());
        shrink_buffers(y.native_handle());
        const int peer = y.native_handle();
        const std::size_t size = 256 * 1024;
        std::vector<std::byte> data(size);
        for (std::size_t i = 0; i < size; ++i)
            data[i] = pattern(i);
        std::size_t done = 0;
        auto* xs = &x;
        auto* d = &data;
        auto* dn = &done;
        auto op = [xs, d, dn]() -> weft::task<weft::io::result<void>> {
            co_return co_await weft::io::write_all(*xs, std::span<const std::byte>(*d), *dn);
        };
        bool cancelled = co_await cancel_midway(f, op, peer);
        EXPECT_TRUE(cancelled);
        EXPECT_GT(done, 0u);
        EXPECT_LT(done, size);
        auto reader = weft::spawn(drain, std::move(y));
        auto rest = co_await weft::io::write_all(x, std::span<const std::byte>(data), done);
        EXPECT_TRUE(rest.has_value());
        EXPECT_EQ(done, size);
        EXPECT_TRUE(x.shutdown().has_value());
        auto got = co_await reader;
        if (!got.has_value()) co_return;
        EXPECT_TRUE(*got == data) << "received " << got->size() << " bytes of " << size;
    });
}

class IoCancelReader : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_IO_FLAVORS(IoCancelReader);

// read_line cancelled after part of a line arrived: the part stays in `out`
// (nothing read from the socket is lost); the next read_line with the same
// `out` completes the line.
TEST_P(IoCancelReader, CancelledReadLineKeepsThePartialLine) {
    weft::runtime rt = runtime_for(GetParam());
    rt.block_on([f = GetParam()]() -> weft::task<> {
        auto [x, y] = unix_stream::pair().value();
        const int peer = y.native_handle();
        weft::io::buf_reader in(std::move(y), 16); // smaller than the line
        std::string line;
        EXPECT_TRUE((co_await x.write_all("first part, ")).has_value());
        auto* i = &in;
        auto* l = &line;
        auto op = [i, l]() -> weft::task<weft::io::result<std::size_t>> {
            co_return co_await i->read_line(*l);
        };
        if (!is_multi(f)) {
            auto r = co_await weft::time::timeout(50ms, op());
            EXPECT_TRUE(r.is_elapsed());
        } else {
            auto h = weft::spawn(op);
            EXPECT_TRUE(co_await wait_pending(peer, /*empty=*/true)); // all read
            h.abort();
            auto r = co_await h;
            EXPECT_TRUE(!r.has_value() && r.error().is_cancelled());
        }
        EXPECT_EQ(line, "first part, ") << "the bytes read before the cancel are in `out`";
        EXPECT_TRUE((co_await x.write_all("second part\nnext\n")).has_value());
        auto n = co_await in.read_line(line);
        EXPECT_EQ(n.value(), std::string("second part\n").size());
        EXPECT_EQ(line, "first part, second part\n");
        std::string next;
        auto m = co_await in.read_line(next);
        EXPECT_EQ(m.value(), 5u);
        EXPECT_EQ(next, "next\n");
    });
}

// read_exact with `done` keeps what it read; read_to_string keeps what it
// appended.
TEST_P(IoCancelReader, ReadExactWithDoneAndReadToStringKeepWhatTheyRead) {
    weft::runtime rt = runtime_for(GetParam());
    rt.block_on([f = GetParam()]() -> weft::task<> {
        auto [x, y] = unix_stream::pair().value();
        const int peer = y.native_handle();
        std::string frame(10, '.');
        std::size_t done = 0;
        EXPECT_TRUE((co_await x.write_all("abcd")).has_value());
        auto* ys = &y;
        auto* fr = &frame;
        auto* dn = &done;
        auto op = [ys, fr, dn]() -> weft::task<weft::io::result<void>> {
            co_return co_await weft::io::read_exact(*ys, weft::io::buffer(*fr), *dn);
        };
        std::string text;
        auto* t = &text;
        auto op2 = [ys, t]() -> weft::task<weft::io::result<std::size_t>> {
            co_return co_await weft::io::read_to_string(*ys, *t);
        };
        for (int round = 0; round < 2; ++round) {
            if (!is_multi(f)) {
                bool elapsed = round == 0
                                   ? (co_await weft::time::timeout(50ms, op())).is_elapsed()
                                   : (co_await weft::time::timeout(50ms, op2())).is_elapsed();
                EXPECT_TRUE(elapsed);
            } else {
                auto h1 = round == 0 ? weft::spawn(op).abort_handle() : weft::abort_handle{};
                auto h2 = round == 1 ? weft::spawn(op2).abort_handle() : weft::abort_handle{};
                EXPECT_TRUE(co_await wait_pending(peer, /*empty=*/true));
                (round == 0 ? h1 : h2).abort();
                EXPECT_TRUE(co_await weft_test::wait_finished(round == 0 ? h1 : h2));
            }
            if (round == 0) {
                EXPECT_EQ(done, 4u);
                EXPECT_EQ(frame, "abcd......");
                EXPECT_TRUE((co_await x.write_all("efghij")).has_value());
                auto r = co_await weft::io::read_exact(y, weft::io::buffer(frame), done);
                EXPECT_TRUE(r.has_value());
                EXPECT_EQ(frame, "abcdefghij");
                EXPECT_TRUE((co_await x.write_all("tail")).has_value());
            } else {
                EXPECT_EQ(text, "tail");
            }
        }
    });
}
