// Names that the examples in the headers' comments use without declaring
// them, as a reader would have them around: a stream, a channel end, use(),
// log(). Declared, never defined: the examples are compiled (by
// tests/headers/examples.cmake), not linked or run.
//
// weft_examples::common is visible to every header's examples;
// weft_examples::<header> (the path under include/weft/, `/` and `.` as `_`)
// only to that header's, for the names whose type differs from header to
// header (rx is an mpsc receiver in one, a oneshot receiver in another).
#pragma once

#include <weft/weft.hpp>

#include <array>
#include <cassert>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace weft_examples::common {

// Functions that consume whatever an example hands them.
template <class... A>
void use(A&&...);
template <class... A>
void log(A&&...);
template <class... A>
void process(A&&...);
template <class... A>
void consume(A&&...);
template <class... A>
void drain(A&&...);
template <class... A>
void apply(A&&...);
template <class... A>
void peek(A&&...);
template <class... A>
void keep(A&&...);
template <class... A>
void retry(A&&...);
template <class... A>
void requeue(A&&...);
template <class... A>
void reload(A&&...);

struct config {
    int port = 80;
    int field = 0;
};
struct event {};
struct job {};
extern config cfg;

weft::task<> work();
weft::task<> work_a_bit();
weft::task<> step();
weft::task<> flush();
weft::task<> handle_one();
weft::task<int> compute();
weft::task<> main_task();
weft::task<> test_body();
void cleanup();
void prepare();
void announce();
void reset_round();
void report();
void reload_config();
void send_heartbeat();
void write_both_files();
void crunch(int);
extern int n;

extern weft::runtime rt;
extern weft::net::tcp_stream stream;
extern weft::net::tcp_stream s;
extern weft::cancellation_token token;

} // namespace weft_examples::common

namespace weft_examples::blocking_hpp {
using namespace weft_examples::common;
std::string read_whole_file(const char* path);
int expensive(int);
} // namespace weft_examples::blocking_hpp

namespace weft_examples::cancellation_token_hpp {
using namespace weft_examples::common;
extern weft::cancellation_token t;
extern weft::cancellation_token server_token;
extern weft::cancellation_drop_guard guard;
weft::task<> serve();
} // namespace weft_examples::cancellation_token_hpp

namespace weft_examples::io_hpp {
using namespace weft_examples::common;
extern std::span<const std::byte> data;
extern std::span<const std::byte> msg;
extern std::array<std::byte, 64> frame;
extern std::byte buf[4096];
template <class... A>
void handle(A&&...);
} // namespace weft_examples::io_hpp

namespace weft_examples::join_hpp {
using namespace weft_examples::common;
weft::task<std::string> fetch_user(int id);
weft::task<int> fetch_orders(int id);
weft::task<int> load(const char* name);
extern int id;
extern weft::join_handle<int> h1;
extern weft::join_handle<std::string> h2;
extern weft::sync::mpsc::receiver<int> rx;
extern weft::join_handle<int> handle;
} // namespace weft_examples::join_hpp

namespace weft_examples::join_handle_hpp {
using namespace weft_examples::common;
} // namespace weft_examples::join_handle_hpp

namespace weft_examples::join_set_hpp {
using namespace weft_examples::common;
weft::task<std::size_t> fetch_size(std::string url);
weft::task<int> fetch(std::string url);
int checksum(std::string path);
weft::task<int> use_thread_affine_state(std::map<int, int>& cache);
extern std::map<int, int> cache;
extern std::vector<std::string> urls;
extern std::string url;
extern std::string path;
extern std::size_t total;
extern weft::join_set<int> set;
template <class... A>
void handle(A&&...);
} // namespace weft_examples::join_set_hpp

namespace weft_examples::local_set_hpp {
using namespace weft_examples::common;
weft::task<int> work();
weft::task<> counter_task();
extern weft::local_set set;
} // namespace weft_examples::local_set_hpp

namespace weft_examples::net_hpp {
using namespace weft_examples::common;
extern weft::net::write_half wr;
extern weft::net::socket_address peer;
} // namespace weft_examples::net_hpp

namespace weft_examples::observe_hpp {
using namespace weft_examples::common;
weft::task<> accept_loop(std::uint16_t port);
weft::task<> serve(weft::net::tcp_stream s);
extern std::uint16_t port;
extern int id;
extern weft::net::tcp_stream sock;
extern std::string peer;
extern weft::task_snapshot snapshot;
} // namespace weft_examples::observe_hpp

namespace weft_examples::result_hpp {
using namespace weft_examples::common;
extern weft::join_handle<std::size_t> handle;
} // namespace weft_examples::result_hpp

namespace weft_examples::runtime_hpp {
using namespace weft_examples::common;
weft::task<int> async_main();
weft::task<> tick(int period_ms);
} // namespace weft_examples::runtime_hpp

namespace weft_examples::runtime_error_hpp {
using namespace weft_examples::common;
weft::task<> f();
} // namespace weft_examples::runtime_error_hpp

namespace weft_examples::select_hpp {
using namespace weft_examples::common;
extern weft::sync::mpsc::receiver<int> rx;
extern weft::sync::mpsc::receiver<job> jobs;
extern weft::cancellation_token shutdown;
extern weft::cancellation_token stop;
template <class... A>
void handle(A&&...);
} // namespace weft_examples::select_hpp

namespace weft_examples::spawn_hpp {
using namespace weft_examples::common;
weft::task<std::size_t> fetch(std::string name, int timeout_ms);
weft::task<> serve(const config& c);
weft::task<> accept_loop(std::uint16_t port);
extern std::uint16_t port;
} // namespace weft_examples::spawn_hpp

namespace weft_examples::sync_barrier_hpp {
using namespace weft_examples::common;
extern weft::sync::barrier b;
} // namespace weft_examples::sync_barrier_hpp

namespace weft_examples::sync_broadcast_hpp {
using namespace weft_examples::common;
extern weft::sync::broadcast::sender<event> tx;
extern weft::sync::broadcast::receiver<int> rx;
template <class... A>
void handle(A&&...);
} // namespace weft_examples::sync_broadcast_hpp

namespace weft_examples::sync_mpsc_hpp {
using namespace weft_examples::common;
extern weft::sync::mpsc::sender<int> tx;
extern weft::sync::mpsc::receiver<int> rx;
extern int msg;
extern int v;
int make_message();
int build_expensive_message();
template <class... A>
void handle(A&&...);
} // namespace weft_examples::sync_mpsc_hpp

namespace weft_examples::sync_mutex_hpp {
using namespace weft_examples::common;
extern weft::sync::mutex<int> m;
} // namespace weft_examples::sync_mutex_hpp

namespace weft_examples::sync_oneshot_hpp {
using namespace weft_examples::common;
extern weft::sync::oneshot::sender<int> tx;
extern weft::sync::oneshot::receiver<int> rx;
extern int value;
} // namespace weft_examples::sync_oneshot_hpp

namespace weft_examples::sync_rw_lock_hpp {
using namespace weft_examples::common;
config load();
weft::task<> serve(int port);
extern weft::sync::rw_lock<config> lock;
} // namespace weft_examples::sync_rw_lock_hpp

namespace weft_examples::sync_semaphore_hpp {
using namespace weft_examples::common;
using weft::sync::semaphore_permit;
using weft::sync::try_acquire_error;
extern weft::sync::semaphore sem;
} // namespace weft_examples::sync_semaphore_hpp

namespace weft_examples::sync_watch_hpp {
using namespace weft_examples::common;
extern weft::sync::watch::sender<config> tx;
extern weft::sync::watch::receiver<config> rx;
} // namespace weft_examples::sync_watch_hpp

namespace weft_examples::task_tracker_hpp {
using namespace weft_examples::common;
weft::task<> serve(weft::net::tcp_stream conn);
weft::task<> handle_client(weft::net::tcp_stream socket);
extern std::vector<weft::net::tcp_stream> connections;
extern weft::net::tcp_stream socket;
extern weft::task_tracker tracker;
} // namespace weft_examples::task_tracker_hpp

namespace weft_examples::time_hpp {
using namespace weft_examples::common;
extern weft::sync::mpsc::receiver<int> rx;
} // namespace weft_examples::time_hpp
