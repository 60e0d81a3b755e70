// examples/convex-chat's history in headless Chromium: Convex's own `usePaginatedQuery` (the
// `convex/react` npm package) over messages:page (`paginationOptsValidator`, newest first,
// `.paginate()`) against a real `vireo dev`. With 25 messages the first page shows the newest 10
// (status LoadingFirstPage, then CanLoadMore), "Load more" twice adds the older pages in order and
// reaches Exhausted; while the pages are live a message sent from another browser, one deleted
// inside a loaded page and one inserted at the first page's top each show exactly once (the
// pages' ends held by the query journal: re-runs counted on /api/metrics); a first page grown
// past twice its size is split by the hook without losing or doubling a message; a reload starts
// the pages over; after a dropped connection the hook re-adds its pages with their journals and
// they keep their ends; a deploy that changes the query's order fails the live pages with
// InvalidCursor and the hook starts over. The page shows the history oldest first, so the newest
// message is the last item.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO, sleep, waitFor, metrics, metricsDelta } from "../integration/helpers.mjs";
import { launchBrowser, startExample } from "./helpers.mjs";

let srv, browser;

/* A fresh `vireo dev` on a copy of the example, its page bundled into the copy's public/. */
const startChat = () => startExample("convex-chat", {
    prepare: (dir) =>
        execFileSync(process.execPath, [path.join(REPO, "examples/convex-chat/build.mjs"),
            "--outdir", path.join(dir, "public")], { stdio: "pipe", timeout: 60000 }),
});

before(async () => {
    browser = await launchBrowser();
});

afterEach(async () => {
    for (const c of browser?.contexts() ?? []) await c.close();
    if (srv) await srv.stop();
    srv = undefined;
});

after(async () => {
    await browser?.close();
});

const ITEMS = "#messages li:not(.end)";
const shown = (page) => page.$$eval(ITEMS, (lis) => lis.map((li) =>
    `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`));
const shownIds = (page) => page.$$eval(ITEMS, (lis) => lis.map((li) => li.dataset.id));
const seeds = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => `seed: message ${a + i}`);

/* Waits until the page's list is exactly `want` (in order) and, if given, its paginated status
 * (#messages's data-status, usePaginatedQuery's `status`) is `status`. */
async function waitShown(page, want, status) {
    try {
        await page.waitForFunction(
            ([w, s]) => {
                const list = document.querySelector("#messages");
                if (!list || (s && list.dataset.status !== s)) return false;
                const got = [...list.querySelectorAll("li:not(.end)")].map((li) =>
                    `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`);
                return JSON.stringify(got) === JSON.stringify(w);
            },
            [want, status], { timeout: 10000 });
    } catch (e) {
        e.message += `\nwanted ${JSON.stringify(want)} (${status}), page shows ` +
            `${JSON.stringify(await shown(page))} (${await status_(page)})` +
            `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-800)}`;
        throw e;
    }
}
const status_ = (page) => page.$eval("#messages", (l) => l.dataset.status);

/* A chat page in its own browser context. It records every status the list goes through
 * (window.statuses, by a MutationObserver installed before the page's script runs, again on
 * every load) and every query the hook adds over the sync WebSocket (page.adds). `route`
 * (optional) relays its sync WebSocket (page.routeWebSocket). */
async function openChat(name, { route } = {}) {
    const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
    await context.addInitScript(() => {
        window.statuses = [];
        new MutationObserver(() => {
            const s = document.querySelector("#messages")?.dataset.status;
            if (s && window.statuses.at(-1) !== s) window.statuses.push(s);
        }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
    });
    const page = await context.newPage();
    page.errors = [];
    page.adds = [];
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") page.errors.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("response", (r) => {
        if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on("websocket", (ws) => ws.on("framesent", (f) => {
        const m = JSON.parse(String(f.payload));
        if (m.type === "ModifyQuerySet")
            for (const x of m.modifications) if (x.type === "Add") page.adds.push(x);
    }));
    if (route) await page.routeWebSocket(/\/api\/[^/]+\/sync$/, route);
    await page.goto(`${srv.url}/?name=${encodeURIComponent(name)}`);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 15000 })
        .catch((e) => {
            e.message += `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr: ${srv.stderr.slice(-1500)}`;
            throw e;
        });
    return page;
}

const statuses = (page) => page.evaluate(() => window.statuses);
const send = (author, body) => srv.value("mutation", "messages:send", { author, body });
/* every message as the server has it, oldest first (messages:list: the newest 100) */
const serverMessages = async () => (await srv.value("query", "messages:list", {}))
    .map((m) => ({ id: m._id, text: `${m.author}: ${m.body}` }));

/* Runs fn and waits until the page shows `want` (status `status`); then, after the server has
 * settled, checks the number of query re-runs it caused on /api/metrics. */
async function step(page, what, fn, want, status, reruns) {
    const m0 = await metrics(srv);
    await fn();
    await waitShown(page, want, status);
    await sleep(300);
    const d = metricsDelta(m0, await metrics(srv));
    if (reruns !== undefined) assert.equal(d.queryReruns, reruns, `${what}: ${JSON.stringify(d)}`);
    assert.deepEqual(await shown(page), want, `${what}: nothing else shows up after the re-runs`);
}

test("usePaginatedQuery: pages in order, live inserts and deletes, a split, a reload", { timeout: 180000 }, async () => {
    srv = await startChat();
    for (let i = 1; i <= 25; i++) await send("seed", `message ${i}`);

    const ada = await openChat("ada");
    // the first page: the newest 10, and the hook went LoadingFirstPage -> CanLoadMore
    await waitShown(ada, seeds(16, 25), "CanLoadMore");
    assert.deepEqual(await statuses(ada), ["LoadingFirstPage", "CanLoadMore"]);
    assert.equal(ada.adds.length, 1);
    assert.equal(ada.adds[0].udfPath, "messages:page");
    assert.deepEqual(ada.adds[0].args[0].paginationOpts.numItems, 10);
    assert.equal(ada.adds[0].args[0].paginationOpts.cursor, null);
    assert.ok(await ada.isEnabled("#load-more"));

    // "Load more" twice: the next older pages, in order, then the beginning of the chat
    await ada.click("#load-more");
    await waitShown(ada, seeds(6, 25), "CanLoadMore");
    await ada.click("#load-more");
    await waitShown(ada, seeds(1, 25), "Exhausted");
    assert.deepEqual(await statuses(ada),
        ["LoadingFirstPage", "CanLoadMore", "LoadingMore", "CanLoadMore", "LoadingMore", "Exhausted"]);
    assert.equal(await ada.$$eval("#load-more", (b) => b.length), 0, "no Load more once exhausted");
    assert.match(await ada.textContent("#history"), /beginning of the chat/);
    assert.deepEqual(ada.adds.map((a) => a.args[0].paginationOpts.cursor === null), [true, false, false],
        "each next page starts at the previous one's continueCursor");
    assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id),
        "the page shows the server's documents, each once");
    await sleep(300);

    // a message from another browser shows live, as the newest
    const bob = await openChat("bob");
    await waitShown(bob, seeds(16, 25), "CanLoadMore");
    let all = [...seeds(1, 25), "bob: hello from bob"];
    await step(ada, "bob's message", async () => {
        await bob.fill("#body", "hello from bob");
        await bob.click("#send");
    }, all, "Exhausted");
    await waitShown(bob, all.slice(-11), "CanLoadMore");
    await bob.context().close();
    await sleep(300);

    // deleted inside the second page (message 12): that page re-runs and shrinks; the third page
    // does not move (without its journal the second page would re-run to 10 rows again and show
    // message 5 a second time)
    all = all.filter((m) => m !== "seed: message 12");
    await step(ada, "delete inside the second page", async () => {
        // match the body exactly: a row's text also holds its time ("message 1" + "12:15 AM")
        const li = ada.locator(ITEMS).filter({ has: ada.locator(".body", { hasText: /^message 12$/ }) });
        await li.locator("button.delete").click();
    }, all, "Exhausted", 1);

    // deleted inside the last page and inside the first page: one re-run each
    all = all.filter((m) => m !== "seed: message 2");
    const byText = async (t) => (await serverMessages()).find((m) => m.text === t).id;
    await step(ada, "delete inside the last page", async () =>
        srv.value("mutation", "messages:remove", { id: await byText("seed: message 2") }), all, "Exhausted", 1);
    all = all.filter((m) => m !== "seed: message 20");
    await step(ada, "delete inside the first page", async () =>
        srv.value("mutation", "messages:remove", { id: await byText("seed: message 20") }), all, "Exhausted", 1);

    // inserted at the top of the first page over HTTP: once, at the newest end
    all = [...all, "carol: over http"];
    await step(ada, "insert at the first page's top", () => send("carol", "over http"), all, "Exhausted", 1);
    assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id));

    // the first page grows past twice initialNumItems (20): the hook splits it in two pages that
    // end at the server's splitCursor and at the page's own end; nothing is lost or doubled
    const addsBefore = ada.adds.length;
    const burst = Array.from({ length: 12 }, (_, i) => `dave: burst ${i + 1}`);
    for (const b of burst) await send("dave", b.slice(6));
    all = [...all, ...burst];
    await waitShown(ada, all, "Exhausted");
    await waitFor(() => ada.adds.length >= addsBefore + 2, { what: "the split's two queries", timeout: 10000 });
    const split = ada.adds.slice(addsBefore);
    assert.equal(split.length, 2, JSON.stringify(split));
    assert.equal(split[0].args[0].paginationOpts.cursor, null);
    assert.equal(typeof split[0].args[0].paginationOpts.endCursor, "string");
    assert.equal(split[1].args[0].paginationOpts.cursor, split[0].args[0].paginationOpts.endCursor,
        "the second half starts where the first ends (the splitCursor)");
    assert.equal(typeof split[1].args[0].paginationOpts.endCursor, "string");
    await sleep(500);
    assert.deepEqual(await shown(ada), all, "after the split");
    assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id));
    // and the split pages stay live
    all = [...all, "carol: after the split"];
    await step(ada, "insert after the split", () => send("carol", "after the split"), all, "Exhausted");

    // a reload starts over: the newest 10 again, then the next 10
    await ada.reload();
    await waitShown(ada, all.slice(-10), "CanLoadMore");
    assert.deepEqual(await statuses(ada), ["LoadingFirstPage", "CanLoadMore"]);
    await ada.click("#load-more");
    await waitShown(ada, all.slice(-20), "CanLoadMore");
    assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id).slice(-20));
    assert.deepEqual(ada.errors, []);
});

test("an empty chat fills up live: one page grows and splits; after a reconnect the pages keep their ends",
    { timeout: 180000 },
    async () => {
        srv = await startChat();
        // ada's sync WebSocket goes through a relay the test can cut (a dropped connection: the
        // client reconnects by itself and re-adds its queries with their journals)
        const relays = [];
        const sentAdds = [];
        const ada = await openChat("ada", {
            route: (ws) => {
                const upstream = ws.connectToServer();
                relays.push({ ws, upstream });
                ws.onMessage((m) => {
                    const msg = JSON.parse(String(m));
                    if (msg.type === "ModifyQuerySet")
                        for (const x of msg.modifications) if (x.type === "Add") sentAdds.push({ conn: relays.length, ...x });
                    upstream.send(m);
                });
            },
        });
        await waitShown(ada, [], "Exhausted");
        assert.deepEqual(await statuses(ada), ["LoadingFirstPage", "Exhausted"]);
        assert.ok(await ada.isVisible("#empty"));
        assert.equal(await ada.$$eval("#load-more", (b) => b.length), 0);

        // the only page grows with every message; past 20 the hook splits it, nothing doubles
        const all = [];
        for (let i = 1; i <= 25; i++) {
            await send("seed", `message ${i}`);
            all.push(`seed: message ${i}`);
            if (i % 5 === 0) await waitShown(ada, all, "Exhausted");
        }
        await waitFor(() => sentAdds.length === 3, { what: "the split's two queries", timeout: 10000 });
        assert.equal(sentAdds[1].args[0].paginationOpts.cursor, null);
        assert.equal(sentAdds[2].args[0].paginationOpts.cursor, sentAdds[1].args[0].paginationOpts.endCursor);
        await sleep(300);
        assert.deepEqual(await shown(ada), all);
        assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id));

        // a reload starts over with two journaled pages (no endCursor: their ends are held only
        // by the journals the server sent); then the connection drops, and while ada is away a
        // message in each page is deleted and three are sent
        await ada.reload();
        await waitShown(ada, all.slice(-10), "CanLoadMore");
        await ada.click("#load-more");
        await waitShown(ada, all.slice(-20), "CanLoadMore");
        const conn = relays.length;
        const live = sentAdds.filter((a) => a.conn === conn);
        assert.equal(live.length, 2);
        for (const a of live) assert.equal(a.args[0].paginationOpts.endCursor, undefined);
        const { ws, upstream } = relays.at(-1);
        await ws.close({ code: 4000, reason: "test: dropped" });
        await upstream.close().catch(() => {});
        await ada.waitForSelector('#status[data-state="offline"]', { timeout: 10000 });
        const offline = await shown(ada);
        const byText = async (t) => (await serverMessages()).find((m) => m.text === t).id;
        for (const t of ["seed: message 8", "seed: message 20"]) {
            await srv.value("mutation", "messages:remove", { id: await byText(t) });
            all.splice(all.indexOf(t), 1);
        }
        for (const b of ["x", "y", "z"]) {
            await send("erin", b);
            all.push(`erin: ${b}`);
        }
        assert.deepEqual(await shown(ada), offline, "offline, the page keeps what it had");

        // back: the client re-adds both pages with their journals; the first page grew by three
        // and shrank by one, the second shrank by one, and nothing between them was lost (a
        // first page run afresh would end 10 rows in and leave a gap before the second)
        await ada.waitForSelector('#status[data-state="connected"]', { timeout: 20000 });
        const want = all.slice(all.indexOf("seed: message 6"));
        await waitShown(ada, want, "CanLoadMore");
        const readds = sentAdds.filter((a) => a.conn === conn + 1);
        assert.equal(readds.length, 2, JSON.stringify(readds));
        for (const [i, a] of readds.entries()) {
            assert.deepEqual(a.args, live[i].args, "the same queries");
            assert.equal(typeof a.journal, "string", "re-added with its journal");
        }
        await sleep(300);
        assert.deepEqual(await shown(ada), want);
        assert.deepEqual(await shownIds(ada), (await serverMessages()).map((m) => m.id).slice(-want.length));
        // and the next page continues after the second
        await ada.click("#load-more");
        await waitShown(ada, all, "Exhausted");
        assert.deepEqual(ada.errors, []);
    });

test("a deploy that changes the pages' order: the hook gets InvalidCursor and starts over", { timeout: 120000 }, async () => {
    srv = await startChat();
    for (let i = 1; i <= 15; i++) await send("seed", `message ${i}`);
    const ada = await openChat("ada");
    await waitShown(ada, seeds(6, 15), "CanLoadMore");
    await ada.click("#load-more");
    await waitShown(ada, seeds(1, 15), "Exhausted");

    // the app's messages:page now reads oldest first: the live pages' journal and cursor belong to
    // another query (another order), the server fails them with InvalidCursor, and Convex's hook
    // resets to a new first page
    const file = path.join(srv.dir, "convex/messages.ts");
    const src = fs.readFileSync(file, "utf8");
    assert.ok(src.includes('.order("desc").paginate('));
    const from = srv.stderr.length;
    fs.writeFileSync(file, src.replace('.order("desc").paginate(', '.order("asc").paginate('));
    await waitFor(() => /loaded 4 functions/.test(srv.stderr.slice(from)), { timeout: 15000, what: "the reload" });
    // the first page is now the oldest 10 (shown reversed: the page reverses what it gets)
    await waitShown(ada, seeds(1, 10).reverse(), "CanLoadMore");
    const warned = ada.errors.filter((e) => /usePaginatedQuery hit error, resetting pagination state: [^]*InvalidCursor/.test(e));
    assert.ok(warned.length >= 1, JSON.stringify(ada.errors));
    assert.deepEqual(ada.errors.filter((e) => !warned.includes(e)), []);
    await ada.click("#load-more");
    await waitShown(ada, seeds(1, 15).reverse(), "Exhausted");
});
