// Full-text search on apps/search (withSearchIndex over SQLite FTS5): relevance order then
// newest, the last term as a prefix, filter fields, diacritics folded, the 1,024-result cap,
// patch/replace/delete kept in step, live updates on a matching write and no re-run on a write
// with other filter values (counted on /api/metrics), backfill when a schema change adds a
// search index, and every bad usage with its error. Each test uses its own channel.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    startServer, tempDir, guardServer, guardedTest, assertAppLoaded, sleep, waitFor,
    SyncConn, modOf, metrics, metricsDelta,
} from "./helpers.mjs";

let srv, dir;
const conns = [];
const start = async () => {
    dir = tempDir("search");
    srv = await startServer(dir);
};

before(async () => {
    await start();
    await assertAppLoaded(srv);
});
guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

afterEach(() => {
    for (const c of conns.splice(0)) c.close();
});
after(async () => {
    if (srv) await srv.stop();
});

async function open() {
    const c = await SyncConn.open(srv.port);
    conns.push(c);
    await c.connect();
    return c;
}

const add = (channel, body, lang) =>
    srv.value("mutation", "articles:add", lang === undefined ? { channel, body } : { channel, body, lang });
const search = (args) => srv.value("query", "articles:search", args);
const settle = () => sleep(80);

test("results come by relevance (BM25), ties newest first", async () => {
    const ch = "rel";
    await add(ch, "apples and pears");
    await add(ch, "apple apple apple");            // "apples" is the prefix; "apple" is shorter
    await add(ch, "apples apples apples apples");
    await add(ch, "bananas only");
    await add(ch, "apples and pears");              // a tie with the first, newer
    const got = await search({ text: "apples", channel: ch });
    assert.equal(got[0], "apples apples apples apples");
    assert.deepEqual(got.slice(1, 3), ["apples and pears", "apples and pears"]);
    assert.ok(!got.includes("bananas only"));
    assert.ok(!got.includes("apple apple apple"));
    // equal relevance: newest first (a distinct body each to see the order)
    await add("tie2", "kiwi one");
    await add("tie2", "kiwi two");
    await add("tie2", "kiwi six");
    assert.deepEqual(await search({ text: "kiwi", channel: "tie2" }), ["kiwi six", "kiwi two", "kiwi one"]);
});

test("any term matches; only the last term is a prefix", async () => {
    const ch = "prefix";
    await add(ch, "typeahead search box");
    await add(ch, "typewriter ribbons");
    await add(ch, "nothing relevant");
    assert.deepEqual((await search({ text: "type", channel: ch })).sort(), ["typeahead search box", "typewriter ribbons"]);
    assert.deepEqual(await search({ text: "typea", channel: ch }), ["typeahead search box"]);
    // "type" is not the last term: whole word only, so only "ribbons" (a prefix of nothing) and
    // "rib" (prefix) decide
    assert.deepEqual(await search({ text: "type rib", channel: ch }), ["typewriter ribbons"]);
    assert.deepEqual(await search({ text: "relevant box", channel: ch }).then((r) => r.sort()), ["nothing relevant", "typeahead search box"]);
    assert.deepEqual(await search({ text: "   ", channel: ch }), []);
    assert.deepEqual(await search({ text: "", channel: ch }), []);
    // FTS5 syntax in the text is plain text
    assert.deepEqual(await search({ text: 'NEAR("x" AND) * -', channel: ch }), []);
    assert.deepEqual(await search({ text: '"typewriter"', channel: ch }), ["typewriter ribbons"]);
});

test("filter fields: eq on one or both, eq undefined; filter(), take() and first() after withSearchIndex", async () => {
    await add("f-a", "shared words here", "en");
    await add("f-a", "shared words aussi", "fr");
    await add("f-b", "shared words there", "en");
    await add("f-a", "shared words nolang");
    assert.deepEqual((await search({ text: "shared", channel: "f-a" })).length, 3);
    assert.deepEqual(await search({ text: "shared", channel: "f-a", lang: "fr" }), ["shared words aussi"]);
    assert.deepEqual(await search({ text: "shared", channel: "f-b", lang: "en" }), ["shared words there"]);
    assert.deepEqual(await search({ text: "shared", channel: "f-b", lang: "fr" }), []);
    assert.deepEqual(await search({ text: "shared", channel: "f-c" }), []);
    assert.deepEqual(await search({ text: "shared", channel: "f-a", noLang: true }), ["shared words nolang"]);
    // a filter() after withSearchIndex, and take()/first()
    assert.deepEqual((await search({ text: "shared", channel: "f-a", minLen: 18 })).length, 2);
    assert.deepEqual((await search({ text: "shared", channel: "f-a", take: 2 })).length, 2);
    assert.equal(typeof (await srv.value("query", "articles:first", { text: "aussi" })), "string");
    assert.equal(await srv.value("query", "articles:first", { text: "qwertyuiop" }), null);
});

test("Unicode tokenizing with diacritics folded, case folded", async () => {
    const ch = "diacritics";
    await add(ch, "Crème brûlée à la française");
    await add(ch, "Ångström über naïve café");
    await add(ch, "Привет мир");
    assert.deepEqual(await search({ text: "creme", channel: ch }), ["Crème brûlée à la française"]);
    assert.deepEqual(await search({ text: "BRULEE", channel: ch }), ["Crème brûlée à la française"]);
    assert.deepEqual(await search({ text: "francais", channel: ch }), ["Crème brûlée à la française"]);
    assert.deepEqual(await search({ text: "angstrom naive", channel: ch }), ["Ångström über naïve café"]);
    assert.deepEqual(await search({ text: "cafe", channel: ch }), ["Ångström über naïve café"]);
    assert.deepEqual(await search({ text: "привет", channel: ch }), ["Привет мир"]);
    assert.deepEqual(await search({ text: "ми", channel: ch }), ["Привет мир"]);
});

test("at most 1,024 results", { timeout: 30000 }, async () => {
    const ch = "cap";
    await srv.value("mutation", "articles:addMany", { channel: ch, body: "capword", n: 600 });
    await srv.value("mutation", "articles:addMany", { channel: ch, body: "capword", n: 600 });
    const got = await search({ text: "capword", channel: ch });
    assert.equal(got.length, 1024);
    assert.equal(await srv.value("query", "articles:count", { text: "capword", channel: ch }), 1024);
    assert.equal((await search({ text: "capword", channel: ch, take: 5 })).length, 5);
});

test("patch, replace and delete keep the index in step", async () => {
    const ch = "writes";
    const id = await add(ch, "original wording");
    assert.deepEqual(await search({ text: "original", channel: ch }), ["original wording"]);
    await srv.value("mutation", "articles:setBody", { id, body: "changed wording" });
    assert.deepEqual(await search({ text: "original", channel: ch }), []);
    assert.deepEqual(await search({ text: "changed", channel: ch }), ["changed wording"]);
    await srv.value("mutation", "articles:setChannel", { id, channel: ch + "-moved" });
    assert.deepEqual(await search({ text: "changed", channel: ch }), []);
    assert.deepEqual(await search({ text: "changed", channel: ch + "-moved" }), ["changed wording"]);
    await srv.value("mutation", "articles:replace", { id, channel: ch, body: "replaced wording" });
    assert.deepEqual(await search({ text: "wording", channel: ch }), ["replaced wording"]);
    await srv.value("mutation", "articles:remove", { id });
    assert.deepEqual(await search({ text: "wording", channel: ch }), []);
    assert.deepEqual(await search({ text: "wording", channel: ch + "-moved" }), []);
});

test("live: a matching write re-runs the search; a write with other filter values does not", { timeout: 15000 }, async () => {
    const c = await open();
    const t0 = await c.subscribe(1, "articles:search", { text: "live", channel: "live-a" });
    assert.deepEqual(modOf(t0, 1).value, []);
    await settle();

    // other filter values (another channel), even with matching words: nothing re-runs
    let m0 = await metrics(srv);
    let from = c.mark;
    await add("live-b", "live words elsewhere");
    await add("live-b", "more live words elsewhere");
    await settle();
    let d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.storeVersion, 2, "the writes committed");
    assert.equal(d.queryReruns, 0, `a write with other filter values re-ran it: ${JSON.stringify(d)}`);
    assert.equal(d.transitions, 0, JSON.stringify(d));
    assert.equal(c.mark, from);

    // a write with matching filter values re-runs it once and sends the new result
    m0 = await metrics(srv);
    from = c.mark;
    const id = await add("live-a", "live update arrives");
    const t = await c.waitMsg("transition", { from });
    assert.deepEqual(modOf(t, 1).value, ["live update arrives"]);
    await settle();
    d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, JSON.stringify(d));

    // patching its text re-runs it (same filter values); moving it out of the channel too
    from = c.mark;
    await srv.value("mutation", "articles:setBody", { id, body: "live text edited" });
    const t2 = await c.waitMsg("transition", { from });
    assert.deepEqual(modOf(t2, 1).value, ["live text edited"]);
    from = c.mark;
    await srv.value("mutation", "articles:setChannel", { id, channel: "live-b" });
    const t3 = await c.waitMsg("transition", { from });
    assert.deepEqual(modOf(t3, 1).value, []);

    // a write to the channel whose words do not match re-runs it (coarser than an index range:
    // documented) but sends nothing, the result being unchanged
    m0 = await metrics(srv);
    from = c.mark;
    await add("live-a", "unrelated words");
    await settle();
    d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, JSON.stringify(d));
    assert.equal(d.transitions, 0, JSON.stringify(d));
});

test("live with two filter fields: the read covers both values", { timeout: 15000 }, async () => {
    const c = await open();
    await c.subscribe(1, "articles:search", { text: "duo", channel: "duo", lang: "en" });
    await settle();
    let m0 = await metrics(srv);
    await add("duo", "duo words", "fr");
    await add("duo", "duo words");
    await settle();
    let d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 0, JSON.stringify(d));
    m0 = await metrics(srv);
    const from = c.mark;
    await add("duo", "duo words", "en");
    const t = await c.waitMsg("transition", { from });
    assert.deepEqual(modOf(t, 1).value, ["duo words"]);
    await settle();
    d = metricsDelta(m0, await metrics(srv));
    assert.equal(d.queryReruns, 1, JSON.stringify(d));
});

test("bad usage is a precise error and the server keeps serving", async () => {
    const bad = async (which) => {
        const r = await srv.query("articles:bad", { which });
        assert.equal(r.json?.status, "error", r.text);
        // every mistake, whether the prelude or the store finds it, is the caller's: 400
        assert.equal(r.json.errorCode, "InvalidQuery", r.text);
        assert.equal(r.status, 400, r.text);
        return r.json.errorMessage;
    };
    assert.match(await bad("unknownIndex"), /search index `nope` not found on table `articles`/);
    assert.match(await bad("regularIndex"), /search index `by_channel` not found on table `articles`/);
    assert.match(await bad("notSearchField"), /search index `search_body` of `articles` searches `body`, not `channel`/);
    assert.match(await bad("notFilterField"), /`body` is not a filter field of search index `search_body`/);
    assert.match(await bad("eqTwice"), /filter field `channel` is compared twice/);
    assert.match(await bad("noSearch"), /must call q\.search\(field, text\)/);
    assert.match(await bad("eqFirst"), /call search\(\) before eq\(\)/);
    assert.equal(await bad("order"), "Search queries must always be in relevance order. Can not set order manually.");
    assert.match(await bad("orderFirst"), /withSearchIndex\(\) must come before order\(\) and filter\(\)/);
    assert.equal(await bad("noText"), "Must provide arg 2 `query` to `search`");
    assert.equal(await bad("noFilterFn"), "Must provide arg 2 `searchFilter` to `withSearchIndex`");
    assert.match(await bad("textNotString"), /search\(\): expected the search text, got number/);
    assert.match(await bad("badValue"), /withSearchIndex value for `channel`: .* is not a supported value/);
    assert.match(await bad("searchTwice"), /search\(\) may only be called once/);
    assert.match(await bad("tooManyTerms"), /17 terms; at most 16/);
    assert.match(await bad("withIndexAfter"), /withIndex\(\) may only be called once/);
    assert.deepEqual(await search({ text: "zzz-nothing" }), []);
});

test("adding a search index to an existing table backfills it; a bad one changes nothing", { timeout: 30000 }, async () => {
    await srv.value("mutation", "notes:add", { text: "first note about otters" });
    await srv.value("mutation", "notes:add", { text: "second note about beavers" });
    const r0 = await srv.query("notes:search", { text: "otters" });
    assert.match(r0.json?.errorMessage ?? "", /search index `search_text` not found on table `notes`/);
    const schemaFile = path.join(dir, "vireo/schema.ts");
    const schema = fs.readFileSync(schemaFile, "utf8");
    // a search index on a field path that is not valid: the load fails, nothing changes
    fs.writeFileSync(schemaFile, schema.replace(
        "notes: defineTable({ text: v.string() }),",
        'notes: defineTable({ text: v.string() }).searchIndex("search_text", { searchField: "_bad" }),'));
    await srv.waitStderr(/invalid search field `_bad`/, { timeout: 10000 });
    assert.match((await srv.query("notes:search", { text: "otters" })).json?.errorMessage ?? "", /not found/);
    assert.deepEqual(await search({ text: "shared", channel: "f-b", lang: "en" }), ["shared words there"]);
    // the real one; each reload is awaited on its log line, so a failed one shows its error
    let from = srv.stderr.length;
    fs.writeFileSync(schemaFile, schema.replace(
        "notes: defineTable({ text: v.string() }),",
        'notes: defineTable({ text: v.string() }).searchIndex("search_text", { searchField: "text" }),'));
    await srv.waitStderr(/loaded \d+ functions|previous version keeps running/, { timeout: 20000, from });
    assert.doesNotMatch(srv.stderr.slice(from), /previous version keeps running/);
    assert.deepEqual(await srv.value("query", "notes:search", { text: "otters" }), ["first note about otters"]);
    assert.deepEqual(await srv.value("query", "notes:search", { text: "note" }), ["second note about beavers", "first note about otters"]);
    await srv.value("mutation", "notes:add", { text: "third note, otters again" });
    assert.equal((await srv.value("query", "notes:search", { text: "otters" })).length, 2);
    // the other search index kept its rows
    assert.deepEqual(await search({ text: "shared", channel: "f-b", lang: "en" }), ["shared words there"]);
    // restarting keeps both (the catalog reloads search indexes from the database)
    await srv.stop();
    srv = await startServer(dir);
    assert.equal((await srv.value("query", "notes:search", { text: "otters" })).length, 2);
    assert.deepEqual(await search({ text: "shared", channel: "f-b", lang: "en" }), ["shared words there"]);
    // removing it from the schema drops it
    from = srv.stderr.length;
    fs.writeFileSync(schemaFile, schema);
    await srv.waitStderr(/loaded \d+ functions|previous version keeps running/, { timeout: 20000, from });
    assert.doesNotMatch(srv.stderr.slice(from), /previous version keeps running/);
    const gone = await srv.query("notes:search", { text: "otters" });
    assert.match(gone.json?.errorMessage ?? "", /search index `search_text` not found on table `notes`/,
        `${gone.text}\nvireo stderr tail:\n${srv.stderr.slice(-1500)}`);
});

// The FTS5 tables of the shard's search indexes, from another process while the server is
// stopped (a running server's database is locked against other processes, tested in
// hardening-newcomer).
async function ftsTables(db) {
    const { execFileSync } = await import("node:child_process");
    const names = execFileSync("sqlite3", [db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'f[0-9]*' AND sql LIKE '%fts5%'"]).toString().trim().split("\n");
    assert.ok(names.length >= 1 && names[0], `FTS tables: ${names}`);
    return { names, sql: (q) => execFileSync("sqlite3", [db, q]).toString() };
}

test("a storage failure under a search is a 500 StoreError, not the caller's InvalidQuery", { timeout: 30000 }, async () => {
    const own = tempDir("search");
    const first = await startServer(own);
    try {
        await first.value("mutation", "articles:add", { channel: "sf", body: "storage failure words" });
        assert.deepEqual(await first.value("query", "articles:search", { text: "storage", channel: "sf" }), ["storage failure words"]);
    } finally {
        await first.stop();
    }
    // the index loses its term segments (rows of a shadow table), not a table: the start finds
    // the index whole, and a search reading it finds it corrupt
    const fts = await ftsTables(path.join(own, ".vireo/data/shard-0.db"));
    for (const n of fts.names) fts.sql(`DELETE FROM ${n}_data WHERE id NOT IN (1, 10)`);
    const s = await startServer(own);
    try {
        const r = await s.query("articles:search", { text: "storage", channel: "sf" });
        assert.equal(r.status, 500, r.text);
        assert.equal(r.json.errorCode, "StoreError", r.text);
        assert.match(r.json.errorMessage, /sqlite: search.*malformed/);
        // still serving, and writing: FTS5 adds a new segment beside the lost ones
        assert.equal((await s.query("articles:bad", { which: "unknownIndex" })).status, 400);
        assert.equal((await s.call("mutation", "articles:add", { channel: "sf2", body: "x" })).status, 200);
    } finally {
        await s.stop();
    }
});

test("a search index whose FTS5 tables were dropped is rebuilt from the documents at start", { timeout: 30000 }, async () => {
    const own = tempDir("search");
    const first = await startServer(own);
    try {
        await first.value("mutation", "articles:add", { channel: "rb", body: "rebuilt index words" });
        await first.value("mutation", "articles:add", { channel: "rb", body: "more rebuilt words" });
    } finally {
        await first.stop();
    }
    // without its configuration, FTS5 can neither open nor drop the table (the start failed);
    // without its term index, every search and every write to the table failed
    const fts = await ftsTables(path.join(own, ".vireo/data/shard-0.db"));
    for (const n of fts.names) fts.sql(`DROP TABLE ${n}_config; DROP TABLE ${n}_idx`);
    const s = await startServer(own);
    try {
        assert.match(s.stderr, /rebuilding search index `[^`]+` of `articles` from its documents/);
        assert.match(s.stderr, /FTS5 cannot drop its damaged table/);
        assert.deepEqual((await s.value("query", "articles:search", { text: "rebuilt", channel: "rb" })).sort(),
            ["more rebuilt words", "rebuilt index words"]);
        await s.value("mutation", "articles:add", { channel: "rb", body: "rebuilt after the start" });
        assert.equal((await s.value("query", "articles:search", { text: "rebuilt", channel: "rb" })).length, 3);
    } finally {
        await s.stop();
    }
    // the next start finds nothing to rebuild, and the database is sound
    assert.equal(fts.sql("PRAGMA integrity_check").trim(), "ok");
    const again = await startServer(own);
    try {
        assert.doesNotMatch(again.stderr, /rebuilding search index/);
        assert.equal((await again.value("query", "articles:search", { text: "rebuilt", channel: "rb" })).length, 3);
    } finally {
        await again.stop();
    }
});
