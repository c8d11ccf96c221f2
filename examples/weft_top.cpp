// weft_top: a `top` for a weft runtime. Prints the live task dump
// periodically, and shows the long-poll watchdog catching a task that
// blocks its worker.
//
// Every task records where it was spawned; tasks spawned with
// weft::named("...") carry a name too. runtime_handle::dump() lists each
// live task with its id, name, spawn site, state (idle / scheduled /
// running) and, for an idle task, the coroutine it is suspended in (read
// from the binary's symbol table; a stripped binary shows addresses). The
// runtime is also built with
// dump_on_sigquit(true): press Ctrl-\ while it runs to get the same listing
// on stderr.
//
// The output varies from run to run (task ids, timings); the test
// example.weft_top checks it with regular expressions
// (examples/expected/weft_top.regex).
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// Waits for connections that never come (suspended in notified()).
weft::task<> accept_loop(weft::sync::notify* incoming) {
    for (;;)
        co_await incoming->notified();
}

// Ticks until told to stop (suspended in sleep most of the time).
weft::task<int> ticker(weft::cancellation_token stop) {
    int ticks = 0;
    while (!stop.is_cancelled()) {
        co_await weft::time::sleep(5ms);
        ++ticks;
    }
    co_return ticks;
}

// A connection handler waiting for its peer's request, one coroutine down:
// the dump shows both frames, each at its co_await.
weft::task<int> read_request(weft::sync::notify* peer) {
    co_await peer->notified();
    co_return 1;
}

weft::task<> connection(weft::sync::notify* peer) {
    int requests = co_await read_request(peer);
    (void)requests;
}

// What `top` prints: the dump, without the per-run details (the dump's own
// operator<< prints everything, including ids and addresses).
void print_top(const weft::runtime_dump& d, int frame) {
    std::printf("--- weft-top frame %d: %zu live tasks ---\n", frame, d.tasks.size());
    for (const weft::task_snapshot& t : d.tasks) {
        std::string where = std::string(t.site.file.substr(t.site.file.rfind('/') + 1)) + ":" +
                            std::to_string(t.site.line);
        // Where an idle task waits: its innermost coroutine and co_await.
        std::string awaiting;
        if (!t.awaiting.empty()) {
            const weft::await_frame& f = t.awaiting.front();
            awaiting = std::string(f.kind) + " at " +
                       std::string(f.file.substr(f.file.rfind('/') + 1)) + ":" +
                       std::to_string(f.line);
        }
        std::printf(
            "  %-6llu %-14s %-9s %-20s %s  %s\n", static_cast<unsigned long long>(t.id.value()),
            t.site.name.empty() ? "-" : std::string(t.site.name).c_str(), weft::to_string(t.state),
            where.c_str(), t.suspended_in.c_str(), awaiting.c_str());
    }
    std::fflush(stdout);
}

int main() {
    std::promise<void> caught;
    auto caught_f = caught.get_future().share();
    weft::runtime rt = weft::runtime::multi_thread()
                           .worker_threads(2)
                           .long_poll_threshold(20ms)
                           .on_long_poll([&caught](const weft::long_poll_report& r) {
                               std::cout << r << std::endl; // "weft: long poll: task ..."
                               // (Under a sanitizer other polls can be slow too.)
                               if (r.site.name == "blocker") caught.set_value();
                           })
                           .dump_on_sigquit(true)
                           .build();

    rt.block_on([&]() -> weft::task<> {
        weft::sync::notify incoming, peer;
        weft::cancellation_token stop;
        auto acceptor = weft::spawn(weft::named("accept-loop"), accept_loop, &incoming);
        auto tick = weft::spawn(weft::named("ticker"), ticker, stop);
        auto conn =
            weft::spawn(weft::named(std::string("conn-") + std::to_string(1)), connection, &peer);

        // top: a few frames, one every 15 ms.
        for (int frame = 1; frame <= 3; ++frame) {
            co_await weft::time::sleep(15ms);
            print_top(weft::runtime_handle::current().dump(), frame);
        }

        // A task that blocks its worker (a blocking call in async code): it
        // does not yield until the watchdog has reported it.
        auto blocker = weft::spawn(weft::named("blocker"), [caught_f]() -> weft::task<> {
            caught_f.wait(); // stands in for a blocking read, a long loop...
            co_return;
        });
        auto b = co_await blocker;
        (void)b;

        print_top(weft::runtime_handle::current().dump(), 4);
        // The full dump, as SIGQUIT would print it.
        std::cout << weft::runtime_handle::current().dump();

        stop.cancel();
        auto ticks = co_await tick;
        peer.notify_one();
        auto c = co_await conn;
        (void)c;
        acceptor.abort();
        auto a = co_await acceptor;
        std::printf("ticker stopped after %s ticks; accept-loop %s\n",
                    ticks && *ticks > 0 ? "some" : "no", a ? "finished" : "aborted");
    });
    return 0;
}
