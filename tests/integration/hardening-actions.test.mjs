// Actions run apart from the shard's queries and mutations (issue 7 item 3): a CPU-bound action
// does not delay anyone's query or mutation over HTTP or sync; a nested ctx.runQuery gets the
// query limit, not the action's; --action-timeout-ms, --max-pending-actions and
// --action-threads; actions see their own writes and their writes reach live queries before
// their answer; nested errors keep their codes; reloads reach the workers; callers that leave
// early; SIGTERM with a runaway action. Fixture: apps/actions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import net from "node:net";
import { startServer, tempDir, SyncConn, sleep, modOf, waitFor, runCli } from "./helpers.mjs";

let srv; // --timeout-ms 200 --action-timeout-ms 4000, two action threads (the default)
const conns = [];

before(async () => {
    srv = await startServer(tempDir("actions"), { args: ["--timeout-ms", "200", "--action-timeout-ms", "4000"] });
});
after(async () => {
    for (const c of conns.splice(0)) c.close();
    if (srv) await srv.stop();
});

async function open(s = srv) {
    const c = await SyncConn.open(s.port);
    conns.push(c);
    await c.connect();
    return c;
}

/* Runs fn and returns [its result, elapsed ms]. */
async function timed(fn) {
    const t0 = performance.now();
    const r = await fn();
    return [r, performance.now() - t0];
}

test("CPU-bound actions on every worker: queries and mutations over HTTP and sync still answer at once", { timeout: 30000 }, async () => {
    const c = await open();
    // one runaway action over HTTP, one over sync: both workers are busy for the action limit
    const httpSpin = srv.action("fns:spin", {}, { timeout: 20000 });
    c.send({ type: "action", requestId: "spin", path: "fns:spinEmpty", args: {} });
    const syncSpin = c.waitMsg((m) => m.type === "actionResponse" && m.requestId === "spin", { timeout: 20000 });
    await sleep(300);
    await c.subscribe(1, "fns:count", {});
    for (let i = 0; i < 5; i++) {
        const [q, qms] = await timed(() => srv.query("fns:ping", {}));
        assert.equal(q.json.value, "pong");
        assert.ok(qms < 500, `HTTP query took ${qms} ms while actions spin`);
        const [m, mms] = await timed(() => srv.mutation("fns:addNote", { text: `during-spin-${i}` }));
        assert.equal(m.status, 200, m.text);
        assert.ok(mms < 500, `HTTP mutation took ${mms} ms while actions spin`);
        const [sm, smms] = await timed(() => c.call("mutation", `m${i}`, "fns:addNote", { text: `sync-during-spin-${i}` }));
        assert.equal(sm.success, true, JSON.stringify(sm));
        assert.ok(smms < 500, `sync mutation took ${smms} ms while actions spin`);
    }
    // the live query kept up
    await waitFor(() => c.transitions().some((t) => modOf(t, 1)?.value >= 10), { what: "count >= 10 live" });
    // and the runaway actions end at their own limit with ExecutionTimeout
    const h = await httpSpin;
    assert.equal(h.status, 500, h.text);
    assert.equal(h.json.errorCode, "ExecutionTimeout");
    assert.match(h.json.errorMessage, /4000 ms/);
    const s = await syncSpin;
    assert.equal(s.success, false);
    assert.equal(s.errorCode, "ExecutionTimeout");
});

test("a nested ctx.runQuery of a runaway query gets the query limit, not the action's", { timeout: 20000 }, async () => {
    const [r, ms] = await timed(() => srv.action("fns:queryRunaway", {}));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value.ok, false);
    assert.equal(r.json.value.code, "ExecutionTimeout");
    assert.match(r.json.value.message, /fns:spinQuery.*200 ms/);
    assert.ok(ms < 3000, `took ${ms} ms (the query limit is 200 ms, the action's 4000 ms)`);
    // uncaught, the action fails with the nested call's code
    const u = await srv.action("fns:queryRunawayUncaught", {});
    assert.equal(u.status, 500, u.text);
    assert.equal(u.json.errorCode, "ExecutionTimeout");
    // and the shard is fine afterwards
    assert.equal((await srv.query("fns:ping", {})).json.value, "pong");
});

test("actions see their own writes; nested runAction runs; admin run reaches the pool", { timeout: 15000 }, async () => {
    const r = await srv.action("fns:writeRead", { text: "own-write" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value.seen, true);
    assert.equal(typeof r.json.version, "number");
    const n0 = (await srv.query("fns:count", {})).json.value;
    const w = await srv.action("fns:writeMany", { prefix: "many-", n: 20 });
    assert.equal(w.json.value, n0 + 20, w.text);
    const o = await srv.action("fns:outer", { n: 41 });
    assert.equal(o.json.value, 42, o.text);
    assert.ok((await srv.query("fns:listNotes", {})).json.value.includes("inner41"));
    const a = await srv.admin("fns:outer", { n: 1 });
    assert.equal(a.json.value, 2, a.text);
    // arguments are checked before the action is queued
    const bad = await srv.action("fns:writeRead", { text: 5 });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.errorCode, "ArgumentValidationError");
    // internal actions stay internal
    assert.equal((await srv.action("fns:inner", { n: 1 })).status, 404);
});

test("nested errors keep their codes and VireoError data", { timeout: 10000 }, async () => {
    const r = await srv.action("fns:nestedErrors", {});
    assert.equal(r.status, 200, r.text);
    const v = r.json.value;
    assert.deepEqual(v.vireo, { isVireo: true, data: { why: "nested" } });
    // a ConvexError, as Convex rethrows an error with data (its class, name and marker)
    assert.deepEqual(v.convex, { isConvex: true, name: "ConvexError", identified: true });
    assert.match(v.kind, /Trying to execute fns\.js:addNote as Query, but it is defined as Mutation\./);
    assert.equal(v.args.code, "ArgumentValidationError");
    assert.match(v.args.message, /`fns:addNote`: Value does not match validator\.\nPath: \.text\nValue: 5\.0\nValidator: v\.string\(\)/);
    assert.equal(v.missing, "FunctionNotFound");
});

test("sync: an action's mutation reaches a live query before the action's answer", { timeout: 15000 }, async () => {
    const c = await open();
    await c.subscribe(7, "fns:listNotes", {});
    const from = c.mark;
    const r = await c.call("action", 70, "fns:writeRead", { text: "ryw-action" });
    assert.equal(r.success, true, JSON.stringify(r));
    assert.equal(r.value.seen, true);
    const idx = c.messages.indexOf(r);
    const upd = c.messages.slice(from, idx).filter((m) => m.type === "transition" && modOf(m, 7)?.value?.includes("ryw-action"));
    assert.ok(upd.length >= 1, `the transition with the action's write came before its answer: ${JSON.stringify(c.messages.slice(from)).slice(0, 800)}`);
    // unknown and wrong-kind calls still answer at once
    const nf = await c.call("action", 71, "fns:nope", {});
    assert.equal(nf.errorCode, "FunctionNotFound");
    const bad = await c.call("action", 72, "fns:writeRead", { text: 1 });
    assert.equal(bad.errorCode, "ArgumentValidationError");
});

test("many concurrent actions over HTTP and sync: every write lands once, every caller is answered", { timeout: 30000 }, async () => {
    const n0 = (await srv.query("fns:count", {})).json.value;
    const c = await open();
    const calls = [];
    for (let i = 0; i < 20; i++) {
        calls.push(srv.action("fns:writeMany", { prefix: `conc-h${i}-`, n: 3 }).then((r) => {
            assert.equal(r.status, 200, r.text);
        }));
        calls.push(c.call("action", `c${i}`, "fns:writeMany", { prefix: `conc-s${i}-`, n: 3 }).then((r) => {
            assert.equal(r.success, true, JSON.stringify(r));
        }));
    }
    await Promise.all(calls);
    assert.equal((await srv.query("fns:count", {})).json.value, n0 + 120);
});

test("callers that leave before their action ends: nothing breaks", { timeout: 15000 }, async () => {
    // an HTTP client that closes its socket
    const sock = net.connect(srv.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    const body = JSON.stringify({ path: "fns:busy", args: { ms: 400 } });
    sock.write(`POST /api/action HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await sleep(50);
    sock.destroy();
    // a sync session that closes, and one whose id is taken by a new session
    const c1 = await SyncConn.open(srv.port);
    await c1.connect({ sessionId: "leaving-1" });
    c1.send({ type: "action", requestId: 1, path: "fns:busy", args: { ms: 400 } });
    const c2 = await SyncConn.open(srv.port);
    await c2.connect({ sessionId: "leaving-2" });
    c2.send({ type: "action", requestId: 1, path: "fns:busy", args: { ms: 400 } });
    await sleep(50);
    c1.close();
    c2.terminate();
    const c3 = await open();
    await sleep(1500);
    assert.equal((await srv.query("fns:ping", {})).json.value, "pong");
    const r = await c3.call("action", 9, "fns:busy", { ms: 10 });
    assert.equal(r.value, 10);
});

test("--action-timeout-ms: a runaway action ends with ExecutionTimeout at that limit", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("actions"), { args: ["--action-timeout-ms", "500"] });
    try {
        for (const fn of ["fns:spin", "fns:spinEmpty", "fns:spin"]) {
            const [r, ms] = await timed(() => s.action(fn, {}, { timeout: 15000 }));
            assert.equal(r.status, 500, r.text);
            assert.equal(r.json.errorCode, "ExecutionTimeout");
            assert.match(r.json.errorMessage, /500 ms time limit/);
            assert.ok(ms < 5000, `${fn} took ${ms} ms`);
        }
        // CPU spread over awaits (each resumption a VM entry of its own), also while a timer of
        // its own is pending: stopped at the same limit; the worker is free again
        for (const fn of ["fns:spinAwait", "fns:nullsAwait", "fns:spinAwaitTimer"]) {
            const [r, ms] = await timed(() => s.action(fn, {}, { timeout: 15000 }));
            assert.equal(r.json?.errorCode, "ExecutionTimeout", `${fn}: ${r.text}`);
            assert.match(r.json.errorMessage, /500 ms time limit awaiting without end \(a loop over awaits\)$/);
            assert.ok(ms < 5000, `${fn} took ${ms} ms`);
        }
        // a promise that never settles, nothing pending: refused at once; many awaits that end
        const [n, nms] = await timed(() => s.action("fns:neverSettles", {}));
        assert.equal(n.json?.errorCode, "FunctionFailed", n.text);
        assert.match(n.json.errorMessage, /did not finish: it awaited a promise that never settled/);
        assert.ok(nms < 500, `neverSettles took ${nms} ms`);
        assert.equal((await s.action("fns:manyAwaits", { n: 20000 })).json?.value, (20000 * 19999) / 2);
        // a nested query keeps the default query limit (1000 ms), under the action's 500 ms? the
        // action's own limit counts only its own CPU time: waiting for the shard is not counted
        const r = await s.action("fns:writeRead", { text: "after" });
        assert.equal(r.json.value.seen, true, r.text);
    } finally {
        await s.stop();
    }
});

test("--max-pending-actions: past it, ServerOverloaded with retryAfterMs over HTTP and sync", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("actions"), {
        args: ["--action-threads", "1", "--max-pending-actions", "2", "--action-timeout-ms", "1500"],
    });
    try {
        const running = [s.action("fns:spin", {}, { timeout: 20000 }), s.action("fns:spin", {}, { timeout: 20000 })];
        await sleep(300);
        const r = await s.action("fns:busy", { ms: 1 });
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.errorCode, "ServerOverloaded");
        assert.equal(typeof r.json.retryAfterMs, "number");
        const c = await open(s);
        const sr = await c.call("action", 1, "fns:busy", { ms: 1 });
        assert.equal(sr.success, false);
        assert.equal(sr.errorCode, "ServerOverloaded");
        assert.equal(typeof sr.retryAfterMs, "number");
        // the JS client rejects with a ServerError carrying the advice
        const { VireoClient, ServerError } = await import("../../clients/js/src/index.js");
        const { default: WebSocket } = await import("ws");
        const vc = new VireoClient(s.url, { WebSocket });
        try {
            await assert.rejects(vc.action("fns:busy", { ms: 1 }),
                (e) => e instanceof ServerError && e.code === "ServerOverloaded" && typeof e.retryAfterMs === "number");
        } finally {
            vc.close();
        }
        const m = (await s.get("/api/metrics")).json;
        assert.equal(m.actionsPending, 2);
        assert.equal(m.actionsRejected, 3);
        // queries and mutations are not affected
        assert.equal((await s.query("fns:ping", {})).json.value, "pong");
        assert.equal((await s.mutation("fns:addNote", { text: "x" })).status, 200);
        for (const p of running) assert.equal((await p).json.errorCode, "ExecutionTimeout");
        // once they ended, actions run again (one thread: in turn)
        const ok = await c.call("action", 2, "fns:outer", { n: 1 });
        assert.equal(ok.value, 2, JSON.stringify(ok));
        c.close();
    } finally {
        await s.stop();
    }
});

test("SIGTERM with runaway actions running exits promptly", { timeout: 30000 }, async () => {
    const s = await startServer(tempDir("actions"));
    const c = await SyncConn.open(s.port);
    await c.connect();
    const h = s.action("fns:spin", {}, { timeout: 20000 }).catch((e) => ({ error: e }));
    // one looping over awaits (the default limit is 600 s): the shutdown stops it too
    const ha = s.action("fns:spinAwait", {}, { timeout: 20000 }).catch((e) => ({ error: e }));
    c.send({ type: "action", requestId: 1, path: "fns:spinEmpty", args: {} });
    await sleep(1500); // long enough for JSC to compile the loops in its top tiers
    assert.equal((await s.query("fns:ping", {})).json.value, "pong");
    const [r, ms] = await timed(() => s.stop("SIGTERM", 15000));
    assert.equal(r.code, 0, `exit ${JSON.stringify(r)}\n${s.stderr}`);
    assert.ok(ms < 4000, `exit took ${ms} ms`);
    for (const hr of [await h, await ha])
        if (!hr.error) assert.equal(hr.json.errorCode, "ServerShuttingDown", hr.text);
    c.close();
});

test("vireo dev reload reaches the workers; a running action finishes on its version", { timeout: 30000 }, async () => {
    const dir = tempDir("actions");
    const s = await startServer(dir, { args: ["--action-threads", "1"] });
    try {
        assert.equal((await s.action("fns:version", {})).json.value, "v1");
        const slow = s.action("fns:slowVersion", { ms: 1500 }, { timeout: 20000 });
        await sleep(200);
        const file = path.join(dir, "vireo/fns.ts");
        const from = s.stderr.length;
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replaceAll('"v1"', '"v2"'));
        await s.waitStderr(/loaded \d+ functions/, { from, timeout: 10000 });
        assert.equal((await slow).json.value, "v1", "the running action finished on the old version");
        assert.equal((await s.action("fns:version", {})).json.value, "v2");
        assert.equal((await s.action("fns:slowVersion", { ms: 1 })).json.value, "v2");
    } finally {
        await s.stop();
    }
});

test("bad action flags are refused with a precise message", { timeout: 15000 }, async () => {
    const dir = tempDir("actions");
    for (const [flag, val, re] of [
        ["--action-threads", "0", /--action-threads needs a number from 1 to 256/],
        ["--action-timeout-ms", "soon", /--action-timeout-ms needs a number of milliseconds/],
        ["--max-pending-actions", "-1", /--max-pending-actions needs a number from 1/],
    ]) {
        const r = await runCli(["serve", dir, "--port", "0", flag, val]);
        assert.equal(r.code, 2, `${flag} ${val}: ${r.stderr}`);
        assert.match(r.stderr, re);
    }
});
