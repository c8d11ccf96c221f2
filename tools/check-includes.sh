#!/usr/bin/env bash
# Keeps the layering of docs/architecture.md ("Who owns what"): which folder of
# src/ may include which, and that public headers include nothing from src/.
#
#   tools/check-includes.sh        exit 1 and name each include that breaks a rule
#
# A rule is "folder: allowed prefixes"; an include "x/y.hpp" in a file under
# src/<folder>/ must start with one of the prefixes (a folder "x/" or one file).
# Includes of "weft/..." (the public and detail headers) are always allowed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A ALLOWED=(
  [util]="util/"
  [task]="task/ util/ runtime/thread_state.hpp observe/watchdog.hpp io/write_batch.hpp"
  [park]="park/ util/ io/"
  [time]="time/ util/ park/ runtime/thread_state.hpp"
  [io]="io/ util/ runtime/thread_state.hpp"
  [runtime]="runtime/ task/ util/ park/ time/ io/ blocking/ observe/"
  [scheduler]="scheduler/ runtime/ task/ util/ park/ time/ io/ blocking/ observe/"
  [blocking]="blocking/ util/ park/ runtime/ task/ scheduler/task_ring.hpp"
  [observe]="observe/ util/ runtime/ task/"
  [net]="net/ io/ util/ runtime/thread_state.hpp"
  [signal]="signal/ net/ io/ util/ runtime/thread_state.hpp"
  [fs]="fs/ util/"
  [sync]="sync/ util/ runtime/thread_state.hpp"
)

bad=0
while IFS= read -r -d '' f; do
  rel=${f#src/}
  case "$rel" in */*) folder=${rel%%/*} ;; *) echo "check-includes: $f: src/ files live in a folder" >&2; bad=1; continue ;; esac
  if [ -z "${ALLOWED[$folder]+x}" ]; then
    echo "check-includes: $f: folder src/$folder/ has no rule in tools/check-includes.sh (add one, and a row in docs/architecture.md)" >&2
    bad=1; continue
  fi
  while IFS= read -r inc; do
    case "$inc" in weft/*) continue ;; esac
    ok=0
    for p in ${ALLOWED[$folder]}; do
      case "$inc" in "$p"*) ok=1; break ;; esac
    done
    if [ $ok -eq 0 ]; then
      echo "check-includes: $f includes \"$inc\": src/$folder/ may include only ${ALLOWED[$folder]} (docs/architecture.md)" >&2
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find src -type f \( -name '*.cpp' -o -name '*.hpp' \) -print0 | sort -z)

# Public and detail headers: only weft/... between quotes (nothing from src/).
while IFS= read -r line; do
  echo "check-includes: $line: a header under include/ includes only \"weft/...\" and <system> headers" >&2
  bad=1
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' include | grep -vE '#[[:space:]]*include[[:space:]]*"weft/' || true)

if [ $bad -ne 0 ]; then exit 1; fi
echo "check-includes: src/ and include/ follow docs/architecture.md"
