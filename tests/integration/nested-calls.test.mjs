// ctx.runQuery and ctx.runMutation inside queries and mutations, as Convex's (1.0/runUdf): the
// called function runs in the caller's transaction; a nested mutation is a sub-transaction that
// rolls back alone when it throws (its schedules too) and commits with the caller; the error
// reaches the caller as thrown (ConvexError data kept); arguments and results checked; 8 deep at
// most; a live query whose reads are made by the query it calls is re-run by writes to them; the
// caller's writes made while a nested mutation runs wait for it; one never finished is rolled
// back (apps/nested-calls).
import assert from "node:assert/strict";
import { sharedServer, sleep, waitFor, SyncConn, modOf } from "./helpers.mjs";

const { test, server } = sharedServer("nested-calls");

const count = (name) => server().value("query", "nested:count", { name });

async function fails(kind, fn, args = {}) {
    const r = await server().call(kind, fn, args);
    assert.equal(r.json?.status, "error", r.text);
    return r.json;
}

test("a nested mutation commits with its caller; one that throws rolls back alone, its error caught with its data", async () => {
    const r = await server().value("mutation", "nested:outer", { name: "a" });
    assert.match(r.id, /^[a-z0-9]+$/);
    assert.deepEqual(r.caught, { message: '{"why":"nope","name":"a"}', data: { why: "nope", name: "a" }, convex: true });
    assert.equal(r.seen, 1, "the nested query sees the caller's transaction: the kept insert, not the rolled back one");
    assert.equal(await count("a"), 1);
    // the rolled back mutation's schedule went with it
    await sleep(300);
    assert.equal(await count("a"), 1);
});

test("a caller that fails after its nested mutation succeeded rolls everything back", async () => {
    const e = await fails("mutation", "nested:outerThrows", { name: "b" });
    assert.match(e.errorMessage, /the caller fails after its nested mutation succeeded/);
    assert.equal(await count("b"), 0);
});

test("a nested result that breaks its returns validator: the caller gets the error, the writes stay (as Convex)", async () => {
    const m = await server().value("mutation", "nested:callsBadReturn", { name: "c" });
    assert.match(m, /^ReturnsValidationError: /);
    assert.match(m, /nested:badReturn/);
    assert.equal(await count("c"), 1);
});

test("8 nested calls deep at most, with Convex's message", async () => {
    assert.equal(await server().value("mutation", "nested:recurse", { depth: 8 }), 8);
    const e = await fails("mutation", "nested:recurse", { depth: 9 });
    assert.match(e.errorMessage, /Cross component call depth limit exceeded\. Do you have an infinite loop in your app\?/);
});

test("misuse: the wrong kind, bad arguments, an unknown function, an action, not a reference", async () => {
    const msg = async (what) => (await fails("mutation", "nested:misuse", { what })).errorMessage;
    assert.match(await msg("kind"), /Trying to execute nested\.js:add as Query, but it is defined as Mutation\./);
    assert.match(await msg("args"), /^`nested:add`: .*name/s);
    assert.match(await msg("missing"), /function `nested:nope` not found/);
    assert.match(await msg("action"), /Trying to execute nested\.js:act as Mutation, but it is defined as Action\./);
    assert.match(await msg("ref"), /expected a function reference/);
    // a query has ctx.runQuery (a string path works too) and no ctx.runMutation
    assert.deepEqual(await server().value("query", "nested:queryCtx", {}), { runMutation: "undefined", viaString: 0 });
});

test("a live query whose reads are made by the query it calls re-runs when they change", async () => {
    const c = await SyncConn.open(server().port);
    try {
        await c.connect();
        const t = await c.subscribe(3, "nested:countVia", { name: "live" });
        assert.deepEqual(modOf(t, 3).value, { n: 0 });
        let from = c.mark;
        await server().value("mutation", "nested:outer", { name: "live" });
        const u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 3), { from });
        assert.deepEqual(modOf(u, 3).value, { n: 1 });
        // a write elsewhere does not re-run it
        from = c.mark;
        await server().value("mutation", "nested:outer", { name: "other" });
        await sleep(150);
        assert.equal(c.transitions(from).filter((m) => modOf(m, 3)).length, 0);
    } finally {
        c.close();
    }
});

test("the caller's write made while a nested mutation runs waits for it, and survives its rollback", async () => {
    assert.deepEqual(await server().value("mutation", "nested:concurrent", { name: "d" }), { nested: "rejected", own: "fulfilled", seen: 1 });
    assert.equal(await count("d"), 1);
});

test("a nested mutation the caller never awaited and that never ends is rolled back; a write waiting for it never runs", async () => {
    assert.equal(await server().value("mutation", "nested:abandons", { name: "e" }), "done");
    assert.equal(await count("e"), 0);
    const e = await fails("mutation", "nested:waitsForever", { name: "f" });
    assert.match(e.errorMessage, /did not finish/);
    assert.equal(await count("f"), 0);
    // the server goes on: the next calls nest as before
    assert.equal(await server().value("mutation", "nested:recurse", { depth: 3 }), 3);
});

test("function handles (createFunctionHandle) name a function for ctx.runQuery, ctx.runMutation and the scheduler", async () => {
    const r = await server().value("mutation", "nested:handles", { name: "h" });
    assert.deepEqual(r, { add: "function://nested:add", same: true, n: 1 });
    await waitFor(async () => (await count("h")) === 2, { what: "the job scheduled through a handle" });
    assert.equal(await server().value("action", "nested:actionHandles", { name: "h2" }), 1);
    let e = await fails("mutation", "nested:badHandle", { what: "create" });
    assert.match(e.errorMessage, /createFunctionHandle\(\): the app has no function `nested:nope`/);
    e = await fails("mutation", "nested:badHandle", { what: "use" });
    assert.match(e.errorMessage, /function `nested:nope` not found/);
});

/* A random tree of nested mutations against a model of what Convex keeps: a call's writes stay
 * when it returns and every caller up to the top returns; a failed call takes its own writes and
 * its callees' with it, its caller goes on only when it catches the error; a call deeper than 8
 * fails (MaximumCallDepthExceeded) like a throw. */
test("random trees of nested mutations keep exactly what a model of sub-transactions keeps", { timeout: 120000 }, async () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    let next = 0;
    const gen = (depth) => {
        const n = { label: next++, fail: rnd() < 0.2, caught: rnd() < 0.6, children: [] };
        const kids = depth >= 10 ? 0 : Math.floor(rnd() * (depth < 2 ? 3 : 2.2));
        for (let i = 0; i < kids; i++) n.children.push(gen(depth + 1));
        return n;
    };
    /* {ok, labels}: what run(node) at nesting depth d keeps */
    const model = (node, d) => {
        if (d > 8) return { ok: false, labels: [] };
        const labels = [node.label];
        for (const c of node.children) {
            const r = model(c, d + 1);
            if (r.ok) labels.push(...r.labels);
            else if (!c.caught) return { ok: false, labels: [] };
        }
        return node.fail ? { ok: false, labels: [] } : { ok: true, labels };
    };
    let deep = 0, failedTop = 0, partial = 0;
    for (let i = 0; i < 150; i++) {
        next = 0;
        const root = gen(0);
        const name = `tree${i}`;
        const want = model(root, 0);
        const r = await server().call("mutation", "nested:plan", { name, node: root });
        assert.equal(r.json?.status, want.ok ? "success" : "error", `${name}: ${JSON.stringify(root)} -> ${r.text}`);
        const got = await server().value("query", "nested:labels", { name });
        assert.deepEqual(got, want.ok ? want.labels.sort((a, b) => a - b) : [], `${name}: ${JSON.stringify(root)}`);
        if (!want.ok) failedTop++;
        else if (want.labels.length < next) partial++;
        const height = (n) => 1 + Math.max(0, ...n.children.map(height));
        if (height(root) > 9) deep++; /* a call at nesting depth 9 or more: refused */
    }
    console.log(`# 150 trees: ${failedTop} failed at the top, ${partial} kept a part, ${deep} nested past 8`);
    assert.ok(failedTop > 10 && partial > 10 && deep > 0, `too few interesting trees (${failedTop} failed, ${partial} partial, ${deep} too deep)`);
});
