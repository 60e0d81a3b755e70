// bench/deploy-index-stall.mjs: how long a deploy that adds indexes over existing documents holds
// the event loop (the schema is applied on the loop: docs/benchmarks.md, "Indexes added by a
// deploy"). Serves (VIREO_BIN, default build/release/vireo) an app with one table `rows`,
// imports --docs documents ({seq: random, pad: 100 bytes, tag: one of 50}), then deploys the same
// app with two indexes added (by_seq [seq], by_tag [tag, seq]) while one keep-alive client
// queries in a loop. Prints the import's and the deploy's wall time and the query's longest wait
// (the loop's stall). Usage: node bench/deploy-index-stall.mjs [--docs 240000] [--runs 2].
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { startServer, tempDir, runCli, REPO } from "../tests/integration/helpers.mjs";

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const docs = Number(arg("--docs", 240000)), runs = Number(arg("--runs", 2));

const schema = (indexes) => `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ rows: defineTable({ seq: v.number(), pad: v.string(), tag: v.string() })${indexes} });
`;

function app() {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "convex"));
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "convex/rows.ts"), `import { query } from "./_generated/server";
export const n = query({ args: {}, handler: async (ctx) => (await ctx.db.query("rows").take(5)).length });
`);
    return dir;
}

async function bundle(dir, indexes, out) {
    fs.writeFileSync(path.join(dir, "convex/schema.ts"), schema(indexes));
    const r = await runCli(["build", dir, "--out", out], { timeout: 60000 });
    if (r.code !== 0) throw new Error(`vireo build: ${r.stderr}`);
}

const dir = app();
const v1 = path.join(dir, "v1.js"), v2 = path.join(dir, "v2.js");
await bundle(dir, "", v1);
await bundle(dir, '.index("by_seq", ["seq"]).index("by_tag", ["tag", "seq"])', v2);
const lines = [];
for (let i = 0; i < docs; i++)
    lines.push(JSON.stringify({ seq: Math.random() * 1e6, pad: "y".repeat(100), tag: `t${i % 50}` }));
const jsonl = Buffer.from(lines.join("\n") + "\n");

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(port, p, body, headers = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request({ port, host: "127.0.0.1", method: "POST", path: p, agent, headers }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode));
        });
        req.on("error", reject);
        req.end(body);
    });
}

for (let run = 0; run < runs; run++) {
    const data = tempDir();
    const s = await startServer(dir, { cmd: "serve", args: ["--bundle", v1, "--data", path.join(data, "db.sqlite")] });
    try {
        const auth = { Authorization: `Bearer ${s.adminKey}` };
        let t0 = performance.now();
        const imp = await fetch(`${s.url}/api/admin/import?format=jsonl&table=rows`, { method: "POST", body: jsonl, headers: auth });
        const importMs = performance.now() - t0;
        if (imp.status !== 200) throw new Error(`import: ${imp.status} ${await imp.text()}`);
        let stop = false, max = 0, answers = 0;
        const probe = (async () => {
            while (!stop) {
                const q0 = performance.now();
                await post(s.port, "/api/query", JSON.stringify({ path: "rows:n", args: {} }));
                max = Math.max(max, performance.now() - q0);
                answers++;
                await new Promise((r) => setTimeout(r, 5));
            }
        })();
        await new Promise((r) => setTimeout(r, 300));
        t0 = performance.now();
        const dep = await fetch(`${s.url}/api/admin/deploy`, { method: "POST", body: fs.readFileSync(v2), headers: auth });
        const deployMs = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 200));
        stop = true;
        await probe;
        if (dep.status !== 200) throw new Error(`deploy: ${dep.status} ${await dep.text()}`);
        console.log(`${docs} documents: import ${(importMs / 1000).toFixed(2)} s; deploy adding 2 indexes ` +
            `${(deployMs / 1000).toFixed(2)} s; the query's longest wait ${Math.round(max)} ms (${answers} answers)`);
    } finally {
        await s.stop();
    }
}
agent.destroy();
