// bench/tenants.mjs: the `tenants` scenario (issue 11 item 6), against a Vireo started by
// bench/run.sh with `--tenants --max-open-tenants 8 --tenant-idle-ms 1000 --action-threads 1`:
// `--count` (default 1,000) tenants are opened, one `bench:latest` query each under
// /t/<tenant>/, `--parallel` (default 4) at a time, so each call creates its tenant (a folder, an
// SQLite file, the app loaded into a JS context of its own) and the cap closes the least recently
// used ones; then every tenant idles out. Reports tenants opened per second, the time of one
// open (p50/p99 of the calls), and the server's RSS before, at its peak and after idle-out
// (/proc/<pid>/status). Usage: node bench/tenants.mjs --port P --pid PID --out FILE [--count N]
// [--parallel N] [--commit C] [--note S] [--durability D]. Prints a summary and one ROW line.
// Bounded: the idle-out wait gives up after 60 s.
import fs from "node:fs";
import http from "node:http";
import { parseOptions, pct, sleep, nowMs } from "./http-api.mjs";

const opt = parseOptions("tenants", { port: 0, pid: 0, out: "", count: 1000, parallel: 4,
    commit: "unknown", note: "", durability: "full" });
const f = (x, d = 1) => Number(x).toFixed(d);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(method, path, body) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request({ host: "127.0.0.1", port: opt.port, path, method, agent,
            headers: data ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } : {} }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (text += c));
            res.on("end", () => { try { resolve(JSON.parse(text)); } catch { reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 200)}`)); } });
        });
        req.on("error", reject);
        req.end(data);
    });
}
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${opt.pid}/status`, "utf8"))[1]) * 1024;
const mb = (n) => f(n / 1048576);
async function openNow() { return (await request("GET", "/api/health")).tenants?.open; }

try {
    if (!opt.pid) throw new Error("--pid is required (the server's process id, for its RSS)");
    const before = rss();
    let peak = before, next = 0;
    const lat = [];
    const t0 = nowMs();
    await Promise.all(Array.from({ length: opt.parallel }, async () => {
        while (next < opt.count) {
            const i = next++;
            const s = nowMs();
            const r = await request("POST", `/t/bench-${i}/api/query`, { path: "bench:latest", args: { channel: "c" } });
            if (r.status !== "success") throw new Error(`tenant bench-${i}: ${JSON.stringify(r).slice(0, 200)}`);
            lat.push(nowMs() - s);
            if (i % 25 === 0) peak = Math.max(peak, rss());
        }
    }));
    const secs = (nowMs() - t0) / 1000;
    peak = Math.max(peak, rss());
    const until = Date.now() + 60000;
    while ((await openNow()) !== 0) {
        if (Date.now() > until) throw new Error("tenants did not idle out within 60 s");
        await sleep(200);
    }
    await sleep(500);
    const after = rss();
    lat.sort((a, b) => a - b);
    const r = {
        scenario: "tenants", commit: opt.commit, note: opt.note, durability: opt.durability,
        tenants: opt.count, parallel: opt.parallel, seconds: secs, opened_per_s: opt.count / secs,
        open_call_p50_ms: pct(lat, 50), open_call_p99_ms: pct(lat, 99),
        rss_before_bytes: before, rss_peak_bytes: peak, rss_after_bytes: after,
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    console.log(`  ${opt.count} tenants opened in ${f(secs)} s (${f(r.opened_per_s)}/s, ${opt.parallel} at a time, 8 open at most): first call p50 ${f(r.open_call_p50_ms)} ms, p99 ${f(r.open_call_p99_ms)} ms`);
    console.log(`  RSS: before ${mb(before)} MiB, peak ${mb(peak)} MiB, after idle-out ${mb(after)} MiB`);
    console.log(`ROW\ttenants\t${opt.count} tenants: ${f(r.opened_per_s)} opened/s; RSS ${mb(before)} -> peak ${mb(peak)} -> ${mb(after)} MiB idle\tno target (measured)\tINFO`);
} catch (e) {
    console.log(`ROW\ttenants\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
} finally {
    agent.destroy();
}
