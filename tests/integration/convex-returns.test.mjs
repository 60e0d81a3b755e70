// `returns` validators (Convex's ReturnsValidationError texts) for queries, mutations (whose
// writes roll back), actions and nested calls; ctx.db.system (read-only, empty system tables,
// writes refused); query.count() over HTTP and live over the sync protocol (apps/convex-returns).
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
    startServer, tempDir, guardServer, guardedTest, assertAppLoaded, sleep, SyncConn, modOf,
} from "./helpers.mjs";

let srv;
const start = async () => {
    srv = await startServer(tempDir("convex-returns"));
};
before(async () => {
    await start();
    await assertAppLoaded(srv);
});
guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);
after(async () => {
    if (srv) await srv.stop();
});

async function fails(kind, fn, args = {}) {
    const r = await srv.call(kind, fn, args);
    assert.equal(r.json?.status, "error", r.text);
    return r;
}

test("a result that matches its returns validator passes (undefined is null)", async () => {
    assert.deepEqual(await srv.value("query", "fns:good", {}), { count: 3 });
    assert.equal(await srv.value("query", "fns:nullReturn", {}), null);
});

test("a missing field: Convex's text, the function named, HTTP 500", async () => {
    const r = await fails("query", "fns:missingField");
    assert.equal(r.status, 500);
    assert.equal(r.json.errorCode, "ReturnsValidationError");
    assert.equal(
        r.json.errorMessage,
        "ReturnsValidationError: Object is missing the required field `count`. Consider wrapping " +
            "the field validator in `v.optional(...)` if this is expected.\n\n" +
            "Object: {total: 3.0}\n" +
            "Validator: v.object({count: v.float64(), total: v.float64()})\n" +
            "Function: fns:missingField",
    );
});

test("an extra field, a wrong type deep inside, a literal union", async () => {
    let r = await fails("query", "fns:extraField");
    assert.equal(
        r.json.errorMessage,
        "ReturnsValidationError: Object contains extra field `secret` that is not in the " +
            "validator.\n\nObject: {count: 1.0, secret: \"x\"}\nValidator: v.object({count: " +
            "v.float64()})\nFunction: fns:extraField",
    );
    r = await fails("query", "fns:wrongType");
    assert.equal(
        r.json.errorMessage,
        "ReturnsValidationError: Value does not match validator.\nPath: .rows[1].n\n" +
            "Value: \"2\"\nValidator: v.float64()\nFunction: fns:wrongType",
    );
    r = await fails("query", "fns:wrongLiteral");
    assert.equal(
        r.json.errorMessage,
        "ReturnsValidationError: Value does not match validator.\n\nValue: \"c\"\n" +
            "Validator: v.union(v.literal(\"a\"), v.literal(\"b\"))\nFunction: fns:wrongLiteral",
    );
});

test("a mutation whose result fails its validator leaves no write behind", async () => {
    const before_ = await srv.value("query", "fns:countGroup", { group: "rollback" });
    const r = await fails("mutation", "fns:insertThenBreak", { group: "rollback" });
    assert.equal(r.json.errorCode, "ReturnsValidationError");
    assert.match(r.json.errorMessage, /^ReturnsValidationError: Value does not match validator\.\n\nValue: 42\.0\nValidator: v\.id\("items"\)\nFunction: fns:insertThenBreak$/);
    assert.equal(await srv.value("query", "fns:countGroup", { group: "rollback" }), before_);
    // an id of the right table passes
    const id = await srv.value("mutation", "fns:insert", { group: "rollback", n: 1 });
    assert.equal(typeof id, "string");
    assert.equal(await srv.value("query", "fns:countGroup", { group: "rollback" }), before_ + 1);
});

test("actions: their own result and their nested calls' results are checked", async () => {
    const r = await fails("action", "fns:actionBreaks");
    assert.equal(r.json.errorCode, "ReturnsValidationError");
    assert.equal(
        r.json.errorMessage,
        "ReturnsValidationError: Value does not match validator.\n\nValue: 7.0\n" +
            "Validator: v.string()\nFunction: fns:actionBreaks",
    );
    assert.equal(
        await srv.value("action", "fns:actionNested", {}),
        "ReturnsValidationError: ReturnsValidationError: Value does not match validator.\n\n" +
            "Value: \"not a number\"\nValidator: v.float64()\nFunction: fns:brokenInternal",
    );
    assert.equal(typeof (await srv.value("action", "fns:actionGood", {})), "number");
});

test("the same error over the sync protocol", async () => {
    const c = await SyncConn.open(srv.port);
    try {
        await c.connect();
        const t = await c.subscribe(1, "fns:missingField", {});
        const m = modOf(t, 1);
        assert.equal(m.type, "QueryFailed");
        assert.match(JSON.stringify(m), /ReturnsValidationError: Object is missing the required field `count`/);
        const resp = await c.call("mutation", 1, "fns:insertThenBreak", { group: "sync-rb" });
        assert.equal(resp.success, false, JSON.stringify(resp));
        assert.match(JSON.stringify(resp), /ReturnsValidationError/);
        assert.equal(await srv.value("query", "fns:countGroup", { group: "sync-rb" }), 0);
    } finally {
        c.close();
    }
});

test("ctx.db.system: system tables read as empty, user tables refused, writes refused", async () => {
    assert.deepEqual(await srv.value("query", "fns:system", {}), { scheduled: [], files: [], n: 0, first: null });
    assert.equal(await srv.value("mutation", "fns:systemInMutation", {}), 0);
    let r = await fails("query", "fns:systemBadTable");
    assert.equal(r.json.errorMessage, "db.system.query(): `items` is not a system table (system tables: _scheduled_functions, _storage); use db.query()");
    r = await fails("query", "fns:querySystemDirect");
    assert.equal(r.json.errorMessage, "db.query(): `_storage` is a system table; read it with db.system.query()");
    r = await fails("mutation", "fns:writeSystem");
    assert.equal(r.json.errorMessage, "db.insert(): `_storage` is a system table; system tables are read-only (read them with ctx.db.system)");
    const id = await srv.value("mutation", "fns:insert", { group: "sys", n: 1 });
    r = await fails("query", "fns:systemGetUserId", { id });
    assert.match(r.json.errorMessage, /^db\.system\.get\(\): `.+` is a document of `items`, not of a system table; use db\.get\(\)$/);
});

test("count(): the number of documents, with an index range and with a filter", async () => {
    for (let i = 0; i < 5; i++) await srv.value("mutation", "fns:insert", { group: "cnt", n: i * 10 });
    assert.equal(await srv.value("query", "fns:countGroup", { group: "cnt" }), 5);
    assert.equal(await srv.value("query", "fns:countGroup", { group: "none" }), 0);
    const all = await srv.value("query", "fns:countAll", {});
    assert.ok(all >= 5);
    // 300 more documents: more than one scan batch (256)
    for (let i = 0; i < 300; i++) await srv.value("mutation", "fns:insert", { group: "big", n: 1000 + i });
    assert.equal(await srv.value("query", "fns:countGroup", { group: "big" }), 300);
    assert.equal(await srv.value("query", "fns:countBig", { min: 1200 }), 100);
    assert.equal(await srv.value("query", "fns:countAll", {}), all + 300);
});

test("a live count() is re-run by a write in its range and only then", async () => {
    const c = await SyncConn.open(srv.port);
    try {
        await c.connect();
        const t = await c.subscribe(7, "fns:countGroup", { group: "live" });
        assert.equal(modOf(t, 7).value, 0);
        let from = c.mark;
        await srv.value("mutation", "fns:insert", { group: "live", n: 1 });
        let u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 7), { from });
        assert.equal(modOf(u, 7).value, 1);
        from = c.mark;
        await srv.value("mutation", "fns:insert", { group: "live", n: 2 });
        u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 7), { from });
        assert.equal(modOf(u, 7).value, 2);
        // a write outside the counted range (another group) does not change it
        from = c.mark;
        await srv.value("mutation", "fns:insert", { group: "livf", n: 3 });
        await sleep(150);
        assert.equal(c.transitions(from).filter((m) => modOf(m, 7)).length, 0);
        // a delete inside it does
        from = c.mark;
        assert.equal(await srv.value("mutation", "fns:removeOne", { group: "live" }), true);
        u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 7), { from });
        assert.equal(modOf(u, 7).value, 1);
    } finally {
        c.close();
    }
});
