// VireoClient against a real `vireo dev` (tests/integration/apps/sync; needs ./vireo or
// VIREO_BIN): subscribe, query, mutation (read-your-writes), action, errors, onConnectionChange,
// reconnect with resume after the session is taken over, and reconnect after a server restart
// with the mutation queued meanwhile applied once.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { VireoClient, ServerError, ClientError } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep, SyncConn, metrics, metricsDelta } from "../integration/helpers.mjs";

let srv, appDir;
const clients = [];

before(async () => {
    appDir = tempDir("sync");
    srv = await startServer(appDir);
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.stop();
});

function client(opts = {}) {
    const c = new VireoClient(opts.url || srv.url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000, ...opts });
    clients.push(c);
    return c;
}

/* Records (state) transitions of a client. */
function states(c) {
    const seen = [];
    c.onConnectionChange((s, err) => seen.push(err ? `${s}:${err.code || err.message}` : s));
    return seen;
}

test("subscribe, query, mutation with read-your-writes, action", { timeout: 15000 }, async () => {
    const c = client();
    const seen = states(c);
    let last;
    const calls = [];
    const unsub = c.subscribe("messages:bodies", { channel: "#rs1" }, (v) => {
        last = v;
        calls.push(v);
    });
    await waitFor(() => last !== undefined, { what: "first result" });
    assert.deepEqual(last, []);
    assert.equal(c.connectionState().state, "connected");
    assert.deepEqual(seen, ["connected"]);
    assert.equal(c.serverInfo.resumed, false);

    const id = await c.mutation("messages:send", { channel: "#rs1", author: "ada", body: "hi" });
    assert.equal(typeof id, "string");
    assert.deepEqual(last, ["hi"], "the subscription shows the write when the mutation resolves");
    assert.ok(c.version >= 1);

    // a second subscriber of the same query gets the current value at once, one server query
    const m0 = await metrics(srv);
    const second = [];
    const unsub2 = c.subscribe("messages:bodies", { channel: "#rs1" }, (v) => second.push(v));
    await waitFor(() => second.length === 1, { what: "the second subscriber's value" });
    assert.deepEqual(second[0], ["hi"]);
    assert.equal(metricsDelta(m0, await metrics(srv)).queryExecutions, 0, "no new server query for a shared subscription");

    assert.deepEqual(await c.query("messages:bodies", { channel: "#rs1" }), ["hi"]);
    assert.equal(await c.query("counters:get", { name: "rs-none" }), 0);
    assert.equal(await c.action("counters:double", { n: 21 }), 42);

    unsub();
    unsub2();
    await c.mutation("messages:send", { channel: "#rs1", author: "ada", body: "after unsub" });
    assert.equal(calls.length, 2, "no callback after unsubscribe");
});

test("errors: ServerError codes from mutations, actions and failed queries", { timeout: 15000 }, async () => {
    const c = client();
    await assert.rejects(c.mutation("counters:increment", { name: 5 }), (e) => e instanceof ServerError && e.code === "ArgumentValidationError");
    await assert.rejects(c.mutation("nope:missing", {}), (e) => e instanceof ServerError && e.code === "FunctionNotFound");
    await assert.rejects(c.action("counters:increment", { name: "x" }), (e) => e instanceof ServerError && e.code === "WrongFunctionKind");
    await assert.rejects(c.mutation("messages:sendThenThrow", { channel: "#rs2", author: "a", body: "b" }), (e) => e instanceof ServerError && e.code === "FunctionFailed" && /boom after insert/.test(e.message));
    assert.deepEqual(await c.query("messages:bodies", { channel: "#rs2" }), []);
    const errs = [];
    c.subscribe("nope:missing", {}, () => assert.fail("no value expected"), (e) => errs.push(e));
    await waitFor(() => errs.length === 1, { what: "onError" });
    assert.ok(errs[0] instanceof ServerError);
    assert.equal(errs[0].code, "FunctionNotFound");
    await assert.rejects(c.query("points:between", { lo: "a", hi: 1 }), (e) => e instanceof ServerError && e.code === "ArgumentValidationError");
    assert.equal(c.connectionState().state, "connected");
});

test("reconnect and resume after the session is taken over; mutations sent meanwhile apply once", { timeout: 20000 }, async () => {
    const c = client();
    const seen = states(c);
    let last;
    c.subscribe("messages:bodies", { channel: "#rs3" }, (v) => (last = v));
    c.subscribe("messages:bodies", { channel: "#rs3-quiet" }, () => {});
    await waitFor(() => last !== undefined && c.connectionState().state === "connected", { what: "connected" });
    await c.mutation("messages:send", { channel: "#rs3", author: "a", body: "one" });

    // another connection takes the session over: the server closes the client's socket (1008)
    const thief = await SyncConn.open(srv.port);
    await thief.connect({ sessionId: c.sessionId, sessionSecret: c.sessionSecret, lastVersion: c.version });
    await waitFor(() => seen.some((s) => s.startsWith("connecting")), { what: "the client to notice the drop" });
    // written while the client is away (or reconnecting), and a mutation issued meanwhile
    await srv.mutation("messages:send", { channel: "#rs3", author: "b", body: "while away" });
    const m0 = await metrics(srv);
    const p = c.mutation("counters:increment", { name: "rs3" });
    await waitFor(() => c.connectionState().state === "connected" && c.serverInfo.resumed, { timeout: 8000, what: "a resumed connection" });
    assert.equal(await p, 1);
    assert.deepEqual(last, ["one", "while away"]);
    assert.equal(await srv.value("query", "counters:get", { name: "rs3" }), 1);
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.storeVersion, 1, JSON.stringify(d));
    assert.ok(thief.closed || (await thief.waitClose()).code === 1008);
    assert.ok(seen.at(-1) === "connected", JSON.stringify(seen));
    thief.close();
});

test("reconnect after a server restart: fresh session, results, queued mutation applied once", { timeout: 30000 }, async () => {
    const dir = tempDir("sync");
    let s = await startServer(dir);
    const port = s.port;
    const c = client({ url: s.url });
    const seen = states(c);
    let last;
    c.subscribe("counters:get", { name: "rs4" }, (v) => (last = v));
    await waitFor(() => last === 0, { what: "first result" });
    assert.equal(await c.mutation("counters:increment", { name: "rs4" }), 1);
    await s.stop();
    await waitFor(() => c.connectionState().state !== "connected", { what: "the drop" });
    const p = c.mutation("counters:increment", { name: "rs4" });
    await sleep(100);
    s = await startServer(dir, { args: ["--port", String(port)] });
    try {
        assert.equal(s.port, port);
        assert.equal(await p, 2, "the queued mutation is applied once after the reconnect");
        assert.equal(last, 2);
        assert.equal(c.serverInfo.resumed, false, "a restarted server has no sessions");
        assert.equal(await s.value("query", "counters:get", { name: "rs4" }), 2);
        assert.ok(seen.includes("connected") && seen.at(-1) === "connected", JSON.stringify(seen));
        c.close();
        assert.equal(c.connectionState().state, "disconnected");
        await assert.rejects(c.mutation("counters:increment", { name: "rs4" }), (e) => e instanceof ClientError && e.code === "ClientClosed");
    } finally {
        await s.stop();
    }
});

test("a query unsubscribed while disconnected is gone on the server after the resume", { timeout: 20000 }, async () => {
    const c = client();
    let got = 0;
    const unsub = c.subscribe("messages:bodies", { channel: "#rs5" }, () => got++);
    await waitFor(() => got === 1 && c.connectionState().state === "connected", { what: "first result" });
    const m0 = await metrics(srv);
    let unsubscribed = false;
    c.onConnectionChange((s) => {
        if (s !== "connected" && !unsubscribed) {
            unsubscribed = true;
            unsub(); // while disconnected: the resumed session must not keep the query
        }
    });
    const thief = await SyncConn.open(srv.port);
    await thief.connect({ sessionId: c.sessionId, sessionSecret: c.sessionSecret, lastVersion: c.version });
    await waitFor(() => unsubscribed && c.connectionState().state === "connected" && c.serverInfo.resumed, { timeout: 8000, what: "a resumed connection" });
    await thief.waitClose();
    await srv.mutation("messages:send", { channel: "#rs5", author: "a", body: "nobody listens" });
    await sleep(100);
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.liveQueries, -1, `the query nobody subscribes to any more is still live on the server: ${JSON.stringify(d)}`);
    assert.equal(d.queryReruns, 0, `and re-runs on writes: ${JSON.stringify(d)}`);
    assert.equal(got, 1);
});

test("one-shot queries leave no live query behind; an action called while disconnected runs after the reconnect", { timeout: 20000 }, async () => {
    const c = client();
    await c.query("counters:get", { name: "rs6-warmup" });
    await sleep(100);
    const m0 = await metrics(srv);
    assert.equal(await c.query("counters:get", { name: "rs6" }), 0);
    assert.deepEqual(await c.query("messages:bodies", { channel: "#rs6" }), []);
    await sleep(150);
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.liveQueries, 0, `one-shot queries stayed live on the server: ${JSON.stringify(d)}`);

    // drop the connection (takeover), call an action while the client is away
    let dropped = false;
    let action;
    c.onConnectionChange((s) => {
        if (s !== "connected" && !dropped) {
            dropped = true;
            action = c.action("counters:incrementViaAction", { name: "rs6" });
        }
    });
    const thief = await SyncConn.open(srv.port);
    await thief.connect({ sessionId: c.sessionId, sessionSecret: c.sessionSecret, lastVersion: c.version ?? 0 });
    await waitFor(() => dropped, { what: "the drop" });
    assert.equal(await action, 1);
    assert.equal(await srv.value("query", "counters:get", { name: "rs6" }), 1, "the action ran once");
    thief.close();
});
