// weft::spawn: start a new task.
//
//   auto h = weft::spawn([name = std::string("job")]() -> weft::task<std::size_t> {
//       co_return name.size();      // the capture lives as long as the task
//   });
//   auto h2 = weft::spawn(fetch, std::string("db"), 300);  // fetch(std::string, int)
//
// `spawn(f, args...)`: `f(args...)` must return `task<R>`. `f` and `args` are
// decay-copied (moved) into the task, like std::thread, so a lambda's
// captures and the arguments live exactly as long as the task; a reference
// needs std::ref. The task is scheduled at once (eager) and the call returns
// join_handle<R>. Outside a runtime, spawn throws weft::runtime_error.
//
// `spawn(task<R>&&)` spawns a task that was already created. Its coroutine
// must not refer to anything that dies before the task does.
//
// Every overload records the task's spawn site (the caller's source
// location, and a name when spawned as `spawn(named("x"), f, args...)`):
// see observe.hpp.
//
// Layout: one block holds the task_header and the callable; the callable
// is invoked once, in place, so the coroutine frame may point into it. An
// empty lambda adds nothing to the 72-byte header.
#pragma once

#include <functional>
#include <memory>
#include <new>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/detail/frame_allocator.hpp"
#include "weft/detail/task_header.hpp"
#include "weft/join_handle.hpp"
#include "weft/observe.hpp"
#include "weft/result.hpp"
#include "weft/task.hpp"

namespace weft {

namespace detail {

/// The runtime a spawn goes to: the one this thread is inside.
runtime_core* current_runtime_for_spawn();
scheduler* runtime_scheduler(runtime_core* rt) noexcept;
std::uint64_t next_task_id() noexcept;
/// Registers a new task with its runtime and schedules it (or cancels it at
/// once if the runtime has shut down).
void submit_spawned(runtime_core* rt, task_header* t) noexcept;

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

/// invoke_callable's member-function-pointer case (std::invoke's rules).
template <class M, class C, class O, class... A>
WEFT_CORO_WRAPPER decltype(auto) invoke_member(M C::*f, O&& o, A&&... a) {
    using Od = std::remove_cvref_t<O>;
    if constexpr (std::is_base_of_v<C, Od>) {
        return (std::forward<O>(o).*f)(std::forward<A>(a)...);
    } else if constexpr (is_reference_wrapper<Od>::value) {
        return (o.get().*f)(std::forward<A>(a)...);
    } else {
        return ((*std::forward<O>(o)).*f)(std::forward<A>(a)...);
    }
}

/// std::invoke for the callables weft runs, without std::invoke: with
/// Clang's coroutine lifetime analysis (task is coro_return_type), every
/// function returning a task must be a coroutine or marked coro_wrapper,
/// and std::invoke/std::apply are neither. Member function pointers take
/// the object (or a pointer or reference_wrapper to it) first, as in
/// std::invoke.
template <class F, class... A>
WEFT_CORO_WRAPPER decltype(auto) invoke_callable(F&& f, A&&... a) {
    using Fd = std::remove_cvref_t<F>;
    if constexpr (std::is_member_function_pointer_v<Fd>) {
        return invoke_member(f, std::forward<A>(a)...);
    } else {
        return std::forward<F>(f)(std::forward<A>(a)...);
    }
}

/// The callable and its arguments, invoked once in place.
template <class F, class... Args>
struct bound_call {
    F fn;
    std::tuple<Args...> args;
    WEFT_CORO_WRAPPER decltype(auto) operator()() {
        return call(std::index_sequence_for<Args...>{});
    }

private:
    template <std::size_t... I>
    WEFT_CORO_WRAPPER decltype(auto) call(std::index_sequence<I...>) {
        return invoke_callable(std::move(fn), std::move(std::get<I>(args))...);
    }
};

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
    spawned_task(scheduler* s, std::uint64_t task_id_value, CC&& c, std::uint32_t site = 0)
        : task_header(&vtable, s, task_id_value, nullptr, site), storage_(std::forward<CC>(c)) {}

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

/// Builds a spawned_task around an existing root coroutine.
template <class R>
auto adopt_root(scheduler* s, task<R>&& root, std::uint32_t site = 0) {
    if (!root.valid()) throw std::logic_error("weft::spawn: empty task");
    auto* t = new spawned_task<adopted_root, R>(s, next_task_id(), adopted_root{}, site);
    t->root = t->resume_point = root.release();
    return t;
}

template <class C>
using callable_result_t = std::invoke_result_t<C&&>;

/// Builds the task of `c` (a callable returning task<R>) for scheduler `s`,
/// spawned at `site` (spawn_site.hpp), with its root coroutine created but
/// not yet scheduled. The caller
/// submits it (it holds the initial references, task_state.hpp).
template <class C>
auto build_spawned_task(scheduler* s, C&& c, std::uint32_t site = 0) {
    using Cd = std::decay_t<C>;
    using T = callable_result_t<Cd>;
    static_assert(is_task<T>::value, "weft::spawn: the callable must return weft::task<R>");
    using R = typename T::value_type;
    static_assert(
        !std::is_reference_v<R>,
        "weft::spawn: a spawned task's output outlives the code that spawned it, so it "
        "must be a value; return a pointer or std::reference_wrapper instead of a reference");
    auto* t = new spawned_task<Cd, R>(s, next_task_id(), std::forward<C>(c), site);
    try {
        task<R> root = invoke_callable(std::move(t->callable()));
        if (!root.valid())
            throw std::logic_error("weft::spawn: the callable returned an empty task");
        t->root = t->resume_point = root.release();
    } catch (...) {
        spawned_task<Cd, R>::vtable.drop_callable(t);
        delete t;
        throw;
    }
    return t;
}

template <class C>
auto spawn_callable(runtime_core* rt, std::uint32_t site, C&& c) {
    auto* t = build_spawned_task(runtime_scheduler(rt), std::forward<C>(c), site);
    submit_spawned(rt, t);
    using R = typename callable_result_t<std::decay_t<C>>::value_type;
    return join_handle<R>(t);
}

template <class F, class... Args>
auto make_callable(F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
        return std::decay_t<F>(std::forward<F>(f));
    } else {
        return bound_call<std::decay_t<F>, std::decay_t<Args>...>{
            std::forward<F>(f), std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)};
    }
}

template <class F, class... Args>
auto spawn_on(runtime_core* rt, std::uint32_t site, F&& f, Args&&... args) {
    if constexpr (sizeof...(Args) == 0 && is_task<std::decay_t<F>>::value) {
        using R = typename std::decay_t<F>::value_type;
        static_assert(!std::is_reference_v<R>,
                      "weft::spawn: a spawned task's output must be a value");
        auto* t = adopt_root(runtime_scheduler(rt), std::move(f), site);
        submit_spawned(rt, t);
        return join_handle<R>(t);
    } else {
        return spawn_callable(rt, site,
                              make_callable(std::forward<F>(f), std::forward<Args>(args)...));
    }
}

} // namespace detail

/// What spawn's first argument may be when it is a callable: anything but
/// a task<R> (spawn(task) has its own overload) or a weft::named.
///
///   static_assert(weft::spawnable_callable<decltype(&serve)>);
template <class F>
concept spawnable_callable = !detail::is_task<std::remove_cvref_t<F>>::value &&
                             !std::is_same_v<std::remove_cvref_t<F>, named>;

/// Spawns `f(args...)` (which returns task<R>) as a new task on the current
/// runtime and returns its join_handle<R>. Throws weft::runtime_error when
/// called outside a runtime.
///
///   auto h = weft::spawn([]() -> weft::task<int> { co_return 1; });
///   auto h2 = weft::spawn(fetch, std::string("db"), 300);
///
/// The task records where it was spawned (this call's source location; see
/// observe.hpp). The trailing std::source_location parameter is filled in by
/// the compiler: do not pass it. With more than four arguments the location
/// is not recorded (pass them in a lambda's captures, or bind them).
template <spawnable_callable F>
auto spawn(F&& f, std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::forward<F>(f));
}
template <spawnable_callable F, class A1>
auto spawn(F&& f, A1&& a1, std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::forward<F>(f), std::forward<A1>(a1));
}
template <spawnable_callable F, class A1, class A2>
auto spawn(F&& f, A1&& a1, A2&& a2, std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2));
}
template <spawnable_callable F, class A1, class A2, class A3>
auto spawn(F&& f, A1&& a1, A2&& a2, A3&& a3,
           std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
                            std::forward<A3>(a3));
}
template <spawnable_callable F, class A1, class A2, class A3, class A4>
auto spawn(F&& f, A1&& a1, A2&& a2, A3&& a3, A4&& a4,
           std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::forward<F>(f), std::forward<A1>(a1), std::forward<A2>(a2),
                            std::forward<A3>(a3), std::forward<A4>(a4));
}
template <spawnable_callable F, class A1, class A2, class A3, class A4, class A5, class... More>
auto spawn(F&& f, A1&& a1, A2&& a2, A3&& a3, A4&& a4, A5&& a5, More&&... more) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), 0, std::forward<F>(f),
                            std::forward<A1>(a1), std::forward<A2>(a2), std::forward<A3>(a3),
                            std::forward<A4>(a4), std::forward<A5>(a5),
                            std::forward<More>(more)...);
}

/// Spawns `f(args...)` as a task named `name` (which also carries the
/// location of the call; any number of arguments).
///
///   weft::spawn(weft::named("accept-loop"), accept_loop, port);
template <class F, class... Args>
auto spawn(const named& name, F&& f, Args&&... args) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), name.site(), std::forward<F>(f),
                            std::forward<Args>(args)...);
}

/// Spawns a task that was already created. Its coroutine must not borrow
/// anything that dies before the task does; with Clang the join handle is
/// checked for that (WEFT_LIFETIMEBOUND, see coro_attributes.hpp):
///
///   weft::task<> serve(const config& c);
///   auto h = weft::spawn(serve(cfg));            // fine: cfg outlives h
///   auto bad = weft::spawn(serve(config{}));     // Clang: -Wdangling
template <class R>
join_handle<R> spawn(task<R> t WEFT_LIFETIMEBOUND,
                     std::source_location loc = std::source_location::current()) {
    return detail::spawn_on(detail::current_runtime_for_spawn(), detail::intern_site(loc),
                            std::move(t));
}

} // namespace weft
