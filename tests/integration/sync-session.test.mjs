// Sync sessions against a real server (apps/sync): concurrent increments through the client
// package, read-your-writes ordering (client and raw protocol), idempotent replay across a
// forced reconnect (sync and HTTP), resume with QueryUnchanged / QueryUpdated, and a session
// that outlived --session-retention-ms starting afresh.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import WebSocket from "ws";
import { VireoClient } from "../../clients/js/src/index.js";
import {
    startServer, tempDir, guardServer, guardedTest, assertAppLoaded, sleep, waitFor,
    SyncConn, modOf, metrics, metricsDelta,
} from "./helpers.mjs";

let srv;
const cleanups = [];
const start = async () => {
    srv = await startServer(tempDir("sync"));
};

before(async () => {
    await start();
    await assertAppLoaded(srv);
});
guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
});
after(async () => {
    if (srv) await srv.stop();
});

async function open(opts, server = srv) {
    const c = await SyncConn.open(server.port);
    cleanups.push(() => c.close());
    await c.connect(opts);
    return c;
}

function client(opts = {}) {
    const c = new VireoClient(srv.url, { WebSocket, backoff: { baseMs: 20, maxMs: 100 }, requestTimeoutMs: 20000, ...opts });
    cleanups.push(() => c.close());
    return c;
}

const settle = () => sleep(80);

test("8. 20 clients x 50 concurrent increments of one counter = exactly 1000", { timeout: 30000 }, async () => {
    const clients = Array.from({ length: 20 }, () => client());
    const watcher = client();
    const seen = [];
    watcher.subscribe("counters:get", { name: "c8" }, (v) => seen.push(v));
    const calls = [];
    for (const c of clients) for (let i = 0; i < 50; i++) calls.push(c.mutation("counters:increment", { name: "c8" }));
    const values = await Promise.all(calls);
    assert.equal(values.length, 1000);
    const sorted = [...values].sort((a, b) => a - b);
    assert.deepEqual(sorted, Array.from({ length: 1000 }, (_, i) => i + 1), "every increment must see a distinct previous value");
    assert.equal(await srv.value("query", "counters:get", { name: "c8" }), 1000);
    await waitFor(() => seen.at(-1) === 1000, { what: "the watcher to see 1000" });
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `watcher values must increase: ${seen.slice(0, 50)}`);
});

test("10. client: a mutation resolves after the subscription callback showed its write", { timeout: 15000 }, async () => {
    const c = client();
    let last = null;
    const order = [];
    c.subscribe("messages:bodies", { channel: "#t10" }, (v) => {
        last = v;
        order.push(`cb:${v.length}`);
    });
    await waitFor(() => last !== null, { what: "first result" });
    for (let i = 0; i < 5; i++) {
        const id = await c.mutation("messages:send", { channel: "#t10", author: "a", body: `m${i}` });
        order.push(`resolved:${i}`);
        assert.equal(typeof id, "string");
        assert.ok(last.includes(`m${i}`), `mutation ${i} resolved before the subscription showed it: ${JSON.stringify(last)}`);
    }
    // concurrent ones as well: each resolution sees its own write
    await Promise.all(
        [5, 6, 7, 8].map((i) =>
            c.mutation("messages:send", { channel: "#t10", author: "a", body: `m${i}` }).then(() => {
                assert.ok(last.includes(`m${i}`), `m${i} not shown at resolution: ${JSON.stringify(last)}`);
            }),
        ),
    );
});

test("10. raw: the transition to version V comes before the mutationResponse with version V", { timeout: 15000 }, async () => {
    const c = await open();
    await c.subscribe(1, "messages:bodies", { channel: "#t10r" });
    await c.subscribe(2, "messages:bodies", { channel: "#t10r-other" });
    for (let i = 0; i < 5; i++) {
        const from = c.mark;
        // relevant to query 1, then irrelevant to every query of the session
        const ch = i % 2 ? "#t10r-unwatched" : "#t10r";
        const r = await c.call("mutation", 100 + i, "messages:send", { channel: ch, author: "a", body: `r${i}` });
        assert.equal(r.success, true, JSON.stringify(r));
        const msgs = c.messages.slice(from);
        const ri = msgs.indexOf(r);
        const ti = msgs.findIndex((m) => m.type === "transition" && m.endVersion >= r.version);
        assert.ok(ti >= 0 && ti < ri, `${ch}: no transition reaching version ${r.version} before the response: ${JSON.stringify(msgs)}`);
        const t = msgs[ti];
        assert.equal(t.endVersion, r.version);
        if (ch === "#t10r") assert.ok(modOf(t, 1).value.includes(`r${i}`));
        else assert.deepEqual(t.modifications, [], "no query changed: an empty transition");
        c.version = t.endVersion;
    }
    // pipelined mutations: each response is preceded by a transition reaching its version
    const from = c.mark;
    for (let i = 0; i < 10; i++) c.send({ type: "mutation", requestId: 200 + i, path: "messages:send", args: { channel: "#t10r", author: "p", body: `p${i}` } });
    await c.waitMsg((m) => m.type === "mutationResponse" && m.requestId === 209, { from });
    let version = -1;
    let lastReq = 199;
    for (const m of c.messages.slice(from)) {
        if (m.type === "transition") {
            assert.ok(m.endVersion > version);
            version = m.endVersion;
        } else if (m.type === "mutationResponse") {
            assert.equal(m.requestId, lastReq + 1, "responses in send order");
            lastReq = m.requestId;
            assert.ok(version >= m.version, `response at version ${m.version} arrived when the session was at ${version}`);
        }
    }
});

test("11. idempotent replay across a forced reconnect applies once", { timeout: 15000 }, async () => {
    const sessionId = crypto.randomUUID();
    const key = crypto.randomUUID();
    const args = { channel: "#t11", author: "a", body: "once" };
    let c = await open({ sessionId });
    const first = await c.call("mutation", 1, "messages:send", args, { idempotencyKey: key });
    assert.equal(first.success, true, JSON.stringify(first));
    c.terminate();
    await settle();
    c = await open({ sessionId, lastVersion: first.version });
    const again = await c.call("mutation", 1, "messages:send", args, { idempotencyKey: key });
    assert.equal(again.success, true, JSON.stringify(again));
    assert.equal(again.value, first.value, "the replay must return the first result");
    assert.equal(again.version, first.version, "the replay must return the first version");
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#t11" }), ["once"]);

    // dropped before the answer could arrive: the resend after reconnecting is applied once
    const key2 = crypto.randomUUID();
    const m0 = await metrics(srv);
    c.send({ type: "mutation", requestId: 2, path: "messages:send", args: { ...args, body: "dropped" }, idempotencyKey: key2 });
    c.terminate();
    await settle();
    c = await open({ sessionId, lastVersion: first.version });
    const r2 = await c.call("mutation", 2, "messages:send", { ...args, body: "dropped" }, { idempotencyKey: key2 });
    assert.equal(r2.success, true, JSON.stringify(r2));
    const r3 = await c.call("mutation", 3, "messages:send", { ...args, body: "dropped" }, { idempotencyKey: key2 });
    assert.equal(r3.value, r2.value);
    assert.equal(r3.version, r2.version);
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#t11" }), ["once", "dropped"]);
    assert.equal(metricsDelta(m0, await metrics(srv)).storeVersion, 1, "one write for three sends of key2");
});

test("11. HTTP: a mutation posted twice with the same idempotencyKey applies once", { timeout: 10000 }, async () => {
    const key = crypto.randomUUID();
    const body = { path: "counters:increment", args: { name: "c11" }, idempotencyKey: key };
    const a = await srv.post("/api/mutation", body);
    assert.equal(a.json?.status, "success", a.text);
    const b = await srv.post("/api/mutation", body);
    assert.equal(b.json?.status, "success", b.text);
    assert.equal(b.json.value, a.json.value);
    assert.equal(b.json.version, a.json.version);
    assert.equal(await srv.value("query", "counters:get", { name: "c11" }), 1);
    // a different key applies again
    const c = await srv.post("/api/mutation", { ...body, idempotencyKey: crypto.randomUUID() });
    assert.equal(c.json?.value, 2, c.text);
    // the same key over the sync protocol is another scope (a session's keys are its own):
    // it applies (hardening item 13; keys were global before)
    const s = await open();
    const r = await s.call("mutation", 1, "counters:increment", { name: "c11" }, { idempotencyKey: key });
    assert.equal(r.value, 3, JSON.stringify(r));
    assert.equal(await srv.value("query", "counters:get", { name: "c11" }), 3);
    // an over-long key is refused
    const long = await srv.post("/api/mutation", { ...body, idempotencyKey: "k".repeat(201) });
    assert.equal(long.status, 400, long.text);
});

test("12. resume: QueryUnchanged for unchanged queries, QueryUpdated for changed ones", { timeout: 15000 }, async () => {
    const sessionId = crypto.randomUUID();
    await srv.mutation("messages:send", { channel: "#t12-same", author: "a", body: "s1" });
    let c = await open({ sessionId });
    const t1 = await c.subscribe(1, "messages:bodies", { channel: "#t12-same" });
    const t2 = await c.subscribe(2, "messages:bodies", { channel: "#t12-changed" });
    const t3 = await c.subscribe(3, "messages:bodies", { channel: "#t12-dropped" });
    const h1 = modOf(t1, 1).hash, h2 = modOf(t2, 2).hash;
    const v = t3.endVersion;
    c.terminate();
    await settle();
    const w = await srv.mutation("messages:send", { channel: "#t12-changed", author: "a", body: "while away" });
    assert.equal(w.json?.status, "success");
    const m0 = await metrics(srv);
    c = await open({ sessionId, lastVersion: v });
    const conn = c.messages.find((m) => m.type === "connected");
    assert.equal(conn.resumed, true);
    assert.equal(conn.version, v);
    const from = c.mark;
    c.send({
        type: "modifyQuerySet",
        add: [
            { queryId: 1, path: "messages:bodies", args: { channel: "#t12-same" }, hash: h1 },
            { queryId: 2, path: "messages:bodies", args: { channel: "#t12-changed" }, hash: h2 },
        ],
    });
    const t = await c.waitMsg("transition", { from });
    assert.equal(t.startVersion, v);
    assert.equal(t.endVersion, w.json.version);
    assert.deepEqual(modOf(t, 1), { type: "QueryUnchanged", queryId: 1 });
    assert.equal(modOf(t, 2)?.type, "QueryUpdated", JSON.stringify(t));
    assert.deepEqual(modOf(t, 2).value, ["while away"]);
    assert.equal(modOf(t, 3), undefined);
    assert.equal(t.modifications.length, 2, JSON.stringify(t));
    await settle();
    const d = metricsDelta(m0, await metrics(srv));
    // a detached session's queries are not re-run while it is away; the resume re-runs the one
    // a write invalidated meanwhile, and only that one
    assert.equal(d.queryExecutions, 1, `a resume re-runs only the invalidated query: ${JSON.stringify(d)}`);
    assert.equal(d.liveQueries, -1, `query 3, not re-added, is dropped: ${JSON.stringify(d)}`);
    // the resumed queries are live
    const f2 = c.mark;
    await srv.mutation("messages:send", { channel: "#t12-same", author: "a", body: "s2" });
    const tu = await c.waitMsg("transition", { from: f2 });
    assert.deepEqual(modOf(tu, 1).value, ["s1", "s2"]);
});

test("12. after the retention window a reconnect gets fresh results (resumed: false)", { timeout: 15000 }, async () => {
    const s2 = await startServer(tempDir("sync"), { args: ["--session-retention-ms", "300"] });
    cleanups.push(() => s2.stop());
    await s2.mutation("messages:send", { channel: "#t12r", author: "a", body: "kept" });
    const sessionId = crypto.randomUUID();
    let c = await open({ sessionId }, s2);
    const t = await c.subscribe(1, "messages:bodies", { channel: "#t12r" });
    const h = modOf(t, 1).hash;
    c.terminate();
    await waitFor(async () => (await metrics(s2)).connections === 0, { what: "the connection to go" });
    assert.equal((await metrics(s2)).sessions, 1, "the session is retained for a while");
    await sleep(600);
    const m = await metrics(s2);
    assert.equal(m.sessions, 0, `the session outlived --session-retention-ms 300: ${JSON.stringify(m)}`);
    assert.equal(m.liveQueries, 0, `its live query outlived it: ${JSON.stringify(m)}`);
    c = await open({ sessionId, lastVersion: t.endVersion }, s2);
    assert.equal(c.messages.find((x) => x.type === "connected").resumed, false);
    const t2 = await c.subscribe(1, "messages:bodies", { channel: "#t12r" }, { hash: h });
    assert.equal(modOf(t2, 1).type, "QueryUpdated", "a fresh session answers with values, not QueryUnchanged");
    assert.deepEqual(modOf(t2, 1).value, ["kept"]);
    // within the window it resumes
    c.terminate();
    await sleep(50);
    c = await open({ sessionId, lastVersion: t2.endVersion }, s2);
    assert.equal(c.messages.find((x) => x.type === "connected").resumed, true);
});

test("chaos: random connects, takeovers, resumes, query changes, mutations and drops; invariants hold, nothing leaks", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("sync"), { args: ["--session-retention-ms", "200"] });
    let seed = 20261123;
    const rnd = (n) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
    };
    const queries = [
        ["messages:bodies", () => ({ channel: "#c" + rnd(3) })],
        ["counters:get", () => ({ name: "k" + rnd(2) })],
        ["points:between", () => ({ lo: rnd(5), hi: 5 + rnd(5) })],
        ["messages:latest", () => ({ channel: "#c" + rnd(3) })],
    ];
    const calls = [
        ["messages:send", () => ({ channel: "#c" + rnd(3), author: "a", body: "b" })],
        ["counters:increment", () => ({ name: "k" + rnd(2) })],
        ["points:add", () => ({ x: rnd(12), tag: "t" })],
        ["messages:sendThenThrow", () => ({ channel: "#c1", author: "a", body: "b" })],
    ];
    const all = [];
    let live = [];
    try {
        for (let step = 0; step < 800; step++) {
            live = live.filter((c) => !c.closed);
            const op = rnd(10);
            if (op === 0 || live.length === 0) {
                const c = await SyncConn.open(s.port).catch(() => null);
                if (!c) continue;
                c.send({ type: "connect", sessionId: "s" + rnd(5), protocolVersion: 1, ...(rnd(2) ? { lastVersion: rnd(50) } : {}) });
                live.push(c);
                all.push(c);
                continue;
            }
            const c = live[rnd(live.length)];
            if (op === 1) {
                if (rnd(2)) c.terminate();
                else c.close();
            } else if (op <= 4) {
                const [p, a] = queries[rnd(queries.length)];
                c.send({ type: "modifyQuerySet", add: [{ queryId: rnd(6), path: p, args: a(), ...(rnd(2) ? { hash: "0123456789abcdef" } : {}) }], remove: rnd(2) ? [rnd(6)] : [] });
            } else if (op === 5) {
                c.send({ type: "modifyQuerySet", remove: [rnd(6), rnd(6)] });
            } else if (op <= 7) {
                const [p, a] = calls[rnd(calls.length)];
                c.send({ type: "mutation", requestId: step, path: p, args: a(), ...(rnd(3) === 0 ? { idempotencyKey: "k" + rnd(20) } : {}) });
            } else if (op === 8) {
                c.send({ type: "action", requestId: step, path: "counters:incrementViaAction", args: { name: "k0" } });
            } else {
                await sleep(rnd(20));
            }
            if (step % 100 === 0) await sleep(5);
            if (s.exitCode !== undefined || s.exitSignal) assert.fail(`vireo died (${s.exitSignal ?? s.exitCode}): ${s.stderr.slice(-2000)}`);
        }
        await sleep(300);
        // per connection: transitions chain from `connected`, responses never ahead of them
        for (const c of all) {
            let v = null;
            for (const m of c.messages) {
                if (m.type === "connected") v = m.version;
                else if (m.type === "transition") {
                    assert.notEqual(v, null, "a transition before connected");
                    assert.equal(m.startVersion, v, `chain broken: ${JSON.stringify(m).slice(0, 300)}`);
                    v = m.endVersion;
                } else if (m.type === "mutationResponse" && m.success) {
                    assert.ok(m.version <= v, `mutation response at ${m.version} ahead of the session (${v})`);
                }
            }
        }
        for (const c of live) c.terminate();
        await waitFor(async () => {
            const m = await metrics(s);
            return m.connections === 0 && m.sessions === 0 ? m : null;
        }, { timeout: 5000, what: "every session to expire" });
        const m = await metrics(s);
        assert.equal(m.liveQueries, 0, `live queries leaked: ${JSON.stringify(m)}`);
        assert.equal(m.liveRanges, 0, `read ranges leaked: ${JSON.stringify(m)}`);
        assert.equal((await s.get("/api/health")).status, 200);
    } finally {
        for (const c of all) c.terminate();
        await s.stop();
    }
});

test("11. idempotency keys survive a server restart", { timeout: 20000 }, async () => {
    const dir = tempDir("sync");
    let s = await startServer(dir);
    try {
        const key = crypto.randomUUID();
        let c = await SyncConn.open(s.port);
        await c.connect();
        const first = await c.call("mutation", 1, "counters:increment", { name: "restart" }, { idempotencyKey: key });
        assert.equal(first.value, 1, JSON.stringify(first));
        const sessionId = c.sessionId; // keys are scoped to the session: replay in the same one
        c.terminate();
        await s.stop();
        s = await startServer(dir);
        c = await SyncConn.open(s.port);
        await c.connect({ sessionId });
        const again = await c.call("mutation", 1, "counters:increment", { name: "restart" }, { idempotencyKey: key });
        assert.equal(again.value, 1, JSON.stringify(again));
        assert.equal(again.version, first.version);
        // HTTP keys are another scope than the session's: it applies once more
        const http = await s.post("/api/mutation", { path: "counters:increment", args: { name: "restart" }, idempotencyKey: key });
        assert.equal(http.json?.value, 2, http.text);
        assert.equal(await s.value("query", "counters:get", { name: "restart" }), 2);
        c.terminate();
    } finally {
        await s.stop();
    }
});
