// Vector search on apps/vector (Convex's .vectorIndex and ctx.vectorSearch, store_vector.c):
// cosine similarity best first with Convex's _score, the limit, q.eq / q.or filters on filter
// fields (undefined included), documents whose vector is not `dimensions` finite numbers left out,
// patch / replace / delete kept in step, exact results against a brute force of 1,500 random
// vectors (held in memory, read from the database, on the loop thread), a write seen by the next
// search of the same action, every bad usage with Convex's message, no ctx.vectorSearch in
// queries, the schema's checks, backfill, restart and drop, many clients writing and searching at
// once, tenants (each its own index); searches on the query readers (the default) and on the
// loop thread (--query-threads 0).
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, guardServer, guardedTest, assertAppLoaded, request, waitFor } from "./helpers.mjs";

let srv, dir;
const start = async () => {
    dir = tempDir("vector");
    srv = await startServer(dir);
};

before(async () => {
    await start();
    await assertAppLoaded(srv);
});
guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

after(async () => {
    if (srv) await srv.stop();
});

const add = (s, doc) => s.value("mutation", "foods:add", doc);
const search = (s, args) => s.value("action", "foods:search", args);
const bad = async (which) => srv.value("action", "foods:bad", { which });
/* cosine similarity as Convex computes it: float32 vectors scaled to unit length, then a dot
 * product (so 1 is rounded as float32 rounds it) */
function cosine(a, b) {
    const unit = (x) => {
        const f = x.map(Math.fround);
        const n = Math.sqrt(f.reduce((s, y) => s + y * y, 0));
        return f.map((y) => Math.fround(n > 0 ? y / n : 0));
    };
    const ua = unit(a), ub = unit(b);
    return ua.reduce((s, y, i) => s + y * ub[i], 0);
}
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);

/* A fresh server of its own (so the ranking below sees only its documents). */
async function ownServer(args = []) {
    const d = tempDir("vector");
    fs.cpSync(path.join(dir, "vireo"), path.join(d, "vireo"), { recursive: true });
    return startServer(d, { args });
}

for (const mode of [{ name: "on the query readers", args: ["--query-threads", "1"] },
                    { name: "on the loop thread", args: ["--query-threads", "0"] }]) {
    test(`results by cosine similarity, best first, with Convex's _score (${mode.name})`, { timeout: 30000 }, async () => {
        const s = await ownServer(mode.args);
        try {
            const ids = {};
            for (const [description, embedding] of [["east", [1, 0, 0]], ["north", [0, 1, 0]],
                                                   ["west-ish", [-1, 0.1, 0]], ["north-east", [0.7, 0.7, 0]],
                                                   ["up", [0, 0, 5]], ["far-east", [30, 0, 0]]])
                ids[description] = await add(s, { description, cuisine: "c", embedding });
            const got = await search(s, { vector: [2, 0, 0] });
            assert.deepEqual(got.map((h) => Object.keys(h).sort()), got.map(() => ["_id", "_score"]));
            // equal scores (east and far-east point the same way): the order among them is by id
            const order = got.map((h) => Object.entries(ids).find(([, id]) => id === h._id)[0]);
            assert.deepEqual(order.slice(2), ["north-east", "north", "up", "west-ish"]);
            assert.deepEqual(order.slice(0, 2).sort(), ["east", "far-east"]);
            assert.equal(got[0]._score, 1);
            assert.equal(got[2]._score, Math.fround(Math.SQRT1_2), "0.7071067690849304, float32's");
            assert.equal(got[3]._score, 0);
            close(got[5]._score, cosine([2, 0, 0], [-1, 0.1, 0]), "west-ish");
            assert.ok(got[5]._score < 0);
            // limit: at most that many, the best ones
            const two = await search(s, { vector: [0, 1, 0.01], limit: 2 });
            assert.deepEqual(two.map((h) => h._id), [ids.north, ids["north-east"]]);
            assert.equal((await search(s, { vector: [1, 1, 1], limit: 256 })).length, 6);
            assert.equal((await search(s, { vector: [1, 1, 1], limit: 1 })).length, 1);
            // a zero query vector scores everything 0
            assert.deepEqual((await search(s, { vector: [0, 0, 0] })).map((h) => h._score), [0, 0, 0, 0, 0, 0]);
            // patch, replace and delete keep the index in step
            await s.value("mutation", "foods:patch", { id: ids.up, fields: { embedding: [1, 0, 0.001] } });
            assert.ok((await search(s, { vector: [1, 0, 0], limit: 3 })).some((h) => h._id === ids.up));
            await s.value("mutation", "foods:patch", { id: ids.up, fields: { description: "renamed" } });
            assert.ok((await search(s, { vector: [1, 0, 0], limit: 3 })).some((h) => h._id === ids.up), "a patch of another field keeps the row");
            await s.value("mutation", "foods:replace", { id: ids.up, doc: { description: "down", cuisine: "c", embedding: [0, 0, -1] } });
            const down = await search(s, { vector: [0, 0, -1], limit: 1 });
            assert.deepEqual(down.map((h) => h._id), [ids.up]);
            assert.equal(down[0]._score, 1);
            await s.value("mutation", "foods:remove", { id: ids.up });
            assert.ok(!(await search(s, { vector: [0, 0, -1] })).some((h) => h._id === ids.up));
            assert.equal((await search(s, { vector: [1, 1, 1] })).length, 5);
            // the usual pattern: search, then load the documents with a query
            assert.deepEqual((await s.value("action", "foods:similar", { vector: [0, 1, 0], limit: 2 })).sort(), ["north", "north-east"]);
            // a write, then a search in the same action: the search sees it
            const r = await s.value("action", "foods:addThenSearch", { description: "new", embedding: [0.2, 0.3, 0.9] });
            assert.deepEqual(r.hits.map((h) => h._id), [r.id]);
            // where they ran: the readers answered every search (and nothing else here), or none
            const m = (await s.get("/api/metrics")).json;
            if (mode.args[1] === "0") assert.equal(m.readerQueries, undefined);
            else assert.equal(m.readerQueries, 12);
        } finally {
            await s.stop();
        }
    });
}

test("filters: q.eq on a filter field, q.or within and across fields, undefined for a missing field", async () => {
    const s = await ownServer();
    try {
        const ids = {};
        for (const [d, cuisine, tag] of [["a", "french", "x"], ["b", "french", undefined], ["c", "thai", "y"],
                                         ["d", "thai", "x"], ["e", "greek", undefined]])
            ids[d] = await add(s, tag === undefined ? { description: d, cuisine, embedding: [1, 0, 0] }
                                                    : { description: d, cuisine, tag, embedding: [1, 0, 0] });
        const names = async (args) => (await search(s, { vector: [1, 0, 0], ...args }))
            .map((h) => Object.entries(ids).find(([, id]) => id === h._id)[0]).sort();
        assert.deepEqual(await names({ cuisines: ["french"] }), ["a", "b"]);
        assert.deepEqual(await names({ cuisines: ["french", "greek"] }), ["a", "b", "e"]);
        assert.deepEqual(await names({ cuisines: ["thai"], tags: ["x"] }), ["a", "c", "d"], "any of the equalities");
        assert.deepEqual(await names({ tags: [null] }), ["b", "e"], "q.eq(field, undefined): the documents without it");
        assert.deepEqual(await names({ tags: ["y", null] }), ["b", "c", "e"]);
        assert.deepEqual(await names({ cuisines: ["none"] }), []);
        // the filter applies before the limit: the best of the matching ones
        ids.f = await add(s, { description: "f", cuisine: "greek", embedding: [0.9, 0.1, 0] });
        const best = await search(s, { vector: [1, 0, 0], cuisines: ["greek"], limit: 1 });
        assert.deepEqual(best.map((h) => h._id), [ids.e]);
        // a patch of a filter field moves the document
        await s.value("mutation", "foods:patch", { id: ids.e, fields: { cuisine: "thai" } });
        assert.deepEqual(await names({ cuisines: ["greek"] }), ["f"]);
        assert.deepEqual(await names({ cuisines: ["thai"] }), ["c", "d", "e"]);
    } finally {
        await s.stop();
    }
});

test("documents whose vector is not `dimensions` finite numbers are stored but not indexed", async () => {
    const s = await ownServer();
    try {
        const ok = await s.value("mutation", "items:add", { name: "ok", v: [1, 2] });
        for (const v of [undefined, [1], [1, 2, 3], ["a", "b"], [{ $integer: "AQAAAAAAAAA=" }, 2], [1, [2]],
                         [1, { $float: "AAAAAAAA+H8=" }], "12", { x: 1 }, null, [1e300, 1]]) {
            const args = v === undefined ? { name: "odd" } : { name: "odd", v };
            const r = await s.mutation("items:add", args);
            assert.equal(r.status, 200, `${JSON.stringify(v)}: ${r.text}`);
        }
        const got = await s.value("action", "items:search", { vector: [1, 1], limit: 256 });
        assert.deepEqual(got.map((h) => h._id), [ok]);
        close(got[0]._score, cosine([1, 1], [1, 2]), "ok");
    } finally {
        await s.stop();
    }
});

for (const mode of [{ name: "held in memory", args: [] },
                    { name: "read from the database: --vector-cache-mb 0", args: ["--vector-cache-mb", "0"] },
                    { name: "on the loop thread", args: ["--query-threads", "0"] }])
test(`1,500 random vectors: the same top results as a brute force, with and without a filter (${mode.name})`, { timeout: 60000 }, async () => {
    const srv = await ownServer(mode.args);
    try {
        await bruteForce(srv);
        const m = (await srv.get("/api/metrics")).json;
        if (mode.args[0] === "--vector-cache-mb") assert.equal(m.vectorCacheBytes, 0);
        else assert.ok(m.vectorCacheBytes > 1500 * 64 * 4, `vectorCacheBytes ${m.vectorCacheBytes}`);
    } finally {
        await srv.stop();
    }
});

async function bruteForce(srv) {
    let seed = 7;
    const rand = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
    };
    const rows = Array.from({ length: 1500 }, (_, n) => ({ n, group: n % 5, e: Array.from({ length: 64 }, () => rand() * 2 - 1) }));
    const ids = [];
    for (let i = 0; i < rows.length; i += 100)
        ids.push(...await srv.value("mutation", "big:addMany", { rows: rows.slice(i, i + 100) }));
    for (let k = 0; k < 3; k++) {
        const q = Array.from({ length: 64 }, () => rand() * 2 - 1);
        const want = rows.map((r, i) => ({ id: ids[i], group: r.group, score: cosine(q, r.e) }))
            .sort((a, b) => b.score - a.score);
        const got = await srv.value("action", "big:search", { vector: q, limit: 20 });
        assert.deepEqual(got.map((h) => h._id), want.slice(0, 20).map((w) => w.id));
        got.forEach((h, i) => close(h._score, want[i].score, `result ${i}`));
        const some = await srv.value("action", "big:search", { vector: q, limit: 256, groups: [1, 3] });
        assert.deepEqual(some.map((h) => h._id), want.filter((w) => w.group === 1 || w.group === 3).slice(0, 256).map((w) => w.id));
    }
    // a write between two searches: the second sees it (a new generation of the index)
    const q = rows[0].e.map((x) => -x);
    const [id] = await srv.value("mutation", "big:addMany", { rows: [{ n: -1, group: 9, e: q }] });
    assert.deepEqual((await srv.value("action", "big:search", { vector: q, limit: 1 })).map((h) => h._id), [id]);
}

test("every bad usage gets Convex's message, and the server keeps serving", async () => {
    const cases = {
        unknownIndex: /^Vector index foods\.nope not found$/,
        unknownTable: /^Vector index nosuch\.by_embedding not found$/,
        dims: /^Expected a vector with dimensions 3, received 2\.$/,
        emptyVector: /^`vector` must be a non-empty Array in vectorSearch$/,
        noVector: /^`vector` must be a non-empty Array in vectorSearch$/,
        notNumbers: /`vector` must be an array of finite numbers/,
        nan: /`vector` must be an array of finite numbers/,
        bigint: /^Vector query against foods\.by_embedding: `vector` must be an array of finite numbers$/,
        limitHigh: /^Vector queries can fetch at most 256 results, requested 257\.$/,
        limitZero: /limit must be an integer between 1 and 256/,
        limitFraction: /limit must be an integer between 1 and 256/,
        notFilterField: /^Vector query against foods\.by_embedding contains a filter on "description" but that field isn't indexed for filtering in `filterFields`\.$/,
        filterNotExpr: /^Filters should be a combination of `q\.eq` and `q\.or`\.$/,
        filterAnd: /q\.and is not a function/,
        eqNotField: /^The first argument to `q\.eq` must be a field name\.$/,
        tooManyConditions: /^Vector query against foods\.by_embedding has too many conditions\. Max: 64 Actual: 65$/,
        noArgs: /^Must provide arg 1 `tableName` to `vectorSearch`$/,
        badValue: /vectorSearch value for `cuisine`: function is not a supported value/,
    };
    for (const [which, re] of Object.entries(cases))
        assert.match(await bad(which), re, which);
    // queries have no ctx.vectorSearch (Convex: actions only)
    assert.equal(await srv.value("query", "foods:inQuery", {}), "undefined");
    assert.ok(Array.isArray(await search(srv, { vector: [1, 2, 3] })));
});

test("the schema: bad declarations fail the load; adding an index backfills it, a restart keeps it, removing drops it", { timeout: 60000 }, async () => {
    const food = await add(srv, { description: "kept", cuisine: "schema-test", embedding: [1, 2, 3] });
    const e1 = await srv.value("mutation", "notes:add", { text: "one", e: [1, 0] });
    await srv.value("mutation", "notes:add", { text: "two", e: [0, 1] });
    const missing = await srv.action("notes:search", { vector: [1, 0] });
    assert.match(missing.json?.errorMessage ?? "", /Vector index notes\.by_e not found/);
    const schemaFile = path.join(dir, "vireo/schema.ts");
    const schema = fs.readFileSync(schemaFile, "utf8");
    const decl = (opts) => schema.replace(
        "notes: defineTable({ text: v.string(), e: v.array(v.float64()) }),",
        `notes: defineTable({ text: v.string(), e: v.array(v.float64()) }).vectorIndex("by_e", ${opts}),`);
    for (const [opts, re] of [['{ vectorField: "e", dimensions: 1 }', /`dimensions` must be an integer between 2 and 4096, got 1/],
                              ['{ vectorField: "e", dimensions: 4097 }', /between 2 and 4096, got 4097/],
                              ['{ vectorField: "e", dimensions: 2.5 }', /between 2 and 4096, got 2\.5/],
                              ['{ dimensions: 2 }', /vector index `by_e` must have a `vectorField`/],
                              ['{ vectorField: "e", dimensions: 2, filterFields: ["t", "t"] }', /vector index `by_e`: duplicate filter field/],
                              ['{ vectorField: "_e", dimensions: 2 }', /invalid vector field `_e`/]]) {
        const from = srv.stderr.length;
        fs.writeFileSync(schemaFile, decl(opts));
        await srv.waitStderr(re, { timeout: 15000, from });
    }
    assert.match((await srv.action("notes:search", { vector: [1, 0] })).json?.errorMessage ?? "", /not found/);
    let from = srv.stderr.length;
    fs.writeFileSync(schemaFile, decl('{ vectorField: "e", dimensions: 2 }'));
    await srv.waitStderr(/loaded \d+ functions|previous version keeps running/, { timeout: 20000, from });
    assert.doesNotMatch(srv.stderr.slice(from), /previous version keeps running/);
    const hits = await srv.value("action", "notes:search", { vector: [1, 0] });
    assert.deepEqual(hits.map((h) => h._id).slice(0, 1), [e1]);
    assert.equal(hits.length, 2);
    // restarting keeps it (the catalog reloads vector indexes from the database)
    await srv.stop();
    srv = await startServer(dir);
    assert.equal((await srv.value("action", "notes:search", { vector: [1, 0] })).length, 2);
    assert.deepEqual((await search(srv, { vector: [1, 2, 3], cuisines: ["schema-test"] })).map((h) => h._id), [food],
        "the other vector index kept its rows");
    // removing it from the schema drops it
    from = srv.stderr.length;
    fs.writeFileSync(schemaFile, schema);
    await srv.waitStderr(/loaded \d+ functions|previous version keeps running/, { timeout: 20000, from });
    assert.doesNotMatch(srv.stderr.slice(from), /previous version keeps running/);
    const gone = await srv.action("notes:search", { vector: [1, 0] });
    assert.match(gone.json?.errorMessage ?? "", /Vector index notes\.by_e not found/, gone.text);
});

test("writes and searches from many clients at once: each search sees the writes answered before it", { timeout: 60000 }, async () => {
    // two readers and two action threads share one index in memory, replaced at every write
    const s = await ownServer(["--query-threads", "2", "--action-threads", "2"]);
    try {
        let seed = 11, n = 0;
        const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
        const rows = Array.from({ length: 300 }, (_, i) => ({ n: i, group: i % 3, e: Array.from({ length: 64 }, rand) }));
        await s.value("mutation", "big:addMany", { rows });
        const end = Date.now() + 3000;
        await Promise.all(Array.from({ length: 4 }, async (_, w) => {
            while (Date.now() < end) {
                const e = Array.from({ length: 64 }, rand);
                const [id] = await s.value("mutation", "big:addMany", { rows: [{ n: 1000 + n++, group: w, e }] });
                const hits = await s.value("action", "big:search", { vector: e, limit: 3 });
                assert.equal(hits[0]._id, id, `worker ${w}: its write first`);
                close(hits[0]._score, 1, "its own vector");
                const mine = await s.value("action", "big:search", { vector: e, limit: 1, groups: [w] });
                assert.deepEqual(mine.map((h) => h._id), [id]);
            }
        }));
        assert.ok(n >= 20, `${n} rounds`);
    } finally {
        await s.stop();
    }
});

test("tenants: each tenant searches its own index (the loop thread, from memory), after an idle close too", { timeout: 60000 }, async () => {
    const s = await ownServer(["--tenants", "--tenant-idle-ms", "800", "--action-threads", "1"]);
    try {
        const call = async (t, kind, p, args) => {
            const r = await request(s.port, "POST", `/t/${t}/api/${kind}`, { path: p, args });
            assert.equal(r.json?.status, "success", r.text);
            return r.json.value;
        };
        // the same vectors in both: each search finds only its own tenant's documents
        const ids = { a: [], b: [] };
        for (const t of ["a", "b"])
            for (const e of [[1, 0, 0], [0, 1, 0]])
                ids[t].push(await call(t, "mutation", "foods:add", { description: t, cuisine: "c", embedding: e }));
        for (const t of ["a", "b"]) {
            const hits = await call(t, "action", "foods:search", { vector: [1, 0, 0] });
            assert.deepEqual(hits.map((h) => h._id), ids[t]);
        }
        await call("a", "mutation", "foods:remove", { id: ids.a[0] });
        assert.deepEqual((await call("a", "action", "foods:search", { vector: [1, 0, 0] })).map((h) => h._id), [ids.a[1]]);
        assert.deepEqual((await call("b", "action", "foods:search", { vector: [1, 0, 0] })).map((h) => h._id), ids.b);
        // idle close and reopen: the index is read again from the tenant's database
        await waitFor(async () => (await request(s.port, "GET", "/api/health")).json.tenants.open === 0,
            { timeout: 10000, what: "both tenants idle-closed" });
        assert.deepEqual((await call("a", "action", "foods:search", { vector: [1, 0, 0] })).map((h) => h._id), [ids.a[1]]);
    } finally {
        await s.stop();
    }
});

test("on the query reader, inserts bring the index in memory up to date; a patch or delete reads it again", { timeout: 60000 }, async () => {
    const s = await ownServer(["--query-threads", "1"]);
    try {
        const m = async () => (await s.get("/api/metrics")).json;
        const search = async (vector) => (await s.value("action", "foods:search", { vector, limit: 256 })).map((h) => h._id);
        const a = await add(s, { description: "a", cuisine: "c", embedding: [1, 0, 0] });
        assert.deepEqual(await search([1, 0, 0]), [a]);
        const m0 = await m();
        // inserts: the rows after the snapshot's last are read, nothing else
        const b = await add(s, { description: "b", cuisine: "c", embedding: [0, 1, 0] });
        const c = await add(s, { description: "c", cuisine: "c", embedding: [0, 0, 1] });
        const got = await search([0, 0, 1]);
        assert.equal(got[0], c);
        assert.deepEqual([...got].sort(), [a, b, c].sort());
        const m1 = await m();
        assert.equal(m1.vectorCacheAppends - m0.vectorCacheAppends, 1, "appended");
        assert.equal(m1.vectorCacheBuilds, m0.vectorCacheBuilds, "not read whole");
        assert.deepEqual((await search([1, 1, 1])).sort(), [a, b, c].sort());
        // a document without a vector, then patched to have one: its row keeps its older rowid,
        // so the index is read whole again (and finds it)
        const d = await add(s, { description: "d", cuisine: "c", embedding: [] });
        assert.deepEqual((await search([1, 1, 1])).sort(), [a, b, c].sort());
        await s.value("mutation", "foods:patch", { id: d, fields: { embedding: [-1, -1, -1] } });
        const m2 = await m();
        assert.deepEqual((await search([-1, -1, -1]))[0], d);
        assert.equal((await m()).vectorCacheBuilds - m2.vectorCacheBuilds, 1, "read whole after the patch");
        // a delete: read whole again, without it
        await s.value("mutation", "foods:remove", { id: b });
        assert.deepEqual((await search([1, 1, 1])).sort(), [a, c, d].sort());
    } finally {
        await s.stop();
    }
});
