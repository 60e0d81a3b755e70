// Reactive sync against a real server (apps/sync): first results, updates after relevant writes,
// no re-run for irrelevant ones, exact range boundaries, filter-after-index invalidation,
// suppression of unchanged results, fan-out with one shared live query, throwing mutations,
// per-connection query ids. Each test uses its own channel / range so the shared server's other
// live queries stay out of its counters; counters come from GET /api/metrics.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
    startServer, tempDir, guardServer, guardedTest, assertAppLoaded, sleep,
    SyncConn, modOf, metrics, metricsDelta,
} from "./helpers.mjs";

let srv;
const conns = [];
const start = async () => {
    srv = await startServer(tempDir("sync"));
};

before(async () => {
    await start();
    await assertAppLoaded(srv);
});
guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

afterEach(() => {
    for (const c of conns.splice(0)) c.close();
});
after(async () => {
    if (srv) await srv.stop();
});

async function open() {
    const c = await SyncConn.open(srv.port);
    conns.push(c);
    await c.connect();
    return c;
}

async function send(channel, body, author = "ada") {
    const r = await srv.mutation("messages:send", { channel, author, body });
    assert.equal(r.json?.status, "success", r.text);
    return r.json;
}

const bodiesOf = (t, qid) => modOf(t, qid).value;
/* Time for a frame already sent to reach us (the server flushes before it answers HTTP). */
const settle = () => sleep(80);

test("1. subscribing sends the current result in a transition from the connect version", { timeout: 10000 }, async () => {
    await send("#t1", "before-1");
    await send("#t1", "before-2");
    const c = await open();
    const t = await c.subscribe(1, "messages:bodies", { channel: "#t1" });
    assert.equal(t.startVersion, c.version);
    assert.ok(t.endVersion >= t.startVersion);
    const m = modOf(t, 1);
    assert.equal(m.type, "QueryUpdated");
    assert.deepEqual(m.value, ["before-1", "before-2"]);
    assert.match(m.hash, /^[0-9a-f]{16}$/);
    // full documents carry system fields
    const t2 = await c.subscribe(2, "messages:list", { channel: "#t1" });
    const docs = modOf(t2, 2).value;
    assert.equal(docs.length, 2);
    assert.equal(typeof docs[0]._id, "string");
    assert.equal(typeof docs[0]._creationTime, "number");
    assert.equal(docs[1].body, "before-2");
});

test("2. a relevant write re-runs the query once and sends one transition with the new result", { timeout: 10000 }, async () => {
    const c = await open();
    const t0 = await c.subscribe(1, "messages:bodies", { channel: "#t2" });
    assert.deepEqual(bodiesOf(t0, 1), []);
    await settle();
    const m0 = await metrics(srv);
    const from = c.mark;
    const w = await send("#t2", "hello");
    const t = await c.waitMsg("transition", { from });
    assert.deepEqual(bodiesOf(t, 1), ["hello"]);
    assert.equal(t.startVersion, t0.endVersion);
    assert.equal(t.endVersion, w.version);
    await settle();
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, JSON.stringify(d));
    assert.equal(d.transitions, 1, JSON.stringify(d));
    assert.equal(d.messagesOut, 1, JSON.stringify(d));
    assert.equal(c.transitions(from).length, 1);
});

test("3. a write to another channel re-runs nothing and sends nothing", { timeout: 10000 }, async () => {
    const c = await open();
    await c.subscribe(1, "messages:bodies", { channel: "#t3-general" });
    await settle();
    const m0 = await metrics(srv);
    const from = c.mark;
    await send("#t3-random", "elsewhere");
    await send("#t3-random", "elsewhere again");
    await settle();
    const m1 = await metrics(srv);
    const d = metricsDelta(m0, m1);
    assert.equal(d.storeVersion, 2, "the writes committed");
    assert.equal(d.queryReruns, 0, `irrelevant writes re-ran a query: ${JSON.stringify(d)}`);
    assert.equal(d.queryExecutions, 0, JSON.stringify(d));
    assert.equal(d.invalidations, 0, JSON.stringify(d));
    assert.equal(d.transitions, 0, JSON.stringify(d));
    assert.equal(d.messagesOut, 0, JSON.stringify(d));
    assert.equal(c.mark, from, `got ${JSON.stringify(c.messages.slice(from))}`);
    // control: the same subscription does see a write to its channel
    await send("#t3-general", "here");
    const t = await c.waitMsg("transition", { from });
    assert.deepEqual(bodiesOf(t, 1), ["here"]);
    const d2 = metricsDelta(m1, await metrics(srv));
    assert.equal(d2.queryReruns, 1, JSON.stringify(d2));
});

test("4. gt/lt range: writes on or outside the bounds re-run nothing, writes just inside do", { timeout: 10000 }, async () => {
    const c = await open();
    const t0 = await c.subscribe(1, "points:between", { lo: 10, hi: 20 });
    assert.deepEqual(modOf(t0, 1).value, []);
    await settle();
    const add = async (x) => {
        const r = await srv.mutation("points:add", { x, tag: "a" });
        assert.equal(r.json?.status, "success", r.text);
    };
    for (const x of [10, 20, 9.999, 20.001, -5, 1e6]) {
        const m0 = await metrics(srv);
        const from = c.mark;
        await add(x);
        await settle();
        const d = metricsDelta(m0, await metrics(srv));
        assert.equal(d.queryReruns, 0, `x=${x} is outside (10, 20) but re-ran the query: ${JSON.stringify(d)}`);
        assert.equal(d.transitions, 0, `x=${x}: ${JSON.stringify(d)}`);
        assert.equal(c.mark, from, `x=${x}: got ${JSON.stringify(c.messages.slice(from))}`);
    }
    const seen = [];
    for (const x of [10.001, 19.999, 15]) {
        const m0 = await metrics(srv);
        const from = c.mark;
        await add(x);
        const t = await c.waitMsg("transition", { from });
        seen.push(x);
        assert.deepEqual(modOf(t, 1).value, [...seen].sort((a, b) => a - b), `x=${x}`);
        const d = metricsDelta(m0, await metrics(srv));
        assert.equal(d.queryReruns, 1, `x=${x} is inside (10, 20): ${JSON.stringify(d)}`);
    }
});

test("5. index range then filter: any write in the scanned range re-runs, a non-matching one is suppressed", { timeout: 10000 }, async () => {
    const c = await open();
    const t0 = await c.subscribe(1, "points:taggedBetween", { lo: 100, hi: 200, tag: "keep" });
    assert.deepEqual(modOf(t0, 1).value, []);
    await settle();
    const add = async (x, tag) => {
        const r = await srv.mutation("points:add", { x, tag });
        assert.equal(r.json?.status, "success", r.text);
    };
    // in the scanned range, filtered out: re-run, same result, nothing sent
    let m0 = await metrics(srv);
    let from = c.mark;
    await add(150, "drop");
    await settle();
    let d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, `a write inside the scanned index range must re-run the query: ${JSON.stringify(d)}`);
    assert.equal(d.resultsSuppressed, 1, JSON.stringify(d));
    assert.equal(d.transitions, 0, JSON.stringify(d));
    assert.equal(c.mark, from);
    // outside the scanned range, even with the matching tag: nothing
    m0 = await metrics(srv);
    await add(250, "keep");
    await settle();
    d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 0, JSON.stringify(d));
    assert.equal(c.mark, from);
    // in range and matching: the result changes
    m0 = await metrics(srv);
    from = c.mark;
    await add(120, "keep");
    const t = await c.waitMsg("transition", { from });
    assert.deepEqual(modOf(t, 1).value, [120]);
    d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, JSON.stringify(d));
    assert.equal(d.resultsSuppressed, 0, JSON.stringify(d));
});

test("6. a re-run with the same result is suppressed: no transition, resultsSuppressed goes up", { timeout: 10000 }, async () => {
    const c = await open();
    const t0 = await c.subscribe(1, "messages:hasAny", { channel: "#t6" });
    assert.equal(modOf(t0, 1).value, false);
    let from = c.mark;
    await send("#t6", "first");
    const t1 = await c.waitMsg("transition", { from });
    assert.equal(modOf(t1, 1).value, true);
    await settle();
    for (let i = 0; i < 3; i++) {
        const m0 = await metrics(srv);
        from = c.mark;
        await send("#t6", `more ${i}`);
        await settle();
        const d = metricsDelta(m0, await metrics(srv));
        assert.equal(d.queryReruns, 1, `the write is in the query's range, it must re-run: ${JSON.stringify(d)}`);
        assert.equal(d.resultsSuppressed, 1, JSON.stringify(d));
        assert.equal(d.transitions, 0, JSON.stringify(d));
        assert.equal(d.messagesOut, 0, JSON.stringify(d));
        assert.equal(c.mark, from, `got ${JSON.stringify(c.messages.slice(from))}`);
    }
});

test("7. 50 subscribers of one query share one live query and all get each update", { timeout: 20000 }, async () => {
    const N = 50;
    await settle();
    const m0 = await metrics(srv);
    const cs = await Promise.all(Array.from({ length: N }, () => open()));
    const firsts = await Promise.all(cs.map((c) => c.subscribe(7, "messages:bodies", { channel: "#t7" })));
    for (const t of firsts) assert.deepEqual(modOf(t, 7).value, []);
    await settle();
    const m1 = await metrics(srv);
    let d = metricsDelta(m0, m1);
    assert.equal(d.liveQueries, 1, `50 identical subscriptions must share one live query: ${JSON.stringify(d)}`);
    assert.equal(d.queryExecutions, 1, `one execution for the first result of all 50: ${JSON.stringify(d)}`);
    assert.equal(d.connections, N, JSON.stringify(d));
    const marks = cs.map((c) => c.mark);
    await send("#t7", "fan-out");
    const ts = await Promise.all(cs.map((c, i) => c.waitMsg("transition", { from: marks[i] })));
    for (const t of ts) assert.deepEqual(modOf(t, 7).value, ["fan-out"]);
    await settle();
    d = metricsDelta(m1, await metrics(srv));
    assert.equal(d.queryReruns, 1, `one re-run for all 50 subscribers: ${JSON.stringify(d)}`);
    assert.equal(d.transitions, N, JSON.stringify(d));
    assert.equal(d.messagesOut, N, JSON.stringify(d));
    cs.forEach((c, i) => assert.equal(c.transitions(marks[i]).length, 1));
});

test("9. a mutation that throws after inserting changes nothing and notifies nobody", { timeout: 10000 }, async () => {
    const a = await open();
    const b = await open();
    await a.subscribe(1, "messages:bodies", { channel: "#t9" });
    await b.subscribe(1, "messages:bodies", { channel: "#t9" });
    await b.subscribe(2, "messages:countAll", {});
    await settle();
    const m0 = await metrics(srv);
    const fromA = a.mark, fromB = b.mark;
    const r = await a.call("mutation", 1, "messages:sendThenThrow", { channel: "#t9", author: "x", body: "ghost" });
    assert.equal(r.success, false);
    assert.equal(r.errorCode, "FunctionFailed");
    assert.match(r.errorMessage, /boom after insert/);
    assert.equal(r.version, undefined);
    const h = await srv.mutation("messages:sendThenThrow", { channel: "#t9", author: "x", body: "ghost2" });
    assert.equal(h.json?.errorCode, "FunctionFailed", h.text);
    await settle();
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.storeVersion, 0, JSON.stringify(d));
    assert.equal(d.queryReruns, 0, JSON.stringify(d));
    assert.equal(d.invalidations, 0, JSON.stringify(d));
    assert.equal(d.transitions, 0, JSON.stringify(d));
    assert.equal(d.messagesOut, 1, `only the mutationResponse: ${JSON.stringify(d)}`);
    assert.deepEqual(a.messages.slice(fromA).map((m) => m.type), ["mutationResponse"]);
    assert.equal(b.mark, fromB, `b was notified: ${JSON.stringify(b.messages.slice(fromB))}`);
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#t9" }), []);
});

test("15. query and request ids are per connection", { timeout: 10000 }, async () => {
    const a = await open();
    const b = await open();
    await send("#t15-a", "for a");
    await send("#t15-b", "for b");
    const [ta, tb] = await Promise.all([
        a.subscribe(1, "messages:bodies", { channel: "#t15-a" }),
        b.subscribe(1, "messages:bodies", { channel: "#t15-b" }),
    ]);
    assert.deepEqual(modOf(ta, 1).value, ["for a"]);
    assert.deepEqual(modOf(tb, 1).value, ["for b"]);
    // an update of a's query 1 reaches a only
    const fa = a.mark, fb = b.mark;
    await send("#t15-a", "a again");
    const t = await a.waitMsg("transition", { from: fa });
    assert.deepEqual(modOf(t, 1).value, ["for a", "a again"]);
    await settle();
    assert.equal(b.mark, fb, `b got a's update: ${JSON.stringify(b.messages.slice(fb))}`);
    // same requestId on both: each gets its own answer
    const [ra, rb] = await Promise.all([
        a.call("action", 5, "counters:double", { n: 1 }),
        b.call("action", 5, "counters:double", { n: 10 }),
    ]);
    assert.equal(ra.value, 2);
    assert.equal(rb.value, 20);
    // removing query 1 on a leaves b's query 1 alone
    const fa2 = a.mark, fb2 = b.mark;
    a.send({ type: "modifyQuerySet", add: [], remove: [1] });
    const tr = await a.waitMsg("transition", { from: fa2 });
    assert.deepEqual(tr.modifications, [{ type: "QueryRemoved", queryId: 1 }]);
    await send("#t15-b", "b again");
    const tbb = await b.waitMsg("transition", { from: fb2 });
    assert.deepEqual(modOf(tbb, 1).value, ["for b", "b again"]);
});

test("removing a query and adding its queryId back in one modifyQuerySet: removal first, query stays live", { timeout: 10000 }, async () => {
    const c = await open();
    await c.subscribe(1, "messages:bodies", { channel: "#reuse-a" });
    const from = c.mark;
    c.send({ type: "modifyQuerySet", add: [{ queryId: 1, path: "messages:bodies", args: { channel: "#reuse-b" } }], remove: [1] });
    const t = await c.waitMsg("transition", { from });
    // a client applies the modifications in order: the QueryRemoved must not come last
    const types = t.modifications.map((m) => `${m.type}:${m.queryId}`);
    assert.deepEqual(types, ["QueryRemoved:1", "QueryUpdated:1"], `modification order ${JSON.stringify(types)}`);
});

test("removing the last subscriber drops the live query; args are matched whatever their key order", { timeout: 10000 }, async () => {
    const a = await open();
    const b = await open();
    await settle();
    const m0 = await metrics(srv);
    await a.subscribe(1, "points:between", { lo: 1000, hi: 2000 });
    await b.subscribe(9, "points:between", { hi: 2000, lo: 1000 });
    await a.subscribe(2, "points:between", { lo: 1000, hi: 2000 }); // same query twice in a session
    await settle();
    assert.equal(metricsDelta(m0, await metrics(srv)).liveQueries, 1);
    let from = a.mark;
    a.send({ type: "modifyQuerySet", remove: [1, 2, 77] });
    const t = await a.waitMsg("transition", { from });
    assert.deepEqual(t.modifications.map((m) => m.type).sort(), ["QueryRemoved", "QueryRemoved"]);
    await settle();
    assert.equal(metricsDelta(m0, await metrics(srv)).liveQueries, 1, "b still holds it");
    // a write in range reaches b only
    from = a.mark;
    const fb = b.mark;
    await srv.mutation("points:add", { x: 1500, tag: "z" });
    const tb = await b.waitMsg("transition", { from: fb });
    assert.deepEqual(modOf(tb, 9).value, [1500]);
    await settle();
    assert.equal(a.mark, from);
    b.send({ type: "modifyQuerySet", remove: [9] });
    await b.waitMsg("transition", { from: b.mark });
    await settle();
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.liveQueries, 0, JSON.stringify(d));
    // and nothing re-runs for it any more
    const m1 = await metrics(srv);
    await srv.mutation("points:add", { x: 1600, tag: "z" });
    await settle();
    assert.equal(metricsDelta(m1, await metrics(srv)).queryReruns, 0);
});

test("transitions chain: each startVersion is the previous endVersion, responses never run ahead", { timeout: 15000 }, async () => {
    const readers = await Promise.all(Array.from({ length: 4 }, () => open()));
    await Promise.all(readers.map((c, i) => c.subscribe(1, "counters:get", { name: "chain" }).then(() => (i % 2 ? c.subscribe(2, "messages:bodies", { channel: `#chain${i}` }) : null))));
    const writers = await Promise.all(Array.from({ length: 3 }, () => open()));
    for (let j = 0; j < 60; j++)
        for (const w of writers)
            w.send(j % 3
                ? { type: "mutation", requestId: j, path: "counters:increment", args: { name: "chain" } }
                : { type: "mutation", requestId: j, path: "messages:send", args: { channel: `#chain${j % 4}`, author: "w", body: `b${j}` } });
    await Promise.all(writers.map((w) => w.waitMsg((m) => m.type === "mutationResponse" && m.requestId === 59, { timeout: 10000 })));
    // one more write after everything, so every reader ends at the final counter value
    const last = await srv.mutation("counters:increment", { name: "chain" });
    await Promise.all(readers.map((c) => c.waitMsg((m) => m.type === "transition" && m.endVersion === last.json.version)));
    for (const c of [...readers, ...writers]) {
        let v = c.messages.find((m) => m.type === "connected").version;
        let counter;
        for (const m of c.messages) {
            if (m.type === "transition") {
                assert.equal(m.startVersion, v, `transition chain broken: ${JSON.stringify(m).slice(0, 200)}`);
                assert.ok(m.endVersion >= m.startVersion);
                v = m.endVersion;
                const mo = modOf(m, 1);
                if (mo) counter = mo.value;
            } else if (m.type === "mutationResponse") {
                assert.equal(m.success, true, JSON.stringify(m));
                assert.ok(m.version <= v, `response at version ${m.version} before the session reached it (at ${v})`);
            }
        }
        if (readers.includes(c)) assert.equal(counter, 121);
    }
});

test("a session taken over by another connection: the old one is closed with 1008", { timeout: 10000 }, async () => {
    const a = await open();
    const t = await a.subscribe(1, "messages:bodies", { channel: "#takeover" });
    const b = await SyncConn.open(srv.port);
    conns.push(b);
    const conn = await b.connect({ sessionId: a.sessionId, lastVersion: t.endVersion });
    assert.equal(conn.resumed, true);
    const closed = await a.waitClose();
    assert.equal(closed.code, 1008);
    // without lastVersion the session starts afresh (and the holder is closed too)
    const c = await SyncConn.open(srv.port);
    conns.push(c);
    const conn2 = await c.connect({ sessionId: a.sessionId });
    assert.equal(conn2.resumed, false);
    assert.equal((await b.waitClose()).code, 1008);
    const from = c.mark;
    await send("#takeover", "fresh session has no queries");
    await settle();
    assert.equal(c.mark, from, `a fresh session got ${JSON.stringify(c.messages.slice(from))}`);
});

test("after a resume, queries not re-added yet are not sent", { timeout: 10000 }, async () => {
    const a = await open();
    const t = await a.subscribe(1, "messages:bodies", { channel: "#stale" });
    a.terminate();
    await settle();
    const b = await SyncConn.open(srv.port);
    conns.push(b);
    await b.connect({ sessionId: a.sessionId, lastVersion: t.endVersion });
    const from = b.mark;
    await send("#stale", "written before the client re-added anything");
    await settle();
    // the doc: the client re-adds what it wants in its first modifyQuerySet; until then the
    // retained queries are the server's, not the client's
    assert.deepEqual(b.transitions(from).flatMap((x) => x.modifications), [], "an update for a query the client has not re-added");
});

test("read sets: descending first(), take(2), point reads, patches moving a document, deletes, actions", { timeout: 15000 }, async () => {
    const c = await open();
    let from = c.mark;
    const wait = async (qid, what) => {
        const t = await c.waitMsg((m) => m.type === "transition" && modOf(m, qid), { from, what });
        from = c.mark;
        return modOf(t, qid).value;
    };
    await c.subscribe(1, "messages:latest", { channel: "#rs" });
    await c.subscribe(2, "messages:firstTwo", { channel: "#rs" });
    from = c.mark;
    const id1 = (await send("#rs", "m1")).value;
    assert.equal(await wait(1, "latest m1"), "m1");
    await send("#rs", "m2");
    assert.equal(await wait(1, "latest m2: a newer document above a descending first()"), "m2");
    await send("#rs", "m3");
    assert.equal(await wait(1, "latest m3"), "m3");
    assert.deepEqual(c.transitions().flatMap((t) => t.modifications).filter((m) => m.queryId === 2).at(-1).value, ["m1", "m2"]);

    // point read: patch and delete of the document re-run it
    await c.subscribe(3, "messages:byId", { id: id1 });
    from = c.mark;
    const fe = from;
    await srv.mutation("messages:edit", { id: id1, body: "m1 edited" });
    assert.equal(await wait(3, "byId after patch"), "m1 edited");
    const te = c.transitions(fe).at(-1);
    assert.deepEqual(modOf(te, 2)?.value, ["m1 edited", "m2"], "take(2) in the same transition as the point read");
    assert.equal(modOf(te, 1), undefined, "latest (m3) did not change");
    await srv.mutation("messages:remove", { id: id1 });
    assert.equal(await wait(3, "byId after delete"), null);

    // a patch moving a point out of a range updates it; moving it back in too
    await c.subscribe(4, "points:between", { lo: 5000, hi: 6000 });
    from = c.mark;
    const pid = (await srv.mutation("points:add", { x: 5500, tag: "m" })).json.value;
    assert.deepEqual(await wait(4, "point in"), [5500]);
    await srv.mutation("points:move", { id: pid, x: 7000 });
    assert.deepEqual(await wait(4, "point moved out"), []);
    await srv.mutation("points:move", { id: pid, x: 5001 });
    assert.deepEqual(await wait(4, "point moved back in"), [5001]);

    // a write made by an action through ctx.runMutation reaches subscribers
    await c.subscribe(5, "counters:get", { name: "via-action" });
    from = c.mark;
    const r = await c.call("action", 1, "counters:incrementViaAction", { name: "via-action" });
    assert.equal(r.value, 1, JSON.stringify(r));
    assert.equal(await wait(5, "counter after the action"), 1);

    // a full table scan is invalidated by any insert
    await c.subscribe(6, "messages:countAll", {});
    from = c.mark;
    const before = await srv.value("query", "messages:countAll", {});
    await send(`#rs-anywhere-${Date.now()}`, "x");
    assert.equal(await wait(6, "countAll"), before + 1);
});

test("a mutation's args reach the function as sent, whatever the frame's spacing, order and escapes", { timeout: 10000 }, async () => {
    // the server hands the runtime the `args` text of the frame as received (no re-printing):
    // every value must come out as JSON.parse reads the whole frame
    const c = await open();
    const bodies = [
        "}{][\",:\\", "tab\there \u00e9\u4e2d \ud83d\ude00", "a\u0000b", "{\"args\": {}}", " ",
    ];
    const frames = [
        // args first, spaces and newlines everywhere, a string holding braces, quotes and escapes
        `{ "args" :\n { "channel" : "#raw", "author":"a1" , "body" : ${JSON.stringify(bodies[0])} } ,"type":"mutation", "requestId": 1, "path":"messages:send"}`,
        // \u escapes and raw UTF-8 in values
        `{"type":"mutation","requestId":2,"path":"messages:send","args":{"channel":"#raw","author":"a2","body":"tab\\there \\u00e9\u4e2d \\ud83d\\ude00"}}`,
        // U+0000 inside a string value
        `{"type":"mutation","requestId":3,"path":"messages:send","args":{"channel":"#raw","author":"a3","body":"a\\u0000b"}}`,
        // a key escaped as \u0061rgs: the parsed object, printed again, is what runs
        `{"type":"mutation","requestId":4,"path":"messages:send","\\u0061rgs":{"channel":"#raw","author":"a4","body":"{\\"args\\": {}}"}}`,
        // an `args` member nested in another member comes before the real one
        `{"x":{"args":{"channel":"#wrong"}},"type":"mutation","requestId":5,"path":"messages:send","args":{"body":" ","author":"a5","channel":"#raw"}}`,
    ];
    for (let i = 0; i < frames.length; i++) {
        const from = c.mark;
        c.send(frames[i]);
        const r = await c.waitMsg((m) => m.type === "mutationResponse" && m.requestId === i + 1, { from });
        assert.equal(r.success, true, JSON.stringify(r));
    }
    const docs = await srv.value("query", "messages:list", { channel: "#raw" });
    assert.deepEqual(docs.map((d) => [d.author, d.body]), bodies.map((b, i) => [`a${i + 1}`, b]));
    assert.deepEqual(await srv.value("query", "messages:list", { channel: "#wrong" }), []);
});
