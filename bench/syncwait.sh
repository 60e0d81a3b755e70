#!/usr/bin/env bash
# bench/syncwait.sh: how long the server's threads wait in fdatasync/fsync during one load
# generator scenario. Starts a fresh `vireo serve --durability $DURABILITY` on a copy of bench/app
# under `strace -f --seccomp-bpf -T -e trace=fdatasync,fsync` (only those two system calls stop
# the process, so the server runs at nearly full speed), runs `loadgen SCENARIO`, and prints per
# file descriptor the calls of the loop thread (the server's main thread) and of the other
# threads (checkpoint, readers): count, total, mean, p50, p99, max, and the loop's total as a
# share of the run's wall time. Usage: bench/syncwait.sh mutations|push-latency|... [loadgen
# options]. Invariant: the server and the temporary app copy are removed on every exit.
set -u
cd "$(dirname "$0")/.." || exit 2
VIREO=${VIREO:-build/release/vireo}
LOADGEN=${LOADGEN:-build/release/bench/loadgen}
DURABILITY=${DURABILITY:-full}
[ $# -ge 1 ] || { echo "usage: bench/syncwait.sh SCENARIO [loadgen options]" >&2; exit 2; }
command -v strace >/dev/null || { echo "syncwait: needs strace" >&2; exit 2; }
command -v python3 >/dev/null || { echo "syncwait: needs python3" >&2; exit 2; }
scenario=$1
shift
tmp=$(mktemp -d /tmp/vireo-syncwait.XXXXXX)
spid="" vpid=""
cleanup() {
    [ -n "$vpid" ] && kill -TERM "$vpid" 2>/dev/null
    [ -n "$spid" ] && wait "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -r bench/app/. "$tmp/"
rm -rf "$tmp/.vireo" "$tmp/vireo/_generated"
strace -f --seccomp-bpf -T -e trace=fdatasync,fsync -o "$tmp/strace.txt" \
    "$VIREO" serve "$tmp" --port 0 --durability "$DURABILITY" >"$tmp/server.log" 2>&1 &
spid=$!
port=""
for _ in $(seq 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/server.log" 2>/dev/null | sed 's/.*://')
    [ -n "$port" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || { echo "syncwait: the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
vpid=$(pgrep -P "$spid" -x vireo)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); durability $DURABILITY"
t0=$(date +%s.%N)
"$LOADGEN" "$scenario" --port "$port" --durability "$DURABILITY" "$@" 2>&1 | grep -v '^ROW	'
t1=$(date +%s.%N)
kill -TERM "$vpid"
wait "$spid" 2>/dev/null
python3 - "$tmp/strace.txt" "$vpid" "$t0" "$t1" <<'PY'
import collections, re, sys
path, main, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
calls = collections.defaultdict(list)
for line in open(path):
    m = re.match(r'(\d+)\s+(fdatasync|fsync)\((\d+)\).*<([\d.]+)>', line)
    if m:
        calls[("loop" if m.group(1) == main else "other", m.group(2), m.group(3))].append(
            float(m.group(4)) * 1000)
loop_total = 0.0
for (who, call, fd), v in sorted(calls.items()):
    v.sort()
    n = len(v)
    if who == "loop":
        loop_total += sum(v)
    print("%-5s %-9s fd %-3s n=%-6d total=%8.1f ms mean=%.3f p50=%.3f p99=%.3f max=%.2f ms" %
          (who, call, fd, n, sum(v), sum(v) / n, v[n // 2], v[min(n - 1, int(n * 0.99))], v[-1]))
print("loop thread in fdatasync/fsync: %.1f ms of %.1f s of load (%.1f %%)" %
      (loop_total, t1 - t0, loop_total / 10 / (t1 - t0)))
PY
