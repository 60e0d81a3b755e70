// bench/http-api.mjs: the HTTP API client of the Node-driven scenarios (bench/paginate.mjs,
// bench/search.mjs, bench/vector.mjs, bench/scheduler.mjs, bench/auth.mjs): options parsing, keep-alive `POST /api/{query,mutation,action}` resolving to the
// function's value (rejecting on anything but status "success"; extra headers allowed), any
// `POST` (`post`), `GET /api/metrics`, percentiles, a seeded generator, a process's CPU time
// (bench/actor-*.mjs).
import fs from "node:fs";
import http from "node:http";

/* defaults: an object of option -> default value; numbers parse as numbers */
export function parseOptions(name, defaults) {
    const opt = { ...defaults };
    for (let i = 2; i < process.argv.length; i += 2) {
        const k = process.argv[i].replace(/^--/, ""), v = process.argv[i + 1];
        if (!(k in opt) || v === undefined) {
            console.error(`${name}: unknown or incomplete option ${process.argv[i]}`);
            process.exit(2);
        }
        opt[k] = typeof opt[k] === "number" ? Number(v) : v;
        if (typeof opt[k] === "number" && !Number.isFinite(opt[k])) {
            console.error(`${name}: --${k} wants a number, got "${v}"`);
            process.exit(2);
        }
    }
    return opt;
}

export function httpApi(port) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    function post(path, body, headers = {}) {
        return new Promise((resolve, reject) => {
            const data = JSON.stringify(body);
            const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent,
                headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data), ...headers } }, (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => {
                    try {
                        const j = JSON.parse(text);
                        if (j.status !== "success") reject(new Error(`${path} ${body.path}: ${text.slice(0, 200)}`));
                        else resolve(j.value);
                    } catch (e) { reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 200)}`)); }
                });
            });
            req.on("error", reject);
            req.end(data);
        });
    }
    function metrics() {
        return new Promise((resolve, reject) => {
            http.get({ host: "127.0.0.1", port, path: "/api/metrics", agent }, (res) => {
                let text = "";
                res.on("data", (c) => (text += c));
                res.on("end", () => { try { resolve(JSON.parse(text)); } catch (e) { reject(e); } });
            }).on("error", reject);
        });
    }
    return {
        query: (path, args, headers) => post("/api/query", { path, args }, headers),
        post,
        mutation: (path, args) => post("/api/mutation", { path, args }),
        action: (path, args) => post("/api/action", { path, args }),
        metrics,
        close: () => agent.destroy(),
    };
}

export const pct = (sorted, p) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/* A seeded generator of numbers in [0, 1) (mulberry32), so that every run uses the same data. */
export function seededRandom(s) {
    return () => {
        s = (s + 0x6d2b79f5) | 0;
        let t = Math.imul(s ^ (s >>> 15), 1 | s);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/* CPU seconds process `pid` has used so far (utime + stime from /proc/<pid>/stat, USER_HZ 100);
 * NaN without a pid. */
export function procCpuSeconds(pid) {
    if (!pid) return NaN;
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
}
