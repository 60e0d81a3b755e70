// Convex 1.48's function context (apps/convex-ctx): the table-first forms of ctx.db and
// db.table(name), whose ids must be the table's; ctx.meta in queries, mutations, actions and
// HTTP actions (getRequestMetadata: over HTTP, both sync protocols, scheduled runs, nested calls);
// db.vars.commitTs and v.commitTs().
import assert from "node:assert/strict";
import { sharedServer, request, SyncConn, waitFor } from "./helpers.mjs";
import { signHs256 } from "./idp.mjs";

const SECRET = "convex-ctx-secret-0123456789-abcdefghij";
const ISS = "https://ctx.example";
const { test, server } = sharedServer("convex-ctx", { args: ["--jwt-secret", SECRET, "--jwt-issuer", ISS] });
let srv;
/* the documents tables:seed made in the running server (made once per server) */
const seeds = new WeakMap();
async function seed() {
    srv = server();
    if (!seeds.has(srv)) seeds.set(srv, await srv.value("mutation", "tables:seed", {}));
    return seeds.get(srv);
}

async function refused(kind, fn, args, code, message) {
    const r = await srv.call(kind, fn, args);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errorCode, code, r.text);
    assert.equal(r.json.errorMessage, message);
}

test("db.get(table, id): the id must be one of the table's, as in Convex", async () => {
    const { user, note, job } = await seed();
    assert.equal((await srv.value("query", "tables:get", { table: "users", id: user })).name, "ann");
    assert.equal((await srv.value("query", "tables:get", { id: note })).text, "first"); // no table: as before
    await refused("query", "tables:get", { table: "users", id: note }, "InvalidArgument",
        "Invalid argument `id`, expected ID in table 'users' but got ID in table 'notes'");
    await refused("query", "tables:get", { table: 5, id: note }, "InvalidArgument",
        "Invalid argument `tableName`, expected string but got 'number': 5");
    // system tables: through db.system only, both ways round, with a table or without
    await refused("query", "tables:get", { table: "_scheduled_functions", id: job }, "InvalidArgument",
        "System tables can only be accessed with db.system.");
    await refused("query", "tables:get", { id: job }, "InvalidArgument",
        "System tables can only be accessed with db.system.");
    assert.equal((await srv.value("query", "tables:get", { id: job, system: true })).name, "tables:later");
    assert.equal((await srv.value("query", "tables:get",
        { table: "_scheduled_functions", id: job, system: true })).name, "tables:later");
    await refused("query", "tables:get", { table: "users", id: user, system: true }, "InvalidArgument",
        "User tables cannot be accessed with db.system.");
    await refused("query", "tables:get", { table: "_storage", id: job, system: true }, "InvalidArgument",
        "Invalid argument `id`, expected ID in table '_storage' but got ID in table '_scheduled_functions'");
    // an id of no table is the call's to answer, as without a table
    await refused("query", "tables:get", { table: "users", id: "nope" }, "InvalidId", "invalid id `nope`");
});

test("db.patch / replace / delete(table, id, ...): an id of another table writes nothing", async () => {
    const { user, note } = await seed();
    for (const op of ["patch", "replace", "delete"])
        await refused("mutation", "tables:write", { op, table: "users", id: note }, "InvalidArgument",
            "Invalid argument `id`, expected ID in table 'users' but got ID in table 'notes'");
    assert.equal((await srv.value("query", "tables:get", { id: note })).text, "first");
    assert.equal((await srv.value("query", "tables:get", { id: user })).name, "ann");
    assert.equal(await srv.value("mutation", "tables:write", { op: "patch", table: "notes", id: note }), "patched");
    assert.equal(await srv.value("mutation", "tables:write", { op: "replace", table: "notes", id: note }), "replaced");
});

test("db.patch / replace with the document's own system fields in the value: accepted, another _id refused", async () => {
    const { user, note } = await seed();
    for (const op of ["patch", "replace"]) {
        assert.deepEqual(await srv.value("mutation", "tables:roundTrip", { id: note, op }),
                         { text: `${op} round trip`, sameCreation: true });
        await refused("mutation", "tables:roundTrip", { id: note, op, other: user }, "InvalidArgument",
            `db.${op}(): the value's _id (${user}) is not the id of the document it writes (${note})`);
    }
    assert.equal((await srv.value("query", "tables:get", { id: note })).text, "replace round trip");
});

test("db.table(name): get, query, insert, patch, replace, delete, its ids checked", async () => {
    const seeded = await seed();
    const r = await srv.value("mutation", "tables:viaTable", { user: seeded.user });
    assert.equal(r.patched, "patched by table");
    assert.ok(r.all.includes("replaced by table"), JSON.stringify(r.all));
    assert.equal(r.gone, null);
    assert.equal(r.refused, "Invalid argument `id`, expected ID in table 'notes' but got ID in table 'users'");
    assert.equal(r.tableName, "notes");
    const q = await srv.value("query", "tables:readTable", { job: seeded.job });
    assert.deepEqual(q, { users: ["ann"], job: "tables:later", jobs: 1, writable: "undefined" });
});

test("ctx.meta in a query: the function, the deployment, the metrics, the snapshot", async () => {
    await seed();
    const r = await srv.call("query", "meta:inQuery", {});
    assert.equal(r.status, 200, r.text);
    const m = r.json.value;
    assert.deepEqual(m.fn, { name: "meta:inQuery", componentPath: "", type: "query", visibility: "public" });
    assert.deepEqual(m.nested, { name: "meta:hidden", componentPath: "", type: "query", visibility: "internal" });
    assert.deepEqual(m.deployment, { name: "vireo", region: null, class: "s16" });
    assert.deepEqual(m.methods, ["getDeploymentMetadata", "getFunctionMetadata", "getSnapshotTs", "getTransactionMetrics"]);
    assert.deepEqual(Object.keys(m.before), ["bytesRead", "bytesWritten", "databaseQueries", "documentsRead",
        "documentsWritten", "functionsScheduled", "scheduledFunctionArgsBytes", "filesWritten", "fileWriteBytes",
        "filesRead", "fileReadBytes"]);
    assert.deepEqual(m.before.documentsRead, { used: 0, remaining: 32000 });
    assert.deepEqual(m.before.databaseQueries, { used: 0, remaining: 4096 });
    assert.deepEqual(m.before.bytesRead, { used: 0, remaining: 16 << 20 });
    assert.deepEqual(m.before.filesWritten, { used: 0, remaining: 0 });
    // two index ranges, the one user and at most one note
    assert.equal(m.after.databaseQueries.used, 2);
    assert.ok(m.after.documentsRead.used >= 1 && m.after.documentsRead.used <= 2, JSON.stringify(m.after));
    assert.equal(m.after.documentsRead.used + m.after.documentsRead.remaining, 32000);
    assert.ok(m.after.bytesRead.used > 20, JSON.stringify(m.after.bytesRead));
    assert.equal(m.snapshotType, "bigint");
    assert.equal(m.snapshot, String(r.json.version), "the snapshot is the version the answer was read at");
});

test("ctx.meta in a mutation: what it wrote and scheduled; nested calls share the snapshot", async () => {
    await seed();
    const before = (await srv.call("query", "meta:inQuery", {})).json.version;
    const r = await srv.call("mutation", "meta:inMutation", {});
    assert.equal(r.status, 200, r.text);
    const m = r.json.value;
    assert.deepEqual(m.fn, { name: "meta:inMutation", componentPath: "", type: "mutation", visibility: "public" });
    assert.deepEqual(m.methods, ["getDeploymentMetadata", "getFunctionMetadata", "getRequestMetadata",
        "getSnapshotTs", "getTransactionMetrics"]);
    assert.deepEqual(m.metrics.documentsWritten, { used: 2, remaining: 15998 });
    assert.ok(m.metrics.bytesWritten.used > 0);
    assert.deepEqual(m.metrics.functionsScheduled, { used: 1, remaining: 999 });
    assert.ok(m.metrics.scheduledFunctionArgsBytes.used > 100, JSON.stringify(m.metrics.scheduledFunctionArgsBytes));
    assert.equal(m.snapshot, String(before));
    assert.equal(r.json.version, before + 1, "it committed at the next version");
    assert.deepEqual(m.nested, { fn: { name: "meta:nestedMutation", componentPath: "", type: "mutation",
        visibility: "internal" }, snapshot: String(before) });
});

const token = (sub) => signHs256(SECRET, { iss: ISS, sub, exp: Math.floor(Date.now() / 1000) + 600 });
const HEX16 = /^[0-9a-f]{16}$/;

test("getRequestMetadata over HTTP: the client's address, User-Agent and token; nested calls share it", async () => {
    const tok = token("ann");
    const call = (kind, fn, headers) => request(srv.port, "POST", `/api/${kind}`, { path: fn, args: {} }, { headers });
    await seed();
    let r = await call("mutation", "meta:request", { "User-Agent": "ctx-test/1.0", Authorization: `Bearer ${tok}` });
    assert.equal(r.status, 200, r.text);
    let { own, nested } = r.json.value;
    assert.deepEqual(Object.keys(own), ["ip", "userAgent", "requestId", "scheduledFunctionId", "authToken"]);
    assert.equal(own.ip, "127.0.0.1");
    assert.equal(own.userAgent, "ctx-test/1.0");
    assert.match(own.requestId, HEX16);
    assert.equal(own.scheduledFunctionId, null);
    assert.equal(own.authToken, tok);
    assert.deepEqual(nested, own, "a nested mutation sees its caller's");
    // anonymous, and every request its own id
    r = await call("mutation", "meta:request", {});
    assert.equal(r.json.value.own.authToken, null);
    assert.notEqual(r.json.value.own.requestId, own.requestId);
    // an action, its nested mutation (on the shard's thread) and its nested action (on the worker)
    r = await call("action", "meta:requestInAction", { "User-Agent": "ctx-test/2.0", Authorization: `Bearer ${tok}` });
    assert.equal(r.status, 200, r.text);
    ({ own } = r.json.value);
    assert.equal(own.ip, "127.0.0.1");
    assert.equal(own.userAgent, "ctx-test/2.0");
    assert.equal(own.authToken, tok);
    assert.match(own.requestId, HEX16);
    assert.deepEqual(r.json.value.mutation, own);
    assert.deepEqual(r.json.value.action, own);
    // an HTTP action: its request's (a token its providers accept)
    r = await request(srv.port, "POST", "/request", "{}", { headers: { "User-Agent": "ctx-test/3.0", Authorization: `Bearer ${tok}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.userAgent, "ctx-test/3.0");
    assert.equal(r.json.authToken, tok);
    assert.equal(r.json.ip, "127.0.0.1");
    // a refused token gives an anonymous HTTP action (as in Convex): no token
    r = await request(srv.port, "POST", "/request", "{}", { headers: { Authorization: "Bearer not.a.jwt" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.authToken, null);
    // the admin key is no token
    r = await srv.admin("meta:request", {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value.own.authToken, null);
    assert.equal(r.json.value.own.ip, "127.0.0.1");
});

test("getRequestMetadata over the sync protocols: the socket's address and User-Agent, the session's token", async () => {
    await seed();
    const { default: WebSocket } = await import("ws");
    for (const convex of [false, true]) {
        const url = `ws://127.0.0.1:${srv.port}${convex ? "/api/1.48.0/sync" : "/api/sync"}`;
        const ws = new WebSocket(url, { headers: { "User-Agent": `sync-test/${convex}` } });
        const c = new SyncConn(ws);
        await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
        const tok = token(convex ? "convex" : "vireo");
        let m;
        if (convex) {
            c.send({ type: "Connect", sessionId: crypto.randomUUID(), connectionCount: 0, lastCloseReason: null });
            c.send({ type: "Authenticate", tokenType: "User", value: tok, baseVersion: 0 });
            c.send({ type: "Mutation", requestId: 1, udfPath: "meta:request", args: [{}] });
            m = await c.waitMsg((x) => x.type === "MutationResponse" && x.requestId === 1, { what: "MutationResponse" });
            assert.equal(m.success, true, JSON.stringify(m));
            m = m.result;
        } else {
            await c.connect();
            c.send({ type: "authenticate", token: tok });
            await c.waitMsg("authenticated");
            m = await c.call("mutation", "r1", "meta:request", {});
            assert.equal(m.success, true, JSON.stringify(m));
            m = m.value;
        }
        assert.equal(m.own.ip, "127.0.0.1");
        assert.equal(m.own.userAgent, `sync-test/${convex}`);
        assert.equal(m.own.authToken, tok);
        assert.equal(m.own.scheduledFunctionId, null);
        assert.match(m.own.requestId, HEX16);
        assert.deepEqual(m.nested, m.own);
        ws.close();
    }
});

test("getRequestMetadata in scheduled runs: the job's id, no client; their nested calls share it", async () => {
    await seed();
    const job = await srv.value("mutation", "meta:scheduleRequest", { action: false });
    const jobA = await srv.value("mutation", "meta:scheduleRequest", { action: true });
    const rows = await waitFor(async () => {
        const r = await srv.value("query", "meta:recorded", {});
        return r.length >= 2 ? r : null;
    }, { timeout: 10000, what: "both scheduled runs" });
    const byJob = Object.fromEntries(rows.map((x) => [x.meta.scheduledFunctionId, x]));
    for (const id of [job, jobA]) {
        const x = byJob[id];
        assert.ok(x, `no run recorded for ${id}: ${JSON.stringify(rows)}`);
        assert.equal(x.meta.ip, null);
        assert.equal(x.meta.userAgent, null);
        assert.equal(x.meta.authToken, null);
        assert.match(x.meta.requestId, HEX16);
    }
    assert.deepEqual(byJob[jobA].nested, byJob[jobA].meta, "the scheduled action's nested mutation");
});

test("ctx.meta in an action and an HTTP action: no transaction methods", async () => {
    await seed();
    const m = await srv.value("action", "meta:inAction", {});
    assert.deepEqual(m.fn, { name: "meta:inAction", componentPath: "", type: "action", visibility: "public" });
    assert.deepEqual(m.deployment, { name: "vireo", region: null, class: "s16" });
    assert.deepEqual(m.methods, ["getDeploymentMetadata", "getFunctionMetadata", "getRequestMetadata"]);
    assert.deepEqual(m.query, { name: "meta:hidden", componentPath: "", type: "query", visibility: "internal" });
    const h = await srv.get("/meta");
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.json, { fn: { name: "GET /meta", componentPath: "", type: "action", visibility: "public" },
        methods: ["getDeploymentMetadata", "getFunctionMetadata", "getRequestMetadata"] });
});

test("db.vars.commitTs: the mutation's commit timestamp, ordered as the commits are", async () => {
    await seed();
    const a = await srv.call("mutation", "commit:add", { label: "a" });
    const b = await srv.call("mutation", "commit:add", { label: "b" });
    assert.equal(a.status, 200, a.text);
    // it is the version the mutation committed at, after its snapshot
    assert.equal(a.json.value.back, String(a.json.version));
    assert.equal(a.json.value.backType, "bigint");
    assert.equal(BigInt(a.json.value.snapshot) + 1n, BigInt(a.json.value.back));
    assert.equal(b.json.value.back, String(b.json.version));
    assert.ok(BigInt(b.json.value.back) > BigInt(a.json.value.back));
    // one mutation's writes share it; a patch moves `a` after `b` in the index
    const c = await srv.call("mutation", "commit:addTwoAndTouch", { touch: a.json.value.id });
    assert.equal(c.status, 200, c.text);
    const list = await srv.value("query", "commit:list", {});
    const mine = list.filter(([l]) => ["a", "b", "x1", "x2"].includes(l));
    assert.deepEqual(mine, [["b", b.json.value.back], ["a", String(c.json.version)],
        ["x1", String(c.json.version)], ["x2", String(c.json.version)]]);
});

test("db.vars.commitTs outside a write, and v.commitTs(): Convex's refusals and values", async () => {
    await seed();
    const unresolved = "This commit timestamp is unresolved: its value is assigned when the mutation " +
        "commits. Read the document after the mutation completes to get its value.";
    let r = await srv.call("mutation", "commit:misuse", { how: "return" });
    assert.equal(r.json.errorMessage, `return value: ${unresolved}`, r.text);
    r = await srv.call("mutation", "commit:misuse", { how: "number" });
    assert.equal(r.json.errorMessage, unresolved, r.text);
    r = await srv.call("mutation", "commit:misuse", { how: "schedule" });
    assert.equal(r.json.errorMessage, `scheduled function arguments: ${unresolved}`, r.text);
    await refused("mutation", "commit:misuse", { how: "wrongType" }, "SchemaValidationError",
        'Failed to insert or update a document in table "events" because it does not match the schema: Value does not match validator.\nPath: .at\nValue: "soon"\nValidator: v.commitTs()');
    // nothing of the failed calls was written
    assert.ok(!(await srv.value("query", "commit:list", {})).some(([l]) => l === "bad"));
    // as an argument it takes an int64
    const v = await srv.value("query", "commit:values", { at: { $integer: "BQAAAAAAAAA=" } });
    assert.deepEqual(v, { at: "5", json: '{"at":{"$commitTs":null}}', isPlaceholder: true,
        text: "[unresolved commit timestamp]", kind: "commitTs", validator: { type: "commitTs" } });
    await refused("query", "commit:values", { at: 5 }, "ArgumentValidationError",
        "Value does not match validator.\nPath: .at\nValue: 5.0\nValidator: v.commitTs()");
});

test("transactionLimits of a nested call: lower limits for it alone, Convex's errors with its limit", async () => {
    await seed();
    await srv.value("mutation", "limits:fill", { n: 6 });
    const q = (args, options, fn = "readN") => srv.value("query", "limits:nestedQuery", { fn, args, options });
    const docsErr = (n) => `Too many documents read in a single function execution (limit: ${n}). ` +
        "Consider using smaller limits in your queries, paginating your queries, or using indexed " +
        "queries with a selective index range expressions.";
    // within the limit, and past it: the nested call fails, the caller goes on reading unlimited
    assert.deepEqual(await q({ n: 3 }, { transactionLimits: { documentsRead: 3 } }), { value: 3, after: 6 });
    assert.deepEqual(await q({ n: 4 }, { transactionLimits: { documentsRead: 3 } }),
        { error: docsErr(3), code: "TooManyDocumentsRead", after: 6 });
    assert.deepEqual(await q({ n: 1 }, { transactionLimits: { documentsRead: 0 } }),
        { error: docsErr(0), code: "TooManyDocumentsRead", after: 6 });
    // index ranges; a limit above the transaction's changes nothing; the file limits and
    // useStaleSnapshot are accepted
    const r = await q({ n: 1, queries: 3 }, { transactionLimits: { databaseQueries: 2 } });
    assert.equal(r.code, "TooManyReads", JSON.stringify(r));
    assert.match(r.error, /^Too many reads in a single function execution \(limit: 2\)/);
    assert.deepEqual(await q({ n: 5 }, { transactionLimits: { documentsRead: 1e9, filesRead: 0 }, useStaleSnapshot: true }),
        { value: 5, after: 6 });
    // a nested call inside the limited one counts toward it
    assert.deepEqual(await q({ own: 2, inner: 2 }, { transactionLimits: { documentsRead: 3 } }, "readThenNested"),
        { error: docsErr(3), code: "TooManyDocumentsRead", after: 6 });
    assert.deepEqual(await q({ own: 2, inner: 1 }, { transactionLimits: { documentsRead: 3 } }, "readThenNested"),
        { value: 3, after: 6 });
    // writes and scheduling: the nested mutation past its limit is rolled back; the caller writes on
    const m = (args, options) => srv.value("mutation", "limits:nestedMutation", { args, options });
    assert.deepEqual(await m({ n: 2 }, { transactionLimits: { documentsWritten: 2 } }), { value: 2, written: 2 });
    assert.deepEqual(await m({ n: 3 }, { transactionLimits: { documentsWritten: 2 } }),
        { error: "Too many writes in a single function execution (limit: 2)", code: "TooManyWrites", written: 0 });
    assert.deepEqual(await m({ n: 0, schedule: 2 }, { transactionLimits: { functionsScheduled: 1 } }),
        { error: "Too many functions scheduled by this function (limit: 1)", code: "TooManyScheduledFunctions", written: 0 });
    assert.deepEqual(await m({ n: 0, schedule: 1 }, { transactionLimits: { scheduledFunctionArgsBytes: 1 } }),
        { error: "Too large total size of the arguments of functions scheduled by this function (limit: 1 bytes)",
          code: "ScheduledFunctionsArgumentsTooLarge", written: 0 });
    // misuse: a precise TypeError, nothing run
    const bad = async (options, re) => {
        const x = await q({ n: 1 }, options);
        assert.match(x.error ?? "", re, JSON.stringify(x));
    };
    await bad({ transactionLimits: { documentRead: 1 } }, /^ctx\.runQuery\(\): transactionLimits\.documentRead is not a transaction limit \(documentsRead, /);
    await bad({ transactionLimits: { documentsRead: -1 } }, /transactionLimits\.documentsRead must be a non-negative integer, got -1$/);
    await bad({ transactionLimits: { documentsRead: "3" } }, /transactionLimits\.documentsRead must be a non-negative integer, got string$/);
    await bad({ transactionLimits: 3 }, /^ctx\.runQuery\(\): transactionLimits must be an object, got number$/);
    await bad(5, /^ctx\.runQuery\(\): options must be an object, got number$/);
});
