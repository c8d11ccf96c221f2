#!/usr/bin/env bash
# Driver for the package tests (registered by package_test.cmake):
#
#   run.sh find_package|subdirectory|pkg_config|strict_warnings
#
# Configuration comes from the environment, set by CTest:
#   WEFT_SOURCE_DIR   weft's source root
#   WEFT_BINARY_DIR   the build tree under test (already built)
#   WEFT_WORK_DIR     scratch directory for the consumer builds
#   WEFT_PREFIX       where `cmake --install` puts weft
#   CMAKE_COMMAND, CXX, CMAKE_GENERATOR, CMAKE_BUILD_TYPE
set -euo pipefail

mode=${1:?usage: run.sh find_package|subdirectory|pkg_config|strict_warnings}
: "${WEFT_SOURCE_DIR:?}" "${WEFT_BINARY_DIR:?}" "${WEFT_WORK_DIR:?}" "${WEFT_PREFIX:?}"
: "${CMAKE_COMMAND:=cmake}" "${CXX:=g++}" "${CMAKE_GENERATOR:=Ninja}" "${CMAKE_BUILD_TYPE:=Release}"
consumer_dir="$WEFT_SOURCE_DIR/tests/package/consumer"
mkdir -p "$WEFT_WORK_DIR"

step() { echo "+ $*"; "$@"; }

install_weft() {
  step "$CMAKE_COMMAND" --install "$WEFT_BINARY_DIR" --prefix "$WEFT_PREFIX"
  # A shared libweft would be found here at run time.
  export LD_LIBRARY_PATH="$WEFT_PREFIX/lib:$WEFT_PREFIX/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

check_output() { # program
  local out
  out=$("$1")
  echo "$out"
  [ "$out" = "consumer: ok" ] || { echo "unexpected output from $1" >&2; exit 1; }
}

case "$mode" in
  find_package)
    install_weft
    build="$WEFT_WORK_DIR/find_package"
    rm -rf "$build"
    step "$CMAKE_COMMAND" -S "$consumer_dir" -B "$build" -G "$CMAKE_GENERATOR" \
      -DCMAKE_BUILD_TYPE="$CMAKE_BUILD_TYPE" -DCMAKE_CXX_COMPILER="$CXX" \
      -DCMAKE_PREFIX_PATH="$WEFT_PREFIX"
    step "$CMAKE_COMMAND" --build "$build"
    check_output "$build/consumer"
    ;;
  subdirectory)
    build="$WEFT_WORK_DIR/subdirectory"
    # Incremental on purpose: this compiles weft itself once more.
    step "$CMAKE_COMMAND" -S "$WEFT_SOURCE_DIR/tests/package/subdir_consumer" -B "$build" \
      -G "$CMAKE_GENERATOR" -DCMAKE_BUILD_TYPE="$CMAKE_BUILD_TYPE" -DCMAKE_CXX_COMPILER="$CXX" \
      -DWEFT_SOURCE_DIR="$WEFT_SOURCE_DIR"
    step "$CMAKE_COMMAND" --build "$build"
    check_output "$build/subdir_consumer"
    ;;
  pkg_config)
    if ! command -v pkg-config >/dev/null 2>&1; then
      echo "pkg-config not found: skipping"
      exit 77
    fi
    install_weft
    pc=$(find "$WEFT_PREFIX" -name weft.pc -path '*pkgconfig*' | head -n1)
    [ -n "$pc" ] || { echo "weft.pc was not installed under $WEFT_PREFIX" >&2; exit 1; }
    PKG_CONFIG_PATH=$(dirname "$pc")
    export PKG_CONFIG_PATH
    # weft.pc finds its prefix relative to itself (${pcfiledir}), so an
    # installed tree works wherever it was installed or moved to.
    pcflags=()
    cflags=$(pkg-config "${pcflags[@]}" --cflags weft)
    libs=$(pkg-config "${pcflags[@]}" --libs weft)
    echo "pkg-config --cflags --libs weft: $cflags $libs"
    exe="$WEFT_WORK_DIR/pkg_config_consumer"
    # weft.pc gives -I (not -isystem): weft's headers get no warning
    # exemption, so they must be clean under a strict user's flags.
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    step "$CXX" "$consumer_dir/main.cpp" -o "$exe" $cflags -Wall -Wextra -Wshadow -Werror $libs
    check_output "$exe"
    ;;
  strict_warnings)
    # The consumer against the source tree's headers, as a pkg-config user
    # includes them (-I, not -isystem), with -Wshadow on: no install, no
    # pkg-config needed, so this gate runs wherever the tests do.
    step "$CXX" -std=c++20 -fsyntax-only -I"$WEFT_SOURCE_DIR/include" \
      -Wall -Wextra -Wpedantic -Wshadow -Werror "$consumer_dir/main.cpp"
    echo "consumer: compiles clean with -I and -Wall -Wextra -Wpedantic -Wshadow -Werror"
    ;;
  *)
    echo "run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
