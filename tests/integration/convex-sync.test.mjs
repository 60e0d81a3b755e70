// Convex's sync protocol on /api/<version>/sync (docs/protocol.md, "Convex sync protocol"), driven
// by the real `convex` npm client (ConvexClient from "convex/browser", its own `ws` in Node) and by
// raw frames for what the client never sends: malformed messages, wrong versions, limits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { once } from "node:events";
import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { APPS, startServer, tempDir, waitFor, sleep } from "./helpers.mjs";

let srv;
const clients = [];
const raws = [];

before(async () => {
    // a quick keep-alive, so the Ping test needs seconds, not minutes
    srv = await startServer(tempDir(path.join(APPS, "convex-sync")), {
        args: ["--convex-ping-interval-ms", "250"],
    });
});

after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const r of raws) r.ws.terminate();
    if (srv) await srv.stop();
});

function client(opts = {}) {
    const c = new ConvexClient(srv.url, { logger: false, ...opts });
    clients.push(c);
    return c;
}

/* A WebSocket class for the client that also records a summary of every server message. */
function recorder(log) {
    return class extends WebSocket {
        constructor(url, protocols) {
            super(url, protocols);
            this.addEventListener("message", (e) => {
                const m = JSON.parse(e.data);
                log.push(m.type === "TransitionChunk" ? { type: m.type, partNumber: m.partNumber, totalParts: m.totalParts, length: m.chunk.length } : m.type === "Transition" ? { type: m.type, startVersion: m.startVersion, endVersion: m.endVersion, n: m.modifications.length } : m);
            });
        }
    };
}

const ts = (s) => Buffer.from(s, "base64").readBigUInt64LE();

/* A raw Convex sync connection: frames in, parsed messages out. */
async function raw(version = "1.48.0") {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/${version}/sync`);
    const r = { ws, msgs: [], closed: null };
    ws.on("message", (d) => r.msgs.push(JSON.parse(d.toString())));
    ws.on("close", (code, reason) => (r.closed = { code, reason: reason.toString() }));
    r.send = (m) => ws.send(typeof m === "string" ? m : JSON.stringify(m));
    r.connect = (sessionId = crypto.randomUUID()) => r.send({ type: "Connect", sessionId, connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() });
    // the next message of `type` not yet taken
    r.next = async (type, timeout = 5000) => {
        const m = await waitFor(() => r.msgs.find((x) => x.type === type && !x.taken), { timeout, what: `a ${type}` });
        m.taken = true;
        return m;
    };
    r.fatal = async (re) => {
        const m = await r.next("FatalError");
        assert.match(m.error, re);
        await waitFor(() => r.closed, { what: "the close after FatalError" });
        assert.equal(r.closed.code, 1008);
        return m;
    };
    raws.push(r);
    await once(ws, "open");
    return r;
}

const add = (queryId, udfPath, args) => ({ type: "Add", queryId, udfPath, args: [args] });

/* The server answers a fresh connection: it kept serving after whatever came before. */
async function assertServing() {
    const r = await raw();
    r.connect();
    r.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add(0, "greeting:default", { name: "still" })] });
    const t = await r.next("Transition");
    assert.equal(t.modifications[0].value, "hello still");
    r.ws.close();
}

test("onUpdate: a subscription updates after another client's mutation", async () => {
    const a = client();
    const b = client();
    const seen = [];
    a.onUpdate(api.messages.list, { channel: "t1" }, (v) => seen.push(v));
    await waitFor(() => seen.length >= 1, { what: "the first result" });
    assert.deepEqual(seen[0], []);
    assert.equal(await b.mutation(api.messages.send, { channel: "t1", author: "bob", body: "hello" }), "hello");
    await waitFor(() => seen.at(-1).length === 1, { what: "the update" });
    assert.deepEqual(seen.at(-1), [{ author: "bob", body: "hello" }]);
    await b.mutation(api.messages.send, { channel: "other", author: "bob", body: "elsewhere" });
    await b.mutation(api.messages.send, { channel: "t1", author: "bob", body: "again" });
    await waitFor(() => seen.at(-1).length === 2, { what: "the second update" });
    assert.ok(seen.every((v) => v.every((m) => m.body !== "elsewhere")));
});

test("read-your-writes: a mutation resolves only once the subscription shows it", async () => {
    const a = client();
    let count;
    a.onUpdate(api.messages.count, { channel: "t2" }, (v) => (count = v));
    await waitFor(() => count === 0, { what: "the first result" });
    for (let i = 1; i <= 10; i++) {
        await a.mutation(api.messages.send, { channel: "t2", author: "a", body: `m${i}` });
        assert.equal(count, i, `after mutation ${i} resolved`);
    }
    // pipelined: each resolution sees at least its own increment
    let counter;
    a.onUpdate(api.counters.get, { name: "ryw" }, (v) => (counter = v));
    await waitFor(() => counter === 0, { what: "the counter" });
    const seenAtResolve = await Promise.all(
        Array.from({ length: 30 }, async () => {
            const mine = await a.mutation(api.counters.increment, { name: "ryw" });
            return [mine, counter];
        }),
    );
    for (const [mine, shown] of seenAtResolve) assert.ok(shown >= mine, `mutation returned ${mine}, subscription showed ${shown}`);
    assert.equal(counter, 30);
});

test("a dropped connection reconnects and catches up; a mutation sent meanwhile is applied once", async () => {
    const a = client();
    const b = client();
    let last;
    a.onUpdate(api.messages.list, { channel: "t3" }, (v) => (last = v));
    await waitFor(() => Array.isArray(last), { what: "the first result" });
    assert.equal(a.connectionState().connectionCount, 1);
    // the TCP connection dies: no close frame
    a.client.webSocketManager.socket.ws._socket.destroy();
    await waitFor(() => !a.connectionState().isWebSocketConnected, { what: "the client to notice" });
    await b.mutation(api.messages.send, { channel: "t3", author: "b", body: "while away" });
    const queued = a.mutation(api.messages.send, { channel: "t3", author: "a", body: "queued" });
    assert.equal(await queued, "queued");
    await waitFor(() => last.length === 2, { timeout: 10000, what: "the catch-up" });
    assert.deepEqual(last.map((m) => m.body).sort(), ["queued", "while away"]);
    assert.equal(a.connectionState().connectionCount, 2);
    const r = await srv.query("messages:list", { channel: "t3" });
    assert.equal(r.json.value.filter((m) => m.body === "queued").length, 1);
});

test("a mutation re-sent with its requestId on the same sessionId is applied once", async () => {
    const sessionId = crypto.randomUUID();
    const msg = { type: "Mutation", requestId: 0, udfPath: "counters:increment", args: [{ name: "replay" }] };
    const r1 = await raw();
    r1.connect(sessionId);
    r1.send(msg);
    const first = await r1.next("MutationResponse");
    assert.equal(first.success, true);
    assert.equal(first.result, 1);
    r1.ws.terminate();
    const r2 = await raw();
    r2.connect(sessionId);
    r2.send(msg);
    const again = await r2.next("MutationResponse");
    assert.deepEqual([again.success, again.result, again.ts], [true, 1, first.ts]);
    // the same requestId for another call is refused, not run
    r2.send({ ...msg, args: [{ name: "replay2" }] });
    const reused = await r2.next("MutationResponse");
    assert.equal(reused.success, false);
    assert.match(reused.result, /IdempotencyKeyReused/);
    // another client session is another scope
    const r3 = await raw();
    r3.connect();
    r3.send(msg);
    assert.equal((await r3.next("MutationResponse")).result, 2);
    assert.equal((await srv.query("counters:get", { name: "replay" })).json.value, 2);
    assert.equal((await srv.query("counters:get", { name: "replay2" })).json.value, 0);
});

test("1,000 queries on one connection", async () => {
    const a = client();
    const b = client();
    const vals = new Map();
    for (let i = 0; i < 1000; i++) a.onUpdate(api.counters.get, { name: `q${i}` }, (v) => vals.set(i, v));
    await waitFor(() => vals.size === 1000, { timeout: 30000, what: "1,000 results" });
    assert.ok([...vals.values()].every((v) => v === 0));
    await b.mutation(api.counters.increment, { name: "q500" });
    await waitFor(() => vals.get(500) === 1, { what: "q500's update" });
    assert.equal(vals.get(499), 0);
    assert.equal(vals.get(501), 0);
});

test("a transition over 1 MiB arrives as TransitionChunk parts the client joins", async () => {
    const log = [];
    const a = client({ webSocketConstructor: recorder(log) });
    const b = client();
    let blobs;
    a.onUpdate(api.blobs.list, { group: "big" }, (v) => (blobs = v));
    await waitFor(() => Array.isArray(blobs), { what: "the first result" });
    // 3 × 400,000 two-byte characters: 2.4 MB of JSON, cut on character boundaries
    for (const fill of ["é", "ü", "ß"]) await b.mutation(api.blobs.add, { group: "big", size: 400000, fill });
    await waitFor(() => blobs.length === 3, { timeout: 15000, what: "the big result" });
    assert.deepEqual(blobs.map((s) => [s.length, s[0], s.at(-1)]), [[400000, "é", "é"], [400000, "ü", "ü"], [400000, "ß", "ß"]]);
    const chunks = log.filter((m) => m.type === "TransitionChunk");
    assert.ok(chunks.length >= 2, `chunks: ${chunks.length}`);
    assert.ok(chunks.every((c) => c.totalParts >= 2));
    // after the chunked ones, small transitions still go out whole
    await b.mutation(api.blobs.add, { group: "big", size: 1, fill: "x" });
    await waitFor(() => blobs.length === 4, { timeout: 15000, what: "the next result" });
});

test("a query that throws: ConvexError data and plain errors reach onUpdate's onError", async () => {
    const a = client();
    const err = await new Promise((resolve) => a.onUpdate(api.messages.refuse, { plain: false }, () => resolve(null), resolve));
    assert.equal(err.constructor.name, "ConvexError");
    assert.deepEqual(err.data, { code: "NOPE", n: 7 });
    await assert.rejects(a.query(api.messages.refuse, { plain: true }), (e) => e.constructor.name === "Error" && /Uncaught Error: plain failure/.test(e.message) && e.data === undefined);
    // a live query's failure names what was thrown by its class, as Convex does
    const typed = await new Promise((resolve) => a.onUpdate(api.messages.refuse, { plain: false, typed: true }, () => resolve(null), resolve));
    assert.match(typed.message, /Uncaught TypeError: typed failure/);
    await assert.rejects(a.mutation(api.messages.refuseMutation, {}), (e) => e.constructor.name === "ConvexError" && e.data === "mutation says no");
    await assert.rejects(a.mutation(api.nope.missing, {}), /Could not find public function for 'nope:missing'/);
    // the same texts as over HTTP, in Convex's whole form (what its js-integration-tests match)
    const missing = await new Promise((resolve) => a.onUpdate(api.nope.notDeployed, {}, () => resolve(null), resolve));
    assert.match(missing.message, /^\[CONVEX Q\(nope:notDeployed\)\] \[Request ID: [0-9a-f]{16}\] Server Error\nCould not find public function for 'nope:notDeployed'\. Did you forget to run `npx convex dev` or `npx convex deploy`\?\n\n  Called by client$/);
    const kind = await new Promise((resolve) => a.onUpdate(api.messages.refuseMutation, {}, () => resolve(null), resolve));
    assert.match(kind.message, /\] Server Error\nTrying to execute messages\.js:refuseMutation as Query, but it is defined as Mutation\.\n/);
    await assert.rejects(a.mutation(api.nope.missing2, {}), /Server Error\nCould not find public function for 'nope:missing2'\. Did you forget to run `npx convex dev`/);
    await assert.rejects(a.mutation(api.messages.refuse, { plain: true }), /Server Error\nTrying to execute messages\.js:refuse as Mutation, but it is defined as Query\./);
    await assert.rejects(a.mutation(api.messages.list, { channel: "x" }), /Trying to execute messages\.js:list as Mutation, but it is defined as Query\./);
    await assert.rejects(a.query(api.messages.list, { channel: 5 }), /ArgumentValidationError/);
});

test("actions: a result, and a write through ctx.runMutation shown when it resolves", async () => {
    const a = client();
    assert.equal(await a.action(api.messages.shout, { text: "quiet" }), "QUIET");
    let last;
    a.onUpdate(api.messages.list, { channel: "t7" }, (v) => (last = v));
    await waitFor(() => Array.isArray(last), { what: "the first result" });
    assert.equal(await a.action(api.messages.sendViaAction, { channel: "t7", body: "from an action" }), "from an action");
    assert.deepEqual(last, [{ author: "action", body: "from an action" }]);
    await assert.rejects(a.action(api.messages.shout, { text: 1 }), /ArgumentValidationError/);
});

test("int64 and bytes round trip over the WebSocket", async () => {
    const a = client();
    let sub;
    a.onUpdate(api.values.get, { key: "v1" }, (v) => (sub = v));
    await waitFor(() => sub === null, { what: "the first result" });
    const big = 2n ** 62n + 3n;
    const bytes = new Uint8Array([0, 1, 2, 254, 255]).buffer;
    const r = await a.mutation(api.values.put, { key: "v1", i: big, b: bytes });
    assert.deepEqual(r, { i: big + 1n, size: 5 });
    assert.equal(sub.i, big);
    assert.ok(sub.b instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(sub.b)], [0, 1, 2, 254, 255]);
    await a.mutation(api.values.put, { key: "v2", i: -5n, b: new ArrayBuffer(0) });
    const v2 = await a.query(api.values.get, { key: "v2" });
    assert.equal(v2.i, -5n);
    assert.equal(v2.b.byteLength, 0);
});

test("NaN, ±Infinity and -0 round trip over the WebSocket (Convex's $float)", async () => {
    const a = client();
    let sub;
    a.onUpdate(api.values.getFloats, { key: "f1" }, (v) => (sub = v));
    await waitFor(() => sub === null, { what: "the first result" });
    const f = [NaN, Infinity, -Infinity, -0, 0, 1.5];
    assert.deepEqual(await a.mutation(api.values.putFloats, { key: "f1", f }),
        ["NaN", "Infinity", "-Infinity", "-0", "0", "1.5"]);
    assert.equal(sub.length, 6);
    for (let i = 0; i < f.length; i++) assert.ok(Object.is(sub[i], f[i]), `${i}: ${sub[i]} is not ${f[i]}`);
});

test("Authenticate with a User token: AuthError, the client gives up after a bounded number of tries and keeps working", async () => {
    const log = [];
    const a = client({ webSocketConstructor: recorder(log) });
    const changes = [];
    let fetches = 0;
    // a fresh (unverifiable) token on every fetch: the worst case for a retry loop
    const token = () => {
        const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
        const now = Math.floor(Date.now() / 1000);
        return `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ sub: "u1", iss: "https://issuer.example", aud: "vireo", iat: now, exp: now + 3600, n: ++fetches })}.c2ln`;
    };
    a.setAuth(async () => token(), (ok) => changes.push(ok));
    await waitFor(() => changes.includes(false), { timeout: 10000, what: "onChange(false)" });
    const errors = log.filter((m) => m.type === "AuthError");
    assert.ok(errors.length >= 1);
    assert.match(errors[0].error, /No auth provider found matching the given token/);
    assert.equal(errors[0].authUpdateAttempted, true);
    await sleep(1500);
    const settled = log.filter((m) => m.type === "AuthError").length;
    assert.ok(settled <= 4, `AuthErrors: ${settled}`);
    assert.ok(fetches <= 5, `token fetches: ${fetches}`);
    assert.ok(!changes.includes(true));
    // unauthenticated, it still works
    assert.equal(await a.query(api.greeting.default, { name: "anon" }), "hello anon");
    await sleep(500);
    assert.equal(log.filter((m) => m.type === "AuthError").length, settled, "no more AuthErrors");
});

test("Ping keeps a quiet connection alive past the client's inactivity threshold", async () => {
    const log = [];
    const a = client({ webSocketConstructor: recorder(log) });
    // the client reconnects after this long without a message (60 s by default)
    a.client.webSocketManager.serverInactivityThreshold = 1000;
    assert.equal(await a.query(api.greeting.default, { name: "p" }), "hello p");
    await sleep(3500);
    assert.ok(log.filter((m) => m.type === "Ping").length >= 5, "pings");
    assert.equal(a.connectionState().connectionCount, 1, "no reconnect");
    assert.equal(a.connectionState().isWebSocketConnected, true);
});

test("raw: Transition, StateVersion ts, MutationResponse ts reached by the next Transition, Remove, Authenticate None, Event", async () => {
    const r = await raw("1.48.0");
    r.connect();
    r.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add(1, "greeting", { name: "a" }), add(2, "messages.js:count", { channel: "raw" })] });
    const t1 = await r.next("Transition");
    assert.deepEqual(t1.startVersion, { querySet: 0, identity: 0, ts: "AAAAAAAAAAA=" });
    assert.equal(t1.endVersion.querySet, 1);
    assert.equal(t1.endVersion.identity, 0);
    assert.equal(Buffer.from(t1.endVersion.ts, "base64").length, 8); // a u64, little-endian
    const byId = Object.fromEntries(t1.modifications.map((m) => [m.queryId, m]));
    assert.deepEqual(byId[1], { type: "QueryUpdated", queryId: 1, value: "hello a", logLines: [], journal: null });
    assert.equal(byId[2].value, 0);
    r.send({ type: "Mutation", requestId: 0, udfPath: "messages:send", args: [{ channel: "raw", author: "r", body: "x" }] });
    const mr = await r.next("MutationResponse");
    assert.deepEqual([mr.success, mr.result, mr.logLines], [true, "x", ["[LOG] 'sent' 'x'"]]);
    const t2 = await r.next("Transition");
    assert.deepEqual(t2.startVersion, t1.endVersion);
    assert.ok(ts(t2.endVersion.ts) >= ts(mr.ts), "the transition reaches the mutation's ts");
    assert.deepEqual(t2.modifications, [{ type: "QueryUpdated", queryId: 2, value: 1, logLines: [], journal: null }]);
    assert.ok(r.msgs.indexOf(mr) < r.msgs.indexOf(t2), "MutationResponse before its Transition");
    r.send({ type: "ModifyQuerySet", baseVersion: 1, newVersion: 2, modifications: [{ type: "Remove", queryId: 1 }, { type: "Remove", queryId: 99 }] });
    const t3 = await r.next("Transition");
    assert.equal(t3.endVersion.querySet, 2);
    assert.deepEqual(t3.modifications, [{ type: "QueryRemoved", queryId: 1 }]);
    r.send({ type: "Authenticate", tokenType: "None", baseVersion: 0 });
    const t4 = await r.next("Transition");
    assert.deepEqual([t4.startVersion.identity, t4.endVersion.identity], [0, 1]);
    r.send({ type: "Event", eventType: "ClientConnect", event: { marks: [] } });
    r.send({ type: "Authenticate", tokenType: "User", value: "a.b.c", baseVersion: 1 });
    const ae = await r.next("AuthError");
    assert.deepEqual([ae.baseVersion, ae.authUpdateAttempted], [1, true]);
    r.send({ type: "Action", requestId: 1, udfPath: "messages:shout", args: [{ text: "still open" }] });
    const ar = await r.next("ActionResponse");
    assert.deepEqual([ar.success, ar.result, ar.logLines], [true, "STILL OPEN", []]);
    assert.equal(r.closed, null);
    // a failed mutation: its message in `result`, ConvexError data in errorData
    r.send({ type: "Mutation", requestId: 2, udfPath: "messages:refuseMutation", args: [{}] });
    const bad = await r.next("MutationResponse");
    // Convex's text: a request id line, the error, a newline
    assert.deepEqual([bad.success, bad.errorData], [false, "mutation says no"]);
    assert.match(bad.result, /^\[Request ID: [0-9a-f]{16}\] Server Error\nUncaught ConvexError: mutation says no\n$/);
    r.send({ type: "ModifyQuerySet", baseVersion: 2, newVersion: 3, modifications: [add(3, "messages:refuse", { plain: false })] });
    const t5 = await r.next("Transition"); // a failed mutation has no ts to reach: no Transition of its own
    const failed = t5.modifications[0];
    assert.match(failed.errorMessage, /^\[Request ID: [0-9a-f]{16}\] Server Error\nUncaught ConvexError: \{"code":"NOPE","n":7\}\n$/);
    assert.deepEqual({ ...failed, errorMessage: "" }, { type: "QueryFailed", queryId: 3, errorMessage: "", logLines: [], errorData: { code: "NOPE", n: 7 }, journal: null });
});

test("raw: protocol errors get FatalError and a close, and the server keeps serving", async () => {
    let r = await raw();
    r.send("{not json");
    await r.fatal(/message is not valid JSON/);
    await assertServing();

    r = await raw();
    r.connect();
    r.send({ type: "Subscribe", queryId: 1 });
    await r.fatal(/unknown message type "Subscribe"/);

    r = await raw();
    r.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [] });
    await r.fatal(/the first message must be Connect/);

    r = await raw();
    r.connect();
    r.send({ type: "ModifyQuerySet", baseVersion: 5, newVersion: 6, modifications: [] });
    await r.fatal(/Base version 5 passed up doesn't match the current version 0/);

    r = await raw();
    r.connect();
    r.send({ type: "Mutation", requestId: 0, udfPath: "messages:send", args: { channel: "x" } });
    await r.fatal(/`args` must be an array holding one object/);

    r = await raw();
    r.connect();
    r.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add(0, "greeting", { name: "a" })] });
    await r.next("Transition");
    r.send({ type: "ModifyQuerySet", baseVersion: 1, newVersion: 2, modifications: [add(0, "greeting", { name: "b" })] });
    await r.fatal(/query 0 was already added/);

    r = await raw();
    r.connect();
    r.send({ type: "Authenticate", tokenType: "None", baseVersion: 3 });
    await r.fatal(/Base identity version 3/);

    r = await raw();
    r.connect();
    r.connect();
    await r.fatal(/Connect was already sent/);

    r = await raw();
    r.send({ type: "Connect", sessionId: "", connectionCount: 0 });
    await r.fatal(/Connect needs `sessionId`/);

    r = await raw();
    r.ws.send(Buffer.from([1, 2, 3]));
    await r.fatal(/JSON text frames, not binary/);

    await assertServing();
});

test("raw: past --max-queries-per-session (1000) a ModifyQuerySet gets FatalError TooManyQueries", async () => {
    const r = await raw();
    r.connect();
    const mods = Array.from({ length: 1001 }, (_, i) => add(i, "counters:get", { name: `lim${i}` }));
    r.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: mods });
    await r.fatal(/TooManyQueries: this connection has 1000 queries/);
    await assertServing();
});

test("raw: a message wider than Convex's values (an array of 8,193) is a FatalError before it is parsed", async () => {
    const r = await raw();
    r.connect();
    r.send({ type: "Mutation", requestId: 0, udfPath: "counters:inc", args: [{ name: "w", pad: Array(8193).fill(0) }] });
    await r.fatal(/an array has more than 8192 elements \(Convex's value limits\)/);
    await assertServing();
});

test("only /api/<version>/sync is the Convex protocol", async () => {
    for (const p of ["/api/1.48.0/sync", "/api/x/sync"]) {
        const r = await srv.get(p);
        assert.equal(r.status, 400, p); // a WebSocket endpoint: a plain GET is not an upgrade
    }
    for (const p of ["/api//sync", "/api/a/b/sync", "/api/1.48.0/syncx"]) {
        const r = await srv.get(p);
        assert.equal(r.status, 404, p);
    }
});
