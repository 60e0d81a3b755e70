// examples/chat's data features in headless Chromium against a real `vireo dev`: the history is a
// paginated live list (the newest page first, "Load older" and scrolling to the top load the
// pages before, new messages still arrive live, no message twice), the search box finds the
// channel's messages live (prefix match, other channels left out), and image messages (uploaded
// with generateUploadUrl, stored by storageId) render for the sender and another user; a file
// that is not an image is refused by the page and by the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { launchBrowser, openPage, startExample } from "./helpers.mjs";
import { tempDir } from "../integration/helpers.mjs";

let srv, browser, ada, bob;
const N = 60; // seeded messages: more than two pages of 25

before(async () => {
    srv = await startExample("chat");
    browser = await launchBrowser();
    for (let i = 1; i <= N; i++)
        await srv.value("mutation", "messages:send", { channel: "#general", author: "seed", body: `msg ${String(i).padStart(2, "0")}` });
});

after(async () => {
    await browser?.close();
    if (srv) await srv.stop();
});

const bodies = (page, list = "#messages") =>
    page.$$eval(`${list} li .body`, (ps) => ps.map((p) => p.textContent));

async function waitBodies(page, want, list = "#messages") {
    try {
        await page.waitForFunction(([w, l]) => {
            const got = [...document.querySelectorAll(`${l} li .body`)].map((p) => p.textContent);
            return JSON.stringify(got) === JSON.stringify(w);
        }, [want, list], { timeout: 10000 });
    } catch (e) {
        e.message += `\nwanted ${JSON.stringify(want)},\npage shows ${JSON.stringify(await bodies(page, list))}` +
            `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-800)}`;
        throw e;
    }
}

const seeded = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `msg ${String(from + i).padStart(2, "0")}`);

async function say(page, text) {
    await page.fill("#body", text);
    await page.click("#send");
}

/* A w×h RGB PNG, each pixel a colour of its own (a real image Chromium decodes). */
function png(w, h) {
    const crcTable = Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        return c >>> 0;
    });
    const crc = (buf) => {
        let c = 0xffffffff;
        for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
        return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type, data) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(data.length);
        const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
        const c = Buffer.alloc(4);
        c.writeUInt32BE(crc(td));
        return Buffer.concat([len, td, c]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // RGB
    const rows = [];
    for (let y = 0; y < h; y++) {
        rows.push(0); // filter: none
        for (let x = 0; x < w; x++) rows.push((x * 40) & 255, (y * 90) & 255, 200);
    }
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(Buffer.from(rows))), chunk("IEND", Buffer.alloc(0)),
    ]);
}

test("history loads page by page: Load older, then scrolling to the top; live messages still arrive", { timeout: 90000 }, async () => {
    ada = await openPage(browser, srv.url + "/");
    await ada.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    await ada.fill("#name", "ada");
    await waitBodies(ada, seeded(N - 24, N)); // the newest page of 25, oldest first
    assert.ok(await ada.isVisible("#older"), "the Load older button shows while there is more");
    assert.ok(!(await ada.isVisible("#empty")));
    const bottom = await ada.$eval("#history", (h) => h.scrollHeight - h.scrollTop - h.clientHeight);
    assert.ok(bottom < 5, `the history starts scrolled to the newest message (${bottom} px from the bottom)`);

    await ada.$eval(`#messages li:first-child`, (li) => (li.__kept = true));
    await ada.$eval("#history", (h) => (h.scrollTop = 30)); // near the top, not at it
    const top = () => ada.$eval("#messages li:nth-last-child(25)", (li) => [li.querySelector(".body").textContent, Math.round(li.getBoundingClientRect().top)]);
    const before = await top();
    assert.equal(before[0], `msg ${N - 24}`);
    await ada.$eval("#older", (b) => b.click()); // (a real click would scroll to the top first: that loads too)
    await waitBodies(ada, seeded(N - 49, N));
    assert.equal(await ada.$eval("#messages li:nth-child(26)", (li) => li.__kept), true,
                 "the messages shown stay; the older page is inserted above them");
    const after = await top();
    assert.ok(after[0] === before[0] && Math.abs(after[1] - before[1]) <= 2,
              `the message read stays where it was on the screen: ${before} then ${after}`);

    await ada.$eval("#history", (h) => (h.scrollTop = 0)); // scrolling up to the top loads the rest
    await waitBodies(ada, seeded(1, N));
    await ada.waitForSelector("#older", { state: "hidden", timeout: 5000 });

    // sent by the page and by another client: appended once each, at the bottom
    await say(ada, "hello after the history");
    await waitBodies(ada, [...seeded(1, N), "hello after the history"]);
    await srv.value("mutation", "messages:send", { channel: "#general", author: "carol", body: "from elsewhere" });
    await waitBodies(ada, [...seeded(1, N), "hello after the history", "from elsewhere"]);
    const ids = await ada.$$eval("#messages li", (lis) => lis.map((li) => li.dataset.id));
    assert.equal(new Set(ids).size, ids.length, "no message twice");
    assert.deepEqual(ada.errors, []);
});

test("the search box finds this channel's messages live", { timeout: 60000 }, async () => {
    await say(ada, "the zebra crossing is closed");
    await srv.value("mutation", "messages:send", { channel: "#random", author: "bob", body: "a zebra in random" });
    await ada.fill("#search", "zeb"); // the last term matches as a prefix
    await waitBodies(ada, ["the zebra crossing is closed"], "#search-results");
    assert.ok(await ada.isVisible("#search-pane"));
    assert.ok(!(await ada.isVisible("#history")), "the results replace the history while searching");
    assert.match(await ada.textContent("#search-title"), /1 message match “zeb”/);
    // live: a new matching message in this channel shows up in the results
    await srv.value("mutation", "messages:send", { channel: "#general", author: "carol", body: "zebras everywhere" });
    await ada.waitForFunction(() => document.querySelectorAll("#search-results li").length === 2, null, { timeout: 10000 });
    assert.deepEqual((await bodies(ada, "#search-results")).sort(), ["the zebra crossing is closed", "zebras everywhere"]);
    await ada.fill("#search", "msg 07");
    await ada.waitForFunction(() => [...document.querySelectorAll("#search-results li .body")]
        .some((p) => p.textContent === "msg 07"), null, { timeout: 10000 });
    await ada.fill("#search", "nothingmatchesthis");
    await ada.waitForFunction(() => /No messages match/.test(document.getElementById("search-title").textContent), null, { timeout: 10000 });
    assert.equal(await ada.$$eval("#search-results li", (l) => l.length), 0);
    // the other channel's search finds its own message only
    await ada.click('.channel[data-channel="#random"]');
    await ada.fill("#search", "zebra");
    await waitBodies(ada, ["a zebra in random"], "#search-results");
    await ada.press("#search", "Escape");
    assert.ok(await ada.isVisible("#history"));
    assert.ok(!(await ada.isVisible("#search-pane")));
    await waitBodies(ada, ["a zebra in random"]);
    await ada.click('.channel[data-channel="#general"]');
    await ada.waitForFunction(() => document.querySelectorAll("#messages li").length === 25, null, { timeout: 10000 });
    assert.deepEqual(ada.errors, []);
});

test("image messages: uploaded, stored by storageId, rendered for both users", { timeout: 90000 }, async () => {
    bob = await openPage(browser, srv.url + "/");
    await bob.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    await bob.fill("#name", "bob");
    const dir = tempDir();
    const file = path.join(dir, "dot.png");
    fs.writeFileSync(file, png(3, 2));
    await ada.setInputFiles("#image", file);
    assert.equal(await ada.textContent("#attached"), "dot.png");
    await say(ada, "a tiny picture");
    for (const p of [ada, bob]) {
        await p.waitForFunction(() => {
            const img = [...document.querySelectorAll("#messages li")].find((li) =>
                li.querySelector(".body").textContent === "a tiny picture")?.querySelector("img");
            return img && img.complete && img.naturalWidth > 0;
        }, null, { timeout: 15000 });
        const size = await p.$eval("#messages li:last-child img", (img) => [img.naturalWidth, img.naturalHeight, img.alt]);
        assert.deepEqual(size, [3, 2, "image from ada"]);
    }
    assert.equal(await ada.inputValue("#image"), "", "the file input is cleared after sending");
    // the message keeps the storageId; the query gives the URL, which serves the PNG
    const last = (await srv.value("query", "messages:list", { channel: "#general" })).at(-1);
    assert.equal(last.body, "a tiny picture");
    assert.equal(typeof last.image, "string");
    const page = await srv.value("query", "messages:page", { channel: "#general", paginationOpts: { numItems: 1, cursor: null } });
    assert.equal(page.page[0].image, last.image);
    const r = await fetch(page.page[0].url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), png(3, 2));

    // an image alone, no text
    await ada.setInputFiles("#image", file);
    await ada.click("#send");
    await bob.waitForFunction(() => {
        const li = document.querySelector("#messages li:last-child");
        return li.querySelector(".body").textContent === "" && li.querySelector("img")?.naturalWidth === 3;
    }, null, { timeout: 15000 });

    // not an image: the page refuses it, and so does the server
    fs.writeFileSync(path.join(dir, "notes.txt"), "plain text");
    await ada.setInputFiles("#image", path.join(dir, "notes.txt"));
    await ada.click("#send");
    await ada.waitForSelector("#error:not([hidden])", { timeout: 5000 });
    assert.equal(await ada.textContent("#error"), "Only images can be attached.");
    await ada.setInputFiles("#image", []);
    const url = await srv.value("mutation", "messages:generateUploadUrl", {});
    const up = await fetch(url, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "plain text" });
    const { storageId } = await up.json();
    const bad = await srv.mutation("messages:send", { channel: "#general", author: "eve", body: "x", image: storageId });
    assert.equal(bad.json.status, "error");
    assert.match(bad.json.errorMessage, /not an image: text\/plain/);
    const empty = await srv.mutation("messages:send", { channel: "#general", author: "eve", body: "  " });
    assert.match(empty.json.errorMessage, /a message needs text or an image/);
    assert.deepEqual(bob.errors, []);
});
