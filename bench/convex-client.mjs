// bench/convex-client.mjs: the `convex-client` scenario. The official `convex` npm client
// (ConvexClient over Convex's sync protocol) against a running Vireo on bench/app:
//  - mutation round trip: one client awaits N mutations one after another; a Convex mutation
//    promise resolves only once a transition reaching the mutation's ts has arrived, so this is
//    write + commit (fsync with durability full) + the read-your-writes transition;
//  - subscription update: a second client subscribed to `bench:latest`; the time from the
//    writer's send to the subscriber's onUpdate carrying that write.
// Usage: node bench/convex-client.mjs --port P --out FILE [--count N] [--commit C] [--note S]
//        [--durability D]. Prints a summary and one ROW line (bench/run.sh's table). Bounded: N
// mutations (default 2000) and 60 s at most.
import fs from "node:fs";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";

const opt = { port: 0, out: "", count: 2000, commit: "unknown", note: "", durability: "full" };
for (let i = 2; i < process.argv.length; i += 2) {
    const k = process.argv[i].replace(/^--/, ""), v = process.argv[i + 1];
    if (!(k in opt) || v === undefined) {
        console.error(`convex-client: unknown or incomplete option ${process.argv[i]}`);
        process.exit(2);
    }
    opt[k] = typeof opt[k] === "number" ? Number(v) : v;
}
const url = `http://127.0.0.1:${opt.port}`;
const deadline = Date.now() + 60000;

function pct(sorted, p) {
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}
const ms = (ns) => Number(ns) / 1e6;

const writer = new ConvexClient(url, { unsavedChangesWarning: false });
const reader = new ConvexClient(url, { unsavedChangesWarning: false });
const channel = `cc-${process.pid}`;
const sentAt = new Map(); /* seq -> hrtime of the writer's send */
const update = [];
let waitFor = null;
reader.onUpdate(anyApi.bench.latest, { channel }, (doc) => {
    if (!doc) return;
    const t0 = sentAt.get(doc.seq);
    if (t0 !== undefined) {
        update.push(ms(process.hrtime.bigint() - t0));
        sentAt.delete(doc.seq);
    }
    if (waitFor && waitFor.seq === doc.seq) waitFor.resolve();
});

const roundTrip = [];
try {
    /* warm-up: connections open, the subscription's first result in */
    await writer.mutation(anyApi.bench.send, { channel, seq: -1, body: "warm" });
    await new Promise((r) => { waitFor = { seq: -1, resolve: r }; setTimeout(r, 5000); });
    const t = Date.now();
    for (let seq = 0; seq < opt.count && Date.now() < deadline; seq++) {
        const seen = new Promise((r) => { waitFor = { seq, resolve: r }; });
        const t0 = process.hrtime.bigint();
        sentAt.set(seq, t0);
        await writer.mutation(anyApi.bench.send, { channel, seq, body: "x" });
        roundTrip.push(ms(process.hrtime.bigint() - t0));
        await Promise.race([seen, new Promise((r) => setTimeout(r, 2000))]);
    }
    const secs = (Date.now() - t) / 1000;
    roundTrip.sort((a, b) => a - b);
    update.sort((a, b) => a - b);
    const r = {
        scenario: "convex-client", commit: opt.commit, note: opt.note, durability: opt.durability,
        mutations: roundTrip.length, seconds: secs,
        round_trip_p50_ms: pct(roundTrip, 50), round_trip_p99_ms: pct(roundTrip, 99),
        update_p50_ms: pct(update, 50), update_p99_ms: pct(update, 99), updates: update.length,
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    const f = (x) => x.toFixed(2);
    console.log(`convex-client: ${r.mutations} sequential mutations with the convex npm client in ${f(secs)} s`);
    console.log(`  mutation round trip (resolved after its transition): p50=${f(r.round_trip_p50_ms)} ms p99=${f(r.round_trip_p99_ms)} ms`);
    console.log(`  subscription update (send -> other client's onUpdate): p50=${f(r.update_p50_ms)} ms p99=${f(r.update_p99_ms)} ms (${r.updates} updates)`);
    const verdict = r.updates === r.mutations ? "INFO" : "ERROR";
    console.log(`ROW\tconvex-client\tround trip p50 ${f(r.round_trip_p50_ms)} / p99 ${f(r.round_trip_p99_ms)} ms; update p50 ${f(r.update_p50_ms)} / p99 ${f(r.update_p99_ms)} ms\tno target (measured)\t${verdict}`);
} catch (e) {
    console.log(`ROW\tconvex-client\t${String(e.message || e).slice(0, 80)}\t-\tERROR`);
} finally {
    await writer.close();
    await reader.close();
}
process.exit(0);
