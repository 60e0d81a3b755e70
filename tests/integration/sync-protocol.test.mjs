// Sync protocol robustness against a real server (apps/sync, --max-send-queue 65536,
// --max-message 2 MiB): malformed frames get error frames and leave the connection usable,
// fatal errors close it, a client that stops reading is cut off at the send-queue cap while
// others keep getting updates, and `vireo dev` reloading edited code re-runs live queries.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    startServer, tempDir, guardServer, guardedTest, assertAppLoaded, sleep, waitFor,
    SyncConn, modOf, metrics, metricsDelta, rawWebSocket, wsFrame, OP,
} from "./helpers.mjs";

let srv;
const cleanups = [];
const start = async () => {
    srv = await startServer(tempDir("sync"), { args: ["--max-send-queue", "65536", "--max-message", "2097152"] });
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

async function openRaw(server = srv) {
    const c = await SyncConn.open(server.port);
    cleanups.push(() => c.close());
    return c;
}

/* Sends `msg`, expects an error frame with `code`, then proves the connection still works. */
async function expectError(c, msg, code, { fatal = false } = {}) {
    const from = c.mark;
    c.send(msg);
    const e = await c.waitMsg("error", { from, what: `error ${code}` });
    assert.equal(e.code, code, JSON.stringify(e));
    assert.equal(e.fatal, fatal, JSON.stringify(e));
    assert.equal(typeof e.message, "string");
    if (!fatal) {
        const f2 = c.mark;
        c.send({ type: "ping" });
        await c.waitMsg("pong", { from: f2, what: `pong after ${code}` });
        assert.equal(c.closed, null);
    }
    return e;
}

test("14. malformed messages get error frames and the connection stays usable", { timeout: 20000 }, async () => {
    const c = await openRaw();
    // before connect
    let e = await expectError(c, { type: "modifyQuerySet", add: [] }, "NotConnected");
    e = await expectError(c, { type: "mutation", requestId: 1, path: "counters:increment", args: { name: "x" } }, "NotConnected");
    assert.equal(await srv.value("query", "counters:get", { name: "x" }), 0, "a mutation before connect ran");
    // transport-level oddities, before and after connect
    e = await expectError(c, "{not json", "InvalidMessage");
    assert.match(e.message, /JSON/);
    await expectError(c, "[1,2,3]", "InvalidMessage");
    await expectError(c, "null", "InvalidMessage");
    await expectError(c, { type: 42 }, "InvalidMessage");
    await expectError(c, { notype: true }, "InvalidMessage");
    await expectError(c, { type: "subscribe" }, "UnknownMessageType");
    await expectError(c, Buffer.from(JSON.stringify({ type: "ping" })), "InvalidMessage"); // binary frame
    await expectError(c, { type: "connect", protocolVersion: 1 }, "InvalidMessage"); // no sessionId
    await c.connect();
    await expectError(c, { type: "connect", sessionId: "again", protocolVersion: 1 }, "InvalidMessage");
    // messages are limited by the transport (--max-message, here 2 MiB) only, as arguments may
    // be up to 16 MiB: a 1.2 MB mutation runs (its document is too large) and is answered
    const big = JSON.stringify({ type: "mutation", requestId: 9, path: "messages:send", args: { channel: "#big", author: "a", body: "x".repeat(1_200_000) } });
    let f0 = c.mark;
    c.send(big);
    const ans = await c.waitMsg((m) => m.type === "mutationResponse" || m.type === "error", { from: f0 });
    assert.equal(ans.requestId, 9, JSON.stringify(ans));
    assert.equal(ans.errorCode, "ValueTooLarge", JSON.stringify(ans));
    // a ping before connect is answered too (heartbeat), on a fresh connection
    const fresh = await openRaw();
    f0 = fresh.mark;
    fresh.send({ type: "ping" });
    await fresh.waitMsg("pong", { from: f0 });
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#big" }), []);
    // missing / wrong fields
    await expectError(c, { type: "modifyQuerySet", add: {} }, "InvalidMessage");
    e = await expectError(c, { type: "modifyQuerySet", add: [{ path: "messages:bodies", args: {} }] }, "InvalidMessage");
    assert.match(e.message, /queryId/);
    e = await expectError(c, { type: "modifyQuerySet", add: [{ queryId: 3, args: {} }] }, "InvalidMessage");
    assert.equal(e.queryId, 3);
    e = await expectError(c, { type: "mutation", requestId: 4, args: {} }, "InvalidMessage");
    assert.equal(e.requestId, 4);
    await expectError(c, { type: "mutation", path: "counters:increment", args: { name: "x" } }, "InvalidMessage");
    await expectError(c, { type: "action", requestId: 5, path: "counters:double", args: [] }, "InvalidMessage");
    await expectError(c, { type: "mutation", requestId: 6, path: "counters:increment", args: { name: "x" }, idempotencyKey: "k".repeat(201) }, "InvalidMessage");
    assert.equal(await srv.value("query", "counters:get", { name: "x" }), 0, "a refused mutation ran");
    // DuplicateQueryId
    await c.subscribe(1, "messages:bodies", { channel: "#t14" });
    e = await expectError(c, { type: "modifyQuerySet", add: [{ queryId: 1, path: "messages:bodies", args: { channel: "#other" } }] }, "DuplicateQueryId");
    assert.equal(e.queryId, 1);
    // the connection still works end to end
    const from = c.mark;
    const r = await c.call("mutation", 10, "messages:send", { channel: "#t14", author: "a", body: "still here" });
    assert.equal(r.success, true, JSON.stringify(r));
    const t = c.messages.slice(from).find((m) => m.type === "transition");
    assert.deepEqual(modOf(t, 1).value, ["still here"], "query 1 kept its original args");
    // function-level errors are responses, not error frames
    const nf = await c.call("mutation", 11, "nope:nothing", {});
    assert.equal(nf.errorCode, "FunctionNotFound");
    const wk = await c.call("action", 12, "counters:increment", { name: "x" });
    assert.equal(wk.errorCode, "WrongFunctionKind");
    const av = await c.call("mutation", 13, "counters:increment", { name: 5 });
    assert.equal(av.errorCode, "ArgumentValidationError");
    const qf = await c.subscribe(2, "nope:nothing", {});
    assert.equal(modOf(qf, 2).type, "QueryFailed");
    assert.equal(modOf(qf, 2).errorCode, "FunctionNotFound");
    assert.equal(c.closed, null);
});

test("14. a wrong protocolVersion is fatal: VersionNotSupported, then the connection closes", { timeout: 10000 }, async () => {
    const c = await openRaw();
    c.send({ type: "connect", sessionId: "v2-client", protocolVersion: 2 });
    const e = await c.waitMsg("error");
    assert.equal(e.code, "VersionNotSupported");
    assert.equal(e.fatal, true);
    assert.deepEqual(e.supportedVersions, [1]);
    const closed = await c.waitClose();
    assert.equal(closed.code, 1008);
});

test("14. a message over --max-message closes the connection with 1009", { timeout: 10000 }, async () => {
    const c = await openRaw();
    await c.connect();
    c.send(JSON.stringify({ type: "ping", pad: "x".repeat(2_200_000) }));
    const closed = await c.waitClose();
    assert.equal(closed.code, 1009);
});

test("13. a client that stops reading is closed at the send-queue cap; the others keep up", { timeout: 30000 }, async () => {
    // a result of ~48 KB (under the cap), resent whole on every update
    for (let i = 0; i < 4; i++) await srv.mutation("blobs:add", { group: "big", size: 12000 });
    const m0 = await metrics(srv);
    const errFrom = srv.stderr.length;

    const slow = await rawWebSocket(srv.port, "/api/sync");
    cleanups.push(() => slow.destroy());
    await slow.write(wsFrame(OP.TEXT, JSON.stringify({ type: "connect", sessionId: "slow-reader", protocolVersion: 1 })));
    await slow.write(wsFrame(OP.TEXT, JSON.stringify({ type: "modifyQuerySet", add: [{ queryId: 1, path: "blobs:list", args: { group: "big" } }] })));
    await slow.waitFrame((f) => f.payload.toString().includes('"transition"'), 5000, "the slow client's first result");
    slow.sock.pause(); // from now on it never reads

    const fast = await openRaw();
    await fast.connect();
    const writer = await openRaw();
    await writer.connect();
    await fast.subscribe(1, "blobs:list", { group: "big" });

    let n = 0, cut = false;
    while (!cut && n < 400) {
        // one at a time: each is its own batch, so each is one transition of ~48 KB
        for (let i = 0; i < 10; i++, n++) await writer.call("mutation", n, "blobs:bump", { group: "big", n });
        cut = /close 1008 send queue full/.test(srv.stderr.slice(errFrom)) || (await metrics(srv)).connections < m0.connections + 3;
    }
    assert.equal(fast.closed, null, `the reading client was cut off too: ${JSON.stringify(fast.closed)} ${srv.stderr.slice(errFrom)}`);
    assert.ok(cut, `the non-reading client was not cut off after ${n} updates of ~48 KB with --max-send-queue 65536`);
    await srv.waitStderr(/close 1008 send queue full/, { from: errFrom });
    // once it reads again it finds the end of its connection
    slow.sock.resume();
    await slow.waitClosed(10000);
    const frames = slow.frames();
    const close = frames.find((f) => f.opcode === OP.CLOSE);
    assert.ok(close, `no close frame after ${frames.length} frames`);
    assert.equal(close.code, 1008);
    assert.equal(close.reason, "send queue full");
    let conns;
    await waitFor(async () => (conns = (await metrics(srv)).connections) === m0.connections + 2, { what: "the slow connection to be gone" })
        .catch((e) => assert.fail(`${e.message}: connections ${conns}, expected ${m0.connections + 2}`));

    // the reading client got every update, and still does
    const from = fast.mark;
    const last = await writer.call("mutation", 10000, "blobs:bump", { group: "big", n: 10000 });
    const t = await fast.waitMsg((m) => m.type === "transition" && m.endVersion === last.version, { from });
    assert.equal(modOf(t, 1).value.length, 5);
    assert.ok(modOf(t, 1).value.some((d) => d.data === "000000010000"));
    assert.equal(fast.closed, null);

    // the cut-off client's session was retained: it reconnects and resumes from what it got
    const got = frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(f.payload.toString())).filter((m) => m.type === "transition");
    const lastGot = got.at(-1);
    const hash = got.flatMap((m) => m.modifications).filter((m) => m.type === "QueryUpdated").at(-1).hash;
    const again = await openRaw();
    const secret = frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(f.payload.toString())).find((m) => m.type === "connected").sessionSecret;
    const conn = await again.connect({ sessionId: "slow-reader", lastVersion: lastGot.endVersion, sessionSecret: secret });
    assert.equal(conn.resumed, true, "the session of a client cut off for not reading is retained");
    const tr = await again.subscribe(1, "blobs:list", { group: "big" }, { hash });
    assert.equal(tr.startVersion, lastGot.endVersion);
    assert.equal(modOf(tr, 1).type, "QueryUpdated");
    assert.deepEqual(modOf(tr, 1).value, modOf(t, 1).value);
});

test("16. a live query is re-run when `vireo dev` reloads its edited function", { timeout: 30000 }, async () => {
    const dir = tempDir("sync");
    const s = await startServer(dir);
    cleanups.push(() => s.stop());
    await assertAppLoaded(s);
    const c = await openRaw(s);
    await c.connect();
    const t0 = await c.subscribe(1, "live:greeting", { name: "ada" });
    assert.equal(modOf(t0, 1).value, "hello ada");
    const t1 = await c.subscribe(2, "messages:bodies", { channel: "#t16" });
    const h2 = modOf(t1, 2).hash;
    const from = c.mark;
    const file = path.join(dir, "vireo", "live.ts");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"hello " + name', '"bonjour " + name'));
    const t = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1), { from, timeout: 15000, what: "the reloaded result" });
    assert.deepEqual(modOf(t, 1), { type: "QueryUpdated", queryId: 1, value: "bonjour ada", hash: modOf(t, 1).hash });
    assert.equal(modOf(t, 2), undefined, "an unchanged query is not resent after a reload");
    // a function removed by the edit fails its subscribers
    const f2 = c.mark;
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("export const greeting", "export const greeting2"));
    const tf = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1), { from: f2, timeout: 15000, what: "the removed function's failure" });
    assert.equal(modOf(tf, 1).type, "QueryFailed");
    assert.equal(modOf(tf, 1).errorCode, "FunctionNotFound");
    // a syntax error keeps the previous version: nothing re-runs, nothing is sent
    const m0 = await metrics(s);
    const f4 = c.mark;
    const errFrom = s.stderr.length;
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("export const greeting2", "export const greeting3 = ((("));
    await s.waitStderr(/previous version keeps running/, { timeout: 8000, from: errFrom });
    await sleep(100);
    const d = metricsDelta(m0, await metrics(s));
    assert.equal(d.queryExecutions, 0, `a failed reload re-ran queries: ${JSON.stringify(d)}`);
    assert.equal(c.mark, f4, `a failed reload sent ${JSON.stringify(c.messages.slice(f4))}`);
    // messages:bodies stayed live throughout
    const f3 = c.mark;
    await s.mutation("messages:send", { channel: "#t16", author: "a", body: "after reload" });
    const tm = await c.waitMsg((m) => m.type === "transition" && modOf(m, 2), { from: f3 });
    assert.deepEqual(modOf(tm, 2).value, ["after reload"]);
    assert.notEqual(modOf(tm, 2).hash, h2);
});
