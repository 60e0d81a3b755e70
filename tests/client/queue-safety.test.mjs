// The offline queue's safety rules against the scripted fake server (fake-server.mjs): a mutation
// whose outcome is in doubt (sent on some socket, or restored from a store that says it may have
// been) is never replayed outside its session (its idempotency key's scope), is never evicted
// by maxOfflineQueue, and the store learns that it was sent (and the session's current secret)
// before it goes out; a damaged persisted store loses only what is damaged.
// tests/client/queue-safety-live.test.mjs runs the same rules against a real vireo.

import "fake-indexeddb/auto";
import test from "node:test";
import assert from "node:assert/strict";
import { VireoClient, ClientError, createIndexedDbPersistence } from "../../clients/js/src/index.js";
import { startFakeServer, WebSocket, sleep } from "./fake-server.mjs";

async function waitFor(pred, ms = 3000, what = "condition") {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error(`waitFor timed out: ${what}`);
        await sleep(5);
    }
}

/** An in-memory PersistenceAdapter; `saves` are the states written, in order. */
function memory(state) {
    const m = {
        state, saves: [],
        load: async () => structuredClone(m.state),
        save: async (s) => {
            m.state = structuredClone(s);
            m.saves.push(m.state);
        },
        clear: async () => { m.state = undefined; },
    };
    return m;
}

const opts = { WebSocket, backoff: { baseMs: 10, maxMs: 20 }, random: () => 0.5, persistDelayMs: 10 };
const queued = (path, args, key, extra = {}) =>
    ({ path, args, idempotencyKey: key, ident: null, createdAt: Date.now(), ...extra });
const stateWith = (mutations, extra = {}) => ({
    format: 1, schemaVersion: null, savedAt: Date.now(), ident: null, queries: [], mutations,
    sessionId: "sess-old", sessionSecret: "secret-old", ...extra,
});

test("SessionIdInUse: restored mutations that may have run are reported OutcomeUnknown, never-sent ones go to the new session", async (t) => {
    const server = await startFakeServer();
    const results = [];
    const store = memory(stateWith([
        queued("m:a", { n: 1 }, "key-1", { sent: true }), // went out before the page died
        queued("m:a", { n: 2 }, "key-2"), // an older client's record: no flag, may have been sent
        queued("m:a", { n: 3 }, "key-3", { sent: false }), // called offline, never sent
    ]));
    const client = new VireoClient(server.url, { ...opts, persistence: store,
                                                 onOfflineMutationResult: (r) => results.push(r) });
    t.after(async () => {
        client.close();
        await server.close();
    });
    await client.init();
    const conn = await server.connection();
    const c1 = await conn.next("connect");
    assert.equal(c1.sessionId, "sess-old");
    assert.equal(c1.sessionSecret, "secret-old");
    conn.send({ type: "error", code: "SessionIdInUse", message: "held by another connection", fatal: true });
    await waitFor(() => results.length === 2, 3000, "the two in-doubt mutations reported");
    for (const [r, key] of [[results[0], "key-1"], [results[1], "key-2"]]) {
        assert.equal(r.idempotencyKey, key);
        assert.ok(r.error instanceof ClientError);
        assert.equal(r.error.code, "OutcomeUnknown");
        assert.match(r.error.message, /may already have run in session sess-old.*it was not sent again/);
    }
    const conn2 = await server.connection();
    const c2 = await conn2.handshake();
    assert.notEqual(c2.sessionId, "sess-old");
    const m = await conn2.next("mutation");
    assert.equal(m.idempotencyKey, "key-3", "only the mutation that was never sent runs in the new session");
    assert.ok(await conn2.none("mutation", 150));
    conn2.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "v3", version: 1 });
    await waitFor(() => results.length === 3);
    assert.equal(results[2].value, "v3");
    assert.equal(client.pendingMutations().length, 0);
});

test("SessionIdInUse: a mutation sent on a socket that dropped rejects OutcomeUnknown; one called offline is sent", async (t) => {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, opts);
    t.after(async () => {
        client.close();
        await server.close();
    });
    const conn = await server.connection();
    await conn.handshake();
    const sent = client.mutation("m:a", { n: 1 });
    await conn.next("mutation");
    conn.terminate();
    await waitFor(() => client.connectionState().state !== "connected");
    const offline = client.mutation("m:a", { n: 2 });
    const conn2 = await server.connection();
    await conn2.next("connect");
    conn2.send({ type: "error", code: "SessionIdInUse", message: "no", fatal: true });
    await assert.rejects(sent, (e) => e instanceof ClientError && e.code === "OutcomeUnknown");
    const conn3 = await server.connection();
    await conn3.handshake();
    const m = await conn3.next("mutation");
    assert.deepEqual(m.args, { n: 2 });
    assert.ok(await conn3.none("mutation", 100));
    conn3.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 2 });
    assert.equal(await offline, 2);
});

test("a mutation queued offline is saved as sent, with the session's new secret, before it goes out", async (t) => {
    const server = await startFakeServer();
    const store = memory(undefined);
    let hold = null; // while set, saves wait for it
    const gated = { ...store, save: async (s) => {
        if (hold) await hold;
        return store.save(s);
    } };
    const client = new VireoClient(server.url, { ...opts, persistence: gated });
    t.after(async () => {
        client.close();
        await server.close();
    });
    await client.init();
    const conn = await server.connection();
    const c = await conn.next("connect");
    conn.send({ type: "connected", sessionId: c.sessionId, sessionSecret: "secret-1", version: 0, protocolVersion: 1 });
    await waitFor(() => client.connectionState().state === "connected");
    conn.terminate();
    await waitFor(() => client.connectionState().state !== "connected");
    const p = client.mutation("m:a", { n: 1 });
    await client.flushPersistence();
    assert.deepEqual(store.state.mutations.map((m) => m.sent), [false]);
    assert.equal(store.state.sessionSecret, "secret-1");
    let open;
    hold = new Promise((r) => (open = r));
    // the server started the session afresh: a new secret
    const conn2 = await server.connection();
    const c2 = await conn2.next("connect");
    conn2.send({ type: "connected", sessionId: c2.sessionId, sessionSecret: "secret-2", version: 0, protocolVersion: 1 });
    assert.ok(await conn2.none("mutation", 150), "not sent while the store still says it never was");
    hold = null;
    open();
    const m = await conn2.next("mutation");
    assert.equal(store.state.sessionSecret, "secret-2", "the new secret was written first");
    assert.deepEqual(store.state.mutations.map((x) => [x.idempotencyKey, x.sent]), [[m.idempotencyKey, true]]);
    conn2.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 1 });
    assert.equal(await p, 1);
});

test("maxOfflineQueue evicts only mutations never sent; in-doubt ones are kept and replayed with their keys", async (t) => {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { ...opts, maxOfflineQueue: 2 });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const conn = await server.connection();
    await conn.handshake();
    await waitFor(() => client.connectionState().state === "connected");
    const inFlight = [1, 2, 3].map((n) => client.mutation("m:a", { n }));
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await conn.next("mutation"));
    conn.terminate(); // their answers are lost: they may have committed
    await waitFor(() => client.connectionState().state !== "connected");
    assert.equal(client.connectionState().offlineQueueLength, 3);
    const extra = client.mutation("m:a", { n: 4 });
    await assert.rejects(extra, (e) => e instanceof ClientError && e.code === "OFFLINE_QUEUE_OVERFLOW" &&
        /without being sent/.test(e.message) && !/may have/.test(e.message));
    const conn2 = await server.connection();
    await conn2.handshake();
    const replayed = [];
    for (let i = 0; i < 3; i++) replayed.push(await conn2.next("mutation"));
    assert.deepEqual(replayed.map((m) => m.idempotencyKey), sent.map((m) => m.idempotencyKey));
    for (const m of replayed) conn2.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: m.args.n });
    assert.deepEqual(await Promise.all(inFlight), [1, 2, 3]);
});

/** Writes records straight into the built-in adapter's IndexedDB store (a page's last save). */
async function putRecords(dbName, records) {
    const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open(dbName, 1);
        r.onupgradeneeded = () => r.result.createObjectStore("state");
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
    await new Promise((resolve) => {
        const tx = db.transaction("state", "readwrite");
        for (const [k, v] of Object.entries(records)) tx.objectStore("state").put(v, k);
        tx.oncomplete = resolve;
    });
    db.close();
}

test("a damaged persisted store: a bad cache entry is dropped alone, the queue is restored, a mutation with bad args is reported", async (t) => {
    const server = await startFakeServer();
    const dbName = `damaged-${Math.random()}`;
    const key = "k";
    const now = Date.now();
    const entry = (path, value) => ({ key: VireoClient.makeKey(path, {}), path, args: {}, savedAt: now, ident: null, value });
    await putRecords(dbName, {
        [key]: { format: 1, schemaVersion: null, savedAt: now, ident: null,
                 queries: [entry("q:bad", { $integer: "AAAA" }), entry("q:good", [1, 2])] },
        [`${key}#queue#sess-1`]: { format: 1, schemaVersion: null, savedAt: now, ident: null, sessionId: "sess-1",
                                   sessionSecret: null, mutations: [
                                       queued("m:bad", { n: { $integer: "AAAA" } }, "key-bad", { sent: false }),
                                       queued("m:good", { n: 1 }, "key-good", { sent: false })] },
    });
    const warnings = [];
    const warn = console.warn;
    console.warn = (...a) => warnings.push(a.join(" "));
    t.after(() => (console.warn = warn));
    const results = [];
    const client = new VireoClient(server.url, {
        ...opts, onOfflineMutationResult: (r) => results.push(r),
        persistence: createIndexedDbPersistence({ dbName, key, locks: null, sessionStorage: null }),
    });
    t.after(async () => {
        client.close();
        await server.close();
    });
    await client.init();
    assert.deepEqual(client.getQueryResult("q:good", {}), [1, 2], "the good cached result is kept");
    assert.equal(client.getQueryResult("q:bad", {}), undefined);
    assert.ok(warnings.some((w) => /dropped the persisted result of q:bad/.test(w)), warnings.join("\n"));
    assert.deepEqual(client.pendingMutations().map((m) => [m.name, m.args]), [["m:good", { n: 1 }]]);
    assert.equal(results.length, 1);
    assert.equal(results[0].name, "m:bad");
    assert.equal(results[0].error.code, "PersistedMutationUnreadable");
    const conn = await server.connection();
    const c = await conn.handshake();
    assert.equal(c.sessionId, "sess-1", "the queue's session");
    const m = await conn.next("mutation");
    assert.equal(m.idempotencyKey, "key-good");
    assert.ok(await conn.none("mutation", 100));
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "ok" });
    await waitFor(() => results.length === 2);
    assert.equal(results[1].value, "ok");
});
