// Pieces shared by weft's channels (oneshot, mpsc, watch, broadcast):
//
// - `weft::sync::expected<T, E>`: the result type of channel operations
//   that can fail, an alias of weft::expected (weft/expected.hpp).
// - `weft::sync::detail::wait_list`: the intrusive doubly linked list of
//   weft/detail/intrusive_list.hpp, over waiter nodes that live inside awaiters, so waiting
//   allocates nothing. Whoever owns the list guards it (and every node's fields) with its lock.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/intrusive_list.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/expected.hpp"

namespace weft::sync {

/// The result type of channel operations that can fail: weft::expected
/// (weft/expected.hpp), under the name the channels have always used.
///
///   weft::sync::expected<int, weft::sync::oneshot::recv_error> r = co_await rx;
///   if (r) use(*r);                 // or r.value(), which throws on error
///   else if (r.error() == weft::sync::oneshot::recv_error::closed) log("closed");
template <class T, class E>
using expected = weft::expected<T, E>;
/// Thrown by value() on an error result (an alias of weft::bad_expected_access).
using bad_result_access = weft::bad_expected_access;
using weft::unexpect;
using weft::unexpect_t;

namespace detail {

/// A node of a wait_list; lives inside an awaiter.
struct wait_node {
    wait_node* prev = nullptr;
    wait_node* next = nullptr;
    weft::detail::waker waker;
    bool linked = false;
};

/// Intrusive FIFO list of wait_nodes. Not thread-safe: its owner's lock
/// guards the list and the nodes' fields.
struct wait_list {
    wait_node* head = nullptr;
    wait_node* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }
    void push_back(wait_node* n) noexcept {
        weft::detail::list_push_back(head, tail, n);
        n->linked = true;
    }
    void unlink(wait_node* n) noexcept {
        weft::detail::list_unlink(head, tail, n);
        n->linked = false;
    }
    wait_node* pop_front() noexcept {
        wait_node* n = head;
        if (n) unlink(n);
        return n;
    }
};

} // namespace detail
} // namespace weft::sync
