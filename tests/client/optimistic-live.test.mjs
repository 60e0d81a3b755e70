// Optimistic updates and the offline queue against a real `vireo dev`
// (tests/integration/apps/sync; ./vireo or VIREO_BIN): an optimistic value shown at once and
// replaced by the server's; a throwing mutation's value rolled back; mutations queued while the
// server is stopped (SIGSTOP) applied exactly once after it continues; and a persisted queue
// (fake-indexeddb) replayed exactly once by a "reloaded" client after a server restart, including
// a mutation that committed while its client was gone.

import "fake-indexeddb/auto";
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { VireoClient, ServerError, createIndexedDbPersistence } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep } from "../integration/helpers.mjs";

let srv;
const clients = [];

before(async () => {
    srv = await startServer(tempDir("sync"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.stop();
});

function client(url, opts = {}) {
    const c = new VireoClient(url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000, ...opts });
    clients.push(c);
    return c;
}

const pending = (body) => (store, args) => {
    const cur = store.getQuery("messages:bodies", { channel: args.channel });
    if (cur !== undefined) store.setQuery("messages:bodies", { channel: args.channel }, [...cur, `${body} (pending)`]);
};

test("an optimistic value shows at once and is replaced by the server's result", { timeout: 15000 }, async () => {
    const c = client(srv.url);
    const seen = [];
    c.subscribe("messages:bodies", { channel: "#ol1" }, (v) => seen.push(v));
    await waitFor(() => seen.length === 1, { what: "first result" });
    const p = c.mutation("messages:send", { channel: "#ol1", author: "ada", body: "hi" }, { optimisticUpdate: pending("hi") });
    assert.deepEqual(seen.at(-1), ["hi (pending)"], "synchronously");
    assert.deepEqual(c.getQueryResult("messages:bodies", { channel: "#ol1" }), ["hi (pending)"]);
    assert.equal(typeof await p, "string");
    assert.deepEqual(seen.at(-1), ["hi"], "the server's result, the layer gone, when the mutation resolves");
    assert.deepEqual(seen, [[], ["hi (pending)"], ["hi"]]);
    assert.equal(c.queryStore.optimistic.layers.length, 0);
});

test("a throwing mutation's optimistic value is rolled back", { timeout: 15000 }, async () => {
    const c = client(srv.url);
    const seen = [];
    c.subscribe("messages:bodies", { channel: "#ol2" }, (v) => seen.push(v));
    await waitFor(() => seen.length === 1, { what: "first result" });
    const p = c.mutation("messages:sendThenThrow", { channel: "#ol2", author: "ada", body: "x" },
                         { optimistic: { query: "messages:bodies", args: { channel: "#ol2" }, update: (cur) => [...cur, "x?"] } });
    assert.deepEqual(seen.at(-1), ["x?"]);
    await assert.rejects(p, (e) => e instanceof ServerError && /boom after insert/.test(e.message));
    assert.deepEqual(seen.at(-1), [], "rolled back");
    assert.deepEqual(c.getQueryResult("messages:bodies", { channel: "#ol2" }), []);
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#ol2" }), []);
});

test("mutations queued while the server is stopped are applied exactly once after it continues", { timeout: 30000 }, async () => {
    const c = client(srv.url, { heartbeatIntervalMs: 200 });
    const seen = [];
    c.subscribe("messages:bodies", { channel: "#ol3" }, (v) => seen.push(v));
    await waitFor(() => seen.length === 1, { what: "first result" });
    srv.proc.kill("SIGSTOP");
    let ps;
    try {
        // sent into the stopped server's socket: it may or may not run before the client
        // declares the connection dead; replayed with its key either way
        const p0 = c.mutation("messages:send", { channel: "#ol3", author: "a", body: "m0" }, { optimisticUpdate: pending("m0") });
        await waitFor(() => !c.connectionState().isWebSocketConnected, { what: "the client to notice", timeout: 5000 });
        ps = [p0];
        for (let i = 1; i <= 3; i++)
            ps.push(c.mutation("messages:send", { channel: "#ol3", author: "a", body: `m${i}` }, { optimisticUpdate: pending(`m${i}`) }));
        assert.equal(c.connectionState().offlineQueueLength, 4);
        assert.deepEqual(seen.at(-1), ["m0 (pending)", "m1 (pending)", "m2 (pending)", "m3 (pending)"]);
        await sleep(300);
    } finally {
        srv.proc.kill("SIGCONT");
    }
    await Promise.all(ps);
    assert.deepEqual(seen.at(-1), ["m0", "m1", "m2", "m3"]);
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#ol3" }), ["m0", "m1", "m2", "m3"], "each applied once");
});

test("a persisted queue is replayed exactly once by the reloaded page after a restart", { timeout: 40000 }, async () => {
    const dir = tempDir("sync");
    let s = await startServer(dir);
    const port = s.port;
    const key = `live-${Math.random()}`;
    const idb = createIndexedDbPersistence({ dbName: "vireo-live", key });
    let frozen = false;
    const adapter = { load: () => idb.load(), clear: () => idb.clear(), save: (st) => (frozen ? Promise.resolve() : idb.save(st)) };
    try {
        // page 1: a result, then one write the server runs while this page is gone, and two
        // written while the server is down
        const c1 = client(s.url, { persistence: adapter, persistDelayMs: 10, heartbeatIntervalMs: 200 });
        await c1.init();
        const seen = [];
        c1.subscribe("messages:bodies", { channel: "#ol4" }, (v) => seen.push(v));
        await waitFor(() => seen.length === 1, { what: "first result" });
        s.proc.kill("SIGSTOP");
        const lost = [c1.mutation("messages:send", { channel: "#ol4", author: "a", body: "w0" })];
        await sleep(20);
        await c1.flushPersistence();
        frozen = true;
        c1.close(); // the page dies: its close frame follows w0 in the stopped server's socket
        s.proc.kill("SIGCONT");
        await Promise.allSettled(lost);
        await waitFor(async () => (await s.value("query", "messages:bodies", { channel: "#ol4" })).length === 1,
                      { what: "w0 committed on the server" });
        await s.stop();

        frozen = false;
        const c1b = client(`http://127.0.0.1:${port}`, { persistence: adapter, persistDelayMs: 10 });
        await c1b.init(); // the same page, reloaded while the server is down
        const before = [];
        c1b.subscribe("messages:bodies", { channel: "#ol4" }, (v) => before.push(v));
        await sleep(50);
        assert.deepEqual(before, [[]], "the cached result, with the server down");
        assert.equal(c1b.hasServerResult("messages:bodies", { channel: "#ol4" }), false);
        c1b.mutation("messages:send", { channel: "#ol4", author: "a", body: "w1" }).catch(() => {});
        c1b.mutation("messages:send", { channel: "#ol4", author: "a", body: "w2" }).catch(() => {});
        await c1b.flushPersistence();
        frozen = true;
        c1b.close();

        // page 2, server back
        s = await startServer(dir, { args: ["--port", String(port)] });
        frozen = false;
        const results = [];
        const c2 = client(s.url, { persistence: adapter, onOfflineMutationResult: (r) => results.push(r) });
        await c2.init();
        assert.equal(c2.connectionState().offlineQueueLength, 3);
        const after = [];
        c2.subscribe("messages:bodies", { channel: "#ol4" }, (v) => after.push(v));
        await waitFor(() => results.length === 3, { what: "the three replays", timeout: 15000 });
        assert.deepEqual(results.map((r) => [r.args.body, typeof r.value, r.error]),
                         [["w0", "string", undefined], ["w1", "string", undefined], ["w2", "string", undefined]]);
        assert.deepEqual(await s.value("query", "messages:bodies", { channel: "#ol4" }), ["w0", "w1", "w2"],
                         "w0, committed before its answer was lost, is not applied twice");
        await waitFor(() => c2.hasServerResult("messages:bodies", { channel: "#ol4" }), { what: "the server's result" });
        assert.deepEqual(after.at(-1), ["w0", "w1", "w2"]);
    } finally {
        s.proc.kill("SIGCONT");
        await s.stop();
    }
});
