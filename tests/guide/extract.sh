#!/bin/sh
# Extracts the code blocks of the guide (docs/guide/*.md) for tests/guide/guide.cmake.
#
#   extract.sh OUT_DIR PAGE.md...
#
# Fences (the info string after ```):
#   cpp            a complete program: compiled into weft_guide and run
#   cpp dangling   wrong code that Clang >= 17 must reject with -Wdangling
#   cpp wrong      wrong code that compiles but must not run: syntax-checked
#   ... asan=KIND  (after dangling or wrong) what AddressSanitizer reports
#                  when the block runs, e.g. asan=heap-use-after-free; such
#                  blocks also go into guide_asan.cpp, which ASan builds run
#   text output    the exact standard output of the closest ```cpp block above
# Anything else (```text, ```sh, ```cmake) is left alone.
#
# Writes, under OUT_DIR:
#   guide_snippets.cpp     every runnable block, its #include lines hoisted to
#                          the top and its body wrapped in
#                          `namespace guide_<chapter>_<n> { ... }` (a main()
#                          inside a namespace is an ordinary function), then a
#                          driver main(argc, argv) that runs the block named on
#                          the command line
#   guide_asan.cpp         the same for the blocks marked asan=KIND
#   snippets.list          one line per block: "<chapter>.<n> <kind> [<asan>]",
#                          kind is run, dangling or wrong
#   blocks/<chapter>.<n>.cpp  each block verbatim, as a user would copy it
#   expected/<chapter>.<n>.txt  a runnable block's `text output` block
# Files are replaced only when their content changes, so that a re-configure
# does not rebuild weft_guide for nothing. C++ is never parsed by CMake.
set -eu

out=$1
shift

mkdir -p "$out/blocks" "$out/expected"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/blocks" "$tmp/expected"

for page in "$@"; do
    chapter=$(basename "$page" .md)
    awk -v chapter="$chapter" -v page="$page" -v tmp="$tmp" '
        function fail(msg) {
            printf "%s:%d: %s\n", page, NR, msg > "/dev/stderr"
            failed = 1
            exit 1
        }
        BEGIN {
            n = 0; in_block = 0; in_output = 0; last_run = ""
            ns = "guide_" chapter
            gsub(/[^A-Za-z0-9_]/, "_", ns)
        }
        in_output {
            if ($0 ~ /^```[ \t]*$/) { in_output = 0; next }
            print > (tmp "/expected/" last_run ".txt")
            next
        }
        in_block {
            if ($0 ~ /^```[ \t]*$/) {
                in_block = 0
                close(block)
                if (body != "") {
                    print "} // namespace " ns "_" n >> body
                    print "" >> body
                }
                next
            }
            print > block
            if (body == "") next
            if ($0 ~ /^[ \t]*#[ \t]*include/) {
                sub(/^[ \t]+/, "")
                print >> (tmp "/" prog "includes")
                print "" >> body   # keeps the #line numbering
            } else if ($0 ~ /^[ \t]*#/) {
                fail("a runnable block may use no preprocessor directive but #include")
            } else {
                print >> body
            }
            next
        }
        in_other {
            if ($0 ~ /^```/) in_other = 0
            next
        }
        /^```/ {
            info = $0
            sub(/^```[ \t]*/, "", info)
            sub(/[ \t]+$/, "", info)
            if (info == "text output") {
                if (last_run == "") fail("a `text output` block needs a ```cpp block before it")
                if (seen_output[last_run]) fail("a second `text output` block for " last_run)
                seen_output[last_run] = 1
                in_output = 1
                printf "" > (tmp "/expected/" last_run ".txt")
                next
            }
            if (info !~ /^cpp( |$)/) { in_other = 1; next }
            asan = ""
            if (match(info, / asan=[a-z-]+$/)) {
                asan = substr(info, RSTART + 6)
                info = substr(info, 1, RSTART - 1)
                if (info != "cpp dangling" && info != "cpp wrong")
                    fail("asan= goes with cpp dangling or cpp wrong")
            }
            if (info == "cpp") kind = "run"
            else if (info == "cpp dangling") kind = "dangling"
            else if (info == "cpp wrong") kind = "wrong"
            else fail("unknown fence \"```" info "\" (cpp, cpp dangling, cpp wrong)")
            n++
            name = chapter "." n
            block = tmp "/blocks/" name ".cpp"
            printf "" > block
            in_block = 1
            print name " " kind (asan == "" ? "" : " " asan) >> (tmp "/snippets.list")
            last_run = (kind == "run") ? name : ""
            # Runnable blocks go into guide_snippets.cpp, asan ones into guide_asan.cpp.
            prog = (kind == "run") ? "" : (asan != "") ? "asan_" : "none"
            body = (prog == "none") ? "" : tmp "/" prog "body"
            if (body != "") {
                print name " " ns "_" n >> (tmp "/" prog "runnable")
                print "namespace " ns "_" n " {" >> body
                printf "#line %d \"%s\"\n", NR + 1, page >> body
            }
            next
        }
        END {
            if (failed) exit 1
            if (in_block) fail("unterminated ```cpp block")
        }
    ' "$page"
done

touch "$tmp/includes" "$tmp/body" "$tmp/runnable" "$tmp/asan_includes" "$tmp/asan_body" \
    "$tmp/asan_runnable" "$tmp/snippets.list"

# gen_program PREFIX OUT: the blocks collected under PREFIX, and a driver
# main(argc, argv) that runs the one named on the command line.
gen_program() {
    {
        echo "// Generated by tests/guide/extract.sh from docs/guide/*.md. Do not edit."
        echo "// Blocks of the guide, each in its own namespace, and a driver."
        awk '!seen[$0]++' "$tmp/$1includes"
        echo "#include <cstdio>"
        echo "#include <cstring>"
        echo "#include <exception>"
        echo
        cat "$tmp/$1body"
    } > "$2"
    # The driver, back on this file's own line numbers after the blocks' #line.
    {
        printf '#line %d "%s"\n' "$(($(wc -l < "$2") + 2))" "$(basename "$2")"
        cat <<'EOF'
namespace {
struct guide_snippet {
    const char* name;
    int (*run)();
};
const guide_snippet guide_snippets[] = {
EOF
        while read -r name ns; do
            printf '    {"%s", &%s::main},\n' "$name" "$ns"
        done < "$tmp/$1runnable"
        cat <<'EOF'
    {nullptr, nullptr},
};
} // namespace

int main(int argc, char** argv) {
    if (argc == 2) {
        for (const guide_snippet* s = guide_snippets; s->name != nullptr; ++s) {
            if (std::strcmp(s->name, argv[1]) != 0) continue;
            try {
                return s->run();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: exception escaped main: %s\n", s->name, e.what());
                return 1;
            }
        }
    }
    std::fprintf(stderr, "usage: %s <snippet>; the snippets are:\n", argv[0]);
    for (const guide_snippet* s = guide_snippets; s->name != nullptr; ++s)
        std::fprintf(stderr, "  %s\n", s->name);
    return 2;
}
EOF
    } >> "$2"
}
gen_program "" "$tmp/guide_snippets.cpp"
gen_program asan_ "$tmp/guide_asan.cpp"

replace_if_changed() { # new old
    if ! cmp -s "$1" "$2"; then cp "$1" "$2"; fi
}
replace_if_changed "$tmp/guide_snippets.cpp" "$out/guide_snippets.cpp"
replace_if_changed "$tmp/guide_asan.cpp" "$out/guide_asan.cpp"
replace_if_changed "$tmp/snippets.list" "$out/snippets.list"
# Blocks and expected outputs: mirror the temporary tree (drop stale files).
for dir in blocks expected; do
    for f in "$out/$dir"/*; do
        [ -e "$f" ] || continue
        [ -e "$tmp/$dir/$(basename "$f")" ] || rm -f "$f"
    done
    for f in "$tmp/$dir"/*; do
        [ -e "$f" ] || continue
        replace_if_changed "$f" "$out/$dir/$(basename "$f")"
    done
done
