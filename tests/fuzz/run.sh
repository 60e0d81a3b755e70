#!/usr/bin/env bash
# Runs each libFuzzer target over its committed corpus (tests/fuzz/corpus/<name>/) for
# FUZZ_SECONDS seconds (default 15; `FUZZ_SECONDS=1800 make fuzz` for a long run). A crash, leak,
# timeout or out-of-memory found by a target fails the run: its input is kept as
# build/fuzz/<name>-crash-* (or -leak-, -timeout-, -oom-) and the log as build/fuzz/<name>.log.
# Each target gets a TMPDIR of its own, removed afterwards (fuzz_sync keeps its database there).
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-15}
case "$secs" in ''|*[!0-9]*|0) echo "fuzz: FUZZ_SECONDS must be a positive number of seconds" >&2; exit 2;; esac
# JavaScriptCore keeps process-lifetime allocations; they are not ours (tests/lsan.supp)
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
mkdir -p build/fuzz
# The targets run FUZZ_JOBS at a time (default: one per CPU); each reports into its own file and
# the reports are printed in the targets' order.
jobs=${FUZZ_JOBS:-$(nproc)}
case "$jobs" in ''|*[!0-9]*|0) echo "fuzz: FUZZ_JOBS must be a positive number" >&2; exit 2;; esac
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
run_one() {  # run_one BIN REPORT: prints the report to REPORT, exits 0 when the target passed
    local bin=$1 report=$2 name corpus work tmp dict rc artifacts
    name=$(basename "$bin"); name=${name#fuzz_}
    corpus=tests/fuzz/corpus/$name
    work=$(mktemp -d)
    tmp=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    rm -f build/fuzz/"$name"-crash-* build/fuzz/"$name"-leak-* build/fuzz/"$name"-timeout-* \
          build/fuzz/"$name"-oom-*
    TMPDIR=$tmp "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="build/fuzz/$name-" "$work" > "build/fuzz/$name.log" 2>&1
    rc=$?
    artifacts=$(ls build/fuzz/"$name"-crash-* build/fuzz/"$name"-leak-* \
                   build/fuzz/"$name"-timeout-* build/fuzz/"$name"-oom-* 2>/dev/null)
    rm -rf "$work" "$tmp"
    if [ $rc -eq 0 ] && [ -z "$artifacts" ]; then
        echo "fuzz: $name ok ($(grep -o 'cov: [0-9]*' "build/fuzz/$name.log" | tail -1), ${secs}s)" \
            > "$report"
        return 0
    fi
    { tail -30 "build/fuzz/$name.log"
      echo "fuzz: $name FAILED (exit $rc; see build/fuzz/$name.log${artifacts:+ and }$(echo $artifacts))"
    } > "$report"
    return 1
}
i=0
for bin in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    i=$((i + 1))
    run_one "$bin" "$reports/$i" &
done
wait
passed=0; failed=0
for n in $(seq 1 $i); do
    cat "$reports/$n" 2>/dev/null || echo "fuzz: target $n left no report"
    if grep -q ' ok (' "$reports/$n" 2>/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
