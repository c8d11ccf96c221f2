// The task cells: the object a spawned task or a blocking call *is*. Each
// is a task_header (detail/task/header.hpp) followed by what the task owns, in one
// heap block:
//
// - spawned_task<C, R>: the callable C that created the root coroutine
//   (kept alive in place, since the coroutine frame may point into it),
//   then, once the task finished, its output R in the same bytes. An empty
//   lambda of a void task adds nothing to the 72-byte header.
// - blocking_task<C, R>: a plain callable run on the blocking pool; the
//   same sharing of the callable's bytes with the output.
//
// The vtable (detail/task/header.hpp) is the cell's only interface to the
// runtime: finish, drop the callable, drop or read the output, deallocate.
// The join side (join_handle, join_set) reads the output through
// read_output into a result<R>.
//
// Cells are built in one place: detail::spawn_into and make_blocking_task
// (spawn_into.hpp).
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task/wake.hpp"
#include "weft/result.hpp"
#include "weft/task.hpp"
#include "weft/task_id.hpp"

namespace weft::detail {

/// The callable of a task spawned in task form: there is none (empty, so
/// it takes no bytes); the root coroutine is adopted directly.
struct adopted_root {
    template <class R>
    task<R> operator()() const; // never called
};

/// How a task's output is kept between completion and the join: a value
/// as itself, a reference as a pointer.
template <class R>
struct output_of {
    using type = R;
    static R&& get(type& v) noexcept { return std::move(v); }
};
template <class R>
struct output_of<R&> {
    using type = R*;
    static R& get(type& v) noexcept { return *v; }
};

/// The join side of a finished task's output, shared by spawned tasks and
/// blocking calls: drops it (`destroy` destroys the value, called only for
/// a value), or moves it into a result<R> at `dst` (`get` gives the value).
template <class R, class Destroy>
void drop_task_output(task_header* t, Destroy&& destroy) noexcept {
    switch (t->output()) {
    case output_kind::panic:
        t->panic.~exception_ptr();
        break;
    case output_kind::value:
        if constexpr (!std::is_void_v<R>) destroy();
        break;
    default:
        break;
    }
    t->set_output(output_kind::taken);
}
template <class R, class Get>
void read_task_output(task_header* t, void* dst, Get&& get) noexcept {
    switch (t->output()) {
    case output_kind::panic:
        ::new (dst) result<R>(join_error::panic(task_id(t->id), std::move(t->panic)));
        break;
    case output_kind::value:
        if constexpr (!std::is_void_v<R>) {
            ::new (dst) result<R>(get());
        } else {
            ::new (dst) result<R>();
        }
        break;
    default:
        ::new (dst) result<R>(join_error::cancelled(task_id(t->id)));
        break;
    }
}

template <class C, class R>
class spawned_task final : public task_header {
    static constexpr bool has_value = !std::is_void_v<R>;
    // An empty, trivially destructible callable (a lambda without captures)
    // of a void task takes no space at all.
    static constexpr bool empty_storage =
        !has_value && std::is_empty_v<C> && std::is_trivially_destructible_v<C>;
    using out_t = typename output_of<std::conditional_t<has_value, R, int>>::type;

public:
    template <class CC>
    spawned_task(scheduler* s, std::uint64_t tid, CC&& c, std::uint32_t site = 0)
        : task_header(&vtable, s, tid, nullptr, site), storage_(std::forward<CC>(c)) {}

    C& callable() noexcept { return storage_.fn(); }

    static void* operator new(std::size_t n) { return header_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { header_deallocate(p, n); }

    static const task_vtable vtable;

private:
    struct empty_t {
        [[no_unique_address]] C f;
        template <class CC>
        explicit empty_t(CC&& c) : f(std::forward<CC>(c)) {}
        C& fn() noexcept { return f; }
        void drop_fn() noexcept {}
    };
    // The callable until the task finishes, then the output: they are never
    // alive together, so they share the bytes.
    struct shared_t {
        union {
            C f;
            out_t out;
        };
        template <class CC>
        explicit shared_t(CC&& c) : f(std::forward<CC>(c)) {}
        ~shared_t() {}
        C& fn() noexcept { return f; }
        void drop_fn() noexcept { f.~C(); }
    };
    [[no_unique_address]] std::conditional_t<empty_storage, empty_t, shared_t> storage_;

    static spawned_task* self(task_header* t) noexcept { return static_cast<spawned_task*>(t); }

    static void finish_fn(task_header* t) noexcept {
        spawned_task* st = self(t);
        auto h = std::coroutine_handle<task_promise<R>>::from_address(t->root.address());
        task_promise<R>& p = h.promise();
        st->storage_.drop_fn();
        if (p.has_exception()) {
            ::new (static_cast<void*>(std::addressof(t->panic)))
                std::exception_ptr(p.take_exception());
            t->set_output(output_kind::panic);
        } else {
            if constexpr (has_value) {
                if constexpr (std::is_reference_v<R>) {
                    st->storage_.out = std::addressof(p.value());
                } else {
                    ::new (static_cast<void*>(std::addressof(st->storage_.out))) R(p.value());
                }
            }
            t->set_output(output_kind::value);
        }
        h.destroy();
        t->root = nullptr;
    }
    static void drop_callable_fn(task_header* t) noexcept { self(t)->storage_.drop_fn(); }
    static void drop_output_fn(task_header* t) noexcept {
        drop_task_output<R>(t, [&] {
            if constexpr (has_value) self(t)->storage_.out.~out_t();
        });
    }
    static void read_output_fn(task_header* t, void* dst) noexcept {
        read_task_output<R>(t, dst, [&]() -> decltype(auto) {
            if constexpr (has_value) return output_of<R>::get(self(t)->storage_.out);
        });
        drop_output_fn(t);
    }
    static void dealloc_fn(task_header* t) noexcept { delete self(t); }
    static interrupt_scope*& scopes_fn(task_header* t) noexcept {
        return std::coroutine_handle<task_promise<R>>::from_address(t->root.address())
            .promise()
            .scopes_;
    }
};

template <class C, class R>
const task_vtable spawned_task<C, R>::vtable = {&finish_fn,      &drop_callable_fn, &drop_output_fn,
                                                &read_output_fn, &dealloc_fn,       &scopes_fn};

/// The scopes word of a task without a coroutine (never used: a blocking
/// call has no timeout scopes).
interrupt_scope*& no_interrupt_scopes(task_header*) noexcept;

template <class C, class R>
class blocking_task final : public task_header {
    static constexpr bool has_value = !std::is_void_v<R>;
    using out_t = std::conditional_t<has_value, R, char>;

public:
    template <class CC>
    explicit blocking_task(std::uint64_t tid, CC&& c)
        : task_header(&vtable, nullptr, tid, nullptr), f_(std::forward<CC>(c)) {}

    static void* operator new(std::size_t n) { return header_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { header_deallocate(p, n); }

    static const task_vtable vtable;

private:
    // The callable until the call returned, then the output: never alive
    // together, so they share the bytes (as in spawned_task).
    union {
        C f_;
        out_t out_;
    };
    ~blocking_task() {}

    static blocking_task* self(task_header* t) noexcept { return static_cast<blocking_task*>(t); }

    // For a blocking task, `finish` *runs* the call (run_blocking_task holds
    // RUNNING): the callable is invoked and destroyed, then the value or the
    // exception goes to the output slot.
    static void finish_fn(task_header* t) noexcept {
        blocking_task* b = self(t);
        try {
            if constexpr (has_value) {
                R v = std::invoke(std::move(b->f_));
                b->f_.~C();
                ::new (static_cast<void*>(std::addressof(b->out_))) R(std::move(v));
            } else {
                std::invoke(std::move(b->f_));
                b->f_.~C();
            }
            t->set_output(output_kind::value);
        } catch (...) {
            // The callable is destroyed here too (its destructor runs on the
            // pool's thread, as after a normal return).
            b->f_.~C();
            ::new (static_cast<void*>(std::addressof(t->panic)))
                std::exception_ptr(std::current_exception());
            t->set_output(output_kind::panic);
        }
    }
    static void drop_callable_fn(task_header* t) noexcept { self(t)->f_.~C(); }
    static void drop_output_fn(task_header* t) noexcept {
        drop_task_output<R>(t, [&] {
            if constexpr (has_value) self(t)->out_.~out_t();
        });
    }
    static void read_output_fn(task_header* t, void* dst) noexcept {
        read_task_output<R>(t, dst, [&]() -> decltype(auto) {
            if constexpr (has_value) return std::move(self(t)->out_);
        });
        drop_output_fn(t);
    }
    static void dealloc_fn(task_header* t) noexcept { delete self(t); }
};

template <class C, class R>
const task_vtable blocking_task<C, R>::vtable = {&finish_fn,      &drop_callable_fn,
                                                 &drop_output_fn, &read_output_fn,
                                                 &dealloc_fn,     &no_interrupt_scopes};

} // namespace weft::detail
