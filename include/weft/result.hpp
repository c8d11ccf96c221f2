// weft::result<T>, weft::join_error, weft::resume_unwind.
//
// Awaiting a join_handle<T> gives result<T>: the task's value, or a
// join_error saying why there is none: the task was cancelled (aborted, or
// its runtime shut down), or it "panicked" (an exception escaped it).
//
//   weft::result<std::size_t> r = co_await handle;
//   if (r) {
//       use(*r);
//   } else if (r.error().is_cancelled()) {
//       std::cerr << "task was cancelled\n";
//   } else {
//       weft::resume_unwind(std::move(r).error().into_panic()); // rethrow it here
//   }
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "weft/task_id.hpp"

namespace weft {

/// Why a task has no output. Also an exception: result<T>::value() throws it.
class join_error : public std::exception {
public:
    /// A cancelled task.
    static join_error cancelled(task_id id) { return join_error(id, nullptr); }
    /// A task that threw `e`.
    static join_error panic(task_id id, std::exception_ptr e) {
        return join_error(id, std::move(e));
    }

    bool is_cancelled() const noexcept { return !panic_; }
    bool is_panic() const noexcept { return static_cast<bool>(panic_); }
    task_id id() const noexcept { return id_; }

    /// The exception that escaped the task. Throws std::logic_error if the
    /// task was cancelled instead.
    std::exception_ptr into_panic() && {
        if (!panic_)
            throw std::logic_error("join_error::into_panic: the task was cancelled, not a panic");
        return std::move(panic_);
    }
    /// Like into_panic, but nullopt for a cancelled task.
    std::optional<std::exception_ptr> try_into_panic() && {
        if (!panic_) return std::nullopt;
        return std::move(panic_);
    }

    const char* what() const noexcept override { return message_.c_str(); }

private:
    join_error(task_id id, std::exception_ptr e);

    task_id id_;
    std::exception_ptr panic_;
    std::string message_;
};

/// Rethrows `e` (Rust's std::panic::resume_unwind). `e` must not be null.
[[noreturn]] void resume_unwind(std::exception_ptr e);

namespace detail {
[[noreturn]] void throw_expect(const std::string& msg, const join_error& e);
[[noreturn]] void throw_bad_result_access();
} // namespace detail

/// The outcome of a task: a T (nothing for void) or a join_error.
template <class T>
class [[nodiscard]] result {
    using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

public:
    using value_type = T;

    result(join_error e) : v_(std::in_place_index<1>, std::move(e)) {}
    template <class U = stored>
    requires(!std::is_void_v<T> && std::is_constructible_v<stored, U&&> &&
             !std::is_same_v<std::remove_cvref_t<U>, join_error> &&
             !std::is_same_v<std::remove_cvref_t<U>, result>) result(U&& v)
        : v_(std::in_place_index<0>, std::forward<U>(v)) {}
    result() requires std::is_void_v<T> : v_(std::in_place_index<0>) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; throws the join_error when there is none.
    decltype(auto) value() & {
        if (!has_value()) throw std::get<1>(v_);
        if constexpr (!std::is_void_v<T>) return (std::get<0>(v_));
    }
    decltype(auto) value() const& {
        if (!has_value()) throw std::get<1>(v_);
        if constexpr (!std::is_void_v<T>) return (std::get<0>(v_));
    }
    decltype(auto) value() && {
        if (!has_value()) throw std::get<1>(std::move(v_));
        if constexpr (!std::is_void_v<T>) return T(std::get<0>(std::move(v_)));
    }

    /// The value, or throws an exception whose what() starts with `msg` and
    /// that nests the join_error (std::rethrow_if_nested gets it back).
    decltype(auto) expect(const std::string& msg) & {
        if (!has_value()) detail::throw_expect(msg, std::get<1>(v_));
        if constexpr (!std::is_void_v<T>) return (std::get<0>(v_));
    }
    decltype(auto) expect(const std::string& msg) && {
        if (!has_value()) detail::throw_expect(msg, std::get<1>(v_));
        if constexpr (!std::is_void_v<T>) return T(std::get<0>(std::move(v_)));
    }

    /// The error; throws std::logic_error when the result holds a value.
    const join_error& error() const& {
        if (has_value()) detail::throw_bad_result_access();
        return std::get<1>(v_);
    }
    join_error&& error() && {
        if (has_value()) detail::throw_bad_result_access();
        return std::get<1>(std::move(v_));
    }

    template <class U = T>
    requires(!std::is_void_v<U>) U& operator*() & noexcept { return std::get<0>(v_); }
    template <class U = T>
    requires(!std::is_void_v<U>) const U& operator*() const& noexcept { return std::get<0>(v_); }
    template <class U = T>
    requires(!std::is_void_v<U>) U && operator*() && noexcept { return std::get<0>(std::move(v_)); }
    template <class U = T>
    requires(!std::is_void_v<U>) U* operator->() noexcept { return &std::get<0>(v_); }
    template <class U = T>
    requires(!std::is_void_v<U>) const U* operator->() const noexcept { return &std::get<0>(v_); }

private:
    std::variant<stored, join_error> v_;
};

} // namespace weft
