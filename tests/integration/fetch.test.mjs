// fetch and actions that wait (issue 9 items 1 and 2) on apps/fetch. First the Fetch types
// (Headers, Request, Response, AbortController/AbortSignal): each case in
// apps/fetch/vireo/_lib/types.mjs runs in Vireo (action and query) and in this Node process, and
// the results must be equal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, APPS, waitFor, SANITIZER_RE } from "./helpers.mjs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { runTypes } = await import(pathToFileURL(path.join(APPS, "fetch/vireo/_lib/types.mjs")).href);

let srv;
before(async () => {
    srv = await startServer(tempDir("fetch"), { args: ["--action-threads", "2", "--fetch-max-response-mb", "2", "--fetch-timeout-ms", "2600"] });
});
after(async () => {
    if (srv) await srv.stop();
    assert.doesNotMatch(srv?.stderr ?? "", SANITIZER_RE); // a streamed body left behind is a leak
});

async function vireo(kind, name, input) {
    const fn = kind === "action" ? "fetchtypes:inAction" : "fetchtypes:inQuery";
    const r = await srv.call(kind, fn, input === undefined ? { name } : { name, input });
    assert.equal(r.status, 200, `${kind} ${name}(${JSON.stringify(input)}): HTTP ${r.status} ${r.text}`);
    assert.equal(r.json.status, "success", r.text);
    return r.json.value;
}

async function same(name, inputs = [undefined], { kinds = ["action", "query"] } = {}) {
    for (const input of inputs) {
        const want = JSON.parse(JSON.stringify(await runTypes(name, input)));
        for (const kind of kinds) {
            const got = await vireo(kind, name, input);
            assert.deepEqual(got, want, `${name} in a ${kind}, input ${JSON.stringify(input)}`);
        }
    }
}

test("Headers: order, combining, set-cookie, case-insensitivity, errors as Node", async () => {
    await same("headers");
});

test("Request: constructor forms, method normalisation, clone, body used once, errors as Node", async () => {
    await same("requestBasics");
});

test("bodies of every kind: string, ArrayBuffer, typed arrays, DataView, Blob, URLSearchParams, others", async () => {
    await same("bodyKinds", ["string", "arraybuffer", "uint8", "view", "int16", "blob", "blob-untyped", "params", "object", "number", "null"]);
});

test("body readers: json, arrayBuffer, blob, formData (multipart and urlencoded), consumed bodies", async () => {
    await same("readers");
});

test("Response: status, ok, statusText, clone, Response.json/redirect/error, errors as Node", async () => {
    await same("responseBasics");
});

test("AbortController and AbortSignal (abort, any, listeners, throwIfAborted); AbortSignal.timeout in actions", async () => {
    await same("abort");
    await same("abortTimeout", [undefined], { kinds: ["action"] });
});

// ---- fetch against a local HTTP server ----

import http from "node:http";

let web, base;
const seen = []; // requests the server saw
const streamClosed = new Set(); // /chunks ids whose client left before the end
const floodLog = []; // ms after the start at which each MiB of /flood was handed to the socket
before(async () => {
    web = http.createServer(async (req, res) => {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const body = Buffer.concat(chunks);
        const u = new URL(req.url, "http://x");
        seen.push({ method: req.method, path: u.pathname });
        if (u.pathname === "/slow") {
            setTimeout(() => res.end("slow " + (u.searchParams.get("id") || "")), Number(u.searchParams.get("ms") || 2000));
            return;
        }
        if (u.pathname === "/chunks") { // n lines, one every ms; notes whether the client left early
            const n = Number(u.searchParams.get("n") || 3), ms = Number(u.searchParams.get("ms") || 400);
            const id = u.searchParams.get("id") || "";
            res.setHeader("content-type", "text/plain");
            res.flushHeaders();
            let i = 0, ended = false;
            res.on("close", () => { if (!ended) streamClosed.add(id); });
            const tick = () => {
                if (res.destroyed) return;
                res.write(`line ${i++}\n`);
                if (i < n) setTimeout(tick, ms);
                else { ended = true; res.end(); }
            };
            tick();
            return;
        }
        if (u.pathname === "/flood") { // MiB bytes as fast as the client takes them; when each MiB went
            const mib = Number(u.searchParams.get("mib") || 32), t0 = Date.now();
            floodLog.length = 0;
            const block = Buffer.alloc(1 << 20, 120);
            let sent = 0, wake = null;
            res.on("close", () => wake?.());
            while (sent < mib && !res.destroyed) {
                const ok = res.write(block);
                sent++;
                floodLog.push(Date.now() - t0);
                if (!ok) await new Promise((r) => { wake = r; res.once("drain", r); });
            }
            res.end();
            return;
        }
        if (u.pathname === "/echo") {
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ method: req.method, headers: req.headers, body: Array.from(body) }));
            return;
        }
        if (u.pathname === "/json") {
            res.setHeader("content-type", "application/json");
            res.setHeader("set-cookie", ["a=1", "b=2"]);
            res.end(JSON.stringify({ hello: "wörld", n: [1, 2] }));
            return;
        }
        if (u.pathname === "/binary") {
            res.setHeader("content-type", "application/octet-stream");
            res.end(Buffer.from([0, 1, 2, 253, 254, 255]));
            return;
        }
        if (u.pathname === "/big") {
            res.end(Buffer.alloc(3 * 1024 * 1024, 97));
            return;
        }
        if (u.pathname === "/redirect") {
            res.statusCode = 302;
            res.setHeader("location", "/json");
            res.end(u.searchParams.has("body") ? "moved" : undefined);
            return;
        }
        if (u.pathname === "/status") {
            res.statusCode = 418;
            res.statusMessage = "I'm a teapot";
            res.end("tea");
            return;
        }
        res.statusCode = 404;
        res.end("no");
    });
    await new Promise((r) => web.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${web.address().port}`;
});
after(() => web && web.close());

async function act(fn, args) {
    const r = await srv.action(fn, args);
    assert.equal(r.json.status, "success", r.text);
    return r.json.value;
}

test("an action awaiting a slow fetch (2 s) does not stop 100 queries and mutations meanwhile", async () => {
    const t0 = Date.now();
    const slow = act("net:slowThenCount", { url: `${base}/slow?ms=2000`, name: "slowfetch" });
    await new Promise((r) => setTimeout(r, 100));
    const answered = [];
    for (let i = 0; i < 50; i++) {
        const m = await srv.mutation("net:bump", { name: "others" });
        assert.equal(m.json.status, "success", m.text);
        const q = await srv.query("net:get", { name: "others" });
        assert.equal(q.json.status, "success", q.text);
        answered.push(Date.now());
    }
    const lastAnswer = answered[answered.length - 1];
    const v = await slow;
    const tSlow = Date.now();
    assert.equal(v.text, "slow ");
    assert.equal(v.n, 1);
    assert.ok(lastAnswer < tSlow && lastAnswer - t0 < 1900, `the 100 calls ended ${lastAnswer - t0} ms in, the fetch at ${tSlow - t0} ms`);
    assert.ok(tSlow - t0 >= 1900, "the fetch took its 2 s");
});

test("more slow actions than worker threads are in flight at once (2 threads, 8 actions of 1.5 s)", async () => {
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        act("net:get1", { url: `${base}/slow?ms=1500&id=${i}` })));
    const took = Date.now() - t0;
    all.forEach((v, i) => assert.equal(v.body, `slow ${i}`));
    assert.ok(took < 4000, `8 actions took ${took} ms: they ran one after another`);
});

test("fetch errors reject with TypeError 'fetch failed' and a cause", async () => {
    // refused: a port nobody listens on
    const dead = http.createServer();
    await new Promise((r) => dead.listen(0, "127.0.0.1", r));
    const port = dead.address().port;
    await new Promise((r) => dead.close(r));
    let v = await act("net:get1", { url: `http://127.0.0.1:${port}/` });
    assert.equal(v.error.name, "TypeError");
    assert.equal(v.error.message, "fetch failed");
    assert.equal(v.error.cause.code, "ECONNREFUSED");
    // oversized (the server runs with --fetch-max-response-mb 2)
    v = await act("net:get1", { url: `${base}/big` });
    assert.equal(v.error.message, "fetch failed");
    assert.equal(v.error.cause.code, "ERR_FETCH_RESPONSE_TOO_LARGE");
    assert.match(v.error.cause.message, /larger than 2097152 bytes/);
    // timeout (--fetch-timeout-ms 2600)
    v = await act("net:get1", { url: `${base}/slow?ms=6000` });
    assert.equal(v.error.cause.code, "ETIMEDOUT");
    assert.ok(v.ms >= 2500 && v.ms < 4500, `timed out after ${v.ms} ms`);
    // bad URL and unsupported scheme
    v = await act("net:get1", { url: "not a url" });
    assert.deepEqual(v.error, { name: "TypeError", message: "Failed to parse URL from not a url", cause: { message: "Invalid URL", code: "ERR_INVALID_URL" } });
    v = await act("net:get1", { url: "ftp://127.0.0.1/x" });
    assert.equal(v.error.message, "fetch failed");
    assert.equal(v.error.cause.code, "ERR_UNSUPPORTED_SCHEME");
    // fetch in a query: Convex's error
    const q = await srv.query("net:inQuery", {});
    assert.match(q.json.value, /^Can't use fetch\(\) in queries and mutations\. Please consider using an action\./);
});

test("responses: status, statusText, headers, JSON, binary, Blob; redirects follow/manual/error", async () => {
    let v = await act("net:get1", { url: `${base}/json`, read: "json" });
    assert.deepEqual(v.body, { hello: "wörld", n: [1, 2] });
    assert.equal(v.status, 200);
    assert.equal(v.ok, true);
    assert.equal(v.statusText, "OK");
    assert.ok(v.headers.some(([k, x]) => k === "content-type" && x === "application/json"));
    assert.deepEqual(v.headers.filter(([k]) => k === "set-cookie"), [["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
    v = await act("net:get1", { url: `${base}/binary`, read: "bytes" });
    assert.deepEqual(v.body, [0, 1, 2, 253, 254, 255]);
    v = await act("net:get1", { url: `${base}/binary`, read: "blob" });
    assert.deepEqual(v.body, ["application/octet-stream", 6]);
    v = await act("net:get1", { url: `${base}/status` });
    assert.deepEqual([v.status, v.ok, v.statusText, v.body], [418, false, "I'm a teapot", "tea"]);
    v = await act("net:get1", { url: `${base}/redirect`, read: "json" });
    assert.deepEqual([v.status, v.redirected, v.url, v.body.hello], [200, true, `${base}/json`, "wörld"]);
    v = await act("net:get1", { url: `${base}/redirect`, init: { redirect: "manual" }, read: "none" });
    assert.deepEqual([v.status, v.redirected], [302, false]);
    assert.ok(v.headers.some(([k, x]) => k === "location" && x === "/json"));
    for (const q of ["", "?body"]) { // a redirect with a body of its own is refused alike
        v = await act("net:get1", { url: `${base}/redirect${q}`, init: { redirect: "error" }, read: "none" });
        assert.equal(v.error?.message, "fetch failed", JSON.stringify(v));
        assert.equal(v.error.cause.message, "unexpected redirect");
    }
    v = await act("net:get1", { url: `${base}/redirect?body`, init: { redirect: "manual" } });
    assert.deepEqual([v.status, v.body], [302, "moved"]);
    v = await act("net:get1", { url: `${base}/redirect?body`, read: "json" });
    assert.deepEqual([v.status, v.redirected, v.body.hello], [200, true, "wörld"]);
    v = await act("net:get1", { url: `${base}/json`, init: { method: "HEAD" }, read: "none" });
    assert.equal(v.status, 200);
});

test("request bodies of every kind, methods and headers reach the server", async () => {
    const kinds = {
        string: [[104, 195, 169, 108, 108, 111], "text/plain;charset=UTF-8"],
        arraybuffer: [[0, 1, 2, 255], undefined],
        uint8: [[255, 0, 128], undefined],
        blob: [[7, 8, 9], "application/x-b"],
        params: [Array.from(Buffer.from("a=1&b=x+y")), "application/x-www-form-urlencoded;charset=UTF-8"],
    };
    for (const [kind, [bytes, type]] of Object.entries(kinds)) {
        const v = await act("net:postKind", { url: `${base}/echo`, kind });
        assert.equal(v.method, "POST");
        assert.deepEqual(v.body, bytes, kind);
        assert.equal(v.headers["content-type"], type, kind);
        assert.equal(v.headers["x-custom"], "yes");
    }
    const fd = await act("net:postKind", { url: `${base}/echo`, kind: "formdata" });
    assert.match(fd.headers["content-type"], /^multipart\/form-data; boundary=/);
    const text = Buffer.from(fd.body).toString();
    assert.match(text, /name="f"\r\n\r\nv\r\n/);
    assert.match(text, /filename="a.txt"\r\nContent-Type: text\/plain\r\n\r\nabc\r\n/);
    const rq = await act("net:postKind", { url: `${base}/echo`, kind: "request" });
    assert.deepEqual([rq.method, Buffer.from(rq.body).toString(), rq.headers["x-kind"]], ["PUT", "via request", "req"]);
});

test("AbortController and AbortSignal.timeout abort a fetch", async () => {
    let v = await act("net:abortable", { url: `${base}/slow?ms=3000`, ms: 200, how: "controller" });
    assert.deepEqual(v, { name: "AbortError", message: "This operation was aborted" });
    v = await act("net:abortable", { url: `${base}/slow?ms=3000`, ms: 200, how: "timeout" });
    assert.deepEqual(v, { name: "TimeoutError", message: "The operation was aborted due to timeout" });
});

test("SIGTERM with actions suspended on fetches: the server stops promptly and answers them", async () => {
    const s = await startServer(tempDir("fetch"), { args: ["--action-threads", "1"] });
    const pending = Array.from({ length: 5 }, () => s.action("net:get1", { url: `${base}/slow?ms=20000` }).catch((e) => e));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    s.proc.kill("SIGTERM");
    const code = await new Promise((r) => s.proc.on("exit", (c) => r(c)));
    assert.ok(Date.now() - t0 < 3000, `stopped after ${Date.now() - t0} ms`);
    assert.equal(code, 0);
    for (const p of await Promise.all(pending)) {
        if (!p || !p.json) continue; // the connection ended with the server
        if (p.json.status === "success") // an action that began as the server stopped (a loaded
            // machine can start one late): its fetch was refused, and it caught that
            assert.equal(p.json.value?.error?.message, "the server is shutting down", p.text);
        else
            assert.equal(p.json.errorCode, "ServerShuttingDown", p.text);
    }
});

// ---- streamed response bodies ----

test("a response body streams into the action: fetch resolves at the head, each chunk as it arrives", async () => {
    const v = await act("net:streamChunks", { url: `${base}/chunks?n=4&ms=400` });
    assert.equal(v.status, 200, JSON.stringify(v));
    assert.equal(v.chunks.map((c) => c.text).join(""), "line 0\nline 1\nline 2\nline 3\n");
    assert.equal(v.chunks.length, 4, JSON.stringify(v.chunks));
    // the head and the first line before the rest was even sent (the lines are 400 ms apart)
    assert.ok(v.headAt < 350 && v.chunks[0].at < 350, JSON.stringify(v));
    for (let i = 1; i < 4; i++)
        assert.ok(v.chunks[i].at - v.chunks[i - 1].at >= 300, `chunk ${i}: ${JSON.stringify(v.chunks)}`);
});

test("a streamed body the action cancels, ignores or aborts stops its transfer", async () => {
    // cancel after the first of 10 lines (400 ms apart): the server sees the client leave
    let v = await act("net:streamChunks", { url: `${base}/chunks?n=10&ms=400&id=cancel`, stop: 1 });
    assert.equal(v.chunks.length, 1, JSON.stringify(v));
    await waitFor(() => streamClosed.has("cancel"), { timeout: 3000, what: "the transfer stopped on cancel" });
    // the action returns without reading the body: dropped when it ends
    assert.equal(await act("net:streamIgnore", { url: `${base}/chunks?n=10&ms=400&id=ignore` }), 200);
    await waitFor(() => streamClosed.has("ignore"), { timeout: 3000, what: "the transfer stopped when the action ended" });
    // the fetch's signal aborted after the head: the next read rejects with its reason
    v = await act("net:streamAbort", { url: `${base}/chunks?n=10&ms=400&id=abort` });
    assert.deepEqual(v, { first: "line 0\n", error: "enough" });
    await waitFor(() => streamClosed.has("abort"), { timeout: 3000, what: "the transfer stopped on abort" });
    // the server goes on serving fetches
    assert.equal((await act("net:get1", { url: `${base}/json`, read: "json" })).body.hello, "wörld");
});

test("a streamed body past --fetch-max-response-mb fails the read that crosses it", async () => {
    const v = await act("net:streamChunks", { url: `${base}/big` }); // 3 MiB, the limit is 2
    assert.equal(v.error?.message, "fetch failed", JSON.stringify(v));
    assert.equal(v.error.cause.code, "ERR_FETCH_RESPONSE_TOO_LARGE");
    assert.match(v.error.cause.message, /the response body is larger than 2097152 bytes \(the server's --fetch-max-response-mb\)/);
});

test("a body the action reads slowly is not taken faster than it reads: the transfer pauses", async () => {
    // a server of its own with room for 32 MiB; the action waits 1.5 s after the first chunk
    const s = await startServer(tempDir("fetch"), { args: ["--action-threads", "1", "--fetch-max-response-mb", "64"] });
    try {
        const r = await s.action("net:streamChunks", { url: `${base}/flood?mib=32`, pauseMs: 1500 });
        assert.equal(r.json.status, "success", r.text);
        const v = r.json.value;
        assert.equal(v.bytes, 32 << 20, JSON.stringify(v).slice(0, 300));
        // while the action waited, the sender got at most Vireo's 1 MiB buffer plus what the
        // sockets and libcurl hold; taken unpaused, all 32 MiB would have gone in that time
        const sentWhileWaiting = floodLog.filter((t) => t < 1300).length;
        assert.ok(sentWhileWaiting < 16, `${sentWhileWaiting} MiB sent during the action's 1.5 s pause (${floodLog.slice(0, 40)})`);
        assert.ok(floodLog[floodLog.length - 1] >= 1300, "the rest went once the action read on");
    } finally {
        await s.stop();
        assert.doesNotMatch(s.stderr, SANITIZER_RE);
    }
});

