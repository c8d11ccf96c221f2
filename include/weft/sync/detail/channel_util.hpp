// Pieces shared by weft's channels (oneshot, mpsc, watch, broadcast):
//
// - `weft::sync::expected<T, E>`: the result type of channel operations
//   that can fail (a small C++20 stand-in for C++23's std::expected).
// - `weft::sync::detail::wait_list`: an intrusive doubly linked list of
//   waiter nodes that live inside awaiters, so waiting allocates nothing.
//   Whoever owns the list guards it (and every node's fields) with its lock.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/detail/task/wake.hpp"

namespace weft::sync {

/// Thrown by expected<T, E>::value() when the object holds an error.
///
///   try { auto v = (co_await rx).value(); }
///   catch (const weft::sync::bad_result_access&) { /* closed */ }
class bad_result_access : public std::logic_error {
public:
    bad_result_access() : std::logic_error("weft::sync: value() called on an error result") {}
};

/// Tag selecting the error constructor of expected<T, E>.
struct unexpect_t {
    explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

/// Holds either a T (success; nothing for T = void) or an E (failure).
/// The subset of C++23's std::expected that weft's channels need.
///
///   weft::sync::expected<int, weft::sync::oneshot::recv_error> r = co_await rx;
///   if (r) use(*r);                 // or r.value(), which throws on error
///   else if (r.error() == weft::sync::oneshot::recv_error::closed) ...
template <class T, class E>
class [[nodiscard]] expected {
    using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

public:
    using value_type = T;
    using error_type = E;

    /// Success (only for T = void, or a default-constructible T).
    expected() requires std::is_default_constructible_v<stored> : v_(std::in_place_index<0>) {}
    /// Success holding `v`.
    template <class U = stored>
    requires(!std::is_void_v<T> && std::is_constructible_v<stored, U&&> &&
             !std::is_same_v<std::remove_cvref_t<U>, expected> &&
             !std::is_same_v<std::remove_cvref_t<U>, unexpect_t>) expected(U&& v)
        : v_(std::in_place_index<0>, std::forward<U>(v)) {}
    /// Failure holding E(args...).
    template <class... A>
    explicit expected(unexpect_t, A&&... args)
        : v_(std::in_place_index<1>, std::forward<A>(args)...) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; throws bad_result_access on error.
    decltype(auto) value() & {
        check();
        if constexpr (!std::is_void_v<T>) return std::get<0>(v_);
    }
    decltype(auto) value() && {
        check();
        if constexpr (!std::is_void_v<T>) return std::move(std::get<0>(v_));
    }
    /// The value; undefined on error.
    template <class U = T>
    requires(!std::is_void_v<U>) U& operator*() & noexcept { return *std::get_if<0>(&v_); }
    template <class U = T>
    requires(!std::is_void_v<U>) U && operator*() && noexcept {
        return std::move(*std::get_if<0>(&v_));
    }
    template <class U = T>
    requires(!std::is_void_v<U>) U* operator->() noexcept { return std::get_if<0>(&v_); }
    /// The error; undefined on success.
    E& error() & noexcept { return *std::get_if<1>(&v_); }
    const E& error() const& noexcept { return *std::get_if<1>(&v_); }
    E&& error() && noexcept { return std::move(*std::get_if<1>(&v_)); }

private:
    void check() const {
        if (!has_value()) throw bad_result_access();
    }
    std::variant<stored, E> v_;
};

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
        n->prev = tail;
        n->next = nullptr;
        if (tail)
            tail->next = n;
        else
            head = n;
        tail = n;
        n->linked = true;
    }
    void unlink(wait_node* n) noexcept {
        if (n->prev)
            n->prev->next = n->next;
        else
            head = n->next;
        if (n->next)
            n->next->prev = n->prev;
        else
            tail = n->prev;
        n->prev = n->next = nullptr;
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
