// bench/search.mjs: the `search` scenario, against a running Vireo on bench/app.
//  1. seeding: `--docs` documents (default 100,000) into `articles` (search index `search_body`
//     on `body`, filter field `tag`), 1,000 per `bench:seedArticles` mutation: bodies of 8 words
//     drawn from a vocabulary of `--vocab` (default 1,000) made-up words, tags t0 .. t99;
//  2. queries: `--clients` (default 4) HTTP clients each run `bench:search` (`withSearchIndex`,
//     1 or 2 random words, a random tag, `.take(10)`) one after another for `--duration` s
//     (default 10): queries/s and latency p50/p99;
//  3. re-runs per write: `--subs` (default 100) live `bench:search` queries on tag t0 (different
//     words) held by the official convex client over the sync protocol; then `--writes` (default
//     50) `bench:addArticle` writes with tag t0 and as many with other tags, one at a time, each
//     followed by a quiet moment; `queryReruns` from /api/metrics per write for each kind, and
//     the updates the client received. Every live search on t0 re-runs for a t0 write, whatever
//     its text (docs/functions.md, "Full-text search"); none may re-run for another tag.
// Usage: node bench/search.mjs --port P --out FILE [--docs N] [--vocab N] [--clients N]
//        [--duration S] [--subs N] [--writes N] [--commit C] [--note S] [--durability D].
// Prints a summary and one ROW line (bench/run.sh's table). Bounded: seeding gives up after
// 300 s, waiting for the subscriptions after 30 s, each write's quiet moment after 5 s.
import fs from "node:fs";
import { ConvexClient } from "convex/browser";
import { anyApi } from "convex/server";
import { parseOptions, httpApi, pct, sleep, nowMs, seededRandom } from "./http-api.mjs";

const opt = parseOptions("search", { port: 0, out: "", docs: 100000, vocab: 1000, clients: 4,
    duration: 10, subs: 100, writes: 50, commit: "unknown", note: "", durability: "full" });
const api = httpApi(opt.port);
const f = (x, d = 1) => Number(x).toFixed(d);
const TAGS = 100;

const rand = seededRandom(0x5eed); /* every run searches the same corpus */
const pick = (n) => Math.floor(rand() * n);
const SYL = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "po", "da", "fu", "gi", "he", "ju", "we"];
const words = Array.from({ length: opt.vocab }, (_, i) => {
    let w = "";
    for (let x = i + SYL.length; x > 0; x = Math.floor(x / SYL.length)) w += SYL[x % SYL.length];
    return w;
});
const body = () => Array.from({ length: 8 }, () => words[pick(words.length)]).join(" ");
const text = () => (rand() < 0.5 ? words[pick(words.length)] : `${words[pick(words.length)]} ${words[pick(words.length)]}`);

let client = null;
try {
    /* 1. seeding, 1,000 documents per mutation, 2 in flight */
    const t0 = Date.now();
    let next = 0;
    await Promise.all([0, 1].map(async () => {
        while (next < opt.docs) {
            if (Date.now() - t0 > 300000) throw new Error(`seeding: ${next} of ${opt.docs} documents after 300 s`);
            const n = Math.min(1000, opt.docs - next);
            const docs = Array.from({ length: n }, (_, i) => ({ body: body(), tag: `t${(next + i) % TAGS}` }));
            next += n;
            await api.mutation("bench:seedArticles", { docs });
        }
    }));
    const seedSecs = (Date.now() - t0) / 1000;
    console.log(`search: seeded ${opt.docs} documents (8 words of ${opt.vocab}, ${TAGS} tags) in ${f(seedSecs, 2)} s`);

    /* 2. queries */
    const lat = [];
    let hits = 0;
    const end = Date.now() + opt.duration * 1000;
    const t1 = nowMs();
    await Promise.all(Array.from({ length: opt.clients }, async () => {
        while (Date.now() < end) {
            const args = { text: text(), tag: `t${pick(TAGS)}` };
            const s = nowMs();
            const r = await api.query("bench:search", args);
            lat.push(nowMs() - s);
            hits += r.length;
        }
    }));
    const qSecs = (nowMs() - t1) / 1000;
    lat.sort((a, b) => a - b);
    if (hits === 0) throw new Error("no search found anything");
    console.log(`  ${opt.clients} clients, ${lat.length} searches in ${f(qSecs, 2)} s: ${f(lat.length / qSecs)} queries/s; p50=${f(pct(lat, 50), 2)} ms p99=${f(pct(lat, 99), 2)} ms (${f(hits / lat.length)} results each)`);

    /* 3. re-runs per write: live searches on t0 */
    client = new ConvexClient(`http://127.0.0.1:${opt.port}`, { unsavedChangesWarning: false });
    let updates = 0, first = 0;
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${first} of ${opt.subs} subscriptions answered in 30 s`)), 30000);
        for (let i = 0; i < opt.subs; i++) {
            let had = false;
            client.onUpdate(anyApi.bench.search, { text: words[i % words.length], tag: "t0" }, () => {
                updates++;
                if (!had && (had = true) && ++first === opt.subs) { clearTimeout(timer); resolve(); }
            });
        }
    });
    /* a write, then wait until queryReruns has not moved for 100 ms */
    async function writeAndSettle(tag) {
        const m0 = await api.metrics(), u0 = updates;
        await api.mutation("bench:addArticle", { body: body(), tag });
        const t = Date.now();
        let last = -1, still = 0;
        for (;;) {
            await sleep(20);
            const m = await api.metrics();
            if (m.queryReruns === last && ++still >= 5) break;
            if (m.queryReruns !== last) still = 0;
            last = m.queryReruns;
            if (Date.now() - t > 5000) throw new Error("re-runs did not settle in 5 s");
        }
        await sleep(20); /* the last pushes reach the client */
        return { reruns: last - m0.queryReruns, updates: updates - u0 };
    }
    await sleep(200);
    const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0);
    const match = [], other = [];
    for (let i = 0; i < opt.writes; i++) {
        match.push(await writeAndSettle("t0"));
        other.push(await writeAndSettle(`t${1 + pick(TAGS - 1)}`));
    }
    const r = {
        scenario: "search", commit: opt.commit, note: opt.note, durability: opt.durability,
        docs: opt.docs, vocabulary: opt.vocab, tags: TAGS, seed_seconds: seedSecs,
        clients: opt.clients, seconds: qSecs, queries: lat.length, queries_per_s: lat.length / qSecs,
        query_p50_ms: pct(lat, 50), query_p99_ms: pct(lat, 99), results_per_query: hits / lat.length,
        live_searches: opt.subs, writes_each: opt.writes,
        reruns_per_matching_write: sum(match, "reruns") / opt.writes,
        reruns_per_other_write: sum(other, "reruns") / opt.writes,
        updates_per_matching_write: sum(match, "updates") / opt.writes,
        updates_per_other_write: sum(other, "updates") / opt.writes,
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    console.log(`  ${opt.subs} live searches on tag t0: re-runs per write ${f(r.reruns_per_matching_write, 2)} (t0) vs ${f(r.reruns_per_other_write, 2)} (other tags); updates received per write ${f(r.updates_per_matching_write, 2)} vs ${f(r.updates_per_other_write, 2)} (${opt.writes} writes each)`);
    const verdict = r.reruns_per_other_write === 0 ? "INFO" : "MISS";
    console.log(`ROW\tsearch\t${f(r.queries_per_s)} queries/s, p99 ${f(r.query_p99_ms, 2)} ms (${opt.docs} docs); re-runs/write ${f(r.reruns_per_matching_write)} matching, ${f(r.reruns_per_other_write)} other (${opt.subs} live)\t0 re-runs for other tags\t${verdict}`);
} catch (e) {
    console.log(`ROW\tsearch\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
}
if (client) await client.close();
api.close();
process.exit(0);
