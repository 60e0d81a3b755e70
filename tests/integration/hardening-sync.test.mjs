// Hardening of the sync protocol (issue 7, items 8, 9, 11, 12, 13, 14 and 15) on
// apps/hardening-sync: large transitions in chunks, ids on every error that answers a request,
// session lifetime and caps, session secrets, scoped idempotency keys, argument order of live
// queries, and the version after a resume.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
    startServer, tempDir, assertAppLoaded, waitFor, sleep, SyncConn, modOf, metrics, metricsDelta,
    rawWebSocket, wsFrame, OP,
} from "./helpers.mjs";

let srv;
const conns = [];
const servers = [];

before(async () => {
    srv = await startServer(tempDir("hardening-sync"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of conns) c.terminate();
    for (const s of servers) await s.stop();
    if (srv) await srv.stop();
});

async function open({ server = srv, connect = true, ...opts } = {}) {
    const c = await SyncConn.open(server.port);
    conns.push(c);
    if (connect) await c.connect(opts);
    return c;
}

/* Waits until the server's metrics satisfy pred (writes and flushes are asynchronous). */
async function metricsWhere(pred, what, server = srv) {
    return waitFor(async () => {
        const m = await metrics(server);
        return pred(m) ? m : null;
    }, { what });
}

/* Transitions received from `from` on, whole ones and those joined from transitionChunk parts
 * (in order, nothing between the parts of one). Throws on a malformed chunk sequence. */
function transitionsOf(c, from = 0) {
    const out = [];
    let cur = null;
    for (const m of c.messages.slice(from)) {
        if (m.type === "transitionChunk") {
            if (m.partNumber === 0) cur = { id: m.transitionId, total: m.totalParts, parts: [] };
            assert.ok(cur && cur.id === m.transitionId && cur.parts.length === m.partNumber && m.totalParts === cur.total,
                `chunk out of order: ${JSON.stringify({ ...m, chunk: undefined })}`);
            cur.parts.push(m.chunk);
            if (cur.parts.length === cur.total) {
                out.push({ ...JSON.parse(cur.parts.join("")), parts: cur.total });
                cur = null;
            }
        } else {
            assert.equal(cur, null, `a ${m.type} between the chunks of one transition`);
            if (m.type === "transition") out.push(m);
        }
    }
    return out;
}

async function waitTransition(c, pred, { from = 0, timeout = 20000, what = "a transition" } = {}) {
    let found;
    await c.waitMsg(() => (found = transitionsOf(c, from).find(pred)) !== undefined, { from, timeout, what });
    return found;
}

const NINE_MB = 9_000_000;

test("8. two 9 MB live results arrive intact in transitionChunk parts; the reading client stays connected", { timeout: 60000 }, async () => {
    const c = await open();
    const writer = await open();
    const from = c.mark;
    c.send({ type: "modifyQuerySet", add: [
        { queryId: 1, path: "h:big", args: { n: NINE_MB, tag: "a" } },
        { queryId: 2, path: "h:big", args: { n: NINE_MB, tag: "b" } },
    ] });
    const t = await waitTransition(c, (x) => modOf(x, 1) && modOf(x, 2), { from, what: "both 9 MB results" });
    assert.ok(t.parts > 16, `split into ${t.parts} parts`);
    assert.equal(modOf(t, 1).value.length, NINE_MB + 4);
    assert.ok(modOf(t, 1).value.startsWith("a:0:xxx"));
    assert.ok(modOf(t, 2).value.startsWith("b:0:xxx"));
    assert.ok(c.messages.slice(from).every((m) => m.type !== "transitionChunk" || Buffer.byteLength(JSON.stringify(m)) < 3 << 20),
        "every chunk is a small message");
    // an update of both: again one transition of ~18 MB, more than the 16 MiB send-queue cap
    const f2 = c.mark;
    const r = await writer.call("mutation", 1, "h:inc", { name: "big" });
    assert.equal(r.success, true, JSON.stringify(r));
    const t2 = await waitTransition(c, (x) => x.endVersion >= r.version && modOf(x, 1), { from: f2, what: "the update" });
    assert.equal(t2.startVersion, t.endVersion);
    assert.ok(modOf(t2, 1).value.startsWith("a:1:") && modOf(t2, 2).value.startsWith("b:1:"));
    assert.equal(modOf(t2, 2).value.length, NINE_MB + 4);
    await sleep(200);
    assert.equal(c.closed, null, "a reading client is never cut off for one big transition");
    c.send({ type: "modifyQuerySet", remove: [1, 2] });
});

test("8. a client that does not read is still cut off at the send-queue cap", { timeout: 60000 }, async () => {
    const errFrom = srv.stderr.length;
    const slow = await rawWebSocket(srv.port, "/api/sync");
    try {
        await slow.write(wsFrame(OP.TEXT, JSON.stringify({ type: "connect", sessionId: crypto.randomUUID(), protocolVersion: 1 })));
        await slow.waitFrame((f) => f.payload.toString().includes('"connected"'), 5000, "connected");
        slow.sock.pause(); // never reads from now on
        await slow.write(wsFrame(OP.TEXT, JSON.stringify({ type: "modifyQuerySet", add: [{ queryId: 1, path: "h:big", args: { n: NINE_MB, tag: "slow" } }] })));
        const writer = await open();
        let cut = false;
        for (let i = 0; i < 12 && !cut; i++) {
            await writer.call("mutation", i, "h:inc", { name: "big" });
            await sleep(100);
            cut = /close 1008 send queue full/.test(srv.stderr.slice(errFrom));
        }
        assert.ok(cut, "the non-reading client was not cut off");
        assert.equal((await metrics(srv)).rssBytes < 1.5e9, true);
    } finally {
        slow.destroy();
    }
});

test("9. a 2 MiB mutation is answered with its requestId; unparsable and early messages get errors with their id", { timeout: 20000 }, async () => {
    const c = await open({ connect: false });
    // before connect: NotConnected names the request
    c.send({ type: "mutation", requestId: 41, path: "h:noop", args: {} });
    const nc = await c.waitMsg("error", { what: "NotConnected" });
    assert.equal(nc.code, "NotConnected");
    assert.equal(nc.requestId, 41, JSON.stringify(nc));
    await c.connect();
    // arguments are allowed up to 16 MiB (docs/functions.md): 2 MiB runs
    const s = "y".repeat(2 << 20);
    const r = await c.call("mutation", 42, "h:len", { s }, {});
    assert.equal(r.success, true, JSON.stringify(r).slice(0, 300));
    assert.equal(r.value, 2 << 20);
    // not JSON (cut short), with the id near the start or the end
    let from = c.mark;
    c.send(`{"type":"mutation","requestId":43,"path":"h:len","args":{"s":"${"z".repeat(1 << 20)}"`);
    let e = await c.waitMsg("error", { from, what: "the error for 43" });
    assert.equal(e.code, "InvalidMessage");
    assert.equal(e.requestId, 43, JSON.stringify(e));
    from = c.mark;
    c.send(`{"type":"mutation","path":"h:len","args":{"s":"${"z".repeat(100000)}"}, "requestId" : "req-44",}`);
    e = await c.waitMsg("error", { from, what: "the error for req-44" });
    assert.equal(e.requestId, "req-44", JSON.stringify(e));
    from = c.mark;
    c.send(`{"type":"modifyQuerySet","add":[{"queryId":45,"path":"h:get","args":{"name":}]}`);
    e = await c.waitMsg("error", { from, what: "the error for query 45" });
    assert.equal(e.queryId, 45, JSON.stringify(e));
    // the connection keeps working
    const ok = await c.call("mutation", 46, "h:noop", {});
    assert.equal(ok.value, "noop");
});

test("11. a clean close (1000) ends the session at once: a resume with its id starts fresh", { timeout: 20000 }, async () => {
    const m0 = await metrics(srv);
    const sessionId = crypto.randomUUID();
    const c = await open({ sessionId });
    const t = await c.subscribe(1, "h:get", { name: "clean" });
    c.close();
    await c.waitClose();
    await metricsWhere((m) => m.sessions === m0.sessions && m.liveQueries === m0.liveQueries, "the session and its query to be gone");
    const again = await open({ sessionId, lastVersion: t.endVersion });
    assert.equal(again.messages.find((m) => m.type === "connected").resumed, false);
    // a dropped connection (no close frame) is retained as before
    const sid2 = crypto.randomUUID();
    const d = await open({ sessionId: sid2 });
    const t2 = await d.subscribe(1, "h:get", { name: "clean" });
    d.terminate();
    await sleep(200);
    const back = await open({ sessionId: sid2, lastVersion: t2.endVersion });
    assert.equal(back.messages.find((m) => m.type === "connected").resumed, true);
});

test("11. writes while a session is detached do not re-run its queries; the resume gets the current results", { timeout: 20000 }, async () => {
    const sessionId = crypto.randomUUID();
    const c = await open({ sessionId });
    const t1 = await c.subscribe(1, "h:all", {});
    const t2 = await c.subscribe(2, "h:get", { name: "away" });
    const t3 = await c.subscribe(3, "h:get", { name: "untouched" });
    const h = { 1: modOf(t1, 1).hash, 2: modOf(t2, 2).hash, 3: modOf(t3, 3).hash };
    const v = t3.endVersion;
    c.terminate();
    await sleep(200);
    const m0 = await metrics(srv);
    for (let i = 0; i < 20; i++) {
        const r = await srv.mutation("h:inc", { name: "away" });
        assert.equal(r.json?.status, "success", r.text);
    }
    await sleep(200);
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryExecutions, 0, `a detached session's queries ran: ${JSON.stringify(d)}`);
    const r = await open({ sessionId, lastVersion: v });
    assert.equal(r.messages.find((m) => m.type === "connected").resumed, true);
    const from = r.mark;
    r.send({ type: "modifyQuerySet", add: [
        { queryId: 1, path: "h:all", args: {}, hash: h[1] },
        { queryId: 2, path: "h:get", args: { name: "away" }, hash: h[2] },
        { queryId: 3, path: "h:get", args: { name: "untouched" }, hash: h[3] },
    ] });
    const t = await r.waitMsg("transition", { from });
    assert.equal(t.startVersion, v);
    assert.equal(modOf(t, 2).type, "QueryUpdated", JSON.stringify(t));
    assert.equal(modOf(t, 2).value, 20);
    assert.equal(modOf(t, 1).type, "QueryUpdated");
    assert.deepEqual(modOf(t, 3), { type: "QueryUnchanged", queryId: 3 });
    await sleep(100);
    const d2 = metricsDelta(m0, await metrics(srv));
    assert.equal(d2.queryExecutions, 2, `the resume re-runs the two invalidated queries only: ${JSON.stringify(d2)}`);
});

test("11. caps: TooManyQueries names the queryId; retained sessions past the cap are evicted oldest first", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("hardening-sync"), { args: ["--max-queries-per-session", "3", "--max-retained-sessions", "2"] });
    servers.push(s);
    const c = await open({ server: s });
    for (let q = 1; q <= 3; q++) await c.subscribe(q, "h:get", { name: "q" + q });
    const from = c.mark;
    c.send({ type: "modifyQuerySet", add: [{ queryId: 4, path: "h:get", args: { name: "q4" } }] });
    const e = await c.waitMsg("error", { from });
    assert.equal(e.code, "TooManyQueries");
    assert.equal(e.queryId, 4);
    assert.match(e.message, /--max-queries-per-session/);
    // more adds than a session may ever hold: one answer, nothing changed (one error per add
    // once made 100,000 adds into 99,000 error frames); bad removes: one answer too
    const from2 = c.mark;
    const many = Array.from({ length: 8000 }, (_, i) => ({ queryId: 100 + i, path: "h:get", args: { name: "x" + i } }));
    c.send({ type: "modifyQuerySet", add: many, remove: [1, ...Array(5000).fill("x")] });
    const e2 = await c.waitMsg("error", { from: from2 });
    assert.equal(e2.code, "TooManyQueries");
    assert.match(e2.message, /`add` holds 8000 queries, more than a session may have \(3: --max-queries-per-session\); nothing was changed/);
    c.send({ type: "modifyQuerySet", remove: [...Array(5000).fill("x"), null] });
    await c.waitMsg((m) => m.type === "error" && m.code === "InvalidMessage", { from: from2 });
    await sleep(300);
    assert.equal(c.messages.slice(from2).filter((m) => m.type === "error").length, 2,
                 JSON.stringify(c.messages.slice(from2).slice(0, 5)));
    assert.ok(!c.messages.slice(from2).some((m) => m.type === "transition" && (m.modifications || []).some((x) => x.queryId === 1 && x.type === "QueryRemoved")),
              "the refused message removed nothing");
    // removing one makes room
    c.send({ type: "modifyQuerySet", remove: [3] });
    await c.subscribe(4, "h:get", { name: "q4" });

    const ids = [], versions = [];
    for (let i = 0; i < 3; i++) {
        const sid = crypto.randomUUID();
        const x = await open({ server: s, sessionId: sid });
        const t = await x.subscribe(1, "h:get", { name: "r" });
        ids.push(sid);
        versions.push(t.endVersion);
        x.terminate();
        await waitFor(async () => (await metrics(s)).connections === 1, { what: "the drop" });
    }
    const m = await metrics(s);
    assert.equal(m.sessions, 3, `1 connected + 2 retained: ${JSON.stringify(m)}`);
    const first = await open({ server: s, sessionId: ids[0], lastVersion: versions[0] });
    assert.equal(first.messages.find((x) => x.type === "connected").resumed, false, "the oldest was evicted");
    const last = await open({ server: s, sessionId: ids[2], lastVersion: versions[2] });
    assert.equal(last.messages.find((x) => x.type === "connected").resumed, true);
});

test("12. connect with another session's id without its secret: refused; the owner keeps its session; the owner resumes with it", { timeout: 20000 }, async () => {
    const sessionId = crypto.randomUUID();
    const owner = await open({ sessionId });
    const conn = owner.messages.find((m) => m.type === "connected");
    assert.match(conn.sessionSecret, /^[0-9a-f]{32}$/);
    const t = await owner.subscribe(1, "h:get", { name: "victim" });
    for (const sessionSecret of [null, "0".repeat(32), conn.sessionSecret.slice(0, 31)]) {
        const thief = await open({ connect: false });
        thief.send({ type: "connect", sessionId, protocolVersion: 1, lastVersion: 0, ...(sessionSecret ? { sessionSecret } : {}) });
        const e = await thief.waitMsg("error");
        assert.equal(e.code, "SessionIdInUse", JSON.stringify(e));
        assert.equal(e.fatal, true);
        const closed = await thief.waitClose();
        assert.equal(closed.code, 1008);
        thief.send = () => {};
        assert.ok(!thief.messages.some((m) => m.type === "transition" || m.type === "connected"), "the thief got the session");
    }
    assert.equal(owner.closed, null, "the owner was closed");
    const from = owner.mark;
    const w = await srv.mutation("h:inc", { name: "victim" });
    const u = await owner.waitMsg((m) => m.type === "transition" && modOf(m, 1), { from });
    assert.equal(modOf(u, 1).value, w.json.value);
    // the real client, across a reconnect, resumes with its secret
    owner.terminate();
    await sleep(100);
    const back = await open({ sessionId, lastVersion: u.endVersion, sessionSecret: conn.sessionSecret });
    const bc = back.messages.find((m) => m.type === "connected");
    assert.equal(bc.resumed, true);
    assert.equal(bc.sessionSecret, conn.sessionSecret);
    const f2 = back.mark;
    back.send({ type: "modifyQuerySet", add: [{ queryId: 1, path: "h:get", args: { name: "victim" }, hash: modOf(u, 1).hash }] });
    const r = await back.waitMsg("transition", { from: f2 });
    assert.deepEqual(modOf(r, 1), { type: "QueryUnchanged", queryId: 1 });
    assert.ok(t);
});

test("12b. a session started afresh keeps its holder's secret, across a reconnect without lastVersion and a restart; a malformed one is not adopted", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("hardening-sync"));
    try {
        const sessionId = crypto.randomUUID();
        const a = await open({ server: s, sessionId });
        const secret = a.messages.find((m) => m.type === "connected").sessionSecret;
        // a mutation's key is scoped to the session: a replay after the fresh start finds it
        const key = crypto.randomUUID();
        assert.equal((await a.call("mutation", 1, "h:inc", { name: "k12b" }, { idempotencyKey: key })).value, 1);
        a.terminate();
        await sleep(100);
        // no lastVersion (a client without live queries): started afresh, same secret
        const b = await open({ server: s, sessionId, sessionSecret: secret });
        const bc = b.messages.find((m) => m.type === "connected");
        assert.equal(bc.resumed, false);
        assert.equal(bc.sessionSecret, secret, "the secret the client saved stays valid");
        b.terminate();
        await sleep(100);
        // a page that died before saving anything newer comes back with that secret: accepted
        const c2 = await open({ server: s, sessionId, sessionSecret: secret });
        assert.equal(c2.messages.find((m) => m.type === "connected").sessionSecret, secret);
        assert.equal((await c2.call("mutation", 1, "h:inc", { name: "k12b" }, { idempotencyKey: key })).value, 1, "replayed, not run again");
        c2.terminate();
    } finally {
        await s.stop();
    }
    // a server that holds no such session (it restarted): the presented secret is adopted
    const r = await startServer(tempDir("hardening-sync"));
    try {
        const sessionId = crypto.randomUUID(), secret = "0123456789abcdef0123456789abcdef";
        const x = await open({ server: r, sessionId, sessionSecret: secret });
        assert.equal(x.messages.find((m) => m.type === "connected").sessionSecret, secret);
        const y = await open({ server: r, sessionId: crypto.randomUUID(), sessionSecret: "NOT-HEX" });
        assert.match(y.messages.find((m) => m.type === "connected").sessionSecret, /^[0-9a-f]{32}$/);
        assert.notEqual(y.messages.find((m) => m.type === "connected").sessionSecret, "NOT-HEX");
    } finally {
        await r.stop();
    }
});

test("13. idempotency keys are scoped to the session and bound to their call", { timeout: 20000 }, async () => {
    const key = crypto.randomUUID();
    const a = await open();
    const first = await a.call("mutation", 1, "h:inc", { name: "k13" }, { idempotencyKey: key });
    assert.equal(first.value, 1);
    // the same key for another function, or other arguments: an error, nothing runs
    const other = await a.call("mutation", 2, "h:noop", {}, { idempotencyKey: key });
    assert.equal(other.success, false);
    assert.equal(other.errorCode, "IdempotencyKeyReused", JSON.stringify(other));
    const args = await a.call("mutation", 3, "h:inc", { name: "k13", by: 100 }, { idempotencyKey: key });
    assert.equal(args.errorCode, "IdempotencyKeyReused", JSON.stringify(args));
    // the replay of the same call: the first result
    const again = await a.call("mutation", 4, "h:inc", { name: "k13" }, { idempotencyKey: key });
    assert.equal(again.value, 1);
    assert.equal(again.version, first.version);
    // another session's key K is its own
    const b = await open();
    const theirs = await b.call("mutation", 1, "h:inc", { name: "k13", by: 100 }, { idempotencyKey: key });
    assert.equal(theirs.success, true, JSON.stringify(theirs));
    assert.equal(theirs.value, 101);
    // HTTP keys are one scope of their own, bound to the call too
    const h1 = await srv.post("/api/mutation", { path: "h:inc", args: { name: "k13" }, idempotencyKey: key });
    assert.equal(h1.json?.value, 102, h1.text);
    const h2 = await srv.post("/api/mutation", { path: "h:inc", args: { name: "k13" }, idempotencyKey: key });
    assert.equal(h2.json?.value, 102, h2.text);
    const h3 = await srv.post("/api/mutation", { path: "h:noop", args: {}, idempotencyKey: key });
    assert.equal(h3.status, 409, h3.text);
    assert.equal(h3.json?.errorCode, "IdempotencyKeyReused");
    assert.equal(await srv.value("query", "h:get", { name: "k13" }), 102);
});

test("14. a live query runs with its arguments in the order the client sent them", { timeout: 20000 }, async () => {
    const args = { obj: { b: 1, a: 2, c: { z: 1, y: 2 } } };
    const c = await open();
    const t = await c.subscribe(1, "h:keys", args);
    const http = await srv.value("query", "h:keys", args);
    assert.deepEqual(http, { top: ["obj"], obj: ["b", "a", "c"] });
    assert.deepEqual(modOf(t, 1).value, http, "live and HTTP see the same arguments");
    // the same arguments in another key order share the live query
    const m0 = await metrics(srv);
    const d = await open();
    await d.subscribe(1, "h:keys", { obj: { a: 2, c: { y: 2, z: 1 }, b: 1 } });
    assert.equal(metricsDelta(m0, await metrics(srv)).liveQueries, 0);
});

test("15. a mutation after a resume, before the first modifyQuerySet, does not move the client past its results", { timeout: 20000 }, async () => {
    const sessionId = crypto.randomUUID();
    const c = await open({ sessionId });
    const t = await c.subscribe(1, "h:get", { name: "r15" });
    const v = t.endVersion;
    c.terminate();
    await sleep(100);
    await srv.mutation("h:inc", { name: "r15" }); // while away
    const r = await open({ sessionId, lastVersion: v });
    const from = r.mark;
    const resp = await r.call("mutation", 1, "h:inc", { name: "r15" });
    assert.equal(resp.success, true);
    await sleep(200);
    assert.deepEqual(r.transitions(from), [], "a transition before the query set is back skips the write made while away");
    r.send({ type: "modifyQuerySet", add: [{ queryId: 1, path: "h:get", args: { name: "r15" }, hash: modOf(t, 1).hash }] });
    const tr = await r.waitMsg("transition", { from });
    assert.equal(tr.startVersion, v);
    assert.ok(tr.endVersion >= resp.version);
    assert.equal(modOf(tr, 1).value, 2);
});

test("16. one session's slow live queries do not hold other clients' writes or queries: re-runs are budgeted, fairly", { timeout: 60000 }, async () => {
    const spins = 1e7, n = 60;
    const hog = await open();
    const from = hog.mark;
    const t0 = Date.now();
    hog.send({ type: "modifyQuerySet", add: Array.from({ length: n }, (_, i) => ({ queryId: i + 1, path: "h:slow", args: { name: "rr", spins, tag: `t${i}` } })) });
    const firstSeen = new Set();
    await waitFor(() => {
        for (const m of hog.messages.slice(from))
            if (m.type === "transition") for (const x of m.modifications) firstSeen.add(x.queryId);
        return firstSeen.size === n;
    }, { timeout: 40000, what: `the ${n} slow queries' first results` });
    const runs = Date.now() - t0; // what re-running them all takes, about
    assert.ok(runs > 600, `the ${n} runs took ${runs} ms: too fast to tell`);
    const other = await open();
    await other.subscribe(1, "h:get", { name: "rr" });
    // a third session's one query costs three of the slow ones: it is not left behind all of
    // them (the queries of the sessions with the fewest to re-run go first)
    const heavy = await open();
    await heavy.subscribe(1, "h:slow", { name: "rr", spins: 3 * spins, tag: "heavy" }, { timeout: 30000 });
    const heavyFrom = heavy.mark;
    // a write both sessions read: the other session's answer comes in far less than the re-runs
    const before = hog.mark;
    const t1 = Date.now();
    const r = await other.call("mutation", 1, "h:inc", { name: "rr" });
    const acked = Date.now() - t1;
    assert.equal(r.success, true, JSON.stringify(r));
    assert.ok(acked < runs / 3, `acknowledged after ${acked} ms; the re-runs take ~${runs} ms`);
    await heavy.waitMsg((m) => m.type === "transition" && m.modifications.some((x) => x.value?.value === 1),
                        { from: heavyFrom, timeout: 30000, what: "the heavy query's update" });
    const heavyAt = Date.now() - t1;
    assert.ok(heavyAt < runs * 0.8, `the heavy query updated after ${heavyAt} ms; all the re-runs take ~${runs + 3 * runs / n} ms`);
    // the slow session still gets every result at the write's version, together
    await waitFor(() => {
        const got = new Map();
        for (const m of hog.messages.slice(before))
            if (m.type === "transition")
                for (const x of m.modifications) if (x.type === "QueryUpdated") got.set(x.queryId, x.value.value);
        return got.size === n && [...got.values()].every((v) => v === 1);
    }, { timeout: 40000, what: "the slow queries' updated results" });
    const ts = hog.messages.slice(before).filter((m) => m.type === "transition" && m.modifications.length);
    assert.equal(ts.length, 1, `one transition holds them all: ${ts.map((t) => t.modifications.length)}`);
});

test("17. connect's lastVersion must be a version: a fraction, a huge number or a string is InvalidMessage", { timeout: 20000 }, async () => {
    for (const lastVersion of [1.5, 1e300, -1, "3"]) {
        const c = await open({ connect: false });
        await assert.rejects(c.connect({ lastVersion }), (e) => /`lastVersion` must be a version: a non-negative integer/.test(e.message));
        c.close();
    }
    const ok = await open({ connect: false });
    await ok.connect({ lastVersion: 0 });
    ok.close();
});

test("18. the fragments of unfinished messages count in the memory budget, and the longest-held large input is shed for others", { timeout: 60000 }, async () => {
    const budget = 3670016; // 3.5 MiB
    const { default: WebSocket } = await import("ws");
    let s, hogs = [];
    async function hog() {
        const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api/sync`);
        await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
        const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
        const connected = new Promise((resolve) => ws.once("message", resolve));
        ws.send(JSON.stringify({ type: "connect", sessionId: crypto.randomUUID(), protocolVersion: 1 }));
        await connected; // a session: no connect deadline ends it
        ws.send(Buffer.alloc(1000000, 0x20), { fin: false, binary: false }); // never finished
        hogs.push({ ws, closed });
        return closed;
    }
    // two unfinished messages of 1 MB (1 MiB buffers each) fit in 3.5 MiB...
    let held, m;
    const tries = [];
    for (let attempt = 0; attempt < 3; attempt++) {
        s = await startServer(tempDir("hardening-sync"), { args: ["--max-buffered-bytes", String(budget)] });
        servers.push(s);
        hogs = [];
        held = [hog(), hog()];
        // both fragments counted once their bytes are in (a slow build takes longer than 500 ms)
        for (let i = 0; i < 100; i++) {
            m = (await s.get("/api/metrics")).json;
            if (m.bufferedBytes >= 2 * 1048576) break;
            await sleep(100);
        }
        if (m.bufferedBytes >= 2 * 1048576) break;
        // the setup did not fill the budget (seen once under ASan on a loaded CI machine: one
        // fragment counted after 10 s): say what the hogs saw, and set it up again
        const codes = await Promise.all(held.map((h) => Promise.race([h, sleep(100).then(() => "open")])));
        tries.push(`${m.bufferedBytes} bytes counted, hogs ${codes.join("/")}, ${hogs.length} sent`);
        for (const h of hogs) h.ws.terminate();
        await s.stop();
    }
    assert.ok(m.bufferedBytes >= 2 * 1048576, `the fragments are counted: ${tries.join("; ")}`);
    // ...a third would pass the budget while it arrives: refused (1013), not held outside it
    const third = hog();
    assert.equal(await Promise.race([third, sleep(3000).then(() => "open")]), 1013);
    // a request that needs more room than is left gets 503 while the hogs are young...
    const body = { s: "x".repeat(1520000) };
    const early = await s.call("mutation", "h:len", body);
    assert.equal(early.status, 503, early.text.slice(0, 200));
    // ...and once one has held its unfinished message 10 s, it is closed to make room
    await sleep(10500);
    const late = await s.call("mutation", "h:len", body);
    assert.equal(late.status, 200, late.text.slice(0, 200));
    assert.equal(late.json.value, 1520000);
    assert.equal(await Promise.race([Promise.race(held), sleep(2000).then(() => "open")]), 1006,
                 "a hog was closed");
    await s.waitStderr(/unfinished message held \d+ bytes for \d+ ms while the server is over its memory budget/);
    for (const h of hogs) h.ws.terminate();
});
