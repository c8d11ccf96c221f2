#!/usr/bin/env bash
# Check that the tools weft's build needs are present; on Debian, as root,
# install the missing ones with apt-get. Called by the Makefile and .ci/run.
#
#   scripts/bootstrap.sh            cmake, ninja, g++, GoogleTest/GoogleMock
#   scripts/bootstrap.sh --bench    ... and Google Benchmark
#   scripts/bootstrap.sh --clang    ... and clang-19 with its sanitizer runtimes
#   scripts/bootstrap.sh --format   ... and clang-format
#
# Exit status 0 when everything asked for is there afterwards.
set -euo pipefail

want_bench=0 want_clang=0 want_format=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --clang) want_clang=1 ;;
    --format) want_format=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()   # Debian package names
need_cmd()  { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_file() { [ -e "$1" ] || missing+=("$2"); }

need_cmd cmake cmake
need_cmd ninja ninja-build
need_cmd g++ g++
need_file /usr/include/gtest/gtest.h libgtest-dev
need_file /usr/include/gmock/gmock.h libgmock-dev
if [ "$want_bench" = 1 ]; then
  need_file /usr/include/benchmark/benchmark.h libbenchmark-dev
fi
if [ "$want_clang" = 1 ]; then
  need_cmd clang++-19 clang-19
  # The TSan/ASan runtimes for clang-19 ship separately on Debian 12.
  if ! compgen -G "/usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.tsan-*.a" >/dev/null; then
    missing+=(libclang-rt-19-dev)
  fi
fi
if [ "$want_format" = 1 ]; then
  need_cmd clang-format clang-format
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

# Deduplicate, keep order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "bootstrap: installed: ${missing[*]}"
else
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: install them, e.g.: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
