// join_error (how a task ended without a value: cancelled, or panicked
// with an exception), resume_unwind, and the throws that result and
// join_handle keep out of line.
#include <exception>
#include <stdexcept>
#include <string>

#include "weft/join_handle.hpp"
#include "weft/result.hpp"
#include "weft/task_id.hpp"

namespace weft::detail {

void throw_expect(const std::string& msg, const join_error& e) {
    try {
        throw e;
    } catch (...) {
        std::throw_with_nested(std::runtime_error(msg + ": " + e.what()));
    }
}

} // namespace weft::detail

namespace weft {

namespace {
std::string describe(task_id id, const std::exception_ptr& e) {
    std::string s = "task " + std::to_string(id.value());
    if (!e) return s + " was cancelled";
    s += " panicked";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        s += ": ";
        s += ex.what();
    } catch (...) {
        s += " (an exception not derived from std::exception)";
    }
    return s;
}
} // namespace

join_error::join_error(task_id id, std::exception_ptr e)
    : id_(id), panic_(std::move(e)), message_(describe(id_, panic_)) {}

void resume_unwind(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("resume_unwind: null exception_ptr");
    std::rethrow_exception(std::move(e));
}

} // namespace weft
