// weft::expected<T, E>: a value or the error that says why there is none.
//
// The one result vocabulary under every weft result type (decision 0044):
// `weft::result<T>` (a task's output or its join_error), `io::result<T>`,
// `time::timeout_result<T>`, the channels' `sync::expected` results,
// `sync::semaphore::try_acquire_result` and `try_join_result` are this class
// or derive from it, so each has the same members where the meaning is the
// same: has_value(), operator bool, value(), error(), operator*, ->,
// value_or(). It is a C++20 stand-in for C++23's std::expected.
//
//   weft::expected<int, std::string> parse(std::string_view s) {
//       if (s.empty()) return weft::unexpected(std::string("empty input"));
//       return static_cast<int>(s.size());
//   }
//   int digits(std::string_view s) {
//       auto r = parse(s);
//       if (!r) return -1;       // r.error() says why
//       return *r;
//   }
//
// # Design
//
// - Union storage and a flag, not std::variant: no default-constructible T
//   is needed, and it costs one flag. (It does not cure GCC 12's
//   `if (!co_await x)` bug, which does not depend on the type: name the
//   result first, docs/compiler-traps.md.)
//   T may be void, move-only or not default-constructible.
// - value() on an error throws the error itself when E is an exception type
//   (join_error, time::elapsed), and weft::bad_expected_access otherwise. A
//   result type with its own exception (io::result throws std::system_error)
//   says so in its header.
// - error() on a value throws bad_expected_access (a std::logic_error).
//   operator* and -> do not check (WEFT_ASSERT does, in checked builds).
// - Trivially destructible when T and E are. Assignment needs T and E to be
//   nothrow move constructible, so that an assignment that changes the state
//   cannot leave the object holding neither.
#pragma once

#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/assert.hpp"

namespace weft {

/// Thrown by expected<T, E>::value() when it holds an error that is not
/// itself an exception, and by error() when it holds a value.
///
///   weft::expected<int, std::string> r(weft::unexpect, "no value");
///   try { int v = r.value(); }
///   catch (const weft::bad_expected_access& e) { /* r held an error */ }
class bad_expected_access : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Tag selecting the error constructor: expected<T, E>(unexpect, args...).
struct unexpect_t {
    explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

/// An error on its way into an expected: `return weft::unexpected(e);`.
///
///   weft::expected<int, std::errc> r = weft::unexpected(std::errc::invalid_argument);
template <class E>
class unexpected {
public:
    template <class G = E>
    requires(!std::is_same_v<std::remove_cvref_t<G>, unexpected> &&
             std::is_constructible_v<E, G&&>) explicit unexpected(G&& e)
        : e_(std::forward<G>(e)) {}

    E& error() & noexcept { return e_; }
    const E& error() const& noexcept { return e_; }
    E&& error() && noexcept { return std::move(e_); }

private:
    E e_;
};
template <class E>
unexpected(E) -> unexpected<E>;

namespace detail {

/// What a void expected stores for its value.
struct expected_void {};

template <class E>
[[noreturn]] void throw_expected_error(const E& e) {
    if constexpr (std::is_base_of_v<std::exception, E> && std::is_copy_constructible_v<E>)
        throw e;
    else
        throw bad_expected_access("weft::expected::value(): the result holds an error");
}
[[noreturn]] inline void throw_expected_value() {
    throw bad_expected_access("weft::expected::error(): the result holds a value, not an error");
}

} // namespace detail

/// A T (nothing for T = void) or an E. See the top of this header.
///
///   weft::expected<void, std::string> r;          // success
///   weft::expected<int, std::string> e(weft::unexpect, "no such key");
///   int v = e.value_or(0);                        // 0
template <class T, class E>
class [[nodiscard]] expected {
    using stored = std::conditional_t<std::is_void_v<T>, detail::expected_void, T>;
    static constexpr bool trivial_dtor =
        std::is_trivially_destructible_v<stored> && std::is_trivially_destructible_v<E>;

public:
    using value_type = T;
    using error_type = E;

    /// Success: T = void, or a value-initialised T.
    expected() requires std::is_default_constructible_v<stored> : has_(true) {
        ::new (static_cast<void*>(std::addressof(val_))) stored();
    }
    /// Success holding `v`.
    template <class U = stored>
    requires(!std::is_void_v<T> && std::is_constructible_v<stored, U&&> &&
             !std::is_base_of_v<expected, std::remove_cvref_t<U>> &&
             !std::is_same_v<std::remove_cvref_t<U>, unexpect_t> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>) expected(U&& v)
        : has_(true) {
        ::new (static_cast<void*>(std::addressof(val_))) stored(std::forward<U>(v));
    }
    /// Success holding T(args...).
    template <class... A>
    requires std::is_constructible_v<stored, A&&...>
    explicit expected(std::in_place_t, A&&... a) : has_(true) {
        ::new (static_cast<void*>(std::addressof(val_))) stored(std::forward<A>(a)...);
    }
    /// Failure holding E(args...).
    template <class... A>
    requires std::is_constructible_v<E, A&&...>
    explicit expected(unexpect_t, A&&... a) : has_(false) {
        ::new (static_cast<void*>(std::addressof(err_))) E(std::forward<A>(a)...);
    }
    /// Failure, from weft::unexpected(e).
    template <class G>
    requires std::is_constructible_v<E, const G&> expected(const unexpected<G>& u) : has_(false) {
        ::new (static_cast<void*>(std::addressof(err_))) E(u.error());
    }
    template <class G>
    requires std::is_constructible_v<E, G&&> expected(unexpected<G>&& u) : has_(false) {
        ::new (static_cast<void*>(std::addressof(err_))) E(std::move(u).error());
    }

    expected(const expected& o) requires(
        std::is_copy_constructible_v<stored>&& std::is_copy_constructible_v<E>)
        : has_(o.has_) {
        construct_from(o);
    }
    expected(expected&& o) noexcept(
        std::is_nothrow_move_constructible_v<stored>&& std::is_nothrow_move_constructible_v<
            E>) requires(std::is_move_constructible_v<stored>&& std::is_move_constructible_v<E>)
        : has_(o.has_) {
        construct_from(std::move(o));
    }
    expected& operator=(const expected& o) requires(
        std::is_copy_constructible_v<stored>&& std::is_copy_constructible_v<E>&&
            std::is_nothrow_move_constructible_v<stored>&&
                std::is_nothrow_move_constructible_v<E>) {
        if (this != &o) {
            expected copy(o); // may throw; *this is untouched then
            destroy();
            has_ = copy.has_;
            construct_from(std::move(copy));
        }
        return *this;
    }
    expected& operator=(expected&& o) noexcept requires(
        std::is_nothrow_move_constructible_v<stored>&& std::is_nothrow_move_constructible_v<E>) {
        if (this != &o) {
            destroy();
            has_ = o.has_;
            construct_from(std::move(o));
        }
        return *this;
    }

    ~expected() requires trivial_dtor = default;
    ~expected() requires(!trivial_dtor) { destroy(); }

    bool has_value() const noexcept { return has_; }
    explicit operator bool() const noexcept { return has_; }

    /// The value; on an error throws the error (an exception type E) or
    /// bad_expected_access.
    decltype(auto) value() & {
        if (!has_) detail::throw_expected_error(err_);
        if constexpr (!std::is_void_v<T>) return (val_);
    }
    decltype(auto) value() const& {
        if (!has_) detail::throw_expected_error(err_);
        if constexpr (!std::is_void_v<T>) return (val_);
    }
    decltype(auto) value() && {
        if (!has_) detail::throw_expected_error(err_);
        if constexpr (!std::is_void_v<T>) return T(std::move(val_));
    }

    /// The value, or `fallback` on an error.
    template <class U>
    requires(!std::is_void_v<T>) T value_or(U&& fallback)
    const& { return has_ ? val_ : static_cast<T>(std::forward<U>(fallback)); }
    template <class U>
    requires(!std::is_void_v<T>) T value_or(U&& fallback) && {
        return has_ ? std::move(val_) : static_cast<T>(std::forward<U>(fallback));
    }

    /// The error; throws bad_expected_access when there is a value.
    E& error() & {
        if (has_) detail::throw_expected_value();
        return err_;
    }
    const E& error() const& {
        if (has_) detail::throw_expected_value();
        return err_;
    }
    E&& error() && {
        if (has_) detail::throw_expected_value();
        return std::move(err_);
    }

    /// The value, unchecked (precondition: has_value()).
    template <class U = T>
    requires(!std::is_void_v<U>) U& operator*() & noexcept {
        WEFT_ASSERT(has_, "weft::expected: operator* on an error");
        return val_;
    }
    template <class U = T>
    requires(!std::is_void_v<U>) const U& operator*() const& noexcept {
        WEFT_ASSERT(has_, "weft::expected: operator* on an error");
        return val_;
    }
    template <class U = T>
    requires(!std::is_void_v<U>) U && operator*() && noexcept {
        WEFT_ASSERT(has_, "weft::expected: operator* on an error");
        return std::move(val_);
    }
    template <class U = T>
    requires(!std::is_void_v<U>) U* operator->() noexcept {
        WEFT_ASSERT(has_, "weft::expected: operator-> on an error");
        return std::addressof(val_);
    }
    template <class U = T>
    requires(!std::is_void_v<U>) const U* operator->() const noexcept {
        WEFT_ASSERT(has_, "weft::expected: operator-> on an error");
        return std::addressof(val_);
    }

private:
    template <class O>
    void construct_from(O&& o) {
        if (has_)
            ::new (static_cast<void*>(std::addressof(val_))) stored(std::forward<O>(o).val_);
        else
            ::new (static_cast<void*>(std::addressof(err_))) E(std::forward<O>(o).err_);
    }
    void destroy() noexcept {
        if constexpr (!trivial_dtor) {
            if (has_)
                val_.~stored();
            else
                err_.~E();
        }
    }

    union {
        stored val_;
        E err_;
    };
    bool has_;
};

} // namespace weft
