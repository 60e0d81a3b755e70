#!/usr/bin/env bash
# Runs each unit-test binary given, sums their "N passed, N failed" lines.
set -u
passed=0; failed=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -40
        echo "unit: $(basename "$t") FAILED (exit $rc)"
    else
        echo "unit: $(basename "$t"): $line"
    fi
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
    fi
    [ $rc -ne 0 ] && [ -z "$line" ] && failed=$((failed + 1))
    [ $rc -ne 0 ] && [ -n "$line" ] && [ "${f:-0}" = 0 ] && failed=$((failed + 1))
done
echo "unit total: $passed passed, $failed failed"
[ $failed -eq 0 ]
