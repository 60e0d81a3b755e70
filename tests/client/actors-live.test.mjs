// The actor client (createClient of @vireo/client) against a real `vireo dev` on
// tests/integration/apps/client-actors (needs ./vireo or VIREO_BIN): RPC results and Zocket's
// error texts, events, state snapshots and patches converging to the server's state for every
// patch shape, ref-counted handles and their dispose on the wire, connection statuses, reconnect
// after a server restart (subscriptions re-sent, a fresh snapshot of the durable state), pending
// RPCs rejected on a drop, rpcTimeout on a paused server, close(), reconnect: false.
// The sockets are `ws` WebSockets that also record the frames they send and receive (SpyWS).
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { createClient, ServerError, ClientError } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep } from "../integration/helpers.mjs";

let srv;
const clients = [];
const logs = new WeakMap(); // client → its SpyWS frames
const L = (c) => logs.get(c);

before(async () => {
    srv = await startServer(tempDir("client-actors"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) c.$close();
    if (srv) await srv.stop();
});

/** ws's WebSocket, recording every frame: `SpyWS.log` holds {dir: "in"|"out", msg}. */
function spyClass() {
    const log = [];
    class SpyWS extends WebSocket {
        constructor(url) {
            super(url);
            this.addEventListener("message", (e) => log.push({ dir: "in", msg: JSON.parse(String(e.data)) }));
        }
        send(data) {
            log.push({ dir: "out", msg: JSON.parse(data) });
            super.send(data);
        }
    }
    SpyWS.log = log;
    return SpyWS;
}

function client(opts = {}) {
    const WS = opts.WebSocket ?? spyClass();
    const c = createClient({ url: srv.url, backoff: { baseMs: 20, maxMs: 100, jitterMs: 10 }, ...opts, WebSocket: WS });
    logs.set(c, WS.log);
    clients.push(c);
    return c;
}

const stored = (s, name, id) => s.value("query", "actors:stored", { name, id });
const tick = () => new Promise((r) => setTimeout(r, 0));

test("RPCs: results, void, Zocket's error texts, a throwing method changes nothing", { timeout: 15000 }, async () => {
    const c = client();
    assert.equal(c.connection.status, "connecting");
    await c.connection.ready;
    assert.equal(c.connection.status, "connected");
    await waitFor(() => c.connection.clientId !== undefined, { what: "welcome" });
    assert.equal(L(c)[0].dir, "in");
    assert.equal(L(c)[0].msg.type, "welcome", "welcome is the first frame");
    const k = c.counter("rpc-1");
    assert.deepEqual(await k.increment(), { count: 1 });
    assert.deepEqual(await k.increment(), { count: 2 });
    assert.equal(await k.add({ by: 5 }), 7);
    assert.equal(await k.note({ text: "hi" }), undefined, "a method returning nothing resolves undefined");
    const noteResult = L(c).findLast((f) => f.dir === "in" && f.msg.type === "rpc:result");
    assert.equal("result" in noteResult.msg, false, "and the server left `result` out");
    assert.equal(await k.whoami(), c.connection.clientId, "connectionId is the welcome's clientId");

    await assert.rejects(k.fail(), (e) => e instanceof ServerError && e.message === "counter refuses");
    assert.deepEqual(await k.get(), { count: 7, log: ["hi"] }, "the throwing method changed nothing");
    await assert.rejects(k.nope(), { message: "Unknown method: nope" });
    await assert.rejects(k.add({ by: "x" }), (e) => /^Validation failed for add: \[/.test(e.message));
    await assert.rejects(c.ghost("x").anything(), { message: "Unknown actor: ghost" });
    await assert.rejects(c.gated("g").secret(), { message: "Forbidden" });
    assert.equal(await c.actor("gated").get("g").open(), "guest");
    assert.deepEqual(await stored(srv, "counter", "rpc-1"), { count: 7, log: ["hi"] });

    const rpc = L(c).find((f) => f.dir === "out" && f.msg.type === "rpc").msg;
    assert.match(rpc.id, /^rpc_\d+_[0-9a-z]+$/);
    assert.deepEqual(Object.keys(rpc).sort(), ["actor", "actorId", "id", "method", "type"], "no input key for a call without input");
});

test("the URL: the server root (ws://host:port) and /api/actors both reach the actors", { timeout: 10000 }, async () => {
    const a = client({ url: `ws://127.0.0.1:${srv.port}` });
    const b = client({ url: `ws://127.0.0.1:${srv.port}/api/actors` });
    assert.equal((await a.counter("url").increment()).count, 1);
    assert.equal((await b.counter("url").increment()).count, 2);
});

test("events: a lazy event:sub, payloads from another client's calls, unsubscribe", { timeout: 15000 }, async () => {
    const a = client();
    const b = client();
    const got = [];
    const ha = a.counter("ev-1");
    await a.$ready;
    const off = ha.on("changed", (p) => got.push(p));
    const off2 = ha.on("changed", () => {});
    assert.equal(L(a).filter((f) => f.dir === "out" && f.msg.type === "event:sub").length, 1);
    await ha.increment(); // a round trip: the event:sub has been handled
    await b.counter("ev-1").add({ by: 2 });
    await waitFor(() => got.length === 1, { what: "the event" });
    assert.deepEqual(got, [{ count: 3 }]);
    // the caller's own event comes before its rpc:result
    assert.equal(await ha.add({ by: 1 }), 4);
    assert.deepEqual(got, [{ count: 3 }, { count: 4 }]);
    off();
    off2();
    assert.deepEqual(L(a).filter((f) => f.dir === "out").at(-1).msg, { type: "event:unsub", actor: "counter", actorId: "ev-1" });
    assert.equal(await ha.add({ by: 1 }), 5);
    assert.equal(got.length, 2, "no event after unsubscribing");
    assert.equal(L(a).filter((f) => f.dir === "in" && f.msg.type === "event" && f.msg.payload.count === 5).length, 0,
                 "the server stopped sending them");
});

/** Runs `steps` (method, input) on a list instance while `c` holds its state; after each, the
 * client's copy equals the state the method's actor returns and the query reads. */
async function converges(c, id, steps) {
    const h = c.list(id);
    const seen = [];
    const off = h.state.subscribe((s) => seen.push(s));
    await waitFor(() => h.state.getSnapshot() !== undefined, { what: "the snapshot" });
    assert.deepEqual(h.state.getSnapshot(), { items: [], keys: {}, n: 0 });
    for (const [method, input] of steps) {
        await h[method](input);
        // patches come before the rpc:result: the copy is up to date when the call resolves
        const server = await h.get();
        assert.deepEqual(h.state.getSnapshot(), server, `after ${method}(${JSON.stringify(input)})`);
    }
    assert.deepEqual(h.state.getSnapshot(), await stored(srv, "list", id));
    off();
    h.meta.dispose();
    return seen;
}

test("state: a snapshot, then patches of every shape converge to the server's state", { timeout: 20000 }, async () => {
    const c = client();
    const steps = [
        ["push", { text: "a" }], ["push", { text: "b" }], ["push", { text: "c" }],
        ["unshift", { text: "z" }],
        ["splice", { at: 1, remove: 2, text: "s" }],
        ["splice", { at: 0, remove: 1 }],
        ["push", { text: "d" }], ["push", { text: "e" }],
        ["popTwo"],
        ["push", { text: "f" }], ["push", { text: "g" }],
        ["keepOdd"],
        ["rename", { index: 0, text: "renamed" }],
        ["setKey", { key: "a/b", value: 1 }], ["setKey", { key: "~t", value: 2 }], ["setKey", { key: "~1", value: 3 }],
        ["deleteKey", { key: "a/b" }],
        ["many"],
    ];
    const seen = await converges(c, "conv-1", steps);
    const patches = L(c).filter((f) => f.dir === "in" && f.msg.type === "state:patch").flatMap((f) => f.msg.patches);
    assert.ok(patches.some((p) => p.path === "/keys/a~1b"), "a key with / is escaped as ~1");
    assert.ok(patches.some((p) => p.path === "/keys/~0t"), "a key with ~ is escaped as ~0");
    assert.ok(patches.some((p) => p.op === "add" && /^\/items\/\d+$/.test(p.path)), "adds at an array index");
    // a state untouched by a call keeps its identity in the copy's unchanged parts
    assert.ok(seen.length >= steps.length);

    // a second client subscribing later gets the same state as a snapshot
    const d = client();
    const h = d.list("conv-1");
    h.state.subscribe(() => {});
    await waitFor(() => h.state.getSnapshot() !== undefined, { what: "late snapshot" });
    assert.deepEqual(h.state.getSnapshot(), await stored(srv, "list", "conv-1"));
});

test("state: two clients watching one instance while both change it stay equal", { timeout: 20000 }, async () => {
    const a = client();
    const b = client();
    const ha = a.list("conv-2");
    const hb = b.list("conv-2");
    ha.state.subscribe(() => {});
    hb.state.subscribe(() => {});
    await waitFor(() => ha.state.getSnapshot() && hb.state.getSnapshot(), { what: "snapshots" });
    const calls = [];
    for (let i = 0; i < 20; i++) {
        const h = i % 2 ? ha : hb;
        calls.push(i % 5 === 4 ? h.splice({ at: 0, remove: 1 }) : h.push({ text: `t${i}` }));
    }
    await Promise.all(calls);
    await ha.get();
    await hb.get();
    const server = await stored(srv, "list", "conv-2");
    assert.deepEqual(ha.state.getSnapshot(), server);
    assert.deepEqual(hb.state.getSnapshot(), server);
});

test("ref counting: the instance lives until the last handle's dispose, then unsubscribes one tick later", { timeout: 15000 }, async () => {
    const c = client();
    const o = client();
    const h1 = c.counter("rc-1");
    const h2 = c.counter("rc-1");
    const states = [];
    const events = [];
    h1.state.subscribe((s) => states.push(s.count));
    h2.on("changed", (p) => events.push(p.count));
    await waitFor(() => h2.state.getSnapshot() !== undefined, { what: "snapshot" });
    h1.meta.dispose();
    await o.counter("rc-1").add({ by: 1 });
    await waitFor(() => events.length === 1 && h2.state.getSnapshot().count === 1, { what: "the update through h2" });
    const out = () => L(c).filter((f) => f.dir === "out").map((f) => f.msg.type);
    h2.meta.dispose();
    assert.ok(!out().includes("state:unsub"), "not in the same tick");
    await tick();
    await tick();
    assert.deepEqual(out().slice(-2).sort(), ["event:unsub", "state:unsub"]);
    assert.equal(h2.state.getSnapshot(), undefined);
    // a round trip on c's own socket first: the server has then read its unsubscribes, which
    // o's call (another socket) could otherwise overtake
    await c.counter("rc-sync").get();
    const before = L(c).length;
    await o.counter("rc-1").add({ by: 1 });
    await c.counter("rc-1").get(); // a round trip on c after the change
    assert.equal(L(c).slice(before).filter((f) => f.dir === "in" && f.msg.type !== "rpc:result").length, 0,
                 "nothing more is sent to the disposed instance");
    assert.deepEqual(states, [0, 1]);
    assert.deepEqual(events, [1]);
});

test("reconnect after a server restart: statuses, pending RPC rejected, subscriptions re-sent, a fresh snapshot", { timeout: 40000 }, async () => {
    const dir = tempDir("client-actors");
    let s = await startServer(dir);
    const port = s.port;
    try {
        const c = client({ url: `ws://127.0.0.1:${port}/api/actors`, rpcTimeout: 20000 });
        const statuses = [];
        c.connection.subscribe((st) => statuses.push(st));
        const h = c.counter("rs-1");
        const seen = [];
        const events = [];
        h.state.subscribe((st) => seen.push(st.count));
        h.on("changed", (p) => events.push(p.count));
        await waitFor(() => seen.length === 1, { what: "snapshot" });
        assert.equal(await h.add({ by: 3 }), 3);
        // a call the server never answers: it is paused, then killed
        s.proc.kill("SIGSTOP");
        const pending = assert.rejects(h.add({ by: 100 }), (e) => e instanceof ClientError && e.message === "WebSocket closed");
        await sleep(100);
        s.proc.kill("SIGKILL");
        await s.exited;
        await pending;
        assert.equal(c.connection.status, "reconnecting");
        const waiting = h.add({ by: 1 }); // waits for the socket
        await sleep(300);
        s = await startServer(dir, { args: ["--port", String(port)] });
        assert.equal(await waiting, 4, "the call made while down runs after the reconnect, on the durable state");
        await waitFor(() => seen.at(-1) === 4, { what: "the re-subscribed state" });
        assert.ok(seen.includes(3), JSON.stringify(seen));
        assert.ok(events.includes(4), "the event subscription was re-sent");
        const outTypes = L(c).filter((f) => f.dir === "out").map((f) => f.msg.type);
        assert.equal(outTypes.filter((t) => t === "state:sub").length, 2);
        assert.equal(outTypes.filter((t) => t === "event:sub").length, 2);
        const welcomes = L(c).filter((f) => f.dir === "in" && f.msg.type === "welcome");
        assert.equal(welcomes.length, 2);
        assert.equal(c.connection.clientId, welcomes[1].msg.clientId);
        assert.deepEqual(statuses, ["connected", "reconnecting", "connected"]);
        assert.deepEqual(await stored(s, "counter", "rs-1"), { count: 4, log: [] }, "the unanswered call did not run");
    } finally {
        s.proc.kill("SIGCONT");
        await s.stop();
    }
});

test("rpcTimeout: a paused server → Zocket's text; the late answer is ignored and the next call works", { timeout: 20000 }, async () => {
    const dir = tempDir("client-actors");
    const s = await startServer(dir);
    try {
        /* 1500 ms, not less: every call of this client has that budget, and under ASan a fresh
         * server's first call or the first after SIGCONT took longer than 400 ms once (fresh-clone CI) */
        const c = client({ url: s.url, rpcTimeout: 1500 });
        const h = c.counter("to-1");
        assert.deepEqual(await h.increment(), { count: 1 });
        s.proc.kill("SIGSTOP");
        const t0 = Date.now();
        await assert.rejects(h.increment(), (e) => e instanceof ClientError && e.code === "RequestTimeout" &&
                             e.message === 'RPC "increment" timed out after 1500ms');
        assert.ok(Date.now() - t0 >= 1490);
        s.proc.kill("SIGCONT");
        await waitFor(() => L(c).filter((f) => f.dir === "in" && f.msg.type === "rpc:result").length === 2,
                      { what: "the late result" });
        assert.deepEqual(await h.increment(), { count: 3 }, "the timed-out call did run: the server answered late");
        assert.equal(c.connection.status, "connected");
    } finally {
        s.proc.kill("SIGCONT");
        await s.stop();
    }
});

test("close(): unsubscribes, rejects pending RPCs with 'WebSocket client closed', status disconnected", { timeout: 15000 }, async () => {
    const dir = tempDir("client-actors");
    const s = await startServer(dir);
    try {
        const c = client({ url: s.url });
        const h = c.counter("cl-1");
        h.state.subscribe(() => {});
        h.on("changed", () => {});
        await waitFor(() => h.state.getSnapshot() !== undefined, { what: "snapshot" });
        s.proc.kill("SIGSTOP");
        const p = h.increment();
        await sleep(50);
        c.connection.close();
        await assert.rejects(p, { message: "WebSocket client closed" });
        assert.equal(c.connection.status, "disconnected");
        const out = L(c).filter((f) => f.dir === "out").map((f) => f.msg.type);
        assert.deepEqual(out.slice(-2).sort(), ["event:unsub", "state:unsub"], "close() disposes the handles");
        await assert.rejects(h.increment(), { message: "WebSocket client is closed" });
        s.proc.kill("SIGCONT");
        // the server saw the close and still serves
        const d = client({ url: s.url });
        assert.deepEqual(await d.counter("cl-1").get(), { count: 1, log: [] }, "the call sent before close() ran");
    } finally {
        s.proc.kill("SIGCONT");
        await s.stop();
    }
});

test("reconnect: false — the server going away ends the client", { timeout: 15000 }, async () => {
    const dir = tempDir("client-actors");
    const s = await startServer(dir);
    const c = client({ url: s.url, reconnect: false });
    const statuses = [];
    c.connection.subscribe((st) => statuses.push(st));
    assert.deepEqual(await c.counter("nr").increment(), { count: 1 });
    await s.stop();
    await waitFor(() => c.connection.status === "disconnected", { what: "disconnected" });
    await assert.rejects(c.counter("nr").increment(), { message: "WebSocket closed" });
    assert.deepEqual(statuses, ["connected", "disconnected"]);
});

test("auth: the token (or a function's) is sent first on every connection; setAuth switches and signs out", async () => {
    const { signHs256 } = await import("../integration/idp.mjs");
    const secret = "k".repeat(40);
    const s = await startServer(tempDir("client-actors"), { args: ["--jwt-secret", secret] });
    try {
        const now = Math.floor(Date.now() / 1000);
        const tok = (sub) => signHs256(secret, { iss: "https://issuer.test", sub, iat: now, exp: now + 600 });
        let asked = 0;
        const c = createClient({ url: `ws://127.0.0.1:${s.port}`, WebSocket, auth: async () => (asked++, tok("alice")) });
        clients.push(c);
        assert.equal(await c.me("x").who(), "alice");
        await c.$setAuth(tok("bob"));
        assert.equal(await c.me("x").who(), "bob");
        await c.connection.setAuth(null);
        assert.equal(await c.me("x").who(), null);
        await c.$setAuth(async () => (asked++, tok("carol")));
        assert.equal(await c.me("x").who(), "carol");
        assert.equal(asked, 2);
    } finally {
        await s.stop();
    }
});

test("streaming RPC: onChunk gets each rpc:stream chunk before the result; signal sends rpc:cancel", { timeout: 15000 }, async () => {
    const c = client();
    await c.connection.ready;
    const h = c.counter("stream-1");
    const chunks = [];
    const r = await h.stream({ n: 3, forever: false }, { onChunk: (x) => chunks.push(x) });
    assert.deepEqual(chunks, [{ i: 0 }, { i: 1 }, { i: 2 }]);
    assert.equal(r, 3);
    // abort: the call rejects with the signal's reason, the server runs the generator's finally
    const ac = new AbortController();
    const seen = [];
    const p = h.stream({ n: 0, forever: true }, { onChunk: (x) => { seen.push(x); if (seen.length === 3) ac.abort(); }, signal: ac.signal });
    await assert.rejects(p, (e) => e.name === "AbortError");
    const cancel = L(c).find((f) => f.dir === "out" && f.msg.type === "rpc:cancel");
    assert.ok(cancel, "rpc:cancel was sent");
    await waitFor(async () => (await stored(srv, "counter", "stream-1"))?.log?.includes("finally") &&
                  (await stored(srv, "counter", "stream-1")).log.filter((x) => x === "finally").length === 2,
                  { timeout: 5000, what: "the generator's finally" });
    const n = (await stored(srv, "counter", "stream-1")).count;
    await sleep(100);
    assert.equal((await stored(srv, "counter", "stream-1")).count, n, "no further turns");
    // an aborted signal rejects at once, without sending
    const before = L(c).length;
    await assert.rejects(h.stream({ n: 1, forever: false }, { signal: AbortSignal.abort() }), (e) => e.name === "AbortError");
    assert.equal(L(c).slice(before).filter((f) => f.dir === "out" && f.msg.type === "rpc").length, 0);
    await assert.rejects(h.stream({ n: 1, forever: false }, { signal: 5 }), /signal must be an AbortSignal/);
});
