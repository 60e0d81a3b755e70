// Durability (issue 7, item 10): by default every commit batch is synced to disk on the loop
// thread before its replies go out (`fsyncs` in /api/metrics counts the loop connection's
// syncs); `--durability=relaxed` leaves syncing to the checkpoint thread. With strace present,
// the order itself is checked: every reply's send on the loop thread follows an fdatasync, and
// with a live query to re-run (the batch's sync started before the re-run, store_vfs.c) none
// leaves while that sync is still owed. A commit whose sync fails (`--test-fail-sync`) stops the
// server, deferred or not.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, runCli, metrics, metricsDelta, SyncConn, sleep } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) await s.stop().catch(() => {});
});

async function serve(args = []) {
    const s = await startServer(tempDir("basic"), { cmd: "serve", args });
    servers.push(s);
    return s;
}

async function writes(s, n) {
    for (let i = 0; i < n; i++) {
        const r = await s.mutation("fns:addNote", { text: `w${i}` });
        assert.equal(r.status, 200, r.text);
    }
}

test("default is full: every acknowledged batch was synced (HTTP and sync)", async () => {
    const s = await serve();
    const m0 = await metrics(s);
    assert.equal(m0.durability, "full");
    await writes(s, 10);
    const c = await SyncConn.open(s.port);
    await c.connect();
    for (let i = 0; i < 5; i++) {
        const r = await c.call("mutation", i + 1, "fns:addNote", { text: `s${i}` });
        assert.equal(r.success, true, JSON.stringify(r));
    }
    c.close();
    const d = metricsDelta(m0, await metrics(s));
    assert.ok(d.batches >= 15, `15 sequential writes, ${d.batches} batches`);
    assert.ok(d.fsyncs >= d.batches, `${d.fsyncs} syncs for ${d.batches} batches`);
});

test("--durability=relaxed: the loop thread does not sync", async () => {
    const s = await serve(["--durability=relaxed"]);
    const m0 = await metrics(s);
    assert.equal(m0.durability, "relaxed");
    const t0 = Date.now();
    await writes(s, 10);
    const d = metricsDelta(m0, await metrics(s));
    assert.ok(d.batches >= 10);
    /* no batch syncs its frames; only the first commit after a checkpoint (every 200 ms) reset
     * the WAL syncs the new WAL header (docs/operations.md, "Durability"), which a slow run (ASan)
     * can hit */
    const checkpoints = Math.ceil((Date.now() - t0) / 200) + 1;
    assert.ok(d.fsyncs <= Math.min(checkpoints, d.batches - 1),
              `${d.fsyncs} syncs for ${d.batches} batches in ${checkpoints} checkpoint intervals`);
});

test("--durability full (two arguments) is accepted", async () => {
    const s = await serve(["--durability", "full"]);
    assert.equal((await metrics(s)).durability, "full");
});

test("--durability with a bad value: exit 2 and a precise message", async () => {
    const dir = tempDir("basic");
    for (const args of [["--durability=fast"], ["--durability", "FULL"], ["--durability="]]) {
        const r = await runCli(["serve", dir, "--port", "0", ...args]);
        assert.equal(r.code, 2, `${args}: ${r.stderr}`);
        assert.match(r.stderr, /--durability needs full or relaxed/);
    }
    const r = await runCli(["serve", dir, "--port", "0", "--durability"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /option --durability needs a value/);
});

/* strace -f of the server's threads, the given calls only, strings up to `strings` bytes: {st,
 * out}, or {st: null} (the test passes as skipped) when strace cannot attach. */
async function straceLoop(pid, strings, calls) {
    const out = path.join(tempDir(), "strace.txt");
    const st = spawn("strace", ["-f", "-qq", "-s", String(strings), "-e", `trace=${calls}`, "-p", String(pid), "-o", out], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    st.stderr.on("data", (d) => (stderr += d));
    await sleep(700); /* attach */
    if (st.exitCode !== null) {
        assert.ok(true, `strace could not attach (${stderr.trim()}): skipped`);
        return { st: null };
    }
    return { st, out };
}

function haveStrace() {
    try {
        execFileSync("strace", ["-V"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

test("strace: each reply (HTTP and sync) leaves the loop thread after its batch's fdatasync", { skip: !haveStrace() && "strace not installed" }, async () => {
    const s = await serve();
    const pid = s.proc.pid;
    const { st, out } = await straceLoop(pid, 256, "fdatasync,fsync,sendto,sendmsg,write,writev");
    if (!st) return;
    const ids = [];
    for (let i = 0; i < 8; i++) ids.push(crypto.randomUUID());
    for (const id of ids) {
        const r = await s.mutation("fns:addNote", { text: id });
        assert.equal(r.status, 200);
    }
    const c = await SyncConn.open(s.port);
    await c.connect();
    for (let i = 0; i < 6; i++) {
        const r = await c.call("mutation", i + 1, "fns:addNote", { text: `sync-${i}` });
        assert.equal(r.success, true);
    }
    c.close();
    await sleep(300);
    st.kill("SIGINT");
    await new Promise((r) => st.once("exit", r));
    const lines = fs.readFileSync(out, "utf8").split("\n");
    let synced = false, replies = 0;
    for (const l of lines) {
        const m = /^(\d+)\s+(\w+)\((\d+)/.exec(l);
        if (!m || Number(m[1]) !== pid) continue; /* the loop thread only */
        if (m[2] === "fdatasync" || m[2] === "fsync") synced = true;
        else if (/"HTTP\/1\.1 200|mutationResponse/.test(l)) {
            assert.ok(synced, `a reply was sent with no fdatasync on the loop thread before it:\n${l}`);
            synced = false;
            replies++;
        }
    }
    assert.equal(replies, ids.length + 6, `replies seen in the trace:\n${lines.slice(0, 40).join("\n")}`);
});

/* With a send pool the replies and pushes are written at its batch's end, without one
 * (--send-threads 1) as each is queued: neither before the sync has returned. */
for (const sendArgs of [[], ["--send-threads", "1"]])
test(`strace: with a live query to re-run, the disk starts writing the batch before the re-run, and no reply or push leaves before its fdatasync${sendArgs.length ? ` (${sendArgs.join(" ")})` : ""}`, { skip: !haveStrace() && "strace not installed" }, async () => {
    const s = await serve(sendArgs);
    const pid = s.proc.pid;
    const c = await SyncConn.open(s.port);
    await c.connect();
    await c.subscribe(1, "fns:listNotes");
    const { st, out } = await straceLoop(pid, 8192, "fdatasync,fsync,sync_file_range,sendto,sendmsg,write,writev");
    if (!st) return;
    const before = await metrics(s);
    const texts = [];
    for (let i = 0; i < 6; i++) {
        texts.push(crypto.randomUUID());
        const from = c.mark;
        const r = await c.call("mutation", i + 1, "fns:addNote", { text: texts[i] });
        assert.equal(r.success, true);
        await c.waitMsg((m) => m.type === "transition" && JSON.stringify(m).includes(texts[i]), { from, what: `the push of write ${i}` });
    }
    const after = await metrics(s);
    await sleep(300);
    st.kill("SIGINT");
    await new Promise((r) => st.once("exit", r));
    c.close();
    const lines = fs.readFileSync(out, "utf8").split("\n");
    let owed = false, deferred = 0, replies = 0, pushes = 0;
    for (const l of lines) {
        const m = /^(\d+)\s+(\w+)\((\d+)/.exec(l);
        if (!m || Number(m[1]) !== pid) continue; /* the loop thread only */
        if (m[2] === "sync_file_range") {
            owed = true;
            deferred++;
        } else if (m[2] === "fdatasync" || m[2] === "fsync") {
            owed = false;
        } else if (/mutationResponse|transition/.test(l)) {
            assert.ok(!owed, `sent while its batch's sync was still owed:\n${l}`);
            replies += (l.match(/mutationResponse/g) || []).length; /* (one write may hold several) */
            if (texts.some((t) => l.includes(t))) pushes++;
        }
    }
    assert.ok(deferred >= texts.length, `each write's batch was deferred (${deferred} sync_file_range):\n${lines.slice(0, 30).join("\n")}`);
    assert.equal(replies, texts.length);
    assert.ok(pushes >= texts.length, `${pushes} pushes seen`);
    /* every batch's sync is counted, at its wait */
    assert.ok(after.fsyncs - before.fsyncs >= after.batches - before.batches,
              `${after.fsyncs - before.fsyncs} syncs for ${after.batches - before.batches} batches`);
});

test("under steady writes the WAL is written from its start again: it stays near 16 MiB, and nothing is lost", async () => {
    /* 300 mutations of 200 KB each write ~60 MB of WAL frames. Before the loop thread checkpointed
     * (store_ckpt.c, wal_grew) the WAL grew to SQLite's auto-checkpoint at ~80 MB: the checkpoint
     * thread's pass almost always overlapped a batch, so no batch began with every frame copied
     * back, which is when SQLite restarts the WAL. */
    const dir = tempDir("actions");
    let s = await startServer(dir, { cmd: "serve" });
    servers.push(s);
    const text = (i) => `${i}:`.padEnd(200_000, String.fromCharCode(97 + (i % 26)));
    let maxWal = 0;
    const ids = [];
    const wal = path.join(dir, ".vireo/data/shard-0.db-wal");
    for (let i = 0; i < 300; i++) {
        const r = await s.mutation("fns:addNote", { text: text(i) });
        assert.equal(r.status, 200, r.text);
        ids.push(r.json.value);
        maxWal = Math.max(maxWal, fs.statSync(wal).size);
    }
    assert.ok(maxWal < 24 * 1024 * 1024, `the WAL reached ${maxWal} bytes for ~60 MB written`);
    await s.stop();
    s = await startServer(dir, { cmd: "serve" });
    servers.push(s);
    for (let i = 0; i < 300; i++) {
        const h = await s.query("fns:noteHead", { id: ids[i] });
        assert.equal(h.status, 200, h.text);
        assert.equal(h.json.value, `200000:${text(i).slice(0, 8)}`);
    }
});

for (const deferred of [false, true]) {
    test(`a commit whose WAL sync fails stops the server (${deferred ? "deferred: a live query to re-run" : "synced in the commit"}): no reply nor push of it leaves, and a restart keeps every acknowledged write`, { timeout: 30000 }, async () => {
        /* --test-fail-sync items: the sync of a batch that inserted into `items` fails (EIO).
         * SQLite would call that commit rolled back, but its frames are in the WAL and may be on
         * disk, so the server must neither acknowledge it nor report it lost (store_vfs.c). */
        const dir = tempDir("basic");
        const s = await startServer(dir, { cmd: "serve", args: ["--test-fail-sync", "items"] });
        servers.push(s);
        try {
            execFileSync("prlimit", ["--pid", String(s.proc.pid), "--core=0:0"]); /* no core file */
        } catch {}
        const c = await SyncConn.open(s.port);
        await c.connect();
        if (deferred) await c.subscribe(1, "items:range", { lo: 0, hi: 100, order: "asc" });
        const texts = [];
        for (let i = 0; i < 4; i++) {
            texts.push(`kept-${i}`);
            const r = await c.call("mutation", i + 1, "fns:addNote", { text: texts[i] });
            assert.equal(r.success, true, JSON.stringify(r));
        }
        const from = c.mark;
        c.send({ type: "mutation", requestId: 99, path: "items:add", args: { name: "doomed", n: 7, tag: "t" } });
        const { signal } = await s.exited;
        assert.equal(signal, "SIGABRT", `exit: ${JSON.stringify(await s.exited)}\n${s.stderr.slice(-800)}`);
        assert.match(s.stderr, /\[store\] stopping: the fdatasync of \S+shard-0\.db-wal after a commit failed: Input\/output error\. The commit may or may not be on disk/);
        await sleep(100);
        const after = c.messages.slice(from);
        assert.ok(!after.some((m) => m.type === "mutationResponse"), `a reply left: ${JSON.stringify(after)}`);
        const pushed = (m) => m.type === "transition" && m.modifications.some((x) => x.queryId === 1 && Array.isArray(x.value) && x.value.includes(7));
        assert.ok(!after.some(pushed), `a push of it left: ${JSON.stringify(after)}`);
        c.close();
        /* a restart recovers what the disk holds: every acknowledged write, and the failed one
         * whole or not at all */
        const s2 = await startServer(dir, { cmd: "serve" });
        servers.push(s2);
        const notes = await s2.value("query", "fns:listNotes", {});
        for (const t of texts) assert.ok(JSON.stringify(notes).includes(t), `${t} kept: ${JSON.stringify(notes)}`);
        const items = await s2.value("query", "items:range", { lo: 0, hi: 100, order: "asc" });
        assert.ok(items.length === 0 || JSON.stringify(items) === "[7]", JSON.stringify(items));
        await s2.value("mutation", "items:add", { name: "after", n: 8, tag: "t" });
        assert.ok((await s2.value("query", "items:range", { lo: 8, hi: 9, order: "asc" })).length === 1);
    });
}
