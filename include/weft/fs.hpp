// weft::fs: file system calls on the blocking pool.
//
//   auto text = co_await weft::fs::read_to_string("config.toml");
//   if (!text) { std::puts(text.message().c_str()); co_return; } // names the path
//   if (auto made = co_await weft::fs::create_dir_all("out/logs"); !made) co_return;
//   auto w = co_await weft::fs::write("out/logs/run.txt", *text);
//
// Linux has no asynchronous file I/O that works everywhere (regular files
// are always "ready" to epoll), so, like tokio::fs, every call here is the
// std::filesystem or POSIX call run by spawn_blocking: the awaiting task
// suspends, its worker keeps running other tasks. Each call costs a hop to
// a blocking thread and back; batch work into one spawn_blocking of your
// own when you make many small calls.
//
// Results are io::result<T>, as for sockets: a missing file or a denied
// permission is a value whose message names the operation and the path
// ("read_to_string 'config.toml': No such file or directory"), not an
// exception. The arguments (path, data) are copied into the call, so
// nothing borrowed from the caller is touched on the blocking thread.
// If the runtime shuts down before the call starts, the result is
// std::errc::operation_canceled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "weft/io.hpp"
#include "weft/task.hpp"

namespace weft::fs {

/// The whole file, as bytes.
///
///   auto bytes = co_await weft::fs::read("image.png");
///
/// Cancel safety (`fs::read`): cancel safe. The file is not changed; the
/// read may still run to its end on the blocking pool, and its result is dropped.
task<io::result<std::vector<std::byte>>> read(std::filesystem::path path);

/// The whole file, as text (no encoding check).
///
///   auto s = co_await weft::fs::read_to_string("notes.txt");
///
/// Cancel safety (`fs::read_to_string`): cancel safe. The file is not
/// changed; the read may still run to its end on the blocking pool, and its
/// result is dropped.
task<io::result<std::string>> read_to_string(std::filesystem::path path);

/// Creates or truncates the file and writes `data` to it.
///
///   auto r = co_await weft::fs::write("out.txt", std::string("hello\n"));
///   if (!r) log(r.message());
///
/// Cancel safety (`fs::write`): not cancel safe. A call the pool has taken
/// cannot be stopped: after a cancel the file still ends fully written (or
/// untouched if the call never ran), and the caller does not learn which.
task<io::result<void>> write(std::filesystem::path path, std::string data);
/// Same, for bytes.
task<io::result<void>> write(std::filesystem::path path, std::vector<std::byte> data);

/// What metadata() reports.
struct metadata_t {
    std::uintmax_t size = 0;
    bool is_file = false;
    bool is_dir = false;
    bool is_symlink = false;
    std::filesystem::perms permissions = std::filesystem::perms::none;
    std::filesystem::file_time_type modified{};
};

/// Size, type, permissions and modification time (following symlinks;
/// is_symlink tells whether the path itself is one).
///
///   auto m = co_await weft::fs::metadata("data.bin");
///   if (m && m->is_file) std::printf("%ju bytes\n", m->size);
///
/// Cancel safety (`fs::metadata`): cancel safe. Nothing is changed; the
/// call may still run on the blocking pool, and its result is dropped.
task<io::result<metadata_t>> metadata(std::filesystem::path path);

/// Creates the directory and any missing parents; an existing directory is
/// not an error.
///
///   auto made = co_await weft::fs::create_dir_all("cache/v1/blobs");
///
/// Cancel safety (`fs::create_dir_all`): not cancel safe. The directories
/// may still be created after the cancel (the call runs to its end on the
/// blocking pool); the caller does not learn whether they were.
task<io::result<void>> create_dir_all(std::filesystem::path path);

/// Removes a file (not a directory). A missing file is an error
/// (std::errc::no_such_file_or_directory), as with Tokio.
///
///   auto removed = co_await weft::fs::remove_file("stale.lock");
///
/// Cancel safety (`fs::remove_file`): not cancel safe. The file may still
/// be removed after the cancel (the call runs to its end on the blocking
/// pool); the caller does not learn whether it was.
task<io::result<void>> remove_file(std::filesystem::path path);

} // namespace weft::fs
