#!/usr/bin/env bash
# ctest "skrctl: the bash completion completes commands, subcommands, options and files": loads
# `skrctl completion bash` into bash and drives its function as bash's completion would.
# Usage: tests/ctl/completion_test.sh SKRCTL
set -euo pipefail
skrctl=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$skrctl" completion bash >"$work/skrctl.bash"
bash -n "$work/skrctl.bash" || { echo "FAIL: the script is not valid bash" >&2; exit 1; }
# shellcheck source=/dev/null
. "$work/skrctl.bash"
complete -p skrctl | grep -q -- '-F _skrctl' || { echo "FAIL: not registered for skrctl" >&2; exit 1; }

failures=0
# expect "WORDS..." "EXPECTED COMPREPLY (sorted, space-separated)"
expect() {
  read -r -a COMP_WORDS <<<"$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")  # a trailing space: completing a new, empty word
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _skrctl
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  if [[ $got != "$2" ]]; then
    echo "FAIL: '$1' completes to '$got', expected '$2'" >&2
    failures=$((failures + 1))
  else
    echo "ok: '$1' -> '$got'"
  fi
}

expect "skrctl wr" "wrap"
expect "skrctl re" "release-policy reload report retire rewrap"
expect "skrctl report v" "verify"
expect "skrctl report verify --c" "--cert --chain"
expect "skrctl wrap --" "--alg --base64 --help --socket --timeout"
expect "skrctl status --j" "--json"
expect "skrctl open-data --k" "--key --key-file"
expect "skrctl completion " "bash"
touch "$work/chain.pem" "$work/cert.pem"
expect "skrctl report verify --chain $work/ch" "$work/chain.pem"
expect "skrctl no-such-command --" ""

# No drift: every command of `skrctl --help` is offered at the first word.
read -r -a COMP_WORDS <<<"skrctl x"
COMP_WORDS[1]=""
COMP_CWORD=1
_skrctl
offered=" ${COMPREPLY[*]} "
while read -r first _; do
  [[ $offered == *" $first "* ]] || { echo "FAIL: '$first' of skrctl --help is not completed" >&2; failures=$((failures + 1)); }
done < <("$skrctl" --help | sed -n '/^commands:/,/^$/p' | sed '1d;$d')

[[ $failures -eq 0 ]] || { echo "completion_test: $failures failure(s)" >&2; exit 1; }
echo "completion_test: all completions as expected"
