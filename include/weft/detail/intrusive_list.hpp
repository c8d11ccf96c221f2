// The doubly-linked FIFO that weft's wait lists share (notify, semaphore,
// barrier): nodes live in the awaiters (in coroutine frames), the list only
// links them, so waiting allocates nothing. Callers hold the primitive's
// lock around every call.
//
// Nodes start unlinked (null prev/next) and list_unlink clears them again;
// the WEFT_ASSERTs check that a node is pushed only while unlinked and
// unlinked only from the list it is in (a node with no predecessor must be
// the head, one with no successor the tail).
#pragma once

#include "weft/detail/assert.hpp"

namespace weft::detail {

/// Appends `n`, which must be unlinked.
template <class Node>
void list_push_back(Node*& head, Node*& tail, Node* n) noexcept {
    WEFT_ASSERT(n->prev == nullptr && n->next == nullptr && head != n,
                "list_push_back: the node is not in a list already");
    WEFT_ASSERT((head == nullptr) == (tail == nullptr), "list_push_back: head and tail agree");
    n->next = nullptr;
    n->prev = tail;
    if (tail)
        tail->next = n;
    else
        head = n;
    tail = n;
}

/// Removes `n`, which must be in the list, and clears its links.
template <class Node>
void list_unlink(Node*& head, Node*& tail, Node* n) noexcept {
    WEFT_ASSERT(n->prev != nullptr || head == n,
                "list_unlink: a node without predecessor is the head");
    WEFT_ASSERT(n->next != nullptr || tail == n,
                "list_unlink: a node without successor is the tail");
    if (n->prev)
        n->prev->next = n->next;
    else
        head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        tail = n->prev;
    n->prev = n->next = nullptr;
}

} // namespace weft::detail
