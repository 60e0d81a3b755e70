// bench/scheduler.mjs: the `scheduler` scenario, against a running Vireo on bench/app.
//  1. lateness under load: `--steady` jobs (default 5,000) due evenly over 5 s while
//     `--clients` HTTP clients (default 4) keep inserting documents with `bench:insert`;
//     lateness = completedTime - scheduledTime of each job as `_scheduled_functions` recorded it
//     (so it includes the job's own run), p50/p99/max;
//  2. throughput: `--burst` jobs (default 20,000) due at the same moment, nothing else running;
//     jobs/s from the first to the last completion (`scheduledPending` in /api/metrics).
// Usage: node bench/scheduler.mjs --port P --out FILE [--steady N] [--burst N] [--clients N]
//        [--commit C] [--note S] [--durability D]. Prints a summary and one ROW line
// (bench/run.sh's table). Bounded: each phase gives up after 120 s. HTTP through bench/http-api.mjs.
import fs from "node:fs";
import { parseOptions, httpApi, pct, sleep } from "./http-api.mjs";

const opt = parseOptions("scheduler", { port: 0, out: "", steady: 5000, burst: 20000, clients: 4, commit: "unknown", note: "", durability: "full" });
const api = httpApi(opt.port);
const call = (kind, path, args) => api[kind](path, args);
const metrics = () => api.metrics();
/* n jobs all due at `at`, scheduled 1,000 per mutation (Convex's limit per call) */
async function scheduleAt(n, at) {
    for (let done = 0; done < n; done += 1000)
        await call("mutation", "bench:scheduleJobs", { n: Math.min(1000, n - done), at, spreadMs: 0 });
}
async function waitIdle(what) {
    const t = Date.now();
    for (;;) {
        const m = await metrics();
        if (m.scheduledPending === 0) return;
        if (Date.now() - t > 120000) throw new Error(`${what}: ${m.scheduledPending} jobs still pending after 120 s`);
        await sleep(20);
    }
}

try {
    /* 1. lateness under load: jobs spread over 5 s, clients inserting meanwhile */
    const since = Date.now() + 2000;
    /* scheduled 1,000 per mutation, each slice covering its part of the 5 s */
    for (let done = 0; done < opt.steady; done += 1000) {
        const n = Math.min(1000, opt.steady - done);
        await call("mutation", "bench:scheduleJobs", { n, at: since + (5000 * done) / opt.steady, spreadMs: (5000 * n) / opt.steady });
    }
    let stop = false, inserts = 0;
    const clients = Array.from({ length: opt.clients }, async () => {
        while (!stop) { await call("mutation", "bench:insert", { n: inserts, body: "x" }); inserts++; }
    });
    await sleep(Math.max(0, since - Date.now()));
    const t1 = Date.now();
    await sleep(5000);
    await waitIdle("steady");
    stop = true;
    await Promise.all(clients);
    const steadySecs = (Date.now() - t1) / 1000;
    const late = (await call("query", "bench:lateness", { since })).sort((a, b) => a - b);
    if (late.length !== opt.steady) throw new Error(`steady: ${late.length} of ${opt.steady} jobs finished`);

    /* 2. throughput: a burst due at once, nothing else running */
    const at = Date.now() + 1000 + opt.burst / 20; /* scheduling takes a while: stay ahead of it */
    await scheduleAt(opt.burst, at);
    await sleep(Math.max(0, at - Date.now()));
    const m0 = await metrics(), t2 = Date.now();
    await waitIdle("burst");
    const burstSecs = (Date.now() - t2) / 1000;
    const m1 = await metrics();
    const started = m1.scheduledStarted - m0.scheduledStarted;
    const jobsPerSec = started / burstSecs;

    const r = {
        scenario: "scheduler", commit: opt.commit, note: opt.note, durability: opt.durability,
        steady_jobs: late.length, steady_clients: opt.clients, client_inserts_per_s: inserts / steadySecs,
        lateness_p50_ms: pct(late, 50), lateness_p99_ms: pct(late, 99), lateness_max_ms: late[late.length - 1],
        burst_jobs: opt.burst, burst_seconds: burstSecs, burst_jobs_per_s: jobsPerSec,
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    const f = (x) => Number(x).toFixed(1);
    console.log(`scheduler: ${late.length} jobs due over 5 s while ${opt.clients} clients inserted (${f(r.client_inserts_per_s)} inserts/s):`);
    console.log(`  lateness (completedTime - scheduledTime): p50=${f(r.lateness_p50_ms)} ms p99=${f(r.lateness_p99_ms)} ms max=${f(r.lateness_max_ms)} ms`);
    console.log(`  burst: ${opt.burst} jobs due at once ran in ${burstSecs.toFixed(2)} s: ${f(jobsPerSec)} jobs/s`);
    console.log(`ROW\tscheduler\t${f(jobsPerSec)} jobs/s; lateness p50 ${f(r.lateness_p50_ms)} / p99 ${f(r.lateness_p99_ms)} ms under load\tno target (measured)\tINFO`);
} catch (e) {
    console.log(`ROW\tscheduler\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
}
api.close();
process.exit(0);
