// rpcs that arrive together run in one VM entry (src/proto/actors.c "batches", 47_actors.js
// runBatch; docs/actors.md "Calls that arrive together"), each in a transaction of its own, and
// answer exactly what they would alone: a throwing call, a runaway, a promise that never settles
// and a state past the document limit fail alone between calls that succeed, and a failing
// call's ctx.db writes roll back alone; a method that may wait runs on its own, in its
// place; every call has its caller's identity; state subscribers see every call's patch, in order;
// the state survives a restart. The frames of each group go out in one TCP write (a corked
// socket), and /api/metrics' actorBatches shows they ran together.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, SyncConn, metrics, REPO } from "./helpers.mjs";
import { signHs256 } from "./idp.mjs";

let srv, dir;
const conns = [];
const SECRET = "s".repeat(40);
const ARGS = ["--timeout-ms", "300", "--jwt-secret", SECRET, "--jwt-issuer", "https://issuer.test"];

before(async () => {
    dir = tempDir("actors");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    srv = await startServer(dir, { args: ARGS });
});
after(async () => {
    for (const c of conns) c.close();
    await srv?.stop?.();
});

async function open() {
    const c = await SyncConn.open(srv.port, { path: "/api/actors" });
    conns.push(c);
    c.clientId = (await c.waitMsg("welcome")).clientId;
    return c;
}

let rid = 0;
/* Sends the rpcs [actor, actorId, method, input?] in one TCP write; their answers, in order. */
async function together(c, calls) {
    const from = c.mark, ids = [];
    c.ws._socket.cork();
    for (const [actor, actorId, method, input] of calls) {
        const id = ++rid;
        ids.push(id);
        const m = { type: "rpc", id, actor, actorId, method };
        if (input !== undefined) m.input = input;
        c.send(m);
    }
    c.ws._socket.uncork();
    const out = [];
    for (const id of ids)
        out.push(await c.waitMsg((x) => x.type === "rpc:result" && x.id === id, { from, timeout: 10000 }));
    return out;
}

async function rpc(c, actor, actorId, method, input) {
    return (await together(c, [[actor, actorId, method, input]]))[0];
}

test("rpcs sent together run in order, each alone: a throwing one changes nothing, the others' results and patches are right", async () => {
    const c = await open(), watcher = await open();
    const id = `b-${Date.now()}`;
    const from = watcher.mark;
    watcher.send({ type: "state:sub", actor: "counter", actorId: id });
    let state = (await watcher.waitMsg((x) => x.type === "state:snapshot", { from })).state;
    const before = await metrics(srv);
    const calls = [];
    for (let i = 0; i < 5; i++) calls.push(["counter", id, "increment"]);
    calls.push(["counter", id, "fail"]);
    for (let i = 0; i < 5; i++) calls.push(["counter", id, "increment"]);
    calls.push(["counter", id, "add", { amount: 10 }]);
    calls.push(["counter", id, "add", { amount: "ten" }]);
    calls.push(["counter", id, "nothing"]);
    calls.push(["counter", id, "read"]);
    const r = await together(c, calls);
    assert.deepEqual(r.slice(0, 5).map((x) => x.result), [1, 2, 3, 4, 5]);
    assert.equal(r[5].error, "counter exploded");
    assert.deepEqual(r.slice(6, 11).map((x) => x.result), [6, 7, 8, 9, 10]);
    assert.deepEqual(r[11].result, { count: 20 });
    assert.match(r[12].error, /^Validation failed for add/);
    assert.equal("result" in r[13], false);
    assert.deepEqual(r[14].result, { count: 20 });
    const after = await metrics(srv);
    assert.ok(after.actorBatches > before.actorBatches, "the calls ran together");
    assert.ok(after.actorBatchedCalls - before.actorBatchedCalls >= 2);
    // the subscriber: one patch per call that changed the state (11), none for the others
    const patches = [];
    await watcher.waitMsg((x) => {
        if (x.type === "state:patch" && x.actorId === id) patches.push(x);
        return patches.length === 11;
    }, { from });
    for (const p of patches)
        for (const op of p.patches) state = { ...state, [op.path.slice(1)]: op.value };
    assert.deepEqual(state, { count: 20 });
});

test("a failing call's ctx.db writes roll back alone; the writes of the calls around it stay", async () => {
    const c = await open();
    const id = `d-${Date.now()}`;
    // a call that writes no row (counter: its state is stored at the group's end) hands its
    // transaction to the next call (store_txn_renew); the failing call after it still rolls
    // back alone
    const r = await together(c, [
        ["chat", id, "logSync", { text: "one" }],
        ["counter", id, "increment"],
        ["chat", id, "logThenFailSync"],
        ["counter", id, "increment"],
        ["chat", id, "logThenFailSync"],
        ["chat", id, "logSync", { text: "two" }],
    ]);
    assert.deepEqual(r.map((q) => q.result ?? q.error),
                     [1, 1, "after the write", 2, "after the write", 2]);
    assert.deepEqual((await srv.value("query", "queries:logs", { room: id })).sort(), ["one", "two"]);
    assert.deepEqual((await rpc(c, "counter", id, "read")).result, { count: 2 });
});

test("a state past the document limit fails its call alone with a precise error; the state stays as before", async () => {
    const c = await open();
    const id = `g-${Date.now()}`;
    const r = await together(c, [
        ["big", id, "grow", { size: 1000 }], ["big", id, "grow", { size: 1000 }],
        ["big", id, "grow", { size: 2 << 20 }],
        ["big", id, "grow", { size: 1000 }], ["big", id, "read"],
    ]);
    assert.deepEqual([r[0].result, r[1].result], [1, 2]);
    assert.match(r[2].error, /document is too large \(\d+ bytes, the limit is 1048576\)/);
    assert.deepEqual([r[3].result, r[4].result], [3, 3]);
    assert.equal((await rpc(await open(), "big", id, "read")).result, 3);
});

test("many large rpcs arriving together run in groups of at most 1 MiB of text, every one answered", async () => {
    const cs = await Promise.all(Array.from({ length: 6 }, () => open()));
    const id = `l-${Date.now()}`;
    const pad = "x".repeat(400 * 1024); /* zod drops the unknown field */
    const before = await metrics(srv);
    const rs = await Promise.all(cs.map((c) => together(c, Array.from({ length: 4 }, () => ["counter", id, "add", { amount: 1, pad }]))));
    const counts = rs.flat().map((x) => x.result.count).sort((p, q) => p - q);
    assert.deepEqual(counts, Array.from({ length: 24 }, (_, i) => i + 1));
    const after = await metrics(srv);
    assert.ok(after.actorBatchedCalls - before.actorBatchedCalls <= 24);
    assert.equal((await rpc(cs[0], "counter", id, "read")).result.count, 24);
});

test("thousands of rpcs in one burst: past 1,024 waiting they run at once; every one answered, in order per socket", async () => {
    const cs = await Promise.all(Array.from({ length: 3 }, () => open()));
    const id = `m-${Date.now()}`;
    const rs = await Promise.all(cs.map((c) => together(c, Array.from({ length: 600 }, () => ["counter", id, "increment"]))));
    for (const r of rs) {
        const got = r.map((x) => x.result);
        assert.ok(got.every((v, i) => i === 0 || v > got[i - 1]), "increasing per socket");
    }
    assert.deepEqual(rs.flat().map((x) => x.result).sort((p, q) => p - q), Array.from({ length: 1800 }, (_, i) => i + 1));
});

test("a method that waits runs on its own in its place; the calls around it run together", async () => {
    const c = await open();
    const id = `w-${Date.now()}`;
    const r = await together(c, [
        ["counter", id, "increment"], ["counter", id, "increment"],
        ["counter", id, "waitThenAdd"],
        ["counter", id, "increment"], ["counter", id, "read"],
    ]);
    assert.deepEqual(r.map((x) => x.result), [1, 2, 102, 103, { count: 103 }]);
});

test("a plain method whose promise settles in its call is awaited in its place within the group", async () => {
    const c = await open();
    const id = `s-${Date.now()}`;
    const before = await metrics(srv);
    const r = await together(c, [
        ["counter", id, "increment"], ["counter", id, "addSoon"], ["counter", id, "increment"],
        ["counter", id, "addSoon"], ["counter", id, "read"],
    ]);
    assert.deepEqual(r.map((x) => x.result), [1, 11, 12, 22, { count: 22 }]);
    const after = await metrics(srv);
    assert.ok(after.actorBatchedCalls - before.actorBatchedCalls >= 4, JSON.stringify(after));
    assert.deepEqual((await rpc(await open(), "counter", id, "read")).result, { count: 22 });
});

test("a runaway and a promise that never settles fail alone; the calls before and after them are kept", async () => {
    const c = await open();
    const id = `r-${Date.now()}`;
    const r = await together(c, [
        ["counter", id, "increment"], ["counter", id, "increment"],
        ["counter", id, "spin"],
        ["counter", id, "increment"],
        ["counter", id, "hang"],
        ["counter", id, "increment"], ["counter", id, "read"],
    ]);
    assert.deepEqual(r.slice(0, 2).map((x) => x.result), [1, 2]);
    assert.match(r[2].error, /^actor method counter\.spin exceeded its 300 ms time limit/);
    assert.equal(r[3].result, 3);
    assert.match(r[4].error, /did not finish: it awaited a promise that never settled/);
    assert.equal(r[5].result, 4);
    assert.deepEqual(r[6].result, { count: 4 });
    // what the other calls stored is what a fresh read sees
    assert.deepEqual((await rpc(await open(), "counter", id, "read")).result, { count: 4 });
});

test("a call whose VM entry the watchdog ended after its change leaves no trace, stored or in memory", async () => {
    const c = await open();
    for (const grouped of [false, true]) {
        const id = `bs-${grouped}-${Date.now()}`;
        assert.equal((await rpc(c, "counter", id, "increment")).result, 1);
        const r = grouped
            ? await together(c, [["counter", id, "increment"], ["counter", id, "bumpThenSpin"], ["counter", id, "read"]])
            : [await rpc(c, "counter", id, "bumpThenSpin"), await rpc(c, "counter", id, "read")];
        const base = grouped ? 2 : 1;
        if (grouped) assert.equal(r[0].result, 2);
        assert.match(r[r.length - 2].error, /exceeded its 300 ms time limit/);
        assert.deepEqual(r[r.length - 1].result, { count: base });
        assert.equal((await rpc(c, "counter", id, "increment")).result, base + 1);
    }
});

test("a call that failed with a promise pending stores nothing when a later call settles it", async () => {
    const c = await open();
    for (const [k, alone] of [[0, true], [1, false]]) {
        const id = `park-${k}-${Date.now()}`;
        assert.equal((await rpc(c, "counter", id, "increment")).result, 1);
        const parked = alone ? [await rpc(c, "counter", id, "park")]
            : (await together(c, [["counter", id, "increment"], ["counter", id, "park"]])).slice(1);
        assert.match(parked[0].error, /did not finish: it awaited a promise that never settled/);
        const base = alone ? 1 : 2;
        // wake settles it: the continuation runs in wake's operation; its state change is not
        // stored and its db write is refused
        const r = alone ? [await rpc(c, "counter", id, "wake"), await rpc(c, "counter", id, "read")]
            : await together(c, [["counter", id, "wake"], ["counter", id, "increment"], ["counter", id, "read"]]);
        assert.equal(r[0].result, base + 1);
        assert.deepEqual(r[r.length - 1].result, { count: alone ? base + 1 : base + 2 });
        const saw = (await rpc(c, "counter", id, "parkedSaw")).result;
        assert.match(saw[saw.length - 1], /the mutation that made this call has already ended/);
        assert.deepEqual((await rpc(await open(), "counter", id, "read")).result, r[r.length - 1].result);
        const logs = await srv.query("queries:logs", { room: id });
        assert.deepEqual(logs.json?.value, [], logs.text);
    }
});

test("every call of a batch runs with its own caller's identity", async () => {
    const alice = await open(), bob = await open(), anon = await open();
    const now = Math.floor(Date.now() / 1000);
    for (const [c, sub] of [[alice, "alice"], [bob, "bob"]]) {
        const from = c.mark;
        c.send({ type: "auth", token: signHs256(SECRET, { iss: "https://issuer.test", sub, iat: now, exp: now + 600 }) });
        await c.waitMsg("auth:ok", { from });
    }
    const id = `p-${Date.now()}`;
    const [ra, rb, rn] = await Promise.all([
        together(alice, [["private", id, "sign"], ["private", id, "sign"]]),
        together(bob, [["private", id, "sign"], ["private", id, "sign"]]),
        together(anon, [["private", id, "sign"], ["private", id, "sign"]]),
    ]);
    assert.deepEqual(ra.map((x) => x.result), ["alice", "alice"]);
    assert.deepEqual(rb.map((x) => x.result), ["bob", "bob"]);
    assert.deepEqual(rn.map((x) => x.error), ["Unauthorized", "Unauthorized"]);
});

test("identities that change between the rpcs of one write: each call runs as its connection was when it arrived", async () => {
    const c = await open();
    const now = Math.floor(Date.now() / 1000);
    const token = (sub) => signHs256(SECRET, { iss: "https://issuer.test", sub, iat: now, exp: now + 600 });
    const id = `u-${Date.now()}`;
    const before = await metrics(srv);
    const from = c.mark;
    const rpcIds = [];
    const call = () => {
        const i = ++rid;
        rpcIds.push(i);
        c.send({ type: "rpc", id: i, actor: "private", actorId: id, method: "sign" });
    };
    c.ws._socket.cork();
    call(); call(); // anonymous
    c.send({ type: "auth", token: token("alice") });
    call(); call();
    c.send({ type: "auth", token: token("bob") });
    call();
    c.send({ type: "auth", token: null });
    call();
    c.send({ type: "auth", token: token("alice") });
    call();
    c.ws._socket.uncork();
    const r = [];
    for (const i of rpcIds) r.push(await c.waitMsg((x) => x.type === "rpc:result" && x.id === i, { from, timeout: 10000 }));
    assert.deepEqual(r.map((x) => x.result ?? x.error),
        ["Unauthorized", "Unauthorized", "alice", "alice", "bob", "Unauthorized", "alice"]);
    assert.equal(c.messages.slice(from).filter((x) => x.type === "auth:ok").length, 4);
    const after = await metrics(srv);
    assert.ok(after.actorBatchedCalls - before.actorBatchedCalls >= 2, "some of them ran together");
});

test("a subscription between rpcs of one write comes after the first ones and before the rest", async () => {
    const c = await open();
    const id = `s-${Date.now()}`;
    const from = c.mark;
    c.ws._socket.cork();
    c.send({ type: "rpc", id: "a", actor: "counter", actorId: id, method: "increment" });
    c.send({ type: "rpc", id: "b", actor: "counter", actorId: id, method: "increment" });
    c.send({ type: "state:sub", actor: "counter", actorId: id });
    c.send({ type: "rpc", id: "c", actor: "counter", actorId: id, method: "increment" });
    c.send({ type: "rpc", id: "d", actor: "counter", actorId: id, method: "increment" });
    c.ws._socket.uncork();
    const snap = await c.waitMsg((x) => x.type === "state:snapshot", { from });
    assert.deepEqual(snap.state, { count: 2 });
    const d = await c.waitMsg((x) => x.type === "rpc:result" && x.id === "d", { from });
    assert.equal(d.result, 4);
    // the calls before the subscription built no patch (nobody watched); those after did
    const patches = c.messages.slice(from).filter((x) => x.type === "state:patch").map((x) => x.patches);
    assert.deepEqual(patches, [[{ op: "replace", path: "/count", value: 3 }], [{ op: "replace", path: "/count", value: 4 }]]);
});

test("what a batch stored survives a restart, also when its VM entry ended inside a call", async () => {
    const c = await open();
    const id = `k-${Date.now()}`, ids = [`${id}-a`, `${id}-b`, `${id}-c`];
    const calls = [];
    for (let i = 0; i < 50; i++) calls.push(["counter", id, "increment"]);
    // three more instances, their calls interleaved: each save names its own document
    for (let i = 0; i < 30; i++) calls.push(["counter", ids[i % 3], "add", { amount: i }]);
    const r = await together(c, calls);
    assert.equal(r[49].result, 50);
    const want = [0, 0, 0];
    for (let i = 0; i < 30; i++) want[i % 3] += i;
    // a group whose VM entry a runaway ends: the states of the calls before it are stored once
    // the entry has ended (they are saved at the group's end, not per call)
    const x = `${id}-x`, y = `${id}-y`;
    const r2 = await together(c, [["counter", x, "increment"], ["counter", y, "add", { amount: 7 }],
                                  ["counter", x, "increment"], ["counter", y, "spin"]]);
    assert.deepEqual(r2.slice(0, 3).map((q) => q.result), [1, { count: 7 }, 2]);
    assert.match(r2[3].error, /exceeded its 300 ms time limit/);
    await srv.stop();
    srv = await startServer(dir, { args: ARGS });
    const d = await open();
    assert.deepEqual((await rpc(d, "counter", id, "read")).result, { count: 50 });
    for (let k = 0; k < 3; k++)
        assert.deepEqual((await rpc(d, "counter", ids[k], "read")).result, { count: want[k] });
    assert.deepEqual((await rpc(d, "counter", x, "read")).result, { count: 2 });
    assert.deepEqual((await rpc(d, "counter", y, "read")).result, { count: 7 });
});

test("a commit that fails takes the group's states with it: every call of it gets StoreError, the instances go back to what was stored", async () => {
    // --test-fail-commit log: a commit batch that inserted into `log` (chat.logSync) fails, as
    // on a full disk
    const d2 = tempDir("actors");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d2, "node_modules"));
    const s2 = await startServer(d2, { args: [...ARGS, "--test-fail-commit", "log"] });
    try {
        const c = await SyncConn.open(s2.port, { path: "/api/actors" });
        await c.waitMsg("welcome");
        const id = `f-${Date.now()}`;
        const from = c.mark;
        c.send({ type: "state:sub", actor: "counter", actorId: id });
        await c.waitMsg((x) => x.type === "state:snapshot", { from });
        c.send({ type: "rpc", id: "first", actor: "counter", actorId: id, method: "increment" });
        assert.equal((await c.waitMsg((x) => x.type === "rpc:result" && x.id === "first", { from })).result, 1);
        const r = await together(c, [["counter", id, "increment"], ["counter", id, "add", { amount: 5 }],
                                     ["chat", id, "logSync", { text: "lost" }], ["counter", id, "increment"]]);
        for (const q of r)
            assert.match(q.error, /^StoreError: the server could not store this change/, JSON.stringify(q));
        // the subscriber is told the truth again, and the instance reloads what was stored
        await c.waitMsg((x) => x.type === "state:snapshot" && x.actorId === id && x.state.count === 1,
                        { from });
        const after = await together(c, [["counter", id, "read"], ["counter", id, "increment"]]);
        assert.deepEqual(after.map((q) => q.result), [{ count: 1 }, 2]);
        c.close();
    } finally {
        await s2.stop();
    }
    const s3 = await startServer(d2, { args: ARGS });
    try {
        const c = await SyncConn.open(s3.port, { path: "/api/actors" });
        await c.waitMsg("welcome");
        const id = (await s3.query("queries:logs", { room: "x" })).json?.value;
        assert.deepEqual(id, []);
        c.close();
    } finally {
        await s3.stop();
    }
});

test("with a storage limit, a call whose state grows past it fails alone with StorageLimitExceeded's message; the calls around it are stored", async () => {
    // a state that grows is written in its own call (the limit's check is the write's), one
    // that does not may wait for the group's end
    const d2 = tempDir("actors");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d2, "node_modules"));
    const args = [...ARGS, "--max-tenant-storage-mb", "1"];
    let s2 = await startServer(d2, { args });
    const id = `q-${Date.now()}`;
    try {
        const c = await SyncConn.open(s2.port, { path: "/api/actors" });
        await c.waitMsg("welcome");
        const grow = (size) => ["big", id, "grow", { size }];
        const r = await together(c, [grow(1000), grow(1000), grow(1000), grow(100000), grow(400000),
                                     grow(1000), ["big", id, "read"]]);
        assert.deepEqual(r.slice(0, 4).map((q) => q.result), [1, 2, 3, 4]);
        assert.match(r[4].error, /is over its storage limit of 1 MiB \(--max-tenant-storage-mb\)/);
        assert.deepEqual(r.slice(5).map((q) => q.result), [5, 5]);
        c.close();
        await s2.stop();
        s2 = await startServer(d2, { args });
        const c2 = await SyncConn.open(s2.port, { path: "/api/actors" });
        await c2.waitMsg("welcome");
        const from = c2.mark;
        c2.send({ type: "state:sub", actor: "big", actorId: id });
        const snap = await c2.waitMsg((x) => x.type === "state:snapshot", { from });
        assert.deepEqual([snap.state.n, snap.state.blob.length], [5, 1000]);
        c2.close();
    } finally {
        await s2.stop();
    }
});
