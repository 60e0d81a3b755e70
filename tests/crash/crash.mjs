// The crash suite (`make test-crash`, tests/crash/README.md): writers over HTTP (POST
// /api/mutation) and sync (WebSocket `mutation`) record every acknowledged write; the server is
// killed with SIGKILL at a random moment, the database is checked with `PRAGMA integrity_check`,
// the server restarts on the same data, and then:
//   - every acknowledged write is there, and no write that was never sent;
//   - each writer's counter (bumped in the same mutation as its write) equals its number of
//     writes: no write applied twice, none torn from its counter;
//   - replaying writes with the same function, arguments and idempotency key — every write whose
//     answer was lost in the crash, and a sample of acknowledged ones — applies each once.
// A subscriber of the counters during the writes checks that what it was pushed survives too.
// Rounds alternate --durability=full and relaxed (SIGKILL is a process crash: neither may lose
// an acknowledged write). CRASH_ROUNDS (default 5), CRASH_SEED (random by default; printed),
// CRASH_DURABILITY=full|relaxed (only that mode). Ends with "N passed, N failed".
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnServer, tempDir, request, SyncConn, sleep } from "../integration/helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.CRASH_ROUNDS || 5);
const SEED = Number(process.env.CRASH_SEED || crypto.randomInt(1, 2 ** 31));
const MODES = process.env.CRASH_DURABILITY ? [process.env.CRASH_DURABILITY] : ["full", "relaxed"];
const HTTP_WRITERS = 3;
const SYNC_WRITERS = 2;
const SYNC_WINDOW = 8; /* mutations in flight per sync writer */
const REPLAY_SAMPLE = 40; /* acknowledged writes replayed per round */

/* mulberry32: kill moments and samples repeat with the same CRASH_SEED */
let rs = SEED >>> 0;
function rand() {
    rs = (rs + 0x6d2b79f5) >>> 0;
    let t = rs;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const dir = tempDir(path.join(here, "app"));
const dbPath = path.join(dir, ".vireo/data/shard-0.db");
const scratch = tempDir();
/* key -> {writer, via, session}: acknowledged, and sent without an answer */
const acked = new Map();
const pending = new Map();
let passed = 0, failed = 0;

function check(cond, msg) {
    if (!cond) throw new Error(msg);
}

/* PRAGMA integrity_check on a copy of the database and its WAL as the crash left them (opening
 * the files themselves would recover and checkpoint them: the restarted server must do that). */
function integrity() {
    const copy = path.join(scratch, "check.db");
    for (const sfx of ["", "-wal", "-shm"]) fs.rmSync(copy + sfx, { force: true });
    fs.copyFileSync(dbPath, copy);
    if (fs.existsSync(dbPath + "-wal")) fs.copyFileSync(dbPath + "-wal", copy + "-wal");
    let out;
    try {
        out = execFileSync("sqlite3", [copy, "PRAGMA integrity_check;"], { encoding: "utf8", timeout: 60000 });
    } catch (e) {
        if (e.code === "ENOENT") throw new Error("the sqlite3 command is needed (Debian package sqlite3; `make test-deps` installs it)");
        throw new Error(`sqlite3 failed: ${e.stderr || e.message}`);
    }
    check(out.trim() === "ok", `PRAGMA integrity_check: ${out.trim().slice(0, 500)}`);
}

async function call(srv, kind, fnPath, args, extra = {}) {
    const r = await request(srv.port, "POST", `/api/${kind}`, { path: fnPath, args, ...extra }, { timeout: 30000 });
    if (r.status !== 200 || r.json?.status !== "success") throw new Error(`${kind} ${fnPath}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return r.json.value;
}

/* Every write in the database, and the counters; checks them against what was acknowledged. */
async function verify(srv, when) {
    const found = new Map();
    for (let after = ""; ;) {
        const page = await call(srv, "query", "writes:page", { after, limit: 2000 });
        for (const [k, w] of page) found.set(k, w);
        if (page.length < 2000) break;
        after = page[page.length - 1][0];
    }
    const counters = new Map(await call(srv, "query", "writes:counters", {}));
    for (const [k, w] of acked) check(found.get(k) === w.writer, `${when}: acknowledged write ${k} (${w.via}) is missing`);
    const perWriter = new Map();
    for (const [k, w] of found) {
        check(acked.has(k) || pending.has(k), `${when}: write ${k} was never sent`);
        perWriter.set(w, (perWriter.get(w) || 0) + 1);
    }
    for (const [w, n] of counters)
        check(n === (perWriter.get(w) || 0), `${when}: writer ${w}'s counter is ${n} but it has ${perWriter.get(w) || 0} writes (applied twice, or torn)`);
    for (const [w, n] of perWriter) check(counters.has(w), `${when}: writer ${w} has ${n} writes and no counter`);
    for (const [w, n] of pushed)
        check((counters.get(w) || 0) >= n, `${when}: a subscriber was pushed writer ${w}'s counter ${n}, but ${counters.get(w) || 0} survived`);
    return found;
}

/* A subscriber of writes:counters during the writes: every batch then has a live query to
 * re-run (its WAL sync deferred around the re-run, store_vfs.c), and what it was pushed must
 * survive the crash like an acknowledgement. */
const pushed = new Map(); /* writer -> the highest counter a subscriber was pushed */
async function watcher(srv, stop) {
    let c;
    try {
        c = await SyncConn.open(srv.port);
        await c.connect();
        await c.subscribe(1, "writes:counters");
    } catch {
        return;
    }
    let seen = 0;
    await new Promise((resolve) => {
        const pump = () => {
            for (; seen < c.messages.length; seen++) {
                const m = c.messages[seen];
                if (m.type !== "transition") continue;
                for (const mod of m.modifications)
                    if (mod.type === "QueryUpdated" && Array.isArray(mod.value))
                        for (const [w, n] of mod.value) if (n > (pushed.get(w) || 0)) pushed.set(w, n);
            }
            if (c.closed || stop.now) resolve();
        };
        c.waiters.add(pump);
        pump();
    });
    c.terminate();
}

/* Re-sends writes with their original key, function and arguments, over the transport and (for
 * sync) the session id they were first sent with. Each must succeed with the original answer. */
async function replay(srv, keys) {
    const bySession = new Map();
    for (const k of keys) {
        const w = acked.get(k) || pending.get(k);
        if (w.via === "http") {
            const v = await call(srv, "mutation", "writes:put", { key: k, writer: w.writer }, { idempotencyKey: k });
            check(v === k, `replay of ${k} over HTTP answered ${JSON.stringify(v)}`);
        } else {
            if (!bySession.has(w.session)) bySession.set(w.session, []);
            bySession.get(w.session).push(k);
        }
    }
    for (const [session, ks] of bySession) {
        const c = await SyncConn.open(srv.port);
        await c.connect({ sessionId: session });
        let id = 1;
        for (const k of ks) {
            const w = acked.get(k) || pending.get(k);
            const r = await c.call("mutation", id++, "writes:put", { key: k, writer: w.writer }, { idempotencyKey: k });
            check(r.success === true && r.value === k, `replay of ${k} over sync answered ${JSON.stringify(r)}`);
        }
        c.close();
    }
    for (const k of keys)
        if (pending.has(k)) {
            acked.set(k, pending.get(k));
            pending.delete(k);
        }
}

function ack(k) {
    const w = pending.get(k);
    if (!w) return;
    pending.delete(k);
    acked.set(k, w);
}

async function httpWriter(srv, round, n, stop) {
    const writer = `h${n}`;
    for (let i = 0; !stop.now; i++) {
        const key = `r${round}-${writer}-${i}-${crypto.randomBytes(4).toString("hex")}`;
        pending.set(key, { writer, via: "http" });
        let r;
        try {
            r = await request(srv.port, "POST", "/api/mutation", { path: "writes:put", args: { key, writer }, idempotencyKey: key }, { timeout: 30000 });
        } catch {
            return; /* the server is gone */
        }
        if (r.status === 200 && r.json?.status === "success") ack(key);
        else if (r.status !== 503) throw new Error(`http writer ${writer}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    }
}

async function syncWriter(srv, round, n, stop) {
    const writer = `s${n}`;
    const session = `crash-r${round}-${writer}-${crypto.randomUUID()}`;
    let c;
    try {
        c = await SyncConn.open(srv.port);
        await c.connect({ sessionId: session });
    } catch {
        return;
    }
    const inflight = new Map(); /* requestId -> key */
    let next = 1, seen = 0;
    await new Promise((resolve, reject) => {
        const pump = () => {
            for (; seen < c.messages.length; seen++) {
                const m = c.messages[seen];
                if (m.type !== "mutationResponse") continue;
                const key = inflight.get(m.requestId);
                inflight.delete(m.requestId);
                if (m.success && m.value === key) ack(key);
                else if (m.success || m.errorCode !== "StoreError") return reject(new Error(`sync writer ${writer}: ${JSON.stringify(m).slice(0, 300)}`));
            }
            if (c.closed || stop.now) return resolve();
            while (inflight.size < SYNC_WINDOW) {
                const key = `r${round}-${writer}-${next}-${crypto.randomBytes(4).toString("hex")}`;
                pending.set(key, { writer, via: "sync", session });
                inflight.set(next, key);
                c.send({ type: "mutation", requestId: next++, path: "writes:put", args: { key, writer }, idempotencyKey: key });
            }
        };
        c.waiters.add(pump);
        pump();
    });
    c.terminate();
}

async function start(mode) {
    const srv = spawnServer(dir, { cmd: "serve", args: ["--durability", mode] });
    await srv.waitReady(30000);
    return srv;
}

async function round(r) {
    const mode = MODES[r % MODES.length];
    const srv = await start(mode);
    try {
        await crashRound(r, mode, srv);
    } finally {
        if (srv.exitCode === undefined && !srv.exitSignal) {
            srv.proc.kill("SIGKILL"); /* a failed check: the next round needs the folder */
            await srv.exited;
        }
    }
}

async function crashRound(r, mode, srv) {
    const t0 = Date.now();
    await verify(srv, `round ${r + 1} after restart`);
    const sample = [...acked.keys()].filter(() => rand() < REPLAY_SAMPLE / Math.max(acked.size, 1));
    const settled = pending.size;
    await replay(srv, [...pending.keys(), ...sample]);
    await verify(srv, `round ${r + 1} after replaying ${settled} unanswered and ${sample.length} acknowledged writes`);
    const stop = { now: false };
    const before = acked.size;
    const writers = [];
    for (let i = 0; i < HTTP_WRITERS; i++) writers.push(httpWriter(srv, r, i, stop));
    for (let i = 0; i < SYNC_WRITERS; i++) writers.push(syncWriter(srv, r, i, stop));
    writers.push(watcher(srv, stop));
    const delay = 150 + Math.floor(rand() * 1350);
    await sleep(delay);
    srv.proc.kill("SIGKILL");
    await srv.exited;
    stop.now = true;
    await Promise.all(writers);
    integrity();
    console.log(`crash: round ${r + 1}/${ROUNDS} (${mode}): killed after ${delay} ms; ${acked.size - before} writes acknowledged, ${pending.size} unanswered; replayed ${settled} + ${sample.length}; ${[...pushed.values()].reduce((a, b) => a + b, 0)} writes seen pushed so far; integrity ok (${Date.now() - t0} ms)`);
}

console.log(`crash: ${ROUNDS} rounds, CRASH_SEED=${SEED}, data in ${dir}`);
for (let r = 0; r < ROUNDS; r++) {
    try {
        await round(r);
        passed++;
    } catch (e) {
        failed++;
        console.log(`crash: round ${r + 1} FAILED: ${e.stack || e.message}`);
    }
}
/* the last crash's state, checked once more, then a clean stop */
try {
    const srv = await start(MODES[0]);
    await verify(srv, "final restart");
    const settled = pending.size;
    await replay(srv, [...pending.keys()]);
    const found = await verify(srv, "final replay");
    check(found.size === acked.size, `final: ${found.size} writes stored, ${acked.size} acknowledged`);
    const stopped = await srv.stop();
    check(stopped.code === 0, `final: vireo exited with ${stopped.code ?? stopped.signal}`);
    integrity();
    console.log(`crash: final: ${acked.size} writes, all present once (${settled} replayed), integrity ok`);
    passed++;
} catch (e) {
    failed++;
    console.log(`crash: final check FAILED: ${e.stack || e.message}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
