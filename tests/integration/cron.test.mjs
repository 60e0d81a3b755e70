// Cron jobs (crons.ts's cronJobs()) on apps/cron: an interval job runs as scheduled jobs of
// `_scheduled_functions`; a throwing one is logged and runs again; kill -9 and a restart later
// run a missed job once, not once per missed interval; a reload replaces the schedule; an
// invalid cron expression is a load error naming the job.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startServer, tempDir, sleep, waitFor } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
async function start(dir, args = []) {
    const s = await startServer(dir, { args });
    servers.push(s);
    return s;
}
const count = (s, key) => s.value("query", "jobs:count", { key });
// The counter as stored in the data file of a stopped server (the sqlite3 shell, a test dependency).
function storedCount(dir, key) {
    const db = path.join(dir, ".vireo/data/shard-0.db");
    const num = execFileSync("sqlite3", [db, "SELECT num FROM _vr_tables WHERE name = 'runs'"]).toString().trim();
    assert.match(num, /^[0-9]+$/, "the runs table exists");
    const n = execFileSync("sqlite3", [db, `SELECT json_extract(j, '$.n') FROM d${num} WHERE json_extract(j, '$.key') = '${key}'`]).toString().trim();
    return n === "" ? 0 : Number(n);
}

test("an interval cron runs every second as scheduled jobs; a throwing one keeps running", async () => {
    const s = await start(tempDir("cron"));
    await waitFor(async () => (await count(s, "tick")) >= 3, { timeout: 8000, what: "3 ticks" });
    const jobs = await s.value("query", "jobs:jobs", {});
    const ticks = jobs.filter((j) => j.name === "jobs:bump");
    assert.ok(ticks.filter((j) => j.kind === "success").length >= 3, JSON.stringify(ticks));
    assert.equal(ticks.filter((j) => j.kind === "pending").length, 1, "one next run pending");
    assert.deepEqual(ticks[0].args, [{ key: "tick" }]);
    const booms = jobs.filter((j) => j.name === "jobs:boom");
    assert.ok(booms.filter((j) => j.kind === "failed").length >= 2, JSON.stringify(booms));
    await s.waitStderr(/\[cron\] "tick": mutation jobs:bump \(job [0-9a-z]{32}\): success in [0-9.]+ ms/);
    await s.waitStderr(/\[cron\] "boom": mutation jobs:boom \(job [0-9a-z]{32}\): failed in [0-9.]+ ms: .*boom from a cron job/);
    await s.stop();
});

test("kill -9, restart 4 s later: the missed runs run once, not once per second", async () => {
    const dir = tempDir("cron");
    let s = await start(dir);
    await waitFor(async () => (await count(s, "tick")) >= 2, { timeout: 8000 });
    await s.stop("SIGKILL");
    // Read from the file itself: a server started only to read it would run its own missed tick.
    const before = storedCount(dir, "tick");
    await sleep(4000);
    s = await start(dir);
    const n0 = await count(s, "tick");
    await sleep(600);
    const n1 = await count(s, "tick");
    assert.ok(n1 - before <= 2, `after 4 s down: ${before} -> ${n0} -> ${n1}`);
    await waitFor(async () => (await count(s, "tick")) >= n1 + 2, { timeout: 5000, what: "ticks go on" });
    const jobs = await s.value("query", "jobs:jobs", {});
    assert.equal(jobs.filter((j) => j.name === "jobs:bump" && j.kind === "pending").length, 1);
    await s.stop();
});

test("reloading crons.ts replaces the schedule; a bad expression is a load error", async () => {
    const dir = tempDir("cron");
    const s = await start(dir);
    await waitFor(async () => (await count(s, "tick")) >= 1, { timeout: 8000 });
    const file = path.join(dir, "vireo", "crons.ts");
    fs.writeFileSync(file, `import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
const crons = cronJobs();
crons.interval("tock", { seconds: 1 }, internal.jobs.bump, { key: "tock" });
export default crons;
`);
    await waitFor(async () => (await count(s, "tock")) >= 2, { timeout: 10000, what: "tock runs" });
    const ticks = await count(s, "tick");
    await sleep(1500);
    assert.equal(await count(s, "tick"), ticks, "the removed job stopped");
    let jobs = await s.value("query", "jobs:jobs", {});
    assert.equal(jobs.filter((j) => j.kind === "pending").length, 1, JSON.stringify(jobs.filter((j) => j.kind === "pending")));
    assert.ok(jobs.some((j) => j.kind === "canceled"));
    await s.waitStderr(/\[cron\] "tick": removed from crons.ts, its next run canceled/);
    fs.writeFileSync(file, `import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
const crons = cronJobs();
crons.cron("bad", "61 * * * *", internal.jobs.bump, { key: "bad" });
export default crons;
`);
    await waitFor(() => /cron job `bad`: invalid cron expression "61 \* \* \* \*": minute field: `61` is out of range \(0-59\)/.test(s.stderr),
                  { timeout: 10000, what: "the load error" });
    const n = await count(s, "tock");
    await waitFor(async () => (await count(s, "tock")) > n, { timeout: 5000, what: "the old version keeps running" });
    await s.stop();
});
