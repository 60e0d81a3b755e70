// VireoClient's optimistic layers, offline queue and persistence against the scripted fake server
// (tests/client/fake-server.mjs) and fake-indexeddb: layers applied at once, replayed over new
// server results, dropped atomically with the transition that settles their mutation or on
// failure; the bounded offline queue; the persisted cache and queue across a "reload";
// maxCacheAge, schemaVersion, and a change of identity.

import "fake-indexeddb/auto";
import test from "node:test";
import assert from "node:assert/strict";
import {
    VireoClient, ClientError, ServerError, QueryStore, createIndexedDbPersistence,
} from "../../clients/js/src/index.js";
import { startFakeServer, WebSocket, sleep, tick } from "./fake-server.mjs";

async function setup(t, options = {}) {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 10, maxMs: 20 }, ...options });
    t.after(async () => {
        client.close();
        await server.close();
    });
    return { server, client };
}

async function waitFor(pred, ms = 2000) {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error("waitFor timed out");
        await sleep(5);
    }
}

/** Subscribes and answers the add with `value` at `version`; returns the values received. */
async function subscribed(client, conn, path, args, value, version) {
    const values = [];
    const unsub = client.subscribe(path, args, (v) => values.push(v));
    const m = await conn.next("modifyQuerySet");
    const queryId = m.add[0].queryId;
    conn.transition(version - 1, version, [{ type: "QueryUpdated", queryId, value, hash: "h" + version }]);
    await waitFor(() => values.length === 1);
    return { values, unsub, queryId };
}

const addItem = (item) => (store) => {
    const cur = store.getQuery("items:list", {});
    if (cur !== undefined) store.setQuery("items:list", {}, [...cur, item]);
};

test("optimistic update: shown at once, replayed over new results, dropped in the settling transition", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const q = await subscribed(client, conn, "items:list", {}, ["a"], 1);
    const watched = [];
    client.watchQuery(QueryStore.makeKey("items:list", {}), () => watched.push(client.getQueryResult("items:list", {})));

    const p = client.mutation("items:add", { item: "b" }, { optimisticUpdate: addItem("b") });
    // synchronously: subscribers and watchers see the layer; the server result is unchanged
    assert.deepEqual(q.values.at(-1), ["a", "b"]);
    assert.deepEqual(client.getQueryResult("items:list", {}), ["a", "b"]);
    assert.deepEqual(watched, [["a", "b"]]);
    assert.equal(client.hasServerResult("items:list", {}), true);
    assert.deepEqual(client.queryStore.getServerResult(QueryStore.makeKey("items:list", {})), ["a"]);
    const m = await conn.next("mutation");
    assert.equal(typeof m.idempotencyKey, "string");

    // another client's write arrives first: the layer is replayed on top of it
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "x"], hash: "h2" }]);
    await waitFor(() => q.values.length === 3);
    assert.deepEqual(q.values.at(-1), ["a", "x", "b"]);

    // the response (version 3) alone changes nothing; the transition to 3 carries the server's
    // result and drops the layer in the same step: no flicker back to ["a", "x"]
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "id-b", version: 3 });
    await sleep(30);
    assert.equal(q.values.length, 3);
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "x", "b*"], hash: "h3" }]);
    assert.equal(await p, "id-b");
    assert.deepEqual(q.values.slice(3), [["a", "x", "b*"]], "one delivery, the server's value");
    assert.equal(client.queryStore.optimistic.layers.length, 0);
});

test("optimistic update: the server's order (transition with the write, then the answer) shows no double", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const q = await subscribed(client, conn, "items:list", {}, ["a"], 1);
    const p = client.mutation("items:add", { item: "b" }, { optimisticUpdate: addItem("b") });
    const m = await conn.next("mutation");
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "b"], hash: "h2" }]);
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "id", version: 2 });
    assert.equal(await p, "id");
    assert.deepEqual(q.values, [["a"], ["a", "b"], ["a", "b"]], "never [a, b, b]");
    // without an answer the held transition goes out after a short while
    const p2 = client.mutation("items:add", { item: "c" }, { optimisticUpdate: addItem("c") });
    await conn.next("mutation");
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "b", "x"], hash: "h3" }]);
    await waitFor(() => q.values.length === 5, 1000);
    assert.deepEqual(q.values.at(-1), ["a", "b", "x", "c"]);
    client.close();
    await assert.rejects(p2, (e) => e.code === "ClientClosed");
    assert.deepEqual(client.getQueryResult("items:list", {}), ["a", "b", "x"], "closed: the layer is gone");
});

test("optimistic update: a failed mutation rolls back every query it touched together", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const list = await subscribed(client, conn, "items:list", {}, ["a"], 1);
    const count = await subscribed(client, conn, "items:count", {}, 1, 2);
    const seen = [];
    const snapshot = () => seen.push([client.getQueryResult("items:list", {}), client.getQueryResult("items:count", {})]);
    client.watchQuery(QueryStore.makeKey("items:list", {}), snapshot);
    client.watchQuery(QueryStore.makeKey("items:count", {}), snapshot);

    const p = client.mutation("items:add", { item: "b" }, {
        optimisticUpdate: (store, args) => {
            store.setQuery("items:list", {}, [...store.getQuery("items:list", {}), args.item]);
            store.setQuery("items:count", {}, store.getQuery("items:count") + 1);
            assert.deepEqual(store.getAllQueries("items:list"), [{ args: {}, value: ["a", "b"] }]);
        },
    });
    assert.deepEqual([client.getQueryResult("items:list", {}), client.getQueryResult("items:count", {})], [["a", "b"], 2]);
    const m = await conn.next("mutation");
    seen.length = 0;
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: false, errorMessage: "no", errorCode: "FunctionFailed" });
    await assert.rejects(p, (e) => e instanceof ServerError && e.message === "no");
    // both queries were already back when the first watcher ran
    assert.deepEqual(seen, [[["a"], 1], [["a"], 1]]);
    assert.deepEqual(list.values.at(-1), ["a"]);
    assert.equal(count.values.at(-1), 1);
});

test("optimistic updates: several in flight apply in call order and drop independently", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const q = await subscribed(client, conn, "items:list", {}, ["a"], 1);
    const p1 = client.mutation("items:add", { item: "b" }, { optimisticUpdate: addItem("b") });
    const p2 = client.mutation("items:add", { item: "c" }, { optimisticUpdate: addItem("c") });
    // seed 002's single-query shorthand
    const p3 = client.mutation("items:add", { item: "d" }, {
        optimistic: { query: "items:list", args: {}, update: (cur) => [...cur, "d"] },
    });
    assert.deepEqual(client.getQueryResult("items:list", {}), ["a", "b", "c", "d"]);
    const m1 = await conn.next("mutation");
    const m2 = await conn.next("mutation");
    const m3 = await conn.next("mutation");
    assert.deepEqual([m1.args.item, m2.args.item, m3.args.item], ["b", "c", "d"], "sent in call order");
    // the second fails: its layer goes, the first's and the third's stay, in order
    conn.send({ type: "mutationResponse", requestId: m2.requestId, success: false, errorMessage: "dup", errorCode: "FunctionFailed" });
    await assert.rejects(p2, /dup/);
    assert.deepEqual(q.values.at(-1), ["a", "b", "d"]);
    conn.send({ type: "mutationResponse", requestId: m1.requestId, success: true, value: 1, version: 2 });
    conn.send({ type: "mutationResponse", requestId: m3.requestId, success: true, value: 3, version: 3 });
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "b"], hash: "h2" }]);
    assert.equal(await p1, 1);
    assert.deepEqual(q.values.at(-1), ["a", "b", "d"], "the third's layer on the new result");
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId: q.queryId, value: ["a", "b", "d"], hash: "h3" }]);
    assert.equal(await p3, 3);
    assert.equal(client.queryStore.optimistic.layers.length, 0);
    assert.deepEqual(client.getQueryResult("items:list", {}), ["a", "b", "d"]);
});

test("optimistic update that throws: the mutation rejects and nothing is sent; bad options are refused", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    await subscribed(client, conn, "items:list", {}, ["a"], 1);
    await assert.rejects(client.mutation("items:add", {}, { optimisticUpdate: () => { throw new Error("bug"); } }), /bug/);
    await assert.rejects(client.mutation("items:add", {}, { optimisticUpdate: 3 }), TypeError);
    await assert.rejects(client.mutation("items:add", {}, { optimistic: (c) => c }), /optimistic must be \{query/);
    assert.ok(await conn.none("mutation", 100));
    assert.deepEqual(client.getQueryResult("items:list", {}), ["a"]);
    assert.equal(client.queryStore.optimistic.layers.length, 0);
});

test("watchQuery(name, args): onUpdate subscribes, localQueryResult reads, the last unsubscribe removes", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const w = client.watchQuery("items:list", { n: 1 });
    assert.equal(w.localQueryResult(), undefined);
    let calls = 0;
    const off = w.onUpdate(() => calls++);
    const add = await conn.next("modifyQuerySet");
    assert.deepEqual(add.add[0].args, { n: 1 });
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: add.add[0].queryId, value: [1], hash: "h" }]);
    await waitFor(() => calls === 1);
    assert.deepEqual(w.localQueryResult(), [1]);
    assert.equal(w.hasServerResult(), true);
    conn.transition(1, 2, [{ type: "QueryFailed", queryId: add.add[0].queryId, errorMessage: "boom", errorCode: "FunctionFailed" }]);
    await waitFor(() => calls === 2);
    assert.throws(() => w.localQueryResult(), /boom/);
    off();
    const rm = await conn.next("modifyQuerySet");
    assert.deepEqual(rm.remove, [add.add[0].queryId]);
    const st = client.connectionState();
    assert.equal(st.isWebSocketConnected, true);
    assert.equal(st.state, "connected");
    assert.equal(st.connectionCount, 1);
    assert.equal(st.hasInflightRequests, false);
});

test("offline queue: kept in order while disconnected, bounded (oldest rejected), replayed on connect", async (t) => {
    const { server, client } = await setup(t, { maxOfflineQueue: 2 });
    const conn = await server.connection(); // no handshake yet: the client is offline
    const p1 = client.mutation("m:a", { i: 1 });
    const p2 = client.mutation("m:a", { i: 2 });
    const p3 = client.mutation("m:a", { i: 3 });
    await assert.rejects(p1, (e) => e instanceof ClientError && e.code === "OFFLINE_QUEUE_OVERFLOW" &&
        /more than 2 mutations \(maxOfflineQueue\)/.test(e.message));
    assert.equal(client.connectionState().offlineQueueLength, 2);
    assert.equal(client.connectionState().inflightMutations, 2);
    await conn.handshake();
    const a = await conn.next("mutation");
    const b = await conn.next("mutation");
    assert.deepEqual([a.args.i, b.args.i], [2, 3]);
    for (const m of [a, b]) conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: m.args.i, version: 1 });
    conn.transition(0, 1, []);
    assert.deepEqual(await Promise.all([p2, p3]), [2, 3]);
});

test("offline queue: a mutation unanswered when the connection is cut is re-sent with the same key", async (t) => {
    const { server, client } = await setup(t);
    const c1 = await server.connection();
    await c1.handshake();
    const p = client.mutation("m:a", { i: 1 });
    const m1 = await c1.next("mutation");
    c1.terminate(); // the write may have committed; its answer is lost
    const c2 = await server.connection();
    const hello = await c2.handshake();
    assert.equal(hello.sessionId, client.sessionId);
    const m2 = await c2.next("mutation");
    assert.equal(m2.idempotencyKey, m1.idempotencyKey);
    assert.equal(m2.requestId, m1.requestId);
    c2.send({ type: "mutationResponse", requestId: m2.requestId, success: true, value: "once", version: 1 });
    c2.transition(0, 1, []);
    assert.equal(await p, "once");
    assert.ok(await c2.none("mutation", 100), "sent once per connection");
});

/** An IndexedDB adapter that can be frozen (a page that dies: nothing more is written). */
function freezable(key) {
    const idb = createIndexedDbPersistence({ dbName: "vireo-test", key });
    const a = { frozen: false, load: () => idb.load(), clear: () => idb.clear(),
                save: (s) => (a.frozen ? Promise.resolve() : idb.save(s)) };
    return a;
}

test("persistence: cache and offline queue survive a reload; cached results show before the socket; replayed once", async (t) => {
    const server = await startFakeServer();
    t.after(() => server.close());
    const key = `reload-${Math.random()}`;
    const opts = { WebSocket, backoff: { baseMs: 10, maxMs: 20 }, persistDelayMs: 10 };

    // page 1: a result arrives, then two mutations while offline; the page dies
    const a1 = freezable(key);
    const c1 = new VireoClient(server.url, { ...opts, persistence: a1 });
    assert.equal(server.conns.length, 0, "with persistence the socket waits for init()");
    await c1.init();
    const conn1 = await server.connection();
    const hello1 = await conn1.next("connect");
    conn1.send({ type: "connected", sessionId: hello1.sessionId, sessionSecret: "0123456789abcdef0123456789abcdef",
                 version: 0, protocolVersion: 1, resumed: false, serverVersion: "fake/0" });
    const q = await subscribed(c1, conn1, "items:list", {}, ["a"], 1);
    conn1.terminate();
    await waitFor(() => !c1.connectionState().isWebSocketConnected);
    const lost = [c1.mutation("items:add", { item: "b" }, { optimisticUpdate: addItem("b") }),
                  c1.mutation("items:add", { item: "c" })];
    assert.deepEqual(q.values.at(-1), ["a", "b"]);
    await c1.flushPersistence();
    a1.frozen = true;
    const conn1b = await server.connection(); // c1's reconnect (never answered), cut short by close()
    c1.close();
    await Promise.allSettled(lost);
    await conn1b.closedPromise;

    // page 2: the same store
    const results = [];
    const c2 = new VireoClient(server.url, { ...opts, persistence: freezable(key),
                                             onOfflineMutationResult: (r) => results.push(r) });
    t.after(() => c2.close());
    await c2.init();
    const values = [];
    c2.subscribe("items:list", {}, (v) => values.push(v));
    await tick();
    assert.deepEqual(values, [["a"]], "the cached result, before any connection");
    assert.equal(c2.hasServerResult("items:list", {}), false);
    assert.deepEqual(c2.getQueryResult("items:list", {}), ["a"]);
    assert.equal(c2.connectionState().offlineQueueLength, 2);

    const conn2 = await server.connection();
    const hello2 = await conn2.handshake();
    assert.equal(hello2.sessionId, hello1.sessionId, "the queue's session: its idempotency keys' scope");
    assert.equal(hello2.sessionSecret, "0123456789abcdef0123456789abcdef");
    assert.equal(hello2.lastVersion, undefined);
    const add = await conn2.next("modifyQuerySet");
    assert.equal(add.add[0].hash, undefined, "a cached result is not claimed as the server's");
    const r1 = await conn2.next("mutation");
    const r2 = await conn2.next("mutation");
    assert.deepEqual([r1.args.item, r2.args.item], ["b", "c"]);
    assert.notEqual(r1.idempotencyKey, r2.idempotencyKey);
    conn2.send({ type: "mutationResponse", requestId: r1.requestId, success: true, value: "id-b", version: 5 });
    conn2.send({ type: "mutationResponse", requestId: r2.requestId, success: false, errorMessage: "no c", errorCode: "FunctionFailed" });
    conn2.transition(0, 5, [{ type: "QueryUpdated", queryId: add.add[0].queryId, value: ["a", "b"], hash: "h5" }]);
    await waitFor(() => results.length === 2);
    assert.deepEqual(results.map((r) => [r.name, r.args.item, r.value, r.error?.message]),
                     [["items:add", "c", undefined, "no c"], ["items:add", "b", "id-b", undefined]]);
    assert.equal(c2.hasServerResult("items:list", {}), true);
    assert.deepEqual(values.at(-1), ["a", "b"]);
    await c2.flushPersistence();
    const saved = await createIndexedDbPersistence({ dbName: "vireo-test", key }).load();
    assert.equal(saved.mutations.length, 0, "nothing left to replay");
    assert.deepEqual(saved.queries.map((x) => x.value), [["a", "b"]]);
});

/** An in-memory adapter. */
function memory(state) {
    const m = { state, clears: 0, load: async () => m.state, save: async (s) => { m.state = structuredClone(s); },
                clear: async () => { m.clears++; m.state = undefined; } };
    return m;
}

const savedQuery = (path, value, savedAt) =>
    ({ key: QueryStore.makeKey(path, {}), path, args: {}, value, savedAt, ident: null });

test("maxCacheAge drops old results; a schemaVersion change clears the whole store", async (t) => {
    const server = await startFakeServer();
    t.after(() => server.close());
    const now = Date.now();
    const state = { format: 1, schemaVersion: "v1", savedAt: now, ident: null, sessionId: "s", sessionSecret: null,
        queries: [savedQuery("q:old", 1, now - 2 * 3600e3), savedQuery("q:new", 2, now - 60e3)],
        mutations: [{ path: "m:x", args: {}, idempotencyKey: "k1", ident: null }] };

    const m1 = memory(structuredClone(state));
    const c1 = new VireoClient(server.url, { WebSocket, persistence: m1, schemaVersion: "v1", maxCacheAge: 3600e3 });
    t.after(() => c1.close());
    await c1.init();
    assert.equal(c1.getQueryResult("q:old", {}), undefined, "older than maxCacheAge");
    assert.equal(c1.getQueryResult("q:new", {}), 2);
    assert.equal(c1.connectionState().offlineQueueLength, 1);
    assert.equal(m1.clears, 0);

    const m2 = memory(structuredClone(state));
    const c2 = new VireoClient(server.url, { WebSocket, persistence: m2, schemaVersion: "v2" });
    t.after(() => c2.close());
    await c2.init();
    assert.equal(m2.clears, 1);
    assert.equal(c2.getQueryResult("q:new", {}), undefined);
    assert.equal(c2.connectionState().offlineQueueLength, 0);
    // the default maxCacheAge is 7 days
    const m3 = memory({ ...structuredClone(state), schemaVersion: undefined,
        queries: [savedQuery("q:6d", 6, now - 6 * 86400e3), savedQuery("q:8d", 8, now - 8 * 86400e3)] });
    const c3 = new VireoClient(server.url, { WebSocket, persistence: m3 });
    t.after(() => c3.close());
    await c3.init();
    assert.equal(c3.getQueryResult("q:6d", {}), 6);
    assert.equal(c3.getQueryResult("q:8d", {}), undefined);
    assert.throws(() => new VireoClient(server.url, { WebSocket, persistence: { load() {} } }), /PersistenceAdapter/);
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (sub) => `${b64({ alg: "none" })}.${b64({ iss: "test", sub })}.sig`;

test("a change of identity drops the previous identity's offline queue and cached results", async (t) => {
    const server = await startFakeServer();
    t.after(() => server.close());
    const m = memory(undefined);
    const c = new VireoClient(server.url, { WebSocket, persistence: m, persistDelayMs: 5 });
    t.after(() => c.close());
    c.setAuthToken(jwt("ada"));
    await c.init();
    const conn = await server.connection();
    const hello = await conn.handshake();
    assert.equal(hello.token, jwt("ada"));
    await subscribed(c, conn, "me:notes", {}, ["ada's"], 1);
    conn.terminate();
    await waitFor(() => !c.connectionState().isWebSocketConnected);
    const queued = c.mutation("notes:add", { text: "by ada" });
    await c.flushPersistence();
    assert.equal(m.state.mutations.length, 1);
    assert.equal(m.state.queries.length, 1);
    assert.equal(m.state.ident, "test|ada");

    c.setAuthToken(jwt("bob"));
    await assert.rejects(queued, (e) => e instanceof ClientError && e.code === "AuthChanged");
    assert.equal(c.getQueryResult("me:notes", {}), undefined, "ada's result is not bob's");
    await c.flushPersistence();
    assert.equal(m.state.ident, "test|bob");
    assert.deepEqual(m.state.mutations, []);
    assert.deepEqual(m.state.queries, []);
});

test("a client without live queries settles a mutation on its answer (no transition comes), one with queries waits for it", async (t) => {
    const { server, client } = await setup(t);
    const conn = await server.connection();
    await conn.handshake();
    const p = client.mutation("items:add", { item: "x" });
    const m = await conn.next("mutation");
    // e.g. a replay the server had applied before: it answers with the first call's version and
    // sends no transition to a session that has nothing to report
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "done", version: 7 });
    assert.equal(await p, "done");

    const values = [];
    client.subscribe("items:list", {}, (v) => values.push(v));
    const add = await conn.next("modifyQuerySet");
    const p2 = client.mutation("items:add", { item: "y" });
    const m2 = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: m2.requestId, success: true, value: "later", version: 9 });
    let settled = false;
    p2.then(() => (settled = true));
    await sleep(30);
    assert.equal(settled, false, "with a live query: read-your-writes, the transition first");
    conn.transition(7, 9, [{ type: "QueryUpdated", queryId: add.add[0].queryId, value: ["y"], hash: "h9" }]);
    assert.equal(await p2, "later");
    assert.deepEqual(values, [["y"]]);
});
