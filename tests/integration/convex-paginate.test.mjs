// Convex's query journal (issue 10, item 1) on apps/paginate with the real `convex` client
// (ConvexClient from "convex/browser": onPaginatedUpdate_experimental, Convex 1.48's paginated
// query client, which never passes endCursor itself): a live page's end stays where its first
// run ended while rows are inserted before, inside and after it and deleted in it (re-runs
// counted on /api/metrics), the next page continues exactly from it; the journal comes back in
// the client's Add after a killed connection and the page's end holds; subscriptions with other
// journals are not shared; tampered, foreign and oversized journals are refused while the server
// keeps serving; a second paginate() in one function gets Convex's error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startServer, tempDir, assertAppLoaded, sleep, waitFor, metrics, metricsDelta } from "./helpers.mjs";

let srv;
const clients = [];
const raws = [];

before(async () => {
    srv = await startServer(tempDir("paginate"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const r of raws) r.ws.terminate();
    if (srv) await srv.stop();
});

const settle = () => sleep(100);
const fill = (list, ns) => srv.value("mutation", "items:addMany", { list, ns });
const removeN = (list, n) => srv.value("mutation", "items:removeN", { list, n });

/* A ConvexClient whose WebSocket records what the client sends and what it receives. */
function client() {
    const sent = [], got = [];
    class Recording extends WebSocket {
        constructor(url, protocols) {
            super(url, protocols);
            this.addEventListener("message", (e) => got.push(JSON.parse(e.data)));
        }
        send(data) {
            sent.push(JSON.parse(data));
            super.send(data);
        }
    }
    const c = new ConvexClient(srv.url, { logger: false, webSocketConstructor: Recording });
    clients.push(c);
    return { c, sent, got };
}

/* The pages of a paginated subscription: the latest result, kept by the callback. */
function paginated(c, args, initialNumItems) {
    const s = { last: null, error: null };
    c.onPaginatedUpdate_experimental(api.items.page, args, { initialNumItems }, (r) => (s.last = r), (e) => (s.error = e));
    return s;
}

/* Every QueryUpdated the client received. */
const updates = (got) => got.filter((m) => m.type === "Transition").flatMap((m) => m.modifications).filter((m) => m.type === "QueryUpdated");

const range = (a, b, step = 1) => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

test("a live page keeps its end; the next page continues from it; re-runs are exact", { timeout: 30000 }, async () => {
    await fill("live", range(10, 100, 10));
    const { c, got } = client();
    const s = paginated(c, { list: "live", lo: 10 }, 3);
    await waitFor(() => s.last?.status === "CanLoadMore", { what: "the first page" });
    assert.deepEqual(s.last.results, [10, 20, 30]);
    const first = updates(got)[0];
    assert.equal(typeof first.journal, "string", "a paginated query's QueryUpdated carries its journal");
    assert.equal(first.journal, first.value.continueCursor, "the journal is opaque, its end cursor");
    assert.ok(s.last.loadMore(3));
    await waitFor(() => s.last.results.length === 6 && s.last.status === "CanLoadMore", { what: "the second page" });
    assert.deepEqual(s.last.results, [10, 20, 30, 40, 50, 60]);
    await settle();
    const step = async (what, fn, reruns, results) => {
        const m0 = await metrics(srv);
        await fn();
        if (results) await waitFor(() => JSON.stringify(s.last.results) === JSON.stringify(results), { what, timeout: 5000 }).catch(() => {
            assert.deepEqual(s.last.results, results, what);
        });
        await settle();
        const d = metricsDelta(m0, await metrics(srv));
        assert.equal(d.queryReruns, reruns, `${what}: ${JSON.stringify(d)}`);
        if (results) assert.deepEqual(s.last.results, results, what);
    };
    await step("insert before the range", () => fill("live", [5]), 0);
    await step("insert in another list", () => fill("live2", [25]), 0);
    // without the journal the first page would re-run to 3 rows ([10, 20, 25]) and 30 would fall
    // into the gap before the second page's start
    await step("insert inside the first page: it grows", () => fill("live", [25]), 1, [10, 20, 25, 30, 40, 50, 60]);
    await step("insert between the pages: the second grows", () => fill("live", [35]), 1, [10, 20, 25, 30, 35, 40, 50, 60]);
    await step("insert after the last loaded page", () => fill("live", [65, 1000]), 0, [10, 20, 25, 30, 35, 40, 50, 60]);
    await step("delete inside the first page", () => removeN("live", 20), 1, [10, 25, 30, 35, 40, 50, 60]);
    await step("insert at the first page's start", () => fill("live", [10.5]), 1, [10, 10.5, 25, 30, 35, 40, 50, 60]);
    // the third page continues exactly after the second's end
    assert.ok(s.last.loadMore(3));
    await waitFor(() => s.last.results.length === 11, { what: "the third page" });
    assert.deepEqual(s.last.results, [10, 10.5, 25, 30, 35, 40, 50, 60, 65, 70, 80]);
    // every row exactly once, in order: the pages neither overlap nor leave gaps
    const all = await srv.value("query", "items:page", { list: "live", lo: 10, paginationOpts: { numItems: 11, cursor: null } });
    assert.deepEqual(s.last.results, all.page);
    // a re-run with the journal is the same page as with the journal's cursor passed as endCursor
    const p1 = updates(got).filter((m) => m.journal === first.journal).at(-1);
    const explicit = await srv.value("query", "items:page", { list: "live", lo: 10, paginationOpts: { numItems: 3, cursor: null, endCursor: first.journal } });
    assert.deepEqual(p1.value.page, explicit.page);
    assert.equal(p1.value.continueCursor, first.journal);
    assert.equal(p1.value.isDone, false);
});

test("the journal survives a reconnect: the client re-adds with it and the page's end holds", { timeout: 30000 }, async () => {
    await fill("rc", range(10, 60, 10));
    const { c, sent, got } = client();
    const s = paginated(c, { list: "rc", lo: 10 }, 3);
    await waitFor(() => s.last?.status === "CanLoadMore", { what: "the first page" });
    assert.deepEqual(s.last.results, [10, 20, 30]);
    const journal = updates(got)[0].journal;
    assert.equal(typeof journal, "string");
    const adds = () => sent.filter((m) => m.type === "ModifyQuerySet").flatMap((m) => m.modifications).filter((m) => m.type === "Add");
    assert.equal(adds().length, 1);
    assert.equal(adds()[0].journal, undefined, "the first Add has no journal");
    await fill("rc", [15]);
    await waitFor(() => s.last.results.length === 4, { what: "the page growing" });
    // the TCP connection dies (no close frame); rows are inserted inside, at the end of and after
    // the page while the client is away
    c.client.webSocketManager.socket.ws._socket.destroy();
    await waitFor(() => !c.connectionState().isWebSocketConnected, { what: "the client to notice" });
    await fill("rc", [25, 29, 31, 35]);
    await waitFor(() => adds().length === 2, { timeout: 10000, what: "the re-add" });
    assert.equal(adds()[1].journal, journal, "the client sends the journal back");
    await waitFor(() => s.last.results.length === 6, { timeout: 10000, what: "the page after the reconnect" });
    assert.deepEqual(s.last.results, [10, 15, 20, 25, 29, 30]);
    assert.equal(c.connectionState().connectionCount, 2);
    // a fresh subscription (no journal) gets a page of its own, ending after numItems rows
    const { c: c2 } = client();
    const s2 = paginated(c2, { list: "rc", lo: 10 }, 3);
    await waitFor(() => s2.last?.status === "CanLoadMore", { what: "the fresh page" });
    assert.deepEqual(s2.last.results, [10, 15, 20]);
    await settle();
    assert.deepEqual(s.last.results, [10, 15, 20, 25, 29, 30]);
    // its next page starts after its own end
    assert.ok(s2.last.loadMore(10));
    await waitFor(() => s2.last.status === "Exhausted", { what: "the fresh page's second page" });
    assert.deepEqual(s2.last.results, [10, 15, 20, 25, 29, 30, 31, 35, 40, 50, 60]);
});

/* A raw Convex sync connection: frames in, parsed messages out. */
async function raw() {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/1.48.0/sync`);
    const r = { ws, msgs: [], closed: null, qs: 0 };
    ws.on("message", (d) => r.msgs.push(JSON.parse(d.toString())));
    ws.on("close", (code, reason) => (r.closed = { code, reason: reason.toString() }));
    r.send = (m) => ws.send(JSON.stringify(m));
    /* adds one query and waits for its first modification */
    r.add = async (queryId, args, journal, udfPath = "items:page") => {
        const m = { type: "Add", queryId, udfPath, args: [args] };
        if (journal !== undefined) m.journal = journal;
        r.send({ type: "ModifyQuerySet", baseVersion: r.qs, newVersion: r.qs + 1, modifications: [m] });
        r.qs++;
        return r.mod(queryId);
    };
    r.mod = (queryId, from = 0) => waitFor(() => r.msgs.slice(from).filter((x) => x.type === "Transition").flatMap((x) => x.modifications).find((x) => x.queryId === queryId), { what: `a modification of query ${queryId}` });
    raws.push(r);
    await once(ws, "open");
    r.send({ type: "Connect", sessionId: crypto.randomUUID(), connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() });
    return r;
}

const pageArgs = (list, numItems = 3) => ({ list, lo: 10, paginationOpts: { numItems, cursor: null } });

test("subscriptions with different journals are not shared; the same journal is", { timeout: 20000 }, async () => {
    await fill("dd", range(10, 60, 10));
    const a = await raw();
    const ma = await a.add(0, pageArgs("dd"));
    assert.deepEqual(ma.value.page, [10, 20, 30]);
    const ja = ma.journal;
    await fill("dd", [15]);
    await waitFor(() => a.msgs.filter((x) => x.type === "Transition").flatMap((x) => x.modifications).some((x) => x.queryId === 0 && x.value.page.length === 4), { what: "a's page growing" });
    const m0 = await metrics(srv);
    // no journal: a fresh page, ending 3 rows in
    const b = await raw();
    const mb = await b.add(0, pageArgs("dd"));
    assert.deepEqual(mb.value.page, [10, 15, 20]);
    assert.notEqual(mb.journal, ja);
    // a's journal: a's page, shared with a's query (no new live query)
    const c = await raw();
    const mc = await c.add(0, pageArgs("dd"), ja);
    assert.deepEqual(mc.value.page, [10, 15, 20, 30]);
    assert.equal(mc.journal, ja);
    const d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.liveQueries, 1, `one new live query (b's): ${JSON.stringify(d)}`);
    assert.equal(d.queryExecutions, 1, `c shares a's: ${JSON.stringify(d)}`);
    // a write inside both pages re-runs both once; b's end holds too
    const from = [a.msgs.length, b.msgs.length, c.msgs.length];
    await fill("dd", [12]);
    assert.deepEqual((await a.mod(0, from[0])).value.page, [10, 12, 15, 20, 30]);
    assert.deepEqual((await b.mod(0, from[1])).value.page, [10, 12, 15, 20]);
    assert.deepEqual((await c.mod(0, from[2])).value.page, [10, 12, 15, 20, 30]);
    // a non-paginated query has no journal
    const e = await raw();
    const me = await e.add(0, { list: "dd" }, undefined, "items:twice");
    assert.equal(me.type, "QueryFailed");
    assert.equal(me.journal, null);
});

test("tampered, foreign and oversized journals are refused; the connection and server keep serving", { timeout: 20000 }, async () => {
    await fill("tj", range(10, 60, 10));
    const r = await raw();
    const good = await r.add(0, pageArgs("tj"));
    const j = good.journal;
    assert.equal(typeof j, "string");
    const refused = async (qid, args, journal, re) => {
        const m = await r.add(qid, args, journal);
        assert.equal(m.type, "QueryFailed", JSON.stringify(m));
        assert.match(m.errorMessage, /InvalidCursor: /);
        assert.match(m.errorMessage, re, m.errorMessage);
    };
    // every single-character change
    let qid = 1;
    for (let i = 0; i < j.length; i += Math.max(1, Math.floor(j.length / 10))) {
        const ch = j[i] === "A" ? "B" : "A";
        await refused(qid++, pageArgs("tj"), j.slice(0, i) + ch + j.slice(i + 1), /query journal (was modified|`[^`]*` is not one this server issued)/);
    }
    await refused(qid++, pageArgs("tj"), "not a journal", /query journal `not a journal` is not one this server issued/);
    await refused(qid++, pageArgs("tj"), j.slice(0, -3), /query journal/);
    // refused even by a query that does not paginate
    // (one character flipped in the middle: a journal whose last two characters happened to be
    // "AA" was left unchanged by the old `slice(0, -2) + "AA"`, and then refused as another query's)
    const mid = j.length >> 1;
    const np = await r.add(qid++, { list: "tj" }, j.slice(0, mid) + (j[mid] === "A" ? "B" : "A") + j.slice(mid + 1), "items:twice");
    assert.match(np.errorMessage, /InvalidCursor: the query journal (was modified|`[^`]*` is not one this server issued)/);
    // a real journal of another query (another list: another index range; another order)
    await refused(qid++, pageArgs("other"), j, /query journal is from a different query/);
    await refused(qid++, { ...pageArgs("tj"), order: "desc" }, j, /query journal is from a different query/);
    // the connection still serves: the good journal, a new query
    const again = await r.add(qid++, pageArgs("tj"), j);
    assert.deepEqual(again.value.page, [10, 20, 30]);
    assert.equal(r.closed, null);
    // past the size bound the Add itself is refused: FatalError and close
    const big = await raw();
    big.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 0, udfPath: "items:page", args: [pageArgs("tj")], journal: "A".repeat(16385) }] });
    const fatal = await waitFor(() => big.msgs.find((m) => m.type === "FatalError"), { what: "FatalError" });
    assert.match(fatal.error, /`journal` is not one this server issued \(16385 bytes; a journal holds at most 16384\)/);
    await waitFor(() => big.closed, { what: "the close" });
    assert.equal(big.closed.code, 1008);
    const nul = await raw();
    nul.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 0, udfPath: "items:page", args: [pageArgs("tj")], journal: "A\u0000B" }] });
    assert.match((await waitFor(() => nul.msgs.find((m) => m.type === "FatalError"), { what: "FatalError" })).error, /with U\+0000/);
    // the server keeps serving
    const fresh = await raw();
    assert.deepEqual((await fresh.add(0, pageArgs("tj"))).value.page, [10, 20, 30]);
});

test("a second paginate() in one function gets Convex's error", async () => {
    await fill("tw", [1, 2, 3]);
    const { c } = client();
    let err;
    c.onUpdate(api.items.twice, { list: "tw" }, () => {}, (e) => (err = e));
    await waitFor(() => err, { what: "the error" });
    assert.match(err.message, /Uncaught Error: This query or mutation function ran multiple paginated queries\. Convex only supports a single paginated query in each function\./);
    const x = await srv.query("items:twice", { list: "tw" });
    assert.equal(x.json?.status, "error", x.text);
    assert.equal(x.json.errorMessage, "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.");
});

test("a page whose end cursor is over the journal's bound fails with JournalTooLarge; without a journal it runs", async () => {
    // the index key of the page's last row holds the list name: 13,000 bytes make a cursor past
    // the 16,384 bytes a journal holds
    const list = "L".repeat(13000);
    await fill(list, [10, 20]);
    const r = await raw();
    const m = await r.add(0, { list, paginationOpts: { numItems: 1, cursor: null } });
    assert.equal(m.type, "QueryFailed", JSON.stringify(m).slice(0, 300));
    assert.match(m.errorMessage, /^\[Request ID: [0-9a-f]{16}\] Server Error\nJournalTooLarge: paginate\(\): this page's end cursor is \d+ bytes, more than the 16384 a query journal holds/);
    // Vireo's HTTP API runs no journal: the same page works
    const p = await srv.value("query", "items:page", { list, paginationOpts: { numItems: 1, cursor: null } });
    assert.deepEqual(p.page, [10]);
    assert.ok(p.continueCursor.length > 16384);
    // the connection keeps serving
    assert.deepEqual((await r.add(1, pageArgs("tj"))).value.page, [10, 20, 30]);
});
