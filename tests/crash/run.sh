#!/usr/bin/env bash
# `make test-crash`: the crash suite (tests/crash/README.md) against $VIREO_BIN (default ./vireo).
# CRASH_ROUNDS=N (default 5) kills per run; ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
export VIREO_BIN=${VIREO_BIN:-$PWD/vireo}
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "crash: the sqlite3 command is needed for PRAGMA integrity_check (make test-deps installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi
# bounded: about 1.5 s a round; a hung round fails the run rather than the machine
timeout $((120 + ${CRASH_ROUNDS:-5} * 30)) node tests/crash/crash.mjs
rc=$?
[ $rc -eq 124 ] && { echo "crash: timed out"; echo "0 passed, 1 failed"; }
exit $rc
