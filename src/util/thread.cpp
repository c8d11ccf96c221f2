// Thread helpers (util/thread.hpp).
#include "util/thread.hpp"

#include <pthread.h>

#include <memory>
#include <system_error>

namespace weft::detail {

void start_detached_thread(std::function<void()> fn) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    auto* arg = new std::function<void()>(std::move(fn));
    pthread_t tid;
    int rc = pthread_create(
        &tid, &attr,
        [](void* p) -> void* {
            std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
            (*f)();
            return nullptr;
        },
        arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        delete arg;
        throw std::system_error(rc, std::generic_category(), "weft: starting a thread failed");
    }
}

void set_thread_name(const std::string& name) noexcept {
    std::string n = name.substr(0, 15);
    pthread_setname_np(pthread_self(), n.c_str());
}

} // namespace weft::detail
