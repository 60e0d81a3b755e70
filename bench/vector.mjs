// bench/vector.mjs: the `vector` scenario, against a running Vireo on bench/app.
//  1. seeding: `--docs` embeddings (default 10,000) of `--dims` numbers (768, the bench app's
//     vector index) into `chunks`, 25 per `bench:seedChunks` mutation, tags t0 .. t99;
//  2. searches: `--clients` (default 2) HTTP clients each run the action `bench:vectorSearch`
//     (ctx.vectorSearch, limit 10, a random query vector) one after another, over every
//     embedding for half of `--duration` s (default 10), then filtered to a random tag for the
//     other half: searches/s and latency p50/p99 of each kind;
//  3. during the first half one more client runs `bench:insert` mutations one after another
//     (they run on the shard's event loop): their latency p50/p99/max, against the same
//     mutations with no search running (before step 2), is what searches cost everyone else;
//  4. 20 times: one embedding written, then one search (the index is read into memory again).
// Usage: node bench/vector.mjs --port P --out FILE [--docs N] [--dims N] [--clients N]
//        [--duration S] [--commit C] [--note S] [--durability D].
// Prints a summary and one ROW line (bench/run.sh's table). Bounded: seeding gives up after
// 300 s, each phase after its duration.
import fs from "node:fs";
import { parseOptions, httpApi, pct, nowMs, seededRandom } from "./http-api.mjs";

const opt = parseOptions("vector", { port: 0, out: "", docs: 10000, dims: 768, clients: 2,
    duration: 10, commit: "unknown", note: "", durability: "full" });
const api = httpApi(opt.port);
const f = (x, d = 1) => Number(x).toFixed(d);
const TAGS = 100;

const rand = seededRandom(0x5eed); /* every run searches the same corpus */
const vec = () => Array.from({ length: opt.dims }, () => rand() * 2 - 1);

/* mutations one after another until `until` (ms): sorted latencies */
async function probe(until) {
    const lat = [];
    let n = 0;
    while (Date.now() < until) {
        const s = nowMs();
        await api.mutation("bench:insert", { n: n++, body: "probe" });
        lat.push(nowMs() - s);
    }
    return lat.sort((a, b) => a - b);
}
const show = (lat) => `p50=${f(pct(lat, 50), 2)} p99=${f(pct(lat, 99), 2)} max=${f(lat[lat.length - 1], 2)} ms`;

try {
    /* 1. seeding, 25 embeddings per mutation, 2 in flight */
    const t0 = Date.now();
    let next = 0;
    await Promise.all([0, 1].map(async () => {
        while (next < opt.docs) {
            if (Date.now() - t0 > 300000) throw new Error(`seeding: ${next} of ${opt.docs} after 300 s`);
            const n = Math.min(25, opt.docs - next);
            const docs = Array.from({ length: n }, (_, i) => ({ tag: `t${(next + i) % TAGS}`, embedding: vec() }));
            next += n;
            await api.mutation("bench:seedChunks", { docs });
        }
    }));
    const seedSecs = (Date.now() - t0) / 1000;
    console.log(`vector: seeded ${opt.docs} embeddings of ${opt.dims} dimensions (${TAGS} tags) in ${f(seedSecs, 2)} s`);

    /* 3a. the probe alone */
    const quiet = await probe(Date.now() + Math.min(3, opt.duration) * 1000);

    /* 2. searches over every embedding, with 3b. the probe beside them; then searches of one
     * tag (two phases: a tag's short searches would otherwise wait behind the long ones) */
    let hits = 0;
    async function searches(secs, tagged) {
        const lat = [];
        const end = Date.now() + secs * 1000;
        await Promise.all(Array.from({ length: opt.clients }, async () => {
            while (Date.now() < end) {
                const tag = tagged ? `t${Math.floor(rand() * TAGS)}` : undefined;
                const s = nowMs();
                const r = await api.action("bench:vectorSearch", { vector: vec(), tag });
                lat.push(nowMs() - s);
                if (!tagged) hits += r.length;
            }
        }));
        return lat.sort((a, b) => a - b);
    }
    const t1 = nowMs();
    const half = opt.duration / 2;
    const [busy, all] = await Promise.all([probe(Date.now() + half * 1000), searches(half, false)]);
    const tagged = await searches(half, true);
    const qSecs = (nowMs() - t1) / 1000;
    /* 4. a write to the index, then a search: the index is read into memory again */
    const afterWrite = [];
    for (let k = 0; k < 20; k++) {
        await api.mutation("bench:seedChunks", { docs: [{ tag: "t0", embedding: vec() }] });
        const s = nowMs();
        await api.action("bench:vectorSearch", { vector: vec() });
        afterWrite.push(nowMs() - s);
    }
    afterWrite.sort((a, b) => a - b);
    const n = all.length + tagged.length;
    if (hits !== all.length * Math.min(10, opt.docs))
        throw new Error(`${hits} results for ${all.length} unfiltered searches`);
    console.log(`  ${opt.clients} clients, ${n} searches in ${f(qSecs, 2)} s: ${f(n / qSecs)} searches/s`);
    console.log(`    over all ${opt.docs}: ${show(all)}; one tag (~${Math.round(opt.docs / TAGS)}): ${show(tagged)}`);
    console.log(`  mutations meanwhile: ${show(busy)} (${busy.length}); alone: ${show(quiet)} (${quiet.length})`);
    console.log(`  a search right after a write to the index (20): ${show(afterWrite)}`);
    const r = {
        scenario: "vector", commit: opt.commit, note: opt.note, durability: opt.durability,
        docs: opt.docs, dims: opt.dims, tags: TAGS, seed_seconds: seedSecs, clients: opt.clients,
        seconds: qSecs, searches: n, searches_per_s: n / qSecs,
        all_p50_ms: pct(all, 50), all_p99_ms: pct(all, 99),
        tag_p50_ms: pct(tagged, 50), tag_p99_ms: pct(tagged, 99),
        mutation_quiet_p50_ms: pct(quiet, 50), mutation_quiet_p99_ms: pct(quiet, 99),
        mutation_busy_p50_ms: pct(busy, 50), mutation_busy_p99_ms: pct(busy, 99),
        mutation_busy_max_ms: busy[busy.length - 1],
        after_write_p50_ms: pct(afterWrite, 50), after_write_max_ms: afterWrite[afterWrite.length - 1],
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    console.log(`ROW\tvector\t${f(r.searches_per_s)} searches/s over ${opt.docs}×${opt.dims}: p50 ${f(r.all_p50_ms, 2)} ms (all), ${f(r.tag_p50_ms, 2)} ms (a tag); after a write ${f(r.after_write_p50_ms, 1)} ms; mutations meanwhile p99 ${f(r.mutation_busy_p99_ms, 2)} ms\t-\tINFO`);
} catch (e) {
    console.log(`ROW\tvector\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
}
api.close();
process.exit(0);
