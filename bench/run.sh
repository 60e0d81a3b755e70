#!/usr/bin/env bash
# bench/run.sh: runs the benchmark scenarios (all, or those named in the arguments: one or more,
# in one argument or several) each against a fresh `vireo serve --durability $DURABILITY` (full
# by default) on a copy of bench/app (bench/actors-app for actor-*), prints one table and leaves bench/results/<scenario>.json,
# which records the durability mode. fanout and push-latency are also measured against the floor
# program (bench/ref/floor.c) in the same run and shown as ratios to it (docs/benchmarks.md,
# "The floor"); PERF=1 records a `perf` profile of the server during each scenario.
# Invariant: every server it starts is stopped (trap on exit and on signals) and every temporary
# app copy is removed; a scenario that misses its target does not fail the run.
set -u
cd "$(dirname "$0")/.."
VIREO=${VIREO:-build/release/vireo}
LOADGEN=${LOADGEN:-build/release/bench/loadgen}
FLOOR=${FLOOR:-build/release/bench/floor}
FLOOR_MODES=${FLOOR_MODES:-send uring threads} # the fan-out floor's send strategies, in order
PERF=${PERF:-0}                   # 1: perf record -g on the server; bench/results/<s>.perf.txt
ALL="mutations push-latency fanout precision http-query connections convex-client scheduler paginate search vector auth tenants actor-rpc actor-fanout"
SCENARIOS=${*:-$ALL}
DURABILITY=${DURABILITY:-full}    # the server's --durability: full or relaxed
CONN_N=${CONN_N:-100000}          # connections scenario: N (clamped to the fd limit)
# BENCH_ARGS: extra loadgen options for every scenario, e.g. "--duration 3" (see loadgen --help)
# SCHED_ARGS: options of bench/scheduler.mjs, e.g. "--steady 500 --burst 2000"
# PAGE_ARGS: options of bench/paginate.mjs, e.g. "--rows 100000 --walkers 2 --duration 5"
# SEARCH_ARGS: options of bench/search.mjs, e.g. "--docs 20000 --subs 50 --duration 5"
# VECTOR_ARGS: options of bench/vector.mjs, e.g. "--docs 50000 --duration 5"
# AUTH_ARGS: options of bench/auth.mjs, e.g. "--conns 4 --duration 3"
# TENANT_ARGS: options of bench/tenants.mjs, e.g. "--count 200"
# ACTOR_ARGS: options of bench/actor-rpc.mjs, e.g. "--window 64 --duration 3 --calls 200000"
# VIREO_ARGS: more options of every `vireo serve`, e.g. "--send-threads 2"
# ACTOR_FANOUT_ARGS: options of bench/actor-fanout.mjs, e.g. "--subs 1000 --threads 2 --calls 100"
mkdir -p bench/results

case "$DURABILITY" in full|relaxed) ;; *) echo "bench: DURABILITY must be full or relaxed" >&2; exit 2;; esac
for s in $SCENARIOS; do
    case " $ALL " in *" $s "*) ;; *) echo "bench: unknown scenario \"$s\" (have: $ALL)" >&2; exit 2;; esac
done

# The fd limit both processes need: raise the soft limit to the hard one; say so if it is short.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard" 2>/dev/null || true
soft=$(ulimit -n)
if [ "$soft" -lt $((CONN_N + 1000)) ]; then
    n=$((soft - 1000))
    echo "bench: open-file limit is $soft (hard $hard) and cannot be raised here: the connections" \
         "scenario runs $n connections instead of $CONN_N and extrapolates (raise \`ulimit -Hn\` as" \
         "root for the full run)"
    CONN_N=$n
fi

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -1)
[ -n "$dirty" ] && commit="$commit+dirty"
load=$(cut -d' ' -f1-3 /proc/loadavg)
NOTE=${BENCH_NOTE:-"load average at start: $load"}

server_pid=""
perf_pid=""
tmp=""
cleanup() {
    perf_stop
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    server_pid=""
    [ -n "$tmp" ] && rm -rf "$tmp"
    tmp=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# perf_start NAME / perf_stop: with PERF=1, a call-graph profile of the server (the whole
# process, every thread, 999 samples/s, from its start to the end of the scenario: setup
# included) reported into bench/results/NAME.perf.txt: self time by library, by symbol, then
# the inclusive time of the symbols above 5 %.
perf_name=""
perf_start() {
    [ "$PERF" = 1 ] && [ -n "$server_pid" ] || return 0
    if ! command -v perf >/dev/null; then
        echo "bench: PERF=1 but no perf on PATH (apt-get install linux-perf)" >&2
        return 0
    fi
    perf_name=$1
    perf record -g -F 999 -o "bench/results/$1.perf.data" -p "$server_pid" >/dev/null 2>"$tmp/perf.log" &
    perf_pid=$!
    sleep 0.3
}
perf_stop() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid" 2>/dev/null
    wait "$perf_pid" 2>/dev/null
    perf_pid=""
    local d="bench/results/$perf_name.perf.data" o="bench/results/$perf_name.perf.txt"
    if [ -s "$d" ]; then
        {
            echo "# perf record -g -F 999 -p <server> during $perf_name ($commit, durability $DURABILITY)"
            perf report -i "$d" --stdio --header-only 2>/dev/null | grep 'sample duration' |
                sed 's/^# sample duration : */## recorded for /'
            echo "## by thread (pid:name; the loop thread's pid is the process's; samples at 999/s:"
            echo "## samples / 999 / duration = cores used)"
            perf report -i "$d" --stdio --no-children --sort pid -n -g none --percent-limit 0.5 2>/dev/null
            echo "## by library (self time)"
            perf report -i "$d" --stdio --no-children --sort dso -g none --percent-limit 0.5 2>/dev/null
            echo "## by symbol (self time)"
            perf report -i "$d" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null
            echo "## inclusive (children: time in the symbol and what it calls; vireo is built without"
            echo "## frame pointers, so its own callers are partly missing)"
            perf report -i "$d" --stdio --children --sort symbol -g none --percent-limit 5 2>/dev/null
        } | grep -v '^#[^#]' | grep -v '^#$' | grep -v '^$' | sed 's/ *- *- *$//' >"$o"
        echo "  perf: $o"
    else
        echo "bench: perf recorded nothing for $perf_name: $(tail -2 "$tmp/perf.log" 2>/dev/null)" >&2
    fi
}

# floor_json FILE KEY: a number from a results JSON (the loadgen's or the floor's).
floor_json() {
    sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1" 2>/dev/null | head -1
}
# json_add FILE TEXT: inserts `"floor": TEXT,` as the first member of a results JSON.
json_add() {
    [ -f "$1" ] || return 0
    awk -v add="$2" 'NR == 1 { print; print "  \"floor\": " add ","; next } { print }' "$1" >"$1.tmp" &&
        mv "$1.tmp" "$1"
}

# floor_run SCENARIO MODE OUT: the loadgen's SCENARIO against `floor serve --mode MODE`, with
# one WAL-like commit + fdatasync per batch of writes when DURABILITY=full (fl_synced, fl_label say so);
# results in OUT. 1 if the floor did not start.
fl_synced=false fl_label=""
[ "$DURABILITY" = full ] && fl_synced=true fl_label=" (an fdatasync per batch of writes)"
floor_run() {
    local sc=$1 m=$2 f=$3 sync=""
    [ "$DURABILITY" = full ] && sync=--sync-dir
    start_server floor "$m" $sync || { cleanup; return 1; }
    out=$("$LOADGEN" "$sc" --port "$port" --out "$f" --commit "$commit" \
          --note "$NOTE; the floor: bench/ref/floor.c --mode $m${sync:+ $sync}" \
          --durability "$DURABILITY" ${BENCH_ARGS:-} 2>&1)
    printf '%s\n' "$out" | grep -v '^ROW	' | sed "s/^$sc:/$sc (floor, $m):/"
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    grep '^floor: [0-9]* broadcasts' "$tmp/server.log" | sed 's/^/  /'
    server_pid=""
    cleanup
}

# start_server [node|actors|floor MODE [--sync-dir]]: a fresh vireo on a copy of bench/app, or of
# bench/actors-app (which bundles zod: it gets the repository's node_modules), or the Node `ws`
# reference, or the floor program's fan-out server.
start_server() {
    tmp=$(mktemp -d /tmp/vireo-bench.XXXXXX)
    if [ "${1:-}" = node ]; then
        NODE_PATH="$PWD/node_modules" node bench/ref/ws-fanout.mjs >"$tmp/server.log" 2>&1 &
    elif [ "${1:-}" = floor ]; then # floor MODE [--sync-dir]: the sync file goes in $tmp
        "$FLOOR" serve --mode "$2" ${3:+"$3" "$tmp"} >"$tmp/server.log" 2>&1 &
    else
        if [ "${1:-}" = actors ]; then
            cp -r bench/actors-app/. "$tmp/"
            ln -s "$PWD/node_modules" "$tmp/node_modules"
        else
            cp -r bench/app/. "$tmp/"
        fi
        rm -rf "$tmp/.vireo" "$tmp/vireo/_generated"
        "$VIREO" serve "$tmp" --port 0 --durability "$DURABILITY" ${server_args[@]+"${server_args[@]}"} \
            >"$tmp/server.log" 2>&1 &
    fi
    server_pid=$!
    port=""
    for _ in $(seq 300); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/server.log" 2>/dev/null | sed 's/.*://')
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: the server did not start:" >&2
    cat "$tmp/server.log" >&2
    return 1
}

rows=()
t_start=$(date +%s)
for s in $SCENARIOS; do
    echo "== $s"
    args=()
    [ "$s" = connections ] && args+=(--conns "$CONN_N")
    read -r -a server_args <<<"${VIREO_ARGS:-}"
    [ "$s" = tenants ] && server_args+=(--tenants --max-open-tenants 8 --tenant-idle-ms 1000 --action-threads 1)
    kind=""
    case "$s" in actor-*) kind=actors ;; esac
    if ! start_server $kind; then
        rows+=("$s	server did not start	-	ERROR")
        cleanup
        continue
    fi
    case "$s" in
        # driven from Node: bench/convex-client.mjs (the official convex npm client),
        # bench/scheduler.mjs (scheduled jobs over the HTTP API), bench/paginate.mjs and
        # bench/search.mjs (paginated and search queries over the HTTP API; search's re-runs
        # with the convex client), bench/vector.mjs (ctx.vectorSearch in actions over the HTTP
        # API, and mutations beside them), bench/auth.mjs (verified connects and a token's cost; it sets
        # the app's provider through the admin API, so it gets the app folder too),
        # bench/tenants.mjs (1,000 tenants opened and idled out, RSS; the server's pid),
        # bench/actor-rpc.mjs and bench/actor-fanout.mjs (live actors over /api/actors; the
        # server's pid, for its CPU time)
        convex-client) node_args=() ;;
        scheduler) read -r -a node_args <<<"${SCHED_ARGS:-}" ;;
        paginate) read -r -a node_args <<<"${PAGE_ARGS:-}" ;;
        search) read -r -a node_args <<<"${SEARCH_ARGS:-}" ;;
        vector) read -r -a node_args <<<"${VECTOR_ARGS:-}" ;;
        auth) read -r -a node_args <<<"${AUTH_ARGS:-}"; node_args+=(--dir "$tmp") ;;
        tenants) read -r -a node_args <<<"${TENANT_ARGS:-}"; node_args+=(--pid "$server_pid") ;;
        actor-rpc) read -r -a node_args <<<"${ACTOR_ARGS:-}"; node_args+=(--pid "$server_pid") ;;
        actor-fanout) read -r -a node_args <<<"${ACTOR_FANOUT_ARGS:-}"; node_args+=(--pid "$server_pid") ;;
        *) node_args=(none) ;;
    esac
    perf_start "$s"
    if [ "${node_args[*]-}" != none ]; then
        out=$(NODE_PATH="$PWD/node_modules" node "bench/$s.mjs" --port "$port" \
              --out "bench/results/$s.json" --commit "$commit" --note "$NOTE" \
              --durability "$DURABILITY" ${node_args[@]+"${node_args[@]}"} 2>&1)
    else
        out=$("$LOADGEN" "$s" --port "$port" --out "bench/results/$s.json" --commit "$commit" \
              --note "$NOTE" --durability "$DURABILITY" "${args[@]}" ${BENCH_ARGS:-} 2>&1)
    fi
    rc=$?
    perf_stop
    printf '%s\n' "$out" | grep -v '^ROW	'
    row=$(printf '%s\n' "$out" | grep '^ROW	' | tail -1 | cut -f2-)
    [ -z "$row" ] && row="$s	loadgen exited $rc	-	ERROR"
    rows+=("$row")
    # push latency's floor, part 1: a loopback WebSocket ping-pong (writer -> server -> subscriber
    # is one round trip) and WAL-like commits + fdatasync in the directory of this server's WAL
    push_parts=""
    if [ "$s" = push-latency ] && [ -x "$FLOOR" ] && [ -d "$tmp/.vireo/data" ]; then
        "$FLOOR" push --dir "$tmp/.vireo/data" --out bench/results/push-latency-floor-parts.json 2>&1 |
            sed 's/^/  /'
        push_parts=$(cat bench/results/push-latency-floor-parts.json 2>/dev/null)
    fi
    [ "$s" = fanout ] && fan_row=$((${#rows[@]} - 1))
    # the actor scenarios again from the C load generator, on the same server (a fresh instance):
    # a client that costs less per message than Node's, to tell the server's share from the client's
    case "$s" in actor-*) if kill -0 "$server_pid" 2>/dev/null; then
        out=$("$LOADGEN" "$s" --port "$port" --out "bench/results/$s-c.json" --commit "$commit" \
              --note "$NOTE; client: bench/loadgen (C)" --durability "$DURABILITY" ${BENCH_ARGS:-} 2>&1)
        printf '%s\n' "$out" | grep -v '^ROW	' | sed "s/^$s:/$s (C loadgen):/"
        row=$(printf '%s\n' "$out" | grep '^ROW	' | tail -1 | cut -f2-)
        [ -n "$row" ] && rows+=("${s/actor-fanout/actor-fan}/C	${row#*	}")
    fi ;; esac
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench: the server died during $s; its log:" >&2
        tail -20 "$tmp/server.log" >&2
    fi
    cleanup
    # the fan-out baseline: the same scenario against a minimal Node `ws` broadcast server
    if [ "$s" = fanout ] && command -v node >/dev/null && [ -d node_modules/ws ] && start_server node; then
        out=$("$LOADGEN" fanout --port "$port" --out bench/results/fanout-node-ws.json \
              --commit "$commit" --note "$NOTE; reference: node $(node --version) ws" \
              ${BENCH_ARGS:-} 2>&1)
        printf '%s\n' "$out" | grep -v '^ROW	' | sed 's/^fanout:/fanout (node ws reference):/'
        ref=$(printf '%s\n' "$out" | sed -n 's/^ *last delivery per write: .* p99=\([0-9.]*\) .*/\1/p')
        mine=$(sed -n 's/.*"last_p99_ms": \([0-9.e+-]*\).*/\1/p' bench/results/fanout.json 2>/dev/null)
        if [ -n "$ref" ] && [ -n "$mine" ]; then
            ratio=$(awk -v a="$mine" -v b="$ref" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
            rows+=("fanout-ref	node ws broadcast: last delivery p99 $ref ms; vireo/node = ${ratio}x	reference	INFO")
        fi
        cleanup
    fi
    # the floor: the same load generator against bench/ref/floor.c (docs/benchmarks.md, "The
    # floor"), which does only what the kernel (and, with durability full, the disk) must
    [ -x "$FLOOR" ] || continue
    case "$s" in
    fanout) # once per send strategy; fanout's row becomes a ratio to the best
        fl_json="" plain="" best="" best_mode="" others=""
        declare -A fl50=()
        for m in $FLOOR_MODES; do
            f="bench/results/fanout-floor-$m.json"
            floor_run fanout "$m" "$f" || continue
            v=$(floor_json "$f" last_p99_ms)
            inc=$(floor_json "$f" incomplete_writes)
            [ -n "$v" ] && [ "${inc:-1}" = 0 ] || { echo "bench: the floor ($m) did not complete" >&2; continue; }
            fl50[$m]=$(floor_json "$f" last_p50_ms)
            fl_json="$fl_json${fl_json:+, }\"${m}_last_p99_ms\": $v, \"${m}_last_p50_ms\": ${fl50[$m]}"
            if [ "$m" = send ]; then plain=$v; continue; fi
            others="$others${others:+; }$m $(printf %.1f "$v") ms"
            if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; then
                best=$v best_mode=$m
            fi
        done
        mine=$(floor_json bench/results/fanout.json last_p99_ms)
        mine50=$(floor_json bench/results/fanout.json last_p50_ms)
        floor=$plain floor_mode=send
        if [ -n "$best" ] && { [ -z "$floor" ] || awk -v a="$best" -v b="$floor" 'BEGIN { exit !(a < b) }'; }; then
            floor=$best floor_mode=$best_mode
        fi
        if [ -n "$floor" ] && [ -n "$mine" ] && [ -n "${fan_row:-}" ]; then
            IFS=$'\t' read -r _ _ _ fverdict <<<"${rows[$fan_row]}"
            ratio=$(awk -v a="$mine" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
            ratio50=$(awk -v a="$mine50" -v b="${fl50[$floor_mode]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
            verdict=MISS
            [ "$fverdict" = PASS ] && awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }' && verdict=PASS
            [ "$fverdict" = ERROR ] && verdict=ERROR
            fig="last delivery p99 $(printf %.1f "$mine") ms, floor $(printf %.1f "${plain:-0}") ms (plain send)"
            [ -n "$best" ] && fig="$fig / $(printf %.1f "$best") ms (batched, best of: $others)"
            fig="$fig, ${ratio}x floor (p50: ${ratio50}x)"
            rows[$fan_row]="fanout	$fig	p99 <= 50 ms and <= 1.5x floor	$verdict"
            json_add bench/results/fanout.json "{$fl_json, \"floor_mode\": \"$floor_mode\", \"floor_last_p99_ms\": $floor, \"floor_last_p50_ms\": ${fl50[$floor_mode]}, \"best_batched_mode\": \"${best_mode}\", \"synced\": $fl_synced, \"ratio_to_floor\": $ratio, \"ratio_to_floor_p50\": ${ratio50:-null}}"
            echo "  fanout: ${ratio}x the floor at p99 ($(printf %.1f "$floor") ms, $floor_mode), ${ratio50}x at p50"
        fi
        ;;
    push-latency) # beside its floor, and the floor's parts (measured above)
        [ -n "$push_parts" ] || continue
        f=bench/results/push-latency-floor.json p=bench/results/push-latency-floor-parts.json
        floor_run push-latency send "$f" || continue
        f50=$(floor_json $f push_p50_ms) f99=$(floor_json $f push_p99_ms)
        m50=$(floor_json bench/results/push-latency.json push_p50_ms)
        m99=$(floor_json bench/results/push-latency.json push_p99_ms)
        pp50=$(floor_json $p pingpong_p50_ms) fs50=$(floor_json $p fdatasync_p50_ms)
        [ -n "$f50" ] && [ -n "$m50" ] || continue
        r50=$(awk -v a="$m50" -v b="$f50" 'BEGIN { if (b > 0) printf "%.1f", a / b }')
        r99=$(awk -v a="$m99" -v b="$f99" 'BEGIN { if (b > 0) printf "%.1f", a / b }')
        json_add bench/results/push-latency.json "{\"push_p50_ms\": $f50, \"push_p99_ms\": $f99, \"synced\": $fl_synced, \"ratio_p50\": ${r50:-null}, \"ratio_p99\": ${r99:-null}, \"parts\": ${push_parts%$'\n'}}"
        rows+=("push-floor	p50 $(printf %.3f "$f50") ms, p99 $(printf %.3f "$f99") ms$fl_label; parts: ping-pong p50 $(printf %.3f "$pp50") + fdatasync p50 $(printf %.3f "$fs50") ms; vireo ${r50}x / ${r99}x floor	beside push-latency	INFO")
        ;;
    mutations | http-query | actor-rpc) # throughput: vireo's as a fraction of the floor's
        key=mutations_per_s mine="bench/results/$s.json"
        [ "$s" = http-query ] && key=requests_per_s
        [ "$s" = actor-rpc ] && key=calls_per_s mine=bench/results/actor-rpc-c.json # same client
        f="bench/results/$s-floor.json"
        floor_run "$s" send "$f" || continue
        fv=$(floor_json "$f" $key) mv=$(floor_json "$mine" $key)
        f99=$(floor_json "$f" rtt_p99_ms)
        [ -n "$fv" ] && [ -n "$mv" ] || continue
        r=$(awk -v a="$mv" -v b="$fv" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
        json_add "$mine" "{\"$key\": $fv, \"rtt_p99_ms\": $f99, \"synced\": $fl_synced, \"ratio\": ${r:-null}}"
        name=http-floor label=""
        [ "$s" = mutations ] && name=mut-floor label=$fl_label
        [ "$s" = actor-rpc ] && name=rpc-floor label=$fl_label
        rows+=("$name	$(printf %.0f "$fv")/s, rtt p99 $(printf %.2f "$f99") ms$label; vireo ${r}x floor	beside $s	INFO")
        ;;
    esac
done

echo
echo "Vireo benchmarks ($commit, durability $DURABILITY, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $NOTE; $(( $(date +%s) - t_start )) s)"
printf '%-13s | %-7s | %-30s | %s\n' scenario result target figure
printf '%s\n' "--------------+---------+--------------------------------+-----------------------------------------------"
for r in "${rows[@]}"; do
    IFS=$'\t' read -r name fig target verdict <<<"$r"
    printf '%-13s | %-7s | %-30s | %s\n' "$name" "$verdict" "$target" "$fig"
done
echo "results: bench/results/<scenario>.json"
exit 0
