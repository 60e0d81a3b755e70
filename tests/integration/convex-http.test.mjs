// Convex's shape of the HTTP API, driven by the official `ConvexHttpClient` (convex 1.48.0, from
// "convex/browser") against a real `vireo dev` on apps/convex-http: queries, mutations, actions,
// console lines (logLines) through the client's logger, ConvexError data, int64/bytes/NaN/±Infinity/-0
// round trips, unknown and internal functions, wrong kinds, bad arguments; then raw HTTP for the
// shape's edge cases (args arrays of 0 or 2, args not an array, unknown format, malformed bodies,
// clean "json" values, the log bounds) and Vireo's own shape beside it.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { anyApi } from "convex/server";
import { startServer, tempDir, guardServer, guardedTest, assertAppLoaded } from "./helpers.mjs";

const api = anyApi;
let srv;
let appDir;
const start = async () => {
    srv = await startServer(appDir);
};

before(async () => {
    appDir = tempDir("convex-http");
    await start();
    await assertAppLoaded(srv);
});

guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

after(async () => {
    if (srv) await srv.stop();
});

/* A client whose logger records what the client prints for logLines. */
function client() {
    const printed = [];
    const logger = {
        log: (...a) => printed.push(["log", ...a]),
        warn: (...a) => printed.push(["warn", ...a]),
        error: (...a) => printed.push(["error", ...a]),
        logVerbose() {},
    };
    const c = new ConvexHttpClient(srv.url, { skipConvexDeploymentUrlCheck: true, logger });
    return { c, printed };
}

const REQUEST_ID = "\\[Request ID: [0-9a-f]{16}\\] Server Error\\n";

async function thrown(p) {
    try {
        await p;
    } catch (e) {
        return e;
    }
    assert.fail("expected the call to throw");
}

const convexHeaders = { "Convex-Client": "npm-1.48.0" };
const raw = (kind, body, headers = convexHeaders) => srv.post(`/api/${kind}`, body, { headers });

test("query, mutation and action through ConvexHttpClient", { timeout: 10000 }, async () => {
    const { c } = client();
    assert.equal(await c.mutation(api.messages.send, { author: "ada", body: "hi" }), null);
    assert.equal(await c.mutation(api.messages.send, { author: "bob", body: "yo" }), null);
    assert.deepEqual(await c.query(api.messages.list, {}), [
        { author: "ada", body: "hi" },
        { author: "bob", body: "yo" },
    ]);
    assert.equal(await c.query(api.messages.count), 2);
    assert.deepEqual(await c.action(api.messages.echoAction, { value: "v" }), { value: "v", n: "done" });
    // "messages" names the module's default export; "messages.js:list" is Convex's canonical form
    assert.equal(await c.query("messages.js:count"), 2);
});

test("logLines: the client prints each console line as Convex formats it", { timeout: 10000 }, async () => {
    const { c, printed } = client();
    assert.equal(await c.query(api.messages.chatty, {}), "done");
    const blue = "color:rgb(0, 145, 255)";
    assert.deepEqual(printed, [
        ["log", "%c[CONVEX Q(messages:chatty)] [LOG]", blue, "'hello'"],
        ["log", "%c[CONVEX Q(messages:chatty)] [INFO]", blue, "'info' 1 true"],
        ["log", "%c[CONVEX Q(messages:chatty)] [WARN]", blue, "'careful' {\n  n: 1,\n  list: [ 1, 2 ]\n}"],
        ["log", "%c[CONVEX Q(messages:chatty)] [ERROR]", blue, "'bad'"],
        ["log", "%c[CONVEX Q(messages:chatty)] [DEBUG]", blue, "'dbg'"],
    ]);
    printed.length = 0;
    await c.mutation(api.messages.send, { author: "x", body: "it's" });
    assert.deepEqual(printed, [["log", "%c[CONVEX M(messages:send)] [LOG]", blue, "'sending' 'it\\'s'"]]);
    printed.length = 0;
    // an action's lines include those of the query it ran (on the shard's thread)
    await c.action(api.messages.echoAction, { value: 1 });
    assert.deepEqual(
        printed.map((p) => p[1] + " " + p[3]),
        [
            "%c[CONVEX A(messages:echoAction)] [LOG] 'action sees' 'number'",
            "%c[CONVEX A(messages:echoAction)] [LOG] 'hello'",
            "%c[CONVEX A(messages:echoAction)] [INFO] 'info' 1 true",
            "%c[CONVEX A(messages:echoAction)] [WARN] 'careful' {\n  n: 1,\n  list: [ 1, 2 ]\n}",
            "%c[CONVEX A(messages:echoAction)] [ERROR] 'bad'",
            "%c[CONVEX A(messages:echoAction)] [DEBUG] 'dbg'",
        ],
    );
    // a failing call's lines are printed too, before the error is thrown
    printed.length = 0;
    await thrown(c.mutation(api.messages.failWithData, {}));
    assert.deepEqual(printed, [["log", "%c[CONVEX M(messages:failWithData)] [LOG]", blue, "'about to fail'"]]);
});

test("ConvexError data comes out as the client's ConvexError.data", { timeout: 10000 }, async () => {
    const { c } = client();
    const e = await thrown(c.mutation(api.messages.failWithData, {}));
    assert.ok(e instanceof ConvexError, `not a ConvexError: ${e}`);
    // the message is Convex's stringifyValueForError of the data: BigInt as "3n", bytes as {}
    assert.match(e.message, new RegExp(`^${REQUEST_ID}Uncaught ConvexError: \\{"code":"NOPE","count":"3n","raw":\\{\\}\\}\\n$`));
    assert.equal(e.data.code, "NOPE");
    assert.equal(e.data.count, 3n);
    assert.ok(e.data.raw instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(e.data.raw)], [1, 2]);
    // the mutation's write (none) and its failure: nothing was kept
    const s = await thrown(c.query(api.messages.failWithString, {}));
    assert.ok(s instanceof ConvexError);
    assert.equal(s.data, "plain message");
    assert.match(s.message, new RegExp(`^${REQUEST_ID}Uncaught ConvexError: plain message\\n$`));
    const a = await thrown(c.action(api.messages.actionBoom, {}));
    assert.ok(a instanceof ConvexError);
    assert.deepEqual(a.data, { where: "action" });
});

test("an uncaught Error is a plain Error with Convex's message", { timeout: 10000 }, async () => {
    const { c } = client();
    const e = await thrown(c.query(api.messages.boom, {}));
    assert.ok(!(e instanceof ConvexError));
    assert.equal(e.data, undefined);
    assert.match(e.message, new RegExp(`^${REQUEST_ID}Uncaught Error: boom\\n$`));
    // the request id differs per request
    const e2 = await thrown(c.query(api.messages.boom, {}));
    assert.notEqual(e.message.slice(0, 30), e2.message.slice(0, 30));
});

test("what was thrown is named by its class, as Convex words it: Uncaught TypeError, an app's class, a ConvexError subclass", { timeout: 10000 }, async () => {
    const { c } = client();
    const text = async (p) => (await thrown(p)).message.replace(new RegExp(`^${REQUEST_ID}`), "");
    assert.equal(await text(c.query(api.messages.throwKind, { kind: "type" })), "Uncaught TypeError: bad type\n");
    assert.equal(await text(c.query(api.messages.throwKind, { kind: "custom" })), "Uncaught NotFoundError: no such doc\n");
    const sub = await thrown(c.query(api.messages.throwKind, { kind: "convexSub" }));
    assert.ok(sub instanceof ConvexError);
    assert.deepEqual(sub.data, { code: 123n });
    assert.match(sub.message, /Uncaught FooError: \{"code":"123n"\}\n$/);
    assert.match(await text(c.query(api.messages.throwKind, { kind: "null" })), /^Uncaught TypeError: null is not an object/);
    assert.equal(await text(c.query(api.messages.throwKind, { kind: "string" })), 'Uncaught "plain string"\n');
    assert.equal(await text(c.query(api.messages.throwKind, { kind: "plain" })), "Uncaught Error: plain\n");
    assert.equal(await text(c.mutation(api.messages.throwKindMutation, {})), "Uncaught RangeError: out of range\n");
    // Vireo's shape carries the class as errorName when it is not Error's or ConvexError's
    let r = await srv.post("/api/query", { path: "messages:throwKind", args: { kind: "custom" } });
    assert.deepEqual(r.json, { status: "error", errorMessage: "no such doc", errorCode: "FunctionFailed", errorName: "NotFoundError" });
    r = await srv.post("/api/query", { path: "messages:throwKind", args: { kind: "plain" } });
    assert.deepEqual(r.json, { status: "error", errorMessage: "plain", errorCode: "FunctionFailed" });
});

test("int64, bytes, NaN, ±Infinity and -0 round trip through the client", { timeout: 10000 }, async () => {
    const { c } = client();
    const bytes = new Uint8Array([0, 1, 254, 255]).buffer;
    const value = {
        small: 5n,
        max: 9223372036854775807n,
        min: -9223372036854775808n,
        bytes,
        nan: NaN,
        inf: Infinity,
        ninf: -Infinity,
        negz: -0,
        big: 1e300,
        list: [1n, -0, "s", null, true],
    };
    for (const call of [
        (v) => c.query(api.messages.echo, { value: v }),
        async (v) => (await c.action(api.messages.echoAction, { value: v })).value,
    ]) {
        const r = await call(value);
        assert.equal(r.small, 5n);
        assert.equal(r.max, 9223372036854775807n);
        assert.equal(r.min, -9223372036854775808n);
        assert.ok(r.bytes instanceof ArrayBuffer);
        assert.deepEqual([...new Uint8Array(r.bytes)], [0, 1, 254, 255]);
        assert.ok(Number.isNaN(r.nan));
        assert.equal(r.inf, Infinity);
        assert.equal(r.ninf, -Infinity);
        assert.ok(Object.is(r.negz, -0), "-0 came back as +0");
        assert.equal(r.big, 1e300);
        assert.equal(r.list[0], 1n);
        assert.ok(Object.is(r.list[1], -0));
        assert.deepEqual(r.list.slice(2), ["s", null, true]);
    }
});

test("unknown, internal and wrong-kind functions and bad arguments: Convex's errors", { timeout: 10000 }, async () => {
    const { c } = client();
    const missing = await thrown(c.query(api.messages.nope, {}));
    assert.match(
        missing.message,
        new RegExp(`^${REQUEST_ID}Could not find public function for 'messages:nope'\\. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`\\?\\n$`),
    );
    // an internal function is answered exactly as a missing one
    const internal = await thrown(c.query(api.messages.secret, {}));
    assert.equal(internal.message.replace(/[0-9a-f]{16}/, "ID"), missing.message.replace(/[0-9a-f]{16}/, "ID").replace("nope", "secret"));
    const kind = await thrown(c.query(api.messages.send, { author: "a", body: "b" }));
    assert.match(kind.message, new RegExp(`^${REQUEST_ID}Trying to execute messages\\.js:send as Query, but it is defined as Mutation\\.\\n$`));
    const kind2 = await thrown(c.mutation(api.messages.echoAction, { value: 1 }));
    assert.match(kind2.message, /Trying to execute messages\.js:echoAction as Mutation, but it is defined as Action\.\n$/);
    const bad = await thrown(c.query(api.messages.typed, { n: "x", name: "y" }));
    assert.match(bad.message, new RegExp(`^${REQUEST_ID}ArgumentValidationError: Value does not match validator\\.\\nPath: \\.n\\nValue: "x"\\nValidator: v\\.float64\\(\\)\\n$`));
    const badAction = await thrown(c.action(api.messages.echoAction, {}));
    assert.match(badAction.message, new RegExp(`^${REQUEST_ID}ArgumentValidationError: `));
    for (const e of [missing, internal, kind, bad, badAction]) assert.ok(!(e instanceof ConvexError));
    // still serving, and nothing was written by the refused mutation
    assert.equal(typeof (await c.query(api.messages.count)), "number");
});

test("console: count, time, assert, group, table and dir print Convex's lines", { timeout: 10000 }, async () => {
    const r = await raw("query", { path: "messages:consoleMore", format: "convex_encoded_json", args: [{}] });
    assert.equal(r.json.status, "success", JSON.stringify(r.json));
    const lines = r.json.logLines.map((l) => l.replace(/\d+(\.\d+)?ms/, "Nms"));
    assert.deepEqual(lines, [
        "[LOG] 'default: 1'", "[LOG] 'x: 1'", "[LOG] 'x: 2'", "[LOG] 'x: 1'",
        "[WARN] 'Count for \\'nope\\' does not exist'",
        "[WARN] 'Timer \\'t\\' already exists'",
        "[LOG] 't: Nms' 'midway'", "[LOG] 't: Nms'",
        "[WARN] 'Timer \\'t\\' does not exist'",
        "[ERROR] 'Assertion failed: math is %s' 'broken'", "[ERROR] 'Assertion failed'",
        "[LOG] 'outer'", "[LOG] '  inside'", "[INFO] '    deeper' 1",
        "[LOG] [\n  {\n    a: 1\n  }\n]", "[LOG] {\n  b: 2\n}",
    ]);
});

test("an action that returns with nested calls not awaited gets Convex's warning of them", { timeout: 10000 }, async () => {
    const r = await raw("action", { path: "messages:dangling", format: "convex_encoded_json", args: [{ n: 5 }] });
    assert.equal(r.json.status, "success", JSON.stringify(r.json));
    assert.equal(r.json.value, "returned");
    assert.match(r.json.logLines.at(-1), /^\[WARN\] \d unawaited operations? \(ctx\.runQuery\/runMutation\/runAction, fetch, storage\) still running when the action returned were dropped\. Async operations should be awaited or they might not run\.$/);
    const awaited = await raw("action", { path: "messages:echoAction", format: "convex_encoded_json", args: [{ value: 1 }] });
    assert.equal(awaited.json.status, "success", JSON.stringify(awaited.json));
    assert.ok(!(awaited.json.logLines || []).some((l) => /unawaited/.test(l)));
});

test("raw: what ConvexHttpClient sends, and 560 for a function's failure", { timeout: 10000 }, async () => {
    const ok = await raw("query", { path: "messages:chatty", format: "convex_encoded_json", args: [{}] });
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(ok.json), ["status", "value", "logLines"]);
    assert.equal(ok.json.logLines[0], "[LOG] 'hello'");
    const quiet = await raw("query", { path: "messages:count", format: "convex_encoded_json", args: [{}] });
    assert.deepEqual(Object.keys(quiet.json), ["status", "value"], "logLines is left out when empty");
    const fail = await raw("mutation", { path: "messages:failWithData", format: "convex_encoded_json", args: [{}] });
    assert.equal(fail.status, 560);
    assert.equal(fail.json.status, "error");
    assert.deepEqual(fail.json.errorData, { code: "NOPE", count: { $integer: "AwAAAAAAAAA=" }, raw: { $bytes: "AQI=" } });
    assert.deepEqual(fail.json.logLines, ["[LOG] 'about to fail'"]);
    assert.equal(fail.json.errorCode, undefined, "Convex's shape has no errorCode");
});

test("raw: args arrays of 0 or 2, args not an array, args not an object", { timeout: 10000 }, async () => {
    const cases = [
        [[], /takes exactly one argument, an object; the request's "args" array has 0\n$/],
        [[{}, {}], /takes exactly one argument, an object; the request's "args" array has 2\n$/],
        [[5], /argument must be an object; the request's "args" array holds a number\n$/],
        ["x", /"args" must be an object or an array of one object \(Convex's shape\); got a string\n$/],
        [null, /got null\n$/],
    ];
    for (const [args, re] of cases) {
        const r = await raw("query", { path: "messages:count", format: "convex_encoded_json", args });
        assert.equal(r.status, 560, `${JSON.stringify(args)}: ${r.text}`);
        assert.equal(r.json.status, "error");
        assert.match(r.json.errorMessage, new RegExp(`^${REQUEST_ID}ArgumentValidationError: `));
        assert.match(r.json.errorMessage, re);
    }
    // the function is looked up first: an unknown one is reported as such whatever its args
    const r = await raw("query", { path: "messages:nope", format: "convex_encoded_json", args: [] });
    assert.equal(r.status, 560);
    assert.match(r.json.errorMessage, /Could not find public function for 'messages:nope'/);
    // args as a plain object is Convex's documented HTTP API too
    const o = await raw("query", { path: "messages:typed", format: "json", args: { n: 1, name: "a" } }, {});
    assert.equal(o.status, 200, o.text);
    assert.equal(o.json.value, "a:1");
});

test("raw: format", { timeout: 10000 }, async () => {
    for (const format of ["weird", "JSON", ""]) {
        const r = await raw("query", { path: "messages:count", format, args: [{}] });
        assert.equal(r.status, 400, r.text);
        assert.deepEqual(r.json, { code: "BadFormat", message: `format param must be one of [\`json\`]. Got ${format}` });
    }
    for (const format of [5, true, ["json"]]) {
        const r = await raw("query", { path: "messages:count", format, args: [{}] });
        assert.equal(r.status, 400, r.text);
        assert.deepEqual(r.json, { code: "BadJsonBody", message: '"format" must be a string: "json" or "convex_encoded_json"' });
    }
    const nullFormat = await raw("query", { path: "messages:count", format: null, args: [{}] });
    assert.equal(nullFormat.status, 200, "format null is no format");
    // "json": values exported clean (int64 as a decimal string, bytes as base64, NaN as a string)
    const value = { i: { $integer: "/v////////8=" }, b: { $bytes: "AQI=" }, nan: { $float: "AAAAAAAA+H8=" }, inf: { $float: "AAAAAAAA8P8=" }, z: { $float: "AAAAAAAAAIA=" }, n: 0.1, s: "t", a: [1, null] };
    const clean = await raw("query", { path: "messages:echo", format: "json", args: [{ value }] });
    assert.equal(clean.status, 200, clean.text);
    assert.equal(clean.text, '{"status":"success","value":{"i":"-2","b":"AQI=","nan":"NaN","inf":"-Infinity","z":-0,"n":0.1,"s":"t","a":[1,null]}}');
    const encoded = await raw("query", { path: "messages:echo", format: "convex_encoded_json", args: [{ value }] });
    assert.deepEqual(encoded.json.value, value);
    // no format from a client that says who it is (Convex-Client): encoded; format null: none
    for (const body of [{}, { format: null }]) {
        const r = await raw("query", { path: "messages:echo", args: [{ value: { $integer: "BwAAAAAAAAA=" } }], ...body });
        assert.deepEqual(r.json.value, { $integer: "BwAAAAAAAAA=" });
    }
    // errorData follows the format too
    const fail = await raw("mutation", { path: "messages:failWithData", format: "json", args: [{}] });
    assert.deepEqual(fail.json.errorData, { code: "NOPE", count: "3", raw: "AQI=" });
});

test("raw: malformed bodies get Convex's {code, message} when Convex-shaped", { timeout: 10000 }, async () => {
    const bad = await raw("query", "{nope");
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "BadJsonBody");
    assert.match(bad.json.message, /^invalid JSON body: /);
    const notObj = await raw("query", "[1]");
    assert.deepEqual(notObj.json, { code: "BadJsonBody", message: "request body must be a JSON object" });
    const noPath = await raw("mutation", { format: "convex_encoded_json", args: [{}] });
    assert.equal(noPath.status, 400);
    assert.equal(noPath.json.code, "BadJsonBody");
    assert.match(noPath.json.message, /needs "path"/);
    // the client throws the body's text for a 4xx it does not know
    const { c } = client();
    const e = await thrown(c.query(api.messages.count, 5));
    assert.match(e.message, /must be an object/); // refused by the client itself
    // Vireo's own shape keeps its errors
    const own = await srv.post("/api/query", "{nope");
    assert.equal(own.json.errorCode, "BadJsonBody");
    assert.equal(own.json.status, "error");
});

test("Vireo's own shape keeps working, with logLines", { timeout: 10000 }, async () => {
    const r = await srv.query("messages:chatty", {});
    assert.equal(r.status, 200);
    assert.equal(r.json.value, "done");
    assert.equal(typeof r.json.version, "number");
    assert.equal(r.json.logLines.length, 5);
    assert.equal(r.json.logLines[2], "[WARN] 'careful' {\n  n: 1,\n  list: [ 1, 2 ]\n}");
    const f = await srv.mutation("messages:failWithData", {});
    assert.equal(f.status, 400);
    assert.equal(f.json.errorCode, "VireoError");
    assert.deepEqual(f.json.logLines, ["[LOG] 'about to fail'"]);
    const m = await srv.query("messages:nope", {});
    assert.equal(m.status, 404);
    assert.equal(m.json.errorCode, "FunctionNotFound");
    // without a Convex-Client header or a "format" field a request is Vireo's: args must be an
    // object there
    const arr = await srv.query("messages:count", [{}]);
    assert.equal(arr.status, 400, arr.text);
    assert.equal(arr.json.errorCode, "BadJsonBody");
    // a "format" field alone makes it Convex's (no version, no errorCode)
    const conv = await srv.post("/api/query", { path: "messages:count", args: [{}], format: "json" });
    assert.equal(conv.status, 200, conv.text);
    assert.deepEqual(Object.keys(conv.json), ["status", "value"]);
    const convBad = await srv.post("/api/query", { path: "messages:count", args: [{}, {}], format: "json" });
    assert.equal(convBad.status, 560);
    assert.equal(convBad.json.errorCode, undefined);
});

test("logLines are bounded: 256 lines, 32 KiB a line, 256 KiB a call", { timeout: 15000 }, async () => {
    const many = await raw("query", { path: "messages:flood", format: "json", args: [{ n: 1000, size: 1 }] });
    assert.equal(many.status, 200);
    assert.equal(many.json.logLines.length, 256);
    assert.equal(many.json.logLines[254], "[LOG] 254 'x'");
    assert.equal(many.json.logLines[255], "[ERROR] Log overflow (maximum 256). Remaining log lines omitted.");
    const exact = await raw("query", { path: "messages:flood", format: "json", args: [{ n: 255, size: 1 }] });
    assert.equal(exact.json.logLines.length, 255, "255 lines fit");
    const wide = await raw("query", { path: "messages:flood", format: "json", args: [{ n: 20, size: 40000 }] });
    assert.equal(wide.status, 200);
    const lines = wide.json.logLines;
    assert.ok(lines[0].endsWith("x (truncated due to length)"), lines[0].slice(-60));
    assert.equal(Buffer.byteLength(lines[0]) - " (truncated due to length)".length, 32 * 1024);
    assert.equal(lines.at(-1), "[ERROR] Log overflow (maximum 262144 bytes). Remaining log lines omitted.");
    const total = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
    assert.ok(total <= 256 * 1024 + 200, `kept ${total} bytes`);
    // the client prints the overflow notice like any other line
    const { c, printed } = client();
    await c.query(api.messages.flood, { n: 300, size: 1 });
    assert.equal(printed.length, 256);
    assert.equal(printed[255][3], "Log overflow (maximum 256). Remaining log lines omitted.");
});

test("Convex's POST /api/run/<path>: any function kind, {args, format}, Convex's errors", { timeout: 10000 }, async () => {
    const run = (ident, body, headers = {}) => srv.post(`/api/run/${ident}`, body, { headers });
    const before = (await run("messages/count", { args: {}, format: "json" })).json;
    assert.equal(before.status, "success");
    // a mutation and an action through the same route, their kind as defined
    const sent = await run("messages/send", { args: { author: "run", body: "via /api/run" }, format: "json" });
    assert.equal(sent.status, 200, sent.text);
    assert.deepEqual(sent.json, { status: "success", value: null, logLines: ["[LOG] 'sending' 'via /api/run'"] });
    assert.equal((await run("messages/count", { args: {} })).json.value, before.value + 1);
    const echoed = await run("messages/echoAction", { args: { value: 7 }, format: "json" });
    assert.equal(echoed.json.status, "success", echoed.text);
    // "module:function" written out works too
    assert.equal((await run("messages:count", { args: {} })).json.value, before.value + 1);
    // Convex-encoded values when asked for
    const enc = await run("messages/echo", { args: { value: { $integer: "AwAAAAAAAAA=" } }, format: "convex_encoded_json" });
    assert.deepEqual(enc.json.value, { $integer: "AwAAAAAAAAA=" }, enc.text);
    // errors in Convex's shape
    const missing = await run("messages/nope", { args: {} });
    const missingQuery = await raw("query", { path: "messages:nope", format: "json", args: {} });
    assert.equal(missing.status, missingQuery.status, "as /api/query answers it");
    assert.equal(missing.json.status, "error");
    assert.match(missing.json.errorMessage, /Could not find public function for 'messages:nope'/);
    const internal = await run("messages/secret", { args: {} });
    assert.equal(internal.status, missing.status, "an internal function is not reachable");
    assert.equal(internal.json.errorMessage.replace(/[0-9a-f]{16}/, "ID").replace("secret", "nope"), missing.json.errorMessage.replace(/[0-9a-f]{16}/, "ID"));
    const fail = await run("messages/failWithData", { args: {} });
    assert.equal(fail.status, 560);
    assert.equal(fail.json.status, "error");
    const badArgs = await run("messages/typed", { args: { n: "x", name: "y" } });
    assert.equal(badArgs.status, (await raw("query", { path: "messages:typed", format: "json", args: { n: "x", name: "y" } })).status);
    assert.match(badArgs.json.errorMessage, /ArgumentValidationError/);
    const notJson = await srv.post("/api/run/messages/count", "{");
    assert.equal(notJson.status, 400);
    const get = await srv.get("/api/run/messages/count");
    assert.equal(get.status, 405);
    const odd = await run("messages/co%20unt", { args: {} });
    assert.equal(odd.status, 404);
    assert.match(odd.json.message ?? odd.json.errorMessage ?? odd.text, /letters, digits/);
    assert.equal((await run("messages/count", { args: {} })).json.value, before.value + 1, "still serving");
});

/* What the official client gives for a call: {convex, name, message without its request id, data}. */
async function officialOutcome(p) {
    const e = await thrown(p);
    return { convex: e instanceof ConvexError, name: e.name, message: e.message.replace(/[0-9a-f]{16}/, "ID"), data: e.data ?? null };
}
const withoutId = (o) => ({ ...o, message: o.message.replace(/[0-9a-f]{16}/, "ID") });

test("ConvexHttpClient inside an action (Vireo's own, from convex/browser) behaves as the official one", { timeout: 20000 }, async () => {
    const { c } = client();
    const r = await c.action(api.viaClient.run, { tag: "via" });
    assert.equal(r.url, srv.url, "process.env.CONVEX_CLOUD_URL");
    assert.equal(r.backendUrl, `${srv.url}/api`);
    // queued mutations ran one at a time in call order
    assert.deepEqual(r.sent, [null, null, null]);
    assert.deepEqual(r.list, [{ author: "via", body: "via1" }, { author: "via", body: "via2" }, { author: "via", body: "via3" }]);
    assert.equal(r.noQueue, null);
    // the log lines handed to the logger, exactly as the official client hands them
    assert.equal(r.chatty, "done");
    const official = client();
    await official.c.query(api.messages.chatty);
    assert.deepEqual(r.lines, official.printed);
    // values and errors as the official client decodes them
    assert.deepEqual(r.echoed.value.big, 5n);
    assert.deepEqual([...new Uint8Array(r.echoed.value.bytes)], [7, 8]);
    assert.ok(Number.isNaN(r.echoed.value.nan));
    assert.equal(r.echoed.n, "done");
    assert.equal(r.typed, "a:1");
    assert.deepEqual(withoutId(r.convexError), await officialOutcome(c.mutation(api.messages.failWithData, {})));
    assert.equal(r.convexError.data.count, 3n);
    assert.deepEqual(withoutId(r.stringError), await officialOutcome(c.query(api.messages.failWithString, {})));
    assert.deepEqual(withoutId(r.plainError), await officialOutcome(c.query(api.messages.boom, {})));
    assert.deepEqual(withoutId(r.badArgs), await officialOutcome(c.query(api.messages.typed, { n: "x", name: "a" })));
    assert.deepEqual(withoutId(r.unknown), await officialOutcome(c.query("messages:nope", {})));
    assert.deepEqual(r.notAnObject, await officialOutcome(c.query(api.messages.list, [1])));
    // the constructor's checks, in Convex's words
    const ctorError = (f) => { try { f(); } catch (e) { return e.message; } return "did not throw"; };
    assert.equal(r.badUrl, ctorError(() => new ConvexHttpClient("ftp://x")));
    assert.equal(r.undefinedUrl, ctorError(() => new ConvexHttpClient(undefined)));
    assert.equal(r.siteUrl, ctorError(() => new ConvexHttpClient("https://happy-animal-123.convex.site")));
    assert.equal(r.booleanOption, ctorError(() => new ConvexHttpClient("http://127.0.0.1:1", true)));
    // the WebSocket client has no WebSocket to run on in an action
    assert.match(r.webSocketClient, /^ConvexClient in functions is not supported by Vireo: there is no WebSocket in actions \(ConvexHttpClient works\)$/);
    const authed = client();
    authed.c.setAuth("x.y.z");
    assert.deepEqual(r.badAuth, await officialOutcome(authed.c.query(api.messages.list, {})));
    assert.match(r.badAuth.message, /token/i);
    // nothing listening: fetch's own error, the action goes on
    assert.equal(r.unreachable.convex, false);
    assert.ok(r.unreachable.message.length > 0);
});

test("ConvexHttpClient in a mutation: its calls fail as fetch does there", { timeout: 10000 }, async () => {
    const { c } = client();
    assert.equal(await c.mutation(api.viaClient.inMutation, {}),
        "Can't use fetch() in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details.");
});

test("Convex's POST /api/function (ConvexHttpClient.function): any public function by the body's path; a component's only for an admin", { timeout: 10000 }, async () => {
    const { c } = client();
    assert.equal(await c.function(api.messages.typed, undefined, { n: 2, name: "f" }), "f:2");
    assert.equal(await c.function("messages:typed", "", { n: 3, name: "g" }), "g:3");
    const before = await c.query(api.messages.count);
    assert.equal(await c.function(api.messages.send, undefined, { author: "fn", body: "via function" }), null);
    assert.equal(await c.query(api.messages.count), before + 1);
    assert.deepEqual(await c.function(api.messages.echoAction, undefined, { value: 4n }), { value: 4n, n: "done" });
    // its errors are /api/run's
    assert.deepEqual(await officialOutcome(c.function("messages:nope", undefined, {})),
        { ...(await officialOutcome(c.query("messages:nope", {}))) });
    assert.deepEqual(await officialOutcome(c.function(api.messages.failWithData, undefined, {})),
        await officialOutcome(c.mutation(api.messages.failWithData, {})));
    assert.deepEqual(await officialOutcome(c.function("messages:secret", undefined, {})),
        { ...(await officialOutcome(c.query("messages:nope", {}))), message: (await officialOutcome(c.query("messages:nope", {}))).message.replace("nope", "secret") });
    // a component's function: only with an admin key (components.test.mjs has them)
    const comp = await thrown(c.function("messages:count", "rag", {}));
    assert.equal(JSON.parse(comp.message).message, 'a component\'s functions are called through the app\'s functions; only an admin key (Authorization: Convex <key>) names one with "componentPath"');
    assert.equal(JSON.parse(comp.message).code, "NotFound");
    // malformed bodies
    const post = (body) => srv.post("/api/function", body, { headers: convexHeaders });
    let r = await post({ args: {} });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /needs "path"/);
    r = await post("[1]");
    assert.equal(r.status, 400);
    assert.match(r.json.message, /must be a JSON object/);
    r = await post("{");
    assert.equal(r.status, 400);
    assert.match(r.text, /invalid JSON body/);
    r = await srv.get("/api/function");
    assert.equal(r.status, 405);
    // and Vireo's own client in an action reaches it too
    assert.equal(await c.action(api.viaClient.viaFunction, {}), "v:9");
});

test("Convex's admin scheme (ConvexHttpClient.setAdminAuth): internal functions, acting as an identity, a wrong key refused", { timeout: 10000 }, async () => {
    const { c } = client();
    c.setAdminAuth(srv.adminKey);
    assert.equal(await c.query("messages:secret", {}), "hidden");
    assert.equal(await c.function("messages:secret", undefined, {}), "hidden");
    assert.equal(await c.query(api.messages.identity, {}), null);
    // acting as a user: the identity as given, its tokenIdentifier made as a token's would be
    c.setAdminAuth(srv.adminKey, { subject: "u1", issuer: "https://idp.test", name: "Ann" });
    assert.deepEqual(await c.query(api.messages.identity, {}),
        { subject: "u1", issuer: "https://idp.test", name: "Ann", tokenIdentifier: "https://idp.test|u1" });
    assert.deepEqual(await c.mutation(api.messages.identityMutation, {}),
        { subject: "u1", issuer: "https://idp.test", name: "Ann", tokenIdentifier: "https://idp.test|u1" });
    // a wrong key: 401, nothing runs
    const before = await client().c.query(api.messages.count);
    const bad = client().c;
    bad.setAdminAuth("not-the-key");
    const e = await thrown(bad.mutation(api.messages.send, { author: "x", body: "y" }));
    assert.deepEqual(JSON.parse(e.message), { code: "BadAdminKey", message: "The provided admin key was invalid for this instance" });
    assert.equal(await client().c.query(api.messages.count), before);
    assert.equal((await thrown(bad.query("messages:secret", {}))).message.includes("BadAdminKey"), true);
    // an identity that is not base64 of a JSON object: 400
    for (const tail of ["!!!", Buffer.from("[1]").toString("base64"), Buffer.from("{").toString("base64")]) {
        const r = await srv.post("/api/query", { path: "messages:count", args: {}, format: "json" },
            { headers: { ...convexHeaders, Authorization: `Convex ${srv.adminKey}:${tail}` } });
        assert.equal(r.status, 400, tail);
        assert.equal(r.json.code, "BadAuthHeader");
        assert.match(r.json.message, /must be base64 of a JSON object/);
    }
    // the server goes on serving
    assert.equal(await client().c.query(api.messages.count), before);
});
