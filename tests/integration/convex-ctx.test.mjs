// Convex 1.48's function context (apps/convex-ctx): the table-first forms of ctx.db and
// db.table(name), whose ids must be the table's; ctx.meta in queries, mutations, actions and
// HTTP actions; db.vars.commitTs and v.commitTs().
import assert from "node:assert/strict";
import { sharedServer } from "./helpers.mjs";

const { test, server } = sharedServer("convex-ctx");
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
    // system tables: through db.system only, both ways round
    await refused("query", "tables:get", { table: "_scheduled_functions", id: job }, "InvalidArgument",
        "System tables can only be accessed with db.system.");
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
    assert.equal(m.request, "ctx.meta.getRequestMetadata() is not supported by Vireo");
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
        "document in `events` does not match the schema: field `at`: expected commitTs, got string");
    // nothing of the failed calls was written
    assert.ok(!(await srv.value("query", "commit:list", {})).some(([l]) => l === "bad"));
    // as an argument it takes an int64
    const v = await srv.value("query", "commit:values", { at: { $integer: "BQAAAAAAAAA=" } });
    assert.deepEqual(v, { at: "5", json: '{"at":{"$commitTs":null}}', isPlaceholder: true,
        text: "[unresolved commit timestamp]", kind: "commitTs", validator: { type: "commitTs" } });
    await refused("query", "commit:values", { at: 5 }, "ArgumentValidationError",
        "argument `at`: expected commitTs, got number");
});
