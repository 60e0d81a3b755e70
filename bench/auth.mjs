// bench/auth.mjs: the `auth` scenario, against a running Vireo on bench/app (issue 11).
//  0. a local OpenID Connect issuer (tests/integration/idp.mjs: keys generated per run) becomes
//     the app's provider: BENCH_AUTH_DOMAIN is set through the admin API (bench/app's
//     auth.config.ts reads it) and the app reloads;
//  1. verified connects per second, for RS256 and then ES256 tokens: `--conns` (default 8) loops
//     each open a WebSocket to /api/sync, send `connect` with a token of its own (signed
//     beforehand, a distinct `sub` each: nothing can be cached) and wait for `authenticated`, then
//     close, for `--duration` s (default 5) per algorithm: connects/s and p50/p99 of connect ->
//     authenticated;
//  2. the cost a token adds to a query call: `--clients` (default 4) keep-alive HTTP clients call
//     `bench:whoami` for `--duration` s without a token, then as long with
//     `Authorization: Bearer <RS256 token>` (one token per client, as an app sends it on every
//     call): calls/s and p50/p99 of each, and the difference of the means.
// Usage: node bench/auth.mjs --port P --dir APPDIR --out FILE [--conns N] [--clients N]
//        [--duration S] [--commit C] [--note S] [--durability D].
// Prints a summary and one ROW line (bench/run.sh's table). Bounded: each phase ends after its
// duration; the reload wait gives up after 20 s, each connect after 10 s.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import WebSocket from "ws";
import { startIdp } from "../tests/integration/idp.mjs";
import { parseOptions, httpApi, pct, sleep, nowMs } from "./http-api.mjs";

const opt = parseOptions("auth", { port: 0, dir: "", out: "", conns: 8, clients: 4, duration: 5,
    commit: "unknown", note: "", durability: "full" });
const api = httpApi(opt.port);
const f = (x, d = 1) => Number(x).toFixed(d);
const mean = (a) => a.reduce((x, y) => x + y, 0) / (a.length || 1);

/* one connect with a token: resolves with ms from `connect` sent to `authenticated` */
function verifiedConnect(token) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${opt.port}/api/sync`);
        let t0 = 0;
        const timer = setTimeout(() => { ws.terminate(); reject(new Error("connect timed out")); }, 10000);
        const done = (err, ms) => { clearTimeout(timer); ws.close(); err ? reject(err) : resolve(ms); };
        ws.on("open", () => {
            t0 = nowMs();
            ws.send(JSON.stringify({ type: "connect", sessionId: crypto.randomUUID(), clientVersion: "vireo-bench/0", protocolVersion: 1, token }));
        });
        ws.on("message", (data) => {
            const m = JSON.parse(data.toString());
            if (m.type === "authenticated" && m.identity) done(null, nowMs() - t0);
            else if (m.type === "authError" || m.type === "error") done(new Error(`${m.type}: ${m.message}`));
        });
        ws.on("error", (e) => done(e));
    });
}

async function connectsPerSecond(idp, kid) {
    /* tokens signed beforehand, so Node's signing is not what is measured */
    const tokens = Array.from({ length: 20000 }, (_, i) => idp.sign({ sub: `bench-${kid}-${i}` }, { kid }));
    let next = 0;
    const lat = [];
    const end = Date.now() + opt.duration * 1000;
    const t0 = nowMs();
    await Promise.all(Array.from({ length: opt.conns }, async () => {
        while (Date.now() < end && next < tokens.length) lat.push(await verifiedConnect(tokens[next++]));
    }));
    const secs = (nowMs() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { connects: lat.length, per_s: lat.length / secs, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

async function queryLoad(headersOf) {
    const lat = [];
    const end = Date.now() + opt.duration * 1000;
    const t0 = nowMs();
    await Promise.all(Array.from({ length: opt.clients }, async (_, i) => {
        const headers = headersOf(i);
        while (Date.now() < end) {
            const s = nowMs();
            await api.query("bench:whoami", {}, headers);
            lat.push(nowMs() - s);
        }
    }));
    const secs = (nowMs() - t0) / 1000;
    const m = mean(lat);
    lat.sort((a, b) => a - b);
    return { calls: lat.length, per_s: lat.length / secs, mean_ms: m, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

let idp = null;
try {
    idp = await startIdp();
    const key = fs.readFileSync(path.join(opt.dir, ".vireo/admin_key"), "utf8").trim();
    await api.post("/api/admin/env/set", { name: "BENCH_AUTH_DOMAIN", value: idp.url }, { Authorization: `Bearer ${key}` });
    const probe = idp.sign({ sub: "probe" });
    const until = Date.now() + 20000;
    for (;;) { /* the reload with the provider */
        const who = await api.query("bench:whoami", {}, { Authorization: `Bearer ${probe}` }).catch(() => null);
        if (who === "probe") break;
        if (Date.now() > until) throw new Error("the app did not take the provider within 20 s");
        await sleep(100);
    }
    const rs = await connectsPerSecond(idp, "rsa1");
    console.log(`  RS256: ${f(rs.per_s)} verified connects/s (${rs.connects} in ${opt.duration} s, ${opt.conns} at a time), connect -> authenticated p50 ${f(rs.p50_ms, 2)} ms, p99 ${f(rs.p99_ms, 2)} ms`);
    const es = await connectsPerSecond(idp, "ec1");
    console.log(`  ES256: ${f(es.per_s)} verified connects/s (${es.connects}), p50 ${f(es.p50_ms, 2)} ms, p99 ${f(es.p99_ms, 2)} ms`);
    const anon = await queryLoad(() => ({}));
    const tokens = Array.from({ length: opt.clients }, (_, i) => idp.sign({ sub: `caller-${i}` }));
    const signed = await queryLoad((i) => ({ Authorization: `Bearer ${tokens[i]}` }));
    const costUs = (signed.mean_ms - anon.mean_ms) * 1000;
    console.log(`  query without a token: ${f(anon.per_s)} calls/s, p50 ${f(anon.p50_ms, 3)} ms, p99 ${f(anon.p99_ms, 3)} ms`);
    console.log(`  query with an RS256 token: ${f(signed.per_s)} calls/s, p50 ${f(signed.p50_ms, 3)} ms, p99 ${f(signed.p99_ms, 3)} ms; a token adds ${f(costUs, 0)} µs per call (means)`);
    const r = {
        scenario: "auth", commit: opt.commit, note: opt.note, durability: opt.durability,
        conns: opt.conns, clients: opt.clients, seconds: opt.duration,
        rs256_connects_per_s: rs.per_s, rs256_p50_ms: rs.p50_ms, rs256_p99_ms: rs.p99_ms,
        es256_connects_per_s: es.per_s, es256_p50_ms: es.p50_ms, es256_p99_ms: es.p99_ms,
        query_anon_per_s: anon.per_s, query_anon_p50_ms: anon.p50_ms, query_anon_p99_ms: anon.p99_ms,
        query_token_per_s: signed.per_s, query_token_p50_ms: signed.p50_ms, query_token_p99_ms: signed.p99_ms,
        token_cost_us: costUs,
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    console.log(`ROW\tauth\t${f(rs.per_s)} RS256 / ${f(es.per_s)} ES256 verified connects/s; a token adds ${f(costUs, 0)} µs to a query call\tno target (measured)\tINFO`);
} catch (e) {
    console.log(`ROW\tauth\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
} finally {
    api.close();
    if (idp) await idp.close();
}
