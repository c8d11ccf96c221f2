#!/usr/bin/env bash
# HTTP hello under wrk: weft (`weft-bench http-server`) beside Tokio 1.24
# (benches/tokio-http, the same server written with tokio), one at a time,
# interleaved. benches/run.sh calls it for the `make bench` table; it also
# runs alone.
#
#   benches/http.sh            prints http_hello and http_hello/current_thread
#                              figure lines for weft, then for tokio, as
#                              "<rt> <label> median=<v> min=<v> max=<v> unit=rps"
#
# Environment: WEFT_BIN (weft-bench; default $BUILD_DIR/benches/weft-bench),
# BUILD_DIR (default <repo>/build-bench), HTTP_REPEAT (wrk runs per server,
# default 3), HTTP_CONNS (64), HTTP_THREADS (2), HTTP_SECONDS (5).
# Needs wrk and cargo (Debian's librust-tokio-dev, as shared/baselines).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$REPO/build-bench}"
# Absolute: cargo runs from benches/tokio-http.
[[ "$BUILD_DIR" == /* ]] || BUILD_DIR="$PWD/$BUILD_DIR"
WEFT_BIN="${WEFT_BIN:-$BUILD_DIR/benches/weft-bench}"
HTTP_REPEAT="${HTTP_REPEAT:-3}"
HTTP_CONNS="${HTTP_CONNS:-64}"
HTTP_THREADS="${HTTP_THREADS:-2}"
HTTP_SECONDS="${HTTP_SECONDS:-5}"
TOKIO_BIN="$BUILD_DIR/tokio-http/release/tokio-http-hello"

log() { echo "http: $*" >&2; }
die() { log "$*"; exit 1; }

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ -x "$WEFT_BIN" ]] || die "$WEFT_BIN is missing (build weft-bench first)"
(cd "$HERE/tokio-http" && nice cargo build --release --offline --quiet --target-dir "$BUILD_DIR/tokio-http") >&2 ||
  die "building benches/tokio-http failed"

# shellcheck source=server_lib.sh
source "$HERE/server_lib.sh"

# run_one <rt> <flag>: prints one rps figure per wrk run, one per line.
run_one() {
  local rt="$1" flag="$2" logf port="" i
  logf="$(mktemp)"
  if [[ "$rt" == weft ]]; then
    "$WEFT_BIN" http-server 0 $flag >"$logf" 2>&1 &
  else
    "$TOKIO_BIN" 0 $flag >"$logf" 2>&1 &
  fi
  SERVER_PID=$!
  for ((i = 0; i < 100; i++)); do
    port="$(sed -n 's/^listening .*:\([0-9][0-9]*\)$/\1/p' "$logf")"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || { stop_server; die "$rt http server did not start"; }
  wrk -t"$HTTP_THREADS" -c"$HTTP_CONNS" -d"${HTTP_SECONDS}s" "http://127.0.0.1:$port/" |
    awk '/^Requests\/sec:/ { print $2 }'
  stop_server
  rm -f "$logf"
}

summarize() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit 1
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "median=%.1f min=%.1f max=%.1f", m, v[1], v[NR] }'
}

for variant in "" "--current-thread"; do
  label=http_hello
  [[ -n "$variant" ]] && label=http_hello/current_thread
  declare -A got=([weft]="" [tokio]="")
  for ((r = 0; r < HTTP_REPEAT; r++)); do
    for rt in weft tokio; do # interleaved, so that load drift hits both
      v="$(run_one "$rt" "$variant")"
      log "$rt $label: $v rps"
      got[$rt]+="$v"$'\n'
    done
  done
  for rt in weft tokio; do
    echo "$rt $label $(printf '%s' "${got[$rt]}" | summarize) unit=rps"
  done
done
