// examples/tasks in headless Chromium (real IndexedDB, real Web Locks) against a real `vireo dev`
// and the example's own SSR server (ssr.mjs, node:http), which also serves the client-rendered
// page: its origin (and so the IndexedDB the pages share) stays up while the Vireo server is
// stopped and started again on the same port. Two tabs see each other's writes live; the paged
// view loads more; an optimistic create the server refuses is rolled back; with the server down a
// reloaded page renders the list from IndexedDB; a create made offline shows at once, survives a
// reload and is applied once when the server is back; two tabs offline each queue a write, both
// reload, and each write is applied exactly once; the SSR page has the data in its HTML, hydrates
// without a loading state and goes live.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { REPO, startServer, waitFor } from "../integration/helpers.mjs";
import { launchBrowser, startExample } from "./helpers.mjs";

let srv, dir, port, ssr, ssrUrl, browser, context;

/* The example's SSR server on port 0, pointed at the Vireo server. */
async function startSsr() {
    const proc = spawn(process.execPath, [path.join(dir, "ssr.mjs"), "--vireo", srv.url, "--port", "0",
        "--public", path.join(dir, "public"), "--dist", path.join(dir, "dist")], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (out += d));
    process.on("exit", () => proc.kill("SIGKILL"));
    const m = await waitFor(() => /listening on (http:\/\/\S+)/.exec(out), { timeout: 15000, what: `ssr.mjs to listen (${out})` });
    return { proc, url: m[1], output: () => out };
}

before(async () => {
    srv = await startExample("tasks", {
        prepare: (d) => {
            dir = d;
            execFileSync(process.execPath, [path.join(REPO, "examples/tasks/build.mjs"),
                "--outdir", path.join(d, "public"), "--distdir", path.join(d, "dist")], { stdio: "pipe", timeout: 60000 });
        },
    });
    port = srv.port;
    ssr = await startSsr();
    ssrUrl = ssr.url;
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 900, height: 700 } }); // one origin, one IndexedDB
});

after(async () => {
    await browser?.close();
    ssr?.proc.kill();
    if (srv) await srv.stop();
});

async function stopVireo() {
    await srv.stop();
}

async function startVireo() {
    srv = await startServer(dir, { args: ["--port", String(port)] });
}

/* A test that stops the server starts it again when it fails half-way, so that one failure
 * does not fail the tests after it for want of a server. */
function restartOnFailure(t) {
    t.after(async () => {
        if (srv.exitCode !== undefined || srv.exitSignal) await startVireo();
    });
}

/* A tab of the shared context with console errors and uncaught exceptions in page.errors. */
async function openTab(p = "/", { connected = true, ctx = context } = {}) {
    const page = await ctx.newPage();
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
    });
    await page.goto(ssrUrl + p);
    if (connected) await until(page, () => document.querySelector("#status")?.dataset.state === "connected", null, "connected");
    return page;
}

async function until(page, fn, arg, what) {
    try {
        await page.waitForFunction(fn, arg, { timeout: 15000 });
    } catch (e) {
        const shows = await page.evaluate(() => document.querySelector("main")?.innerText).catch(() => "?");
        // a new error: playwright's TimeoutError keeps its own message when the test reports it
        throw new Error(`${e.message}\nwaiting for ${what}; the page shows:\n${shows}\npage errors: ` +
            `${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-600)}\nssr: ${ssr.output().slice(-400)}`,
            { cause: e });
    }
}

const rows = (page) => page.$$eval("#tasks li", (lis) => lis.map((li) => li.querySelector(".text").textContent));

/* Waits until the page's list is exactly `want`. */
function showsTasks(page, want) {
    return until(page, (w) => JSON.stringify([...document.querySelectorAll("#tasks li .text")].map((x) => x.textContent)) === JSON.stringify(w),
        want, `the list ${JSON.stringify(want)}`);
}

async function add(page, text) {
    await page.fill("#text", text);
    await page.click("#add");
}

const serverTasks = async () => (await srv.value("query", "tasks:list", {})).map((t) => t.text);

/* Writes what the page's client holds to IndexedDB now (it does so 100 ms after a change anyway). */
const flush = (page) => page.evaluate(() => window.vireo.flushPersistence());

test("two tabs see each other's writes live", { timeout: 60000 }, async () => {
    const a = await openTab();
    const b = await openTab();
    await showsTasks(a, []);
    await add(a, "alpha");
    await showsTasks(b, ["alpha"]);
    await add(b, "beta");
    await showsTasks(a, ["alpha", "beta"]);
    assert.deepEqual(await serverTasks(), ["alpha", "beta"]);
    assert.equal(await a.getAttribute("#source", "data-source"), "server");
    assert.equal(await a.textContent("#status"), "online");
    // a toggle in one tab shows in the other, with the counts (useQueryWithStatus)
    await b.click("#tasks li:first-child input[type=checkbox]");
    await until(a, () => document.querySelector("#tasks li:first-child")?.className === "done", null, "alpha done");
    await until(a, () => document.querySelector("#stats")?.textContent === "1/2 done", null, "the counts");
    assert.deepEqual([...a.errors, ...b.errors], []);
    await a.close();
    await b.close();
});

test("details (useQuery with \"skip\"), the action, and usePaginatedQuery loading more", { timeout: 60000 }, async () => {
    for (const t of ["c3", "c4", "c5", "c6", "c7"]) await srv.value("mutation", "tasks:create", { text: t });
    // a context of its own: no cache (a cached first page would already hold what it held then)
    const own = await browser.newContext();
    const page = await openTab("/", { ctx: own });
    await showsTasks(page, ["alpha", "beta", "c3", "c4", "c5", "c6", "c7"]);
    assert.equal(await page.textContent("#details"), "Click a task for its details.", "skipped: nothing picked");
    const subscribedGet = () => page.evaluate(() => [...window.vireo.queryStore.entries.values()].some((e) => e.path === "tasks:get"));
    assert.equal(await subscribedGet(), false, "\"skip\" subscribes nothing");
    await page.click("#tasks li:nth-child(2) .text");
    await until(page, () => document.querySelector("#details")?.textContent.startsWith("“beta”, to do"), null, "beta's details");
    assert.equal(await subscribedGet(), true, "tasks:get subscribed once a task is picked");

    await page.click("#summarize");
    await until(page, () => document.querySelector("#summary")?.textContent === "1 of 7 tasks done", null, "the action's summary");

    const paged = () => page.$$eval("#paged li", (lis) => lis.map((li) => li.textContent));
    await until(page, () => document.querySelector("#page-status")?.textContent === "CanLoadMore", null, "the first page");
    assert.deepEqual(await paged(), ["alpha", "beta", "c3"]);
    await page.click("#load-more");
    await until(page, () => document.querySelectorAll("#paged li").length === 6, null, "the second page");
    assert.deepEqual(await paged(), ["alpha", "beta", "c3", "c4", "c5", "c6"]);
    await until(page, () => document.querySelector("#page-status")?.textContent === "CanLoadMore", null, "more to load");
    await page.click("#load-more");
    await until(page, () => document.querySelector("#page-status")?.textContent === "Exhausted", null, "the end");
    assert.deepEqual(await paged(), ["alpha", "beta", "c3", "c4", "c5", "c6", "c7"]);
    // loaded pages stay live
    await srv.value("mutation", "tasks:create", { text: "c8" });
    await until(page, () => document.querySelectorAll("#paged li").length === 8, null, "a new task in the last page");
    for (const t of (await srv.value("query", "tasks:list", {})).filter((x) => /^c\d$/.test(x.text)))
        await srv.value("mutation", "tasks:remove", { id: t._id });
    await showsTasks(page, ["alpha", "beta"]);
    assert.deepEqual(page.errors, []);
    await own.close();
});

test("an optimistic create the server refuses shows at once, then is rolled back", { timeout: 60000 }, async () => {
    const page = await openTab();
    await showsTasks(page, ["alpha", "beta"]);
    // every text the list ever shows, from now on
    await page.evaluate(() => {
        window.__seen = [];
        new MutationObserver(() => {
            for (const li of document.querySelectorAll("#tasks li"))
                window.__seen.push(`${li.className}:${li.querySelector(".text").textContent}`);
        }).observe(document.querySelector("#tasks"), { childList: true, subtree: true, characterData: true, attributes: true });
    });
    await add(page, "fail this one");
    await until(page, () => document.querySelector("#error")?.textContent === 'refused: "fail this one"', null, "the server's error");
    await showsTasks(page, ["alpha", "beta"]);
    const seen = await page.evaluate(() => window.__seen);
    assert.ok(seen.includes("pending:fail this one"), `the optimistic row was shown: ${JSON.stringify(seen)}`);
    assert.deepEqual(await serverTasks(), ["alpha", "beta"], "the server's insert was rolled back too");
    // an accepted create: the optimistic row is replaced by the server's
    await add(page, "gamma");
    await showsTasks(page, ["alpha", "beta", "gamma"]);
    await until(page, () => !document.querySelector("#tasks li.pending"), null, "no pending row");
    assert.equal(await page.$("#error"), null, "the error is cleared by the next create");
    assert.deepEqual(page.errors, []);
    await page.close();
});

test("with the server down a reloaded page renders from IndexedDB; an offline create survives a reload and is applied once", { timeout: 90000 }, async (t) => {
    restartOnFailure(t);
    const page = await openTab();
    await showsTasks(page, ["alpha", "beta", "gamma"]);
    await flush(page);
    await stopVireo();
    await until(page, () => document.querySelector("#status")?.dataset.state !== "connected", null, "the badge going offline");
    assert.equal(await page.textContent("#status"), "offline");

    // (a) the reloaded page shows the cached list without any server
    await page.reload();
    await showsTasks(page, ["alpha", "beta", "gamma"]);
    assert.equal(await page.getAttribute("#source", "data-source"), "cache");
    assert.equal(await page.evaluate(() => window.vireo.hasServerResult("tasks:list", {})), false);
    assert.equal(await page.textContent("#status"), "offline");

    // (b) a create while offline shows at once, optimistic
    await add(page, "written offline");
    await showsTasks(page, ["alpha", "beta", "gamma", "written offline"]);
    assert.equal(await page.getAttribute("#tasks li:last-child", "class"), "pending");
    assert.equal(await page.evaluate(() => window.vireo.connectionState().offlineQueueLength), 1);
    await flush(page);
    // ... and survives a reload (from the persisted queue)
    await page.reload();
    await showsTasks(page, ["alpha", "beta", "gamma", "written offline"]);
    assert.equal(await page.getAttribute("#tasks li:last-child", "class"), "pending queued");
    // reload again while offline: still one queued write, not two
    await flush(page);
    await page.reload();
    await showsTasks(page, ["alpha", "beta", "gamma", "written offline"]);
    assert.equal(await page.evaluate(() => window.vireo.connectionState().offlineQueueLength), 1);

    await startVireo();
    await until(page, () => document.querySelector("#status")?.dataset.state === "connected", null, "online again");
    await until(page, () => document.querySelector("#source")?.dataset.source === "server", null, "the server's result");
    await showsTasks(page, ["alpha", "beta", "gamma", "written offline"]);
    await until(page, () => !document.querySelector("#tasks li.pending"), null, "the queued row replaced by the server's");
    assert.deepEqual(await serverTasks(), ["alpha", "beta", "gamma", "written offline"], "applied exactly once");
    // nothing is left to replay: a reload does not apply it again
    await flush(page);
    await page.reload();
    await until(page, () => document.querySelector("#status")?.dataset.state === "connected", null, "connected after reload");
    await page.waitForTimeout(300);
    assert.deepEqual(await serverTasks(), ["alpha", "beta", "gamma", "written offline"]);
    assert.deepEqual(page.errors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(e)), []);
    await page.close();
});

test("two tabs offline each queue a write; both reload; each write is applied exactly once", { timeout: 90000 }, async (t) => {
    restartOnFailure(t);
    const a = await openTab();
    const b = await openTab();
    const base = ["alpha", "beta", "gamma", "written offline"];
    await showsTasks(b, base);
    await stopVireo();
    for (const p of [a, b]) await until(p, () => document.querySelector("#status")?.dataset.state !== "connected", null, "offline");
    await add(a, "from tab A");
    await add(b, "from tab B");
    await showsTasks(a, [...base, "from tab A"]);
    await showsTasks(b, [...base, "from tab B"]);
    await flush(a);
    await flush(b);
    // each tab's queue is its own record, owned (Web Lock) by the tab's session
    const queues = await a.evaluate(() => new Promise((resolve, reject) => {
        const req = indexedDB.open("vireo-client");
        req.onsuccess = () => {
            const r = req.result.transaction("state").objectStore("state").getAll();
            r.onsuccess = () => resolve(r.result.filter((x) => x && Array.isArray(x.mutations)).map((x) => x.mutations.map((m) => m.args.text)));
            r.onerror = () => reject(r.error);
        };
        req.onerror = () => reject(req.error);
    }));
    assert.deepEqual(queues.sort(), [["from tab A"], ["from tab B"]]);

    await a.reload();
    await b.reload();
    // after the reloads each tab has adopted one of the two queues (which one does not matter)
    for (const p of [a, b]) await until(p, () => window.vireo?.connectionState().offlineQueueLength === 1, null, "one adopted queue");
    const shown = async (p) => (await rows(p)).slice(base.length).sort();
    const adopted = [...(await shown(a)), ...(await shown(b))].sort();
    assert.deepEqual(adopted, ["from tab A", "from tab B"], "each queued write shows in exactly one tab");

    await startVireo();
    const want = [...base, "from tab A", "from tab B"];
    await waitFor(async () => (await serverTasks()).length === want.length, { timeout: 15000, what: "both writes on the server" });
    for (const p of [a, b]) {
        await until(p, () => !document.querySelector("#tasks li.pending"), null, "no pending rows");
        assert.deepEqual((await rows(p)).sort(), [...want].sort());
    }
    await a.waitForTimeout(300);
    assert.deepEqual((await serverTasks()).sort(), [...want].sort(), "each write applied exactly once");
    await a.close();
    await b.close();
});

test("queues of closed tabs: one new tab adopts one and replays the others in their sessions, each once", { timeout: 90000 }, async (t) => {
    restartOnFailure(t);
    const base = await serverTasks();
    const a = await openTab();
    const b = await openTab();
    const c = await openTab();
    await showsTasks(c, base);
    await stopVireo();
    for (const p of [a, b, c]) await until(p, () => document.querySelector("#status")?.dataset.state !== "connected", null, "offline");
    await add(a, "queued in A");
    await add(b, "queued in B");
    await add(c, "queued in C");
    for (const p of [a, b, c]) await flush(p);
    const sessions = await Promise.all([a, b, c].map((p) => p.evaluate(() => window.vireo.sessionId)));
    await a.close();
    await b.close();
    await c.close();

    await startVireo();
    const d = await openTab(); // one tab for three queues
    const want = [...base, "queued in A", "queued in B", "queued in C"];
    await waitFor(async () => (await serverTasks()).length >= want.length, { timeout: 20000, what: "the three writes on the server" });
    await showsTasks(d, want);
    assert.ok(sessions.includes(await d.evaluate(() => window.vireo.sessionId)), "the tab resumed one queue's session");
    await waitFor(() => d.evaluate(() => window.vireo._drainers.size === 0 && window.vireo.pendingMutations().length === 0),
                  { timeout: 15000, what: "the replaying clients to finish" });
    await d.waitForTimeout(300);
    assert.deepEqual(await serverTasks(), want, "each applied exactly once");
    const left = await d.evaluate(() => new Promise((resolve) => {
        const req = indexedDB.open("vireo-client");
        req.onsuccess = () => {
            const r = req.result.transaction("state").objectStore("state").getAllKeys();
            r.onsuccess = () => resolve(r.result.filter((k) => String(k).includes("#queue#")));
        };
    }));
    assert.deepEqual(left, [], "no queue left in IndexedDB");
    assert.deepEqual(d.errors, []);
    await d.close();
});

test("the SSR page: the data is in the server's HTML; it hydrates without a loading state and goes live", { timeout: 60000 }, async () => {
    const res = await fetch(`${ssrUrl}/ssr`);
    assert.equal(res.status, 200);
    const html = await res.text();
    const tasks = await serverTasks();
    for (const t of tasks) assert.ok(html.includes(`<span class="text">${t}</span>`), `${t} is in the HTML`);
    assert.match(html, /<script id="preloaded" type="application\/json">\{"_name":"tasks:list"/);

    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
    });
    // the number of rows once the server's HTML is parsed (before the page's module script runs),
    // then each time the list changes
    await page.addInitScript(() => {
        window.__counts = [];
        document.addEventListener("readystatechange", () => {
            if (document.readyState !== "interactive") return;
            const count = () => window.__counts.push(document.querySelector("#tasks")?.children.length ?? 0);
            count();
            new MutationObserver(count).observe(document.body, { childList: true, subtree: true });
        });
    });
    await page.goto(`${ssrUrl}/ssr`);
    await until(page, () => window.__hydrated && document.querySelector("#status")?.dataset.state === "connected", null, "hydrated and connected");
    await showsTasks(page, tasks);
    const counts = await page.evaluate(() => window.__counts);
    assert.ok(counts.length > 0 && counts.every((n) => n === tasks.length), `never fewer rows (no loading state): ${counts}`);

    await srv.value("mutation", "tasks:create", { text: "from elsewhere" });
    await showsTasks(page, [...tasks, "from elsewhere"]);
    assert.deepEqual(page.errors, []);
    await page.close();
});
