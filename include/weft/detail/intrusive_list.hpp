// The doubly-linked FIFO that weft's wait lists share (notify, semaphore,
// barrier): nodes live in the awaiters (in coroutine frames), the list only
// links them, so waiting allocates nothing. Callers hold the primitive's
// lock around every call.
#pragma once

namespace weft::detail {

/// Appends `n` (its prev/next are overwritten).
template <class Node>
void list_push_back(Node*& head, Node*& tail, Node* n) noexcept {
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
