// Slow clients that held memory or a slot for as long as they liked (issue 7's review): a request
// body of declared length no longer reserves its whole room at once (what a body holds follows
// what it sent), a body slower than `--min-body-rate` on average after its first 10 s gets 408,
// and output that makes no progress for `--send-stall-timeout-ms` closes the connection (a
// WebSocket with one huge message in flight and nothing behind it: 1008 "send stalled"; an unread
// HTTP response: closed), while slow readers that keep reading are served. Each test starts the
// server it needs, with the flags it tests.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import {
    startServer,
    tempDir,
    assertAppLoaded,
    runCli,
    RawConn,
    rawWebSocket,
    wsFrame,
    wsFrameAt,
    OP,
    sleep,
    waitFor,
} from "./helpers.mjs";

const MiB = 1 << 20;
const servers = [];
const conns = [];
async function serve(app, args = []) {
    const s = await startServer(tempDir(app), { cmd: "serve", args });
    servers.push(s);
    return s;
}
after(async () => {
    for (const c of conns) c.destroy?.();
    for (const s of servers) await s.stop();
});

const HEAD = (len) =>
    `POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;

/* A fns:typed call body of exactly `size` bytes. */
function callOfSize(size) {
    const head = JSON.stringify({ path: "fns:typed", args: { n: 1, s: "" } });
    return Buffer.from(head.replace(`"s":""`, `"s":"${"y".repeat(size - head.length)}"`));
}

async function metricsOrNull(s) {
    const c = await RawConn.open(s.port);
    try {
        await c.write("GET /api/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const [r] = await c.responses(1, 5000);
        return r.status === 200 ? JSON.parse(r.body.toString()) : null;
    } finally {
        c.destroy();
    }
}

test("--min-body-rate: a body under the rate gets 408 after 10 s, one just above it succeeds, and trickling bodies hold little memory", { timeout: 40000 }, async () => {
    const RATE = 4096;
    const s = await serve("basic", ["--min-body-rate", String(RATE)]);
    const base = await metricsOrNull(s);
    const t0 = Date.now();

    // under the rate: 1 KiB a second of a 64 KiB body (progress every second, so only the rate
    // can end it)
    const slow = (async () => {
        const c = await RawConn.open(s.port);
        conns.push(c);
        const body = callOfSize(64 << 10);
        await c.write(HEAD(body.length));
        for (let i = 0; !c.buf.length && !c.closed && Date.now() - t0 < 15000; i++) {
            await c.write(body.subarray(i * 1024, (i + 1) * 1024));
            await sleep(1000);
        }
        const [r] = await c.responses(1, 3000);
        const at = Date.now() - t0;
        await c.waitClosed(3000);
        return { r, at };
    })();

    // just above the rate: 5 KiB a second (25 % over it) for 12 s
    const steady = (async () => {
        const c = await RawConn.open(s.port);
        conns.push(c);
        const n = 13, step = 5 << 10;
        const body = callOfSize(n * step);
        await c.write(HEAD(body.length));
        for (let i = 0; i < n; i++) {
            await c.write(body.subarray(i * step, (i + 1) * step));
            if (i < n - 1) await sleep(1000);
            assert.equal(c.buf.length, 0, `answered after slice ${i}: ${c.buf.toString().slice(0, 200)}`);
        }
        const [r] = await c.responses(1, 5000);
        return { r, at: Date.now() - t0 };
    })();

    // 20 bodies declared at 16 MiB - 1 that each sent 1000 bytes: they hold their bytes, not
    // their declared room (before: 20 x 16 MiB reserved at once)
    const trickles = [];
    for (let i = 0; i < 20; i++) {
        const c = await RawConn.open(s.port);
        conns.push(c);
        await c.write(HEAD((16 << 20) - 1));
        await c.write(Buffer.alloc(1000, 0x20));
        trickles.push(c);
    }
    await sleep(500);
    const m = await metricsOrNull(s);
    assert.ok(m, "metrics answered");
    const held = m.bufferedBytes - base.bufferedBytes;
    assert.ok(held < 20 * 384 * 1024, `20 trickling bodies hold ${held} bytes (bufferedBytes ${m.bufferedBytes})`);
    for (const c of trickles) assert.equal(c.buf.length, 0, "a trickling body was answered early");

    const [a, b] = await Promise.all([slow, steady]);
    assert.equal(a.r.status, 408, a.r.body.toString());
    assert.ok(a.at >= 9500 && a.at < 12500, `the slow body got 408 after ${a.at} ms`);
    assert.equal(b.r.status, 200, b.r.body.toString());
    assert.equal(JSON.parse(b.r.body).value.n, 1);
    assert.ok(b.at >= 12000, `the steady body was answered after ${b.at} ms`);
    // the trickles are under the rate too: 408, and their memory is given back
    for (const c of trickles) {
        const [r] = await c.responses(1, 5000);
        assert.equal(r.status, 408);
    }
    await s.waitStderr(/408 request body too slow/);
    const end = await waitFor(async () => {
        const x = await metricsOrNull(s);
        return x && x.bufferedBytes <= base.bufferedBytes + 256 * 1024 ? x : null;
    }, { what: "the buffers to be released", timeout: 5000 });
    assert.ok(end);
    // the server keeps serving
    const ok = await RawConn.open(s.port);
    conns.push(ok);
    const body = callOfSize(1000);
    await ok.write(Buffer.concat([Buffer.from(HEAD(body.length)), body]));
    assert.equal((await ok.responses(1))[0].status, 200);
});

test("--min-body-rate and --send-stall-timeout-ms: out-of-range values are refused with their ranges", async () => {
    const dir = tempDir("basic");
    const a = await runCli(["serve", dir, "--min-body-rate", "fast"]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--min-body-rate needs a number of bytes per second from 0 to \d+/);
    const b = await runCli(["serve", dir, "--send-stall-timeout-ms", "10"]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--send-stall-timeout-ms needs a number of milliseconds from 100 to \d+/);
    const h = await runCli(["serve", "--help"]);
    assert.match(h.stdout, /--min-body-rate N/);
    assert.match(h.stdout, /--send-stall-timeout-ms N/);
});

/* A raw /api/sync client that connected and subscribed to `n` bytes of h:big; it stops reading
 * right after `connected`. */
async function bigSubscriber(s, n, tag) {
    const c = await rawWebSocket(s.port, "/api/sync");
    conns.push(c);
    await c.write(wsFrame(OP.TEXT, JSON.stringify({ type: "connect", sessionId: crypto.randomUUID(), protocolVersion: 1 })));
    await c.waitFrame((f) => f.payload.toString().includes('"connected"'), 5000, "connected");
    c.sock.pause();
    // taken before the write: the server cannot start a stall clock before it has the request,
    // while the write's callback can come late behind the reader's data on this event loop
    c.subscribedAt = Date.now();
    await c.write(wsFrame(OP.TEXT, JSON.stringify({ type: "modifyQuerySet", add: [{ queryId: 1, path: "h:big", args: { n, tag } }] })));
    return c;
}

/* Payload bytes of the text frames received so far (transition or transitionChunk parts). It
 * reads only the frame headers it has not read before: called at every chunk of a 15 MiB
 * stream, a whole parse each time (payloads copied) cost enough CPU to delay the slow reader's
 * own timers on a loaded machine, and the server then saw it stall. */
function transitionBytes(c) {
    const b = c.buf;
    let off = c.scannedTo ?? 0, text = c.textBytes ?? 0;
    for (let h; (h = wsFrameAt(b, off)); off = h.pos + h.len)
        if ((h.b0 & 0x0f) === OP.TEXT) text += h.len;
    c.scannedTo = off;
    c.textBytes = text;
    return text;
}

test("--send-stall-timeout-ms: a sync client that stops reading in the middle of a huge transition is closed 1008 \"send stalled\"; a slow reader is not", { timeout: 150000 }, async () => {
    const STALL = 3000, BIG = 15 * MiB;
    const s = await serve("hardening-sync", ["--send-stall-timeout-ms", String(STALL)]);
    await assertAppLoaded(s);
    const errFrom = s.stderr.length;

    // the reader pauses for 1.5 s at a time (half the stall timeout), then reads for 300 ms
    const reader = await bigSubscriber(s, BIG, "reader");
    let readerDone = false;
    const readerLoop = (async () => {
        while (!readerDone && !reader.closed) {
            await sleep(1500);
            reader.sock.resume();
            await sleep(300);
            reader.sock.pause();
        }
    })();
    // the staller never reads again
    const staller = await bigSubscriber(s, BIG, "staller");
    await s.waitStderr(/close 1008 send stalled/, { from: errFrom, timeout: 20000 });
    const at = Date.now() - staller.subscribedAt;
    assert.ok(at >= STALL, `closed for a stall after ${at} ms`);
    // the staller's connection is gone: reading again it gets what was in the kernel's buffers,
    // then the end of the stream, far short of its transition
    staller.sock.resume();
    await staller.waitClosed(10000);
    assert.ok(transitionBytes(staller) < BIG, `the staller got ${transitionBytes(staller)} bytes`);

    // the slow reader gets its whole transition, and is not closed
    await reader.waitFor(() => transitionBytes(reader) > BIG, 90000, "the reader's whole transition");
    readerDone = true;
    await readerLoop;
    reader.sock.resume();
    assert.equal(reader.closed, false);
    const log = s.stderr.slice(errFrom);
    assert.equal((log.match(/close 1008 send stalled/g) || []).length, 1, log.slice(-2000));
    assert.doesNotMatch(log, /send queue full|over its memory budget/);
    // the server serves on
    const r = await metricsOrNull(s);
    assert.ok(r && r.bufferedBytes < 8 * MiB, JSON.stringify(r));
});

test("--send-stall-timeout-ms: an HTTP response the client does not read is dropped after the timeout; one read slowly arrives whole", { timeout: 150000 }, async () => {
    const STALL = 2000, BIG = 15 * MiB;
    const s = await serve("hardening-sync", ["--send-stall-timeout-ms", String(STALL)]);
    await assertAppLoaded(s);
    const errFrom = s.stderr.length;
    const ask = (tag) => {
        const b = JSON.stringify({ path: "h:big", args: { n: BIG, tag } });
        return Buffer.concat([Buffer.from(HEAD(Buffer.byteLength(b))), Buffer.from(b)]);
    };
    const staller = await RawConn.open(s.port);
    conns.push(staller);
    staller.sock.pause();
    await staller.write(ask("staller"));
    const reader = await RawConn.open(s.port);
    conns.push(reader);
    reader.sock.pause();
    await reader.write(ask("reader"));
    let readerDone = false;
    const readerLoop = (async () => {
        while (!readerDone && !reader.closed) {
            await sleep(1000);
            reader.sock.resume();
            await sleep(100);
            reader.sock.pause();
        }
    })();
    await s.waitStderr(/send stalled: \d+ bytes unread/, { from: errFrom, timeout: 20000 });
    staller.sock.resume();
    await staller.waitClosed(10000);
    assert.ok(staller.buf.length < BIG, `the staller got ${staller.buf.length} bytes`);
    await reader.waitFor(() => reader.buf.length > BIG, 90000, "the reader's response");
    readerDone = true;
    await readerLoop;
    reader.sock.resume();
    const [r] = await reader.responses(1, 10000);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).value.length, BIG + "reader:0:".length);
    assert.equal((s.stderr.slice(errFrom).match(/send stalled/g) || []).length, 1);
});
