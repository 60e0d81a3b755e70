// Protocol hardening (issue 7 review) on apps/hardening-proto: app and client mistakes answer
// 4xx with a precise errorCode, server faults 5xx; the 64-level nesting limit is one definition
// in the prelude, the argument check and the store (63 and 64 levels pass, 65 is ValueTooDeep).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, assertAppLoaded } from "./helpers.mjs";

let srv;
before(async () => {
    srv = await startServer(tempDir("hardening-proto"), { cmd: "serve" });
    await assertAppLoaded(srv);
});
after(async () => {
    if (srv) await srv.stop();
});

/* A value `levels` arrays/objects deep (itself counted), as the app's nest() builds it. */
function nest(levels) {
    let x = 1;
    for (let i = 0; i < levels; i++) x = i % 2 ? [x] : { a: x };
    return x;
}

async function expectError(r, status, code, re) {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json?.status, "error", r.text);
    assert.equal(r.json.errorCode, code, r.text);
    if (re) assert.match(r.json.errorMessage, re);
}

async function stillServes() {
    const r = await srv.query("errs:argsDepth", {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, 1);
}

test("1. app mistakes answer 400 with their code, not 500", { timeout: 60000 }, async () => {
    assert.equal((await srv.mutation("errs:seed", {})).status, 200);
    await expectError(await srv.mutation("errs:bigDoc", {}), 400, "ValueTooLarge", /too large/);
    await expectError(await srv.query("errs:bigValue", {}), 400, "ValueTooLarge", /larger than/);
    await expectError(await srv.query("errs:tooManyQueries", {}), 400, "TooManyQueries",
        /more than 16 queries/);
    await expectError(await srv.mutation("errs:patchMissing", {}), 400, "DocumentNotFound");
    await expectError(await srv.query("errs:badId", {}), 400, "InvalidId");
    // an Error the function throws itself stays a 500 FunctionFailed (docs/protocol.md)
    await expectError(await srv.mutation("errs:throwPlain", {}), 500, "FunctionFailed", /boom/);
    await stillServes();
});

test("2. arguments nested 63/64 levels pass, 65 is a 400 (with and without validators)", { timeout: 30000 }, async () => {
    for (const fn of ["errs:argsDepth", "errs:anyDepth"]) {
        for (const levels of [63, 64]) {
            const r = await srv.query(fn, { x: nest(levels - 1) });
            assert.equal(r.status, 200, `${fn} ${levels}: ${r.text}`);
            assert.equal(r.json.value, levels, `${fn} ${levels}`);
        }
        await expectError(await srv.query(fn, { x: nest(64) }), 400, "ArgumentValidationError",
            /nested more than 64 levels deep/);
    }
    // deeper still, and wrappers ($integer) at the innermost level are values, not levels
    await expectError(await srv.query("errs:argsDepth", { x: nest(200) }), 400,
        "ArgumentValidationError", /nested more than 64 levels deep/);
    let w = { $integer: "AQAAAAAAAAA=" };
    for (let i = 0; i < 63; i++) w = [w];
    const r = await srv.query("errs:argsDepth", { x: w });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, 64);
    await stillServes();
});

test("2. documents nested 63/64 levels are stored, 65 is ValueTooDeep (400), not StoreError", { timeout: 30000 }, async () => {
    for (const levels of [63, 64]) {
        const r = await srv.mutation("errs:insertDeep", { levels });
        assert.equal(r.status, 200, `${levels}: ${r.text}`);
        assert.equal(r.json.value, levels);
    }
    await expectError(await srv.mutation("errs:insertDeep", { levels: 65 }), 400, "ValueTooDeep",
        /nested more than 64 levels deep/);
    // an argument that passed the argument check is storable as a field
    const ok = await srv.mutation("errs:insertArg", { x: nest(63) });
    assert.equal(ok.status, 200, ok.text);
    // return values: the same limit
    assert.equal((await srv.query("errs:returnDeep", { levels: 64 })).status, 200);
    await expectError(await srv.query("errs:returnDeep", { levels: 65 }), 400, "ValueTooDeep");
    await stillServes();
});
