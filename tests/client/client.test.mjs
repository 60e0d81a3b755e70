// VireoClient against a scripted fake server: handshake, live queries (dedupe, unsubscribe,
// atomic transitions, errors), read-your-writes mutations, actions, timeouts, close().

import test from "node:test";
import assert from "node:assert/strict";
import { VireoClient, ServerError, ClientError } from "../../clients/js/src/index.js";
import { startFakeServer, WebSocket, sleep, tick } from "./fake-server.mjs";

async function setup(t, options = {}) {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket, ...options });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const conn = await server.connection();
    return { server, client, conn };
}

/** Subscribes and answers the add with a value at `version`; returns the received values. */
async function subscribed(client, conn, path, args, value, version) {
    const values = [];
    const unsub = client.subscribe(path, args, (v) => values.push(v));
    const m = await conn.next("modifyQuerySet");
    const queryId = m.add[0].queryId;
    conn.transition(version - 1, version, [{ type: "QueryUpdated", queryId, value, hash: "h" + version }]);
    await waitFor(() => values.length === 1);
    return { values, unsub, queryId };
}

async function waitFor(pred, ms = 2000) {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error("waitFor timed out");
        await sleep(5);
    }
}

test("connect handshake: path, connect fields, states", async (t) => {
    const server = await startFakeServer();
    const states = [];
    const client = new VireoClient(server.url, { WebSocket, sessionId: "sess-1", clientVersion: "test/1" });
    t.after(async () => {
        client.close();
        await server.close();
    });
    client.onConnectionChange((s) => states.push(s));
    assert.equal(client.connectionState().state, "connecting");
    const conn = await server.connection();
    assert.equal(conn.path, "/api/sync");
    const c = await conn.handshake({ version: 7 });
    assert.deepEqual(c, { type: "connect", sessionId: "sess-1", clientVersion: "test/1", protocolVersion: 1 });
    await waitFor(() => client.connectionState().state === "connected");
    assert.deepEqual(states, ["connected"]);
    assert.equal(client.serverInfo.version, 7);
    assert.equal(client.version, null, "the applied version only moves with transitions");
});

test("default sessionId is a UUID; default clientVersion names vireo-js", async (t) => {
    const { conn } = await setup(t);
    const c = await conn.next("connect");
    assert.match(c.sessionId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(c.clientVersion, /^vireo-js\//);
    assert.equal(c.lastVersion, undefined);
});

test("subscribe sends one add and delivers values; queries made before connected wait for it", async (t) => {
    const { client, conn } = await setup(t);
    const values = [];
    client.subscribe("messages:list", { channel: "#general" }, (v) => values.push(v));
    await sleep(30);
    assert.equal(conn.received.filter((m) => m.type === "modifyQuerySet").length, 0,
                 "nothing but connect before connected");
    await conn.handshake();
    const m = await conn.next("modifyQuerySet");
    assert.deepEqual(m, { type: "modifyQuerySet", remove: [],
                          add: [{ queryId: 1, path: "messages:list", args: { channel: "#general" } }] });
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: 1, value: [{ body: "hi" }], hash: "a1" }]);
    await waitFor(() => values.length === 1);
    assert.deepEqual(values[0], [{ body: "hi" }]);
    assert.equal(client.version, 1);
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: 1, value: [{ body: "hi" }, { body: "yo" }], hash: "a2" }]);
    await waitFor(() => values.length === 2);
    assert.equal(values[1].length, 2);
    const key = VireoClient.makeKey("messages:list", { channel: "#general" });
    assert.deepEqual(client.getQueryResult(key), values[1]);
    assert.ok(client.hasServerResult(key));
});

test("identical subscriptions share one query; latest value delivered to a late subscriber", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const a = [];
    const b = [];
    const ua = client.subscribe("m:list", { x: 1, y: { z: 2, w: 3 } }, (v) => a.push(v));
    const m = await conn.next("modifyQuerySet");
    assert.equal(m.add.length, 1);
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: m.add[0].queryId, value: "v1", hash: "h" }]);
    await waitFor(() => a.length === 1);
    const ub = client.subscribe({ _name: "m:list" }, { y: { w: 3, z: 2 }, x: 1 }, (v) => b.push(v));
    await tick();
    assert.deepEqual(b, ["v1"], "cached value delivered at once");
    assert.ok(await conn.none("modifyQuerySet", 50), "no second add for the same query");
    ua();
    assert.ok(await conn.none("modifyQuerySet", 50), "still one subscriber: no remove");
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: m.add[0].queryId, value: "v2", hash: "h2" }]);
    await waitFor(() => b.length === 2);
    assert.deepEqual(a, ["v1"], "unsubscribed callback not called");
    ub();
    ub(); // idempotent
    const r = await conn.next("modifyQuerySet");
    assert.deepEqual(r, { type: "modifyQuerySet", add: [], remove: [m.add[0].queryId] });
    // A new subscription after removal gets a fresh queryId.
    client.subscribe("m:list", { x: 1, y: { z: 2, w: 3 } }, () => {});
    const again = await conn.next("modifyQuerySet");
    assert.notEqual(again.add[0].queryId, m.add[0].queryId);
});

test("subscribe+unsubscribe within a tick sends nothing; unsubscribe+resubscribe keeps the query", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    client.subscribe("m:a", {}, () => {})();
    assert.ok(await conn.none("modifyQuerySet", 50));
    const got = [];
    const { queryId, unsub } = await subscribed(client, conn, "m:b", {}, 42, 1);
    unsub();
    client.subscribe("m:b", {}, (v) => got.push(v));
    await tick();
    assert.deepEqual(got, [42]);
    assert.ok(await conn.none("modifyQuerySet", 50), "no remove/add churn");
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: 43, hash: "x" }]);
    await waitFor(() => got.length === 2);
});

test("a transition is applied atomically: callbacks see every query at the new version", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const seen = [];
    const kA = VireoClient.makeKey("m:a", {});
    const kB = VireoClient.makeKey("m:b", {});
    const check = (who) => () => seen.push([who, client.getQueryResult(kA), client.getQueryResult(kB), client.version]);
    client.subscribe("m:a", {}, check("a"));
    client.subscribe("m:b", {}, check("b"));
    const m = await conn.next("modifyQuerySet");
    assert.equal(m.add.length, 2, "both adds batched in one modifyQuerySet");
    const [qa, qb] = m.add.map((x) => x.queryId);
    conn.transition(0, 5, [
        { type: "QueryUpdated", queryId: qa, value: "a5", hash: "1" },
        { type: "QueryUpdated", queryId: qb, value: "b5", hash: "2" },
    ]);
    await waitFor(() => seen.length === 2);
    assert.deepEqual(seen, [["a", "a5", "b5", 5], ["b", "a5", "b5", 5]]);
    // unchanged queries are not called; each affected callback once per transition
    seen.length = 0;
    conn.transition(5, 6, [
        { type: "QueryUpdated", queryId: qb, value: "b6", hash: "3" },
        { type: "QueryUnchanged", queryId: qa },
        { type: "QueryUpdated", queryId: 999, value: "nobody", hash: "4" },
    ]);
    await waitFor(() => seen.length === 1);
    await sleep(20);
    assert.deepEqual(seen, [["b", "a5", "b6", 6]]);
});

test("watchQuery listeners fire on change; getQueryResult reads the store", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const key = VireoClient.makeKey("m:w", { a: 1 });
    let calls = 0;
    const unwatch = client.watchQuery(key, () => calls++);
    assert.equal(client.getQueryResult(key), undefined);
    assert.equal(client.hasServerResult(key), false);
    const { queryId } = await subscribed(client, conn, "m:w", { a: 1 }, "x", 1);
    assert.equal(calls, 1);
    assert.equal(client.getQueryResult(key), "x");
    unwatch();
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: "y", hash: "2" }]);
    await waitFor(() => client.getQueryResult(key) === "y");
    assert.equal(calls, 1);
});

test("QueryFailed and query-scoped error frames go to onError (console.error without one)", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const errors = [];
    const values = [];
    client.subscribe("m:bad", { c: 1 }, (v) => values.push(v), (e) => errors.push(e));
    const m = await conn.next("modifyQuerySet");
    const queryId = m.add[0].queryId;
    conn.transition(0, 1, [{ type: "QueryFailed", queryId, errorMessage: "argument `c`: expected string, got number",
                              errorCode: "ArgumentValidationError" }]);
    await waitFor(() => errors.length === 1);
    assert.ok(errors[0] instanceof ServerError);
    assert.equal(errors[0].code, "ArgumentValidationError");
    assert.match(errors[0].message, /expected string/);
    const key = VireoClient.makeKey("m:bad", { c: 1 });
    assert.equal(client.getQueryError(key), errors[0]);
    // a late subscriber also gets the error; one without onError logs it
    const logged = [];
    t.mock.method(console, "error", (...a) => logged.push(a));
    client.subscribe("m:bad", { c: 1 }, () => {});
    await tick();
    assert.equal(logged.length, 1);
    // recovery
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: "ok", hash: "h" }]);
    await waitFor(() => values.length === 1);
    assert.equal(client.getQueryError(key), null);
    // an `error` frame naming the query
    conn.send({ type: "error", code: "InvalidMessage", message: "bad args", queryId, fatal: false });
    await waitFor(() => errors.length === 2);
    assert.equal(errors[1].code, "InvalidMessage");
});

test("query() resolves with the first result and unsubscribes", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const p = client.query("m:one", { n: 1n });
    const m = await conn.next("modifyQuerySet");
    assert.deepEqual(m.add[0].args, { n: { $integer: "AQAAAAAAAAA=" } }, "args encoded on the wire");
    conn.send(JSON.stringify({ type: "transition", startVersion: 0, endVersion: 1, modifications: [
        { type: "QueryUpdated", queryId: m.add[0].queryId, value: { big: { $integer: "AgAAAAAAAAA=" },
                                                                    inf: { $float: "AAAAAAAA8H8=" } }, hash: "h" }] }));
    assert.deepEqual(await p, { big: 2n, inf: Infinity });
    const r = await conn.next("modifyQuerySet");
    assert.deepEqual(r.remove, [m.add[0].queryId]);
    // a failing one-shot query rejects
    const p2 = client.query("m:two", {});
    const m2 = await conn.next("modifyQuerySet");
    conn.transition(1, 2, [{ type: "QueryFailed", queryId: m2.add[0].queryId, errorMessage: "boom", errorCode: "FunctionFailed" }]);
    await assert.rejects(p2, (e) => e instanceof ServerError && e.code === "FunctionFailed");
});

test("mutation resolves once its version is applied: transition before the response", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const { values, queryId } = await subscribed(client, conn, "m:list", {}, [], 1);
    const p = client.mutation("m:send", { body: "hi" });
    const mu = await conn.next("mutation");
    assert.equal(mu.path, "m:send");
    assert.deepEqual(mu.args, { body: "hi" });
    assert.equal(typeof mu.requestId, "number");
    assert.equal(typeof mu.idempotencyKey, "string");
    assert.ok(mu.idempotencyKey.length > 0 && mu.idempotencyKey.length <= 200);
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: ["hi"], hash: "h2" }]);
    conn.send({ type: "mutationResponse", requestId: mu.requestId, success: true, value: "id1", version: 2 });
    assert.equal(await p, "id1");
    assert.deepEqual(values.at(-1), ["hi"]);
});

test("mutation resolves once its version is applied: response before the transition", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const order = [];
    const { queryId } = await subscribed(client, conn, "m:list", {}, [], 1);
    client.subscribe("m:list", {}, (v) => order.push(["callback", v]));
    await tick();
    order.length = 0;
    const p = client.mutation("m:send", {}).then((v) => order.push(["resolved", v]));
    const mu = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: mu.requestId, success: true, value: 7, version: 3 });
    await sleep(50);
    assert.deepEqual(order, [], "not resolved before the version is applied");
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: ["other"], hash: "h2" }]);
    await sleep(30);
    assert.deepEqual(order, [["callback", ["other"]]], "version 2 < 3: still waiting");
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId, value: ["mine"], hash: "h3" }]);
    await p;
    assert.deepEqual(order, [["callback", ["other"]], ["callback", ["mine"]], ["resolved", 7]]);
});

test("mutation failure rejects with the server's error; mutations are sent in order", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const p1 = client.mutation("m:a", { i: 1 });
    const p2 = client.mutation("m:b", { i: 2 });
    const p3 = client.mutation("m:c", { i: 3 });
    const m1 = await conn.next("mutation");
    const m2 = await conn.next("mutation");
    const m3 = await conn.next("mutation");
    assert.deepEqual([m1.path, m2.path, m3.path], ["m:a", "m:b", "m:c"]);
    assert.equal(new Set([m1.idempotencyKey, m2.idempotencyKey, m3.idempotencyKey]).size, 3);
    conn.send({ type: "mutationResponse", requestId: m1.requestId, success: false,
                errorMessage: "nope", errorCode: "VireoError", errorData: { n: { $integer: "BQAAAAAAAAA=" } } });
    await assert.rejects(p1, (e) => e instanceof ServerError && e.code === "VireoError" &&
                                   e.message === "nope" && e.data.n === 5n);
    conn.send({ type: "error", code: "InvalidMessage", message: "field `args`", requestId: m2.requestId, fatal: false });
    await assert.rejects(p2, (e) => e.code === "InvalidMessage");
    conn.transition(0, 4, []);
    conn.send({ type: "mutationResponse", requestId: m3.requestId, success: true, value: null, version: 4 });
    assert.equal(await p3, null);
});

test("action resolves with its value (no version wait)", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const p = client.action("ai:summarize", { channel: "#g" });
    const a = await conn.next("action");
    assert.equal(a.idempotencyKey, undefined);
    assert.equal(a.path, "ai:summarize");
    conn.send({ type: "actionResponse", requestId: a.requestId, success: true, value: { b: { $bytes: "AQI=" } } });
    const v = await p;
    assert.deepEqual([...new Uint8Array(v.b)], [1, 2]);
    const p2 = client.action("ai:fail", {});
    const a2 = await conn.next("action");
    conn.send({ type: "actionResponse", requestId: a2.requestId, success: false, errorMessage: "x", errorCode: "FunctionFailed" });
    await assert.rejects(p2, ServerError);
});

test("request timeout rejects a mutation and an action without a response", async (t) => {
    const { client, conn } = await setup(t, { requestTimeoutMs: 100 });
    await conn.handshake();
    const t0 = Date.now();
    const pm = client.mutation("m:slow", {});
    const pa = client.action("a:slow", {});
    // (a mutation's clock starts when it is sent, an action's at the call: either may go first)
    const ra = assert.rejects(pa, /request timed out after 100 ms/);
    await assert.rejects(pm, (e) => e instanceof ClientError && e.code === "RequestTimeout" &&
                                   e.message === "request timed out after 100 ms");
    await ra;
    assert.ok(Date.now() - t0 >= 95);
    // a late response is ignored
    const m = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 1, version: 1 });
    await sleep(20);
});

test("bad arguments reject without sending", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    await assert.rejects(client.mutation("m:x", { d: new Date() }), /Date/);
    await assert.rejects(client.mutation("m:x", [1]), /plain object/);
    await assert.rejects(client.action({}, {}), /function reference/);
    assert.throws(() => client.subscribe("m:x", { f: () => 1 }, () => {}), /function/);
    assert.ok(await conn.none("mutation", 50));
});

test("close(): rejects pending requests and queries, disconnects, never reconnects", async (t) => {
    const server = await startFakeServer();
    t.after(() => server.close());
    const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 5 } });
    const conn = await server.connection();
    await conn.handshake();
    await waitFor(() => client.connectionState().state === "connected");
    const states = [];
    client.onConnectionChange((s) => states.push(s));
    const pm = client.mutation("m:x", {});
    const pa = client.action("a:x", {});
    const pq = client.query("q:x", {});
    await conn.next("mutation");
    client.close();
    for (const p of [pm, pa, pq])
        await assert.rejects(p, (e) => e instanceof ClientError && e.code === "ClientClosed");
    assert.equal(client.connectionState().state, "disconnected");
    assert.deepEqual(states, ["disconnected"]);
    await conn.closedPromise;
    await assert.rejects(server.connection(200), /no connection/);
    await assert.rejects(client.mutation("m:y", {}), /closed/);
    assert.throws(() => client.subscribe("q:y", {}, () => {}), /closed/);
    client.close(); // idempotent
});

test("a throwing callback does not break other subscribers", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    t.mock.method(console, "error", () => {});
    const got = [];
    client.subscribe("m:t", {}, () => {
        throw new Error("user bug");
    });
    client.subscribe("m:t", {}, (v) => got.push(v));
    const m = await conn.next("modifyQuerySet");
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: m.add[0].queryId, value: 1, hash: "h" }]);
    await waitFor(() => got.length === 1);
});

test("a modifyQuerySet refused with RateLimited is re-sent after retryAfterMs: no query fails, a remove is not lost", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    await waitFor(() => client.connectionState().state === "connected");
    const values = {};
    const errors = [];
    for (const n of [1, 2, 3]) client.subscribe("q:n", { n }, (v) => (values[n] = v), (e) => errors.push(e));
    const m1 = await conn.next("modifyQuerySet");
    assert.equal(m1.add.length, 3);
    // vireo refuses the whole message, naming its first queryId
    const t0 = Date.now();
    conn.send({ type: "error", code: "RateLimited", message: "slow down", fatal: false,
                queryId: m1.add[0].queryId, retryAfterMs: 120 });
    const m2 = await conn.next("modifyQuerySet");
    assert.ok(Date.now() - t0 >= 100, "re-sent after retryAfterMs");
    assert.deepEqual(m2.add.map((a) => [a.queryId, a.args]), m1.add.map((a) => [a.queryId, a.args]));
    conn.transition(0, 1, m2.add.map((a) => ({ type: "QueryUpdated", queryId: a.queryId, value: a.args.n * 10, hash: "h" })));
    await waitFor(() => Object.keys(values).length === 3);
    assert.deepEqual(values, { 1: 10, 2: 20, 3: 30 });
    assert.deepEqual(errors, [], "RateLimited is not a query error");
    // a remove-only message refused (the error names no id): the remove is re-sent
    const unsub = client.subscribe("q:r", {}, () => {});
    const m3 = await conn.next("modifyQuerySet");
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: m3.add[0].queryId, value: 0, hash: "r" }]);
    await sleep(20);
    unsub();
    const m4 = await conn.next("modifyQuerySet");
    assert.deepEqual(m4, { type: "modifyQuerySet", add: [], remove: [m3.add[0].queryId] });
    conn.send({ type: "error", code: "RateLimited", message: "slow down", fatal: false, retryAfterMs: 50 });
    const m5 = await conn.next("modifyQuerySet");
    assert.deepEqual(m5.remove, [m3.add[0].queryId]);
    conn.transition(2, 3, [{ type: "QueryRemoved", queryId: m3.add[0].queryId }]);
    assert.ok(await conn.none("modifyQuerySet", 150), "acknowledged: nothing more");
});

test("a malformed transition applies nothing and makes the client reconnect; so do a version gap and bad chunks", async (t) => {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 10, maxMs: 20 } });
    t.after(async () => {
        client.close();
        await server.close();
    });
    t.mock.method(console, "warn", () => {});
    t.mock.method(console, "error", () => {});
    let conn = await server.connection();
    await conn.handshake();
    const a = [];
    const b = [];
    client.subscribe("q:a", {}, (v) => a.push(v));
    client.subscribe("q:b", {}, (v) => b.push(v));
    const add = await conn.next("modifyQuerySet");
    const [qa, qb] = add.add.map((x) => x.queryId);
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: qa, value: "a1", hash: "a1" },
                           { type: "QueryUpdated", queryId: qb, value: "b1", hash: "b1" }]);
    await waitFor(() => a.length === 1 && b.length === 1);
    const bad = [
        // the second modification does not decode: the first must not apply either
        () => conn.transition(1, 2, [{ type: "QueryUpdated", queryId: qa, value: "a2", hash: "a2" },
                                     { type: "QueryUpdated", queryId: qb, value: { $integer: "AAAA" }, hash: "b2" }]),
        () => conn.transition(1, 2, [{ type: "QueryUpdated", queryId: qa, value: "a2", hash: "a2" }, null]),
        () => conn.transition(100, 3, [{ type: "QueryUpdated", queryId: qa, value: "a2", hash: "a2" }]),
        () => conn.transition(5, 6, [{ type: "QueryUpdated", queryId: qa, value: "a2", hash: "a2" }]), // a gap
        () => {
            conn.send({ type: "transitionChunk", transitionId: "1", partNumber: 0, totalParts: 2, chunk: "{\"type\":\"trans" });
            conn.send({ type: "transitionChunk", transitionId: "1", partNumber: 1, totalParts: 2, chunk: "ition\",oops" });
        },
    ];
    for (const send of bad) {
        send();
        const next = await server.connection();
        const hello = await next.next("connect");
        assert.equal(hello.lastVersion, 1, "the client stays at the version it holds");
        assert.deepEqual([a, b], [["a1"], ["b1"]], "nothing of the bad transition applied");
        assert.equal(client.getQueryResult("q:a", {}), "a1");
        conn = next;
        conn.send({ type: "connected", sessionId: hello.sessionId, version: 1, protocolVersion: 1, resumed: true });
        await conn.next("modifyQuerySet");
    }
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: qa, value: "a2", hash: "a2" }]);
    await waitFor(() => a.length === 2);
    assert.deepEqual(a, ["a1", "a2"]);
});
