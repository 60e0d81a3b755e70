// Protocol hardening (issue 7 review) on apps/hardening-proto: app and client mistakes answer
// 4xx with a precise errorCode, server faults 5xx; the 64-level nesting limit is one definition
// in the prelude, the argument check and the store (63 and 64 levels pass, 65 is ValueTooDeep);
// an action finishing while a batch is open reports a committed version and is not failed with
// that batch (`--test-fail-commit`); a damaged admin_key file stops the server instead of being
// replaced by a new key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    startServer, tempDir, assertAppLoaded, runCli, sleep, waitFor, RawConn, httpRequestBytes,
    SyncConn,
} from "./helpers.mjs";

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

test("2. Convex's value widths: an object of 1,025 fields or an array of 8,193 elements is refused before it is parsed", { timeout: 30000 }, async () => {
    const wide = Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [`k${i}`, i]));
    const long = Array.from({ length: 8193 }, (_, i) => i);
    // at the limits they pass
    const ok = await srv.query("errs:anyDepth", { x: [Object.fromEntries(Object.entries(wide).slice(0, 1024)), long.slice(0, 8192)] });
    assert.equal(ok.status, 200, ok.text);
    for (const [x, re] of [[wide, /an object has more than 1024 fields/], [{ a: [long] }, /an array has more than 8192 elements/]]) {
        await expectError(await srv.query("errs:anyDepth", { x }), 400, "BadJsonBody",
                          new RegExp(`^invalid JSON body: ${re.source} \\(Convex's value limits\\)$`));
        // over the sync protocol: the call's own error, the session goes on
        const c = await SyncConn.open(srv.port);
        await c.connect();
        const from = c.mark;
        c.send({ type: "mutation", requestId: 7, path: "errs:seed", args: { x } });
        const e = await c.waitMsg("error", { from });
        assert.equal(e.code, "InvalidMessage");
        assert.equal(e.requestId, 7);
        assert.match(e.message, re);
        c.close();
    }
    // a million fields in one object (it once held the loop ~1.4 s while jansson built its
    // table, and was then accepted)
    const huge = {};
    for (let i = 0; i < 1000000; i++) huge[`k${i}`] = 1;
    const r = await srv.query("errs:anyDepth", { x: huge }, { timeout: 30000 });
    assert.equal(r.status, 400, r.text.slice(0, 300));
    assert.match(r.json.errorMessage, /an object has more than 1024 fields/);
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

test("4. an empty, too long or garbled admin_key is refused, never replaced", { timeout: 60000 }, async () => {
    const dir = tempDir("hardening-proto");
    const file = path.join(dir, ".vireo/admin_key");
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const cases = [
        ["", /admin_key is empty/],
        ["\n", /admin_key is empty/],
        ["k".repeat(65) + "\n", /admin_key holds 65 characters, more than the 64/],
        ["abc\u0001def\n", /admin_key holds byte 0x01 at offset 3/],
    ];
    for (const [content, re] of cases) {
        fs.writeFileSync(file, content, { mode: 0o600 });
        for (const args of [["serve", dir, "--port", "0"], ["dev", dir, "--port", "0"], ["admin-key", dir]]) {
            const r = await runCli(args);
            assert.equal(r.code, 1, `${args[0]} with ${JSON.stringify(content)}: ${r.stdout}${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^vireo ${args[0]}: .*${file.replace(/[.]/g, "\\.")}`));
            assert.match(r.stderr, re);
            assert.match(r.stderr, /never changes silently/);
            assert.ok(!/listening on/.test(r.stdout), r.stdout);
            assert.equal(fs.readFileSync(file, "utf8"), content, `${args[0]} changed the admin_key file`);
        }
        const r = await runCli(["run", "errs:argsDepth", "{}", "--url", "http://127.0.0.1:1"], { cwd: dir });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, re);
    }
    // a key with a trailing newline and spaces is read as it is
    fs.writeFileSync(file, "my-key-1 \n");
    const r = await runCli(["admin-key", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "my-key-1\n");
});

/* Item 3: the loop thread is held by a runaway query (QUERY_LIMIT_MS) while an action finishes
 * on its worker and a mutation that fails to commit arrives: both are handled in the same loop
 * iteration, in the order they became ready. */
const QUERY_LIMIT_MS = 2000;

async function failServer() {
    const s = await startServer(tempDir("hardening-proto"), {
        cmd: "serve", args: ["--timeout-ms", String(QUERY_LIMIT_MS), "--test-fail-commit", "failbox"],
    });
    await assertAppLoaded(s);
    return s;
}

/* Waits until the store's committed version passes `v`; returns it. */
async function committedPast(s, v) {
    let now = v;
    await waitFor(async () => (now = (await s.query("acts:ping", {})).json.version) > v,
        { timeout: 10000, interval: 10, what: `a version past ${v}` });
    return now;
}

function mutationBytes(fnPath) {
    return httpRequestBytes("POST", "/api/mutation", { body: { path: fnPath, args: {} } });
}

test("3. --test-fail-commit: a batch inserting into the table fails, StoreError, nothing kept", { timeout: 30000 }, async () => {
    const s = await failServer();
    try {
        const r = await s.mutation("acts:fail", {});
        assert.equal(r.status, 500, r.text);
        assert.equal(r.json.errorCode, "StoreError");
        /* logged before the answer was sent, but read from another pipe: it may come after */
        await s.waitStderr(/commit of a batch failed.*--test-fail-commit/);
        const ok = await s.mutation("acts:ok", {});
        assert.equal(ok.status, 200, ok.text);
    } finally {
        await s.stop();
    }
});

test("3a. an HTTP action finishing while a batch is open reports the committed version", { timeout: 60000 }, async () => {
    const s = await failServer();
    try {
        const m = await RawConn.open(s.port); // idle now: its request is read when it is sent
        const start = (await s.query("acts:ping", {})).json.version;
        const a = s.action("acts:spinThenDone", { ms: 1000 }, { timeout: 30000 });
        const v0 = await committedPast(s, start); // the action's own mutation; now it spins
        const q = s.query("acts:runaway", {}, { timeout: 30000 }); // holds the loop thread
        await sleep(300);
        m.write(mutationBytes("acts:fail")); // ready before the action finishes
        const [ar, qr] = await Promise.all([a, q]);
        const [mr] = await m.responses(1, 20000);
        m.destroy();
        assert.equal(qr.json?.errorCode, "ExecutionTimeout", qr.text);
        assert.equal(mr.status, 500, mr.text);
        assert.equal(mr.json.errorCode, "StoreError");
        assert.equal(ar.status, 200, ar.text);
        // the failed batch's version was never committed: the action must not report it
        assert.equal(ar.json.version, v0, `action reported ${ar.json.version}, committed ${v0}`);
        const after = await s.query("acts:ping", {});
        assert.equal(after.json.version, v0);
    } finally {
        await s.stop();
    }
});

test("3b. a sync action answered in the iteration of a failed batch is not failed with it", { timeout: 60000 }, async () => {
    const s = await failServer();
    try {
        const c = await SyncConn.open(s.port);
        await c.connect();
        const start = (await s.query("acts:ping", {})).json.version;
        const a = c.call("action", 1, "acts:spinThenDone", { ms: 600 });
        await committedPast(s, start); // the action's own mutation; now it spins
        const q = s.query("acts:runaway", {}, { timeout: 30000 }); // holds the loop thread
        await sleep(1100); // the action finished meanwhile: its answer is ready first
        const m = c.call("mutation", 2, "acts:fail", {});
        const [ar, mr, qr] = await Promise.all([a, m, q]);
        assert.equal(qr.json?.errorCode, "ExecutionTimeout", qr.text);
        assert.equal(mr.success, false, JSON.stringify(mr));
        assert.equal(mr.errorCode, "StoreError");
        assert.equal(ar.success, true, JSON.stringify(ar));
        assert.equal(typeof ar.value, "string");
        c.close();
    } finally {
        await s.stop();
    }
});

test("5. runtime errors name vireo/file.ts:line, not bundle positions (log and message)", { timeout: 30000 }, async () => {
    const from = srv.stderr.length;
    assert.equal((await srv.query("logs:logError", {})).status, 200);
    const log = await srv.waitStderr(/logs:logError: Error: logged here\n(.*\n)+/, { from });
    assert.match(log[0], /@vireo\/logs\.ts:7\n/);
    assert.doesNotMatch(log[0], /vireo\/:\d+:\d+/);
    const r = await srv.query("logs:throwStack", {});
    assert.equal(r.status, 500, r.text);
    assert.match(r.json.errorMessage, /^wrapped: @vireo\/logs\.ts:15\n/);
    assert.doesNotMatch(r.json.errorMessage, /vireo\/:\d+/);
    // a message without positions is left alone
    assert.equal((await srv.query("logs:throwPlain", {})).json.errorMessage, "no positions in this message");
});
