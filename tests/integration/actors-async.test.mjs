// Actor methods that wait (issue 12, docs/actors.md "Methods that wait"): setTimeout between
// state changes (one transaction per turn, other instances and queries answer meanwhile), the
// instance's later rpcs waiting their turn in order, a throw in a later turn, stream: true
// patches, a state:sub in the middle of a call, async generators (rpc:stream), rpc:cancel and a
// closing socket, the wall-clock limit, the suspended-call cap, kill -9 and a deploy while a
// call waits. Raw WebSockets against apps/actors-async.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, SyncConn, request, sleep, waitFor, REPO } from "./helpers.mjs";

let srv, dir;
const conns = [];

function appDir() {
    const d = tempDir("actors-async");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d, "node_modules"));
    return d;
}

before(async () => {
    dir = appDir();
    srv = await startServer(dir, { args: ["--actor-method-timeout-ms", "1500"] });
});
after(async () => {
    for (const c of conns) c.close();
    await srv?.stop?.();
});

async function open(s = srv) {
    const c = await SyncConn.open(s.port, { path: "/api/actors" });
    conns.push(c);
    await c.waitMsg("welcome");
    return c;
}

let rid = 0;
function send(c, actor, actorId, method, input, id = ++rid) {
    const m = { type: "rpc", id, actor, actorId, method };
    if (input !== undefined) m.input = input;
    c.send(m);
    return id;
}
function result(c, id, from = 0, timeout = 5000) {
    return c.waitMsg((x) => x.type === "rpc:result" && x.id === id, { from, timeout });
}
async function rpc(c, actor, actorId, method, input) {
    const from = c.mark;
    return result(c, send(c, actor, actorId, method, input), from);
}
async function stateSub(c, actor, actorId) {
    const from = c.mark;
    c.send({ type: "state:sub", actor, actorId });
    return (await c.waitMsg((x) => x.type === "state:snapshot" && x.actorId === actorId, { from })).state;
}
async function query(s, pathName, args) {
    const r = await request(s.port, "POST", "/api/query", { path: pathName, args, format: "json" });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text).value;
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

test("a method that awaits setTimeout runs in two turns; other instances and queries answer meanwhile", async () => {
    const c = await open();
    const id = `two-${Date.now()}`;
    const from = c.mark;
    const t0 = Date.now();
    const call = send(c, "job", id, "twoSteps", { ms: 400 });
    // turn 1 is committed: a query sees "a" while the method sleeps
    const seen = await waitFor(async () => {
        const s = await query(srv, "queries:job", { id });
        return s.steps.length === 1 ? s : null;
    }, { timeout: 2000, interval: 20 });
    assert.deepEqual(seen.steps, ["a"]);
    assert.ok(Date.now() - t0 < 350, `the query answered while the method slept (${Date.now() - t0} ms)`);
    // another instance answers at once
    const t1 = Date.now();
    assert.equal((await rpc(c, "job", `${id}-other`, "mark", { n: 1 })).result, 1);
    assert.ok(Date.now() - t1 < 250);
    const r = await result(c, call, from);
    assert.equal(r.result, 2);
    assert.ok(Date.now() - t0 >= 390);
    assert.deepEqual((await query(srv, "queries:job", { id })).steps, ["a", "b"]);
});
