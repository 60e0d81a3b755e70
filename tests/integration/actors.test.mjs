// Live actors over Zocket's wire protocol on /api/actors (issue 12; docs/actors.md), with raw
// WebSockets against apps/actors (schemas in Zod 4, Valibot and v.*): every message type, Zocket's
// error texts, the per-call order (patch, events, rpc:result), Immer's patch shapes checked
// against an applier that treats `add` at an index as set (as Zocket's client does), lifecycle
// hooks, middleware, targeted events, ctx.db in the method's transaction, queries reading actor
// state and re-run when it changes, actor-to-actor calls with a cycle, durability across a
// restart and a kill -9 under load, bad frames and limits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, SyncConn, request, sleep, waitFor, REPO } from "./helpers.mjs";
import { signHs256 } from "./idp.mjs";

let srv, dir;
const conns = [];

function appDir() {
    const d = tempDir("actors");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d, "node_modules"));
    return d;
}

before(async () => {
    dir = appDir();
    srv = await startServer(dir, { args: ["--actor-idle-ms", "400"] });
});
after(async () => {
    for (const c of conns) c.close();
    await srv?.stop?.();
});

async function open(s = srv) {
    const c = await SyncConn.open(s.port, { path: "/api/actors" });
    conns.push(c);
    const w = await c.waitMsg("welcome");
    c.clientId = w.clientId;
    return c;
}

let rid = 0;
async function rpc(c, actor, actorId, method, input, id = ++rid) {
    const m = { type: "rpc", id, actor, actorId, method };
    if (input !== undefined) m.input = input;
    const from = c.mark;
    c.send(m);
    return c.waitMsg((x) => x.type === "rpc:result" && JSON.stringify(x.id) === JSON.stringify(id), { from });
}

async function stateSub(c, actor, actorId) {
    const from = c.mark;
    c.send({ type: "state:sub", actor, actorId });
    return (await c.waitMsg((x) => x.type === "state:snapshot" && x.actor === actor && x.actorId === actorId, { from })).state;
}

/* Zocket's client applier: `add` at an array index sets it. */
function applyPatches(state, patches) {
    const s = structuredClone(state);
    for (const p of patches) {
        const parts = p.path.split("/").slice(1).map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
        let o = s;
        for (const k of parts.slice(0, -1)) o = o[k];
        const last = parts[parts.length - 1];
        if (p.op === "remove") {
            if (Array.isArray(o)) o.splice(Number(last), 1);
            else delete o[last];
        } else {
            o[Array.isArray(o) ? Number(last) : last] = p.value;
        }
    }
    return s;
}

test("welcome, rpc results echo the id verbatim; no result when the method returns nothing", async () => {
    const c = await open();
    assert.match(c.clientId, /^c[0-9a-f]{16}$/);
    const id = `cnt-${Date.now()}`;
    assert.deepEqual(await rpc(c, "counter", id, "increment", undefined, 7), { type: "rpc:result", id: 7, result: 1 });
    assert.deepEqual(await rpc(c, "counter", id, "add", { amount: 5 }, "s"), { type: "rpc:result", id: "s", result: { count: 6 } });
    const objId = { a: [1, "x"] };
    assert.deepEqual((await rpc(c, "counter", id, "increment", undefined, objId)).id, objId);
    const none = await rpc(c, "counter", id, "nothing");
    assert.equal("result" in none, false);
    assert.equal("error" in none, false);
    assert.deepEqual(await rpc(c, "counter", id, "returnNull", undefined, 99), { type: "rpc:result", id: 99, result: null });
});

test("Zocket's error texts: unknown actor, unknown method, validation (Zod, Valibot, v.*)", async () => {
    const c = await open();
    assert.equal((await rpc(c, "nope", "x", "m")).error, "Unknown actor: nope");
    assert.equal((await rpc(c, "counter", "e1", "nope")).error, "Unknown method: nope");
    const z = await rpc(c, "counter", "e1", "add", { amount: "five" });
    assert.match(z.error, /^Validation failed for add: \[/);
    const issues = JSON.parse(z.error.slice("Validation failed for add: ".length));
    assert.deepEqual(issues[0].path, ["amount"]);
    assert.match((await rpc(c, "valid", "e1", "rename", { name: "x" })).error, /^Validation failed for rename: \[.*Invalid length/);
    assert.equal((await rpc(c, "valid", "e1", "setV", { n: "x" })).error,
        'Validation failed for setV: [{"message":"value `n`: expected number, got string"}]');
    assert.equal((await rpc(c, "valid", "e1", "setV", { n: 3 })).error, undefined);
    assert.equal((await stateSub(c, "valid", "e1")).name, "n3");
    assert.equal((await stateSub(c, "valid", "fresh")).name, "anon", "Valibot's default");
});

test("a thrown value that is not an Error reaches the caller as Zocket words it; a `__proto__` key is refused clearly", async () => {
    const c = await open();
    const id = `thrown-${Date.now()}`;
    assert.equal((await rpc(c, "counter", id, "throwString")).error, "Unknown error");
    assert.equal((await rpc(c, "counter", id, "throwObject")).error, "conflict");
    assert.equal((await rpc(c, "counter", id, "throwUndefined")).error, "Unknown error");
    assert.match((await rpc(c, "counter", id, "protoKey")).error, /^a state's object cannot be given a key `__proto__`/);
    assert.equal((await rpc(c, "counter", id, "cycle")).error, "Invalid actor state: it holds an object inside itself (a cycle), which JSON cannot hold (actor state is stored and sent as JSON)");
    assert.equal((await rpc(c, "counter", id, "increment")).result, 1, "nothing of the failed calls stayed");
});

test("a method that throws changes nothing (sync and async), and its ctx.db writes roll back", async () => {
    const c = await open();
    const id = `t-${Date.now()}`;
    await rpc(c, "counter", id, "add", { amount: 3 });
    assert.equal((await rpc(c, "counter", id, "fail")).error, "counter exploded");
    assert.equal((await rpc(c, "counter", id, "failAsync")).error, "async boom");
    assert.deepEqual((await rpc(c, "counter", id, "read")).result, { count: 3 });
    assert.equal((await rpc(c, "chat", id, "logThenFail")).error, "after the write");
    assert.deepEqual(await srv.value("query", "queries:logs", { room: id }), []);
    await rpc(c, "chat", id, "logToDb", { text: "kept" });
    assert.deepEqual(await srv.value("query", "queries:logs", { room: id }), ["kept"]);
});

test("a value JSON does not hold fails the call with InvalidState and changes nothing; a Date is kept as JSON writes it", async () => {
    const c = await open();
    const quietId = `jq-${Date.now()}`, subId = `js-${Date.now()}`;
    const errors = {
        map: "Invalid actor state: state.m is a Map, which JSON does not hold (actor state is stored and sent as JSON)",
        setInPush: "Invalid actor state: state.list[1].s is a Set, which JSON does not hold (actor state is stored and sent as JSON)",
        deepFn: "Invalid actor state: state.deep.inner.x is a function, which JSON does not hold (actor state is stored and sent as JSON)",
        nan: "Invalid actor state: state.deep.inner.x.y[1] is NaN, which JSON stores as null (actor state is stored and sent as JSON)",
        big: "Invalid actor state: state.n is a BigInt, which JSON does not hold (actor state is stored and sent as JSON)",
        undefInArray: "Invalid actor state: state.list[1] is undefined in an array, which JSON stores as null (actor state is stored and sent as JSON)",
        grow: "Invalid actor state: state.list[1] is an empty array slot, which JSON stores as null (actor state is stored and sent as JSON)",
        pastTheEnd: "Invalid actor state: state.list[1] is an empty array slot, which JSON stores as null (actor state is stored and sent as JSON)",
        moved: "Invalid actor state: state.list[0].bad is a Map, which JSON does not hold (actor state is stored and sent as JSON)",
        afterAwait: "Invalid actor state: state.m is a WeakMap, which JSON does not hold (actor state is stored and sent as JSON)",
        dbThenBad: "Invalid actor state: state[\"we/ird\"] is a Uint8Array, which JSON does not hold (actor state is stored and sent as JSON)",
    };
    // without a state subscriber (the draft builds no patches) and with one (it does)
    for (const id of [quietId, subId]) {
        if (id === subId) await stateSub(c, "loose", id);
        const before = (await rpc(c, "loose", id, "read")).result;
        assert.deepEqual(before, { n: 0, list: [{ k: 1 }], deep: { inner: { x: 1 } }, keys: ["n", "list", "deep"] });
        const from = c.mark;
        for (const [method, error] of Object.entries(errors))
            assert.equal((await rpc(c, "loose", id, method)).error, error, `${method} (${id})`);
        assert.equal(c.messages.slice(from).filter((m) => m.type === "state:patch").length, 0, "no patch from a failed call");
        assert.deepEqual((await rpc(c, "loose", id, "read")).result, before, "the state is as before");
        assert.deepEqual(await srv.value("query", "queries:logs", { room: id }), [], "the call's db write rolled back");
        // a write into an object the call then replaced is not in the next state: nothing to refuse
        assert.equal((await rpc(c, "loose", id, "replacedParent")).error, undefined);
        assert.equal((await rpc(c, "loose", id, "fine")).error, undefined);
        assert.deepEqual((await rpc(c, "loose", id, "read")).result,
            { n: 1, list: [{ k: 1 }, { k: 3 }], deep: { inner: { x: 2 } }, keys: ["n", "list", "deep"] });
        assert.equal((await rpc(c, "loose", id, "date")).result, true);
        assert.equal((await rpc(c, "loose", id, "isDate")).result, true, "in memory, the Date the method wrote");
    }
    const snap = await stateSub(c, "loose", subId);
    assert.equal(snap.at, "1970-01-01T00:00:00.000Z", "a subscriber gets the Date as JSON text");
    // its schema's default is a Map: the instance does not start, and says why
    assert.equal((await rpc(c, "badStart", `b-${Date.now()}`, "read")).error,
        "actor badStart: its initial state: Invalid actor state: state.m is a Map, which JSON does not hold (actor state is stored and sent as JSON)");
});

test("per call: the state patch, then events in emit order, then rpc:result; snapshot on state:sub", async () => {
    const c = await open();
    const id = `o-${Date.now()}`;
    const st = await stateSub(c, "chat", id);
    assert.deepEqual(st.messages, []);
    c.send({ type: "event:sub", actor: "chat", actorId: id });
    const from = c.mark;
    const r = await rpc(c, "chat", id, "send", { text: "hi" });
    assert.equal(r.result, 1);
    const seq = c.messages.slice(from).filter((m) => m.actorId === id || m.type === "rpc:result").map((m) => m.type);
    assert.deepEqual(seq.slice(-3), ["state:patch", "event", "rpc:result"]);
    const ev = c.messages.slice(from).find((m) => m.type === "event");
    assert.deepEqual(ev, { type: "event", actor: "chat", actorId: id, event: "newMessage", payload: { text: "hi", from: c.clientId } });
});

test("Immer's patch shapes, applied with add-as-set, reproduce the server's state; no patch when nothing changed", async () => {
    const c = await open();
    const id = `sh-${Date.now()}`;
    let state = await stateSub(c, "shapes", id);
    const expect = { push: null, unshift: null, splice: null, pop2: null, filter: null, deleteKey: null, setTilde: null, coalesce: null };
    for (const m of Object.keys(expect)) {
        const from = c.mark;
        assert.equal((await rpc(c, "shapes", id, m)).error, undefined, m);
        const patches = c.messages.slice(from).filter((x) => x.type === "state:patch");
        assert.equal(patches.length, 1, `${m}: one coalesced patch message`);
        state = applyPatches(state, patches[0].patches);
        expect[m] = patches[0].patches;
    }
    assert.deepEqual(expect.push.map((p) => [p.op, p.path]), [["add", "/list/3"], ["add", "/list/4"]]);
    assert.deepEqual(expect.pop2.map((p) => [p.op, p.path]), [["remove", "/list/4"], ["remove", "/list/3"]], "removed from the tail, descending");
    assert.ok(expect.unshift.every((p, i, a) => (i < a.length - 1 ? p.op === "replace" : p.op === "add")), "unshift: replace indices, add at the end");
    assert.deepEqual(expect.deleteKey, [{ op: "remove", path: "/map/a~1b" }]);
    assert.deepEqual(expect.setTilde.map((p) => p.path), ["/map/c~0d", "/map/e~1f~0g"]);
    assert.deepEqual(expect.coalesce, [{ op: "replace", path: "/nested/deep/x", value: 4 }], "three changes, one op");
    const from = c.mark;
    await rpc(c, "shapes", id, "noop");
    assert.equal(c.messages.slice(from).filter((x) => x.type === "state:patch").length, 0);
    const c2 = await open();
    assert.deepEqual(await stateSub(c2, "shapes", id), state, "patched copy equals a fresh snapshot");
});

test("keys Object.prototype has (toString, constructor, ...) are written like any other; a changed draft put in a new object still reaches subscribers", async () => {
    const c = await open(), c2 = await open();
    const id = `proto-${Date.now()}`;
    let state = await stateSub(c, "shapes", id);
    for (const word of ["toString", "constructor", "valueOf", "hasOwnProperty", "hello", "toString"]) {
        const from = c.mark;
        const r = await rpc(c, "shapes", id, "count", { word });
        assert.equal(r.error, undefined, `${word}: ${r.error}`);
        const patch = await c.waitMsg((x) => x.type === "state:patch", { from });
        state = applyPatches(state, patch.patches);
    }
    assert.deepEqual(state.map, { "a/b": 1, "c~d": 2, plain: 3, toString: 2, constructor: 1, valueOf: 1, hasOwnProperty: 1, hello: 1 });
    assert.deepEqual(await stateSub(c2, "shapes", id), state, "patched copy equals a fresh snapshot");

    const lid = `wrap-${Date.now()}`;
    let loose = await stateSub(c, "loose", lid);
    const from = c.mark;
    assert.equal((await rpc(c, "loose", lid, "wrapChanged")).error, undefined);
    loose = applyPatches(loose, (await c.waitMsg((x) => x.type === "state:patch", { from })).patches);
    assert.equal(loose.deep.inner.x, 5, JSON.stringify(loose));
    assert.deepEqual(await stateSub(c2, "loose", lid), loose, "patched copy equals a fresh snapshot");
});

test("onActivate, onConnect before the first touch's patch, onDisconnect on close; connections.list", async () => {
    const id = `lc-${Date.now()}`;
    const a = await open();
    const st = await stateSub(a, "chat", id);
    assert.deepEqual(st.online, [], "the snapshot is taken before onConnect ran");
    assert.equal(st.activations, 1);
    const p = await a.waitMsg((m) => m.type === "state:patch" && m.actorId === id);
    assert.deepEqual(p.patches, [{ op: "add", path: "/online/0", value: a.clientId }]);
    const b = await open();
    await rpc(b, "chat", id, "send", { text: "from b" });
    assert.deepEqual((await rpc(a, "chat", id, "who")).result, [a.clientId, b.clientId].sort());
    const from = a.mark;
    b.close();
    const gone = await a.waitMsg((m) => m.type === "state:patch" && m.actorId === id, { from });
    assert.deepEqual(gone.patches, [{ op: "remove", path: "/online/1" }]);
});

test("events: emit.to, emit.except, broadcast; an unknown event or a bad payload fails the method", async () => {
    const id = `ev-${Date.now()}`;
    const a = await open(), b = await open(), c = await open();
    for (const x of [a, b, c]) {
        x.send({ type: "event:sub", actor: "chat", actorId: id });
        await rpc(x, "chat", id, "who");
    }
    const marks = [a.mark, b.mark, c.mark];
    await rpc(a, "chat", id, "whisper", { to: b.clientId, text: "psst" });
    await rpc(a, "chat", id, "shout", { text: "all" });
    await b.waitMsg((m) => m.type === "event" && m.event === "whisper", { from: marks[1] });
    await c.waitMsg((m) => m.type === "event" && m.event === "newMessage", { from: marks[2] });
    await sleep(100);
    const evs = (x, i) => x.messages.slice(marks[i]).filter((m) => m.type === "event").map((m) => `${m.event}:${m.payload.text}`);
    assert.deepEqual(evs(a, 0), ["newMessage:all"], "the shouter is excepted from the whisper");
    assert.deepEqual(evs(b, 1), ["whisper:psst", "whisper:all", "newMessage:all"]);
    assert.deepEqual(evs(c, 2), ["whisper:all", "newMessage:all"]);
    assert.match((await rpc(a, "chat", id, "badEvent")).error, /^Validation failed for event newMessage: \[/);
    assert.equal((await rpc(a, "chat", id, "unknownEvent")).error, "Unknown event: nope");
});

test("middleware enriches ctx and gates calls; a gated call changes nothing", async () => {
    const c = await open();
    const id = `mw-${Date.now()}`;
    assert.deepEqual((await rpc(c, "guarded", id, "whoami")).result, { caller: c.clientId, method: "whoami", checked: true });
    assert.equal((await rpc(c, "guarded", id, "forbidden")).error, "Forbidden");
    assert.equal((await stateSub(c, "guarded", id)).calls, 1);
});

test("a query reading an actor's state (ctx.actors.get) is re-run when a method changes it", async () => {
    const id = `q-${Date.now()}`;
    const s = await SyncConn.open(srv.port);
    conns.push(s);
    await s.connect();
    await s.subscribe(1, "queries:counter", { id });
    const c = await open();
    const from = s.mark;
    await rpc(c, "counter", id, "add", { amount: 41 });
    await s.waitMsg((m) => m.type === "transition" && JSON.stringify(m).includes('"value":41'), { from, what: "the query's new value" });
    assert.equal(await srv.value("query", "queries:counter", { id }), 41);
});

test("actor-to-actor calls: awaited, a cycle fails clearly, fire-and-forget runs after the caller", async () => {
    const c = await open();
    const id = `L-${Date.now()}`;
    assert.deepEqual((await rpc(c, "lobby", id, "start", { match: `${id}-m` })).result, { ok: true, players: 2 });
    assert.equal((await stateSub(c, "match", `${id}-m`)).players, 2);
    const cyc = await rpc(c, "lobby", id, "ping");
    assert.equal(cyc.error, `Actor call cycle: lobby/${id} → match/m-${id} → lobby/${id} (lobby/${id} is waiting for this call to finish; call it without awaiting to run it after)`);
    assert.equal((await rpc(c, "lobby", id, "pingLater")).result, "sent");
    assert.deepEqual((await stateSub(c, "lobby", id)).started, [`${id}-m`, "pong"]);
    assert.equal((await stateSub(c, "match", `m-${id}`)).pinged, 1);
    assert.equal((await rpc(c, "lobby", id, "startThenFail")).error, "lobby failed");
    assert.equal((await stateSub(c, "match", "doomed")).players, 0, "the nested call's change rolled back with its caller");
});

test("what JSON.stringify writes is read as JSON.parse reads it: 1e19 as a number; a lone surrogate gets the call's own error at once", async () => {
    const c = await open();
    const id = `big-${Date.now()}`;
    // JSON.stringify(1e19) is "10000000000000000000": past int64, a double as in Zocket's server
    let from = c.mark;
    c.send(`{"type":"rpc","id":"b1","actor":"counter","actorId":"${id}","method":"add","input":{"amount":10000000000000000000}}`);
    let r = await c.waitMsg((m) => m.type === "rpc:result" && m.id === "b1", { from });
    assert.deepEqual(r.result, { count: 1e19 });
    // a string cut inside an emoji ("😀".slice(0, 1)): not Unicode text; refused for this call
    from = c.mark;
    c.send(`{"type":"rpc","id":77,"actor":"counter","actorId":"${id}","method":"add","input":{"amount":1,"note":"hi \\ud83d"}}`);
    r = await c.waitMsg((m) => m.type === "rpc:result" && m.id === 77, { from, timeout: 2000 });
    assert.match(r.error, /^InvalidMessage: message is not valid JSON: invalid Unicode '\\uD83D'/);
    // an escaped backslash before "u" is no escape: this one is valid and runs
    from = c.mark;
    c.send(`{"type":"rpc","id":78,"actor":"counter","actorId":"${id}","method":"increment","input":{"x":"\\\\ud83d"}}`);
    r = await c.waitMsg((m) => m.type === "rpc:result" && m.id === 78, { from });
    assert.equal(r.error, undefined);
});

test("bad frames get a precise error frame and the connection keeps working", async () => {
    const c = await open();
    const cases = [
        ["not json", /^message is not valid JSON/],
        ["[1,2]", /must be a JSON object/],
        [JSON.stringify({ type: "wat", actor: "a", actorId: "b" }), /unknown message type `wat`/],
        [JSON.stringify({ type: "wat" }), /unknown message type `wat`/],
        [JSON.stringify({ type: "state:sub", actorId: "b" }), /needs `actor` and `actorId`/],
        [JSON.stringify({ type: "state:sub", actor: "counter", actorId: "a\u0000b" }), /needs `actor` and `actorId` \(strings without U\+0000\)/],
        [JSON.stringify({ actor: "a", actorId: "b" }), /needs a `type`/],
        [JSON.stringify({ type: "rpc", actor: "a", actorId: "b", method: "m" }), /an rpc needs an `id`/],
    ];
    for (const [frame, re] of cases) {
        const from = c.mark;
        c.send(frame);
        const e = await c.waitMsg("error", { from });
        assert.equal(e.code, "InvalidMessage");
        assert.match(e.message, re);
    }
    const from = c.mark;
    c.send({ type: "state:sub", actor: "ghost", actorId: "x" });
    assert.deepEqual(await c.waitMsg("error", { from }), { type: "error", code: "UnknownActor", message: "Unknown actor: ghost" });
    const bad = await rpc(c, "counter", "x", 5);
    assert.match(bad.error, /an rpc needs `method`/);
    // wider than Convex's values: refused before it is parsed, the rpc answered
    const wide = await rpc(c, "counter", "x", "add", { amount: 1, pad: Array.from({ length: 8193 }, () => 0) });
    assert.equal(wide.error, "InvalidMessage: an array has more than 8192 elements (Convex's value limits)");
    c.send(Buffer.from(JSON.stringify({ type: "rpc", id: "bin", actor: "counter", actorId: "bin", method: "increment" })));
    assert.equal((await c.waitMsg((m) => m.id === "bin")).result, 1, "a binary frame holding JSON is accepted");
    assert.equal((await rpc(c, "counter", "bin", "increment")).result, 2);
});

test("an rpc frame reads the same however it is written: spaced and reordered, or with what the quick reader leaves to the full parser", async () => {
    // src/proto/rpc_frame.c reads the usual frame without jansson; anything else (escapes, other
    // keys, string or long ids, duplicates) goes to jansson, with the same answers and errors
    const c = await open();
    const id = `shape-${Date.now()}`;
    const head = `"actor":"counter","actorId":"${id}"`;
    const frames = [
        [`{"type":"rpc","id":1,${head},"method":"increment"}`, 1, 1],
        [` {\n "method" : "add" ,"input" : { "amount" : 2 } , ${head}, "id":2,"type":"rpc" } `, 2, { count: 3 }],
        [`{"type":"rpc","id":3,${head},"method":"add","input":{"amount":1e1}}`, 3, { count: 13 }],
        [`{"type":"rpc","id":4,${head},"method":"\\u0061dd","input":{"amount":1}}`, 4, { count: 14 }],
        [`{"type":"rpc","id":"five",${head},"method":"increment"}`, "five", 15],
        [`{"type":"rpc","id":1234567890123456,${head},"method":"increment"}`, 1234567890123456, 16],
        [`{"type":"rpc","id":7,${head},"method":"increment","extra":[1]}`, 7, 17],
        [`{"type":"rpc","id":0,${head},"method":"add","input":{"amount":"\\u00e9"}}`, 0, /^Validation failed for add/],
    ];
    const from = c.mark;
    c.ws._socket.cork();
    for (const [f] of frames) c.send(f);
    c.ws._socket.uncork();
    for (const [, rid, want] of frames) {
        const r = await c.waitMsg((m) => m.type === "rpc:result" && m.id === rid, { from });
        if (want instanceof RegExp) assert.match(r.error, want);
        else assert.deepEqual(r.result, want, JSON.stringify(r));
    }
    for (const frame of [`{"type":"rpc","id":8,"id":9,${head},"method":"increment"}`,
                         `{"type":"rpc","id":8,${head},"method":"add","input":{"amount":1,"amount":2}}`]) {
        const at = c.mark;
        c.send(frame);
        const e = await c.waitMsg("error", { from: at });
        assert.equal(e.code, "InvalidMessage");
        assert.match(e.message, /^message is not valid JSON: duplicate object key/);
    }
    assert.equal((await rpc(c, "counter", id, "increment")).result, 18);
});

test("an idle instance is deactivated and comes back from its stored state (onActivate runs again)", async () => {
    const c = await open();
    const id = `idle-${Date.now()}`;
    await rpc(c, "chat", id, "send", { text: "keep me" });
    c.close();
    const c2 = await open();
    await sleep(1500); /* --actor-idle-ms 400 */
    const st = await stateSub(c2, "chat", id);
    assert.deepEqual(st.messages.map((m) => m.text), ["keep me"]);
    assert.equal(st.activations, 2);
});

test("many idle instances leave memory in one wave, every one of them", { timeout: 60000 }, async () => {
    const tag = `wave-${Date.now()}`;
    const N = 1000; /* per connection, the per-connection limit */
    for (const k of [0, 1]) {
        const c = await open();
        const from = c.mark;
        for (let i = 0; i < N; i++)
            c.send({ type: "rpc", id: i, actor: "chat", actorId: `${tag}-${k}-${i}`, method: "send", input: { text: "x" } });
        await c.waitMsg((x) => x.type === "rpc:result" && x.id === N - 1, { from, timeout: 30000 });
        c.close();
    }
    await sleep(4000); /* --actor-idle-ms 400, a tick every 250 ms */
    const c = await open();
    for (const [k, i] of [[0, 0], [0, 499], [0, 999], [1, 0], [1, 1], [1, 500], [1, 998], [1, 999]]) {
        const st = await stateSub(c, "chat", `${tag}-${k}-${i}`);
        assert.equal(st.activations, 2, `${tag}-${k}-${i} was deactivated and came back`);
        assert.deepEqual(st.messages.map((m) => m.text), ["x"]);
    }
});

test("state survives a restart and a kill -9 under load: every acknowledged call is there", async () => {
    const d = appDir();
    let s = await startServer(d);
    try {
        const c = await open(s);
        await rpc(c, "counter", "durable", "add", { amount: 10 });
        await s.stop();
        s = await startServer(d);
        const c2 = await open(s);
        assert.equal((await stateSub(c2, "counter", "durable")).count, 10);
        let acked = 0, stop = false;
        const pump = (async () => {
            while (!stop) {
                const r = await rpc(c2, "counter", "durable", "increment").catch(() => null);
                if (!r) break;
                if (typeof r.result === "number") acked = r.result;
            }
        })();
        await waitFor(() => acked > 20, { timeout: 20000, what: "some acknowledged increments" });
        s.proc.kill("SIGKILL");
        stop = true;
        await pump.catch(() => {});
        await s.exited; /* the lock is free once it has exited (exitCode is undefined until then) */
        assert.ok(acked > 10, `some increments were acknowledged (${acked})`);
        s = await startServer(d);
        const c3 = await open(s);
        const count = (await stateSub(c3, "counter", "durable")).count;
        assert.ok(count >= acked, `after kill -9 the count ${count} has every acknowledged increment (${acked})`);
    } finally {
        await s.stop();
    }
});

test("limits: instances per connection and messages per second", async () => {
    const s = await startServer(appDir(), { args: ["--max-actors-per-connection", "3", "--max-messages-per-second", "20"] });
    try {
        const c = await open(s);
        for (let i = 0; i < 3; i++) assert.equal((await rpc(c, "counter", `lim${i}`, "increment")).result, 1);
        assert.match((await rpc(c, "counter", "lim3", "increment")).error, /touched 3 actor instances, the limit/);
        assert.equal((await rpc(c, "counter", "lim0", "increment")).result, 2, "an instance it touched still works");
        // a state:sub past the limit is refused before it activates anything: no snapshot, no
        // instance in memory (it once activated each one first: one socket grew the server by
        // hundreds of MB)
        const instances = async () => (await s.get("/api/metrics")).json.actorInstances;
        const before = await instances();
        const from = c.mark;
        const refused = () => c.messages.slice(from).filter((x) => x.type === "error" &&
                                                           /touched 3 actor instances, the limit/.test(x.message)).length;
        for (let i = 0; i < 10; i++) c.send({ type: "state:sub", actor: "counter", actorId: `over${i}` });
        await waitFor(() => refused() === 10, { what: "ten refusals" });
        assert.ok(!c.messages.slice(from).some((m) => m.type === "state:snapshot"), "no snapshot for a refused subscription");
        assert.equal(await instances(), before);
        assert.deepEqual(await stateSub(c, "counter", "lim1"), { count: 1 }, "a touched instance still subscribes");
        let limited = null;
        for (let i = 0; i < 80 && !limited; i++) {
            c.send({ type: "rpc", id: `r${i}`, actor: "counter", actorId: "lim0", method: "read" });
        }
        limited = await c.waitMsg((m) => m.type === "rpc:result" && /^RateLimited/.test(m.error || ""));
        assert.match(limited.error, /--max-messages-per-second/);
    } finally {
        await s.stop();
    }
});

test("limits: instances in memory on the server; near the limit idle ones go after a second", async () => {
    const s = await startServer(appDir(), { args: ["--max-actor-instances", "5", "--actor-idle-ms", "600000"] });
    try {
        const a = await open(s), b = await open(s);
        for (let i = 0; i < 3; i++) assert.equal((await rpc(a, "counter", `ma${i}`, "increment")).result, 1);
        for (let i = 0; i < 2; i++) assert.equal((await rpc(b, "counter", `mb${i}`, "increment")).result, 1);
        // a sixth is refused, by rpc and by state:sub, and nothing is loaded for it
        assert.match((await rpc(b, "counter", "mb2", "increment")).error,
                     /^TooManyActorInstances: 5 actor instances are in memory on this server \(--max-actor-instances\), the limit; retry later$/);
        const from = b.mark;
        b.send({ type: "state:sub", actor: "counter", actorId: "mb3" });
        const e = await b.waitMsg("error", { from });
        assert.equal(e.code, "TooManyActorInstances");
        assert.equal((await s.get("/api/metrics")).json.actorInstances, 5);
        // the instances it holds keep working
        assert.equal((await rpc(a, "counter", "ma0", "increment")).result, 2);
        // b leaves: its instances are idle, and near the limit they go after a second (not the
        // ten minutes of --actor-idle-ms), which makes room
        b.terminate();
        const c = await open(s);
        await waitFor(async () => !(await rpc(c, "counter", "mc0", "increment")).error,
                      { timeout: 8000, what: "room for a new instance" });
        assert.equal((await rpc(c, "counter", "mb0", "read")).result.count, 1, "a deactivated instance kept its state");
    } finally {
        await s.stop();
    }
});

test("durable timers: after fires once, every recurs until canceled, a throwing method's timer never fires", async () => {
    const c = await open();
    const id = `clk-${Date.now()}`;
    await stateSub(c, "clock", id);
    const tid = (await rpc(c, "clock", id, "after", { ms: 100, tag: "a" })).result;
    assert.match(tid, /^t/);
    await c.waitMsg((m) => m.type === "state:patch" && m.actorId === id && JSON.stringify(m.patches).includes('"a"'), { what: "the timer's patch" });
    const every = (await rpc(c, "clock", id, "every", { ms: 60 })).result;
    assert.equal((await rpc(c, "clock", id, "cancel", { id: "t-unknown" })).result, false);
    await waitFor(async () => (await stateSub(c, "clock", id)).ticks >= 3, { timeout: 5000, what: "three ticks" });
    assert.equal((await rpc(c, "clock", id, "cancel", { id: every })).result, true);
    const ticks = (await stateSub(c, "clock", id)).ticks;
    await sleep(400);
    assert.ok((await stateSub(c, "clock", id)).ticks <= ticks + 1, "no ticks after cancel (one may have been in flight)");
    assert.equal((await rpc(c, "clock", id, "setThenFail")).error, "no timer");
    assert.equal((await rpc(c, "clock", id, "badTimer")).error, "Unknown method: nope");
    await sleep(300);
    const st = await stateSub(c, "clock", id);
    assert.deepEqual(st.fired, ["a"], "the timer of the failed method never fired");
});

test("a recurring timer whose method throws keeps recurring; cron runs with nobody connected", async () => {
    const c = await open();
    const id = `boom-${Date.now()}`;
    const tid = (await rpc(c, "clock", id, "everyFailing", { ms: 80 })).result;
    await sleep(600);
    assert.equal((await stateSub(c, "clock", id)).fails, 0, "a failed method changes nothing");
    const logs = srv.stderr.split("tick failed").length - 1;
    assert.ok(logs >= 3, `the method failed repeatedly (${logs})`);
    await rpc(c, "clock", id, "cancel", { id: tid });
    const h = `heart-${Date.now()}`;
    assert.equal((await rpc(c, "heart", h, "read")).result, 0);
    c.close();
    await sleep(800);
    const c2 = await open();
    assert.ok((await rpc(c2, "heart", h, "read")).result >= 3, "cron beat while nobody was connected");
});

test("timers are durable: one set before a restart fires after it", async () => {
    const d = appDir();
    let s = await startServer(d);
    try {
        const c = await open(s);
        await rpc(c, "clock", "dur", "after", { ms: 1500, tag: "after-restart" });
        await s.stop();
        s = await startServer(d);
        const c2 = await open(s);
        await waitFor(async () => (await stateSub(c2, "clock", "dur")).fired.includes("after-restart"), { timeout: 8000, what: "the timer after the restart" });
    } finally {
        await s.stop();
    }
});

test("identities: an `auth` message's verified token reaches ctx.auth and middleware; bad and expired tokens are refused", async () => {
    const secret = "s".repeat(40);
    const s = await startServer(appDir(), { args: ["--jwt-secret", secret, "--jwt-issuer", "https://issuer.test",
                                                   "--test-auth-clock-skew-s", "1"] });
    try {
        const c = await open(s);
        const now = Math.floor(Date.now() / 1000);
        assert.equal((await rpc(c, "me", "x", "me")).result, null, "anonymous at first");
        assert.equal((await rpc(c, "private", "p", "sign")).error, "Unauthorized");
        let from = c.mark;
        c.send({ type: "auth", token: signHs256(secret, { iss: "https://issuer.test", sub: "alice", iat: now, exp: now + 600 }) });
        /* sent before the verdict: runs after it, with the identity */
        const r = rpc(c, "me", "x", "me");
        await c.waitMsg("auth:ok", { from });
        assert.equal((await r).result, "alice");
        assert.equal((await rpc(c, "private", "p", "sign")).result, "alice");
        from = c.mark;
        c.send({ type: "auth", token: "not.a.jwt" });
        const bad = await c.waitMsg("error", { from });
        assert.equal(bad.code, "InvalidToken");
        assert.match(bad.message, /this connection stays anonymous/);
        assert.equal((await rpc(c, "me", "x", "me")).result, "alice", "a refused token leaves the identity as it was");
        from = c.mark;
        c.send({ type: "auth", token: signHs256(secret, { iss: "https://issuer.test", sub: "bob", iat: now - 1000, exp: now - 600 }) });
        assert.equal((await c.waitMsg("error", { from })).code, "TokenExpired");
        from = c.mark;
        c.send({ type: "auth", token: null });
        await c.waitMsg("auth:ok", { from });
        assert.equal((await rpc(c, "me", "x", "me")).result, null, "signed out");
        c.send({ type: "auth", token: signHs256(secret, { iss: "https://issuer.test", sub: "carol", iat: now, exp: now + 2 }) });
        await c.waitMsg("auth:ok", { from: c.mark - 1 });
        await sleep(3300); // exp + the skew (1 s here)
        from = c.mark;
        assert.equal((await rpc(c, "me", "x", "me")).result, null, "the expired identity is dropped");
        assert.equal((await c.waitMsg("error", { from })).code, "AuthExpired");
    } finally {
        await s.stop();
    }
});

test("a subscriber that stops reading gets no more patches past 4 MiB, then a fresh snapshot: never a divergent state", async () => {
    const id = `big-${Date.now()}`;
    const slow = await open(), writer = await open();
    let state = await stateSub(slow, "big", id);
    slow.ws._socket.pause(); /* the kernel buffers fill, then the server's queue */
    for (let i = 0; i < 60; i++) await rpc(writer, "big", id, "grow", { size: 400_000 });
    const n = (await rpc(writer, "big", id, "read")).result;
    assert.equal(n, 60);
    const from = slow.mark;
    slow.ws._socket.resume();
    await slow.waitMsg((m) => m.type === "state:snapshot" && m.actorId === id, { from, timeout: 15000, what: "the fresh snapshot" });
    /* replay what arrived: patches then the snapshot (which replaces the state), then patches */
    let gotPatches = 0;
    for (const m of slow.messages.slice(from)) {
        if (m.actorId !== id) continue;
        if (m.type === "state:snapshot") state = m.state;
        else if (m.type === "state:patch") {
            state = applyPatches(state, m.patches);
            gotPatches++;
        }
    }
    assert.ok(gotPatches < 60, `some patches were held back (${gotPatches} of 60 arrived)`);
    assert.equal(state.n, 60, "the replayed state is the server's");
    assert.equal(slow.closed, null, "still connected");
    await rpc(writer, "big", id, "grow", { size: 10 });
    await slow.waitMsg((m) => m.type === "state:patch" && m.actorId === id && JSON.stringify(m.patches).includes('"value":61'), { from });
});

test("onDeactivate runs before a deploy replaces the runtime and at a graceful shutdown", async () => {
    const d = appDir();
    let s = await startServer(d);
    try {
        const c = await open(s);
        assert.equal((await stateSub(c, "chat", "dep")).activations, 1);
        const from = s.stderr.length;
        fs.appendFileSync(path.join(d, "convex", "queries.ts"), "\n// a change: vireo dev reloads\n");
        await s.waitStderr(/actor instance deactivated/, { from, timeout: 15000 });
        await s.waitStderr(/loaded \d+ functions/, { from, timeout: 15000 });
        const st = await stateSub(c, "chat", "dep");
        assert.equal(st.deactivations, 1, "onDeactivate ran in the old version");
        assert.equal(st.activations, 2, "the new version activated it again");
        await s.stop();
        s = await startServer(d);
        const c2 = await open(s);
        assert.equal((await stateSub(c2, "chat", "dep")).deactivations, 2, "and at the shutdown");
    } finally {
        await s.stop();
    }
});
