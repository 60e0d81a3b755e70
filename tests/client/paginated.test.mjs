// VireoClient.paginatedQuery against a real `vireo dev` (tests/integration/apps/client-paginate):
// pages load and get their ends fixed, status transitions, rows inserted before, inside and after
// the loaded pages and deleted inside them (exact results, no duplicates or gaps, no re-run past
// the last page), loadMore to exhaustion, page splits (too big, SplitRecommended,
// SplitRequired), restarts on InvalidCursor (a damaged cursor, a changed range) without a flash,
// errors, and unsubscribe releasing every page's query on the server.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { VireoClient, PaginatedQuery } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep, metrics, metricsDelta } from "../integration/helpers.mjs";

let srv, writer;
const clients = [];

before(async () => {
    srv = await startServer(tempDir("client-paginate"));
    await assertAppLoaded(srv);
    writer = client();
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.stop();
});

function client() {
    const c = new VireoClient(srv.url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000 });
    clients.push(c);
    return c;
}

const range = (a, b, step = 1) => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);
const add = (list, ns) => writer.mutation("items:addMany", { list, ns });
const all = async (list) => (await srv.value("query", "items:page", { list, paginationOpts: { numItems: 8192, cursor: null } })).page;

/* Subscribes to a paginated query and checks every state it is given: results strictly
 * increasing (no duplicate, in order), and never back to "LoadingFirstPage" or to no results
 * once a page showed (no flash). */
function watch(h) {
    const w = { states: [], errors: [] };
    let loaded = false;
    w.unsubscribe = h.subscribe((s) => {
        w.states.push(s);
        for (let i = 1; i < s.results.length; i++)
            assert.ok(s.results[i] > s.results[i - 1], `results in order without duplicates: ${JSON.stringify(s.results)}`);
        if (loaded) {
            assert.notEqual(s.status, "LoadingFirstPage", "no flash back to the first page's loading");
            assert.ok(s.results.length > 0, "no flash to an empty list");
        }
        if (s.results.length) loaded = true;
    }, (e) => w.errors.push(e));
    return w;
}

async function until(h, want, what) {
    await waitFor(() => want(h.current), { timeout: 8000, what: `${what}; now ${JSON.stringify({ status: h.current.status, results: h.current.results })}` });
}

async function showing(h, results, status) {
    await until(h, (s) => JSON.stringify(s.results) === JSON.stringify(results) && (!status || s.status === status),
                `results ${JSON.stringify(results)} ${status ?? ""}`);
}

/* The live page queries of a client: their paginationOpts. */
const pages = (c) => [...c.queryStore.entries.values()].filter((e) => e.path === "items:page" && e.refCount > 0)
    .map((e) => e.args.paginationOpts);

/* The live pages in list order if they form one chain (the first starts at null, each next one
 * where the one before ends, nothing left over), else null (e.g. while a split is pending). */
function chainOf(c) {
    const rest = pages(c);
    const out = [];
    let cursor = null;
    while (rest.length) {
        const i = rest.findIndex((o) => o.cursor === cursor);
        if (i < 0) return null;
        out.push(rest[i]);
        cursor = rest[i].endCursor;
        rest.splice(i, 1);
    }
    return out;
}

function chain(c) {
    const ch = chainOf(c);
    assert.ok(ch, `the pages do not form one chain: ${JSON.stringify(pages(c))}`);
    return ch;
}

async function fixed(c, n) {
    await waitFor(() => {
        const p = chainOf(c);
        return p?.length === n && p.every((o) => typeof o.endCursor === "string");
    }, { timeout: 8000, what: `${n} fixed pages; have ${JSON.stringify(pages(c))}` });
}

test("pages load in order, their ends get fixed, statuses as Convex's usePaginatedQuery", { timeout: 30000 }, async () => {
    await add("a", range(10, 300, 10));
    const c = client();
    const h = c.paginatedQuery("items:page", { list: "a" }, { initialNumItems: 5 });
    assert.ok(h instanceof PaginatedQuery);
    assert.deepEqual([h.current.status, h.current.results, h.current.isLoading], ["LoadingFirstPage", [], true]);
    const w = watch(h);
    await showing(h, range(10, 50, 10), "CanLoadMore");
    assert.equal(h.current.isLoading, false);
    h.current.loadMore(5);
    assert.equal(h.current.status, "LoadingMore", "loadMore switches to LoadingMore at once");
    assert.equal(h.current.isLoading, true);
    assert.equal(h.loadMore(5), false, "no second page while one is loading");
    await showing(h, range(10, 100, 10), "CanLoadMore");
    assert.equal(h.loadMore(5), true);
    await showing(h, range(10, 150, 10), "CanLoadMore");
    await fixed(c, 3);
    // the pages chain: each starts where the one before ends
    assert.deepEqual(chain(c).map((o) => o.numItems), [5, 5, 5]);
    await sleep(100);
    assert.deepEqual(w.states.map((s) => s.status),
                     ["CanLoadMore", "LoadingMore", "CanLoadMore", "LoadingMore", "CanLoadMore"],
                     "one state per change: fixing a page's end shows nothing new");
    // a second subscriber gets the current state at once; the pages are not loaded twice
    const second = [];
    const unsub2 = h.subscribe((s) => second.push(s));
    await waitFor(() => second.length === 1, { what: "the second subscriber's state" });
    assert.equal(second[0], h.current);
    unsub2();
    assert.equal(pages(c).length, 3);
    w.unsubscribe();
    assert.deepEqual(w.errors, []);
});

test("inserts before, inside and after the loaded pages and a delete inside: exact results", { timeout: 30000 }, async () => {
    await add("b", range(10, 300, 10));
    const c = client();
    const h = c.paginatedQuery("items:page", { list: "b" }, { initialNumItems: 5 });
    const w = watch(h);
    await showing(h, range(10, 50, 10));
    h.loadMore(5);
    await showing(h, range(10, 100, 10));
    h.loadMore(5);
    await showing(h, range(10, 150, 10), "CanLoadMore");
    await fixed(c, 3);
    let want = range(10, 150, 10);
    const step = async (fn, next) => {
        await fn();
        want = next(want).sort((x, y) => x - y);
        await showing(h, want, "CanLoadMore");
    };
    await step(() => add("b", [5]), (r) => [5, ...r]); // before the first page: it grows
    await step(() => add("b", [75]), (r) => [...r, 75]); // inside the second page
    await step(() => add("b", [50.5]), (r) => [...r, 50.5]); // right after the first page's end
    await step(() => add("b", [145]), (r) => [...r, 145]); // inside the last loaded page
    // the last loaded page's last row: the page still ends at its position
    await step(() => writer.mutation("items:remove", { list: "b", n: 150 }), (r) => r.filter((n) => n !== 150));
    await step(() => writer.mutation("items:remove", { list: "b", n: 120 }), (r) => r.filter((n) => n !== 120));
    await step(() => writer.mutation("items:remove", { list: "b", n: 10 }), (r) => r.filter((n) => n !== 10));
    // after the last loaded page: no page re-runs, nothing changes
    await sleep(100);
    const m0 = await metrics(srv);
    await add("b", [1000, 155]);
    await sleep(150);
    assert.equal(metricsDelta(m0, await metrics(srv)).queryReruns, 0, "an insert after the last loaded page re-runs nothing");
    assert.deepEqual(h.current.results, want);
    // walk to the end: the rest comes exactly once
    while (h.current.status === "CanLoadMore") {
        h.loadMore(7);
        await until(h, (s) => s.status !== "LoadingMore", "the next page");
    }
    assert.equal(h.current.status, "Exhausted");
    assert.equal(h.current.isLoading, false);
    assert.deepEqual(h.current.results, await all("b"));
    assert.equal(h.loadMore(5), false, "nothing to load once exhausted");
    // the last page's end is the range's end: rows appended later show up
    await add("b", [5000]);
    await showing(h, await all("b"), "Exhausted");
    assert.equal(h.current.results.at(-1), 5000);
    w.unsubscribe();
    assert.deepEqual(w.errors, []);
});

test("unsubscribe releases every page's query on the server", { timeout: 30000 }, async () => {
    await add("u", range(1, 40));
    const c = client();
    await c.query("items:page", { list: "u", paginationOpts: { numItems: 1, cursor: null } }); // connected
    await sleep(150);
    const m0 = await metrics(srv);
    const h = c.paginatedQuery("items:page", { list: "u" }, { initialNumItems: 6 });
    const w = watch(h);
    await showing(h, range(1, 6));
    for (const n of [12, 18, 24]) {
        h.loadMore(6);
        await showing(h, range(1, n));
    }
    await fixed(c, 4);
    await waitFor(async () => metricsDelta(m0, await metrics(srv)).liveQueries === 4,
                  { what: "4 live page queries on the server (the unfixed ones released)" });
    w.unsubscribe();
    assert.equal(h.current.status, "LoadingFirstPage");
    assert.deepEqual(h.current.results, []);
    await sleep(50);
    assert.equal(pages(c).length, 0, "no page left in the client's query store");
    await waitFor(async () => metricsDelta(m0, await metrics(srv)).liveQueries === 0,
                  { what: "no live page query on the server" });
    const m1 = await metrics(srv);
    await add("u", [3.5]);
    await sleep(150);
    assert.equal(metricsDelta(m1, await metrics(srv)).queryReruns, 0);
    // subscribing again starts over from the first page
    const w2 = watch(h);
    await showing(h, [1, 2, 3, 3.5, 4, 5], "CanLoadMore");
    w2.unsubscribe();
});

test("a page that grows past twice its size is split in two without a flash", { timeout: 30000 }, async () => {
    await add("s", range(1, 8));
    const c = client();
    const h = c.paginatedQuery("items:page", { list: "s" }, { initialNumItems: 4 });
    const w = watch(h);
    await showing(h, range(1, 4));
    h.loadMore(4);
    await showing(h, range(1, 8), "CanLoadMore");
    await fixed(c, 2);
    const more = range(11, 19).map((x) => x / 10); // 1.1 .. 1.9 inside the first page
    await add("s", more);
    await showing(h, [1, ...more, 2, 3, 4, 5, 6, 7, 8], "CanLoadMore");
    await fixed(c, 3); // the first page became two
    assert.equal(chain(c).length, 3);
    await sleep(100);
    assert.equal(pages(c).length, 3, "the halves are small enough: no further split");
    assert.deepEqual(h.current.results, await all("s").then((r) => r.slice(0, 17)));
    w.unsubscribe();
    assert.deepEqual(w.errors, []);
});

test("SplitRecommended and SplitRequired pages (maximumRowsRead) are split", { timeout: 30000 }, async () => {
    await add("r", range(1, 6));
    const c = client();
    const h = c.paginatedQuery("items:page", { list: "r", maxRows: 6 }, { initialNumItems: 3 });
    const w = watch(h);
    await showing(h, [1, 2, 3], "CanLoadMore");
    await fixed(c, 1);
    await add("r", [1.5, 2.5]); // 5 rows read: past 3/4 of maximumRowsRead (as Convex), not twice numItems
    await showing(h, [1, 1.5, 2, 2.5, 3], "CanLoadMore");
    await fixed(c, 2);
    const second = chain(c)[1];
    assert.equal(chain(c).length, 2);
    // 12 more rows inside the second half: more than maximumRowsRead before its end
    const many = range(1, 12).map((x) => 2.5 + x / 100);
    const before = w.states.length;
    await add("r", many);
    const direct = await srv.value("query", "items:page", { list: "r", maxRows: 6, paginationOpts: second });
    assert.equal(direct.pageStatus, "SplitRequired", "the second page is cut short now");
    const want = [1, 1.5, 2, 2.5, ...many, 3];
    await showing(h, want, "CanLoadMore");
    for (const s of w.states.slice(before))
        assert.ok(s.results.length >= 5 && s.status === "CanLoadMore",
                  `the cut-short page keeps its rows until its halves are there: ${JSON.stringify(s)}`);
    await waitFor(() => chainOf(c)?.length >= 3 && pages(c).every((o) => typeof o.endCursor === "string"),
                  { what: "the SplitRequired page split" });
    h.loadMore(3);
    await showing(h, [...want, 4, 5, 6], "CanLoadMore");
    w.unsubscribe();
    assert.deepEqual(w.errors, []);
});

test("InvalidCursor (a damaged cursor, a changed range) restarts from the first page without a flash", { timeout: 30000 }, async () => {
    await writer.mutation("items:configure", { list: "t", lo: 0, tamper: false });
    await add("t", range(1, 12));
    const c = client();
    const h = c.paginatedQuery("items:page", { list: "t" }, { initialNumItems: 4 });
    const w = watch(h);
    await showing(h, range(1, 4));
    h.loadMore(4);
    await showing(h, range(1, 8));
    h.loadMore(4);
    await showing(h, range(1, 12), "CanLoadMore");
    await fixed(c, 3);
    const seen = w.states.length;
    // the query now damages every cursor it is given: pages 2 and 3 fail, the list restarts
    await writer.mutation("items:configure", { list: "t", lo: 0, tamper: true });
    await showing(h, range(1, 4), "CanLoadMore");
    await fixed(c, 1);
    assert.deepEqual(w.states.slice(seen).map((s) => [s.status, s.results.length]), [["CanLoadMore", 4]],
                     "the old pages stay until the new first page is there");
    assert.deepEqual(w.errors, [], "InvalidCursor is handled, not reported");
    await writer.mutation("items:configure", { list: "t", lo: 0, tamper: false });
    h.loadMore(4);
    await showing(h, range(1, 8), "CanLoadMore");
    await fixed(c, 2);
    // another range (lo): every cursor, the first page's endCursor too, is another query's now
    await writer.mutation("items:configure", { list: "t", lo: 5, tamper: false });
    await showing(h, range(5, 8), "CanLoadMore");
    await fixed(c, 1);
    h.loadMore(10);
    await showing(h, range(5, 12), "Exhausted");
    w.unsubscribe();
    assert.deepEqual(w.errors, []);
});

test("errors: bad options, a failing page query, a query that does not paginate", { timeout: 20000 }, async () => {
    const c = client();
    assert.throws(() => c.paginatedQuery("items:page", { list: "x" }, {}),
                  { name: "TypeError", message: "`options.initialNumItems` must be a positive number. Received `undefined`." });
    assert.throws(() => c.paginatedQuery("items:page", { list: "x" }, { initialNumItems: 0 }), TypeError);
    const h = c.paginatedQuery("items:page", { list: 5 }, { initialNumItems: 3 });
    const errs = [];
    const states = [];
    const unsub = h.subscribe((s) => states.push(s), (e) => errs.push(e));
    await waitFor(() => errs.length === 1, { what: "onError" });
    assert.equal(errs[0].code, "ArgumentValidationError");
    assert.equal(h.current.error, errs[0]);
    assert.equal(h.current.status, "LoadingFirstPage");
    assert.deepEqual(h.current.results, []);
    unsub();
    const h2 = c.paginatedQuery("items:plain", { list: "x" }, { initialNumItems: 3 });
    const errs2 = [];
    const unsub2 = h2.subscribe(() => {}, (e) => errs2.push(e));
    await waitFor(() => errs2.length === 1, { what: "onError" });
    assert.equal(errs2[0].code, "NotPaginated");
    assert.match(errs2[0].message, /items:plain did not return a pagination result/);
    unsub2();
    c.close();
    assert.throws(() => c.paginatedQuery("items:page", {}, { initialNumItems: 1 }), { code: "ClientClosed" });
});
