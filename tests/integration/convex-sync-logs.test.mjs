// Console lines of live queries over Convex's sync protocol (docs/protocol.md, "Convex sync
// protocol"): QueryUpdated/QueryFailed carry the logLines of the run that produced the result,
// printed by the real `ConvexClient` (convex/browser) through its logger, and seen in raw frames:
// first results and re-runs, a query that logs nothing, the per-run bounds, several sessions on
// one live query, Convex's dedupe (value and lines), and the bytes kept for later subscribers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { once } from "node:events";
import WebSocket from "ws";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { APPS, startServer, tempDir, waitFor, sleep, metrics } from "./helpers.mjs";

let srv;
const clients = [];
const raws = [];

before(async () => {
    srv = await startServer(tempDir(path.join(APPS, "convex-sync-logs")));
});

after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const r of raws) r.ws.terminate();
    if (srv) await srv.stop();
});

const BLUE = "color:rgb(0, 145, 255)";

/* A ConvexClient whose logger records what the client prints. */
function client() {
    const printed = [];
    const logger = {
        log: (...a) => printed.push(["log", ...a]),
        warn: (...a) => printed.push(["warn", ...a]),
        error: (...a) => printed.push(["error", ...a]),
        logVerbose() {},
    };
    const c = new ConvexClient(srv.url, { logger });
    clients.push(c);
    return { c, printed };
}

/* A raw Convex sync connection; TransitionChunk parts are joined into their Transition. */
async function raw() {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/1.48.0/sync`);
    const r = { ws, transitions: [], parts: [], closed: null };
    ws.on("message", (d) => {
        const m = JSON.parse(d.toString());
        if (m.type === "TransitionChunk") {
            r.parts.push(m.chunk);
            if (m.partNumber + 1 === m.totalParts) {
                r.transitions.push(JSON.parse(r.parts.join("")));
                r.parts = [];
            }
        } else if (m.type === "Transition") r.transitions.push(m);
    });
    ws.on("close", (code) => (r.closed = code));
    r.send = (m) => ws.send(JSON.stringify(m));
    r.qs = 0;
    r.add = (adds) => r.send({ type: "ModifyQuerySet", baseVersion: r.qs, newVersion: ++r.qs, modifications: adds.map(([queryId, udfPath, args]) => ({ type: "Add", queryId, udfPath, args: [args] })) });
    // every modification of queryId sent so far, in order
    r.mods = (queryId) => r.transitions.flatMap((t) => t.modifications.filter((m) => m.queryId === queryId));
    // waits for the n-th modification of queryId
    r.mod = (queryId, n, timeout = 10000) => waitFor(() => r.mods(queryId)[n - 1], { timeout, what: `modification ${n} of query ${queryId}` });
    raws.push(r);
    await once(ws, "open");
    r.send({ type: "Connect", sessionId: crypto.randomUUID(), connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() });
    return r;
}

const add = async (list) => {
    const r = await srv.mutation("logs:add", { list });
    assert.equal(r.status, 200, r.text);
};

test("ConvexClient prints a live query's console lines: first result and the re-run after a write", { timeout: 15000 }, async () => {
    const { c, printed } = client();
    const seen = [];
    c.onUpdate(api.logs.chatty, { list: "client" }, (v) => seen.push(v));
    await waitFor(() => seen.length === 1, { what: "the first result" });
    assert.equal(seen[0], 0);
    const lines = () => printed.filter((p) => p[1]?.includes("logs:chatty")).map((p) => [p[0], p[1], p[2], p[3]]);
    await waitFor(() => lines().length === 2, { what: "the first run's lines" });
    assert.deepEqual(lines(), [
        ["log", "%c[CONVEX Q(logs:chatty)] [LOG]", BLUE, "'count' 0"],
        ["log", "%c[CONVEX Q(logs:chatty)] [WARN]", BLUE, "'list' {\n  list: 'client'\n}"],
    ]);
    await c.mutation(api.logs.add, { list: "client" });
    assert.equal(seen.at(-1), 1, "read-your-writes: the update came before the mutation resolved");
    assert.deepEqual(lines().slice(2), [
        ["log", "%c[CONVEX Q(logs:chatty)] [LOG]", BLUE, "'count' 1"],
        ["log", "%c[CONVEX Q(logs:chatty)] [WARN]", BLUE, "'list' {\n  list: 'client'\n}"],
    ]);
    // a failing query's lines are printed too, and its error reaches onUpdate's error callback
    const errs = [];
    c.onUpdate(api.logs.fails, { list: "client" }, () => {}, (e) => errs.push(e));
    await waitFor(() => errs.length === 1, { what: "the failure" });
    assert.match(errs[0].message, /boom/);
    await waitFor(() => printed.some((p) => p[1] === "%c[CONVEX Q(logs:fails)] [LOG]"), { what: "the failing query's line" });
    assert.deepEqual(printed.find((p) => p[1] === "%c[CONVEX Q(logs:fails)] [LOG]").slice(2), [BLUE, "'about to fail' 1"]);
});

test("raw frames: logLines on the first result and on re-runs; [] for a query that logs nothing", { timeout: 15000 }, async () => {
    const r = await raw();
    r.add([
        [0, "logs:chatty", { list: "raw" }],
        [1, "logs:quiet", { list: "raw" }],
        [2, "logs:fails", { list: "raw" }],
    ]);
    assert.deepEqual(await r.mod(0, 1), { type: "QueryUpdated", queryId: 0, value: 0, logLines: ["[LOG] 'count' 0", "[WARN] 'list' {\n  list: 'raw'\n}"], journal: null });
    assert.deepEqual(await r.mod(1, 1), { type: "QueryUpdated", queryId: 1, value: 0, logLines: [], journal: null });
    const failed = await r.mod(2, 1);
    assert.match(failed.errorMessage, /^\[Request ID: [0-9a-f]{16}\] Server Error\nUncaught Error: boom\n$/);
    assert.deepEqual({ ...failed, errorMessage: "" }, { type: "QueryFailed", queryId: 2, errorMessage: "", logLines: ["[LOG] 'about to fail' 0"], journal: null });
    await add("raw");
    assert.deepEqual((await r.mod(0, 2)).logLines, ["[LOG] 'count' 1", "[WARN] 'list' {\n  list: 'raw'\n}"]);
    assert.deepEqual(await r.mod(1, 2), { type: "QueryUpdated", queryId: 1, value: 1, logLines: [], journal: null });
    assert.deepEqual((await r.mod(2, 2)).logLines, ["[LOG] 'about to fail' 1"]);
    await add("raw");
    assert.deepEqual((await r.mod(0, 3)).logLines, ["[LOG] 'count' 2", "[WARN] 'list' {\n  list: 'raw'\n}"]);
});

test("Convex's dedupe: the same value with the same lines is not sent; with other lines it is", { timeout: 15000 }, async () => {
    const r = await raw();
    r.add([
        [0, "logs:chatty", { list: "dedupe" }],
        [1, "logs:constant", { list: "dedupe" }],
        [2, "logs:varying", { list: "dedupe" }],
    ]);
    await r.mod(0, 1);
    assert.deepEqual((await r.mod(1, 1)).logLines, ["[LOG] 'always the same'"]);
    assert.deepEqual(await r.mod(2, 1), { type: "QueryUpdated", queryId: 2, value: "same", logLines: ["[LOG] 'seen' 0"], journal: null });
    const before = await metrics(srv);
    for (let i = 1; i <= 3; i++) {
        await add("dedupe");
        // the three re-ran in the flush of that write: chatty's update's transition has them all
        await r.mod(0, 1 + i);
        const t = r.transitions.find((x) => x.modifications.some((m) => m.queryId === 0 && m.value === i));
        assert.deepEqual(t.modifications.map((m) => m.queryId).sort(), [0, 2], "constant (same value, same lines) is not sent");
        assert.deepEqual(t.modifications.find((m) => m.queryId === 2), { type: "QueryUpdated", queryId: 2, value: "same", logLines: [`[LOG] 'seen' ${i}`], journal: null });
    }
    await sleep(100);
    assert.equal(r.mods(1).length, 1, "constant was sent once");
    const after = await metrics(srv);
    assert.equal(after.resultsSuppressed - before.resultsSuppressed, 3, "constant's three re-runs were suppressed; varying's were sent");
});

test("logLines are bounded per run as over HTTP: 256 lines, 32 KiB a line, 256 KiB a run", { timeout: 20000 }, async () => {
    const r = await raw();
    r.add([
        [0, "logs:flood", { n: 1000, size: 1 }],
        [1, "logs:flood", { n: 255, size: 1 }],
        [2, "logs:flood", { n: 20, size: 40000 }],
    ]);
    const many = (await r.mod(0, 1)).logLines;
    assert.equal(many.length, 256);
    assert.equal(many[254], "[LOG] 254 'x'");
    assert.equal(many[255], "[ERROR] Log overflow (maximum 256). Remaining log lines omitted.");
    assert.equal((await r.mod(1, 1)).logLines.length, 255, "255 lines fit");
    const wide = (await r.mod(2, 1)).logLines;
    assert.ok(wide[0].endsWith("x' (truncated due to length)") || wide[0].endsWith("x (truncated due to length)"), wide[0].slice(-60));
    assert.equal(Buffer.byteLength(wide[0]) - " (truncated due to length)".length, 32 * 1024);
    assert.equal(wide.at(-1), "[ERROR] Log overflow (maximum 262144 bytes). Remaining log lines omitted.");
    const total = wide.reduce((n, l) => n + Buffer.byteLength(l), 0);
    assert.ok(total <= 256 * 1024 + 200, `kept ${total} bytes`);
    // the real client prints the overflow notice like any other line
    const { c, printed } = client();
    let v;
    c.onUpdate(api.logs.flood, { n: 300, size: 1, tag: "client" }, (x) => (v = x));
    await waitFor(() => v === 300 && printed.length === 256, { what: "256 printed lines" });
    assert.deepEqual(printed[255].slice(1), ["%c[CONVEX Q(logs:flood)] [ERROR]", BLUE, "Log overflow (maximum 256). Remaining log lines omitted."]);
});

test("sessions sharing a live query each get the lines of the run whose value they receive", { timeout: 15000 }, async () => {
    const a = await raw();
    const b = await raw();
    a.add([[7, "logs:chatty", { list: "shared" }]]);
    b.add([[3, "logs:chatty", { list: "shared" }]]);
    const first = ["[LOG] 'count' 0", "[WARN] 'list' {\n  list: 'shared'\n}"];
    assert.deepEqual((await a.mod(7, 1)).logLines, first);
    assert.deepEqual((await b.mod(3, 1)).logLines, first);
    const m0 = await metrics(srv);
    await add("shared");
    const second = ["[LOG] 'count' 1", "[WARN] 'list' {\n  list: 'shared'\n}"];
    assert.deepEqual(await a.mod(7, 2), { type: "QueryUpdated", queryId: 7, value: 1, logLines: second, journal: null });
    assert.deepEqual(await b.mod(3, 2), { type: "QueryUpdated", queryId: 3, value: 1, logLines: second, journal: null });
    assert.equal((await metrics(srv)).queryExecutions - m0.queryExecutions, 1, "one run served both sessions");
    // a session subscribing later is sent the cached result with its run's lines, as Convex's
    // query cache returns them
    const c = await raw();
    c.add([[0, "logs:chatty", { list: "shared" }]]);
    assert.deepEqual(await c.mod(0, 1), { type: "QueryUpdated", queryId: 0, value: 1, logLines: second, journal: null });
    assert.equal((await metrics(srv)).queryExecutions - m0.queryExecutions, 1, "not run again");
    // and a quiet re-run replaces them: the next subscriber gets its value with no lines
    const d = await raw();
    d.add([[0, "logs:quiet", { list: "shared" }]]);
    assert.deepEqual((await d.mod(0, 1)).logLines, []);
});

test("bytes kept for later subscribers are capped; past the cap a run's lines go out once", { timeout: 60000 }, async () => {
    // 80 live queries of ~230 KB of lines each: about 18 MB, past the 16 MiB kept across queries
    const N = 80;
    const base = (await metrics(srv)).liveLogBytes;
    const a = await raw();
    for (let i = 0; i < N; i += 20) a.add(Array.from({ length: 20 }, (_, j) => [i + j, "logs:flood", { n: 20, size: 40000, tag: `cap${i + j}` }]));
    for (let i = 0; i < N; i++) assert.equal((await a.mod(i, 1, 30000)).logLines.length, 8, `query ${i} sent its lines`);
    const kept = (await metrics(srv)).liveLogBytes;
    assert.ok(kept <= base + 16 * 1024 * 1024, `kept ${kept} bytes`);
    assert.ok(kept >= base + 8 * 1024 * 1024, `kept ${kept} bytes: the cap is not far below 16 MiB`);
    // a second session: the queries whose lines were kept come with them, the others with none
    const b = await raw();
    for (let i = 0; i < N; i += 20) b.add(Array.from({ length: 20 }, (_, j) => [i + j, "logs:flood", { n: 20, size: 40000, tag: `cap${i + j}` }]));
    const got = [];
    for (let i = 0; i < N; i++) got.push((await b.mod(i, 1, 30000)).logLines.length);
    const withLines = got.filter((n) => n === 8).length;
    assert.equal(withLines + got.filter((n) => n === 0).length, N, got.join(","));
    assert.ok(withLines > 30 && withLines < N, `${withLines} of ${N} kept`);
    // closing both sessions frees those live queries and the lines they kept
    a.ws.close();
    b.ws.close();
    await waitFor(async () => (await metrics(srv)).liveLogBytes === base, { what: "the kept lines freed", timeout: 10000 });
});
