#!/usr/bin/env bash
# `make test`: the suites on the release build, the crash suite (5 rounds), the same suites under
# ASan+UBSan, then every fuzz target briefly. Prints each phase's summary and a final "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
total_p=0; total_f=0; status=0
phase() {
    local name=$1; shift
    local log; log=$(mktemp)
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line; line=$(grep -E '^(fuzz: )?[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    line=${line#fuzz: }
    local p=${line%% passed*} f=${line#*passed, }; f=${f%% failed*}
    [ -z "$line" ] && { p=0; f=1; }
    [ "$rc" -ne 0 ] && [ "$f" = 0 ] && f=1
    echo "== $name: $p passed, $f failed"
    total_p=$((total_p + p)); total_f=$((total_f + f))
    [ "$rc" -ne 0 ] && status=1
    rm -f "$log"
}
# builds use every CPU (the dependencies are installed by then: `make test` needs test-deps first)
jobs=-j$(nproc)
phase release make "$jobs" --no-print-directory test-suites
phase crash make "$jobs" --no-print-directory test-crash
phase asan make "$jobs" --no-print-directory test-asan
phase fuzz make "$jobs" --no-print-directory fuzz
echo "$total_p passed, $total_f failed"
exit $status
