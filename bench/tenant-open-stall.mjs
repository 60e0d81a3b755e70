// bench/tenant-open-stall.mjs: what another tenant's client sees while tenants open (issue 7).
// Starts `vireo dev --tenants` (VIREO_BIN, default build/release/vireo) on a copy of
// tests/integration/apps/tenants-open (an app whose load spins SLOW_OPEN_MS, default 0: the
// app's real cost only), opens tenant "probe", then opens --count new tenants (first requests
// all at once) while one keep-alive client queries "probe" in a loop. Prints the opens' wall
// time, the probe's answers during it and their latency (p50/p99/max), and the server's own
// per-open figures from its --verbose log ("opened ... in X ms"; with the opener: its split
// into store, app and loop time). With --deploy the --count tenants are opened first, and the
// probe runs during a POST /api/admin/deploy of the same app (a `vireo build` bundle), which
// loads into every open tenant. Usage: node bench/tenant-open-stall.mjs [--count 20]
// [--slow-ms 0] [--deploy] [--args "--tenant-open-threads 1"].
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { startServer, tempDir, runCli, request } from "../tests/integration/helpers.mjs";

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const count = Number(arg("--count", 20)), slow = Number(arg("--slow-ms", 0));
const extra = arg("--args", "").split(" ").filter(Boolean);
const deploy = process.argv.includes("--deploy");
const dir = tempDir("tenants-open");
fs.writeFileSync(path.join(dir, ".env.local"), `SLOW_OPEN_MS=${slow}\n`);
const srv = await startServer(dir, { args: ["--tenants", "--max-open-tenants", String(count + 8), "--action-threads", "1", "--verbose", ...extra] });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const post = (t, ag) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ path: "notes:ping", args: {} });
    const req = http.request({ host: "127.0.0.1", port: srv.port, path: `/t/${t}/api/query`, method: "POST", agent: ag,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } }, (res) => {
        let s = "";
        res.on("data", (c) => (s += c));
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(s))));
    });
    req.on("error", reject);
    req.end(body);
});
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];
try {
    await post("probe", agent);
    for (let i = 0; i < 50; i++) await post("probe", agent);
    let bundle;
    if (deploy) {
        for (let i = 0; i < count; i += 4)
            await Promise.all(Array.from({ length: Math.min(4, count - i) }, (_, k) => post(`stall-${i + k}`, false)));
        bundle = path.join(tempDir(), "app.js");
        const b = await runCli(["build", dir, "--out", bundle], { timeout: 60000 });
        if (b.code !== 0) throw new Error(`vireo build: ${b.stderr}`);
    }
    let opening = true;
    const lat = [];
    const probing = (async () => {
        while (opening) {
            const s = performance.now();
            await post("probe", agent);
            lat.push(performance.now() - s);
        }
    })();
    const t0 = performance.now();
    if (deploy) {
        const r = await request(srv.port, "POST", "/api/admin/deploy", fs.readFileSync(bundle),
            { headers: { Authorization: `Bearer ${srv.adminKey}` }, timeout: 600000 });
        if (r.status !== 200) throw new Error(`deploy: ${r.status} ${r.text}`);
    } else {
        await Promise.all(Array.from({ length: count }, (_, i) => post(`stall-${i}`, false)));
    }
    const total = performance.now() - t0;
    opening = false;
    await probing;
    lat.sort((a, b) => a - b);
    const opens = [...srv.stderr.matchAll(/opened "stall-\d+" \(new\) in ([\d.]+) ms(?:: ([\d.]+) ms waiting for a thread, store ([\d.]+) ms and app ([\d.]+) ms on it, ([\d.]+) ms on the loop)?/g)];
    const col = (k) => opens.map((m) => Number(m[k])).sort((a, b) => a - b);
    const med = (a) => (a.length ? pct(a, 50).toFixed(1) : "-");
    console.log(`${count} tenants ${deploy ? "loaded a deployed version" : "opened"} in ${total.toFixed(0)} ms (SLOW_OPEN_MS=${slow}${extra.length ? ", " + extra.join(" ") : ""})`);
    console.log(`  probe tenant: ${lat.length} answers meanwhile, p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
    if (!deploy) console.log(`  per open (server log, median): total ${med(col(1))} ms` + (opens[0]?.[2] ? `; waiting for a thread ${med(col(2))}, store ${med(col(3))}, app ${med(col(4))} (on the opener thread), on the loop ${med(col(5))} ms` : " (all of it on the loop thread)"));
} finally {
    agent.destroy();
    await srv.stop();
}
