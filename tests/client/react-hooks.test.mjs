// @vireo/react's query hooks in headless Chromium (playwright-core) against a real `vireo dev` on
// tests/integration/apps/client-react: the page (react-hooks/page.jsx, bundled by esbuild with
// development React into the temp copy's public/) renders under StrictMode. useQuery live and with
// "skip", useQueryWithStatus's states, an error thrown to a boundary, useMutation (plain and
// withOptimisticUpdate, whose update is passed to client.mutation), useAction,
// useConnectionState through a server restart, usePaginatedQuery loading more and a live insert,
// and SSR: preloadQuery + renderToString in Node (data in the HTML, headers forwarded), then
// hydration in Chromium with usePreloadedQuery (no loading render) going live.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import * as esbuild from "esbuild";
import { VireoClient } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor } from "../integration/helpers.mjs";
import { launchBrowser, openPage } from "../e2e/helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const alias = { "@vireo/client": path.join(here, "../../clients/js/src/index.js") };
let srv, dir, browser, page, node, ssrDir;

function build(entry, outfile, extra = {}) {
    return esbuild.build({
        entryPoints: [path.join(here, "react-hooks", entry)], outfile, bundle: true, format: "esm",
        jsx: "automatic", target: "es2022", logLevel: "silent", alias,
        define: { "process.env.NODE_ENV": JSON.stringify("development") }, ...extra,
    });
}

before(async () => {
    dir = tempDir("client-react");
    ssrDir = tempDir();
    fs.mkdirSync(path.join(dir, "public"), { recursive: true });
    fs.copyFileSync(path.join(here, "react-hooks/index.html"), path.join(dir, "public/index.html"));
    await build("page.jsx", path.join(dir, "public/hooks.js"));
    await build("ssr-client.jsx", path.join(dir, "public/ssr.js"));
    // the Node side, with React and ws bundled in (the temp dir has no node_modules)
    await build("ssr-server.jsx", path.join(ssrDir, "ssr-server.mjs"), {
        platform: "node",
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    srv = await startServer(dir);
    await assertAppLoaded(srv);
    node = new VireoClient(srv.url, { WebSocket, backoff: { baseMs: 50, maxMs: 200 } });
    await node.mutation("tasks:addMany", { list: "a", texts: ["one"] });
    browser = await launchBrowser();
    page = await openPage(browser, srv.url + "/");
});

after(async () => {
    node?.close();
    await browser?.close();
    if (srv) await srv.stop();
});

async function shows(sel, want, what = sel, p = page) {
    try {
        await p.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout: 10000 });
    } catch (e) {
        const got = await p.$eval(sel, (el) => el.textContent).catch(() => "(absent)");
        e.message += `\n${what}: wanted ${JSON.stringify(want)}, page shows ${JSON.stringify(got)}; page errors: ${JSON.stringify(p.errors)}`;
        throw e;
    }
}

/** Net adds minus removes of queries of `path` (with args matching `argsPart`) the page sent. */
const netQueries = (p, fn, argsPart) => p.evaluate(([fn, argsPart]) => {
    const ids = new Map();
    let net = 0;
    for (const m of window.__sent.filter((m) => m.type === "modifyQuerySet")) {
        for (const a of m.add) {
            if (a.path === fn && JSON.stringify(a.args).includes(argsPart)) {
                ids.set(a.queryId, true);
                net++;
            }
        }
        for (const id of m.remove) if (ids.has(id)) net--;
    }
    return net;
}, [fn, argsPart]);

const realErrors = (p) => p.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|boom: |refused |paginationOpts|PagedThrower|Boundary/.test(e));

test("useQuery is live under StrictMode, one subscription per query", { timeout: 30000 }, async () => {
    await shows("#conn", "connected");
    await shows("#list-a", "one");
    await node.mutation("tasks:add", { list: "a", text: "two" });
    await shows("#list-a", "one,two");
    assert.equal(await netQueries(page, "tasks:list", '"a"'), 1, "tasks:list {list:a} subscribed once (shared by two hooks)");
    assert.equal(await netQueries(page, "tasks:boom", "nope"), 1);
    const removed = await page.evaluate(() => {
        const byId = new Map();
        for (const m of window.__sent.filter((m) => m.type === "modifyQuerySet")) for (const a of m.add) byId.set(a.queryId, a);
        return window.__sent.filter((m) => m.type === "modifyQuerySet").flatMap((m) => m.remove.map((id) => byId.get(id)));
    });
    // the only removals: the queries whose components the error boundaries unmounted, and the first
    // page, replaced by the same page with its end fixed (endCursor) once it loaded
    assert.deepEqual(removed.filter((q) => !(q.path === "tasks:boom" && ["thrown", "paged"].includes(q.args.why)) &&
                                           !(q.path === "tasks:page" && q.args.paginationOpts.endCursor === undefined)),
                     [], "StrictMode's unmount/remount removed no query");
    await shows("#aliases", "true");
    assert.deepEqual(realErrors(page), []);
});

test("a component mounted later renders the client's cached result at once", { timeout: 30000 }, async () => {
    await shows("#list-a", "one,two");
    await page.click("#mount-late");
    await shows("#late", "one,two");
    assert.deepEqual(await page.evaluate(() => [...new Set(window.__lateSeen)]), ["one,two"], "no loading render");
    assert.equal(await netQueries(page, "tasks:list", '"a"'), 1, "still one subscription");
});

test("new args switch the query (the old one released); unmount releases it", { timeout: 30000 }, async () => {
    await node.mutation("tasks:addMany", { list: "x2", texts: ["y"] });
    await shows("#switched", "x1:");
    assert.equal(await netQueries(page, "tasks:list", '"x1"'), 1);
    await page.click("#switch");
    await shows("#switched", "x2:y");
    await waitFor(async () => (await netQueries(page, "tasks:list", '"x1"')) === 0, { what: "x1 released" });
    assert.equal(await netQueries(page, "tasks:list", '"x2"'), 1);
    await node.mutation("tasks:add", { list: "x2", text: "z" });
    await shows("#switched", "x2:y,z");
    await page.click("#off");
    await shows("#switched", "off");
    await waitFor(async () => (await netQueries(page, "tasks:list", '"x2"')) === 0, { what: "x2 released at unmount" });
});

test('"skip" subscribes nothing; switching to args subscribes and shows live values', { timeout: 30000 }, async () => {
    await shows("#skip", "skip:loading");
    assert.equal(await netQueries(page, "tasks:list", '"s"'), 0);
    await node.mutation("tasks:add", { list: "s", text: "x" });
    await page.click("#unskip");
    await shows("#skip", "live:x");
    assert.equal(await netQueries(page, "tasks:list", '"s"'), 1);
    await page.click("#unskip");
    await shows("#skip", "skip:loading");
    await waitFor(async () => (await netQueries(page, "tasks:list", '"s"')) === 0, { what: "the skipped query removed" });
});

test("useQueryWithStatus: error, success and skipped; useQuery throws to the error boundary", { timeout: 30000 }, async () => {
    await shows("#boom", "error|true|boom: nope|undefined");
    await shows("#good", "success|true|false|2");
    await shows("#skipped", "pending|true");
    await page.waitForFunction(() => /boom: thrown/.test(document.querySelector("#thrown")?.textContent ?? ""), null, { timeout: 10000 });
});

test("useMutation resolves with the result; withOptimisticUpdate passes the update to client.mutation", { timeout: 30000 }, async (t) => {
    const r = await page.evaluate(() => window.__add({ list: "a", text: "three" }));
    assert.equal(r, "three");
    await shows("#list-a", "one,two,three");
    assert.equal(await page.evaluate(() => window.__withTwice()), "Already specified optimistic update for mutation tasks:add");
    const seenBefore = await page.evaluate(() => window.__seen.length);
    assert.equal(await page.evaluate(() => window.__addOptimistic({ list: "a", text: "four" })), "four");
    await shows("#list-a", "one,two,three,four");
    const opts = await page.evaluate(() => window.__mutationOpts);
    assert.deepEqual(opts.map((o) => [o.name, o.hasOptimistic]),
                     [["tasks:add", false], ["tasks:add", true]]);
    // The optimistic value on screen before the server's, and rolled back when the mutation
    // fails: only once the client applies optimistic updates (issue 13's clients/js part). The
    // probe: does client.mutation call the update at all?
    const seen = await page.evaluate((n) => window.__seen.slice(n), seenBefore);
    const w = await page.evaluate(async () => {
        let called = false;
        await window.__client.mutation("tasks:add", { list: "probe", text: "p" },
                                       { optimisticUpdate: () => { called = true; } });
        return called ? "function" : "none";
    });
    if (w === "function") {
        assert.ok(seen.includes("one,two,three,four?"), `optimistic value rendered: ${JSON.stringify(seen)}`);
        // a failing mutation: the optimistic value shows, then is rolled back
        const n = await page.evaluate(() => window.__seen.length);
        const err = await page.evaluate(() => window.__addThenFail({ list: "a", text: "five" }).then(() => "ok", (e) => e.message));
        assert.match(err, /refused five/);
        await shows("#list-a", "one,two,three,four");
        const s2 = await page.evaluate((k) => window.__seen.slice(k), n);
        assert.ok(s2.includes("one,two,three,four,five?"), `optimistic value rendered then rolled back: ${JSON.stringify(s2)}`);
    } else {
        t.diagnostic("the client applies no optimistic updates yet: checked that the update is passed through only");
        const err = await page.evaluate(() => window.__addThenFail({ list: "a", text: "five" }).then(() => "ok", (e) => e.message));
        assert.match(err, /refused five/);
        await shows("#list-a", "one,two,three,four");
    }
    // an event object passed by mistake is refused with Convex's message
    const msg = await page.evaluate(() => {
        try {
            window.__add({ bubbles: true, persist() {}, isDefaultPrevented() {} });
            return "no error";
        } catch (e) {
            return e.message;
        }
    });
    assert.match(msg, /called with SyntheticEvent object/);
});

test("useAction runs the action", { timeout: 30000 }, async () => {
    assert.equal(await page.evaluate(() => window.__shout({ text: "hey" })), "HEY!");
    const err = await page.evaluate(() => window.__shout({ text: 1 }).then(() => "ok", (e) => e.code));
    assert.equal(err, "ArgumentValidationError");
});

test("usePaginatedQuery: first page, loadMore, a live insert, Exhausted", { timeout: 30000 }, async () => {
    await shows("#p-status", "Exhausted|false");
    await shows("#p-skipped", "LoadingFirstPage|true|0");
    await page.waitForFunction(() => /paginationOpts|ArgumentValidation|unexpected/i.test(document.querySelector("#p-thrown")?.textContent ?? ""), null, { timeout: 10000 })
        .catch(async (e) => { e.message += ` #p-thrown: ${await page.$eval("#p-thrown", (x) => x.textContent)}`; throw e; });
    await node.mutation("tasks:addMany", { list: "p", texts: ["p1", "p2", "p3", "p4", "p5", "p6"] });
    await shows("#p-results", "p1,p2,p3,p4,p5,p6", "the live first page (it grew: no fixed end yet)");
    // a fresh mount starts with 3 items
    await page.evaluate(() => window.__client.close());
    await page.reload();
    await shows("#p-results", "p1,p2,p3");
    await shows("#p-status", "CanLoadMore|false");
    await page.evaluate(() => window.__loadMore(2));
    await shows("#p-results", "p1,p2,p3,p4,p5");
    await shows("#p-status", "CanLoadMore|false");
    await node.mutation("tasks:addMany", { list: "p", texts: ["p7"] });
    await page.evaluate(() => window.__loadMore(5));
    await shows("#p-results", "p1,p2,p3,p4,p5,p6,p7");
    await shows("#p-status", "Exhausted|false");
    await node.mutation("tasks:addMany", { list: "p", texts: ["p8"] });
    await shows("#p-results", "p1,p2,p3,p4,p5,p6,p7,p8", "a live insert into the last page");
    assert.deepEqual(realErrors(page), []);
});

test("useConnectionState through a server restart; queries come back live", { timeout: 40000 }, async () => {
    await shows("#conn", "connected");
    const port = srv.port;
    await srv.stop();
    await page.waitForFunction(() => document.querySelector("#conn")?.textContent !== "connected", null, { timeout: 10000 });
    const during = await page.$eval("#conn", (e) => e.textContent);
    assert.ok(["connecting", "disconnected"].includes(during), during);
    srv = await startServer(dir, { args: ["--port", String(port)] });
    await shows("#conn", "connected");
    await node.mutation("tasks:add", { list: "a", text: "after" });
    await shows("#list-a", "one,two,three,four,after", "the re-subscribed query after the restart");
});

test("the hooks read Convex's watchQuery(name, args) when the client has it", { timeout: 30000 }, async () => {
    const p2 = await openPage(browser, srv.url + "/?watch");
    try {
        await shows("#list-a", "one,two,three,four,after", "the list through localQueryResult", p2);
        await shows("#boom", "error|true|boom: nope|undefined", "the error localQueryResult threw", p2);
        await shows("#good", "success|true|false|5", "useQueryWithStatus", p2);
        assert.ok((await p2.evaluate(() => window.__localReads)) > 0);
        await node.mutation("tasks:add", { list: "a", text: "watched" });
        await shows("#list-a", "one,two,three,four,after,watched", "a live update through onUpdate", p2);
        assert.equal(await netQueries(p2, "tasks:list", '"a"'), 1);
        assert.deepEqual(realErrors(p2), []);
    } finally {
        await p2.context().close();
    }
});

test("SSR: preloadQuery + renderToString in Node, hydrated in Chromium without a loading render, then live", { timeout: 40000 }, async () => {
    const ssr = await import(pathToFileURL(path.join(ssrDir, "ssr-server.mjs")).href);
    await node.mutation("tasks:addMany", { list: "ssr", texts: ["alpha", "beta"] });
    const { html, preloaded } = await ssr.render(srv.url, "ssr", {});
    assert.match(html, /<ul id="ssr-list" data-n="2">alpha,beta<\/ul>/);
    assert.equal(preloaded._name, "tasks:list");
    assert.deepEqual(JSON.parse(preloaded._argsJSON), { list: "ssr" });
    assert.deepEqual(ssr.preloadedQueryResult(preloaded), ["alpha", "beta"]);
    // the headers are forwarded: a refused bearer token fails the preload with the server's code
    await assert.rejects(ssr.preloadQuery(srv.url, "tasks:list", { list: "ssr" }, { headers: { Authorization: "Bearer not.a.jwt" } }),
                         (e) => e.code === "InvalidToken" && e.status === 401);
    await assert.rejects(ssr.preloadQuery(srv.url, "tasks:boom", { why: "ssr" }), (e) => e.code === "FunctionFailed" && /boom: ssr/.test(e.message));
    await assert.rejects(ssr.preloadQuery(srv.url, "tasks:nope", {}), (e) => e.code === "FunctionNotFound");
    assert.equal(ssr.queryUrl("http://h:1"), "http://h:1/api/query");
    assert.equal(ssr.queryUrl("https://h/base/"), "https://h/base/api/query");
    assert.equal(ssr.queryUrl("wss://h/api/sync"), "https://h/api/query");
    assert.throws(() => ssr.queryUrl("ftp://h"), /expected http\(s\):\/\/ or ws\(s\):\/\//);
    const viaWs = await ssr.preloadQuery(srv.url.replace(/^http/, "ws") + "/api/sync", { _name: "tasks:list" }, { list: "ssr" });
    assert.deepEqual(ssr.preloadedQueryResult(viaWs), ["alpha", "beta"]);
    assert.deepEqual(ssr.preloadedQueryArgs(viaWs), { list: "ssr" });
    assert.equal(typeof viaWs._version, "number");
    await assert.rejects(ssr.preloadQuery(srv.url, "tasks:list", { list: 5 }), (e) => e.code === "ArgumentValidationError" && e.status === 400);
    // BigInt and bytes survive the token (Convex's JSON encoding)
    const big = await ssr.preloadQuery(srv.url, "tasks:big", { n: 21n });
    const v = ssr.preloadedQueryResult(JSON.parse(JSON.stringify(big)));
    assert.equal(v.n, 42n);
    assert.deepEqual([...new Uint8Array(v.bytes)], [1, 2, 3]);

    const doc = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>` +
        `<div id="root">${html}</div><script>window.__PRELOADED = ${JSON.stringify(preloaded).replace(/</g, "\\u003c")};</script>` +
        `<script type="module" src="/ssr.js"></script></body></html>`;
    fs.writeFileSync(path.join(dir, "public/ssr.html"), doc);
    const p2 = await openPage(browser, srv.url + "/ssr.html");
    try {
        await p2.waitForFunction(() => (globalThis.__ssrSeen ?? []).length > 0, null, { timeout: 10000 });
        await node.mutation("tasks:add", { list: "ssr", text: "gamma" });
        await shows("#ssr-list", "alpha,beta,gamma", "the hydrated list, live", p2);
        const seen = await p2.evaluate(() => globalThis.__ssrSeen);
        assert.ok(!seen.includes("loading"), `no loading render: ${JSON.stringify(seen)}`);
        assert.equal(seen[0], "alpha,beta");
        assert.deepEqual(realErrors(p2), [], "hydration matched the server's HTML");
    } finally {
        await p2.context().close();
    }
});
