// weft::task<T>: the lazy coroutine type.
//
// A function returning `task<T>` is a coroutine that does nothing until it is
// awaited (`co_await f()` runs it inside the current task, no new task is
// created) or spawned (`weft::spawn(f)` makes it the root of a new task).
// `co_await` gives its `T` or rethrows the exception that escaped it.
//
//   weft::task<int> answer() { co_return 21 * 2; }
//   weft::task<> caller() {
//       int v = co_await answer();   // 42, in the same task
//   }
//
// Design:
// - The promise sits next to the awaiter (cppcoro style). A task owns its
//   frame: destroying an unstarted or suspended task destroys the frame, and
//   with it every awaited child task and leaf awaitable below it. This is how
//   abort reaches every pending operation (docs/architecture.md, "Cancellation").
// - Awaiting a task and finishing one do not grow the stack: the awaiter
//   and final_suspend hand the next coroutine to the poller's trampoline
//   (thread_context::resume_next, see poll_task in src/task/harness.cpp) instead of
//   resuming it from inside the current one. Symmetric transfer would do
//   the same only where the compiler turns it into a tail call, which Debug
//   builds do not guarantee; the trampoline makes a million awaits of ready
//   tasks in a loop, and chains 100,000 deep, run in constant stack in
//   every build.
// - `co_await` inside a task accepts only weft awaitables (tasks, join
//   handles, weft leaves): they resume the task through the scheduler, never
//   directly on a foreign thread. Anything else is a compile-time error.
// - Frames come from the per-thread pools of frame_allocator.hpp.
#pragma once

#include <coroutine>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <source_location> // __builtin_source_location() needs std::source_location::__impl
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/detail/await_site.hpp"
#include "weft/detail/config.hpp"
#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task/wake.hpp"

namespace weft {

template <class T = void>
class task;

namespace detail {

template <class A>
concept weft_awaitable = std::is_base_of_v<awaitable_tag, std::remove_cvref_t<A>> ||
    requires(A&& a) {
    { std::forward<A>(a).operator co_await() } -> std::derived_from<awaitable_tag>;
};

class task_promise_base {
public:
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h) const noexcept {
            // Hand the parent to the poller's trampoline (see the file
            // comment); a task's root has none and the poller sees done().
            if (std::coroutine_handle<> c = h.promise().continuation_)
                this_thread_context().resume_next = c;
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }
    final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept {
        ::new (static_cast<void*>(&exception_)) std::exception_ptr(std::current_exception());
        // Relied on by has_exception (see the slot's comment); an ABI that
        // broke it would be caught here, not by a wrong result.
        if (WEFT_UNLIKELY(!holds_exception())) std::terminate();
    }

    template <class A>
    A&& await_transform(A&& a, const void* loc = __builtin_source_location()) noexcept {
        // One store per co_await: where this coroutine is waiting, for
        // runtime_handle::dump (detail::await_site). A scalar default
        // argument adds nothing to the frame (a std::source_location
        // temporary would: GCC keeps it across the suspension).
        await_site_ = pack_await_site<A>(loc);
        static_assert(weft_awaitable<A>,
                      "weft::task can only co_await weft awaitables (task<T>, join_handle, "
                      "yield_now, weft::time/sync/net operations). A foreign awaitable would "
                      "resume the task outside the scheduler; wrap it in a weft leaf instead.");
        return std::forward<A>(a);
    }

    static void* operator new(std::size_t n) { return frame_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_deallocate(p, n); }

    task_promise_base() noexcept {}
    ~task_promise_base() {
        if (holds_exception()) exception_.~exception_ptr();
    }

    bool has_exception() const noexcept { return holds_exception(); }
    std::exception_ptr take_exception() noexcept {
        return holds_exception() ? std::move(exception_) : nullptr;
    }
    /// Where this coroutine last co_awaited and what (detail/await_site.hpp),
    /// as stored; unpack_await_site decodes it. Read by the dump while it
    /// holds the task's RUNNING bit.
    std::uintptr_t await_site_word() const noexcept { return slot_word(); }
    /// The coroutine that awaits this one (nullptr for a task's root).
    std::coroutine_handle<> continuation() const noexcept { return continuation_; }

    // A root coroutine has no continuation; it keeps its task's interrupt
    // scopes (detail/task/header.hpp) in the same word. Scopes are all popped
    // before the root finishes, so final_suspend reads a null continuation.
    union {
        std::coroutine_handle<> continuation_{};
        interrupt_scope* scopes_;
    };
    // One word, two lives, no flag (a flag would cost 8-16 bytes in every
    // frame, decision 0030). While the coroutine runs or is suspended it is
    // the await site (detail/await_site.hpp), tagged with bit 0; after
    // unhandled_exception it is the exception_ptr, whose representation in
    // libstdc++ and libc++ is one pointer to the thrown object: non-null
    // and at least 16-aligned, so bit 0 is clear. Zero means neither.
    static_assert(sizeof(std::exception_ptr) == sizeof(std::uintptr_t),
                  "weft::task_promise packs the await site and the exception_ptr into one word");
    union {
        std::uintptr_t await_site_ = 0;
        std::exception_ptr exception_;
    };
    std::uintptr_t slot_word() const noexcept {
        std::uintptr_t w;
        std::memcpy(&w, static_cast<const void*>(&exception_), sizeof w); // the slot's bytes
        return w;
    }
    bool holds_exception() const noexcept {
        std::uintptr_t w = slot_word();
        return w != 0 && (w & await_site_tag) == 0;
    }
};

template <class T>
class task_promise final : public task_promise_base {
    // Frames come 16-aligned from the frame pools (frame_allocator.hpp), and
    // the dump finds every task_promise at the offset of task_promise<void>.
    static_assert(alignof(T) <= 16,
                  "weft::task<T>: T may not be aligned to more than 16 bytes (coroutine frames "
                  "are 16-byte aligned); return it in a std::unique_ptr<T>");

public:
    task_promise() noexcept {}
    ~task_promise() {
        if (has_value_) value_.~T();
    }
    task<T> get_return_object() noexcept;

    template <class U = T>
    requires std::is_convertible_v<U&&, T>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
        has_value_ = true;
    }

    /// The result: the value, or rethrows the exception.
    T take() {
        if (holds_exception()) std::rethrow_exception(std::move(exception_));
        return std::move(value_);
    }
    /// The value, when there is no exception.
    T&& value() noexcept { return std::move(value_); }

private:
    union {
        T value_;
    };
    bool has_value_ = false;
};

template <>
class task_promise<void> final : public task_promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take() {
        if (holds_exception()) std::rethrow_exception(std::move(exception_));
    }
};

template <class T>
class task_promise<T&> final : public task_promise_base {
public:
    task<T&> get_return_object() noexcept;
    void return_value(T& v) noexcept { value_ = std::addressof(v); }
    T& take() {
        if (holds_exception()) std::rethrow_exception(std::move(exception_));
        return *value_;
    }
    T& value() noexcept { return *value_; }

private:
    T* value_ = nullptr;
};

} // namespace detail

/// A lazy coroutine producing T. Move-only; awaiting consumes it.
///
///   weft::task<std::string> greet(std::string name) {
///       co_return "hello, " + name;   // parameters are copied into the frame
///   }
template <class T>
class [[nodiscard]] WEFT_CORO_RETURN_TYPE task {
public:
    static constexpr weft::detail::await_kind weft_await_kind = weft::detail::await_kind::task;
    using promise_type = detail::task_promise<T>;
    using value_type = T;
    using handle_type = std::coroutine_handle<promise_type>;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : handle_(h) {}
    task(task&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            if (handle_) handle_.destroy();
            handle_ = std::exchange(o.handle_, nullptr);
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() {
        if (handle_) handle_.destroy();
    }

    /// Whether this object holds a coroutine (false once moved from or awaited).
    bool valid() const noexcept { return static_cast<bool>(handle_); }

    /// Owns the child frame from the co_await on, so that a task can be
    /// awaited once only and its frame dies with the co_await expression.
    struct awaiter : detail::awaitable_tag {
        handle_type child;

        explicit awaiter(handle_type h) noexcept : child(h) {}
        awaiter(awaiter&& o) noexcept : child(std::exchange(o.child, nullptr)) {}
        awaiter& operator=(awaiter&&) = delete;
        ~awaiter() {
            if (child) child.destroy();
        }

        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> parent) const noexcept {
            child.promise().continuation_ = parent;
            detail::this_thread_context().resume_next = child; // the poller resumes it next
        }
        T await_resume() { return child.promise().take(); }
    };

    /// Runs the task inside the current one and gives its result. The task is
    /// consumed: awaiting an empty task throws std::logic_error.
    awaiter operator co_await() && { return awaiter{take_checked()}; }
    awaiter operator co_await() & { return awaiter{take_checked()}; }

    /// Gives up ownership of the coroutine (used by spawn).
    handle_type release() noexcept { return std::exchange(handle_, nullptr); }

private:
    handle_type take_checked() {
        if (!handle_) throw_empty();
        return std::exchange(handle_, nullptr);
    }
    [[noreturn]] static void throw_empty();

    handle_type handle_{};
};

template <class T>
void task<T>::throw_empty() {
    throw std::logic_error(
        "weft::task: co_await on an empty task (moved from, or already awaited)");
}

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
template <class T>
task<T&> task_promise<T&>::get_return_object() noexcept {
    return task<T&>(std::coroutine_handle<task_promise<T&>>::from_promise(*this));
}

template <class X>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};

/// An awaitable's awaiter: what its operator co_await() gives, or itself.
template <class A>
decltype(auto) awaiter_of(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); })
        return std::forward<A>(a).operator co_await();
    else
        return std::forward<A>(a);
}
template <class A>
using await_result_t = decltype(awaiter_of(std::declval<A>()).await_resume());

template <class A, class R>
struct awaitable_task {
    // Static functions, not lambdas (docs/compiler-traps.md: a lambda
    // temporary in a co_await expression is destroyed twice by GCC 12, and
    // the coroutine must not keep a pointer to a closure that dies at the
    // end of the full-expression).
    static task<R> by_ref(std::remove_reference_t<A>* a) { co_return co_await *a; }
    static task<R> by_value(std::decay_t<A> a) { co_return co_await std::move(a); }
};

/// A weft awaitable that is not a task, as a task that awaits it (join and
/// select branches, timeout's work): an lvalue by reference (it must
/// outlive the co_await), an rvalue moved into the new task's frame.
template <class A>
WEFT_CORO_WRAPPER auto awaitable_as_task(A&& a) {
    using R = await_result_t<A>;
    if constexpr (std::is_lvalue_reference_v<A>)
        return awaitable_task<A, R>::by_ref(std::addressof(a));
    else
        return awaitable_task<A, R>::by_value(std::move(a));
}
} // namespace detail

} // namespace weft
