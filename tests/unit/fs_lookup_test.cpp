// weft::fs (file calls on the blocking pool) and weft::net::lookup_host, on
// both runtimes: round trips, errors as values that name the path or host,
// create_dir_all on an existing tree, remove_file of a missing file, and
// resolving "localhost" and numeric addresses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <weft/weft.hpp>

#include "runtimes.hpp"

namespace {

/// A fresh directory under the system temp dir, removed at the end.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        path = std::filesystem::temp_directory_path() /
               ("weft-fs-test-" + std::to_string(::getpid()) + "-" +
                std::to_string(reinterpret_cast<std::uintptr_t>(this)));
        std::filesystem::remove_all(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

} // namespace

class FsFlavors : public weft_test::RuntimeTest {};
WEFT_INSTANTIATE_FLAVORS(FsFlavors);

TEST_P(FsFlavors, WriteReadMetadataRemove) {
    weft::runtime rt = make_runtime();
    temp_dir dir;
    rt.block_on([&]() -> weft::task<> {
        namespace fs = weft::fs;
        auto nested = dir.path / "a" / "b";
        auto made = co_await fs::create_dir_all(nested);
        EXPECT_TRUE(made) << made.message();
        auto again = co_await fs::create_dir_all(nested);
        EXPECT_TRUE(again) << "an existing directory is not an error";

        std::string text(100'000, 'x');
        text += "end\n";
        auto w = co_await fs::write(nested / "f.txt", text);
        EXPECT_TRUE(w) << w.message();
        auto r = co_await fs::read_to_string(nested / "f.txt");
        EXPECT_TRUE(r) << r.message();
        if (!r) co_return;
        EXPECT_EQ(*r, text) << "every byte back, beyond one read buffer";

        std::vector<std::byte> raw{std::byte{0}, std::byte{255}, std::byte{7}};
        auto wb = co_await fs::write(nested / "raw.bin", raw);
        EXPECT_TRUE(wb);
        auto rb = co_await fs::read(nested / "raw.bin");
        EXPECT_TRUE(rb);
        if (!rb) co_return;
        EXPECT_EQ(*rb, raw);

        auto m = co_await fs::metadata(nested / "f.txt");
        EXPECT_TRUE(m) << m.message();
        if (!m) co_return;
        EXPECT_TRUE(m->is_file);
        EXPECT_FALSE(m->is_dir);
        EXPECT_EQ(m->size, text.size());
        auto md = co_await fs::metadata(nested);
        EXPECT_TRUE(md && md->is_dir);

        auto rm = co_await fs::remove_file(nested / "f.txt");
        EXPECT_TRUE(rm) << rm.message();
        auto gone = co_await fs::read_to_string(nested / "f.txt");
        EXPECT_FALSE(gone);
        EXPECT_EQ(gone.error(), std::errc::no_such_file_or_directory);
    });
}

TEST_P(FsFlavors, ErrorsAreValuesThatNameThePath) {
    weft::runtime rt = make_runtime();
    temp_dir dir;
    rt.block_on([&]() -> weft::task<> {
        auto missing = dir.path / "nope.txt";
        auto r = co_await weft::fs::read_to_string(missing);
        EXPECT_FALSE(r);
        EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory);
        EXPECT_NE(r.message().find("read_to_string '" + missing.string() + "'"), std::string::npos)
            << r.message();
        auto rm = co_await weft::fs::remove_file(missing);
        EXPECT_FALSE(rm) << "removing a missing file is an error, as in Tokio";
        EXPECT_EQ(rm.error(), std::errc::no_such_file_or_directory);
        auto w = co_await weft::fs::write(dir.path / "no-dir" / "f.txt", std::string("x"));
        EXPECT_FALSE(w) << "the parent does not exist";
        EXPECT_NE(w.message().find("write '"), std::string::npos) << w.message();
        EXPECT_THROW(r.value(), std::system_error) << "value() throws for callers who want it";
    });
}

TEST_P(FsFlavors, LookupHostResolvesNamesAndNumbers) {
    weft::runtime rt = make_runtime();
    rt.block_on([&]() -> weft::task<> {
        auto local = co_await weft::net::lookup_host("localhost:8080");
        EXPECT_TRUE(local) << local.message();
        if (!local) co_return;
        EXPECT_FALSE(local->empty());
        for (const auto& a : *local)
            EXPECT_EQ(a.port(), 8080);

        auto numeric = co_await weft::net::lookup_host("127.0.0.1:9");
        EXPECT_TRUE(numeric);
        if (!numeric) co_return;
        EXPECT_EQ(numeric->size(), 1u);
        EXPECT_EQ(numeric->front().to_string(), "127.0.0.1:9");

        auto v6 = co_await weft::net::lookup_host("[::1]:443");
        EXPECT_TRUE(v6 && v6->front().is_ipv6());

        auto bad_port = co_await weft::net::lookup_host("localhost:http");
        EXPECT_FALSE(bad_port);
        EXPECT_EQ(bad_port.error(), std::errc::invalid_argument);
        EXPECT_NE(bad_port.message().find("localhost:http"), std::string::npos);

        // .invalid never resolves (RFC 6761), with or without a network.
        auto unknown = co_await weft::net::lookup_host("no-such-host.invalid:80");
        EXPECT_FALSE(unknown);
        EXPECT_NE(unknown.message().find("no-such-host.invalid"), std::string::npos)
            << unknown.message();
    });
}
