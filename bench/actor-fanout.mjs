// bench/actor-fanout.mjs: the `actor-fanout` scenario (issue 12), against a Vireo started by
// bench/run.sh on bench/actors-app. `--subs` WebSocket connections to /api/actors (spread over
// `--threads` worker threads of this process, so parsing the patches is not one thread's job),
// each with a `state:sub` of the same `board` instance; a writer connection calls `board.set`
// `--calls` times, one at a time: each call writes its send time (process.hrtime, the same
// monotonic clock in every thread) into the state, so each subscriber computes its delivery
// latency from the `state:patch` it receives. The writer waits until every subscriber has the
// call's patch (at most `--timeout` s), pauses `--pause-ms`, and sends the next. Reported: the
// last delivery per call (when the slowest subscriber had it) p50/p99, every delivery's p50/p99,
// the writer's round trip, and the CPU this process used per call. The first `--warmup` calls
// are not counted. Usage: node bench/actor-fanout.mjs --port P [--subs N] [--threads N]
// [--calls N] [--warmup N] [--pause-ms N] [--timeout S] [--out FILE] [--commit C] [--note S]
// [--durability D]. Prints a summary and one ROW line.
import fs from "node:fs";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { parseOptions, pct, sleep, procCpuSeconds } from "./http-api.mjs";

/* p's value, or `fallback` if it has not settled within ms (the timer is cleared either way). */
function within(p, ms, fallback) {
    let t;
    return Promise.race([p, new Promise((r) => { t = setTimeout(() => r(fallback), ms); })]).finally(() => clearTimeout(t));
}
const nowUs = () => Number(process.hrtime.bigint()) / 1000;

function open(port) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/actors`, { perMessageDeflate: false });
        const t = setTimeout(() => { ws.terminate(); reject(new Error("no welcome within 10 s")); }, 10000);
        ws.once("message", (d) => {
            clearTimeout(t);
            if (JSON.parse(d).type !== "welcome") reject(new Error(`first frame is not a welcome: ${String(d).slice(0, 200)}`));
            else resolve(ws);
        });
        ws.once("error", (e) => { clearTimeout(t); reject(e); });
    });
}

if (!isMainThread) {
    // A worker: `n` subscribers; per call (seq) the latencies of its subscribers, posted when all
    // of them have it.
    const { port, n, actorId } = workerData;
    const got = new Map(); // seq -> latencies (µs)
    const socks = [];
    const onPatch = (d) => {
        const t = nowUs();
        const m = JSON.parse(d);
        if (m.type !== "state:patch") return;
        let seq, sent;
        for (const p of m.patches) {
            if (p.path === "/seq") seq = p.value;
            else if (p.path === "/t") sent = p.value;
        }
        if (seq === undefined || sent === undefined) return;
        let l = got.get(seq);
        if (!l) got.set(seq, (l = []));
        l.push(t - sent);
        if (l.length === n) {
            got.delete(seq);
            parentPort.postMessage({ seq, lat: l });
        }
    };
    try {
        for (let i = 0; i < n; i += 50) { // 50 opening at a time
            await Promise.all(Array.from({ length: Math.min(50, n - i) }, async () => {
                const ws = await open(port);
                socks.push(ws);
                await new Promise((resolve, reject) => {
                    const t = setTimeout(() => reject(new Error("no state:snapshot within 10 s")), 10000);
                    ws.once("message", (d) => {
                        clearTimeout(t);
                        const m = JSON.parse(d);
                        if (m.type !== "state:snapshot") reject(new Error(`expected a snapshot, got ${String(d).slice(0, 200)}`));
                        else resolve();
                    });
                    ws.send(JSON.stringify({ type: "state:sub", actor: "board", actorId }));
                });
                ws.on("message", onPatch);
            }));
        }
        parentPort.postMessage({ ready: socks.length });
    } catch (e) {
        parentPort.postMessage({ error: String(e.message || e) });
    }
    parentPort.on("message", (m) => {
        if (m === "close") {
            for (const ws of socks) ws.close();
            setTimeout(() => process.exit(0), 200);
        }
    });
} else {
    const opt = parseOptions("actor-fanout", { port: 0, pid: 0, subs: 1000, threads: 2, calls: 200, warmup: 10,
        "pause-ms": 20, timeout: 5, out: "", commit: "unknown", note: "", durability: "full" });
    const f = (x, d = 1) => Number(x).toFixed(d);
    const workers = [];
    let writer;
    try {
        if (!(opt.threads >= 1 && opt.threads <= 16)) throw new Error("--threads must be 1..16");
        if (!(opt.subs >= opt.threads)) throw new Error("--subs must be at least --threads");
        const actorId = `fan-${process.pid}-${Date.now()}`;
        const waiting = new Map(); // seq -> { parts, lat, resolve }
        const ready = [];
        for (let k = 0; k < opt.threads; k++) {
            const n = Math.floor(opt.subs / opt.threads) + (k < opt.subs % opt.threads ? 1 : 0);
            const w = new Worker(new URL(import.meta.url), { workerData: { port: opt.port, n, actorId } });
            workers.push(w);
            ready.push(new Promise((resolve, reject) => {
                w.on("error", reject);
                w.on("message", (m) => {
                    if (m.error) reject(new Error(m.error));
                    else if (m.ready !== undefined) resolve(m.ready);
                    else {
                        const e = waiting.get(m.seq);
                        if (!e) return;
                        e.lat.push(...m.lat);
                        if (++e.parts === opt.threads) e.resolve();
                    }
                });
            }));
        }
        const tOpen = nowUs();
        let readyTimer;
        const subs = (await Promise.race([Promise.all(ready), new Promise((_, reject) => {
            readyTimer = setTimeout(() => reject(new Error("subscribers not ready within 120 s")), 120000);
        })]).finally(() => clearTimeout(readyTimer))).reduce((a, b) => a + b, 0);
        console.log(`  ${subs} state subscribers of board/${actorId} over ${opt.threads} threads, ready in ${f((nowUs() - tOpen) / 1e6, 2)} s`);

        writer = await open(opt.port);
        const results = new Map();
        writer.on("message", (d) => {
            const m = JSON.parse(d);
            if (m.type === "rpc:result") results.get(m.id)?.(m);
        });
        const last = [], all = [], rtt = [];
        let missed = 0, cpuUs = 0, server0 = NaN;
        for (let seq = 1; seq <= opt.warmup + opt.calls; seq++) {
            const counted = seq > opt.warmup;
            if (seq === opt.warmup + 1) server0 = procCpuSeconds(opt.pid);
            const delivered = new Promise((resolve) => waiting.set(seq, { parts: 0, lat: [], resolve }));
            const answered = new Promise((resolve) => results.set(seq, resolve));
            const cpu0 = process.cpuUsage();
            const t = nowUs();
            writer.send(JSON.stringify({ type: "rpc", id: seq, actor: "board", actorId, method: "set", input: { seq, t } }));
            const r = await within(answered, opt.timeout * 1000, null);
            if (!r) throw new Error(`call ${seq}: no rpc:result within ${opt.timeout} s`);
            if (r.error !== undefined) throw new Error(`call ${seq} failed: ${r.error}`);
            const tr = nowUs();
            const ok = await within(delivered.then(() => true), opt.timeout * 1000, false);
            const e = waiting.get(seq);
            waiting.delete(seq);
            results.delete(seq);
            if (counted) {
                const c = process.cpuUsage(cpu0);
                cpuUs += c.user + c.system;
                rtt.push(tr - t);
                if (!ok) missed++;
                else {
                    last.push(Math.max(...e.lat));
                    for (const x of e.lat) all.push(x);
                }
            }
            await sleep(opt["pause-ms"]);
        }
        const serverMs = (procCpuSeconds(opt.pid) - server0) * 1000 / opt.calls;
        const ms = (us) => f(us / 1000, 2);
        last.sort((a, b) => a - b);
        all.sort((a, b) => a - b);
        rtt.sort((a, b) => a - b);
        const l50 = pct(last, 50), l99 = pct(last, 99), a50 = pct(all, 50), a99 = pct(all, 99);
        console.log(`  ${opt.calls} calls (after ${opt.warmup} warm-up), ${missed} not delivered to every subscriber within ${opt.timeout} s`);
        console.log(`  last delivery per call: p50 ${ms(l50)} ms, p99 ${ms(l99)} ms, max ${ms(last[last.length - 1])} ms`);
        console.log(`  every delivery: p50 ${ms(a50)} ms, p99 ${ms(a99)} ms (${all.length} patches)`);
        console.log(`  writer's round trip (rpc → rpc:result): p50 ${ms(pct(rtt, 50))} ms, p99 ${ms(pct(rtt, 99))} ms`);
        console.log(`  CPU per call: this process (all threads: the writer and ${subs} subscribers) ${ms(cpuUs / opt.calls)} ms` +
            (Number.isFinite(serverMs) ? `, the server ${f(serverMs, 2)} ms` : ""));
        const res = {
            scenario: "actor-fanout", commit: opt.commit, note: opt.note, durability: opt.durability,
            subscribers: subs, threads: opt.threads, calls: opt.calls, missed,
            last_p50_ms: l50 / 1000, last_p99_ms: l99 / 1000, last_max_ms: last[last.length - 1] / 1000,
            delivery_p50_ms: a50 / 1000, delivery_p99_ms: a99 / 1000,
            rtt_p50_ms: pct(rtt, 50) / 1000, rtt_p99_ms: pct(rtt, 99) / 1000,
            client_cpu_ms_per_call: cpuUs / opt.calls / 1000, server_cpu_ms_per_call: serverMs,
        };
        if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(res, null, 2) + "\n");
        console.log(`ROW\tactor-fanout\tlast delivery p50 ${ms(l50)} ms, p99 ${ms(l99)} ms (${subs} subs, ${opt.calls} calls${missed ? `, ${missed} missed` : ""})\tnone (measured)\t${missed ? "MISS" : "INFO"}`);
    } catch (e) {
        console.log(`  error: ${e.message}`);
        console.log(`ROW\tactor-fanout\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
    } finally {
        writer?.close();
        for (const w of workers) w.postMessage("close");
        await sleep(400);
        for (const w of workers) await w.terminate();
    }
}
