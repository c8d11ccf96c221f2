// http_hello: a minimal HTTP/1.1 server that answers every request with
// "Hello, world!", keeping connections alive, one task per connection.
//
// The program also plays the client, so that it runs unattended (checked by
// the test example.http_hello): it sends two requests on one connection and
// a third on another with "Connection: close", and prints the responses.
// `http_hello --serve PORT` only serves (for wrk: wrk -c64 http://127.0.0.1:PORT/).
//
// Request parsing is deliberately minimal: the head is read up to the blank
// line and its body, if any, is not supported (GET only). A real server would
// use a parser; this shows the I/O pattern: a buffered reader per connection,
// one write per response.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include <weft/weft.hpp>

using weft::net::tcp_stream;

constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
constexpr std::string_view response_close = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                            "Content-Length: 13\r\nConnection: close\r\n\r\n"
                                            "Hello, world!";

weft::task<> serve(tcp_stream s) {
    (void)s.set_nodelay(true);
    auto [rd, wr] = std::move(s).into_split();
    weft::io::buf_reader in(std::move(rd), 4096);
    for (;;) {
        // The request head: lines until an empty one.
        std::string line;
        bool close = false, any = false;
        for (;;) {
            line.clear();
            auto n = co_await in.read_line(line);
            if (!n || *n == 0) co_return; // end of stream or error: the client is gone
            if (line == "\r\n" || line == "\n") break;
            any = true;
            for (char& c : line)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (line.rfind("connection: close", 0) == 0) close = true;
        }
        if (!any) continue; // stray empty line between requests
        auto w = co_await wr.write_all(close ? response_close : response);
        if (!w || close) co_return;
    }
}

weft::task<> accept_loop(weft::net::tcp_listener listener) {
    for (;;) {
        auto conn = co_await listener.accept();
        if (!conn) {
            // Out of descriptors (EMFILE) or memory: retrying at once would
            // fail again and spin; back off a little, as servers do.
            std::fprintf(stderr, "accept: %s\n", conn.message().c_str());
            co_await weft::time::sleep(std::chrono::milliseconds(100));
            continue;
        }
        weft::spawn(serve, std::move(conn->first));
    }
}

// Sends `request` and reads one response (head + Content-Length body).
weft::task<std::string> roundtrip(weft::io::buf_reader<tcp_stream>& in, std::string_view request) {
    (co_await in.get_ref().write_all(request)).value();
    std::string head, line;
    std::size_t length = 0;
    for (;;) {
        line.clear();
        if ((co_await in.read_line(line)).value() == 0) throw std::runtime_error("closed early");
        head += line;
        if (line == "\r\n") break;
        if (line.rfind("Content-Length: ", 0) == 0) length = std::stoul(line.substr(16));
    }
    std::string body(length, '\0');
    std::size_t got = 0;
    while (got < length) {
        auto n = (co_await in.read(std::span<std::byte>(
                      reinterpret_cast<std::byte*>(body.data()) + got, length - got)))
                     .value();
        if (n == 0) throw std::runtime_error("closed early");
        got += n;
    }
    co_return head.substr(0, head.find("\r\n")) + " | " + body;
}

weft::task<int> run(std::string bind_to, bool demo) {
    auto listener = weft::net::tcp_listener::bind(bind_to).value();
    std::string addr = listener.local_addr().value().to_string();
    if (!demo) std::printf("listening %s\n", addr.c_str());
    std::fflush(stdout);
    auto server = weft::spawn(accept_loop, std::move(listener));
    if (!demo) {
        (void)co_await server; // serve until killed
        co_return 0;
    }
    const std::string get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    weft::io::buf_reader a((co_await tcp_stream::connect(addr)).value());
    std::printf("connection 1, request 1: %s\n", (co_await roundtrip(a, get)).c_str());
    std::printf("connection 1, request 2: %s\n", (co_await roundtrip(a, get)).c_str());
    weft::io::buf_reader b((co_await tcp_stream::connect(addr)).value());
    std::string last =
        co_await roundtrip(b, "GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    std::printf("connection 2, request 1: %s\n", last.c_str());
    std::string rest;
    auto eof = (co_await b.read_line(rest)).value();
    std::printf("connection 2 closed by the server: %s\n", eof == 0 ? "yes" : "no");
    server.abort(); // the runtime would also abort it on shutdown
    co_return 0;
}

int main(int argc, char** argv) {
    bool serve_mode = argc == 3 && std::string(argv[1]) == "--serve";
    std::string bind_to = serve_mode ? std::string("127.0.0.1:") + argv[2] : "127.0.0.1:0";
    return weft::block_on(run, bind_to, !serve_mode);
}
