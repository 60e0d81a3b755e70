// examples/chat in headless Chromium against a real `vireo dev`: the page loads the client the
// binary serves (/_vireo/client/), two users (separate browser contexts) see each other's messages
// live, switching channels shows only that channel, user text is never parsed as HTML, and the
// name is remembered. VIREO_E2E_SCREENSHOTS=dir saves a screenshot of the two-message page there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { launchBrowser, openPage, startExample } from "./helpers.mjs";

let srv, browser, ada, bob;

before(async () => {
    srv = await startExample("chat");
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    if (srv) await srv.stop();
});

const messages = (page) =>
    page.$$eval("#messages li", (lis) =>
        lis.map((li) => `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`));

async function waitMessages(page, want) {
    try {
        await page.waitForFunction(
            (w) => {
                const got = [...document.querySelectorAll("#messages li")].map(
                    (li) => `${li.querySelector(".author").textContent}: ${li.querySelector(".body").textContent}`);
                return JSON.stringify(got) === JSON.stringify(w);
            },
            want, { timeout: 10000 });
    } catch (e) {
        e.message += `\nwanted ${JSON.stringify(want)}, page shows ${JSON.stringify(await messages(page))}` +
            `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-800)}`;
        throw e;
    }
}

async function say(page, text) {
    await page.fill("#body", text);
    await page.click("#send");
}

const pressed = (page) => page.$eval(".channel[aria-pressed=true]", (b) => b.dataset.channel);

test("two pages see each other's messages live", { timeout: 90000 }, async () => {
    ada = await openPage(browser, srv.url + "/");
    bob = await openPage(browser, srv.url + "/");
    for (const p of [ada, bob])
        await p.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    assert.equal(await pressed(ada), "#general");
    assert.deepEqual(await messages(ada), []);
    assert.ok(await ada.isVisible("#empty"), "the empty-channel hint shows");

    await ada.fill("#name", "ada");
    await bob.fill("#name", "bob");
    await say(ada, "hello from ada");
    await waitMessages(bob, ["ada: hello from ada"]);
    await waitMessages(ada, ["ada: hello from ada"]);
    assert.equal(await ada.inputValue("#body"), "", "the composer is cleared after sending");

    await ada.$eval("#messages li", (li) => (li.__kept = true));
    await bob.press("#body", "Enter"); // empty: nothing sent
    await bob.fill("#body", "hi ada, bob here");
    await bob.press("#body", "Enter");
    const two = ["ada: hello from ada", "bob: hi ada, bob here"];
    await waitMessages(ada, two);
    await waitMessages(bob, two);
    assert.ok(!(await ada.isVisible("#empty")));
    assert.equal(await ada.$eval("#messages li", (li) => li.__kept), true,
                 "a new message is appended; the ones shown stay as they are");
    const times = await ada.$$eval("#messages time", (ts) => ts.map((t) => [t.dateTime, t.textContent]));
    assert.equal(times.length, 2);
    for (const [iso, shown] of times) {
        assert.ok(Math.abs(Date.parse(iso) - Date.now()) < 120000, `message time ${iso} is now`);
        assert.match(shown, /\d/);
    }
    if (process.env.VIREO_E2E_SCREENSHOTS)
        await ada.screenshot({ path: path.join(process.env.VIREO_E2E_SCREENSHOTS, "chat-two-messages.png") });

    // the messages went through the server: the HTTP API lists the same
    const r = await srv.value("query", "messages:list", { channel: "#general" });
    assert.deepEqual(r.map((m) => `${m.author}: ${m.body}`), two);
    assert.deepEqual([...ada.errors, ...bob.errors], []);
});

test("switching channels shows only that channel", { timeout: 60000 }, async () => {
    const general = ["ada: hello from ada", "bob: hi ada, bob here"];
    await bob.click('.channel[data-channel="#random"]');
    assert.equal(await pressed(bob), "#random");
    assert.equal(await bob.textContent("#channel-title"), "#random");
    await waitMessages(bob, []);
    await say(bob, "random thought");
    await waitMessages(bob, ["bob: random thought"]);

    // ada stays on #general: bob's #random message does not appear there; her next one does
    await say(ada, "still general");
    await waitMessages(ada, [...general, "ada: still general"]);
    assert.deepEqual(await messages(bob), ["bob: random thought"]);

    await ada.click('.channel[data-channel="#random"]');
    await waitMessages(ada, ["bob: random thought"]);
    await say(ada, "me too");
    await waitMessages(bob, ["bob: random thought", "ada: me too"]);

    await bob.click('.channel[data-channel="#general"]');
    await waitMessages(bob, [...general, "ada: still general"]);
    // back and forth: the old channel's subscription is gone, so #random messages stay out
    await say(ada, "only in random");
    await waitMessages(ada, ["bob: random thought", "ada: me too", "ada: only in random"]);
    await say(bob, "only in general");
    await waitMessages(bob, [...general, "ada: still general", "bob: only in general"]);
    await waitMessages(ada, ["bob: random thought", "ada: me too", "ada: only in random"]);
    assert.deepEqual([...ada.errors, ...bob.errors], []);
});

test("message text is shown as text, never parsed as HTML", { timeout: 30000 }, async () => {
    const evil = `<img src=x onerror="window.__pwned=1"><b>bold</b>`;
    await say(ada, evil);
    await bob.click('.channel[data-channel="#random"]');
    await bob.waitForFunction(
        (t) => [...document.querySelectorAll("#messages .body")].some((b) => b.textContent === t), evil,
        { timeout: 10000 });
    for (const p of [ada, bob]) {
        assert.equal(await p.$$eval("#messages img, #messages b", (els) => els.length), 0);
        assert.equal(await p.evaluate(() => window.__pwned), undefined);
    }
});

test("the name is remembered across reloads", { timeout: 30000 }, async () => {
    await ada.reload();
    await ada.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    assert.equal(await ada.inputValue("#name"), "ada");
    assert.equal(await pressed(ada), "#general");
    await waitMessages(ada, ["ada: hello from ada", "bob: hi ada, bob here", "ada: still general",
        "bob: only in general"]);
});
