#!/usr/bin/env bash
# Runs the WORKLOADS.md benchmarks for weft, Tokio and Asio, one process at a
# time, and prints one markdown table (what `make bench` calls).
#
#   benches/run.sh [workload...]
#
# Default workloads: every name `weft-bench list` prints, plus tcp_echo and
# tcp_echo/current_thread once `weft-bench echo-server` works, plus
# http_hello and http_hello/current_thread under wrk (benches/http.sh; weft
# and Tokio only). Each workload
# runs for weft, then Tokio, then Asio (a runtime that lacks it gets "–").
#
# Environment:
#   REPEAT             samples per workload (default 5)
#   ECHO_REPEAT        echo-client runs per echo server (default 3)
#   ECHO_CONNS, ECHO_ROUNDS, ECHO_SIZE, ECHO_THREADS   client load (64, 10000, 64, 2)
#   WORKLOAD_TIMEOUT   seconds one bench process may run (default 900); a
#                      workload that fails or times out shows FAIL, and the
#                      script then exits with status 1 after the table
#   JOBS               build parallelism (default 2)
#   WEFT_BIN           use this weft-bench binary instead of building one
#   BUILD_DIR          weft Release build directory (default <repo>/build-bench)
#   BASELINES_DIR      the anchors' sources (default: the first of
#                      <repo>/shared/baselines, <repo>/../shared/baselines,
#                      /work/shared/baselines that exists)
#
# Output: the table on stdout: | workload | weft | tokio | asio | weft/tokio speedup | unit |
# where each cell is the median and speedup = tokio/weft for lower-is-better
# units and weft/tokio for rps, so > 1 means weft is faster (or smaller).
# Progress and the raw figure lines go to stderr; the raw output of every
# runtime and the table are saved under $BUILD_DIR/results/<timestamp>/
# (and $BUILD_DIR/results/latest).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build-bench}"
REPEAT="${REPEAT:-5}"
ECHO_REPEAT="${ECHO_REPEAT:-3}"
ECHO_CONNS="${ECHO_CONNS:-64}"
ECHO_ROUNDS="${ECHO_ROUNDS:-10000}"
ECHO_SIZE="${ECHO_SIZE:-64}"
ECHO_THREADS="${ECHO_THREADS:-2}"
WORKLOAD_TIMEOUT="${WORKLOAD_TIMEOUT:-900}"
JOBS="${JOBS:-2}"
ECHO_WORKLOADS=(tcp_echo tcp_echo/current_thread)
RUNTIMES=(weft tokio asio)

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# --- locating and building ----------------------------------------------------

find_baselines() {
  local d
  if [[ -n "${BASELINES_DIR:-}" ]]; then
    [[ -x "$BASELINES_DIR/run.sh" ]] || die "BASELINES_DIR=$BASELINES_DIR has no run.sh"
    echo "$BASELINES_DIR"
    return
  fi
  for d in "$REPO/shared/baselines" "$REPO/../shared/baselines" /work/shared/baselines; do
    if [[ -x "$d/run.sh" ]]; then
      (cd "$d" && pwd)
      return
    fi
  done
  die "baselines not found; set BASELINES_DIR to shared/baselines"
}

build_weft() {
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    log "configuring $BUILD_DIR (Release)"
    nice cmake -S "$REPO" -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCHES=ON >&2 ||
      die "configuring weft failed"
  fi
  local type
  type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  [[ "$type" == Release ]] || die "$BUILD_DIR is a '$type' build; benchmarks need Release"
  log "building weft-bench"
  nice cmake --build "$BUILD_DIR" -j "$JOBS" --target weft-bench >&2 || die "building weft-bench failed"
}

# Builds the anchors in place (their run.sh is idempotent and offline); if the
# shared tree is not writable, builds a private copy under $BUILD_DIR.
build_baselines() {
  local src="$1" copy="$BUILD_DIR/baselines"
  log "building the baselines in $src"
  if nice "$src/run.sh" build >&2; then
    echo "$src"
    return
  fi
  log "building in $src failed; building a private copy in $copy"
  mkdir -p "$copy"
  tar -C "$src" --exclude=./tokio/target --exclude=./asio/build --exclude=./echo-client/build \
    --exclude=./.run -cf - . | tar -C "$copy" -xf -
  chmod -R u+w "$copy"
  nice "$copy/run.sh" build >&2 || die "building the baselines failed (see above)"
  echo "$copy"
}

# --- running ------------------------------------------------------------------

in_list() {
  local x="$1" y
  shift
  for y in "$@"; do [[ "$x" == "$y" ]] && return 0; done
  return 1
}

# shellcheck source=server_lib.sh
source "$HERE/server_lib.sh"

# Starts `<bin> echo-server 0 [flag]` and sets SERVER_PID and PORT; fails if
# the server exits or does not report a port within 10 s. Not to be called in
# a command substitution (the server must be a child of this shell).
PORT=""
start_server() {
  local bin="$1" flag="$2" logf="$3" i
  local args=(echo-server 0)
  [[ -n "$flag" ]] && args+=("$flag")
  PORT=""
  "$bin" "${args[@]}" >"$logf" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    PORT="$(sed -n 's/^listening .*:\([0-9][0-9]*\)$/\1/p' "$logf")"
    [[ -n "$PORT" ]] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      return 1
    fi
    sleep 0.1
  done
  stop_server
  return 1
}

# Prints median/min/max of the numbers on stdin: "median min max".
summarize() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) exit 1
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.1f %.1f %.1f\n", m, v[1], v[NR]
    }'
}

# tcp_echo for one runtime, as shared/baselines/run.sh does it: start the
# server on a free port, run the client ECHO_REPEAT times, stop the server.
run_echo() {
  local rt="$1" bin="$2" workload="$3" flag="" line i
  [[ "$workload" == */current_thread ]] && flag="--current-thread"
  start_server "$bin" "$flag" "$OUT/$rt-echo-server.log" || {
    log "$rt: echo server did not start (see $OUT/$rt-echo-server.log)"
    return 1
  }
  local rps=() p50=() p99=()
  for ((i = 0; i < ECHO_REPEAT; i++)); do
    line="$(timeout "$WORKLOAD_TIMEOUT" "$CLIENT_BIN" 127.0.0.1 "$PORT" --conns "$ECHO_CONNS" \
      --rounds "$ECHO_ROUNDS" --size "$ECHO_SIZE" --threads "$ECHO_THREADS")" || {
      stop_server
      log "$rt: echo-client failed"
      return 1
    }
    echo "$rt $workload: $line" >&2
    rps+=("$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")")
    p50+=("$(sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p' <<<"$line")")
    p99+=("$(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<<"$line")")
  done
  stop_server
  local s
  read -ra s < <(printf '%s\n' "${rps[@]}" | summarize)
  echo "$workload median=${s[0]} min=${s[1]} max=${s[2]} unit=rps"
  read -ra s < <(printf '%s\n' "${p50[@]}" | summarize)
  echo "$workload:p50 median=${s[0]} min=${s[1]} max=${s[2]} unit=us"
  read -ra s < <(printf '%s\n' "${p99[@]}" | summarize)
  echo "$workload:p99 median=${s[0]} min=${s[1]} max=${s[2]} unit=us"
}

# Runs one workload on one runtime, appending its figure lines to
# $OUT/<rt>.txt (and echoing them to stderr). A failure or timeout writes a
# FAIL line for the workload's label, so the table shows it.
run_one() {
  local rt="$1" w="$2" bin out rc=0
  bin="${BIN[$rt]}"
  if is_echo "$w"; then
    run_echo "$rt" "$bin" "$w" >"$OUT/.echo.out" || rc=$?
    out="$(cat "$OUT/.echo.out")"
    rm -f "$OUT/.echo.out"
  else
    out="$(timeout "$WORKLOAD_TIMEOUT" "$bin" "$w" --repeat "$REPEAT")" || rc=$?
  fi
  if ((rc != 0)); then
    if ((rc == 124)); then
      log "$rt: $w timed out after ${WORKLOAD_TIMEOUT}s"
    else
      log "$rt: $w failed (exit $rc)"
    fi
    [[ -n "$out" ]] && printf '%s\n' "$out" | tee -a "$OUT/$rt.txt" >&2
    echo "$w median=FAIL min=FAIL max=FAIL unit=?" | tee -a "$OUT/$rt.txt" >&2
    return 0
  fi
  printf '%s\n' "$out" | tee -a "$OUT/$rt.txt" >&2
}

is_echo() { in_list "$1" "${ECHO_WORKLOADS[@]}"; }

# Joins the three result files into the markdown table, keyed by label, in
# the order the labels first appear.
table() {
  awk '
    FNR == 1 { file++ }
    {
      label = $1; med = ""; unit = ""
      for (i = 2; i <= NF; i++) {
        if ($i ~ /^median=/) med = substr($i, 8)
        if ($i ~ /^unit=/) unit = substr($i, 6)
      }
      if (!(label in seen)) { seen[label] = 1; order[++n] = label }
      val[file, label] = med
      if (unit != "?" && !((label) in units)) units[label] = unit
    }
    function num(v) { return v ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
    END {
      print "| workload | weft | tokio | asio | weft/tokio speedup | unit |"
      print "| --- | ---: | ---: | ---: | ---: | --- |"
      for (i = 1; i <= n; i++) {
        l = order[i]
        w = ((1, l) in val) ? val[1, l] : "–"
        t = ((2, l) in val) ? val[2, l] : "–"
        a = ((3, l) in val) ? val[3, l] : "–"
        u = (l in units) ? units[l] : "?"
        s = "–"
        if (num(w) && num(t) && w + 0 > 0 && t + 0 > 0)
          s = sprintf("%.2f", (u == "rps") ? w / t : t / w)
        printf "| %s | %s | %s | %s | %s | %s |\n", l, w, t, a, s, u
      }
    }' "$OUT/weft.txt" "$OUT/tokio.txt" "$OUT/asio.txt"
}

main() {
  case "${1:-}" in -h | --help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;; esac

  local baselines
  baselines="$(find_baselines)"
  [[ -n "${WEFT_BIN:-}" ]] || build_weft
  baselines="$(build_baselines "$baselines")"

  declare -gA BIN=(
    [weft]="${WEFT_BIN:-$BUILD_DIR/benches/weft-bench}"
    [tokio]="$baselines/tokio/target/release/tokio-bench"
    [asio]="$baselines/asio/build/asio-bench"
  )
  CLIENT_BIN="$baselines/echo-client/build/echo-client"
  local rt
  for rt in "${RUNTIMES[@]}"; do [[ -x "${BIN[$rt]}" ]] || die "${BIN[$rt]} is missing"; done

  OUT="$BUILD_DIR/results/$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$OUT"
  : >"$OUT/weft.txt"
  : >"$OUT/tokio.txt"
  : >"$OUT/asio.txt"

  # What each runtime implements.
  declare -A HAS
  local n
  for rt in "${RUNTIMES[@]}"; do
    while read -r n; do HAS[$rt,$n]=1; done < <("${BIN[$rt]}" list)
    for n in "${ECHO_WORKLOADS[@]}"; do HAS[$rt,$n]=1; done
  done
  # weft's echo server exists once `weft-bench echo-server 0` reports a port.
  local weft_echo=0
  if start_server "${BIN[weft]}" "" "$OUT/weft-echo-probe.log"; then
    weft_echo=1
    stop_server
  fi
  ((weft_echo)) || for n in "${ECHO_WORKLOADS[@]}"; do unset "HAS[weft,$n]"; done

  local workloads=("$@")
  if ((${#workloads[@]} == 0)); then
    mapfile -t workloads < <("${BIN[weft]}" list)
    ((weft_echo)) && workloads+=("${ECHO_WORKLOADS[@]}")
  fi

  {
    echo "date: $(date -Is)"
    echo "host: $(uname -srm), $(nproc) cpus"
    echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "REPEAT=$REPEAT ECHO_REPEAT=$ECHO_REPEAT"
    echo "workloads: ${workloads[*]}"
  } >"$OUT/info.txt"
  log "REPEAT=$REPEAT; raw output in $OUT"

  local w
  for w in "${workloads[@]}"; do
    for rt in "${RUNTIMES[@]}"; do
      if [[ -n "${HAS[$rt,$w]:-}" ]]; then
        run_one "$rt" "$w"
      else
        log "$rt: no workload $w"
      fi
    done
  done

  # HTTP hello under wrk (weft and Tokio only): benches/http.sh, when no
  # workload was named or http_hello was.
  if (($# == 0)) || in_list http_hello "$@"; then
    if command -v wrk >/dev/null; then
      local line
      while read -r rt line; do
        echo "$line" | tee -a "$OUT/$rt.txt" >&2
      done < <(WEFT_BIN="${BIN[weft]}" BUILD_DIR="$BUILD_DIR" bash "$HERE/http.sh" ||
        printf 'weft http_hello median=FAIL min=FAIL max=FAIL unit=?\n')
    else
      log "wrk not found: http_hello skipped"
    fi
  fi

  table | tee "$OUT/table.md"
  ln -sfn "$(basename "$OUT")" "$BUILD_DIR/results/latest"
  if grep -q 'median=FAIL' "$OUT/weft.txt" "$OUT/tokio.txt" "$OUT/asio.txt"; then
    log "some workloads failed (FAIL in the table); see the messages above"
    exit 1
  fi
}

main "$@"
