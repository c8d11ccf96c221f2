// echo_server: a TCP echo server, one task per connection, with graceful
// shutdown on Ctrl-C through a cancellation token.
//
// The program also plays the clients, so that it runs unattended (and its
// output is checked by the test example.echo_server): three clients connect
// and have two lines echoed each; then the program sends itself SIGINT, as
// Ctrl-C would. On the signal, the server
//   1. cancels its token;
//   2. stops accepting (the accept loop is aborted: it holds nothing, and
//      aborting a task in accept withdraws its registration);
//   3. lets every connection finish the line in hand: the connection's
//      watcher turns the cancellation into end of stream for its reads
//      (shutdown of the read direction), the handler says "bye" and returns.
// Run it with `--serve PORT` to keep serving until you press Ctrl-C
// (try `nc 127.0.0.1 PORT`).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <weft/weft.hpp>

using weft::net::tcp_stream;

// One connection: echo until end of stream (or shutdown), then say goodbye.
weft::task<int> serve(tcp_stream s, weft::cancellation_token stop) {
    // The watcher makes the shutdown signal look like end of stream to the
    // read below, so the loop ends between two messages, never inside one.
    auto watcher = weft::spawn([&s, stop]() -> weft::task<> {
        co_await stop.cancelled();
        (void)s.shutdown(weft::net::shutdown_how::read);
    });
    int messages = 0; // lines echoed
    std::byte buf[4096];
    for (;;) {
        weft::io::result<std::size_t> n = co_await s.read(buf);
        if (!n || *n == 0) break; // end of stream, shutdown, or a reset
        auto w = co_await s.write_all(std::span<const std::byte>(buf, *n));
        if (!w) break;
        for (std::size_t i = 0; i < *n; ++i) // lines, whatever the read boundaries
            messages += buf[i] == std::byte{'\n'};
    }
    (void)co_await s.write_all("bye\n");
    // The watcher holds a reference to `s`: end it before `s` goes away.
    watcher.abort();
    (void)co_await watcher;
    co_return messages;
}

// Accepts until aborted; every connection gets its own task.
weft::task<> accept_loop(weft::net::tcp_listener& listener, weft::cancellation_token stop,
                         std::vector<weft::join_handle<int>>& connections) {
    for (;;) {
        auto conn = co_await listener.accept();
        if (!conn) {
            // Out of descriptors (EMFILE) or memory: retrying at once would
            // fail again and spin; back off a little, as servers do.
            std::fprintf(stderr, "accept: %s\n", conn.message().c_str());
            co_await weft::time::sleep(std::chrono::milliseconds(100));
            continue;
        }
        connections.push_back(weft::spawn(serve, std::move(conn->first), stop.child_token()));
    }
}

// A client: two lines echoed, then the connection is handed back.
weft::task<tcp_stream> client(std::string addr, int id) {
    tcp_stream s = (co_await tcp_stream::connect(addr)).value();
    for (int i = 1; i <= 2; ++i) {
        std::string msg =
            "hello " + std::to_string(i) + " from client " + std::to_string(id) + "\n";
        (co_await s.write_all(msg)).value();
        std::string back(msg.size(), '\0');
        (co_await s.read_exact(weft::io::buffer(back))).value();
        if (back != msg) throw std::runtime_error("echo mismatch");
    }
    co_return s;
}

weft::task<int> run(std::string bind_to, bool demo) {
    auto listener = weft::net::tcp_listener::bind(bind_to).value();
    std::string addr = listener.local_addr().value().to_string();
    std::printf("echo server listening%s\n", demo ? "" : (" on " + addr).c_str());
    std::fflush(stdout);

    weft::cancellation_token shutdown;
    // ctrl_c() installs the SIGINT handler now, before anyone can press it.
    auto on_ctrl_c =
        weft::spawn([stop = weft::signal::ctrl_c(), shutdown]() mutable -> weft::task<> {
            auto r = co_await std::move(stop);
            if (r) shutdown.cancel();
        });
    std::vector<weft::join_handle<int>> connections;
    auto acceptor = weft::spawn(accept_loop, std::ref(listener), shutdown, std::ref(connections));

    std::vector<tcp_stream> clients;
    if (demo) {
        std::vector<weft::join_handle<tcp_stream>> started;
        for (int id = 1; id <= 3; ++id)
            started.push_back(weft::spawn(client, addr, id));
        for (auto& h : started)
            clients.push_back((co_await h).expect("client"));
        std::printf("3 clients had 2 lines each echoed\n");
        std::printf("sending SIGINT to ourselves, as Ctrl-C would\n");
        ::kill(::getpid(), SIGINT);
    }

    co_await shutdown.cancelled();
    std::printf("Ctrl-C: shutting down\n");
    acceptor.abort(); // it only ever waits in accept: nothing is lost
    (void)co_await acceptor;
    int total = 0;
    for (auto& c : connections)
        total += (co_await c).expect("connection");
    (void)co_await on_ctrl_c;
    std::printf("server stopped: %zu connections closed cleanly, %d lines echoed\n",
                connections.size(), total);

    for (std::size_t i = 0; i < clients.size(); ++i) {
        weft::io::buf_reader in(std::move(clients[i]));
        std::string line;
        (void)(co_await in.read_line(line)).value();
        std::printf("client %zu got: %s", i + 1, line.c_str());
    }
    co_return 0;
}

int main(int argc, char** argv) {
    bool serve_mode = argc == 3 && std::string(argv[1]) == "--serve";
    std::string bind_to = serve_mode ? std::string("127.0.0.1:") + argv[2] : "127.0.0.1:0";
    return weft::block_on(run, bind_to, !serve_mode);
}
