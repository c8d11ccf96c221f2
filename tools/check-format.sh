#!/usr/bin/env bash
# Fails if any C++ source is not formatted as .clang-format says.
#
#   tools/check-format.sh            every source under include/ src/ tests/ benches/ examples/
#   tools/check-format.sh FILE...    just those files
#
# Uses `clang-format` (Debian's, version 14: the one `make format` runs, so
# that the check and the fix agree; another major version formats some
# constructs differently). Prints each offending place
# (--dry-run -Werror) and the fix: `make format` or `clang-format -i FILE`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check-format: $CLANG_FORMAT not found (scripts/bootstrap.sh --format installs it)" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -d '' files < <(find include src tests benches examples -type f \
    \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.ipp' \) -print0 | sort -z)
fi

bad=()
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --dry-run -Werror "$f" 2>/dev/null; then bad+=("$f"); fi
done
if [ "${#bad[@]}" -ne 0 ]; then
  for f in "${bad[@]}"; do "$CLANG_FORMAT" --dry-run "$f" 2>&1 | head -n 6; done
  echo
  echo "check-format: ${#bad[@]} file(s) not clang-formatted (run \`make format\`):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean ($("$CLANG_FORMAT" --version | head -n1))"
