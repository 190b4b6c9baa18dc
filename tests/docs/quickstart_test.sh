#!/usr/bin/env bash
# ctest "docs: the quickstart's commands run as written": extracts every ```sh block of
# docs/quickstart.md, in order, and runs them as one bash script with `set -e` from the source
# root, with BUILD_DIR (the build under test) in place of build/release. The ```bash build block is
# not run: the build under test already exists. A failing command fails the test.
# Usage: tests/docs/quickstart_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
doc=$src/docs/quickstart.md
script=$(mktemp "${TMPDIR:-/tmp}/skr-quickstart-test-XXXXXX.sh")
trap 'rm -f "$script"' EXIT
{
  echo 'set -euo pipefail'
  awk '/^```sh$/ {on=1; next} /^```/ {on=0} on' "$doc" | sed "s|\\\$PWD/build/release|$build|g"
} >"$script"
blocks=$(grep -c '^```sh$' "$doc")
[[ $blocks -ge 8 ]] || { echo "quickstart_test: only $blocks sh blocks in $doc" >&2; exit 1; }
cd "$src"
out=$(bash "$script" 2>&1) || { echo "$out"; echo "quickstart_test: FAIL (exit $?)" >&2; exit 1; }
echo "$out"
grep -q '^unwrapped: the same DEK$' <<<"$out" || { echo "quickstart_test: the DEK did not come back" >&2; exit 1; }
echo "quickstart_test: $blocks blocks ran"
