// bench/paginate.mjs: the `paginate` scenario, against a running Vireo on bench/app.
//  1. seeding: `--rows` documents (default 500,000: 1,000,000 took 79 s to seed on the 2-core
//     bench machine; `--rows 1000000` for the table) into `rows`, 1,000 per `bench:seedRows`
//     mutation, `--seeders` (default 2) mutations in flight; reports the time and rows/s;
//  2. walking: `--walkers` (default 4) HTTP clients each walk the whole table in 100-row pages
//     (`bench:page`, `.paginate({numItems: --items, cursor})`), one page after another with the
//     previous page's continueCursor, starting over at the end, for `--duration` s (default 10);
//     pages/s and per-page latency p50/p99 (one `POST /api/query` each). Every page is checked:
//     `--items` rows until the last, and each walk sees every row exactly once.
// Usage: node bench/paginate.mjs --port P --out FILE [--rows N] [--items N] [--walkers N]
//        [--seeders N] [--duration S] [--commit C] [--note S] [--durability D]. Prints a summary
// and one ROW line (bench/run.sh's table). Bounded: seeding gives up after 300 s.
import fs from "node:fs";
import { parseOptions, httpApi, pct, nowMs } from "./http-api.mjs";

const opt = parseOptions("paginate", { port: 0, out: "", rows: 500000, items: 100, walkers: 4,
    seeders: 2, duration: 10, commit: "unknown", note: "", durability: "full" });
const api = httpApi(opt.port);
const f = (x, d = 1) => Number(x).toFixed(d);

try {
    /* 1. seeding, 1,000 rows per mutation */
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: opt.seeders }, async () => {
        while (next < opt.rows) {
            if (Date.now() - t0 > 300000) throw new Error(`seeding: ${next} of ${opt.rows} rows after 300 s`);
            const start = next, n = Math.min(1000, opt.rows - start);
            next += n;
            await api.mutation("bench:seedRows", { start, n });
        }
    }));
    const seedSecs = (Date.now() - t0) / 1000;
    console.log(`paginate: seeded ${opt.rows} rows in ${f(seedSecs, 2)} s (${f(opt.rows / seedSecs, 0)} rows/s)`);

    /* 2. walkers, each one page at a time */
    const lat = [];
    let pages = 0, walks = 0;
    const end = Date.now() + opt.duration * 1000;
    const t1 = nowMs();
    await Promise.all(Array.from({ length: opt.walkers }, async () => {
        let cursor = null, count = 0, seen = new Uint8Array(opt.rows);
        while (Date.now() < end) {
            const s = nowMs();
            const r = await api.query("bench:page", { paginationOpts: { numItems: opt.items, cursor } });
            lat.push(nowMs() - s);
            pages++;
            for (const d of r.page) {
                if (seen[d.n]) throw new Error(`row ${d.n} came twice in one walk`);
                seen[d.n] = 1;
                count++;
            }
            if (r.isDone) {
                if (count !== opt.rows) throw new Error(`a walk ended after ${count} of ${opt.rows} rows`);
                cursor = null, count = 0, seen.fill(0), walks++;
            } else {
                if (r.page.length !== opt.items) throw new Error(`a page of ${r.page.length} rows before the end`);
                cursor = r.continueCursor;
            }
        }
    }));
    const secs = (nowMs() - t1) / 1000;
    lat.sort((a, b) => a - b);
    const r = {
        scenario: "paginate", commit: opt.commit, note: opt.note, durability: opt.durability,
        rows: opt.rows, seed_seconds: seedSecs, seed_rows_per_s: opt.rows / seedSecs,
        items_per_page: opt.items, walkers: opt.walkers, seconds: secs, pages, full_walks: walks,
        pages_per_s: pages / secs, page_p50_ms: pct(lat, 50), page_p99_ms: pct(lat, 99),
        page_max_ms: lat[lat.length - 1],
    };
    if (opt.out) fs.writeFileSync(opt.out, JSON.stringify(r, null, 2) + "\n");
    console.log(`  ${opt.walkers} walkers, ${opt.items}-row pages over ${opt.rows} rows for ${f(secs, 2)} s: ${pages} pages (${walks} full walks)`);
    console.log(`  ${f(r.pages_per_s)} pages/s; latency p50=${f(r.page_p50_ms, 2)} ms p99=${f(r.page_p99_ms, 2)} ms max=${f(r.page_max_ms, 2)} ms`);
    console.log(`ROW\tpaginate\t${f(r.pages_per_s)} pages/s, p99 ${f(r.page_p99_ms, 2)} ms (${opt.rows} rows, seeded in ${f(seedSecs)} s)\tno target (measured)\tINFO`);
} catch (e) {
    console.log(`ROW\tpaginate\t${String(e.message || e).slice(0, 100)}\t-\tERROR`);
}
api.close();
process.exit(0);
