// @vireo/react's actor hooks in headless Chromium (playwright-core) against a real `vireo dev` on
// tests/integration/apps/client-actors: the page (actors-react/page.jsx, bundled by esbuild with
// development React into the temp copy's public/) renders under StrictMode. Live state through a
// selector, events, a method call, a selector whose value did not change not re-rendering its
// component, unmount and an id change unsubscribing (one tick later) and subscribing, and the
// connection status through a server restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import * as esbuild from "esbuild";
import { createClient } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor } from "../integration/helpers.mjs";
import { launchBrowser, openPage } from "../e2e/helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
let srv, dir, browser, page, node;

before(async () => {
    dir = tempDir("client-actors");
    fs.mkdirSync(path.join(dir, "public"), { recursive: true });
    fs.copyFileSync(path.join(here, "actors-react/index.html"), path.join(dir, "public/index.html"));
    await esbuild.build({
        entryPoints: [path.join(here, "actors-react/page.jsx")],
        outfile: path.join(dir, "public/app.js"),
        bundle: true, format: "esm", jsx: "automatic", target: "es2022", logLevel: "silent",
        alias: { "@vireo/client": path.join(here, "../../clients/js/src/index.js") }, // @vireo/react's peer
        define: { "process.env.NODE_ENV": JSON.stringify("development") },
    });
    srv = await startServer(dir);
    await assertAppLoaded(srv);
    browser = await launchBrowser();
    page = await openPage(browser, srv.url + "/");
    node = createClient({ url: srv.url, WebSocket, backoff: { baseMs: 50, maxMs: 200 } });
});

after(async () => {
    node?.$close();
    await browser?.close();
    if (srv) await srv.stop();
});

const text = (sel) => page.$eval(sel, (e) => e.textContent);

async function shows(sel, want, what = sel) {
    try {
        await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout: 10000 });
    } catch (e) {
        const got = await page.$eval(sel, (el) => el.textContent).catch(() => "(absent)");
        e.message += `\n${what}: wanted ${JSON.stringify(want)}, page shows ${JSON.stringify(got)}; page errors: ${JSON.stringify(page.errors)}`;
        throw e;
    }
}

/** The frames the page sent for counter/<id>, as "type" strings. */
const framesFor = (id) => page.evaluate((i) => window.__sent.filter((f) => f.actorId === i).map((f) => f.type), id);

test("state through a selector, events and methods, live under StrictMode", { timeout: 30000 }, async () => {
    await shows("#status", "connected");
    await shows("#count", "0");
    await shows("#log", "");
    // StrictMode mounted, unmounted and mounted again: the instance must still be live
    await node.counter("react-1").add({ by: 2 });
    await shows("#count", "2");
    await shows("#events", "2");
    await page.click("#add");
    await shows("#count", "3");
    await shows("#events", "2,3");
    assert.deepEqual(await node.counter("react-1").get(), { count: 3, log: [] });
    const frames = await framesFor("react-1");
    const net = (t) => frames.filter((f) => f === `${t}:sub`).length - frames.filter((f) => f === `${t}:unsub`).length;
    assert.equal(net("state"), 1, `one state subscription: ${frames}`);
    assert.equal(net("event"), 1, `one event subscription: ${frames}`);
    assert.deepEqual(page.errors, []);
});

test("a selector whose value did not change does not re-render its component", { timeout: 30000 }, async () => {
    await shows("#count", "3");
    const before = await page.evaluate(() => ({ ...window.__renders }));
    await node.counter("react-1").add({ by: 1 });
    await shows("#count", "4");
    const mid = await page.evaluate(() => ({ ...window.__renders }));
    assert.ok(mid.counter > before.counter);
    assert.equal(mid.log, before.log, `LogView (memo, selecting a copy of s.log) re-rendered: ${JSON.stringify({ before, mid })}`);
    await node.counter("react-1").note({ text: "hello" });
    await shows("#log", "hello");
    assert.ok((await page.evaluate(() => window.__renders.log)) > mid.log);
});

test("unmount unsubscribes one tick later; remount gets a fresh snapshot; an id change switches", { timeout: 30000 }, async () => {
    await page.click("#toggle");
    await page.waitForFunction(() => !document.querySelector("#count"));
    await waitFor(async () => {
        const f = await framesFor("react-1");
        return f.slice(-2).sort().join() === "event:unsub,state:unsub";
    }, { what: "the unsubscribes of react-1" });
    await node.counter("react-1").add({ by: 10 }); // changed while nobody on the page watches
    await page.click("#toggle");
    await shows("#count", "14", "the remounted counter's fresh snapshot");
    await shows("#log", "hello");
    await page.click("#switch");
    await shows("#name", "react-2");
    await shows("#count", "0");
    await waitFor(async () => (await framesFor("react-1")).slice(-2).sort().join() === "event:unsub,state:unsub",
                  { what: "react-1 released after the switch" });
    const f2 = await framesFor("react-2");
    assert.equal(f2.filter((t) => t === "state:sub").length - f2.filter((t) => t === "state:unsub").length, 1);
    await node.counter("react-2").add({ by: 5 });
    await shows("#count", "5");
    await shows("#events", "5");
});

test("useConnectionStatus through a server restart; subscriptions come back", { timeout: 40000 }, async () => {
    const port = srv.port;
    await srv.stop();
    await shows("#status", "reconnecting");
    srv = await startServer(dir, { args: ["--port", String(port)] });
    await shows("#status", "connected");
    await node.counter("react-2").add({ by: 1 });
    await shows("#count", "6", "the re-subscribed state after the restart");
    assert.deepEqual(page.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), []);
});
