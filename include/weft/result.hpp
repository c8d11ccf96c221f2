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

#include "weft/expected.hpp"
#include "weft/task_id.hpp"
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

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
} // namespace detail

/// The outcome of a task: a T (nothing for void) or a join_error. A
/// weft::expected<T, join_error> (weft/expected.hpp): value() throws the
/// join_error itself; expect() adds a message.
template <class T>
class [[nodiscard]] result : public expected<T, join_error> {
    using base = expected<T, join_error>;

public:
    using base::base;
    result() requires std::is_void_v<T>
    = default;
    /// Failure: the task has no output, for the reason `e` gives.
    result(join_error e) : base(unexpect, std::move(e)) {}
    result(const base& b) : base(b) {}
    result(base&& b) : base(std::move(b)) {}

    /// The value, or throws an exception whose what() starts with `msg` and
    /// that nests the join_error (std::rethrow_if_nested gets it back).
    decltype(auto) expect(const std::string& msg) & {
        if (!this->has_value()) detail::throw_expect(msg, this->error());
        if constexpr (!std::is_void_v<T>) return (**this);
    }
    decltype(auto) expect(const std::string& msg) && {
        if (!this->has_value()) detail::throw_expect(msg, this->error());
        if constexpr (!std::is_void_v<T>) return T(std::move(**this));
    }
};

} // namespace weft
