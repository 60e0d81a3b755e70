// VireoClient and the sync hardening (issue 7, items 8 and 12): transitions in chunks, the
// backoff that resets only on a healthy connection, the session secret. The fake server scripts
// the edge cases; a real `vireo dev` (tests/integration/apps/hardening-sync) checks two 9 MB
// results end to end.

import test from "node:test";
import assert from "node:assert/strict";
import { VireoClient } from "../../clients/js/src/index.js";
import { startFakeServer, WebSocket, sleep } from "./fake-server.mjs";
import { startServer, tempDir, assertAppLoaded, waitFor, SyncConn } from "../integration/helpers.mjs";

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

function chunked(transition, parts, id = "1") {
    const text = JSON.stringify(transition);
    const size = Math.ceil(text.length / parts);
    const out = [];
    for (let i = 0; i < parts; i++)
        out.push({ type: "transitionChunk", transitionId: id, partNumber: i, totalParts: parts, chunk: text.slice(i * size, (i + 1) * size) });
    return out;
}

test("a transition in transitionChunk parts is applied whole once its last part arrives", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const values = [];
    client.subscribe("q:big", {}, (v) => values.push(v));
    const add = await conn.next("modifyQuerySet");
    const qid = add.add[0].queryId;
    const parts = chunked({ type: "transition", startVersion: 0, endVersion: 3, modifications: [
        { type: "QueryUpdated", queryId: qid, value: "ü€𝄞".repeat(1000), hash: "h1" }] }, 5);
    for (const p of parts.slice(0, 4)) conn.send(p);
    await sleep(30);
    assert.deepEqual(values, [], "nothing applied before the last part");
    conn.send(parts[4]);
    await waitFor(() => values.length === 1);
    assert.equal(values[0], "ü€𝄞".repeat(1000));
    assert.equal(client.version, 3);
});

test("the backoff resets only once a connection proved healthy, not on every `connected`", async (t) => {
    const { server, client, conn } = await setup(t, { healthyAfterMs: 60000 });
    await conn.handshake();
    // accepted, then dropped at once, three times: the attempts keep counting
    conn.terminate();
    for (let i = 0; i < 3; i++) {
        const c = await server.connection();
        await c.handshake();
        await waitFor(() => client.connectionState().state === "connected");
        c.terminate();
        await waitFor(() => client.connectionState().state !== "connected");
    }
    assert.ok(client._conn.attempt >= 3, `attempt ${client._conn.attempt}: reset by a connection that did not last`);
    // a connection that delivers a transition is healthy
    const c = await server.connection();
    await c.handshake();
    await waitFor(() => client.connectionState().state === "connected");
    c.transition(0, 1, []);
    await waitFor(() => client._conn.attempt === 0);
});

test("the session secret from `connected` is sent when resuming; SessionIdInUse starts a new session", async (t) => {
    const { server, client, conn } = await setup(t);
    const c0 = await conn.next("connect");
    assert.equal(c0.sessionSecret, undefined);
    conn.send({ type: "connected", sessionId: c0.sessionId, sessionSecret: "s3cr3t", version: 0, protocolVersion: 1, resumed: false });
    await waitFor(() => client.connectionState().state === "connected");
    assert.equal(client.sessionSecret, "s3cr3t");
    conn.terminate();
    const conn2 = await server.connection();
    const c1 = await conn2.next("connect");
    assert.equal(c1.sessionId, c0.sessionId);
    assert.equal(c1.sessionSecret, "s3cr3t");
    conn2.send({ type: "error", code: "SessionIdInUse", message: "no", fatal: true });
    const conn3 = await server.connection();
    const c2 = await conn3.next("connect");
    assert.notEqual(c2.sessionId, c0.sessionId);
    assert.equal(c2.sessionSecret, undefined);
});

test("real server: two 9 MB live results arrive intact; the client does not reconnect", { timeout: 60000 }, async (t) => {
    const srv = await startServer(tempDir("hardening-sync"));
    await assertAppLoaded(srv);
    const client = new VireoClient(srv.url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 30000 });
    t.after(async () => {
        client.close();
        await srv.stop();
    });
    const states = [];
    client.onConnectionChange((s, e) => states.push(e ? `${s}:${e.message}` : s));
    const a = [], b = [];
    client.subscribe("h:big", { n: 9_000_000, tag: "a" }, (v) => a.push(v));
    client.subscribe("h:big", { n: 9_000_000, tag: "b" }, (v) => b.push(v));
    await waitFor(() => a.length && b.length, { timeout: 30000, what: "both results" });
    assert.equal(a[0].length, 9_000_004);
    assert.ok(a[0].startsWith("a:0:x") && b[0].startsWith("b:0:x"));
    assert.equal(await client.mutation("h:inc", { name: "big" }), 1);
    assert.ok(a.at(-1).startsWith("a:1:x") && b.at(-1).startsWith("b:1:x"), "read-your-writes through a chunked transition");
    assert.equal(b.at(-1).length, 9_000_004);
    assert.deepEqual(states, ["connected"], "no reconnect");
    // the session is resumable with the secret only
    assert.match(client.sessionSecret, /^[0-9a-f]{32}$/);
    const thief = await SyncConn.open(srv.port);
    t.after(() => thief.terminate());
    await assert.rejects(thief.connect({ sessionId: client.sessionId, lastVersion: 0, sessionSecret: null }), /SessionIdInUse/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(client.connectionState().state, "connected");
    assert.deepEqual(states, ["connected"]);
});

test("a mutation larger than the server's message limit is refused at once, not sent", async (t) => {
    const { client, conn } = await setup(t, { maxMessageBytes: 1000 });
    await conn.handshake();
    await assert.rejects(client.mutation("m:big", { s: "é".repeat(600) }), (e) => e.code === "MessageTooLarge");
    assert.ok(await conn.none("mutation", 100), "the oversized mutation was sent");
    const small = client.mutation("m:small", { s: "ok" });
    const m = await conn.next("mutation");
    assert.deepEqual(m.args, { s: "ok" });
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 1 });
    assert.equal(await small, 1);
});
