// Reactive pagination (issue 10, item 1) on apps/paginate: `.paginate()` over ascending and
// descending index ranges and with a filter; a live page's re-runs, counted on /api/metrics, when
// rows are inserted before, inside and after it and deleted inside it; walking every page while
// another client inserts; tampered, foreign and malformed cursors; the numItems bound.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, assertAppLoaded, sleep, SyncConn, modOf, metrics, metricsDelta } from "./helpers.mjs";

let srv;
const conns = [];
before(async () => {
    srv = await startServer(tempDir("paginate"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of conns) c.close();
    if (srv) await srv.stop();
});

const settle = () => sleep(80);
const page = (args) => srv.value("query", "items:page", args);
const opts = (numItems, cursor = null, extra = {}) => ({ numItems, cursor, ...extra });
async function fill(list, ns, tag) {
    await srv.value("mutation", "items:addMany", tag === undefined ? { list, ns } : { list, ns, tag });
}
async function walk(args, n) {
    const pages = [];
    let cursor = null;
    for (let i = 0; i < 100; i++) {
        const r = await page({ ...args, paginationOpts: opts(n, cursor) });
        pages.push(r.page);
        assert.equal(typeof r.continueCursor, "string");
        if (r.isDone) return pages;
        cursor = r.continueCursor;
    }
    throw new Error("no last page after 100 pages");
}
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test("ascending pages cover the range in order, the last one isDone", async () => {
    await fill("asc", range(1, 25).reverse());
    const pages = await walk({ list: "asc" }, 10);
    assert.deepEqual(pages, [range(1, 10), range(11, 20), range(21, 25)]);
    // cursors are opaque and URL-safe
    const r = await page({ list: "asc", paginationOpts: opts(10) });
    assert.match(r.continueCursor, /^[A-Za-z0-9_-]+$/);
    assert.equal(r.isDone, false);
    // a page that ends exactly at the range's end is not done yet (as Convex): the next is empty
    const exact = await walk({ list: "asc" }, 5);
    assert.deepEqual(exact.at(-1), []);
    assert.equal(exact.length, 6);
    // an empty range is one empty, done page
    assert.deepEqual(await page({ list: "none", paginationOpts: opts(3) }).then((x) => [x.page, x.isDone]), [[], true]);
});

test("descending pages, an index range with a lower bound, the default index", async () => {
    await fill("desc", range(1, 12));
    assert.deepEqual(await walk({ list: "desc", order: "desc" }, 5), [range(8, 12).reverse(), range(3, 7).reverse(), [2, 1]]);
    assert.deepEqual(await walk({ list: "desc", lo: 6 }, 4), [range(6, 9), range(10, 12)]);
    assert.deepEqual(await walk({ list: "desc", lo: 6, order: "desc" }, 4), [[12, 11, 10, 9], [8, 7, 6]]);
    const r = await srv.value("query", "items:recent", { paginationOpts: opts(3) });
    assert.equal(r.page.length, 3);
    assert.ok(r.page[0]._creationTime >= r.page[1]._creationTime && r.page[1]._creationTime >= r.page[2]._creationTime);
    const r2 = await srv.value("query", "items:recent", { paginationOpts: opts(3, r.continueCursor) });
    assert.ok(r2.page[0]._creationTime <= r.page[2]._creationTime);
    assert.ok(!r.page.some((d) => r2.page.some((e) => e._id === d._id)));
});

test("a filter returns numItems matches; the cursor is the last row read", async () => {
    const ns = range(1, 30);
    for (const n of ns) await srv.value("mutation", "items:add", { list: "filt", n, tag: n % 3 === 0 ? "b" : "a" });
    const pages = await walk({ list: "filt", tag: "b" }, 4);
    assert.deepEqual(pages, [[3, 6, 9, 12], [15, 18, 21, 24], [27, 30], ]);
    const desc = await walk({ list: "filt", tag: "b", order: "desc" }, 4);
    assert.deepEqual(desc.flat(), [30, 27, 24, 21, 18, 15, 12, 9, 6, 3]);
    // maximumRowsRead stops a page early (fewer items, not done)
    const r = await page({ list: "filt", tag: "b", paginationOpts: opts(4, null, { maximumRowsRead: 5 }) });
    assert.deepEqual(r.page, [3]);
    assert.equal(r.isDone, false);
    const r2 = await page({ list: "filt", tag: "b", paginationOpts: opts(4, r.continueCursor, { maximumRowsRead: 5 }) });
    assert.deepEqual(r2.page, [6, 9]);
    // as Convex: every member present; a page the rows limit stopped is SplitRequired
    assert.deepEqual(Object.keys(r).sort(), ["continueCursor", "isDone", "page", "pageStatus", "splitCursor"]);
    assert.equal(r.pageStatus, "SplitRequired");
    assert.equal(typeof r.splitCursor, "string");
    const full = await page({ list: "filt", tag: "b", paginationOpts: opts(2) });
    assert.deepEqual([full.page, full.pageStatus], [[3, 6], null]);
    // 6 rows read of at most 7: past 3/4 of them
    const most = await page({ list: "filt", tag: "b", paginationOpts: opts(2, null, { maximumRowsRead: 7 }) });
    assert.deepEqual([most.page, most.pageStatus], [[3, 6], "SplitRecommended"]);
    // a page that fills before the rows read with it reach the range's end is not the last one
    for (const n of range(1, 12)) await srv.value("mutation", "items:add", { list: "short", n, tag: "a" });
    const first = await page({ list: "short", tag: "a", paginationOpts: opts(5) });
    assert.deepEqual([first.page, first.isDone], [[1, 2, 3, 4, 5], false]);
    assert.deepEqual(await walk({ list: "short", tag: "a" }, 5), [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]);
    assert.deepEqual((await walk({ list: "short", tag: "a", order: "desc" }, 5)).flat(), range(1, 12).reverse());
});

test("endCursor: the page ends there however many rows it holds; splitCursor and SplitRequired", async () => {
    await fill("end", range(1, 20));
    const p1 = await page({ list: "end", paginationOpts: opts(5) });
    assert.deepEqual(p1.page, range(1, 5));
    await fill("end", [1.5, 2.5, 3.5]);
    const again = await page({ list: "end", paginationOpts: opts(5, null, { endCursor: p1.continueCursor }) });
    assert.deepEqual(again.page, [1, 1.5, 2, 2.5, 3, 3.5, 4, 5]);
    assert.equal(again.continueCursor, p1.continueCursor);
    assert.equal(again.isDone, false);
    assert.equal(typeof again.splitCursor, "string");
    const a = await page({ list: "end", paginationOpts: opts(5, null, { endCursor: again.splitCursor }) });
    const b = await page({ list: "end", paginationOpts: opts(5, again.splitCursor, { endCursor: again.continueCursor }) });
    assert.deepEqual([...a.page, ...b.page], again.page);
    assert.ok(a.page.length === 4 && b.page.length === 4, JSON.stringify([a.page, b.page]));
    // the last page's endCursor is the range's end: done, and it grows with inserts at the end
    const last = await page({ list: "end", paginationOpts: opts(100, p1.continueCursor) });
    assert.equal(last.isDone, true);
    await fill("end", [21]);
    const last2 = await page({ list: "end", paginationOpts: opts(100, p1.continueCursor, { endCursor: last.continueCursor }) });
    assert.equal(last2.isDone, true);
    assert.deepEqual(last2.page, range(6, 21));
    // more rows than maximumRowsRead up to endCursor: SplitRequired
    const cut = await page({ list: "end", paginationOpts: opts(5, null, { endCursor: last.continueCursor, maximumRowsRead: 10 }) });
    assert.equal(cut.pageStatus, "SplitRequired");
    assert.equal(cut.page.length, 10);
    assert.equal(typeof cut.splitCursor, "string");
});

async function open() {
    const c = await SyncConn.open(srv.port);
    conns.push(c);
    await c.connect();
    return c;
}

test("a live first page re-runs only for writes inside its range; its boundary holds", { timeout: 20000 }, async () => {
    await fill("live", [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    const first = await page({ list: "live", lo: 10, paginationOpts: opts(5) });
    assert.deepEqual(first.page, [10, 20, 30, 40, 50]);
    const c = await open();
    const t1 = await c.subscribe(1, "items:page", { list: "live", lo: 10, paginationOpts: opts(5, null, { endCursor: first.continueCursor }) });
    assert.deepEqual(modOf(t1, 1).value.page, [10, 20, 30, 40, 50]);
    const t2 = await c.subscribe(2, "items:page", { list: "live", lo: 10, paginationOpts: opts(5, first.continueCursor) });
    assert.deepEqual(modOf(t2, 2).value.page, [60, 70, 80, 90, 100]);
    assert.equal(modOf(t2, 2).value.isDone, false);
    await settle();
    const step = async (what, fn, reruns, expect) => {
        const m0 = await metrics(srv);
        const from = c.mark;
        await fn();
        await settle();
        if (expect) {
            const [qid, value] = expect;
            const t = await c.waitMsg((m) => m.type === "transition" && modOf(m, qid), { from, what });
            assert.deepEqual(modOf(t, qid).value.page, value, what);
            if (qid === 1) assert.equal(modOf(t, qid).value.continueCursor, first.continueCursor, what);
            await settle();
        }
        const d = metricsDelta(m0, await metrics(srv));
        assert.equal(d.queryReruns, reruns, `${what}: ${JSON.stringify(d)}`);
    };
    await step("insert before the range", () => fill("live", [5]), 0);
    await step("insert in another list", () => fill("live2", [15]), 0);
    await step("insert inside the first page", () => fill("live", [25]), 1, [1, [10, 20, 25, 30, 40, 50]]);
    await step("insert after the last loaded page", () => fill("live", [1000]), 0);
    await step("delete inside the first page", () => srv.value("mutation", "items:removeN", { list: "live", n: 30 }), 1, [1, [10, 20, 25, 40, 50]]);
    await step("insert between the pages goes to the second", () => fill("live", [55]), 1, [2, [55, 60, 70, 80, 90]]);
    // pages neither overlap nor leave gaps
    const all = await srv.value("query", "items:page", { list: "live", lo: 10, paginationOpts: opts(100) });
    assert.deepEqual(all.page.slice(0, 10), [10, 20, 25, 40, 50, 55, 60, 70, 80, 90]);
});

test("walking every page while another client inserts gives every row exactly once", { timeout: 30000 }, async () => {
    const orig = range(0, 149).map((i) => i * 2);
    await fill("walk", orig);
    const seen = [], have = new Set(orig), ahead = [];
    let cursor = null, added = 0;
    for (let i = 0; i < 200; i++) {
        const r = await page({ list: "walk", paginationOpts: opts(7, cursor) });
        seen.push(...r.page);
        if (r.isDone) break;
        cursor = r.continueCursor;
        // another writer inserts rows behind, at and ahead of the cursor
        const at = r.page.at(-1);
        const ns = [at - 1.5, at + 0.5, at + 101].filter((n) => !have.has(n));
        for (const n of ns) have.add(n);
        ahead.push(...ns.filter((n) => n > at));
        await fill("walk", ns);
        added += ns.length;
    }
    assert.equal(new Set(seen).size, seen.length, "no row twice");
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `in order at ${i}`);
    for (const n of orig) assert.ok(seen.includes(n), `row ${n} seen`);
    assert.ok(added > 0 && seen.length > orig.length);
    // every row inserted ahead of the cursor was seen too; what was seen is exactly the table
    // minus the rows inserted behind the cursor
    for (const n of ahead) assert.ok(seen.includes(n), `row ${n} inserted ahead was seen`);
    const final = await page({ list: "walk", paginationOpts: opts(8192) });
    assert.equal(final.page.length, have.size);
    assert.equal(seen.length, orig.length + ahead.length);
});

test("tampered, foreign and malformed cursors are refused with InvalidCursor; the server keeps serving", async () => {
    await fill("cur", range(1, 10));
    await srv.value("mutation", "items:add", { list: "cur", n: 0 });
    const r = await page({ list: "cur", paginationOpts: opts(3) });
    const bad = async (args, re) => {
        const x = await srv.query("items:page", args);
        assert.equal(x.json?.status, "error", x.text);
        assert.match(x.json.errorMessage, /^InvalidCursor: /, x.text);
        assert.equal(x.json.errorCode, "InvalidCursor", x.text);
        assert.equal(x.status, 400, "a bad cursor is the caller's mistake");
        if (re) assert.match(x.json.errorMessage, re, x.text);
    };
    const c = r.continueCursor;
    for (let i = 0; i < c.length; i += Math.max(1, Math.floor(c.length / 12))) {
        const ch = c[i] === "A" ? "B" : "A";
        await bad({ list: "cur", paginationOpts: opts(3, c.slice(0, i) + ch + c.slice(i + 1)) });
    }
    await bad({ list: "cur", paginationOpts: opts(3, c + "AA") });
    await bad({ list: "cur", paginationOpts: opts(3, "not a cursor") }, /not a pagination cursor/);
    await bad({ list: "cur", paginationOpts: opts(3, "") }, /not a pagination cursor/);
    await bad({ list: "cur", paginationOpts: opts(3, null, { endCursor: c.slice(0, -2) }) });
    // another query: another list (range), order, filter's index, table
    await bad({ list: "other", paginationOpts: opts(3, c) }, /different query/);
    await bad({ list: "cur", order: "desc", paginationOpts: opts(3, c) }, /different query/);
    await bad({ list: "cur", lo: 1, paginationOpts: opts(3, c) }, /different query/);
    const o = await srv.query("items:otherPage", { list: "cur", paginationOpts: opts(3, c) });
    assert.match(o.json.errorMessage, /InvalidCursor.*different query/);
    // another database's cursor for the same query
    const srv2 = await startServer(tempDir("paginate"));
    try {
        await srv2.value("mutation", "items:addMany", { list: "cur", ns: range(1, 10) });
        const foreign = await srv2.value("query", "items:page", { list: "cur", paginationOpts: opts(3) });
        await bad({ list: "cur", paginationOpts: opts(3, foreign.continueCursor) }, /modified or was issued by another deployment/);
    } finally {
        await srv2.stop();
    }
    // the good cursor still works, also after a restart (the key is the database's)
    assert.deepEqual((await page({ list: "cur", paginationOpts: opts(3, c) })).page, [3, 4, 5]);
});

test("the cursor key survives a restart", { timeout: 30000 }, async () => {
    const dir = tempDir("paginate");
    let s = await startServer(dir);
    let c;
    try {
        await s.value("mutation", "items:addMany", { list: "k", ns: range(1, 6) });
        c = (await s.value("query", "items:page", { list: "k", paginationOpts: opts(2) })).continueCursor;
    } finally {
        await s.stop();
    }
    s = await startServer(dir);
    try {
        assert.deepEqual((await s.value("query", "items:page", { list: "k", paginationOpts: opts(2, c) })).page, [3, 4]);
    } finally {
        await s.stop();
    }
});

test("numItems and maximumRowsRead are bounded; opts are checked", async () => {
    const bad = async (po, re) => {
        const x = await srv.query("items:page", { list: "asc", paginationOpts: po });
        assert.equal(x.json?.status, "error", x.text);
        assert.match(x.json.errorMessage, re, x.text);
    };
    // Convex's checks and texts
    await bad(opts(-1), /`options.numItems` must be a positive number. Received `-1`./);
    await bad(opts(0), /Must request at least 1 document while paginating/);
    await bad(opts(2.5), /numItems must be an integer, got 2.5/);
    await bad(opts(5, null, { maximumRowsRead: 0 }), /maximumRowsRead and maximumBytesRead must be greater than 0/);
    await bad(opts(5, null, { maximumBytesRead: 0 }), /maximumRowsRead and maximumBytesRead must be greater than 0/);
    await bad(opts(5, null, { maximumRowsRead: 1.5 }), /maximumRowsRead must be a positive integer, got 1.5/);
    // a page larger than the rows there, or than the rows a page reads: no refusal
    const big = await page({ list: "asc", paginationOpts: opts(100000) });
    assert.deepEqual([big.page.length, big.isDone, big.pageStatus], [25, true, null]);
    const wide = await page({ list: "asc", paginationOpts: opts(5, null, { maximumRowsRead: 1000000 }) });
    assert.equal(wide.page.length, 5);
});
