// examples/convex-chat in headless Chromium against a real `vireo dev`: a Convex app (convex/
// folder as Convex writes it) and a React page using the official `convex` client
// (ConvexReactClient over Convex's sync protocol on /api/<version>/sync). Two pages see each
// other's messages live; a sent message shows at once through the page's optimistic update —
// while the Mutation message is held between the page and the server, so before the server has
// seen it — and is replaced by the server's copy once the mutation has run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { REPO, waitFor } from "../integration/helpers.mjs";
import { launchBrowser, startExample } from "./helpers.mjs";

let srv, browser, ada, bob;

before(async () => {
    srv = await startExample("convex-chat", {
        // the page is bundled from the example's sources (its node_modules are the repo's) into
        // the temp copy's public/, as `node build.mjs` does in the example
        prepare: (dir) =>
            execFileSync(process.execPath, [path.join(REPO, "examples/convex-chat/build.mjs"),
                "--outdir", path.join(dir, "public")], { stdio: "pipe", timeout: 60000 }),
    });
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    if (srv) await srv.stop();
});

const shown = (page) =>
    page.$$eval("#messages li:not(.end)", (lis) => lis.map((li) =>
        `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`));

async function waitMessages(page, want) {
    try {
        await page.waitForFunction(
            (w) => {
                const got = [...document.querySelectorAll("#messages li:not(.end)")].map((li) =>
                    `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`);
                return JSON.stringify(got) === JSON.stringify(w);
            },
            want, { timeout: 10000 });
    } catch (e) {
        e.message += `\nwanted ${JSON.stringify(want)}, page shows ${JSON.stringify(await shown(page))}` +
            `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-800)}`;
        throw e;
    }
}

/* A page in its own browser context, as openPage makes it, that also records the URLs of the
 * WebSockets it opens; `route` (optional) relays its sync WebSocket (page.routeWebSocket). */
async function openChat(name, { route } = {}) {
    const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
    const page = await context.newPage();
    page.errors = [];
    page.sockets = [];
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error") page.errors.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => {
        if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on("websocket", (ws) => page.sockets.push(ws.url()));
    if (route) await page.routeWebSocket(/\/api\/[^/]+\/sync$/, route);
    await page.goto(`${srv.url}/?name=${encodeURIComponent(name)}`);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 15000 })
        .catch((e) => {
            e.message += `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr: ${srv.stderr.slice(-1500)}`;
            throw e;
        });
    return page;
}

async function say(page, text) {
    await page.fill("#body", text);
    await page.click("#send");
}

/* The messages as the server has them (Vireo's HTTP API, not the page's client). */
const serverMessages = () => srv.value("query", "messages:list", {});

test("two pages see each other's messages live", { timeout: 90000 }, async () => {
    ada = await openChat("ada");
    bob = await openChat("bob");
    assert.deepEqual(await shown(ada), []);
    assert.ok(await ada.isVisible("#empty"), "the empty-chat hint shows");

    await say(ada, "hello from ada");
    await waitMessages(bob, ["ada: hello from ada"]);
    await waitMessages(ada, ["ada: hello from ada"]);
    assert.equal(await ada.inputValue("#body"), "", "the composer is cleared after sending");

    await bob.fill("#body", "hi ada, bob here");
    await bob.press("#body", "Enter");
    const two = ["ada: hello from ada", "bob: hi ada, bob here"];
    await waitMessages(ada, two);
    await waitMessages(bob, two);
    assert.ok(!(await ada.isVisible("#empty")));

    // what the pages show went through the server
    const r = await serverMessages();
    assert.deepEqual(r.map((m) => `${m.author}: ${m.body}`), two);
    const ids = await ada.$$eval("#messages li:not(.end)", (lis) => lis.map((li) => li.dataset.id));
    assert.deepEqual(ids, r.map((m) => m._id), "the page shows the server's documents");
    assert.equal(await ada.$$eval("#messages li.pending", (l) => l.length), 0);
    for (const t of await ada.$$eval("#messages time", (ts) => ts.map((x) => x.dateTime)))
        assert.ok(Math.abs(Date.parse(t) - Date.now()) < 120000, `message time ${t} is now`);
    for (const p of [ada, bob])
        assert.ok(p.sockets.some((u) => /^ws:\/\/127\.0\.0\.1:\d+\/api\/\d+\.\d+\.\d+\/sync$/.test(u)),
            `the official client's WebSocket URL, /api/<version>/sync: ${JSON.stringify(p.sockets)}`);
    assert.deepEqual([...ada.errors, ...bob.errors], []);
});

test("a sent message shows at once (optimistic) and is replaced by the server's",
    { timeout: 90000 },
    async () => {
        // carol's WebSocket goes through a relay that forwards everything both ways, except the
        // client's Mutation messages, which it holds until release() (a slow network, not a
        // changed server: the server answers as it always does once the message reaches it)
        const held = [];
        const seen = [];
        let upstream;
        const carol = await openChat("carol", {
            route: (ws) => {
                upstream = ws.connectToServer();
                ws.onMessage((m) => {
                    let type;
                    try {
                        type = JSON.parse(String(m)).type;
                    } catch {
                        type = undefined;
                    }
                    seen.push(type);
                    if (type === "Mutation") held.push(m);
                    else upstream.send(m);
                });
            },
        });
        assert.ok(seen.includes("Connect") && seen.includes("ModifyQuerySet"),
            `the page speaks Convex's sync protocol (sent: ${seen})`);
        const before = await serverMessages();
        const start = ["ada: hello from ada", "bob: hi ada, bob here"];
        await waitMessages(carol, start);

        await say(carol, "optimistic hello");
        // shown at once, marked pending, while the server has not even received the mutation
        await carol.waitForSelector("#messages li.pending", { timeout: 3000 });
        await waitMessages(carol, [...start, "carol: optimistic hello"]);
        await waitFor(() => held.length === 1, { timeout: 3000, what: "the held Mutation message" });
        const pendingId = await carol.$eval("#messages li.pending", (li) => li.dataset.id);
        assert.match(pendingId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
            "the optimistic message has the page's own id");
        assert.equal((await serverMessages()).length, before.length, "the server has not seen it");
        assert.deepEqual(await shown(ada), start, "other pages don't see an optimistic message");
        assert.equal(await carol.inputValue("#body"), "");

        // release the mutation: the server runs it, and carol's list moves to the server's copy
        for (const m of held.splice(0)) upstream.send(m);
        await carol.waitForFunction(() => document.querySelectorAll("#messages li.pending").length === 0,
            null, { timeout: 10000 });
        const after = await serverMessages();
        assert.equal(after.length, before.length + 1);
        const saved = after.at(-1);
        assert.deepEqual([saved.author, saved.body], ["carol", "optimistic hello"]);
        await waitMessages(carol, [...start, "carol: optimistic hello"]);
        const ids = await carol.$$eval("#messages li:not(.end)", (lis) => lis.map((li) => li.dataset.id));
        assert.deepEqual(ids, after.map((m) => m._id), "the optimistic message was replaced by the server's");
        assert.ok(!ids.includes(pendingId));
        await waitMessages(ada, [...start, "carol: optimistic hello"]);
        await waitMessages(bob, [...start, "carol: optimistic hello"]);
        assert.deepEqual([...carol.errors, ...ada.errors, ...bob.errors], []);
        await carol.context().close();
    });
