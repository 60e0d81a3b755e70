// examples/draw (seed 001's draw-and-guess on live actors) in headless Chromium against a real
// `vireo dev`: the page loads the actor client the binary serves (/_vireo/client/), two players
// (separate browser contexts) join one room, a round starts, the drawer draws a stroke with real
// pointer events and the other page's client state and canvas get it, a page that is not the
// drawer cannot draw, the guesser guesses the word the drawer's page shows, both pages get the
// `correctGuess` event and the score, and closing the guesser's page removes its player on the
// drawer's (onDisconnect); the actor itself refuses a stroke from anyone but the drawer, a guess
// in another player's name and bad input (a Node client on the same room). VIREO_E2E_SCREENSHOTS=dir saves the guesser's page after the stroke.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { createClient } from "../../clients/js/src/index.js";
import { REPO } from "../integration/helpers.mjs";
import { launchBrowser, openPage, startExample } from "./helpers.mjs";

const ROOM = `e2e-${Date.now()}`;
let srv, browser, ada, bob;

before(async () => {
    // the actor's schemas are zod's: the copy resolves it from the repository's node_modules
    srv = await startExample("draw", {
        prepare: (dir) => fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules")),
    });
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    if (srv) await srv.stop();
});

async function until(page, fn, arg, what) {
    try {
        await page.waitForFunction(fn, arg, { timeout: 10000 });
    } catch (e) {
        const st = await page.evaluate(() => JSON.stringify(window.drawGame?.state)).catch(() => "?");
        e.message += `\nwaiting for ${what}; the page's state: ${st?.slice(0, 600)}` +
            `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-800)}`;
        throw e;
    }
}

const players = (page) =>
    page.$$eval("#players li", (lis) => lis.map((li) => `${li.dataset.name}:${li.querySelector(".score").textContent}`));
const waitPlayers = (page, want) =>
    until(page, (w) => JSON.stringify([...document.querySelectorAll("#players li")].map(
        (li) => `${li.dataset.name}:${li.querySelector(".score").textContent}`)) === JSON.stringify(w), want,
        `players ${JSON.stringify(want)}`);

/* Pixels of the canvas that are not transparent. */
const inked = (page) => page.$eval("#board", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
});

/* A drag over the canvas with the mouse, in the canvas's coordinates (inside its 1px border). */
async function drag(page, from, to) {
    const box = await page.locator("#board").boundingBox();
    await page.mouse.move(box.x + 1 + from[0], box.y + 1 + from[1]);
    await page.mouse.down();
    await page.mouse.move(box.x + 1 + to[0], box.y + 1 + to[1], { steps: 12 });
    await page.mouse.up();
}

test("two players: join, a stroke drawn on one page reaches the other, a correct guess scores", { timeout: 90000 }, async () => {
    ada = await openPage(browser, `${srv.url}/#${ROOM}`);
    bob = await openPage(browser, `${srv.url}/#${ROOM}`);
    for (const p of [ada, bob])
        await p.waitForSelector('#status[data-state="connected"]', { timeout: 15000 });
    assert.equal(await ada.evaluate(() => window.drawGame.roomId), ROOM);

    await ada.fill("#name", "ada");
    await ada.click("#join");
    await waitPlayers(ada, ["ada:0"]);
    assert.ok(await ada.isDisabled("#start"), "one player cannot start a round");
    await bob.fill("#name", "bob");
    await bob.press("#name", "Enter");
    await waitPlayers(bob, ["ada:0", "bob:0"]);
    await waitPlayers(ada, ["ada:0", "bob:0"]);
    for (const p of [ada, bob]) // a player who joined does not see the join form
        await p.waitForSelector("#join-form", { state: "hidden", timeout: 10000 });

    // round 1: the first player draws
    await bob.click("#start");
    for (const p of [ada, bob])
        await until(p, () => window.drawGame.state?.phase === "drawing", undefined, "the drawing phase");
    assert.equal(await ada.textContent("#phase"), "Round 1: ada draws");
    const shown = await ada.textContent("#word");
    assert.match(shown, /^Draw: [a-z]+$/, "the drawer's page shows the word");
    const word = shown.slice("Draw: ".length);
    assert.equal(await bob.textContent("#word"), word.replace(/./g, "_").split("").join(" "), "the guesser sees a hint");
    assert.ok(await ada.isDisabled("#guess"), "the drawer does not guess");
    assert.equal(await inked(bob), 0, "the canvas starts blank");

    // ada draws with real pointer events
    await drag(ada, [100, 100], [320, 220]);
    await until(bob, () => window.drawGame.state?.strokes.length === 1, undefined, "bob's state to have ada's stroke");
    const stroke = await bob.evaluate(() => window.drawGame.state.strokes[0]);
    const adaColor = await ada.evaluate(() => window.drawGame.me.color);
    assert.equal(stroke.color, adaColor);
    assert.ok(stroke.points.length >= 5, `the stroke has the pointer's path: ${JSON.stringify(stroke.points)}`);
    const [x0, y0] = stroke.points[0], [x1, y1] = stroke.points[stroke.points.length - 1];
    assert.ok(Math.abs(x0 - 100) <= 1 && Math.abs(y0 - 100) <= 1 && Math.abs(x1 - 320) <= 1 && Math.abs(y1 - 220) <= 1,
              `from (100,100) to (320,220): ${JSON.stringify(stroke.points)}`);
    await until(bob, () => {
        const c = document.getElementById("board");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
        return false;
    }, undefined, "ink on bob's canvas");
    const px = await bob.$eval("#board", (c) => Array.from(c.getContext("2d").getImageData(210, 160, 1, 1).data));
    assert.ok(px[3] > 0, `the line's middle (210,160) is inked on bob's canvas: ${px}`);
    assert.deepEqual(await ada.evaluate(() => window.drawGame.state.strokes), [stroke]);
    if (process.env.VIREO_E2E_SCREENSHOTS)
        await bob.screenshot({ path: path.join(process.env.VIREO_E2E_SCREENSHOTS, "draw-stroke.png") });

    // bob is not the drawer: dragging on his canvas sends nothing (his next call, a guess, is
    // answered after anything sent before it)
    await drag(bob, [50, 300], [150, 350]);
    await bob.fill("#guess", "not-the-word");
    await bob.click("#guess-send");
    await until(ada, () => window.drawGame.state?.guesses.length === 1, undefined, "bob's wrong guess");
    assert.equal(await ada.evaluate(() => window.drawGame.state.strokes.length), 1);
    assert.deepEqual(await ada.$$eval("#guesses li", (l) => l.map((x) => x.textContent)), ["bob: not-the-word"]);

    // the right word, read from the drawer's page
    await bob.fill("#guess", word.toUpperCase());
    await bob.press("#guess", "Enter");
    for (const p of [ada, bob]) {
        await until(p, () => window.drawGame.events.length === 1, undefined, "the correctGuess event");
        assert.deepEqual(await p.evaluate(() => window.drawGame.events), [{ name: "bob", word }]);
        await waitPlayers(p, ["ada:0", "bob:10"]);
        assert.equal(await p.textContent("#toast"), `bob guessed "${word}"!`);
        assert.equal(await p.textContent("#phase"), "Round 1 is over");
    }
    assert.deepEqual(await bob.$$eval("#guesses li.correct", (l) => l.map((x) => x.textContent)), ["bob: Guessed correctly!"]);
    assert.deepEqual([...ada.errors, ...bob.errors], []);
});

test("closing a page removes its player on the other (onDisconnect)", { timeout: 30000 }, async () => {
    await bob.context().close();
    await waitPlayers(ada, ["ada:0"]);
    assert.equal(await ada.evaluate(() => window.drawGame.state.players.length), 1);
    assert.ok(await ada.isDisabled("#start"), "alone again: no round can start");
    assert.deepEqual(ada.errors, []);
});

test("the actor refuses strokes from others, guesses in another's name and bad input", { timeout: 30000 }, async () => {
    const eve = createClient({ url: srv.url, WebSocket, reconnect: false });
    try {
        const room = eve.draw(ROOM);
        const st = () => new Promise((resolve) => { const u = room.state.subscribe((s) => { u(); resolve(s); }); });
        const adaId = (await st()).players[0].id;
        const { playerId } = await room.join({ name: "eve" });
        await waitPlayers(ada, ["ada:0", "eve:0"]);
        await room.startRound(); // round 2: eve draws (players[1])
        await until(ada, () => window.drawGame.state?.phase === "drawing", undefined, "round 2");
        assert.equal(await ada.textContent("#phase"), "Round 2: eve draws");
        await assert.rejects(room.startRound(), /A round is already running/);
        await assert.rejects(room.guess({ playerId: adaId, text: "x" }), /Join the room first/);
        await assert.rejects(room.guess({ playerId, text: "x" }), /The drawer does not guess/);
        await assert.rejects(room.draw({ stroke: { points: [], color: "#000000", width: 2 } }), /Validation failed for draw/);
        await assert.rejects(room.draw({ stroke: { points: [[1, 1]], color: "red", width: 2 } }), /Validation failed for draw/);
        await assert.rejects(room.join({ name: "   " }), /Validation failed for join/);
        await room.draw({ stroke: { points: [[10, 10], [50, 50]], color: "#000000", width: 3 } });
        await until(ada, () => window.drawGame.state?.strokes.length === 1, undefined, "eve's stroke");
        // ada is not the drawer now: her page does not send, and the actor refuses a direct call
        const before = await ada.evaluate(() => window.drawGame.state.strokes.length);
        const err = await ada.evaluate(async () => {
            const { createClient } = await import("/_vireo/client/index.js");
            const c = createClient({ url: location.origin, reconnect: false });
            try {
                const r = c.draw(window.drawGame.roomId);
                await r.join({ name: "mallory" });
                await r.draw({ stroke: { points: [[1, 1]], color: "#000000", width: 2 } });
                return "accepted";
            } catch (e) {
                return e.message;
            } finally {
                c.$close();
            }
        });
        assert.equal(err, "Only the drawer draws");
        assert.equal(await ada.evaluate(() => window.drawGame.state.strokes.length), before);
    } finally {
        eve.$close();
    }
    // eve (the drawer) left mid-round: the round ends, her strokes go
    await until(ada, () => window.drawGame.state?.phase === "lobby" && window.drawGame.state.players.length === 1, undefined, "the lobby again");
    assert.deepEqual(await ada.evaluate(() => window.drawGame.state.strokes), []);
    assert.deepEqual(ada.errors, []);
});
