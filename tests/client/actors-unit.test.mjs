// The actor client's own logic, with no server: the JSON-patch applier (Zocket's `add` at an
// index sets, RFC 6901 unescaping, copies only along the path, Immer-shaped patch sequences),
// the StateStore, URLs and ids, RPC timeouts and close() against a port nobody listens on, and
// the handles' lazy subscriptions and ref-counted dispose timing as frames written to a socket
// (a recording WebSocket: it opens and keeps what the client sends, and never answers).

import test from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import WebSocket from "ws";
import {
    applyPatch, applyPatches, parsePointer, StateStore, actorsUrl, rpcId, createClient,
    createActorClient, ClientError, ServerError,
} from "../../clients/js/src/index.js";
import { actorReconnectDelay } from "../../clients/js/src/actors.js";

const tick = () => new Promise((r) => setTimeout(r, 0));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port that refuses connections (bound, then closed). */
async function closedPort() {
    const s = net.createServer();
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    const { port } = s.address();
    await new Promise((r) => s.close(r));
    return port;
}

test("parsePointer: RFC 6901 unescaping, ~01 is ~1", () => {
    assert.deepEqual(parsePointer(""), []);
    assert.deepEqual(parsePointer("/"), [""]);
    assert.deepEqual(parsePointer("/a/0/b"), ["a", "0", "b"]);
    assert.deepEqual(parsePointer("/a~1b/c~0d"), ["a/b", "c~d"]);
    assert.deepEqual(parsePointer("/~01"), ["~1"]);
    assert.deepEqual(parsePointer("/~10"), ["/0"]);
    assert.throws(() => parsePointer("a/b"), /must start with "\/"/);
    assert.throws(() => parsePointer(3), TypeError);
});

test("applyPatch: add at an array index sets it (Zocket), - appends, remove splices", () => {
    const doc = { a: [1, 2, 3] };
    assert.deepEqual(applyPatch(doc, { op: "add", path: "/a/1", value: 9 }), { a: [1, 9, 3] });
    assert.deepEqual(applyPatch(doc, { op: "add", path: "/a/3", value: 4 }), { a: [1, 2, 3, 4] });
    assert.deepEqual(applyPatch(doc, { op: "add", path: "/a/-", value: 4 }), { a: [1, 2, 3, 4] });
    assert.deepEqual(applyPatch(doc, { op: "replace", path: "/a/0", value: 0 }), { a: [0, 2, 3] });
    assert.deepEqual(applyPatch(doc, { op: "remove", path: "/a/0" }), { a: [2, 3] });
    assert.deepEqual(doc, { a: [1, 2, 3] }, "the input is not changed");
    assert.throws(() => applyPatch(doc, { op: "add", path: "/a/5", value: 1 }), /no element 5/);
    assert.throws(() => applyPatch(doc, { op: "replace", path: "/a/3", value: 1 }), /no element 3/);
    assert.throws(() => applyPatch(doc, { op: "remove", path: "/a/-" }), /no element -/);
    assert.throws(() => applyPatch(doc, { op: "add", path: "/a/01", value: 1 }), /no element 01/);
});

test("applyPatch: objects, escaped keys, root, missing paths, bad ops", () => {
    const doc = { "a/b": 1, "c~d": { x: 1 }, keep: { deep: [1] } };
    const out = applyPatches(doc, [
        { op: "replace", path: "/a~1b", value: 2 },
        { op: "add", path: "/c~0d/y", value: 2 },
        { op: "remove", path: "/c~0d/x" },
        { op: "add", path: "/~01", value: "tilde-one" },
    ]);
    assert.deepEqual(out, { "a/b": 2, "c~d": { y: 2 }, keep: { deep: [1] }, "~1": "tilde-one" });
    assert.equal(out.keep, doc.keep, "an untouched subtree keeps its identity");
    assert.notEqual(out["c~d"], doc["c~d"]);
    assert.deepEqual(applyPatch(doc, { op: "replace", path: "", value: [1] }), [1]);
    assert.deepEqual(applyPatch({}, { op: "add", path: "/", value: 1 }), { "": 1 });
    assert.throws(() => applyPatch(doc, { op: "remove", path: "/nope" }), /no key "nope"/);
    assert.throws(() => applyPatch(doc, { op: "add", path: "/nope/x", value: 1 }), /no key "nope"/);
    assert.throws(() => applyPatch(doc, { op: "add", path: "/a~1b/x", value: 1 }), /is not an object/);
    assert.throws(() => applyPatch(doc, { op: "move", path: "/x", from: "/y" }), /unsupported patch op "move"/);
    assert.throws(() => applyPatch(doc, { op: "remove", path: "" }), /whole state/);
});

test("applyPatch: a __proto__ key is an own property, never the prototype", () => {
    const doc = JSON.parse('{"o":{}}');
    const out = applyPatch(doc, { op: "add", path: "/o/__proto__", value: { polluted: true } });
    assert.equal(Object.getPrototypeOf(out.o), Object.prototype);
    assert.deepEqual(Object.keys(out.o), ["__proto__"]);
    assert.equal({}.polluted, undefined);
    const again = applyPatch(out, { op: "replace", path: "/o/__proto__/polluted", value: false });
    assert.equal(Object.getOwnPropertyDescriptor(again.o, "__proto__").value.polluted, false);
});

test("applyPatches: Immer-shaped sequences converge (push, unshift, splice, pop×2, filter, delete)", () => {
    // The shapes of issue 12: replace changed indices, add at the end ascending, remove from the
    // tail descending; applied with `add` at an index as a set.
    const cases = [
        { from: [1, 2], to: [1, 2, 3], patches: [{ op: "add", path: "/l/2", value: 3 }] },
        {
            from: [1, 2], to: [0, 1, 2], // unshift: every index replaced, one added at the end
            patches: [
                { op: "replace", path: "/l/0", value: 0 },
                { op: "replace", path: "/l/1", value: 1 },
                { op: "add", path: "/l/2", value: 2 },
            ],
        },
        {
            from: [1, 2, 3, 4], to: [1, 9, 4], // splice(1, 2, 9)
            patches: [
                { op: "replace", path: "/l/1", value: 9 },
                { op: "replace", path: "/l/2", value: 4 },
                { op: "remove", path: "/l/3" },
            ],
        },
        {
            from: [1, 2, 3], to: [1], // pop twice
            patches: [{ op: "remove", path: "/l/2" }, { op: "remove", path: "/l/1" }],
        },
        {
            from: [1, 2, 3, 4], to: [2, 4], // filter-assign
            patches: [
                { op: "replace", path: "/l/0", value: 2 },
                { op: "replace", path: "/l/1", value: 4 },
                { op: "remove", path: "/l/3" },
                { op: "remove", path: "/l/2" },
            ],
        },
    ];
    for (const c of cases) {
        assert.deepEqual(applyPatches({ l: c.from, n: 1 }, c.patches), { l: c.to, n: 1 }, JSON.stringify(c.patches));
    }
    assert.deepEqual(applyPatches({ a: 1, b: 2 }, [{ op: "remove", path: "/a" }]), { b: 2 });
});

test("StateStore: listeners, patches before a snapshot, a throwing listener", () => {
    const errors = [];
    const s = new StateStore((e) => errors.push(e.message));
    const seen = [];
    s.subscribe((v) => seen.push(v));
    s.applyPatches([{ op: "add", path: "/x", value: 1 }]);
    assert.deepEqual(seen, [], "a patch before the first snapshot is ignored");
    assert.equal(s.getState(), undefined);
    s.subscribe(() => {
        throw new Error("boom");
    });
    s.setSnapshot({ n: 1 });
    s.applyPatches([{ op: "replace", path: "/n", value: 2 }]);
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
    assert.deepEqual(errors, ["boom", "boom"]);
    const late = [];
    const unsub = s.subscribe((v) => late.push(v));
    assert.deepEqual(late, [{ n: 2 }], "a new listener gets the current state at once");
    unsub();
    s.setSnapshot({ n: 3 });
    assert.deepEqual(late, [{ n: 2 }]);
    assert.equal(s.subscriberCount, 2);
    const before = s.getState();
    assert.throws(() => s.applyPatches([{ op: "remove", path: "/zz" }]));
    assert.equal(s.getState(), before, "a patch that fails changes nothing");
});

test("actorsUrl: the server root gets /api/actors, http becomes ws, other paths are kept", () => {
    assert.equal(actorsUrl("ws://h:1"), "ws://h:1/api/actors");
    assert.equal(actorsUrl("ws://h:1/"), "ws://h:1/api/actors");
    assert.equal(actorsUrl("http://h:1"), "ws://h:1/api/actors");
    assert.equal(actorsUrl("https://h"), "wss://h/api/actors");
    assert.equal(actorsUrl("ws://h:1/api/actors"), "ws://h:1/api/actors");
    assert.equal(actorsUrl("ws://h:1/t/acme/api/actors?x=1"), "ws://h:1/t/acme/api/actors?x=1");
    assert.equal(actorsUrl("ws://h:1/?token=a"), "ws://h:1/api/actors?token=a");
    assert.throws(() => actorsUrl("ftp://h"), /must be ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//);
    assert.throws(() => actorsUrl("not a url"), /invalid url/);
    assert.throws(() => actorsUrl(""), /non-empty string/);
    assert.throws(() => createClient({ url: "ws://h", WebSocket, rpcTimeout: -1 }), /rpcTimeout must be a non-negative number/);
    assert.throws(() => createClient({ url: "ws://h", WebSocket: 1 }), /no WebSocket implementation/);
    assert.throws(() => createClient(null), /options must be an object/);
    assert.equal(createActorClient, createClient);
});

test("rpcId is rpc_{counter}_{Date.now() base 36}, and reconnect delays follow Zocket's 250 ms → 2 s", () => {
    const a = rpcId();
    const b = rpcId();
    const m = /^rpc_(\d+)_([0-9a-z]+)$/.exec(a);
    assert.ok(m, a);
    assert.equal(Number(/^rpc_(\d+)_/.exec(b)[1]), Number(m[1]) + 1);
    assert.ok(Math.abs(parseInt(m[2], 36) - Date.now()) < 5000);
    const b0 = { baseMs: 250, maxMs: 2000, jitterMs: 100 };
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => actorReconnectDelay(n, b0, () => 0)), [250, 500, 1000, 2000, 2000, 2000]);
    assert.equal(actorReconnectDelay(1, b0, () => 0.999), 349);
});

test("an RPC on a socket that never opens times out with Zocket's text; connectTimeout rejects ready", async (t) => {
    const port = await closedPort();
    const errors = [];
    const client = createClient({ url: `ws://127.0.0.1:${port}`, WebSocket, rpcTimeout: 300, connectTimeout: 200,
                                  backoff: { baseMs: 20, maxMs: 50 }, onError: (e) => errors.push(e) });
    t.after(() => client.$close());
    assert.equal(client.connection.status, "connecting");
    const started = Date.now();
    const [ready, rpc] = await Promise.allSettled([client.connection.ready, client.counter("a").increment()]);
    assert.equal(ready.status, "rejected");
    assert.equal(ready.reason.message, "WebSocket did not connect within 200ms");
    assert.equal(rpc.status, "rejected");
    assert.equal(rpc.reason.message, 'RPC "increment" timed out after 300ms');
    assert.ok(rpc.reason instanceof ClientError && rpc.reason.code === "RequestTimeout");
    assert.ok(Date.now() - started >= 290);
    assert.equal(client.connection.status, "connecting", "still trying: never opened, so not reconnecting");
    assert.equal(client.$ready, client.connection.ready);
    // per-call timeout
    await assert.rejects(client.counter("a").increment(undefined, { timeout: 50 }), { message: 'RPC "increment" timed out after 50ms' });
    await assert.rejects(client.counter("a").increment(undefined, { timeout: -1 }), TypeError);
    await assert.rejects(client.counter("a").x({ big: 1n }), TypeError, "an unserializable input rejects at the call");
});

test("close(): waiting RPCs reject with 'WebSocket client closed', later calls with 'is closed'", async () => {
    const port = await closedPort();
    const client = createClient({ url: `ws://127.0.0.1:${port}`, WebSocket, rpcTimeout: 0, backoff: { baseMs: 20, maxMs: 50 } });
    const statuses = [];
    client.connection.subscribe((s) => statuses.push(s));
    const p = client.chat("r").send({ text: "x" });
    await sleep(50);
    client.connection.close();
    await assert.rejects(p, { message: "WebSocket client closed" });
    await assert.rejects(client.connection.ready, { message: "WebSocket client closed before becoming ready" });
    await assert.rejects(client.chat("r").send({}), { message: "WebSocket client is closed" });
    assert.equal(client.$status, "disconnected");
    assert.deepEqual(statuses, ["disconnected"]);
    client.$close(); // twice is fine
});

test("reconnect: false — a refused connection ends the client: disconnected, 'WebSocket closed'", async () => {
    const port = await closedPort();
    const client = createClient({ url: `ws://127.0.0.1:${port}`, WebSocket, reconnect: false });
    const p = client.chat("r").send({});
    await assert.rejects(p, { message: "WebSocket closed" });
    await assert.rejects(client.connection.ready, { message: "WebSocket closed" });
    assert.equal(client.connection.status, "disconnected");
    await assert.rejects(client.chat("r").send({}), { message: "WebSocket closed" });
    client.$close();
});

/** A WebSocket that opens on the next tick and records what the client sends; answers nothing. */
function recordingSocket() {
    const sockets = [];
    class RecordingWS {
        constructor(url) {
            this.url = url;
            this.readyState = 0;
            this.sent = [];
            sockets.push(this);
            setTimeout(() => {
                this.readyState = 1;
                this.onopen?.({});
            }, 0);
        }
        send(text) {
            this.sent.push(JSON.parse(text));
        }
        close() {
            this.readyState = 3;
        }
        /** The server side going away. */
        drop(reason = "") {
            this.readyState = 3;
            this.onclose?.({ code: 1006, reason });
        }
        deliver(msg) {
            this.onmessage?.({ data: JSON.stringify(msg) });
        }
    }
    return { RecordingWS, sockets, frames: () => sockets.flatMap((s) => s.sent) };
}

test("handles: lazy event/state subscriptions, ref counting, one-tick final dispose", async (t) => {
    const { RecordingWS, sockets, frames } = recordingSocket();
    const client = createClient({ url: "ws://vireo.test", WebSocket: RecordingWS, reconnectDelayMs: 0 });
    t.after(() => client.$close());
    await client.$ready;
    assert.equal(sockets[0].url, "ws://vireo.test/api/actors");
    const types = () => frames().map((f) => `${f.type} ${f.actor}/${f.actorId}`);

    const a = client.chat("r1");
    const b = client.actor("chat").get("r1");
    assert.equal(a.meta.name, "chat");
    assert.equal(a.meta.id, "r1");
    assert.equal(a.$actorId, "r1");
    assert.equal(a.send, a.send, "method functions are stable");
    assert.equal(await Promise.resolve(a), a, "a handle is not a thenable");
    const off1 = a.on("msg", () => {});
    const off2 = b.on("other", () => {});
    assert.deepEqual(types(), ["event:sub chat/r1"], "one event:sub for the instance");
    off1();
    off1();
    assert.deepEqual(types(), ["event:sub chat/r1"]);
    off2();
    assert.deepEqual(types(), ["event:sub chat/r1", "event:unsub chat/r1"]);

    const seen = [];
    const offS = a.state.subscribe((s) => seen.push(s));
    assert.equal(types().at(-1), "state:sub chat/r1");
    sockets[0].deliver({ type: "state:snapshot", actor: "chat", actorId: "r1", state: { n: [1] } });
    sockets[0].deliver({ type: "state:patch", actor: "chat", actorId: "r1", patches: [{ op: "add", path: "/n/1", value: 2 }] });
    assert.deepEqual(b.state.getSnapshot(), { n: [1, 2] }, "both handles share the instance");
    assert.deepEqual(seen, [{ n: [1] }, { n: [1, 2] }]);

    // release one of two references: nothing happens
    a.meta.dispose();
    a.meta.dispose(); // once per handle
    await tick();
    await tick();
    assert.equal(types().at(-1), "state:sub chat/r1");
    // last reference released, then retained again in the same tick (StrictMode): kept
    b.meta.dispose();
    const c = client.chat("r1");
    await tick();
    await tick();
    assert.equal(types().at(-1), "state:sub chat/r1");
    assert.deepEqual(c.state.getSnapshot(), { n: [1, 2] });
    // final release: disposed one tick later, not at once
    c.meta.dispose();
    assert.equal(types().at(-1), "state:sub chat/r1", "not in the same tick");
    assert.deepEqual(c.state.getSnapshot(), { n: [1, 2] });
    await tick();
    assert.equal(types().at(-1), "state:unsub chat/r1");
    assert.equal(c.state.getSnapshot(), undefined, "state cleared");
    offS(); // after dispose: nothing sent
    assert.equal(types().at(-1), "state:unsub chat/r1");
    const n = frames().length;
    sockets[0].deliver({ type: "state:snapshot", actor: "chat", actorId: "r1", state: { n: [] } });
    assert.deepEqual(seen.length, 2, "a disposed instance's listeners are gone");
    assert.equal(frames().length, n);

    // a handle that holds no reference: its instance goes after one tick unless retained
    const peek = client.actor("chat").get("r2", { retain: false });
    peek.on("x", () => {});
    assert.equal(types().at(-1), "event:sub chat/r2");
    peek.meta.dispose(); // nothing to release
    await tick();
    await tick();
    assert.equal(types().at(-1), "event:unsub chat/r2");
    const peek2 = client.actor("chat").get("r3", { retain: false });
    const held = client.chat("r3");
    peek2.on("x", () => {});
    await tick();
    assert.equal(types().at(-1), "event:sub chat/r3", "kept by the other handle's reference");
    held.meta.dispose();
    await tick();
    assert.equal(types().at(-1), "event:unsub chat/r3");
    assert.throws(() => client.chat(7), /actor id must be a string, got number/);
    assert.throws(() => client.actor(""), /non-empty string/);
});

test("handles: reconnect re-sends subscriptions, pending RPCs reject, waiting RPCs go out after", async (t) => {
    const { RecordingWS, sockets } = recordingSocket();
    const errors = [];
    const client = createClient({ url: "ws://vireo.test/x", WebSocket: RecordingWS, reconnectDelayMs: 0, onError: (e) => errors.push(e) });
    t.after(() => client.$close());
    const statuses = [];
    client.connection.subscribe((s) => statuses.push(s));
    await client.$ready;
    assert.equal(sockets[0].url, "ws://vireo.test/x", "a path is kept");
    const room = client.chat("r");
    room.on("e", () => {});
    room.state.subscribe(() => {});
    sockets[0].deliver({ type: "welcome", clientId: "c1" });
    assert.equal(client.connection.clientId, "c1");
    const p = room.send({ a: 1 });
    const rpc = sockets[0].sent.at(-1);
    assert.deepEqual({ ...rpc, id: 0 }, { type: "rpc", id: 0, actor: "chat", actorId: "r", method: "send", input: { a: 1 } });
    assert.match(rpc.id, /^rpc_\d+_[0-9a-z]+$/);
    sockets[0].drop();
    await assert.rejects(p, { message: "WebSocket closed" });
    assert.equal(client.connection.status, "reconnecting");
    assert.equal(client.connection.clientId, undefined);
    const q = room.other(); // waits for the socket
    await sleep(20);
    assert.equal(sockets.length, 2);
    assert.equal(client.connection.status, "connected");
    assert.deepEqual(sockets[1].sent.map((f) => f.type), ["event:sub", "state:sub", "rpc"], "subscriptions first, then the waiting call");
    const id = sockets[1].sent[2].id;
    sockets[1].deliver({ type: "rpc:stream", id, chunk: "ignored without onChunk" });
    sockets[1].deliver({ type: "rpc:result", id });
    assert.equal(await q, undefined, "a result without `result` resolves undefined");
    const chunks = [];
    const s = room.gen({ p: 1 }, { onChunk: (c) => chunks.push(c) });
    const sid = sockets[1].sent.at(-1).id;
    sockets[1].deliver({ type: "rpc:stream", id: sid, chunk: "a" });
    sockets[1].deliver({ type: "rpc:stream", id: sid, chunk: "b" });
    sockets[1].deliver({ type: "rpc:result", id: sid, result: "ab" });
    assert.equal(await s, "ab");
    assert.deepEqual(chunks, ["a", "b"]);
    const e = room.bad();
    sockets[1].deliver({ type: "rpc:result", id: sockets[1].sent.at(-1).id, error: "Unknown method: bad" });
    await assert.rejects(e, (err) => err instanceof ServerError && err.message === "Unknown method: bad");
    const r = room.x();
    sockets[1].drop("server shutting down");
    await assert.rejects(r, { message: "server shutting down" }, "the close reason, as Zocket");
    await sleep(20);
    // unknown types ignored; error frames and bad frames reported
    sockets[2].deliver({ type: "future:thing" });
    sockets[2].deliver({ type: "error", code: "BadFrame", message: "frame is not JSON" });
    sockets[2].onmessage({ data: "not json" });
    assert.equal(errors.length, 2);
    assert.equal(errors[0].code, "BadFrame");
    assert.equal(errors[0].message, "frame is not JSON");
    assert.deepEqual(statuses, ["connected", "reconnecting", "connected", "reconnecting", "connected"]);
});

test("a patch that does not apply is reported and the client re-subscribes for a snapshot", async (t) => {
    const { RecordingWS, sockets } = recordingSocket();
    const errors = [];
    const client = createClient({ url: "ws://vireo.test", WebSocket: RecordingWS, onError: (e) => errors.push(e.message) });
    t.after(() => client.$close());
    await client.$ready;
    const h = client.list("p");
    const seen = [];
    h.state.subscribe((s) => seen.push(s));
    const ws = sockets[0];
    ws.deliver({ type: "state:snapshot", actor: "list", actorId: "p", state: { items: [1] } });
    ws.deliver({ type: "state:patch", actor: "list", actorId: "p", patches: [
        { op: "replace", path: "/items/0", value: 2 }, { op: "remove", path: "/items/5" }] });
    assert.deepEqual(h.state.getSnapshot(), { items: [1] }, "nothing of the failed patch list applied");
    assert.deepEqual(errors, ['state of list/p: patch remove "/items/5": no element 5; re-subscribing for a fresh snapshot']);
    assert.deepEqual(ws.sent.map((f) => f.type), ["state:sub", "state:unsub", "state:sub"]);
    ws.deliver({ type: "state:snapshot", actor: "list", actorId: "p", state: { items: [2] } });
    assert.deepEqual(seen, [{ items: [1] }, { items: [2] }]);
    // frames for other instances, or before a snapshot, change nothing
    ws.deliver({ type: "state:patch", actor: "list", actorId: "other", patches: [{ op: "remove", path: "/x" }] });
    ws.deliver({ type: "event", actor: "list", actorId: "p", event: "nobody", payload: 1 });
    assert.equal(errors.length, 1);
});
