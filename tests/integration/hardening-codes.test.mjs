// Error codes of store failures (issue 7): the code comes from the kind of failure the store
// reports, never from words in its message, which names the app's own fields, tables and ids.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, assertAppLoaded } from "./helpers.mjs";

let srv;
before(async () => {
    srv = await startServer(tempDir("hardening-codes"), { cmd: "serve" });
    await assertAppLoaded(srv);
});
after(async () => {
    if (srv) await srv.stop();
});

async function expectCode(kind, fn, args, code, msg) {
    const r = await srv.call(kind, fn, args);
    assert.equal(r.json?.errorCode, code, `${fn} ${JSON.stringify(args)}: ${r.text}`);
    if (msg) assert.match(r.json.errorMessage, msg);
    return r;
}

test("an invalid id holding 'schema' and 'not found' is InvalidId", async () => {
    await expectCode("query", "codes:getId", { id: "schema not found" }, "InvalidId",
        /invalid id `schema not found`/);
    await expectCode("mutation", "codes:patchId", { id: "schema not found" }, "InvalidId",
        /invalid id `schema not found`/);
    await expectCode("mutation", "codes:patchId", { id: "plain" }, "InvalidId");
});

test("a schema mismatch in a table named schema_not_found is SchemaValidationError", async () => {
    await expectCode("mutation", "codes:insertWrong", {}, "SchemaValidationError",
        /does not match the schema/);
    await expectCode("mutation", "codes:deleteTwice", {}, "DocumentNotFound", /not found/);
    const r = await srv.query("codes:getId", { id: "x" });
    assert.equal(r.json?.errorCode, "InvalidId", "the server keeps serving");
});

test("what cannot be sent is reported for what it is, never as another error; the writes roll back", async () => {
    const cases = [
        ["deepData", /^ConvexError data: value is nested more than 64 levels deep$/],
        ["cyclicData", /^ConvexError data: value is nested more than 64 levels deep$/],
        ["fnData", /^ConvexError data: function is not a supported value$/],
        ["msgGetter", /^the function threw a value that could not be read: inner$/],
        ["proxyErr", /^the function threw a value that could not be read: pget$/],
        ["returnDate", /^return value: Date is not a supported value \(use plain objects\)$/],
    ];
    for (const [kind, re] of cases)
        await expectCode("mutation", "codes:unsendable", { kind }, "FunctionFailed", re);
    assert.equal((await srv.call("mutation", "codes:unsendable", { kind: "none" })).json.value, "Date");
    const before = (await srv.call("query", "codes:countDocs", {})).json.value;
    await expectCode("mutation", "codes:unsendable", { kind: "proxyErr" }, "FunctionFailed");
    assert.equal((await srv.call("query", "codes:countDocs", {})).json.value, before);
});
