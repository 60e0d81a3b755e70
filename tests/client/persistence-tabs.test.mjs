// The built-in persistence shared by several tabs (clients/js/src/persistence.js, "Several tabs"
// in clients/js/README.md), in Node: fake-indexeddb for IndexedDB and an in-process lock manager
// with the Web Locks semantics the adapter uses (request(name, {ifAvailable}, cb); a tab's locks
// go when the tab dies). The cache record merges every tab's results; each session's queue is its
// own record, claimed by one loading tab only when its owner is gone; a queue of another
// schemaVersion, or an empty one, is deleted; and against a real `vireo dev`
// (tests/integration/apps/sync): two dead tabs' queues — one write committed on the server before
// its answer was lost, one never sent — are replayed by one new tab (one adopted, the other by a
// client of its own in its session), each applied exactly once, and nothing is left in the store.

import "fake-indexeddb/auto";
import test from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { VireoClient, createIndexedDbPersistence, QueryStore } from "../../clients/js/src/index.js";
import { MAX_QUEUE_REPLAYERS } from "../../clients/js/src/client.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep } from "../integration/helpers.mjs";

/** Exclusive locks by name, per tab; `kill(tab)` drops a tab's locks as a closed page does. */
class Locks {
    constructor() {
        this.held = new Map(); // name -> tab
    }

    tab(id) {
        return {
            request: (name, options, cb) => {
                assert.equal(options.ifAvailable, true, "the adapter never waits for a lock");
                if (this.held.has(name)) return Promise.resolve(cb(null));
                this.held.set(name, id);
                const done = Promise.resolve(cb({ name, mode: "exclusive" }));
                done.then(() => {
                    if (this.held.get(name) === id) this.held.delete(name);
                });
                return done;
            },
        };
    }

    kill(id) {
        for (const [name, tab] of this.held) if (tab === id) this.held.delete(name);
    }
}

const state = (sessionId, queries, mutations, extra = {}) => ({
    format: 1, schemaVersion: null, savedAt: Date.now(), ident: null, sessionId, sessionSecret: `secret-${sessionId}`,
    queries, mutations, ...extra,
});
const q = (path, value, savedAt) => ({ key: QueryStore.makeKey(path, {}), path, args: {}, value, savedAt, ident: null });
const m = (body, key) => ({ path: "messages:send", args: { channel: "#t", author: "x", body }, idempotencyKey: key, ident: null, createdAt: Date.now() });

async function keysOf(dbName) {
    return await new Promise((resolve, reject) => {
        const req = indexedDB.open(dbName);
        req.onsuccess = () => {
            const r = req.result.transaction("state").objectStore("state").getAllKeys();
            r.onsuccess = () => {
                req.result.close();
                resolve(r.result.map(String).sort());
            };
            r.onerror = () => reject(r.error);
        };
        req.onerror = () => reject(req.error);
    });
}

test("tabs: the cache merges, each session's queue is its own record, claimed once its tab is gone", async () => {
    const dbName = `tabs-${Math.random()}`;
    const locks = new Locks();
    const adapter = (tab) => createIndexedDbPersistence({ dbName, key: "K", locks: locks.tab(tab) });
    const a = adapter("A");
    const b = adapter("B");
    assert.equal(await a.load({ schemaVersion: null }), undefined, "an empty store");
    await b.load({ schemaVersion: null });
    await a.save(state("sA", [q("x:one", 1, 100), q("x:two", "old", 100)], [m("a1", "ka")]));
    await b.save(state("sB", [q("x:two", "new", 200), q("x:three", 3, 150)], [m("b1", "kb")]));
    await a.save(state("sA", [q("x:one", 1, 100), q("x:two", "old", 100)], [m("a1", "ka")])); // an older view of x:two
    assert.deepEqual(await keysOf(dbName), ["K", "K#queue#sA", "K#queue#sB"]);
    assert.deepEqual([...locks.held.values()].sort(), ["A", "B"], "each tab holds its queue's lock");

    // a third tab while A and B live: the merged cache, no queue
    const c = adapter("C");
    let st = await c.load({ schemaVersion: null });
    assert.deepEqual(st.queries.map((x) => [x.path, x.value]).sort(), [["x:one", 1], ["x:three", 3], ["x:two", "new"]],
                     "per query the newer result wins, whoever saved last");
    assert.deepEqual(st.mutations, []);
    assert.equal(st.sessionId, null);
    assert.equal(await c.claimOrphan({ schemaVersion: null }), null, "live tabs' queues are theirs");

    // A dies: a loading tab adopts its queue and its session
    locks.kill("A");
    const c2 = adapter("C2");
    const d = adapter("D");
    st = await c2.load({ schemaVersion: null });
    assert.deepEqual([st.sessionId, st.sessionSecret, st.mutations.map((x) => x.args.body)], ["sA", "secret-sA", ["a1"]]);
    assert.deepEqual((await d.load({ schemaVersion: null })).mutations, [], "claimed once: not by a second loading tab");
    assert.equal(locks.held.get("vireo-queue:" + dbName + ":K:sA"), "C2");

    // B dies: C2 claims its queue for a client of its own
    locks.kill("B");
    const orphan = await c2.claimOrphan({ schemaVersion: null });
    assert.equal(await d.claimOrphan({ schemaVersion: null }), null);
    const ost = await orphan.load();
    assert.deepEqual([ost.sessionId, ost.sessionSecret, ost.mutations.map((x) => x.args.body), ost.queries],
                     ["sB", "secret-sB", ["b1"], []]);
    await orphan.save(state("sB", [], [])); // replayed: the record goes
    orphan.close();
    await sleep(0);
    assert.deepEqual(await keysOf(dbName), ["K", "K#queue#sA"]);
    assert.equal(locks.held.has(`vireo-queue:${dbName}:K:sB`), false, "released");

    // C2's client answers its queue: the record goes, the cache record stays
    await c2.save(state("sA", [q("x:one", 2, 300)], []));
    assert.deepEqual(await keysOf(dbName), ["K"]);
    assert.equal((await d.load({ schemaVersion: null })).queries.find((x) => x.path === "x:one").value, 2);
    c2.close();
    await sleep(0); // a lock goes when the holder's promise settles
    assert.deepEqual([...locks.held], []);
});

test("tabs: free queues that are empty or of another schemaVersion are deleted; the cache of another schemaVersion too", async () => {
    const dbName = `tabs-${Math.random()}`;
    const locks = new Locks();
    const adapter = (tab) => createIndexedDbPersistence({ dbName, key: "K", locks: locks.tab(tab) });
    const a = adapter("A");
    await a.load({ schemaVersion: "v1" });
    await a.save(state("s1", [q("x:one", 1, 100)], [m("old", "k1")], { schemaVersion: "v1" }));
    const b = adapter("B");
    await b.load({ schemaVersion: "v1" });
    await b.save(state("s2", [], [m("kept", "k2")], { schemaVersion: "v1" }));
    await b.save(state("s2", [], [], { schemaVersion: "v1" })); // answered: gone
    assert.deepEqual(await keysOf(dbName), ["K", "K#queue#s1"]);
    locks.kill("A");
    locks.kill("B");
    const c = adapter("C");
    const st = await c.load({ schemaVersion: "v2" });
    assert.equal(st, undefined, "nothing of v1 is handed to a v2 client");
    assert.deepEqual(await keysOf(dbName), []);
});

test("two dead tabs' queues: one new tab adopts one and replays the other in its session; each write applied once", { timeout: 40000 }, async (t) => {
    const srv = await startServer(tempDir("sync"));
    t.after(() => srv.stop());
    await assertAppLoaded(srv);
    const dbName = `tabs-live-${Math.random()}`;
    const locks = new Locks();
    const clients = [];
    t.after(() => {
        for (const c of clients) c.close();
    });
    // a tab: its own adapter and locks; `die()` ends it as a closed page does (nothing more is
    // saved, its locks go)
    const tab = (id, url, opts = {}) => {
        const idb = createIndexedDbPersistence({ dbName, key: "tasks", locks: locks.tab(id) });
        let dead = false;
        const persistence = {
            load: (o) => idb.load(o), clear: () => idb.clear(), close: () => idb.close(),
            claimOrphan: (o) => idb.claimOrphan(o),
            save: (s) => (dead ? Promise.resolve() : idb.save(s)),
        };
        const c = new VireoClient(url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000,
                                         persistence, persistDelayMs: 10, ...opts });
        clients.push(c);
        c.die = () => {
            dead = true;
            locks.kill(id);
            c.close();
        };
        return c;
    };
    const bodies = () => srv.value("query", "messages:bodies", { channel: "#tabs" });

    // tab A sends a1 to a stopped server (it commits when the server continues; A never hears)
    const a = tab("A", srv.url);
    await a.init();
    const seen = [];
    a.subscribe("messages:bodies", { channel: "#tabs" }, (v) => seen.push(v));
    await waitFor(() => seen.length === 1, { what: "A's first result" });
    srv.proc.kill("SIGSTOP");
    const lost = [a.mutation("messages:send", { channel: "#tabs", author: "a", body: "a1" })];
    await sleep(30);
    // tab B never reaches a server: b1 waits in its queue
    const b = tab("B", "http://127.0.0.1:1");
    await b.init();
    lost.push(b.mutation("messages:send", { channel: "#tabs", author: "b", body: "b1" }));
    await a.flushPersistence();
    await b.flushPersistence();
    const sessions = [a.sessionId, b.sessionId];
    a.die();
    b.die();
    srv.proc.kill("SIGCONT");
    await Promise.allSettled(lost);
    await waitFor(async () => (await bodies()).includes("a1"), { what: "a1 committed while its tab was gone" });

    // one new tab
    const results = [];
    const c = tab("C", srv.url, { onOfflineMutationResult: (r) => results.push(r) });
    await c.init();
    assert.ok(sessions.includes(c.sessionId), "C resumed one dead tab's session");
    await waitFor(() => results.length === 2, { what: "both replays", timeout: 15000 });
    assert.deepEqual(results.map((r) => [r.args.body, typeof r.value, r.error?.message]).sort(),
                     [["a1", "string", undefined], ["b1", "string", undefined]]);
    await waitFor(() => c._drainers.size === 0 && c.pendingMutations().length === 0, { what: "the replays done" });
    await sleep(100);
    assert.deepEqual((await bodies()).sort(), ["a1", "b1"], "a1, committed before its answer was lost, is not applied again");
    await c.flushPersistence();
    assert.deepEqual((await keysOf(dbName)).filter((k) => k.includes("#queue#")), [], "no queue left");
    assert.deepEqual([...locks.held.values()], ["C"], "the replaying client let go of its lock; C holds its session's");
});

test("many dead tabs' queues: replayed by at most MAX_QUEUE_REPLAYERS clients at once, each write once", { timeout: 40000 }, async (t) => {
    const srv = await startServer(tempDir("sync"));
    t.after(() => srv.stop());
    await assertAppLoaded(srv);
    const dbName = `tabs-many-${Math.random()}`;
    const locks = new Locks();
    const make = (id, url, opts = {}) => new VireoClient(url, {
        WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000, persistDelayMs: 10,
        persistence: createIndexedDbPersistence({ dbName, key: "many", locks: locks.tab(id) }), ...opts,
    });
    const n = 7;
    // n tabs open at once that never reach the server, each with a write queued; then they die
    // (no close(): a page that goes away keeps its queue)
    const tabs = [];
    for (let i = 0; i < n; i++) {
        const c = make(`T${i}`, "http://127.0.0.1:1");
        await c.init(); // all alive: none adopts another's queue
        tabs.push(c);
    }
    for (const [i, c] of tabs.entries()) {
        c.mutation("messages:send", { channel: "#many", author: "t", body: `w${i}` }).catch(() => {});
        await c.flushPersistence();
    }
    for (const [i, c] of tabs.entries()) {
        c._conn.close();
        locks.kill(`T${i}`);
    }
    assert.equal((await keysOf(dbName)).filter((k) => k.includes("#queue#")).length, n, "one queue per tab");
    const results = [];
    const c = make("C", srv.url, { onOfflineMutationResult: (r) => results.push(r) });
    t.after(() => c.close());
    // the most replaying clients alive at once, counted at each start (a poll could miss the peak;
    // and whether the peak reaches the bound depends on how soon the first replays end)
    let most = 0;
    const drainers = c._drainers, add = drainers.add.bind(drainers);
    drainers.add = (e) => (add(e), (most = Math.max(most, drainers.size)), drainers);
    await c.init();
    await waitFor(() => results.length === n, { what: `${n} replays`, timeout: 20000 });
    assert.ok(most <= MAX_QUEUE_REPLAYERS && most >= 2,
              `replaying clients at once: ${most} (${n - 1} queues to replay, at most ${MAX_QUEUE_REPLAYERS})`);
    assert.deepEqual(results.filter((r) => r.error), []);
    const bodies = await srv.value("query", "messages:bodies", { channel: "#many" });
    assert.deepEqual([...bodies].sort(), Array.from({ length: n }, (_, i) => `w${i}`).sort());
    await waitFor(async () => (await keysOf(dbName)).every((k) => !k.includes("#queue#")), { what: "no queue left" });
});
