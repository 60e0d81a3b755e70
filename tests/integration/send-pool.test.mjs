// The send pool (`--send-threads`): one commit's transitions to many subscribers are written by
// several threads, and nothing a client sees may change. 2,000 subscribers of one query over
// real sockets, a series of writes, with --send-threads 2 and 1: every subscriber gets every
// transition once, in order, the version chain unbroken, byte-identical across subscribers and
// (ids and times aside) across the two modes; subscribers that stop reading have their output
// queued (the server's buffered bytes grow) and get all of it, in order and intact, once they
// read again; subscribers that leave during the writes (reset or closed) do not disturb the
// rest. Then the flag's range. Fixture: apps/send-pool.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startServer, tempDir, spawnServer, SyncConn, metrics, sleep, SANITIZER_RE } from "./helpers.mjs";

const SUBS = Number(process.env.SEND_POOL_SUBS || 2000);
const STALLED = 6;     /* stop reading after the first write */
const LEAVERS = 300;   /* leave during writes 3..8 */
const BIG = 60000;     /* bytes of the "big" note the stalled ones also follow */
const MIN_WRITES = 30, MAX_WRITES = 150;

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined) await s.stop();
});

/* A raw sync client keeping every message's text. */
class Sub {
    static async open(port) {
        const { default: WebSocket } = await import("ws");
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/sync`, { perMessageDeflate: false, maxPayload: 64 << 20 });
        const s = new Sub(ws);
        await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
        });
        return s;
    }

    constructor(ws) {
        this.ws = ws;
        this.raw = [];
        this.seq = [-1, -1]; /* the newest seq seen per queryId */
        this.transitions = 0;
        this.closed = false;
        ws.on("message", (d) => {
            const text = d.toString("utf8");
            this.raw.push(text);
            const m = JSON.parse(text);
            if (m.type !== "transition") return;
            this.transitions++;
            for (const mod of m.modifications)
                if (mod.type === "QueryUpdated" && mod.value) this.seq[mod.queryId] = mod.value.seq;
        });
        ws.on("close", () => (this.closed = true));
        ws.on("error", () => {});
    }

    subscribe(channels) {
        this.ws.send(JSON.stringify({ type: "connect", sessionId: crypto.randomUUID(), clientVersion: "send-pool-it/0", protocolVersion: 1 }));
        this.ws.send(JSON.stringify({
            type: "modifyQuerySet",
            add: channels.map((ch, i) => ({ queryId: i, path: "fan:latest", args: { ch } })),
            remove: [],
        }));
    }
}

async function waitUntil(fn, what, timeout = 30000) {
    const end = Date.now() + timeout;
    while (!fn()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
    }
}

/* Opens n subscribers, 200 at a time, each subscribed to `channels`. */
async function openSubs(port, n, channels) {
    const subs = [];
    for (let i = 0; i < n; i += 200) {
        const batch = await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => Sub.open(port)));
        for (const s of batch) s.subscribe(channels);
        subs.push(...batch);
    }
    await waitUntil(() => subs.every((s) => s.transitions >= 1), `${n} initial transitions`);
    return subs;
}

/* The transitions of a subscriber: each one's text and parsed form. */
function transitionsOf(s) {
    return s.raw.map((t) => ({ t, m: JSON.parse(t) })).filter((x) => x.m.type === "transition");
}

/* Checks one subscriber's stream: an unbroken version chain, and after the initial result each
 * followed query's seq 1..writes exactly once, in order (with the big note's bytes intact). */
function checkStream(s, writes, queries, who) {
    const tr = transitionsOf(s);
    for (let i = 1; i < tr.length; i++)
        assert.equal(tr[i].m.startVersion, tr[i - 1].m.endVersion, `${who}: transition ${i} starts at ${tr[i].m.startVersion}, the previous ended at ${tr[i - 1].m.endVersion}`);
    for (let q = 0; q < queries; q++) {
        const seqs = [];
        for (const { m } of tr.slice(1))
            for (const mod of m.modifications)
                if (mod.queryId === q) {
                    assert.equal(mod.type, "QueryUpdated", `${who}: query ${q}: ${JSON.stringify(mod).slice(0, 200)}`);
                    seqs.push(mod.value.seq);
                    if (q === 1) {
                        assert.equal(mod.value.body.length, BIG, `${who}: big note ${mod.value.seq} length`);
                        assert.ok(mod.value.body.startsWith(`${mod.value.seq}:0;${mod.value.seq}:1;`), `${who}: big note ${mod.value.seq} bytes`);
                    }
                }
        assert.deepEqual(seqs, Array.from({ length: writes }, (_, i) => i + 1), `${who}: query ${q}'s seqs`);
    }
}

/* One run against `vireo serve --send-threads threads`; returns what the comparison needs. */
async function fanOutRun(threads) {
    try {
        return await fanOutRunOnce(threads);
    } catch (e) {
        e.message = `--send-threads ${threads}: ${e.message}`;
        throw e;
    }
}

async function fanOutRunOnce(threads) {
    const dir = tempDir("send-pool");
    const srv = await startServer(dir, { cmd: "serve", args: ["--send-threads", String(threads)] });
    servers.push(srv);
    const readers = await openSubs(srv.port, SUBS, ["all"]);
    const stalled = await openSubs(srv.port, STALLED, ["all", "big"]);
    const leavers = await openSubs(srv.port, LEAVERS, ["all"]);
    const writer = await SyncConn.open(srv.port);
    await writer.connect();

    let writes = 0, peakBuffered = 0;
    for (let k = 1; k <= MAX_WRITES; k++) {
        const sent = writer.call("mutation", k, "fan:put", { seq: k, big: BIG });
        if (k >= 3 && k <= 8) { /* leave while this write's flush runs: 50 each time */
            for (const [i, s] of leavers.slice((k - 3) * 50, (k - 2) * 50).entries())
                i % 2 ? s.ws.terminate() : s.ws.close();
        }
        const r = await sent;
        assert.equal(r.success, true, JSON.stringify(r));
        await waitUntil(() => readers.every((s) => s.seq[0] >= k), `write ${k} at every reading subscriber`);
        if (k === 1) { /* they have write 1: now they stop reading */
            await waitUntil(() => stalled.every((s) => s.seq[1] >= 1), "write 1 at the stalled ones");
            for (const s of stalled) s.ws._socket.pause();
        }
        writes = k;
        if (k % 5 === 0 || k >= MIN_WRITES) {
            const buffered = (await metrics(srv)).bufferedBytes;
            peakBuffered = Math.max(peakBuffered, buffered);
            /* each stalled connection has a queue well past what the kernel holds */
            if (k >= MIN_WRITES && buffered > STALLED * 4 * BIG) break;
        }
    }
    assert.ok(peakBuffered > STALLED * 4 * BIG, `the stalled connections' output was queued (${peakBuffered} bytes buffered after ${writes} writes)`);
    for (const s of stalled) {
        assert.ok(s.seq[1] < writes, "a stalled subscriber did not get everything before it read");
        s.ws._socket.resume();
    }
    await waitUntil(() => stalled.every((s) => s.seq[0] >= writes && s.seq[1] >= writes), "the stalled subscribers to catch up", 60000);

    for (const [i, s] of readers.entries()) checkStream(s, writes, 1, `subscriber ${i}`);
    for (const [i, s] of stalled.entries()) checkStream(s, writes, 2, `stalled subscriber ${i}`);
    assert.ok(leavers.every((s) => s.closed), "every leaver is gone");
    /* every reading subscriber got the same bytes for each write */
    const texts = transitionsOf(readers[0]).map((x) => x.t);
    for (const [i, s] of readers.entries())
        assert.deepEqual(transitionsOf(s).map((x) => x.t), texts, `subscriber ${i}'s transitions are byte-identical to subscriber 0's`);
    /* the server serves on: a new subscriber gets the newest note */
    const late = await openSubs(srv.port, 1, ["all"]);
    assert.equal(late[0].seq[0], writes);
    const m = await metrics(srv);
    for (const s of [...readers, ...stalled, ...late]) s.ws.terminate();
    writer.terminate();
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr);
    assert.doesNotMatch(srv.stderr, SANITIZER_RE);
    return { writes, texts, transitions: m.transitions };
}

/* Ids and creation times (and so the results' hashes) differ between two servers; nothing else
 * may. */
const normalize = (t) =>
    t.replace(/"_id":"[^"]*"/g, '"_id":"-"').replace(/"_creationTime":[0-9.e+]+/g, '"_creationTime":0').replace(/"hash":"[0-9a-f]*"/g, '"hash":"-"');

test("2,000 subscribers, stalled and leaving ones: the same stream with --send-threads 2 and 1", { timeout: 600000 }, async () => {
    const two = await fanOutRun(2);
    const one = await fanOutRun(1);
    const n = Math.min(two.writes, one.writes);
    assert.deepEqual(two.texts.slice(0, n + 1).map(normalize), one.texts.slice(0, n + 1).map(normalize));
});

test("--send-threads: 0 to 16; past that a precise error and exit 2", async () => {
    for (const bad of ["17", "-1", "two"]) {
        const s = spawnServer(tempDir("send-pool"), { cmd: "serve", args: ["--send-threads", bad] });
        const r = await s.exited;
        assert.equal(r.code, 2, s.stderr);
        assert.match(s.stderr, /--send-threads needs a number from 0 to 16/);
    }
    for (const ok of ["0", "16"]) {
        const srv = await startServer(tempDir("send-pool"), { cmd: "serve", args: ["--send-threads", ok] });
        servers.push(srv);
        const r = await srv.stop();
        assert.equal(r.code, 0, srv.stderr);
    }
});
