// The SIGQUIT printer (install_sigquit_dump, runtime_builder::dump_on_sigquit):
// the signal handler only writes a byte to a pipe (async-signal-safe); a
// detached printer thread reads it and prints the dump of every runtime
// that asked for it. Also the runtime's observer hooks (start_observers,
// stop_observers), which register a runtime here and start its watchdog.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include "runtime/core.hpp"
#include "util/thread.hpp"

namespace weft::detail {

namespace {

struct sigquit_state {
    std::mutex mu;
    std::set<runtime_impl*> runtimes; // guarded by mu
};

sigquit_state& sigquit() {
    static sigquit_state* s = new sigquit_state(); // used by a detached thread: never destroyed
    return *s;
}

std::atomic<int> sigquit_fd{-1};

extern "C" void on_sigquit(int) {
    int saved = errno;
    int fd = sigquit_fd.load(std::memory_order_relaxed);
    if (fd >= 0) {
        char c = 'q';
        ssize_t n = ::write(fd, &c, 1); // async-signal-safe; a full pipe drops the wake-up
        (void)n;
    }
    errno = saved;
}

} // namespace

void runtime_impl::start_observers() {
    if (cfg_.long_poll_threshold.count() > 0) {
        watchdog_ =
            std::make_unique<watchdog>(cfg_.long_poll_threshold, cfg_.on_long_poll,
                                       [this](task_header* p) { return find_live_task(p); });
    }
    if (cfg_.dump_on_sigquit) {
        install_sigquit_dump();
        std::lock_guard lk(sigquit().mu);
        sigquit().runtimes.insert(this);
    }
}

void runtime_impl::stop_observers() noexcept {
    if (cfg_.dump_on_sigquit) {
        std::lock_guard lk(sigquit().mu);
        sigquit().runtimes.erase(this);
    }
    watchdog_.reset();
}

} // namespace weft::detail

namespace weft {

void install_sigquit_dump() {
    static std::once_flag once;
    std::call_once(once, [] {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "weft: sigquit pipe");
        ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
        detail::sigquit_fd.store(fds[1], std::memory_order_relaxed);
        detail::start_detached_thread([rfd = fds[0]] {
            detail::set_thread_name("weft-sigquit");
            char c;
            for (;;) {
                ssize_t n = ::read(rfd, &c, 1);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return;
                auto& st = detail::sigquit();
                std::lock_guard lk(st.mu);
                for (detail::runtime_impl* rt : st.runtimes) {
                    std::string text = rt->dump_tasks().to_string();
                    std::fwrite(text.data(), 1, text.size(), stderr);
                }
                std::fflush(stderr);
            }
        });
        struct sigaction sa {};
        sa.sa_handler = &detail::on_sigquit;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ::sigaction(SIGQUIT, &sa, nullptr);
    });
}

} // namespace weft
