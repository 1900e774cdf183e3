#!/usr/bin/env bash
# test.sh — the whole test suite from a fresh machine: installs what the tests need
# (Bun from npm, the real peers from Debian), runs `bun test`, and closes with
# "N passed, N failed". Network tests need root; they build private namespaces.
set -uo pipefail
cd "$(dirname "$0")/.."
bun=$(bash scripts/setup.sh --test | tail -n 1) || exit 1
export PATH="$(dirname "$bun"):$PATH"
log=$(mktemp)
"$bun" test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -n 1 | tr -dc 0-9)
fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -n 1 | tr -dc 0-9)
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$status"
