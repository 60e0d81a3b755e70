// How scheduled runs start and end, on apps/sched-runs (Convex's executors are the reference):
// a cron job's action runs one at a time (its next run is scheduled when it ends, missed ones
// skipped); a new interval cron runs at once; cron runs cannot be canceled by the app; a
// scheduled action canceled while it runs stays canceled and what it schedules afterwards is
// created canceled; scheduled actions waiting for the action pool stay pending (never marked
// inProgress, so never failed by a restart) and those still queued at a graceful stop run after
// the restart; jobs due while no app is loaded wait for one; a batch that fails to commit is
// retried after a pause, not in a tight loop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, spawnServer, tempDir, sleep, waitFor } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
async function start(dir, args = []) {
    const s = await startServer(dir, { args });
    servers.push(s);
    return s;
}
const events = (s, kind) => s.value("query", "s:events", { kind });
// Without the cron jobs (each test that needs them has them).
function withoutCrons(dir) {
    fs.writeFileSync(path.join(dir, "convex", "crons.ts"),
                     `import { cronJobs } from "convex/server";\nexport default cronJobs();\n`);
    return dir;
}

test("a cron job's action runs one at a time: its next run is scheduled when it ends; a new interval job runs at once", async () => {
    const s = await start(tempDir("sched-runs"));
    // the hourly interval job ran at once, as Convex's (compute_next_ts without a previous run)
    await waitFor(async () => (await events(s, "hourly")).length === 1, { timeout: 5000, what: "the hourly job's first run" });
    await waitFor(async () => (await events(s, "slow-end")).length >= 2, { timeout: 15000, what: "two slow runs" });
    const ev = (await events(s)).filter((e) => e.kind.startsWith("slow-"))
        .sort((a, b) => a.t - b.t || (a.kind === "slow-end" ? -1 : 1));
    let running = 0, most = 0;
    for (const e of ev) {
        running += e.kind === "slow-start" ? 1 : -1;
        most = Math.max(most, running);
    }
    assert.equal(most, 1, `at most one run at a time: ${JSON.stringify(ev)}`);
    // while a run executes, the job has no other run pending or running
    const jobs = (await s.value("query", "s:jobs", {})).filter((j) => j.name === "s:slow");
    assert.ok(jobs.filter((j) => j.kind === "pending" || j.kind === "inProgress").length <= 1, JSON.stringify(jobs));
    assert.equal((await events(s, "hourly")).length, 1, "the hourly job waits an hour now");
    await s.stop();
});

test("cron runs are not the app's to cancel: a cleanup that cancels every pending job leaves the cron running", async () => {
    const s = await start(tempDir("sched-runs"));
    await waitFor(async () => (await events(s, "tick")).length >= 2, { timeout: 8000, what: "ticks" });
    const mine = await s.value("mutation", "s:scheduleLog", { ms: 60000, kind: "later" });
    const n = await s.value("mutation", "s:cancelAllPending", {});
    assert.ok(n >= 2, `it saw the cron's pending runs too (${n})`);
    assert.equal((await s.value("query", "s:job", { id: mine })).state.kind, "canceled", "the app's own job is canceled");
    await s.waitStderr(/\[sched\] ctx\.scheduler\.cancel\("[0-9a-z]{32}"\): a cron job's run, not canceled/);
    const before = (await events(s, "tick")).length;
    await waitFor(async () => (await events(s, "tick")).length >= before + 2, { timeout: 6000, what: "the cron ticks on" });
    await s.stop();
});

test("a scheduled action canceled while it runs stays canceled, and what it schedules afterwards is created canceled", async () => {
    const s = await start(withoutCrons(tempDir("sched-runs")));
    const id = await s.value("mutation", "s:scheduleParent", { ms: 1500 });
    await waitFor(async () => (await events(s, "parent-start")).length === 1, { timeout: 5000, what: "the action started" });
    assert.equal((await s.value("query", "s:job", { id })).state.kind, "inProgress");
    await s.value("mutation", "s:cancel", { id });
    assert.equal((await s.value("query", "s:job", { id })).state.kind, "canceled");
    await waitFor(async () => (await events(s, "parent-end")).length === 1, { timeout: 8000, what: "the action went on to its end" });
    await sleep(300);
    assert.equal((await s.value("query", "s:job", { id })).state.kind, "canceled", "its end did not change the state");
    assert.deepEqual(await events(s, "child"), [], "the child never ran");
    const child = (await s.value("query", "s:jobs", {})).find((j) => j.name === "s:log");
    assert.equal(child?.kind, "canceled", JSON.stringify(child));
    // a job not canceled schedules as usual
    const other = await s.value("mutation", "s:scheduleParent", { ms: 10 });
    await waitFor(async () => (await events(s, "child")).length === 1, { timeout: 8000, what: "an uncanceled parent's child runs" });
    await waitFor(async () => (await s.value("query", "s:job", { id: other })).state.kind === "success", { timeout: 5000 });
    await s.stop();
});

test("scheduled actions waiting for a full action pool stay pending; those queued at a graceful stop run after the restart", async () => {
    const dir = withoutCrons(tempDir("sched-runs"));
    const flags = ["--action-threads", "1", "--actions-per-worker", "2", "--max-pending-actions", "4"];
    let s = await start(dir, flags);
    await s.value("mutation", "s:scheduleWaits", { n: 12, ms: 400 });
    // the pool takes 4 (2 running, 2 queued); the rest wait pending, never inProgress
    await waitFor(async () => (await s.value("query", "s:jobs", {})).filter((j) => j.kind === "inProgress").length === 4,
                  { timeout: 5000, what: "4 jobs handed to the pool" });
    const seen = await s.value("query", "s:jobs", {});
    assert.equal(seen.filter((j) => j.kind === "inProgress").length, 4, JSON.stringify(seen));
    assert.equal(seen.filter((j) => j.kind === "pending").length, 8);
    await s.stop(); // SIGTERM: the 2 running are stopped, the 2 queued never started
    assert.match(s.stderr, /not started before the server stopped; pending again/);
    s = await start(dir, flags);
    const jobs = await waitFor(async () => {
        const all = await s.value("query", "s:jobs", {});
        return all.every((j) => j.kind !== "pending" && j.kind !== "inProgress") && all;
    }, { timeout: 20000, what: "the jobs that never ran, run" });
    const failed = jobs.filter((j) => j.kind === "failed");
    assert.ok(failed.length <= 2, `only the actions that were running are lost: ${JSON.stringify(failed)}`);
    assert.equal(jobs.filter((j) => j.kind === "success").length + failed.length, 12, JSON.stringify(jobs));
    await s.stop();
});

test("a job due while no app is loaded waits for one: it is not failed as a missing function", async () => {
    const dir = withoutCrons(tempDir("sched-runs"));
    let s = await start(dir);
    const id = await s.value("mutation", "s:scheduleLog", { ms: 1500, kind: "late" });
    await s.stop();
    const file = path.join(dir, "convex", "s.ts");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good + "\nexport const oops = ;\n");
    s = spawnServer(dir);
    servers.push(s);
    await s.waitReady();
    await s.waitStderr(/error/i);
    await sleep(2500); // the job came due
    assert.doesNotMatch(s.stderr, /Could not find function/);
    fs.writeFileSync(file, good);
    await waitFor(async () => (await events(s, "late")).length === 1, { timeout: 15000, what: "the job ran once the app loaded" });
    assert.equal((await s.value("query", "s:job", { id })).state.kind, "success");
    await s.stop();
});

test("a scheduled job whose batch fails to commit is retried after a pause, not in a tight loop", async () => {
    const dir = withoutCrons(tempDir("sched-runs"));
    const s = await start(dir, ["--test-fail-commit", "events"]);
    const r = await s.call("mutation", "s:scheduleLog", { ms: 0, kind: "x" });
    assert.equal(r.json.status, "success", JSON.stringify(r.json));
    await sleep(3000);
    const failures = (s.stderr.match(/commit of a batch failed/g) || []).length;
    assert.ok(failures >= 1 && failures <= 5, `${failures} failed commits in 3 s (500 ms, 1 s, 2 s apart)`);
    await s.stop();
});
