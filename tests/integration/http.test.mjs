// HTTP API against a real `vireo dev` on the `basic` fixture app: calls, every error code, the
// net layer's limits (413/431/400), keep-alive, pipelining, chunked bodies, CORS, transactions
// (rollback on throw, schema violations), the CPU time limit, admin calls, actions, the value
// encoding of int64/bytes and index queries. After every bad request a good one must still work.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
    startServer,
    tempDir,
    RawConn,
    httpRequestBytes,
    request,
    int64Wire,
    wireInt64,
    sleep,
    guardServer,
    guardedTest,
    assertAppLoaded,
} from "./helpers.mjs";

let srv;

let appDir;
const start = async () => {
    srv = await startServer(appDir, { args: ["--timeout-ms", "200", "--max-body", "65536"] });
};

before(async () => {
    appDir = tempDir("basic");
    await start();
    await assertAppLoaded(srv);
});

guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

after(async () => {
    if (srv) await srv.stop();
});

async function stillServes() {
    const r = await srv.query("fns:ping", {});
    assert.equal(r.status, 200, `server no longer serves after a bad request: ${r.text}`);
    assert.equal(r.json.value, "pong");
}

function assertError(r, status, code, msgRe) {
    assert.equal(r.status, status, `expected HTTP ${status} ${code}, got ${r.status}: ${r.text}`);
    assert.ok(r.json, `error body is not JSON: ${r.text}`);
    assert.equal(r.json.status, "error", r.text);
    assert.equal(r.json.errorCode, code, r.text);
    assert.equal(typeof r.json.errorMessage, "string");
    if (msgRe) assert.match(r.json.errorMessage, msgRe);
}

test("GET /api/health", { timeout: 5000 }, async () => {
    const r = await srv.get("/api/health");
    assert.equal(r.status, 200);
    assert.match(r.headers["content-type"], /application\/json/);
    assert.equal(r.json.status, "ok");
    assert.equal(r.json.app, "loaded");
    assert.equal(typeof r.json.version, "number");
});

test("GET /api/metrics counts requests and calls", { timeout: 5000 }, async () => {
    const a = (await srv.get("/api/metrics")).json;
    for (const k of ["requests", "functionCalls", "functionErrors", "storeVersion", "rssBytes"])
        assert.equal(typeof a[k], "number", `metrics.${k}`);
    await srv.query("fns:ping", {});
    await srv.query("fns:fail", {});
    const b = (await srv.get("/api/metrics")).json;
    assert.ok(b.requests >= a.requests + 3, `requests ${a.requests} -> ${b.requests}`);
    assert.ok(b.functionCalls >= a.functionCalls + 2);
    assert.ok(b.functionErrors >= a.functionErrors + 1);
    assert.ok(b.rssBytes > 0);
    await srv.value("mutation", "fns:addNote", { text: "metrics" });
    const c = (await srv.get("/api/metrics")).json;
    assert.ok(c.storeVersion > b.storeVersion, `storeVersion ${b.storeVersion} -> ${c.storeVersion} after a mutation`);
    const h = (await srv.get("/api/health")).json;
    assert.equal(h.version, c.storeVersion);
});

test("query success shape; args may be omitted or null", { timeout: 5000 }, async () => {
    const r = await srv.query("fns:ping", {});
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json).sort(), ["status", "value", "version"]);
    assert.equal(r.json.status, "success");
    assert.equal(r.json.value, "pong");
    assert.ok(Number.isInteger(r.json.version));
    assert.equal((await srv.query("fns:ping")).json.value, "pong");
    assert.equal((await srv.post("/api/query", { path: "fns:ping", args: null })).json.value, "pong");
});

test("JSON values round-trip through a v.any() argument", { timeout: 5000 }, async () => {
    const value = { s: "héllo ✓ \t \"q\" \u00ff 😀", n: -12.5, i: 3, t: true, f: false, z: null, a: [1, [2, { x: "y" }], []], o: {} };
    const r = await srv.query("fns:echo", { value });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.value, value);
});

test("a string containing U+0000 is a valid value", { timeout: 5000 }, async () => {
    const r = await srv.query("fns:echo", { value: "a\u0000b" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, "a\u0000b");
    await stillServes();
});

test("nested module paths and default exports", { timeout: 5000 }, async () => {
    assert.equal(await srv.value("query", "lib/util:hello", {}), "hello from lib/util");
    assert.equal(await srv.value("query", "lib/util:default", {}), "default export");
    assert.equal(await srv.value("query", "lib/util", {}), "default export");
});

test("BadJsonBody for every malformed call body, and the server keeps serving", { timeout: 10000 }, async () => {
    const bodies = [
        ["not JSON", "{\"path\": \"fns:ping\", "],
        ["garbage", "hello"],
        ["empty body", ""],
        ["array", "[1,2]"],
        ["string", "\"fns:ping\""],
        ["no path", "{\"args\":{}}"],
        ["path not a string", "{\"path\": 12, \"args\":{}}"],
        ["args an array", "{\"path\":\"fns:ping\",\"args\":[1]}"],
        ["args a string", "{\"path\":\"fns:ping\",\"args\":\"x\"}"],
    ];
    for (const [what, body] of bodies) {
        const r = await srv.post("/api/query", body);
        assert.equal(r.status, 400, `${what}: expected 400, got ${r.status} ${r.text}`);
        assert.equal(r.json?.errorCode, "BadJsonBody", `${what}: ${r.text}`);
        await stillServes();
    }
});

test("FunctionNotFound (404) for unknown functions and modules", { timeout: 5000 }, async () => {
    assertError(await srv.query("fns:nope", {}), 404, "FunctionNotFound", /fns:nope/);
    await stillServes();
    assertError(await srv.query("nomodule:ping", {}), 404, "FunctionNotFound");
    assertError(await srv.mutation("", {}), 404, "FunctionNotFound");
    assertError(await srv.action("fns", {}), 404, "FunctionNotFound");
    await stillServes();
});

test("WrongFunctionKind (400) when the endpoint does not match the function", { timeout: 5000 }, async () => {
    assertError(await srv.query("fns:addNote", { text: "x" }), 400, "WrongFunctionKind", /mutation/);
    assertError(await srv.mutation("fns:ping", {}), 400, "WrongFunctionKind", /query/);
    assertError(await srv.query("fns:viaAction", { text: "x" }), 400, "WrongFunctionKind", /action/);
    assertError(await srv.action("fns:ping", {}), 400, "WrongFunctionKind");
    await stillServes();
    assert.ok(!(await srv.value("query", "fns:listNotes", {})).includes("x"), "a rejected call wrote");
});

test("ArgumentValidationError names the argument, the value and the validator, in Convex's words", { timeout: 5000 }, async () => {
    let r = await srv.query("fns:typed", { s: 5, n: 1 });
    assertError(r, 400, "ArgumentValidationError", /^Value does not match validator\.\nPath: \.s\nValue: 5\.0\nValidator: v\.string\(\)$/);
    r = await srv.query("fns:typed", { s: "x", n: "1" });
    assertError(r, 400, "ArgumentValidationError", /^Value does not match validator\.\nPath: \.n\nValue: "1"\nValidator: v\.float64\(\)$/);
    r = await srv.query("fns:typed", { n: 1 });
    assertError(r, 400, "ArgumentValidationError", /\bs\b/);
    r = await srv.query("fns:typed", { s: "x", n: 1, b: "yes" });
    assertError(r, 400, "ArgumentValidationError", /\bb\b/);
    r = await srv.query("fns:typed", { s: "x", n: 1, extra: 1 });
    assertError(r, 400, "ArgumentValidationError", /^Object contains extra field `extra` that is not in the validator\.\n\nObject: \{extra: 1\.0, n: 1\.0, s: "x"\}\nValidator: v\.object\(\{b: v\.optional\(v\.boolean\(\)\), n: v\.float64\(\), s: v\.string\(\)\}\)$/);
    await stillServes();
    assert.deepEqual(await srv.value("query", "fns:typed", { s: "x", n: 1 }), { s: "x", n: 1 });
    assert.deepEqual(await srv.value("query", "fns:typed", { s: "x", n: 1, b: true }), { s: "x", n: 1, b: true });
});

test("a throwing handler answers 500 FunctionFailed with its message", { timeout: 5000 }, async () => {
    assertError(await srv.query("fns:fail", {}), 500, "FunctionFailed", /custom failure message/);
    await stillServes();
});

test("VireoError answers 400 with errorData", { timeout: 5000 }, async () => {
    const r = await srv.mutation("fns:vireoErr", {});
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errorCode, "VireoError", r.text);
    assert.deepEqual(r.json.errorData, { code: 42, why: "nope" });
    await stillServes();
});

test("a mutation that inserts then throws leaves no document", { timeout: 5000 }, async () => {
    assertError(await srv.mutation("fns:insertThenThrow", { text: "ghost" }), 500, "FunctionFailed", /boom after insert/);
    const notes = await srv.value("query", "fns:listNotes", {});
    assert.ok(!notes.includes("ghost"), `rolled-back insert is visible: ${JSON.stringify(notes)}`);
    await srv.value("mutation", "fns:addNote", { text: "kept" });
    assert.ok((await srv.value("query", "fns:listNotes", {})).includes("kept"));
});

test("a schema-violating insert is rejected and nothing of the mutation is written", { timeout: 5000 }, async () => {
    const r = await srv.mutation("fns:badInsert", {});
    assertError(r, 400, "SchemaValidationError", /name/);
    const notes = await srv.value("query", "fns:listNotes", {});
    assert.ok(!notes.includes("before-bad"), `earlier insert of the failed mutation survived: ${JSON.stringify(notes)}`);
    await stillServes();
});

test("a runaway handler is stopped (ExecutionTimeout) and the server keeps serving", { timeout: 15000 }, async () => {
    const t0 = Date.now();
    const r = await srv.query("fns:spin", {});
    assertError(r, 500, "ExecutionTimeout");
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms with --timeout-ms 200`);
    await stillServes();
    const m = await srv.mutation("fns:spinAfterInsert", {});
    assertError(m, 500, "ExecutionTimeout");
    assert.ok(!(await srv.value("query", "fns:listNotes", {})).includes("spin-insert"), "timed-out mutation committed");
    await stillServes();
});

test("GET on call endpoints is 405; unknown /api path is 404", { timeout: 5000 }, async () => {
    for (const p of ["/api/query", "/api/mutation", "/api/action", "/api/admin/run"]) {
        const r = await srv.get(p);
        assertError(r, 405, "MethodNotAllowed");
    }
    assert.equal((await srv.get("/api/nothing")).status, 404);
    assert.equal((await srv.post("/api/nothing", { path: "fns:ping" })).status, 404);
    assert.equal((await srv.get("/__test/echo")).status, 404, "echo endpoint exists without --test-echo");
    await stillServes();
});

test("internal functions: 404 from outside, callable via /api/admin/run", { timeout: 5000 }, async () => {
    const r = await srv.query("fns:secret", {});
    assertError(r, 404, "FunctionNotFound");
    assertError(await srv.mutation("fns:secretInsert", { text: "no" }), 404, "FunctionNotFound");
    const a = await srv.admin("fns:secret", {});
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.value, "internal-ok");
    const m = await srv.admin("fns:secretInsert", { text: "via-admin" });
    assert.equal(m.status, 200, m.text);
    assert.equal(typeof m.json.value, "string");
    assert.ok((await srv.value("query", "fns:listNotes", {})).includes("via-admin"));
    // admin runs public functions of any kind too
    assert.equal((await srv.admin("fns:ping", {})).json.value, "pong");
    // admin still validates arguments
    assertError(await srv.admin("fns:secretInsert", { text: 1 }), 400, "ArgumentValidationError");
});

test("admin endpoint: 401 without or with a wrong key", { timeout: 5000 }, async () => {
    assertError(await srv.admin("fns:secret", {}, null), 401, "Unauthorized");
    assertError(await srv.admin("fns:secret", {}, "0".repeat(srv.adminKey.length)), 401, "Unauthorized");
    assertError(await srv.admin("fns:secret", {}, srv.adminKey.slice(0, -1)), 401, "Unauthorized");
    assertError(await srv.admin("fns:secret", {}, srv.adminKey + "0"), 401, "Unauthorized");
    const r = await srv.post("/api/admin/run", { path: "fns:secret", args: {} }, { headers: { Authorization: srv.adminKey } });
    assertError(r, 401, "Unauthorized");
    await stillServes();
});

test("an action reaches the database through ctx.runMutation / ctx.runQuery", { timeout: 5000 }, async () => {
    const r = await srv.action("fns:viaAction", { text: "from-action" });
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof r.json.value.id, "string");
    assert.ok(r.json.value.notes.includes("from-action"), JSON.stringify(r.json.value));
    assert.equal(r.json.value.hidden, "internal-ok");
    assert.ok((await srv.value("query", "fns:listNotes", {})).includes("from-action"));
});

test("int64 and bytes round-trip through the $integer / $bytes encoding", { timeout: 5000 }, async () => {
    const big = -(2n ** 62n) - 5n;
    const bytes = Buffer.from([0, 1, 2, 250, 255, 128, 7]);
    const r = await srv.mutation("fns:roundTrip", { big: int64Wire(big), data: { $bytes: bytes.toString("base64") } });
    assert.equal(r.status, 200, r.text);
    const v = r.json.value;
    assert.equal(v.bigType, "bigint");
    assert.equal(v.isArrayBuffer, true);
    assert.equal(v.byteLength, bytes.length);
    assert.ok(v.big && typeof v.big.$integer === "string", JSON.stringify(v));
    assert.equal(wireInt64(v.big), big);
    assert.equal(wireInt64(v.minusOne), big - 1n);
    assert.deepEqual(Buffer.from(v.data.$bytes, "base64"), bytes);
    // max int64 and an empty byte string
    const max = 2n ** 63n - 1n;
    const r2 = await srv.mutation("fns:roundTrip", { big: int64Wire(max), data: { $bytes: "" } });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(wireInt64(r2.json.value.big), max);
    assert.equal(r2.json.value.byteLength, 0);
    // a plain number where an int64 is expected is an argument error
    assertError(await srv.mutation("fns:roundTrip", { big: 5, data: { $bytes: "" } }), 400, "ArgumentValidationError", /big/);
    // a v.any() echo returns the encoded forms unchanged
    const e = await srv.query("fns:echo", { value: { i: int64Wire(7n), b: { $bytes: "AQI=" } } });
    assert.equal(e.status, 200, e.text);
    assert.equal(wireInt64(e.json.value.i), 7n);
    assert.equal(e.json.value.b.$bytes, "AQI=");
});

test("withIndex ranges, order, take, first, unique and filter", { timeout: 10000 }, async () => {
    const rows = [["a1", 1, "a"], ["a2", 2, "a"], ["b3", 3, "b"], ["c3", 3, "c"], ["a4", 4, "a"], ["b5", 5, "b"]];
    for (const [name, n, tag] of rows) await srv.value("mutation", "items:add", { name, n, tag });
    assert.deepEqual(await srv.value("query", "items:range", { lo: 2, hi: 5, order: "asc" }), [2, 3, 3, 4]);
    assert.deepEqual(await srv.value("query", "items:range", { lo: 2, hi: 5, order: "desc" }), [4, 3, 3, 2]);
    assert.deepEqual(await srv.value("query", "items:range", { lo: 10, hi: 20, order: "asc" }), []);
    assert.deepEqual(await srv.value("query", "items:byTag", { tag: "a", take: 2 }), ["a4", "a2"]);
    assert.deepEqual(await srv.value("query", "items:byTag", { tag: "a", take: 0 }), []);
    assert.deepEqual(await srv.value("query", "items:byTag", { tag: "b", take: 10 }), ["b5", "b3"]);
    assert.equal(await srv.value("query", "items:firstOfTag", { tag: "a" }), "a2");
    assert.equal(await srv.value("query", "items:firstOfTag", { tag: "zzz" }), null);
    assert.equal(await srv.value("query", "items:uniqueN", { n: 1 }), "a1");
    assert.equal(await srv.value("query", "items:uniqueN", { n: 99 }), null);
    assertError(await srv.query("items:uniqueN", { n: 3 }), 500, "FunctionFailed", /unique/);
    assert.deepEqual(await srv.value("query", "items:filtered", { minN: 3 }), ["c3", "a4"]);
    assertError(await srv.query("items:badIndex", {}), 400, "InvalidQuery", /index `nope` not found on table `items`/);
    await stillServes();
});

test("console.log of a function goes to stderr as [fn] path: message", { timeout: 5000 }, async () => {
    const from = srv.stderr.length;
    await srv.value("mutation", "fns:log", { msg: "marker-7731" });
    await srv.waitStderr(/\[fn\] fns:log: hello marker-7731/, { from });
});

test("CORS: OPTIONS preflight is 204; API answers carry Access-Control-Allow-Origin", { timeout: 5000 }, async () => {
    const pre = await request(srv.port, "OPTIONS", "/api/mutation", undefined, {
        headers: { Origin: "http://example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.match(pre.headers["access-control-allow-methods"], /POST/);
    assert.match(pre.headers["access-control-allow-headers"], /content-type/i);
    const q = await srv.query("fns:ping", {});
    assert.equal(q.headers["access-control-allow-origin"], "*");
    const e = await srv.query("fns:nope", {});
    assert.equal(e.headers["access-control-allow-origin"], "*");
});

test("static files from public/", { timeout: 5000 }, async () => {
    const idx = await srv.get("/");
    assert.equal(idx.status, 200);
    assert.match(idx.headers["content-type"], /text\/html/);
    assert.match(idx.text, /index page/);
    const t = await srv.get("/hello.txt");
    assert.equal(t.status, 200);
    assert.equal(t.text, "static hello\n");
    const head = await request(srv.port, "HEAD", "/hello.txt");
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
    assert.equal((await srv.get("/missing.txt")).status, 404);
    assert.equal((await srv.get("/../vireo/fns.ts")).status, 404);
    assert.equal((await srv.get("/%2e%2e/vireo/fns.ts")).status, 404);
});

test("keep-alive: several requests on one connection", { timeout: 8000 }, async () => {
    const c = await RawConn.open(srv.port);
    try {
        for (let i = 0; i < 5; i++) {
            c.buf = Buffer.alloc(0);
            await c.write(httpRequestBytes("POST", "/api/query", { body: { path: "fns:echo", args: { value: i } } }));
            const [r] = await c.responses(1);
            assert.equal(r.status, 200);
            assert.equal(r.json.value, i);
            assert.ok(!c.closed, "server closed a keep-alive connection");
        }
    } finally {
        c.destroy();
    }
});

test("pipelining: responses come in request order", { timeout: 8000 }, async () => {
    const c = await RawConn.open(srv.port);
    try {
        const reqs = [];
        for (let i = 0; i < 8; i++) {
            if (i === 3) reqs.push(httpRequestBytes("GET", "/api/health"));
            else if (i === 5) reqs.push(httpRequestBytes("POST", "/api/query", { body: { path: "fns:nope" } }));
            else reqs.push(httpRequestBytes("POST", "/api/query", { body: { path: "fns:echo", args: { value: `r${i}` } } }));
        }
        await c.write(Buffer.concat(reqs));
        const rs = await c.responses(8);
        for (let i = 0; i < 8; i++) {
            if (i === 3) assert.equal(rs[i].json.status, "ok");
            else if (i === 5) assert.equal(rs[i].status, 404);
            else assert.equal(rs[i].json.value, `r${i}`, `response ${i}`);
        }
        // a request split in two writes in the middle of the pipeline
        c.buf = Buffer.alloc(0);
        const a = httpRequestBytes("POST", "/api/query", { body: { path: "fns:echo", args: { value: "split" } } });
        const b = httpRequestBytes("GET", "/api/health");
        await c.write(Buffer.concat([a, b.subarray(0, 7)]));
        await sleep(50);
        await c.write(b.subarray(7));
        const [x, y] = await c.responses(2);
        assert.equal(x.json.value, "split");
        assert.equal(y.json.status, "ok");
    } finally {
        c.destroy();
    }
});

test("HTTP/1.0 and Connection: close get one answer and a closed connection", { timeout: 8000 }, async () => {
    let c = await RawConn.open(srv.port);
    try {
        await c.write("GET /api/health HTTP/1.0\r\n\r\n");
        const [r] = await c.responses(1);
        assert.equal(r.status, 200);
        await c.waitClosed();
    } finally {
        c.destroy();
    }
    c = await RawConn.open(srv.port);
    try {
        await c.write(httpRequestBytes("POST", "/api/query", { headers: { Connection: "close" }, body: { path: "fns:ping" } }));
        const [r] = await c.responses(1);
        assert.equal(r.json.value, "pong");
        await c.waitClosed();
    } finally {
        c.destroy();
    }
});

test("large responses, pipelined to a client that reads late, arrive complete and in order", { timeout: 20000 }, async () => {
    const one = await srv.query("fns:big", { n: 3 << 20, tag: "solo" });
    assert.equal(one.status, 200);
    assert.equal(one.json.value.length, "solo:".length + (3 << 20));
    const c = await RawConn.open(srv.port);
    try {
        c.sock.pause();
        const n = 16;
        const reqs = Array.from({ length: n }, (_, i) => httpRequestBytes("POST", "/api/query", { body: { path: "fns:big", args: { n: 200000, tag: `p${i}` } } }));
        await c.write(Buffer.concat(reqs));
        await sleep(300);
        c.sock.resume();
        const rs = await c.responses(n, 15000);
        rs.forEach((r, i) => {
            assert.equal(r.status, 200);
            assert.equal(r.json.value.length, `p${i}:`.length + 200000, `response ${i} length`);
            assert.ok(r.json.value.startsWith(`p${i}:`), `response ${i} out of order`);
        });
    } finally {
        c.destroy();
    }
});

test("chunked request body", { timeout: 8000 }, async () => {
    const c = await RawConn.open(srv.port);
    try {
        const body = JSON.stringify({ path: "fns:echo", args: { value: "chunked-✓-" + "x".repeat(300) } });
        const bytes = Buffer.from(body);
        const parts = [bytes.subarray(0, 10), bytes.subarray(10, 200), bytes.subarray(200)];
        await c.write(httpRequestBytes("POST", "/api/query", { headers: { "Transfer-Encoding": "chunked", "Content-Type": "application/json" } }));
        for (const p of parts) {
            await c.write(Buffer.concat([Buffer.from(p.length.toString(16) + "\r\n"), p, Buffer.from("\r\n")]));
            await sleep(20);
        }
        await c.write("0\r\n\r\n");
        const [r] = await c.responses(1);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.value, "chunked-✓-" + "x".repeat(300));
        // the connection is still usable
        c.buf = Buffer.alloc(0);
        await c.write(httpRequestBytes("GET", "/api/health"));
        const [h] = await c.responses(1);
        assert.equal(h.status, 200);
    } finally {
        c.destroy();
    }
});

test("Expect: 100-continue is honoured", { timeout: 8000 }, async () => {
    const c = await RawConn.open(srv.port);
    try {
        const body = Buffer.from(JSON.stringify({ path: "fns:ping", args: {} }));
        await c.write(httpRequestBytes("POST", "/api/query", { headers: { "Content-Length": body.length, Expect: "100-continue" } }));
        await c.waitFor((cc) => /^HTTP\/1\.1 100/.test(cc.buf.toString("latin1")), 3000, "100 Continue");
        await c.write(body);
        const rs = await c.responses(2);
        assert.equal(rs[0].status, 100);
        assert.equal(rs[1].status, 200);
        assert.equal(rs[1].json.value, "pong");
    } finally {
        c.destroy();
    }
});

test("413 for a body over --max-body (Content-Length and chunked)", { timeout: 8000 }, async () => {
    let c = await RawConn.open(srv.port);
    try {
        const big = Buffer.alloc(70000, 0x61);
        await c.write(httpRequestBytes("POST", "/api/query", { headers: { "Content-Length": big.length } }));
        c.write(big).catch(() => {});
        const [r] = await c.responses(1);
        assert.equal(r.status, 413);
        await c.waitClosed();
    } finally {
        c.destroy();
    }
    c = await RawConn.open(srv.port);
    try {
        await c.write(httpRequestBytes("POST", "/api/query", { headers: { "Transfer-Encoding": "chunked" } }));
        for (let i = 0; i < 10 && !c.closed; i++) {
            const chunk = Buffer.alloc(10000, 0x62);
            await c.write(Buffer.concat([Buffer.from(chunk.length.toString(16) + "\r\n"), chunk, Buffer.from("\r\n")]));
        }
        const [r] = await c.responses(1);
        assert.equal(r.status, 413);
    } finally {
        c.destroy();
    }
    // just under the limit is fine
    const value = "y".repeat(60000);
    const ok = await srv.query("fns:echo", { value });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.value.length, 60000);
    await stillServes();
});

test("431 for request headers over 16 KiB", { timeout: 8000 }, async () => {
    const c = await RawConn.open(srv.port);
    try {
        await c.write(httpRequestBytes("GET", "/api/health", { headers: { "X-Big": "z".repeat(17 * 1024) } }));
        const [r] = await c.responses(1);
        assert.equal(r.status, 431);
        await c.waitClosed();
    } finally {
        c.destroy();
    }
    // many medium headers adding up over the limit
    const c2 = await RawConn.open(srv.port);
    try {
        const headers = {};
        for (let i = 0; i < 40; i++) headers[`X-H${i}`] = "q".repeat(500);
        await c2.write(httpRequestBytes("GET", "/api/health", { headers }));
        const [r] = await c2.responses(1);
        assert.equal(r.status, 431);
    } finally {
        c2.destroy();
    }
    // headers just under the limit are fine
    const r = await srv.get("/api/health", { headers: { "X-Big": "z".repeat(12 * 1024) } });
    assert.equal(r.status, 200);
    await stillServes();
});

test("400 and close for malformed requests", { timeout: 10000 }, async () => {
    const bad = [
        "GARBAGE\r\n\r\n",
        "GET /api/health\r\n\r\n",
        "GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /api/health HTTP/1.1\r\nNo colon here\r\n\r\n",
        "POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST /api/query HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    ];
    for (const raw of bad) {
        const c = await RawConn.open(srv.port);
        try {
            await c.write(raw);
            const [r] = await c.responses(1).catch((e) => {
                throw new Error(`${JSON.stringify(raw)}: ${e.message}`);
            });
            assert.ok(r.status === 400 || (r.status === 505 && /HTTP\/9/.test(raw)), `${JSON.stringify(raw)} answered ${r.status}`);
            await c.waitClosed().catch((e) => {
                throw new Error(`${JSON.stringify(raw)}: ${e.message}`);
            });
        } finally {
            c.destroy();
        }
        await stillServes();
    }
});

test("a client that disconnects mid-request does not hurt the server", { timeout: 8000 }, async () => {
    for (let i = 0; i < 5; i++) {
        const c = await RawConn.open(srv.port);
        await c.write("POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pa");
        c.destroy();
    }
    const c = await RawConn.open(srv.port);
    await c.write(httpRequestBytes("POST", "/api/query", { body: { path: "fns:ping" } }).subarray(0, 20));
    c.destroy();
    await stillServes();
});

test("50 concurrent requests all succeed", { timeout: 15000 }, async () => {
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => srv.query("fns:echo", { value: i })));
    rs.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.json.value, i);
    });
});

test("request timeout (408 after 10 s)", { skip: "the 10 s header timeout has no flag to shorten it" }, () => {});
test("Date.now frozen / Math.random seeded within one execution", { skip: "only loosely observable from outside" }, () => {});

test("withIndex compares to undefined: a document without the field sorts before null and every value", { timeout: 10000 }, async () => {
    await srv.value("mutation", "labels:add", { name: "none-1" });
    await srv.value("mutation", "labels:add", { name: "null", label: null });
    await srv.value("mutation", "labels:add", { name: "a", label: "a" });
    await srv.value("mutation", "labels:add", { name: "none-2" });
    await srv.value("mutation", "labels:add", { name: "b", label: "b" });
    const find = (op, value, undef) => srv.value("query", "labels:find", undef ? { op, undef: true } : { op, value });
    assert.deepEqual(await find("eq", null, true), ["none-1", "none-2"]);
    assert.deepEqual(await find("eq", null), ["null"]);
    assert.deepEqual(await find("gt", null, true), ["null", "a", "b"]);
    assert.deepEqual(await find("gte", null, true), ["none-1", "none-2", "null", "a", "b"]);
    assert.deepEqual(await find("lt", null, true), []);
    assert.deepEqual(await find("lte", null, true), ["none-1", "none-2"]);
    assert.deepEqual(await find("lt", "a"), ["none-1", "none-2", "null"]);
    assert.deepEqual(await find("gt", "a"), ["b"]);
});
