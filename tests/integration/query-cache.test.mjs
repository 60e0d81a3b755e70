// The query result cache (`--query-cache-mb`, issue 14 http-query): a one-shot query called
// again with the same arguments and identity is answered from the cache while nothing it read
// was written. Every test runs against a server with query reader threads and one without
// (`--query-threads 1` and `0`). A key's first miss only records it (the doorkeeper), its second
// miss is cached, so "warm" calls a query twice before a hit is expected. A hit returns the same body (Vireo's shape with the current
// version, Convex's shape with its log lines); a write into the query's index range drops the
// answer and one into another range does not (metrics); identities never share; a deploy and an
// environment change drop everything; a throwing or paginated query is not cached; Date.now()
// is cached as Convex caches it; arguments seen once are never cached (the doorkeeper); the byte budget evicts (LRU) and refuses what is too large;
// `--query-cache-mb 0` turns it off; read-your-writes under concurrent hits and misses.
// Fixture: apps/query-cache.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, runCli, metrics, metricsDelta } from "./helpers.mjs";
import { signHs256 } from "./idp.mjs";

const SECRET = "query-cache-secret-0123456789-abcdefghijkl";

async function stop(s) {
    if (!s) return;
    const r = await s.stop();
    assert.equal(r.code, 0, s.stderr);
}

/* Two calls: the first records the key, the second's answer is cached (the doorkeeper). */
async function warm(call) {
    await call();
    return call();
}

/* The cache's counters moved by fn(). */
async function delta(srv, fn) {
    const a = await metrics(srv);
    const out = await fn();
    const b = await metrics(srv);
    const d = metricsDelta(a, b);
    return { out, hits: d.queryCacheHits, misses: d.queryCacheMisses, inval: d.queryCacheInvalidations, m: b };
}

for (const threads of ["1", "0"]) {
    describe(`--query-threads ${threads}`, () => {
        let srv, dir;
        before(async () => {
            dir = tempDir("query-cache");
            srv = await startServer(dir, { cmd: "serve", args: ["--query-threads", threads, "--jwt-secret", SECRET] });
        });
        after(() => stop(srv));

        test("a repeated call is a hit with the same body; the version is the current one", async () => {
            await srv.value("mutation", "qc:add", { channel: "same", n: 1 });
            const first = await warm(() => srv.query("qc:byChannel", { channel: "same" }));
            assert.equal(first.status, 200, first.text);
            const { out: second, hits, misses } = await delta(srv, () => srv.query("qc:byChannel", { channel: "same" }));
            assert.equal(second.text, first.text);
            assert.equal(hits, 1);
            assert.equal(misses, 0);
            // a write elsewhere moves the version: a hit names the current one, its value unchanged
            const other = await srv.mutation("qc:add", { channel: "elsewhere", n: 1 });
            const third = await srv.query("qc:byChannel", { channel: "same" });
            assert.deepEqual(third.json.value, [1]);
            assert.ok(third.json.version >= other.json.version, `${third.text} after ${other.text}`);
            // Convex's shape is cached apart from Vireo's, with its log lines
            const c1 = await warm(() => srv.post("/api/query", { path: "qc:logs", args: [{}], format: "convex_encoded_json" }));
            const { out: c2, hits: h2 } = await delta(srv, () =>
                srv.post("/api/query", { path: "qc:logs", args: [{}], format: "convex_encoded_json" }));
            assert.equal(c2.text, c1.text);
            assert.deepEqual(c2.json.logLines, ["[LOG] 'from the run'"]);
            assert.equal(h2, 1);
            // Convex's /api/run/<path> of a query: cached too (its own shape and format)
            const run = () => srv.post("/api/run/qc/byChannel", { args: { channel: "same" }, format: "json" });
            const r1 = await warm(run);
            const { out: r2, hits: h3 } = await delta(srv, run);
            assert.equal(r2.text, r1.text);
            assert.deepEqual(r2.json.value, [1]);
            assert.equal(h3, 1);
            const v = await srv.query("qc:logs", {});
            assert.equal(v.json.status, "success");
            assert.equal(v.json.value, 1);
        });

        test("arguments seen once are run, not cached: a key is cached from its second miss", async () => {
            const d = await delta(srv, async () => {
                for (let i = 0; i < 20; i++) assert.equal(await srv.value("query", "qc:withArgs", { a: 100 + i, b: 1 }), 1000 + 10 * i + 1);
            });
            assert.equal(d.misses, 20);
            const m = await metrics(srv);
            const e0 = m.queryCacheEntries;
            assert.equal(await srv.value("query", "qc:withArgs", { a: 100, b: 1 }), 1001); // cached now
            const { hits } = await delta(srv, () => srv.value("query", "qc:withArgs", { a: 100, b: 1 }));
            assert.equal(hits, 1);
            assert.equal((await metrics(srv)).queryCacheEntries, e0 + 1);
        });

        test("arguments that differ only in key order share an entry", async () => {
            assert.equal(await warm(() => srv.value("query", "qc:withArgs", { a: 1, b: 2 })), 12);
            const { out, hits } = await delta(srv, () => srv.value("query", "qc:withArgs", { b: 2, a: 1 }));
            assert.equal(out, 12);
            assert.equal(hits, 1);
            const { out: o2, misses, m } = await delta(srv, () => srv.value("query", "qc:withArgs", { a: 2, b: 1 }));
            assert.equal(o2, 21);
            assert.equal(misses, 1);
            assert.ok(m.queryCacheFirstMisses > 0);
        });

        test("precision: a write into the query's range drops its answer, one into another range does not", async () => {
            await srv.value("mutation", "qc:add", { channel: "p1", n: 1 });
            await srv.value("mutation", "qc:add", { channel: "p2", n: 1 });
            assert.deepEqual(await warm(() => srv.value("query", "qc:byChannel", { channel: "p1" })), [1]);
            assert.equal(await warm(() => srv.value("query", "qc:latest", { channel: "p1" })), 1);
            // another channel: another index range
            for (let i = 2; i < 6; i++) await srv.value("mutation", "qc:add", { channel: "p2", n: i });
            let d = await delta(srv, async () => [
                await srv.value("query", "qc:byChannel", { channel: "p1" }),
                await srv.value("query", "qc:latest", { channel: "p1" }),
            ]);
            assert.deepEqual(d.out, [[1], 1]);
            assert.equal(d.hits, 2, "writes to p2 dropped p1's answers");
            assert.equal(d.inval, 0);
            // the same channel: both answers go, the next calls run and see the write
            await srv.value("mutation", "qc:add", { channel: "p1", n: 7 });
            d = await delta(srv, async () => [
                await srv.value("query", "qc:byChannel", { channel: "p1" }),
                await srv.value("query", "qc:latest", { channel: "p1" }),
            ]);
            assert.deepEqual(d.out, [[1, 7], 7]);
            assert.equal(d.misses, 2);
            assert.equal(d.hits, 0);
        });

        test("a point read: a patch of its document drops it, a patch of another does not", async () => {
            const a = await srv.value("mutation", "qc:add", { channel: "doc", n: 1 });
            const b = await srv.value("mutation", "qc:add", { channel: "doc", n: 2 });
            assert.equal(await warm(() => srv.value("query", "qc:getDoc", { id: a })), 1);
            await srv.value("mutation", "qc:setN", { id: b, n: 20 });
            let d = await delta(srv, () => srv.value("query", "qc:getDoc", { id: a }));
            assert.equal(d.out, 1);
            assert.equal(d.hits, 1);
            await srv.value("mutation", "qc:setN", { id: a, n: 10 });
            d = await delta(srv, () => srv.value("query", "qc:getDoc", { id: a }));
            assert.equal(d.out, 10);
            assert.equal(d.misses, 1);
        });

        test("an answer about a missing row is dropped when the row is inserted", async () => {
            assert.equal(await srv.value("query", "qc:counter", { name: "fresh" }), null);
            assert.equal(await srv.value("query", "qc:counter", { name: "fresh" }), null);
            await srv.value("mutation", "qc:setCounter", { name: "fresh", value: 3 });
            assert.equal(await srv.value("query", "qc:counter", { name: "fresh" }), 3);
        });

        test("identities never share an entry; anonymous callers share theirs", async () => {
            const now = Math.floor(Date.now() / 1000);
            const tok = (sub) => signHs256(SECRET, { iss: "https://qc.example", sub, exp: now + 600 });
            const as = (sub) => srv.query("qc:whoami", {}, { headers: { Authorization: `Bearer ${tok(sub)}` } });
            for (let round = 0; round < 4; round++) {
                for (const u of ["alice", "bob", "carol"]) {
                    const r = await as(u);
                    assert.equal(r.json.value, u, r.text);
                }
                assert.equal(await srv.value("query", "qc:whoami", {}), null);
            }
            const m = await metrics(srv);
            assert.ok(m.queryCacheHits >= 8, JSON.stringify(m)); // rounds 3 and 4 hit
            // Convex's shape with a token
            const r = await srv.post("/api/query", { path: "qc:whoami", args: [{}], format: "convex_encoded_json" },
                { headers: { Authorization: `Bearer ${tok("dave")}` } });
            assert.equal(r.json.value, "dave", r.text);
        });

        test("a throwing query and a paginated query are not cached; Date.now() is", async () => {
            const d = await delta(srv, async () => {
                for (let i = 0; i < 3; i++) assert.equal((await srv.query("qc:boom", {})).status, 500);
            });
            assert.equal(d.hits, 0);
            assert.equal(d.misses, 3);
            await srv.value("mutation", "qc:add", { channel: "pg", n: 1 });
            const p = await delta(srv, async () => {
                const a = await srv.value("query", "qc:page", { channel: "pg", paginationOpts: { numItems: 5, cursor: null } });
                const b = await srv.value("query", "qc:page", { channel: "pg", paginationOpts: { numItems: 5, cursor: null } });
                assert.deepEqual(a.page.map((x) => x.n), [1]);
                assert.deepEqual(b.page.map((x) => x.n), [1]);
            });
            assert.equal(p.hits, 0);
            assert.equal(p.misses, 2);
            // Date.now() and Math.random() of the cached run (docs/functions.md, as Convex)
            const c1 = await warm(() => srv.value("query", "qc:clock", {}));
            const c2 = await srv.value("query", "qc:clock", {});
            assert.deepEqual(c2, c1);
        });

        test("an environment change and a deploy drop every entry", { timeout: 60000 }, async () => {
            assert.equal(await srv.value("query", "qc:env", {}), null);
            assert.equal(await srv.value("query", "qc:env", {}), null);
            const env = await runCli(["env", "set", "QC_VAR", "two", "--url", srv.url, "--dir", dir]);
            assert.equal(env.code, 0, env.stderr);
            for (let i = 0; i < 5; i++) assert.equal(await srv.value("query", "qc:env", {}), "two");
            assert.deepEqual(await srv.value("query", "qc:constant", {}), { tag: null, version: "v1" });
            const m0 = await metrics(srv);
            const file = path.join(dir, "vireo/qc.ts");
            fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('version: "v1"', 'version: "v2"'));
            const r = await runCli(["deploy", dir, "--url", srv.url]);
            assert.equal(r.code, 0, r.stderr);
            const m1 = await metrics(srv);
            assert.equal(m1.queryCacheEntries, 0, JSON.stringify(m1));
            assert.ok(m1.queryCacheClears > m0.queryCacheClears);
            const got = await Promise.all(Array.from({ length: 10 }, () => srv.value("query", "qc:constant", {})));
            assert.deepEqual(got, Array(10).fill({ tag: null, version: "v2" }));
        });

        test("read-your-writes while the same query is hit and missed concurrently", { timeout: 60000 }, async () => {
            // a hammer keeps calls of counter(k) in flight (hits, and misses run on a reader
            // while writes commit); each acknowledged write must be seen by the next call
            let stopHammer = false;
            const hammer = async () => {
                while (!stopHammer) await srv.query("qc:counter", { name: "ryw" });
            };
            const hammers = [hammer(), hammer(), hammer()];
            try {
                for (let i = 1; i <= 150; i++) {
                    await srv.value("mutation", "qc:setCounter", { name: "ryw", value: i });
                    const v = await srv.value("query", "qc:counter", { name: "ryw" });
                    assert.equal(v, i, `write ${i} acknowledged, then the query answered ${v}`);
                }
            } finally {
                stopHammer = true;
                await Promise.all(hammers);
            }
            const m = await metrics(srv);
            assert.ok(m.queryCacheHits > 0 && m.queryCacheInvalidations > 0, JSON.stringify(m));
        });

        test("an internal query through the admin API is cached apart from nothing public", async () => {
            const a = await warm(() => srv.admin("qc:secret", {}));
            const { out: b, hits } = await delta(srv, () => srv.admin("qc:secret", {}));
            assert.equal(b.text, a.text);
            assert.equal(hits, 1);
            // still not callable without the key, cached or not
            assert.equal((await srv.query("qc:secret", {})).status, 404);
        });
    });
}

describe("the budget", () => {
    let srv;
    before(async () => {
        srv = await startServer(tempDir("query-cache"), { cmd: "serve", args: ["--query-cache-mb", "1"] });
    });
    after(() => stop(srv));

    test("entries past the budget evict the least recently used; one over an eighth is refused", async () => {
        // ~100 KiB answers: about 10 fit in 1 MiB
        for (let i = 0; i < 30; i++) await warm(() => srv.value("query", "qc:big", { kb: 100, salt: i }));
        let m = await metrics(srv);
        assert.equal(m.queryCacheMaxBytes, 1 << 20);
        assert.ok(m.queryCacheBytes <= 1 << 20, JSON.stringify(m));
        assert.ok(m.queryCacheEvictions >= 15, JSON.stringify(m));
        assert.ok(m.queryCacheEntries >= 5 && m.queryCacheEntries <= 10, JSON.stringify(m));
        // the newest is still there; the oldest is not
        let d = await delta(srv, () => srv.value("query", "qc:big", { kb: 100, salt: 29 }));
        assert.equal(d.hits, 1);
        d = await delta(srv, () => srv.value("query", "qc:big", { kb: 100, salt: 0 }));
        assert.equal(d.misses, 1);
        // 200 KiB > 1 MiB / 8: answered, never cached (the first call only records the key)
        const before = (await metrics(srv)).queryCacheRefused;
        for (let i = 0; i < 3; i++) await srv.value("query", "qc:big", { kb: 200, salt: 1 });
        m = await metrics(srv);
        assert.equal(m.queryCacheRefused - before, 2);
    });
});

test("tenants: each has its own entries, a write in one drops only its own, one budget", async () => {
    const srv = await startServer(tempDir("query-cache"), { cmd: "serve", args: ["--tenants", "--action-threads", "1"] });
    try {
        const q = (t, fn, args) => srv.post(`/t/${t}/api/query`, { path: fn, args });
        const value = async (t, kind, fn, args) => {
            const r = await srv.post(`/t/${t}/api/${kind}`, { path: fn, args });
            assert.equal(r.status, 200, r.text);
            return r.json.value;
        };
        await value("ta", "mutation", "qc:add", { channel: "x", n: 1 });
        await value("tb", "mutation", "qc:add", { channel: "x", n: 2 });
        for (let i = 0; i < 3; i++) {
            assert.deepEqual((await q("ta", "qc:byChannel", { channel: "x" })).json.value, [1]);
            assert.deepEqual((await q("tb", "qc:byChannel", { channel: "x" })).json.value, [2]);
        }
        const ma = (await srv.get("/t/ta/api/metrics")).json, mb = (await srv.get("/t/tb/api/metrics")).json;
        assert.equal(ma.queryCacheHits, 1, JSON.stringify(ma));
        assert.equal(mb.queryCacheHits, 1, JSON.stringify(mb));
        assert.equal(ma.queryCacheMaxBytes, 64 << 20);
        // a write in ta: ta's answer goes, tb's stays
        await value("ta", "mutation", "qc:add", { channel: "x", n: 3 });
        assert.deepEqual((await q("ta", "qc:byChannel", { channel: "x" })).json.value, [1, 3]);
        assert.deepEqual((await q("tb", "qc:byChannel", { channel: "x" })).json.value, [2]);
        const mb2 = (await srv.get("/t/tb/api/metrics")).json;
        assert.equal(mb2.queryCacheHits, 2, JSON.stringify(mb2));
        assert.equal(mb2.queryCacheInvalidations, 0);
    } finally {
        await stop(srv);
    }
});

test("--query-cache-mb 0 turns the cache off", async () => {
    const srv = await startServer(tempDir("query-cache"), { cmd: "serve", args: ["--query-cache-mb", "0"] });
    try {
        const a = await srv.value("query", "qc:clock", {});
        const b = await srv.value("query", "qc:clock", {});
        assert.notDeepEqual(a, b, "two runs: two random numbers");
        const m = await metrics(srv);
        assert.equal(m.queryCacheHits, undefined);
    } finally {
        await stop(srv);
    }
});

test("--query-cache-mb takes a number of MiB", async () => {
    const r = await runCli(["serve", tempDir("query-cache"), "--port", "0", "--query-cache-mb", "lots"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--query-cache-mb/);
});
