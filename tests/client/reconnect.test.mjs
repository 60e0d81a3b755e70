// VireoClient across connection loss, against the scripted fake server: backoff, resume with
// lastVersion and hashes, idempotent mutation replay, actions rejected on drop, heartbeat-dead
// detection, server error frames (retryAfterMs, fatal), giving up after maxAttempts.

import test from "node:test";
import assert from "node:assert/strict";
import { VireoClient, ClientError, ServerError } from "../../clients/js/src/index.js";
import { startFakeServer, WebSocket, sleep } from "./fake-server.mjs";

async function waitFor(pred, ms = 3000) {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error("waitFor timed out");
        await sleep(5);
    }
}

async function setup(t, options = {}) {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 20, maxMs: 100 }, ...options });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const conn = await server.connection();
    return { server, client, conn };
}

test("reconnect: same sessionId and lastVersion, queries re-added with hashes, then mutations replayed", async (t) => {
    const { server, client, conn } = await setup(t);
    const states = [];
    client.onConnectionChange((s, e) => states.push([s, e?.code]));
    const first = await conn.handshake();
    const values = [];
    client.subscribe("m:list", { c: "#g" }, (v) => values.push(v));
    client.subscribe("m:count", {}, () => {});
    const gone = client.subscribe("m:gone", {}, () => {});
    const add = await conn.next("modifyQuerySet");
    const [q1, q2] = add.add.map((a) => a.queryId);
    conn.transition(0, 10, [{ type: "QueryUpdated", queryId: q1, value: ["a"], hash: "hash-1" },
                            { type: "QueryUpdated", queryId: q2, value: 1, hash: "hash-2" }]);
    await waitFor(() => values.length === 1);
    const pm = client.mutation("m:send", { body: "x" });
    const sent = await conn.next("mutation");

    await conn.close(1001, "going away"); // drop before the response
    await waitFor(() => client.connectionState().state === "disconnected");
    gone(); // unsubscribed while offline: not re-added
    const pm2 = client.mutation("m:send", { body: "queued while offline" });

    const conn2 = await server.connection();
    const c2 = await conn2.next("connect");
    assert.equal(c2.sessionId, first.sessionId);
    assert.equal(c2.lastVersion, 10);
    assert.equal(c2.protocolVersion, 1);
    assert.ok(await conn2.none("modifyQuerySet", 50), "nothing but connect before `connected`");
    conn2.send({ type: "connected", sessionId: c2.sessionId, version: 11, protocolVersion: 1, resumed: true });
    const order = [];
    for (let i = 0; i < 3; i++) order.push(await conn2.next());
    assert.deepEqual(order.map((m) => m.type), ["modifyQuerySet", "mutation", "mutation"]);
    const re = order[0];
    assert.deepEqual(re.remove, []);
    assert.deepEqual(re.add, [
        { queryId: q1, path: "m:list", args: { c: "#g" }, hash: "hash-1" },
        { queryId: q2, path: "m:count", args: {}, hash: "hash-2" },
    ]);
    assert.equal(order[1].requestId, sent.requestId);
    assert.equal(order[1].idempotencyKey, sent.idempotencyKey, "same key: applied once");
    assert.deepEqual(order[1].args, { body: "x" });
    assert.deepEqual(order[2].args, { body: "queued while offline" });
    assert.notEqual(order[2].idempotencyKey, sent.idempotencyKey);

    conn2.transition(10, 11, [{ type: "QueryUnchanged", queryId: q1 },
                              { type: "QueryUpdated", queryId: q2, value: 2, hash: "hash-3" }]);
    conn2.send({ type: "mutationResponse", requestId: sent.requestId, success: true, value: "first", version: 11 });
    conn2.send({ type: "mutationResponse", requestId: order[2].requestId, success: true, value: "second", version: 11 });
    assert.equal(await pm, "first");
    assert.equal(await pm2, "second");
    assert.deepEqual(values, [["a"]], "QueryUnchanged keeps the value and calls nobody");
    assert.deepEqual(states.map((s) => s[0]), ["connected", "disconnected", "connecting", "connected"]);
    assert.equal(states[1][1], "ConnectionLost");
    assert.equal(client._conn.attempt, 0, "backoff reset by the first transition after the connect");
});

test("a mutation answered before the drop is not replayed; DuplicateQueryId on resume is ignored", async (t) => {
    const { server, client, conn } = await setup(t);
    await conn.handshake();
    const errors = [];
    const values = [];
    client.subscribe("m:q", {}, (v) => values.push(v), (e) => errors.push(e));
    const add = await conn.next("modifyQuerySet");
    const qid = add.add[0].queryId;
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: qid, value: 1, hash: "h" }]);
    const pm = client.mutation("m:x", {});
    const mu = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: mu.requestId, success: true, value: "v", version: 2 });
    await sleep(20);
    conn.terminate();
    const conn2 = await server.connection();
    await conn2.handshake({ version: 2, resumed: true });
    await conn2.next("modifyQuerySet");
    assert.ok(await conn2.none("mutation", 60), "answered mutations are not re-sent");
    conn2.send({ type: "error", code: "DuplicateQueryId", message: "queryId in use", queryId: qid, fatal: false });
    conn2.transition(1, 2, [{ type: "QueryUpdated", queryId: qid, value: 2, hash: "h2" }]);
    assert.equal(await pm, "v");
    assert.deepEqual(values, [1, 2]);
    assert.deepEqual(errors, []);
});

test("an action in flight is rejected when the connection drops; a queued one is sent after reconnect", async (t) => {
    const { server, client, conn } = await setup(t);
    await conn.handshake();
    const pa = client.action("ai:run", {});
    await conn.next("action");
    conn.terminate();
    await assert.rejects(pa, (e) => e instanceof ClientError && e.code === "ConnectionLost" &&
                                   /not idempotent/.test(e.message));
    const pb = client.action("ai:later", { n: 1 });
    const conn2 = await server.connection();
    await conn2.handshake();
    const a = await conn2.next("action");
    assert.equal(a.path, "ai:later");
    conn2.send({ type: "actionResponse", requestId: a.requestId, success: true, value: 5 });
    assert.equal(await pb, 5);
    assert.ok(await conn2.none("action", 50), "the dropped action is never re-sent");
});

// The intervals leave a loaded CI machine's event loop room: a stall longer than two intervals
// (120 ms and 80 ms before) made the client give up on a server that was answering.
test("heartbeat: pings every interval; silence for 2 intervals closes and reconnects", async (t) => {
    const { server, client, conn } = await setup(t, { heartbeatIntervalMs: 200 });
    await conn.handshake();
    await conn.next("ping", 1500);
    conn.send({ type: "pong" });
    await conn.next("ping", 1500);
    const t0 = Date.now();
    // the server now stays silent
    const closed = await conn.closedPromise;
    const silentFor = Date.now() - t0;
    assert.ok(silentFor < 1300, `dead connection noticed in ${silentFor} ms`);
    assert.equal(closed.code, 4000, "not 1000: that would end the session on the server");
    assert.equal(client.lastError?.code, "ConnectionLost");
    assert.match(client.lastError.message, /no message from the server for 400 ms/);
    const conn2 = await server.connection();
    await conn2.handshake();
    await waitFor(() => client.connectionState().state === "connected");
});

test("heartbeat: a server that keeps talking is never considered dead", async (t) => {
    const { server, client, conn } = await setup(t, { heartbeatIntervalMs: 150 });
    await conn.handshake();
    const end = Date.now() + 1000;
    while (Date.now() < end) {
        await conn.next("ping", 1500);
        conn.send({ type: "pong" });
    }
    assert.equal(conn.closed, false);
    assert.equal(client.connectionState().state, "connected");
    assert.equal(server.conns.length, 1);
});

test("fatal error with retryAfterMs: the client drops and waits that long, not the backoff", async (t) => {
    const { server, client, conn } = await setup(t, { backoff: { baseMs: 60000, maxMs: 60000 } });
    await conn.next("connect");
    const t0 = Date.now();
    conn.send({ type: "error", code: "ServerOverloaded", message: "busy", fatal: true, retryAfterMs: 150 });
    await conn.closedPromise;
    assert.equal(client.connectionState().state, "disconnected");
    assert.equal(client.lastError.code, "ServerOverloaded");
    assert.ok(client.lastError instanceof ServerError);
    const conn2 = await server.connection(2000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 140 && waited < 1500, `reconnected after ${waited} ms`);
    await conn2.handshake();
    await waitFor(() => client.connectionState().state === "connected");
});

test("non-fatal error with retryAfterMs sets the delay of the next reconnect", async (t) => {
    const { server, client, conn } = await setup(t, { backoff: { baseMs: 60000, maxMs: 60000 } });
    await conn.handshake();
    t.mock.method(console, "warn", () => {});
    conn.send({ type: "error", code: "InvalidMessage", message: "x", fatal: false, retryAfterMs: 80 });
    await sleep(20);
    assert.equal(client.connectionState().state, "connected");
    const t0 = Date.now();
    conn.terminate();
    await server.connection(2000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 70 && waited < 1500, `reconnected after ${waited} ms`);
});

test("VersionNotSupported: the client stops and reports why; reconnect() tries again", async (t) => {
    const { server, client, conn } = await setup(t);
    const states = [];
    client.onConnectionChange((s, e) => states.push([s, e?.code]));
    const pm = client.mutation("m:x", {});
    await conn.next("connect");
    conn.send({ type: "error", code: "VersionNotSupported", message: "protocol 1 unsupported",
                fatal: true, supportedVersions: [2] });
    await waitFor(() => client.connectionState().state === "disconnected");
    assert.deepEqual(states.at(-1), ["disconnected", "VersionNotSupported"]);
    assert.deepEqual(client.lastError.supportedVersions, [2]);
    await assert.rejects(server.connection(200), /no connection/);
    client.reconnect();
    const conn2 = await server.connection();
    await conn2.handshake();
    const m = await conn2.next("mutation");
    conn2.transition(0, 1);
    conn2.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 1, version: 1 });
    assert.equal(await pm, 1, "the queued mutation survived");
});

test("maxAttempts: after that many failed reconnects the client reports disconnected with an error", async (t) => {
    const server = await startFakeServer();
    const url = server.url;
    await server.close(); // nothing listens on that port any more
    const client = new VireoClient(url, { WebSocket, backoff: { baseMs: 5, maxMs: 20, maxAttempts: 3 } });
    t.after(() => client.close());
    const states = [];
    let lastErr;
    client.onConnectionChange((s, e) => {
        states.push(s);
        lastErr = e;
    });
    await waitFor(() => client._conn.gaveUp);
    assert.equal(client.connectionState().state, "disconnected");
    assert.equal(lastErr.code, "GaveUp");
    assert.match(lastErr.message, /gave up reconnecting after 3 attempts/);
    assert.equal(states.filter((s) => s === "connecting").length, 3, "3 reconnect attempts");
});

test("an unknown or malformed frame is ignored", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    t.mock.method(console, "warn", () => {});
    conn.send("not json{");
    conn.send({ type: "somethingNew" });
    conn.send({ type: "pong" });
    const p = client.mutation("m:x", {});
    const m = await conn.next("mutation");
    conn.transition(0, 1);
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 1, version: 1 });
    assert.equal(await p, 1);
});

test("close() while connecting or while waiting to reconnect leaves nothing running", async (t) => {
    const other = await startFakeServer();
    const server = await startFakeServer();
    t.after(() => Promise.all([server.close(), other.close()]));
    const c1 = new VireoClient(other.url, { WebSocket });
    c1.close(); // socket still CONNECTING
    assert.equal(c1.connectionState().state, "disconnected");
    // A long backoff, so that close() lands while the client waits to reconnect. (Polling
    // connectionState could miss a short "disconnected": full jitter may pick a delay near 0.)
    const c2 = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 5000, maxMs: 5000 } });
    const states = [];
    c2.onConnectionChange((s) => states.push(s));
    const conn = await server.connection();
    await conn.handshake();
    await waitFor(() => c2.connectionState().state === "connected");
    conn.terminate();
    await waitFor(() => states.includes("disconnected"));
    const opened = server.conns.length;
    c2.close();
    await sleep(120);
    assert.equal(server.conns.length, opened, "no reconnect after close()");
    assert.equal(c2.connectionState().state, "disconnected");
});

test("a server that answers every connect with a fatal error cannot make the client spin", async (t) => {
    // retryAfterMs 1e12 (overflows setTimeout into 1 ms), 0, and SessionIdInUse every time
    for (const reply of [
        { type: "error", code: "ServerOverloaded", message: "busy", fatal: true, retryAfterMs: 1e12 },
        { type: "error", code: "ServerOverloaded", message: "busy", fatal: true, retryAfterMs: 0 },
        { type: "error", code: "SessionIdInUse", message: "in use", fatal: true },
    ]) {
        const server = await startFakeServer();
        const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 200, maxMs: 400 }, random: () => 1 });
        const warn = process.listeners("warning");
        process.removeAllListeners("warning");
        const warnings = [];
        process.on("warning", (w) => warnings.push(w.name));
        let refused = 0;
        const t0 = Date.now();
        try {
            while (Date.now() - t0 < 1000) {
                let conn;
                try {
                    conn = await server.connection(1100 - (Date.now() - t0));
                } catch {
                    break;
                }
                await conn.next("connect");
                conn.send(reply);
                refused++;
            }
        } finally {
            client.close();
            await server.close();
            process.removeAllListeners("warning");
            for (const l of warn) process.on("warning", l);
        }
        // attempt 0 at once (or after the bounded retryAfterMs), then 200, 400, 400 ms ...
        assert.ok(refused <= 5, `${reply.code} ${reply.retryAfterMs}: ${refused} connections in 1 s`);
        assert.ok(!warnings.includes("TimeoutOverflowWarning"), "setTimeout overflowed");
    }
});
