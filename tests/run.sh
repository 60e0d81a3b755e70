#!/usr/bin/env bash
# The whole test run: C unit tests, then the node:test suites (integration and browser e2e against
# a real vireo ($VIREO_BIN), and the JS client's). Ends with one "N passed, N failed" line over both.
set -u
cd "$(dirname "$0")/.."
unit_out=$(tests/run-unit.sh "$@" 2>&1); unit_rc=$?
printf '%s\n' "$unit_out"
line=$(printf '%s\n' "$unit_out" | grep '^unit total:' | tail -1)
up=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
uf=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
up=${up:-0}; uf=${uf:-1}

# The tests need Node >= 20 (--test-force-exit, playwright-core); `make test-deps` installs one
# into build/node/ when the system's is older (Debian 12's is 18).
PATH="$PWD/build/node/node_modules/.bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
    echo "tests/run.sh: the tests need Node.js >= 20, found $(node --version 2>/dev/null || echo none):" \
         "run \`make test-deps\` (installs Node 22 into build/node/) or put a Node >= 20 first on PATH"
    echo "unit: $up passed, $uf failed; integration: 0 passed, 1 failed"
    echo "$up passed, $((uf + 1)) failed"
    exit 1
fi

node_log=$(mktemp)
# Bounded: a file that hangs fails after 5 minutes (node applies --test-timeout to each file as a
# whole; convex-codegen's tsc runs took 111 s together on a loaded machine), a file whose tests are done exits even if it
# left a handle open, and the whole run has 25 minutes. The counts come from the spec reporter's
# summary on stdout (a reporter writing to a file may be cut short by --test-force-exit).
timeout 1500 node --test --test-reporter=spec \
     --test-timeout=300000 --test-force-exit \
     --test-concurrency=2 tests/integration/ tests/client/ tests/e2e/ 2>&1 | tee "$node_log"
node_rc=${PIPESTATUS[0]}
np=$(grep -E '^ℹ pass [0-9]+$' "$node_log" | tail -1 | awk '{print $3}')
nf=$(grep -E '^ℹ fail [0-9]+$' "$node_log" | tail -1 | awk '{print $3}')
rm -f "$node_log"
np=${np:-0}; nf=${nf:-0}
[ $node_rc -ne 0 ] && [ "$nf" = 0 ] && nf=1
[ "$np" = 0 ] && [ "$nf" = 0 ] && nf=1 # no summary: nothing ran

echo "unit: $up passed, $uf failed; integration: $np passed, $nf failed"
echo "$((up + np)) passed, $((uf + nf)) failed"
[ $unit_rc -eq 0 ] && [ $node_rc -eq 0 ]
