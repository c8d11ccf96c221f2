// Runs every case of the cancel-safety harness (support/cancel_harness.hpp)
// in the three ways a user cancels, at every suspension, and checks that the
// harness, the guide's table and the headers name the same awaitables with
// the same class.
#include "cancel_harness.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <weft/weft.hpp>

#ifndef WEFT_SOURCE_DIR
#error "WEFT_SOURCE_DIR must name the source tree (tests/CMakeLists.txt sets it)"
#endif

namespace {

using namespace std::chrono_literals;
using weft_test::cancel::cancel_case;
using weft_test::cancel::registry;
using weft_test::cancel::safety;
using weft_test::cancel::scenario;
using weft_test::cancel::settle;

enum class way { select, timeout, abort };

const char* way_name(way w) {
    switch (w) {
    case way::select:
        return "select";
    case way::timeout:
        return "timeout";
    case way::abort:
        break;
    }
    return "abort";
}

/// The most steps a case may take before its operation completes.
constexpr int max_steps = 64;

struct run_outcome {
    bool completed = false;       // op() finished (before or instead of the cancel)
    bool cancelled_early = false; // the cancel was issued while op() was pending
};

/// op() with a mark that it began, for the immediate cases' canceller.
weft::task<> started_op(scenario* sp, bool* started) {
    *started = true;
    co_await sp->op();
}

/// Cancels the task behind `h` in way `w`.
weft::task<> cancel_in(way w, weft::abort_handle h, weft::sync::notify* trigger) {
    switch (w) {
    case way::select:
        trigger->notify_one();
        break;
    case way::timeout:
        co_await weft::time::advance(24h);
        break;
    case way::abort:
        h.abort();
        break;
    }
}

/// One (way, k) run: start op() under `w`, take k steps, cancel if pending.
run_outcome run_once(const cancel_case& c, way w, int k, bool& steps_ran_out) {
    run_outcome out;
    weft::runtime rt = weft::runtime::current_thread().start_paused(true).build();
    rt.block_on([&]() -> weft::task<> {
        std::unique_ptr<scenario> s = c.make();
        co_await s->setup();
        weft::sync::notify trigger;
        bool completed = false;
        bool started = false;
        weft::time::instant deadline = weft::time::instant::now() + 24h;
        scenario* sp = s.get();
        weft::join_handle<void> h = weft::spawn(
            [](scenario* sp, way w, weft::sync::notify* trigger, weft::time::instant deadline,
               bool* completed, bool* started) -> weft::task<> {
                switch (w) {
                case way::select: {
                    auto r = co_await weft::select(weft::biased, started_op(sp, started),
                                                   trigger->notified());
                    *completed = r.index() == 0;
                    break;
                }
                case way::timeout: {
                    auto r = co_await weft::time::timeout_at(deadline, started_op(sp, started));
                    *completed = r.has_value();
                    break;
                }
                case way::abort:
                    co_await started_op(sp, started);
                    *completed = true;
                    break;
                }
            },
            sp, w, &trigger, deadline, &completed, &started);
        if (s->immediate() && k == 0) {
            // op() is woken as soon as it suspends: a canceller queued behind
            // the task cancels it while it waits in the run queue.
            weft::join_handle<bool> canceller = weft::spawn(
                [](way w, weft::abort_handle target, weft::sync::notify* trigger, bool* started,
                   scenario* sp) -> weft::task<bool> {
                    while (!*started)
                        co_await weft::yield_now();
                    bool pending = !target.is_finished();
                    if (pending) {
                        co_await cancel_in(w, target, trigger);
                        sp->cancel_requested();
                    }
                    co_return pending;
                },
                w, h.abort_handle(), &trigger, &started, sp);
            weft::result<bool> pending = co_await canceller;
            out.cancelled_early = pending.has_value() && *pending;
        } else {
            co_await settle();
            for (int i = 0; i < k && !h.is_finished(); ++i) {
                bool more = co_await s->step(i);
                co_await settle();
                if (!more) {
                    steps_ran_out = true;
                    break;
                }
            }
            if (!h.is_finished()) {
                out.cancelled_early = true;
                co_await cancel_in(w, h.abort_handle(), &trigger);
                s->cancel_requested();
            }
        }
        weft::result<void> r = co_await h;
        if (!r) {
            // Only abort may end the task itself; the others end op() inside it.
            EXPECT_EQ(w, way::abort)
                << "the task failed: " << (r.error().is_panic() ? "threw" : "cancelled");
            EXPECT_TRUE(r.error().is_cancelled()) << "op() threw";
        }
        co_await settle();
        out.completed = completed;
        co_await s->check(completed);
        s.reset(); // destroyed inside the runtime, as users' objects are
    });
    return out;
}

class CancelSafety : public ::testing::TestWithParam<std::tuple<std::size_t, way>> {};

TEST_P(CancelSafety, AtEverySuspension) {
    const cancel_case& c = registry().at(std::get<0>(GetParam()));
    way w = std::get<1>(GetParam());
    int cancelled_runs = 0;
    bool finished = false;
    for (int k = 0; k <= max_steps; ++k) {
        SCOPED_TRACE(::testing::Message()
                     << c.name << ", cancelled by " << way_name(w) << " after " << k << " step(s)");
        bool steps_ran_out = false;
        run_outcome o = run_once(c, w, k, steps_ran_out);
        if (::testing::Test::HasFailure()) return; // one failing k is enough to read
        if (o.cancelled_early) ++cancelled_runs;
        if (!o.cancelled_early || steps_ran_out) {
            EXPECT_TRUE(o.completed) << "the steps ran out but the operation never completed: "
                                        "a case must let its operation finish";
            finished = true;
            break;
        }
    }
    EXPECT_TRUE(finished) << "the operation did not complete within " << max_steps << " steps";
    EXPECT_GE(cancelled_runs, 1) << "the operation completed without ever suspending: the case "
                                    "does not exercise a cancellation";
}

std::string case_name(const ::testing::TestParamInfo<CancelSafety::ParamType>& info) {
    std::string n = registry().at(std::get<0>(info.param)).name;
    std::string out;
    for (char ch : n)
        out += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    return out + "_" + way_name(std::get<1>(info.param));
}

std::vector<std::tuple<std::size_t, way>> all_params() {
    std::vector<std::tuple<std::size_t, way>> v;
    for (std::size_t i = 0; i < registry().size(); ++i)
        for (way w : {way::select, way::timeout, way::abort})
            v.emplace_back(i, w);
    return v;
}

// Evaluated lazily, when the tests run: every translation unit has
// registered its cases by then.
INSTANTIATE_TEST_SUITE_P(Harness, CancelSafety, ::testing::ValuesIn(all_params()), case_name);

// --- the table, the headers and the harness agree --------------------------

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const char* class_name(safety s) {
    return s == safety::safe ? "cancel safe" : "not cancel safe";
}

/// Reads "cancel safe" or "not cancel safe" at `at` (no std::regex: GCC 12
/// warns inside <regex> at -O2 with ASan, docs/compiler-traps.md).
std::optional<safety> class_at(const std::string& text, std::size_t at) {
    if (text.compare(at, 15, "not cancel safe") == 0) return safety::unsafe;
    if (text.compare(at, 11, "cancel safe") == 0) return safety::safe;
    return std::nullopt;
}

/// Rows `| `name` | cancel safe | ... |` of the guide's table.
std::map<std::string, safety> table_entries() {
    std::string text = read_file(std::string(WEFT_SOURCE_DIR) + "/docs/guide/11-cancel-safety.md");
    EXPECT_FALSE(text.empty()) << "docs/guide/11-cancel-safety.md is missing";
    std::map<std::string, safety> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("| `", 0) != 0) continue;
        std::size_t end = line.find('`', 3);
        if (end == std::string::npos) continue;
        std::size_t cell = line.find_first_not_of(' ', line.find('|', end) + 1);
        if (cell == std::string::npos) continue;
        std::optional<safety> cls = class_at(line, cell);
        if (!cls) continue;
        std::string name = line.substr(3, end - 3);
        EXPECT_TRUE(out.emplace(name, *cls).second) << "the table lists " << name << " twice";
    }
    return out;
}

/// `Cancel safety (`name`): cancel safe.` lines of the public headers.
std::map<std::string, safety> header_entries() {
    static const std::string tag = "Cancel safety (`";
    std::map<std::string, safety> out;
    std::filesystem::path inc = std::filesystem::path(WEFT_SOURCE_DIR) / "include" / "weft";
    for (const auto& e : std::filesystem::recursive_directory_iterator(inc)) {
        if (!e.is_regular_file() || e.path().extension() != ".hpp") continue;
        std::string text = read_file(e.path().string());
        for (std::size_t at = text.find(tag); at != std::string::npos;
             at = text.find(tag, at + 1)) {
            std::size_t name_at = at + tag.size();
            std::size_t end = text.find("`): ", name_at);
            if (end == std::string::npos) continue;
            std::optional<safety> cls = class_at(text, end + 4);
            EXPECT_TRUE(cls.has_value())
                << e.path() << ": a \"Cancel safety\" line without a class";
            if (!cls) continue;
            std::string name = text.substr(name_at, end - name_at);
            EXPECT_TRUE(out.emplace(name, *cls).second) << "two headers document " << name;
        }
    }
    return out;
}

TEST(CancelSafetyTable, TableHeadersAndHarnessAgree) {
    std::map<std::string, safety> harness;
    for (const cancel_case& c : registry())
        EXPECT_TRUE(harness.emplace(c.name, c.cls).second) << "two cases named " << c.name;
    std::map<std::string, safety> table = table_entries();
    std::map<std::string, safety> headers = header_entries();
    EXPECT_FALSE(harness.empty());
    auto compare = [](const std::map<std::string, safety>& a, const char* an,
                      const std::map<std::string, safety>& b, const char* bn) {
        for (const auto& [name, cls] : a) {
            auto it = b.find(name);
            if (it == b.end()) {
                ADD_FAILURE() << name << " is in the " << an << " but not in the " << bn;
            } else if (it->second != cls) {
                ADD_FAILURE() << name << " is " << class_name(cls) << " in the " << an << " but "
                              << class_name(it->second) << " in the " << bn;
            }
        }
    };
    compare(harness, "harness", table, "guide's table (docs/guide/11-cancel-safety.md)");
    compare(table, "guide's table", harness, "harness (tests/unit/cancel_cases_*.cpp)");
    compare(table, "guide's table", headers, "headers (a \"Cancel safety (`name`):\" line)");
    compare(headers, "headers", table, "guide's table");
}

} // namespace
