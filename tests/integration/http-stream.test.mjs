// Streamed HTTP action responses on apps/http-stream: a Response whose body is a ReadableStream
// goes out chunked as the action produces it. Chunks arrive separately and in order while the
// action still runs; a 50 MiB body through a slow reader keeps the server's memory bounded (the
// producer waits); the size limit; a stream that errors or yields a non-byte chunk (the client
// gets an incomplete chunked body; the error is logged); a client that leaves, or stops reading
// past the send-stall timeout (the stream's cancel hook runs); shutdown mid-stream; HTTP/1.0 and HEAD; keep-alive after a streamed response; Web streams in the
// action (TransformStream, TextEncoderStream, ReadableStream.from, tee, pipeThrough, a stream
// read back by Response.text()); fetch()'s body read as a stream; a plain Response unchanged.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { rssKiB, startServer, tempDir, waitFor } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
async function start(args = []) {
    const s = await startServer(tempDir("http-stream"), { args });
    servers.push(s);
    return s;
}

let shared;
async function srv() {
    if (!shared) shared = await start();
    return shared;
}

/* A raw HTTP exchange: writes `req`, collects every byte until the server closes (or `until`
 * matches what arrived, then the socket is destroyed). {text, ended} */
function raw(port, req, { until = null, timeout = 10000 } = {}) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1");
        let data = Buffer.alloc(0);
        const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error(`raw request timed out; got: ${data.toString("latin1").slice(0, 500)}`));
        }, timeout);
        sock.on("connect", () => sock.write(req));
        sock.on("data", (d) => {
            data = Buffer.concat([data, d]);
            if (until && until.test(data.toString("latin1"))) {
                clearTimeout(timer);
                sock.destroy();
                resolve({ text: data.toString("latin1"), ended: false, sock });
            }
        });
        sock.on("end", () => {
            clearTimeout(timer);
            resolve({ text: data.toString("latin1"), ended: true });
        });
        sock.on("error", (e) => {
            clearTimeout(timer);
            resolve({ text: data.toString("latin1"), ended: true, error: e });
        });
    });
}

/* GET with node:http, recording when each body chunk arrived: {res, chunks: [{t, data}], t0} */
function timedGet(url) {
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        http.get(url, (res) => {
            const chunks = [];
            res.on("data", (d) => chunks.push({ t: Date.now() - t0, data: d.toString() }));
            res.on("end", () => resolve({ res, chunks, t0 }));
            res.on("error", reject);
        }).on("error", reject);
    });
}


test("chunks arrive separately, in order, as the action produces them", async () => {
    const s = await srv();
    const { res, chunks } = await timedGet(`${s.url}/ticks`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["transfer-encoding"], "chunked");
    assert.equal(res.headers["content-length"], undefined);
    assert.equal(res.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(res.headers["x-kind"], "ticks");
    assert.equal(chunks.map((c) => c.data).join(""), "first;second;third");
    const first = chunks.find((c) => c.data.includes("first"));
    const second = chunks.find((c) => c.data.includes("second"));
    assert.ok(first && second && !first.data.includes("second"), JSON.stringify(chunks));
    /* the second chunk is produced 200 ms after the first: the first was not held back for it */
    assert.ok(second.t - first.t >= 150, `first at ${first.t} ms, second at ${second.t} ms`);
});

test("the AI-answer pattern: TransformStream + TextEncoderStream written after the handler returned", async () => {
    const s = await srv();
    const words = Array.from({ length: 12 }, (_, i) => `w${i}`);
    const t0 = Date.now();
    const r = await fetch(`${s.url}/tokens`, { method: "POST", body: JSON.stringify({ words }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("transfer-encoding"), "chunked");
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let text = "", reads = 0, firstAt = -1;
    for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (firstAt < 0) firstAt = Date.now() - t0;
        reads++;
        text += dec.decode(value, { stream: true });
    }
    assert.equal(text, words.map((w) => w + " ").join(""));
    assert.ok(reads >= 3, `the words came in ${reads} reads`);
    assert.ok(firstAt < Date.now() - t0 - 100, "the first words came well before the last");
});

test("Web streams inside the action: from(), tee(), pipeThrough(), a stream body read by text()", async () => {
    const s = await srv();
    const r = await fetch(`${s.url}/roundtrip`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), "abc|abc!!|abc!");
});

test("a plain Response is unchanged: Content-Length, no chunking", async () => {
    const s = await srv();
    const r = await raw(s.port, "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(r.text, /^HTTP\/1\.1 201 Created\r\n/);
    assert.match(r.text, /\r\nContent-Length: 10\r\n/i);
    assert.doesNotMatch(r.text, /transfer-encoding/i);
    assert.match(r.text, /\r\nx-plain: 1\r\n/i);
    assert.ok(r.text.endsWith("\r\n\r\nplain body"));
});

test("chunk framing on the wire; the connection serves the next request after it (keep-alive)", async () => {
    const s = await srv();
    const sock = net.connect(s.port, "127.0.0.1");
    await new Promise((r) => sock.on("connect", r));
    let data = "";
    sock.setEncoding("latin1");
    sock.on("data", (d) => (data += d));
    sock.write("GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => data.includes("0\r\n\r\n"), { timeout: 5000, what: "the last chunk" });
    const body = data.slice(data.indexOf("\r\n\r\n") + 4);
    assert.equal(body, "6\r\nfirst;\r\n7\r\nsecond;\r\n5\r\nthird\r\n0\r\n\r\n");
    data = "";
    sock.write("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => data.endsWith("plain body"), { timeout: 5000, what: "the second response" });
    assert.match(data, /^HTTP\/1\.1 201 /);
    sock.destroy();
});

test("HTTP/1.0 gets the body unframed and the connection closes after it; HEAD gets no body", async () => {
    const s = await srv();
    const r = await raw(s.port, "GET /ticks HTTP/1.0\r\nHost: x\r\n\r\n");
    assert.ok(r.ended);
    assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(r.text, /transfer-encoding/i);
    assert.match(r.text, /\r\nConnection: close\r\n/);
    assert.ok(r.text.endsWith("\r\n\r\nfirst;second;third"), r.text);
    const h = await raw(s.port, "HEAD /ticks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(h.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(h.text, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(h.text.endsWith("\r\n\r\n"), JSON.stringify(h.text));
});

test("a stream that errors midway: the client gets an incomplete chunked body, the error is logged", async () => {
    const s = await srv();
    const r = await raw(s.port, "GET /fails HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.ok(r.ended, "the server closed the connection");
    assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(r.text, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(r.text.endsWith("\r\n\r\nd\r\npartial data;\r\n"), JSON.stringify(r.text));
    await waitFor(() => /GET \/fails: HTTP action failed after 13 bytes of its streamed response; closing the connection without the last chunk: .*the model went away/.test(s.stderr),
                  { what: "the error in the log" });
    /* a chunk that is not bytes fails the same way, with a message that says what to do */
    const t = await raw(s.port, "GET /fails?how=string HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.ok(t.ended);
    assert.ok(t.text.endsWith("\r\n\r\nd\r\npartial data;\r\n"), JSON.stringify(t.text));
    await waitFor(() => /gave a string, not bytes: enqueue Uint8Array chunks/.test(s.stderr),
                  { what: "the non-bytes chunk error in the log" });
    /* and node's own client sees the body as cut short */
    await assert.rejects(fetch(`${s.url}/fails`).then((res) => res.text()));
    assert.equal(await (await fetch(`${s.url}/plain`)).text(), "plain body");
});

test("a client that leaves cancels the stream: the source's cancel hook runs and the action ends", async () => {
    const s = await srv();
    const r = await raw(s.port, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n", { until: /tick 2\n/ });
    assert.match(r.text, /tick 0\n/);
    const events = await waitFor(async () => {
        const e = await s.value("query", "events:list", { kind: "forever-cancel" });
        return e.length ? e : null;
    }, { timeout: 5000, what: "the cancel hook's mutation" });
    assert.equal(events.length, 1);
    assert.match(events[0].detail, /^the client disconnected after \d+ ticks$/);
    const ticks = Number(/after (\d+) ticks/.exec(events[0].detail)[1]);
    assert.ok(ticks >= 3 && ticks < 40, `cancelled after ${ticks} ticks`);
    await s.waitStderr(/GET \/forever: the client left during the streamed response/);
    /* the action ended: no tick after the cancel keeps it (and the server) busy */
    await new Promise((res) => setTimeout(res, 300));
    assert.equal((await s.value("query", "events:list", { kind: "forever-cancel" })).length, 1);
    assert.equal(await (await fetch(`${s.url}/plain`)).text(), "plain body");
});

test("the size limit applies to the streamed total: past it the body is cut short", async () => {
    const s = await start(["--max-http-action-response", String(1 << 20)]);
    const ok = await fetch(`${s.url}/big?total=${1 << 20}`);
    assert.equal((await ok.arrayBuffer()).byteLength, 1 << 20); /* exactly the limit: fine */
    let got = 0;
    const err = await new Promise((resolve) => {
        http.get(`${s.url}/big?total=${3 << 20}&chunk=65536`, (res) => {
            res.on("data", (d) => (got += d.length));
            res.on("end", () => resolve(null));
            res.on("error", resolve);
            res.on("aborted", () => resolve(new Error("aborted")));
        }).on("error", resolve);
    });
    assert.ok(err, "the response did not end normally");
    assert.ok(got <= 1 << 20, `${got} bytes arrived`);
    assert.ok(got >= (1 << 20) - 65536, `${got} bytes arrived`);
    await waitFor(() => /GET \/big: HTTP action failed after \d+ bytes of its streamed response; closing the connection without the last chunk: ResponseTooLarge: the HTTP action's streamed response is larger than the limit of 1048576 bytes \(--max-http-action-response\)/.test(s.stderr),
                  { what: "ResponseTooLarge in the log" });
});

let big;
async function bigSrv() {
    if (!big) big = await start(["--max-http-action-response", String(200 << 20)]);
    return big;
}

test("50 MiB through a slow reader: the producer waits, the server's memory stays bounded", async () => {
    const s = await bigSrv();
    const pid = s.proc.pid;
    /* warm up the route (the worker's runtime, the JIT) before the baseline */
    assert.equal((await (await fetch(`${s.url}/big?total=${4 << 20}`)).arrayBuffer()).byteLength, 4 << 20);
    const base = rssKiB(pid);
    let peak = base;
    const sampler = setInterval(() => {
        try {
            peak = Math.max(peak, rssKiB(pid));
        } catch {}
    }, 20);
    const total = 50 << 20;
    let got = 0, checksumOk = true;
    const t0 = Date.now();
    await new Promise((resolve, reject) => {
        http.get(`${s.url}/big?total=${total}&chunk=65536`, (res) => {
            assert.equal(res.headers["transfer-encoding"], "chunked");
            let nextPause = 1 << 20;
            res.on("data", (d) => {
                /* every 4096th byte holds its offset / 4096 (the producer's pattern) */
                for (let i = (4096 - (got % 4096)) % 4096; i < d.length; i += 4096)
                    if (d[i] !== (((got + i) >> 12) & 255)) checksumOk = false;
                got += d.length;
                if (got >= nextPause) { /* a slow reader: 25 ms per MiB */
                    nextPause += 1 << 20;
                    res.pause();
                    setTimeout(() => res.resume(), 25);
                }
            });
            res.on("end", resolve);
            res.on("error", reject);
        }).on("error", reject);
    });
    clearInterval(sampler);
    const ms = Date.now() - t0;
    assert.equal(got, total);
    assert.ok(checksumOk, "the bytes arrived in order");
    assert.ok(ms >= 1000, `the slow reader took ${ms} ms`);
    const grewMiB = (peak - base) / 1024;
    console.log(`# 50 MiB streamed in ${ms} ms; server RSS ${Math.round(base / 1024)} MiB -> peak ${Math.round(peak / 1024)} MiB (+${grewMiB.toFixed(1)} MiB)`);
    /* an ASan build holds freed memory in its quarantine (quarantine_size_mb, 256 by default) */
    const asan = process.env.ASAN_OPTIONS;
    const q = asan === undefined ? 0 : Number((/quarantine_size_mb=(\d+)/.exec(asan) || [0, 256])[1]);
    assert.ok(grewMiB < 40 + q, `the server's RSS grew by ${grewMiB.toFixed(1)} MiB while streaming 50 MiB`);
});

test("fetch() in an action: the response's body read as a stream, as it arrives", async () => {
    const s = await srv();
    const upstream = http.createServer((req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("one,");
        setTimeout(() => {
            res.write("two,");
            setTimeout(() => res.end("three"), 30);
        }, 30);
    });
    await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
    try {
        const target = `http://127.0.0.1:${upstream.address().port}/`;
        const r = await fetch(`${s.url}/relay?url=${encodeURIComponent(target)}`);
        assert.equal(r.status, 200);
        const body = await r.json();
        assert.equal(body.text, "one,two,three");
        /* three writes 30 ms apart: read as they came (two may meet in one read on a slow machine) */
        assert.ok(body.chunks >= 2, `${body.chunks} chunk(s)`);
        assert.equal(body.used, true);
    } finally {
        upstream.close();
    }
});

test("a client that stops reading and then leaves: the waiting producer is cancelled", async () => {
    const s = await bigSrv();
    const sock = net.connect(s.port, "127.0.0.1");
    await new Promise((r) => sock.on("connect", r));
    let got = 0;
    sock.on("data", (d) => {
        got += d.length;
        if (got > 256 << 10) sock.pause(); /* stop reading: the server's queue fills, pull() waits */
    });
    sock.write(`GET /big?total=${100 << 20}&chunk=65536 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(() => got > 256 << 10, { what: "the first bytes" });
    await new Promise((r) => setTimeout(r, 400)); /* the producer is now waiting for room */
    sock.destroy();
    const events = await waitFor(async () => {
        const e = await s.value("query", "events:list", { kind: "big-cancel" });
        return e.length ? e : null;
    }, { timeout: 5000, what: "the cancel hook's mutation" });
    const m = /^the client disconnected after (\d+) bytes$/.exec(events[0].detail);
    assert.ok(m, events[0].detail);
    /* what it produced is what the client read, the socket buffers and the server's 1 MiB */
    assert.ok(Number(m[1]) < 16 << 20, `the producer made ${m[1]} bytes for a client that read ${got}`);
});

test("shutdown during a streamed response: the connection is closed, the server exits cleanly", async () => {
    const s = await start();
    const sock = net.connect(s.port, "127.0.0.1");
    let text = "";
    const ended = new Promise((res) => {
        sock.on("end", res);
        sock.on("error", res);
    });
    sock.setEncoding("latin1");
    sock.on("data", (d) => (text += d));
    sock.write("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => text.includes("tick 1\n"), { what: "the stream's first ticks" });
    const t0 = Date.now();
    const exit = await s.stop(); /* throws on a sanitizer report */
    assert.equal(exit.code, 0, s.stderr.slice(-2000));
    assert.ok(Date.now() - t0 < 5000, `the server took ${Date.now() - t0} ms to stop`);
    await ended;
    assert.ok(!text.endsWith("0\r\n\r\n"), "no last chunk");
    sock.destroy();
});

test("a client that stays connected but reads nothing is cut off after --send-stall-timeout-ms, its stream cancelled", async () => {
    const s = await start(["--send-stall-timeout-ms", "500", "--max-http-action-response", String(200 << 20)]);
    const sock = net.connect({ port: s.port, host: "127.0.0.1" });
    await new Promise((r) => sock.on("connect", r));
    let got = 0, stalling = true;
    const closed = new Promise((r) => sock.on("close", r));
    sock.on("data", (d) => {
        got += d.length;
        if (stalling) sock.pause(); /* reads one burst, then nothing: the socket stays open */
    });
    sock.on("error", () => {});
    sock.write(`GET /big?total=${100 << 20}&chunk=65536 HTTP/1.1\r\nHost: x\r\n\r\n`);
    const events = await waitFor(async () => {
        const e = await s.value("query", "events:list", { kind: "big-cancel" });
        return e.length ? e : null;
    }, { timeout: 8000, what: "the cancel after the send stall" });
    assert.match(events[0].detail, /^the client disconnected after \d+ bytes$/);
    await s.waitStderr(/send stalled/);
    stalling = false;
    sock.resume();
    await closed; /* the server closed it */
    assert.ok(got < 100 << 20);
});
