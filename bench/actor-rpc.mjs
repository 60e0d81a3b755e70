// bench/actor-rpc.mjs: the `actor-rpc` scenario (issue 12), against a Vireo started by
// bench/run.sh on bench/actors-app. One WebSocket to /api/actors, Zocket's wire protocol, calls of
// `counter.increment` on one instance (each changes the state, so each is stored: a commit batch
// per group of calls, as mutations). (1) Unloaded: one call at a time (window 1) for
// `--rtt-calls` calls: the round trip p50/p99. (2) Loaded: `--window` calls in flight, a new one
// sent as each result arrives, for `--duration` s or `--calls` calls (whichever comes first; the
// first 0.5 s is warm-up, not counted): calls/s and round-trip p50/p99. Every result is checked
// (the counter's values come back in order, one apart). Also the CPU each side used (this
// process, and the server's from /proc/<pid>/stat), to tell which side is the bottleneck.
// Usage: node bench/actor-rpc.mjs --port P [--pid PID] [--window N] [--duration S] [--calls N]
// [--rtt-calls N] [--cork-calls N] [--out FILE] [--commit C] [--note S] [--durability D]. Prints a summary and one
// ROW line. Bounded: each phase gives up `--timeout` s after its end.
import fs from "node:fs";
import WebSocket from "ws";
import { parseOptions, pct, procCpuSeconds } from "./http-api.mjs";

const opt = parseOptions("actor-rpc", { port: 0, pid: 0, window: 256, duration: 5, calls: 2000000,
    "rtt-calls": 5000, "cork-calls": 16, timeout: 10, out: "", commit: "unknown", note: "", durability: "full" });
const f = (x, d = 1) => Number(x).toFixed(d);
const now = () => performance.now(); // ms, sub-µs resolution

const serverCpu = () => procCpuSeconds(opt.pid);
const myCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

function open() {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${opt.port}/api/actors`, { perMessageDeflate: false });
        const t = setTimeout(() => { ws.terminate(); reject(new Error("no welcome within 10 s")); }, 10000);
        ws.once("message", (d) => {
            clearTimeout(t);
            const m = JSON.parse(d);
            if (m.type !== "welcome") reject(new Error(`first frame is not a welcome: ${String(d).slice(0, 200)}`));
            else resolve(ws);
        });
        ws.once("error", (e) => { clearTimeout(t); reject(e); });
    });
}

/* Runs `window` calls in flight until `maxCalls` results or `seconds` (after `warmS` of warm-up).
 * Resolves to { calls, secs, lat (µs, sorted), cpu: {mine, server} }. */
function phase(ws, actorId, window, maxCalls, seconds, warmS, expectFrom) {
    return new Promise((resolve, reject) => {
        const sentAt = new Map();
        let id = 0, inflight = 0, done = 0, counted = 0, expect = expectFrom;
        const lat = [];
        const t0 = now(), tMeasure = t0 + warmS * 1000, tEnd = tMeasure + seconds * 1000;
        let cpu0 = null, tFirst = 0, tLast = 0, corked = 0;
        /* the calls sent while handling one read's results go out `--cork-calls` to a write:
         * a write per call costs this client more than the server's share of the call, and one
         * write for all of them would leave the server idle while this client works */
        const uncork = () => { if (corked > 0) ws._socket.uncork(); corked = 0; };
        const send = () => {
            const i = ++id;
            sentAt.set(i, now());
            inflight++;
            if (window > 1) {
                if (corked === 0) process.nextTick(uncork);
                else if (corked >= opt["cork-calls"]) { ws._socket.uncork(); corked = 0; }
                if (corked++ === 0) ws._socket.cork();
            }
            ws.send(`{"type":"rpc","id":${i},"actor":"counter","actorId":"${actorId}","method":"increment"}`);
        };
        const guard = setTimeout(() => fail(new Error(`phase did not finish: ${inflight} calls unanswered ${opt.timeout} s after its end`)),
            (warmS + seconds + opt.timeout) * 1000);
        const fail = (e) => { clearTimeout(guard); ws.off("message", onMsg); reject(e); };
        const onMsg = (d) => {
            const t = now();
            const m = JSON.parse(d);
            if (m.type !== "rpc:result") return;
            if (m.error !== undefined) return fail(new Error(`rpc ${m.id} failed: ${m.error}`));
            if (m.result !== expect) return fail(new Error(`rpc ${m.id}: count ${m.result}, expected ${expect} (results out of order or lost)`));
            expect++;
            const s = sentAt.get(m.id);
            sentAt.delete(m.id);
            inflight--;
            done++;
            if (t >= tMeasure && t < tEnd && counted < maxCalls) {
                if (!cpu0) { cpu0 = { mine: myCpu(), server: serverCpu() }; tFirst = t; }
                lat.push((t - s) * 1000);
                counted++;
                tLast = t;
            }
            if (t < tEnd && counted < maxCalls) send();
            else if (inflight === 0) {
                clearTimeout(guard);
                ws.off("message", onMsg);
                const secs = (tLast - tFirst) / 1000;
                const cpu = cpu0 ? { mine: (myCpu() - cpu0.mine) / secs, server: (serverCpu() - cpu0.server) / secs } : {};
                lat.sort((a, b) => a - b);
                resolve({ calls: counted, secs, lat, cpu, next: expect });
            }
        };
        ws.on("message", onMsg);
        ws.once("close", (code, reason) => fail(new Error(`socket closed: ${code} ${reason}`)));
        for (let k = 0; k < window; k++) send();
    });
}

let ws;
try {
    if (!(opt.window >= 1 && opt.window <= 65536)) throw new Error("--window must be 1..65536");
    ws = await open();
    const actorId = `bench-${process.pid}-${Date.now()}`;
    // (1) one call at a time (the first, which activates the instance, is counted too)
    const one = await phase(ws, actorId, 1, opt["rtt-calls"], 30, 0, 1);
    const u50 = pct(one.lat, 50), u99 = pct(one.lat, 99);
    console.log(`  unloaded (window 1): ${one.calls} calls, round trip p50 ${f(u50)} µs, p99 ${f(u99)} µs (target p50 <= 30 µs)`);
    // (2) pipelined
    const r = await phase(ws, actorId, opt.window, opt.calls, opt.duration, 0.5, one.next);
    const rate = r.calls / r.secs;
    const p50 = pct(r.lat, 50), p99 = pct(r.lat, 99);
    console.log(`  pipelined (window ${opt.window}): ${r.calls} calls in ${f(r.secs, 2)} s = ${f(rate, 0)} calls/s (target >= 150,000), round trip p50 ${f(p50)} µs, p99 ${f(p99)} µs`);
    const cpuLine = `CPU during the pipelined phase: this client ${f(100 * r.cpu.mine, 0)} % of a core` +
        (Number.isFinite(r.cpu.server) ? `, the server ${f(100 * r.cpu.server, 0)} %` : "");
    const bottleneck = r.cpu.mine > 0.9 ? "the Node client is saturated (a bottleneck)" :
        r.cpu.server > 0.9 ? "the server's thread is saturated" : "neither side saturates a core";
    console.log(`  ${cpuLine}: ${bottleneck}`);
    const srvUs = Number.isFinite(r.cpu.server) ? 1e6 * r.cpu.server / rate : NaN;
    if (Number.isFinite(srvUs)) console.log(`  server CPU per call: ${f(srvUs)} µs (utime+stime over the pipelined phase / calls)`);
    const pass = rate >= 150000 && u50 <= 30;
    const res = {
        scenario: "actor-rpc", commit: opt.commit, note: opt.note, durability: opt.durability,
        window: opt.window, calls: r.calls, seconds: r.secs, calls_per_s: rate,
        rtt_p50_us: p50, rtt_p99_us: p99, unloaded_calls: one.calls,
        unloaded_rtt_p50_us: u50, unloaded_rtt_p99_us: u99,
        client_cpu_cores: r.cpu.mine, server_cpu_cores: r.cpu.server, server_cpu_us_per_call: srvUs,
        targets: { calls_per_s: 150000, unloaded_rtt_p50_us: 30 },
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(res, null, 2) + "\n");
    console.log(`ROW\tactor-rpc\t${f(rate, 0)} calls/s (window ${opt.window}, p50 ${f(p50, 0)} µs, p99 ${f(p99, 0)} µs); window 1: p50 ${f(u50)} µs, p99 ${f(u99)} µs\t>= 150,000/s, p50 <= 30 µs\t${pass ? "PASS" : "MISS"}`);
} catch (e) {
    console.log(`  error: ${e.message}`);
    console.log(`ROW\tactor-rpc\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
} finally {
    ws?.close();
}
