#!/usr/bin/env bash
# Runs each libFuzzer target briefly over its committed corpus (tests/fuzz/corpus/<name>/).
# FUZZ_SECONDS sets the time per target (default 15).
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-15}
# JavaScriptCore keeps process-lifetime allocations; they are not ours (tests/lsan.supp)
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
passed=0; failed=0
for bin in "$@"; do
    name=$(basename "$bin"); name=${name#fuzz_}
    corpus=tests/fuzz/corpus/$name
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    if "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="build/fuzz/$name-" "$work" > "build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(grep -o 'cov: [0-9]*' "build/fuzz/$name.log" | tail -1), ${secs}s)"
        passed=$((passed + 1))
    else
        tail -30 "build/fuzz/$name.log"
        echo "fuzz: $name FAILED (see build/fuzz/$name.log and build/fuzz/$name-*)"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
