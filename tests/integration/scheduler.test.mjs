// The scheduler on apps/scheduler: ctx.scheduler.runAfter/runAt/cancel from mutations and
// actions, jobs in `_scheduled_functions` (ctx.db.system, live over the sync protocol), a
// rolled-back mutation schedules nothing, failed jobs keep their error, Convex's argument
// errors and limits, kill -9 with 1,000 pending jobs (each ran exactly once after the restart),
// and 100,000 jobs due at once while a client's queries stay answered.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startServer, tempDir, sleep, waitFor, SyncConn, modOf, VIREO_BIN } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
async function start(dir, args = []) {
    const s = await startServer(dir, { args });
    servers.push(s);
    return s;
}

let shared;
async function srv() {
    if (!shared) shared = await start(tempDir("scheduler"));
    return shared;
}

async function jobOf(s, id) {
    return s.value("query", "jobs:job", { id });
}

test("runAfter(0) from a mutation runs the job once; its document says success", async () => {
    const s = await srv();
    const id = await s.value("mutation", "jobs:after", { ms: 0, key: "a0" });
    assert.match(id, /^[0-9a-z]{32}$/);
    await waitFor(async () => (await s.value("query", "jobs:count", { key: "a0" })) === 1);
    const j = await waitFor(async () => {
        const d = await jobOf(s, id);
        return d.state.kind === "success" && d;
    });
    assert.equal(j.name, "jobs:bump");
    assert.deepEqual(j.args, [{ key: "a0" }]);
    assert.equal(typeof j.scheduledTime, "number");
    assert.ok(j.completedTime >= j.scheduledTime, JSON.stringify(j));
    assert.equal(j._id, id);
    await sleep(200);
    assert.equal(await s.value("query", "jobs:count", { key: "a0" }), 1);
    await s.waitStderr(/\[sched\] mutation jobs:bump \(job \w+\): success in [\d.]+ ms/);
});

test("a mutation that throws after scheduling schedules nothing", async () => {
    const s = await srv();
    const before = (await s.value("query", "jobs:jobs", {})).length;
    const r = await s.call("mutation", "jobs:after", { ms: 0, key: "rb", fail: true });
    assert.equal(r.json.status, "error");
    await sleep(300);
    assert.equal(await s.value("query", "jobs:count", { key: "rb" }), 0);
    assert.equal((await s.value("query", "jobs:jobs", {})).length, before);
});

test("runAt in the past runs at once; a Date works too", async () => {
    const s = await srv();
    await s.value("mutation", "jobs:at", { t: Date.now() - 3600e3, key: "past" });
    await s.value("mutation", "jobs:at", { t: Date.now() + 300, key: "date", asDate: true });
    await waitFor(async () => (await s.value("query", "jobs:count", { key: "past" })) === 1,
                  { timeout: 2000 });
    assert.equal(await s.value("query", "jobs:count", { key: "date" }), 0);
    await waitFor(async () => (await s.value("query", "jobs:count", { key: "date" })) === 1);
});

/* the server's CPU time so far, in ms (utime + stime of /proc/<pid>/stat; 100 ticks a second) */
function cpuMs(s) {
    const f = fs.readFileSync(`/proc/${s.proc.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
}

test("a time before 1970 is due at once and a time far ahead waits, and neither stops the scheduler", async () => {
    const s = await start(tempDir("scheduler"));
    await s.value("mutation", "jobs:at", { t: -1, key: "neg" });
    await s.value("mutation", "jobs:at", { t: -8.64e15, key: "neg2", asDate: true });
    await s.value("mutation", "jobs:at", { t: 1e308, key: "far" });
    await s.value("mutation", "jobs:after", { ms: 3600e3 * 1e290, key: "far2" });
    await s.value("mutation", "jobs:after", { ms: 0, key: "now" });
    for (const key of ["neg", "neg2", "now"])
        await waitFor(async () => (await s.value("query", "jobs:count", { key })) === 1,
                      { timeout: 3000, what: `the job ${key}` });
    // the far ones wait, and waiting costs the server nothing (it once spun on the loop timer)
    const c0 = cpuMs(s);
    await sleep(1500);
    const used = cpuMs(s) - c0;
    assert.ok(used < 300, `the idle server used ${used} ms of CPU in 1.5 s`);
    assert.equal(await s.value("query", "jobs:count", { key: "far" }), 0);
    assert.equal(await s.value("query", "jobs:count", { key: "far2" }), 0);
    await s.value("mutation", "jobs:after", { ms: 0, key: "later" });
    await waitFor(async () => (await s.value("query", "jobs:count", { key: "later" })) === 1,
                  { timeout: 3000, what: "a job after the far ones" });
    // and after a restart too
    await s.stop();
    const s2 = await start(s.dir);
    await s2.value("mutation", "jobs:after", { ms: 0, key: "restarted" });
    await waitFor(async () => (await s2.value("query", "jobs:count", { key: "restarted" })) === 1,
                  { timeout: 3000, what: "a job after the restart" });
});

test("cancel: a pending job never runs and is canceled (from a mutation and an action)", async () => {
    const s = await srv();
    const id1 = await s.value("mutation", "jobs:after", { ms: 500, key: "c1" });
    const id2 = await s.value("action", "jobs:fromAction", { ms: 500, key: "c2" });
    await s.value("mutation", "jobs:cancel", { id: id1 });
    await s.value("action", "jobs:cancelFromAction", { id: id2 });
    await sleep(900);
    assert.equal(await s.value("query", "jobs:count", { key: "c1" }), 0);
    assert.equal(await s.value("query", "jobs:count", { key: "c2" }), 0);
    assert.equal((await jobOf(s, id1)).state.kind, "canceled");
    assert.equal((await jobOf(s, id2)).state.kind, "canceled");
    // canceling a finished job changes nothing
    const done = await s.value("mutation", "jobs:after", { ms: 0, key: "c3" });
    await waitFor(async () => (await jobOf(s, done)).state.kind === "success");
    await s.value("mutation", "jobs:cancel", { id: done });
    assert.equal((await jobOf(s, done)).state.kind, "success");
});

test("a scheduled mutation that throws is failed with its error", async () => {
    const s = await srv();
    const id = await s.value("mutation", "jobs:scheduleBoom", {});
    const j = await waitFor(async () => {
        const d = await jobOf(s, id);
        return d.state.kind === "failed" && d;
    });
    assert.equal(j.state.error, "boom from a scheduled mutation");
    assert.ok(j.completedTime > 0);
});

test("a scheduled action runs once and its writes land; actions schedule too", async () => {
    const s = await srv();
    const id = await s.value("mutation", "jobs:scheduleAction", { key: "act" });
    await waitFor(async () => (await jobOf(s, id)).state.kind === "success");
    assert.equal(await s.value("query", "jobs:count", { key: "act" }), 1);
    const id2 = await s.value("action", "jobs:fromAction", { ms: 0, key: "fa" });
    await waitFor(async () => (await jobOf(s, id2)).state.kind === "success");
    assert.equal(await s.value("query", "jobs:count", { key: "fa" }), 1);
    await s.waitStderr(/\[sched\] action jobs:actionBump \(job \w+\): success/);
});

test("Convex's argument errors and the limits", async () => {
    const s = await srv();
    const cases = {
        negative: "`delayMs` must be non-negative",
        nan: "`delayMs` must be a finite number",
        string: "`delayMs` must be a number",
        query: "ctx.scheduler: `jobs:count` is a query; only mutations and actions can be scheduled",
        missing: "Attempted to schedule function at nonexistent path: jobs:nope",
        args: "The arguments to a Convex function must be an object. Received: 1",
        tooMany: "Too many functions scheduled by this function (limit: 1000)",
        write: "db.patch(): `_scheduled_functions` is a system table; system tables are " +
            "read-only (read them with ctx.db.system)",
    };
    for (const [which, msg] of Object.entries(cases)) {
        const r = await s.call("mutation", "jobs:badCalls", { which });
        assert.equal(r.json.status, "error", which);
        assert.equal(r.json.errorMessage, msg, which);
    }
    // a job's document past the document limit names both sizes
    const huge = await s.call("mutation", "jobs:badCalls", { which: "huge" });
    assert.equal(huge.json.status, "error");
    assert.match(huge.json.errorMessage, /scheduled function arguments are too large: 110001\d bytes; a job's document is at most 1048576 bytes/);
    // the rolled-back `tooMany` left no job behind
    assert.equal(await s.value("query", "jobs:count", { key: "t" }), 0);
});

test("_scheduled_functions is live over the sync protocol", async () => {
    const s = await srv();
    const c = await SyncConn.open(s.port);
    try {
        await c.connect();
        const t = await c.subscribe(1, "jobs:states", {});
        const first = modOf(t, 1).value;
        const from = c.mark;
        await s.value("mutation", "jobs:after", { ms: 300, key: "live" });
        const u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1) &&
            (modOf(m, 1).value.pending ?? 0) > (first.pending ?? 0), { from });
        assert.ok(u);
        const from2 = c.mark;
        await c.waitMsg((m) => m.type === "transition" && modOf(m, 1) &&
            modOf(m, 1).value.success === (first.success ?? 0) + 1, { from: from2, timeout: 3000 });
    } finally {
        c.close();
    }
});

test("the total pending limit (--max-scheduled-functions)", async () => {
    const s = await start(tempDir("scheduler"), ["--max-scheduled-functions", "5"]);
    await s.value("mutation", "jobs:many", { n: 5, prefix: "lim", ms: 60000 });
    const r = await s.call("mutation", "jobs:many", { n: 1, prefix: "lim2", ms: 60000 });
    assert.equal(r.json.status, "error");
    assert.equal(r.json.errorMessage, "Too many scheduled functions are pending (limit: 5); retry later");
    await s.stop();
});

test("finished jobs are deleted after --scheduled-retention-ms; pending ones stay; live queries see it", async () => {
    const s = await start(tempDir("scheduler"), ["--scheduled-retention-ms", "2000"]);
    const ok = await s.value("mutation", "jobs:after", { ms: 0, key: "ret" });
    const failed = await s.value("mutation", "jobs:scheduleBoom", {});
    const canceled = await s.value("mutation", "jobs:after", { ms: 60000, key: "ret-c" });
    await s.value("mutation", "jobs:cancel", { id: canceled });
    const pending = await s.value("mutation", "jobs:after", { ms: 600000, key: "ret-p" });
    await waitFor(async () => (await jobOf(s, ok))?.state.kind === "success" &&
        (await jobOf(s, failed))?.state.kind === "failed");
    const c = await SyncConn.open(s.port);
    try {
        await c.connect();
        const t = await c.subscribe(1, "jobs:states", {});
        assert.deepEqual(modOf(t, 1).value, { success: 1, failed: 1, canceled: 1, pending: 1 });
        const from = c.mark;
        // kept while young; gone within the retention plus a prune interval (retention / 4)
        assert.equal((await jobOf(s, ok)).state.kind, "success");
        const u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1) &&
            JSON.stringify(modOf(m, 1).value) === JSON.stringify({ pending: 1 }), { from, timeout: 6000 });
        assert.ok(u);
    } finally {
        c.close();
    }
    for (const id of [ok, failed, canceled]) assert.equal(await jobOf(s, id), null);
    assert.equal((await jobOf(s, pending)).state.kind, "pending");
    await s.waitStderr(/deleted \d+ finished jobs older than the retention/);
    // the flag's bounds
    await s.stop();
});

test("kill -9 with 1,000 pending jobs: after the restart each ran exactly once", async () => {
    const dir = tempDir("scheduler");
    let s = await start(dir, ["--scheduler-batch", "20"]);
    for (let i = 0; i < 10; i++)
        await s.value("mutation", "jobs:many", { n: 100, prefix: `k${i}-`, ms: 300 + 150 * i });
    await sleep(800); // some have run, most are pending
    const ranBefore = Object.keys(await s.value("query", "jobs:counts", { prefix: "k" })).length;
    await s.stop("SIGKILL");
    s = await start(dir);
    await waitFor(async () =>
        Object.keys(await s.value("query", "jobs:counts", { prefix: "k" })).length === 1000,
                  { timeout: 15000, what: "all 1,000 jobs ran" });
    await sleep(300);
    const counts = await s.value("query", "jobs:counts", { prefix: "k" });
    const wrong = Object.entries(counts).filter(([, n]) => n !== 1);
    assert.deepEqual(wrong, [], `ran before the kill: ${ranBefore}`);
    const states = await s.value("query", "jobs:states", {});
    assert.equal(states.success, 1000, JSON.stringify(states));
    assert.equal(states.pending ?? 0, 0);
    await s.stop();
});

// Under ASan every job costs ~10x more, and CI runs this file under ASan too: 20,000 jobs keep
// that run bounded; the latency bound is the same (the scheduler yields to clients every ~10 ms
// whatever a job costs).
const BURST = /\/asan\//.test(VIREO_BIN) ? 20000 : 100000;

test(`${BURST.toLocaleString("en")} jobs due at once: a client's queries stay answered`, { timeout: 150000 }, async () => {
    const s = await start(tempDir("scheduler"));
    const t = Date.now() + 4000; // one due time for all of them
    for (let i = 0; i < BURST / 1000; i++)
        await s.value("mutation", "jobs:manyAt", { n: 1000, prefix: `b${i}-`, t });
    const scheduledIn = Date.now() - (t - 4000);
    await sleep(Math.max(0, t - Date.now()));
    const pending = async () => (await s.get("/api/metrics")).json.scheduledPending;
    const lat = [];
    const t0 = Date.now();
    let done = false;
    const poll = (async () => {
        while (!done) {
            await sleep(250);
            if ((await pending()) === 0 || Date.now() - t0 > 100000) done = true;
        }
    })();
    while (!done) {
        const q0 = performance.now();
        await s.value("query", "jobs:count", { key: "nothing" });
        lat.push(performance.now() - q0);
        await sleep(5);
    }
    await poll;
    const elapsed = Date.now() - t0;
    lat.sort((a, b) => a - b);
    const p = (x) => lat[Math.min(lat.length - 1, Math.floor(lat.length * x))].toFixed(1);
    console.log(`${BURST} due jobs (scheduled in ${scheduledIn} ms): ran in ${elapsed} ms ` +
        `(${Math.round(BURST / elapsed * 1000)}/s); ${lat.length} queries meanwhile, ` +
        `p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
    assert.equal(await pending(), 0, `jobs still pending after ${elapsed} ms`);
    const counts = {}; // page by page: more rows than one query may read
    for (let cursor = null, done = false; !done;) {
        const r = await s.value("query", "jobs:countsPage", { prefix: "b", cursor });
        Object.assign(counts, r.out);
        ({ isDone: done, continueCursor: cursor } = r);
    }
    assert.equal(Object.keys(counts).length, BURST);
    assert.deepEqual(Object.entries(counts).filter(([, n]) => n !== 1), []);
    assert.ok(lat.length > 10, "queries were answered while the jobs ran");
    assert.ok(lat[Math.floor(lat.length * 0.99)] < 1000, `query p99 ${p(0.99)} ms`);
    await s.stop();
});
