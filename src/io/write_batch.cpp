// Write batching through io_uring (io/write_batch.hpp, decision 0043).
//
// The ring is used synchronously only: every request carries MSG_DONTWAIT,
// so the kernel completes it inside io_uring_enter; flush() holds the lock
// until it has reaped one completion per request. No request is ever in
// flight outside flush(), which is what keeps the nodes (in coroutine
// frames) and the buffers they point to safe.
#include "io/write_batch.hpp"

#include <linux/io_uring.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>

#include "weft/detail/intrusive_list.hpp"

namespace weft::detail {

namespace {

int sys_io_uring_setup(unsigned entries, io_uring_params* p) noexcept {
    return static_cast<int>(::syscall(__NR_io_uring_setup, entries, p));
}

int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) noexcept {
    return static_cast<int>(
        ::syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

template <class T>
T* at(void* base, std::uint32_t off) noexcept {
    return reinterpret_cast<T*>(static_cast<char*>(base) + off);
}

/// The most sends one io_uring_enter carries; a larger batch goes in chunks.
constexpr unsigned k_ring_entries = 128;

} // namespace

// The mapped submission and completion rings (io_uring(7)).
struct send_batch::ring {
    int fd = -1;
    bool broken = false;
    void* sq_map = MAP_FAILED;
    std::size_t sq_map_len = 0;
    void* cq_map = MAP_FAILED;
    std::size_t cq_map_len = 0;
    io_uring_sqe* sqes = static_cast<io_uring_sqe*>(MAP_FAILED);
    std::size_t sqes_len = 0;
    unsigned entries = 0;
    std::atomic<unsigned>* sq_tail = nullptr;
    unsigned sq_mask = 0;
    unsigned* sq_array = nullptr;
    std::atomic<unsigned>* cq_head = nullptr;
    std::atomic<unsigned>* cq_tail = nullptr;
    unsigned cq_mask = 0;
    io_uring_cqe* cqes = nullptr;

    ~ring() {
        if (sqes != MAP_FAILED) ::munmap(sqes, sqes_len);
        if (cq_map != MAP_FAILED && cq_map != sq_map) ::munmap(cq_map, cq_map_len);
        if (sq_map != MAP_FAILED) ::munmap(sq_map, sq_map_len);
        if (fd >= 0) ::close(fd);
    }

    bool open() noexcept {
        io_uring_params p;
        std::memset(&p, 0, sizeof p);
        // SUBMIT_ALL: a request that fails early (a closed descriptor) does
        // not stop the ones after it. Kernels before 5.18 lack it; the
        // reaping loop in submit() copes either way.
        p.flags = IORING_SETUP_SUBMIT_ALL;
        fd = sys_io_uring_setup(k_ring_entries, &p);
        if (fd < 0 && errno == EINVAL) {
            std::memset(&p, 0, sizeof p);
            fd = sys_io_uring_setup(k_ring_entries, &p);
        }
        if (fd < 0) return false;
        entries = p.sq_entries;
        sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
        bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
        if (single) sq_map_len = cq_map_len = std::max(sq_map_len, cq_map_len);
        sq_map = ::mmap(nullptr, sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                        IORING_OFF_SQ_RING);
        if (sq_map == MAP_FAILED) return false;
        cq_map = single ? sq_map
                        : ::mmap(nullptr, cq_map_len, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (cq_map == MAP_FAILED) return false;
        sqes_len = p.sq_entries * sizeof(io_uring_sqe);
        void* s = ::mmap(nullptr, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                         IORING_OFF_SQES);
        if (s == MAP_FAILED) return false;
        sqes = static_cast<io_uring_sqe*>(s);
        sq_tail = at<std::atomic<unsigned>>(sq_map, p.sq_off.tail);
        sq_mask = *at<unsigned>(sq_map, p.sq_off.ring_mask);
        sq_array = at<unsigned>(sq_map, p.sq_off.array);
        cq_head = at<std::atomic<unsigned>>(cq_map, p.cq_off.head);
        cq_tail = at<std::atomic<unsigned>>(cq_map, p.cq_off.tail);
        cq_mask = *at<unsigned>(cq_map, p.cq_off.ring_mask);
        cqes = at<io_uring_cqe>(cq_map, p.cq_off.cqes);
        return true;
    }
};

void send_now(batched_send& n) noexcept {
    ssize_t r = ::send(n.fd, n.data, n.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    n.result = r >= 0 ? static_cast<long>(r) : -static_cast<long>(errno);
}

bool send_batch::open_ring() noexcept {
    auto* r = new (std::nothrow) ring();
    if (r == nullptr || !r->open()) {
        delete r;
        unusable_ = true;
        return false;
    }
    ring_ = r;
    return true;
}

send_batch::~send_batch() {
    delete ring_;
}

void send_batch::enqueue(batched_send& n, std::coroutine_handle<> h) {
    waker w = suspend_waker(h);
    std::lock_guard lk(mu_);
    n.w = std::move(w);
    list_push_back(head_, tail_, &n);
    n.linked.store(true, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

void send_batch::cancel(batched_send& n) noexcept {
    waker dropped;
    {
        std::lock_guard lk(mu_);
        if (!n.linked.load(std::memory_order_relaxed)) return;
        list_unlink(head_, tail_, &n);
        n.linked.store(false, std::memory_order_relaxed);
        count_.fetch_sub(1, std::memory_order_relaxed);
        dropped = std::move(n.w);
    }
    // `dropped` releases the task reference outside the lock.
}

bool send_batch::holds(const task_header* t) noexcept {
    std::lock_guard lk(mu_);
    for (batched_send* n = head_; n != nullptr; n = n->next)
        if (n->w.task() == t) return true;
    return false;
}

void send_batch::submit(batched_send** nodes, std::size_t n) noexcept {
    // The submission queue is empty between flushes: every request of the
    // previous chunk was consumed and reaped.
    if (ring_->broken) {
        for (std::size_t i = 0; i < n; ++i)
            send_now(*nodes[i]);
        return;
    }
    unsigned tail = ring_->sq_tail->load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
        unsigned idx = (tail + static_cast<unsigned>(i)) & ring_->sq_mask;
        io_uring_sqe& sqe = ring_->sqes[idx];
        std::memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_SEND;
        sqe.fd = nodes[i]->fd;
        sqe.addr = reinterpret_cast<std::uintptr_t>(nodes[i]->data);
        sqe.len = static_cast<std::uint32_t>(
            std::min<std::size_t>(nodes[i]->len, std::numeric_limits<std::int32_t>::max()));
        sqe.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
        sqe.user_data = i;
        ring_->sq_array[idx] = idx;
        nodes[i]->result = -ECANCELED; // overwritten by its completion
    }
    ring_->sq_tail->store(tail + static_cast<unsigned>(n), std::memory_order_release);

    std::size_t submitted = 0, reaped = 0;
    int retries = 0;
    while (reaped < n) {
        unsigned to_submit = static_cast<unsigned>(n - submitted);
        int rc = sys_io_uring_enter(ring_->fd, to_submit, static_cast<unsigned>(n - reaped),
                                    IORING_ENTER_GETEVENTS);
        if (rc < 0) {
            // A signal, or the kernel short of memory for a moment: retry.
            bool transient = errno == EINTR || errno == EAGAIN || errno == EBUSY;
            if (transient && ++retries < 64) continue;
            // The ring failed (it should not). Requests left in the
            // submission queue must never reach the kernel after the plain
            // sends below, so the ring is not entered again.
            ring_->broken = true;
            break;
        }
        submitted += static_cast<std::size_t>(rc);
        unsigned head = ring_->cq_head->load(std::memory_order_relaxed);
        unsigned ctail = ring_->cq_tail->load(std::memory_order_acquire);
        for (; head != ctail; ++head) {
            const io_uring_cqe& c = ring_->cqes[head & ring_->cq_mask];
            if (c.user_data < n) nodes[c.user_data]->result = c.res;
            ++reaped;
        }
        ring_->cq_head->store(head, std::memory_order_release);
    }
    if (reaped < n) {
        // Only after the ring failed: what it did not take is sent directly.
        for (std::size_t i = submitted; i < n; ++i)
            send_now(*nodes[i]);
    }
}

std::size_t send_batch::flush() noexcept {
    std::size_t woken = 0;
    while (pending()) {
        batched_send* nodes[k_ring_entries];
        waker wakers[k_ring_entries];
        std::size_t n = 0;
        {
            std::lock_guard lk(mu_);
            std::size_t cap = std::min<std::size_t>(ring_->entries, k_ring_entries);
            while (head_ != nullptr && n < cap) {
                batched_send* s = head_;
                list_unlink(head_, tail_, s);
                nodes[n++] = s;
            }
            if (n == 0) break;
            count_.fetch_sub(n, std::memory_order_relaxed);
            submit(nodes, n);
            for (std::size_t i = 0; i < n; ++i) {
                wakers[i] = std::move(nodes[i]->w);
                nodes[i]->linked.store(false, std::memory_order_release); // last write
            }
        }
        writes_.fetch_add(n, std::memory_order_relaxed);
        batches_.fetch_add(1, std::memory_order_relaxed);
        for (std::size_t i = 0; i < n; ++i)
            std::move(wakers[i]).wake();
        woken += n;
    }
    return woken;
}

void write_batcher::offer_core() noexcept {
    auto now = std::chrono::steady_clock::now();
    if (now - on_core_since_ < *yield_core_after_) return;
    sched_yield();
    core_yields_.store(core_yields_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    on_core_since_ = std::chrono::steady_clock::now();
}

} // namespace weft::detail
