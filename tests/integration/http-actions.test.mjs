// HTTP actions on apps/http-actions: http.ts's httpRouter served on the server's own port.
// Exact paths, prefixes (longest wins, exact beats prefix), methods (HEAD as GET, a path whose
// method has no route is Convex's 404), JSON and binary bodies both ways, query parameters,
// request and response headers (several Set-Cookie), status codes, the app's own OPTIONS/CORS,
// a throwing handler and a non-Response (500, logged, the server keeps serving), ctx.runQuery /
// runMutation / runAction / scheduler / auth from an HTTP action, routes before public/ files,
// Vireo's reserved /api/ and /_vireo/, the body cap (413), a colliding route as a load error
// while the old version keeps serving, and many concurrent requests.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, waitFor, request } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
async function start(dir, args = []) {
    const s = await startServer(dir, { args });
    servers.push(s);
    return s;
}

let shared;
async function srv() {
    if (!shared) shared = await start(tempDir("http-actions"));
    return shared;
}

const f = async (s, p, init) => fetch(`${s.url}${p}`, init);

test("GET on an exact path: query parameters through new URL(request.url), headers, HEAD", async () => {
    const s = await srv();
    assert.match(s.stderr, /app: http\.ts: 18 HTTP routes served \(GET \/cookies, GET \/hello/);
    let r = await f(s, "/hello?name=ada%20l");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(r.headers.get("x-method"), "GET");
    assert.equal(await r.text(), "hello ada l");
    r = await f(s, "/hello");
    assert.equal(await r.text(), "hello world");
    r = await f(s, "/hello?name=bob", { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-method"), "HEAD"); /* the GET route, with the real method */
    assert.equal(r.headers.get("content-length"), "9");
    assert.equal(await r.text(), "");
});

test("POST with a JSON body; Response.json with a status", async () => {
    const s = await srv();
    const r = await f(s, "/hello", { method: "POST", body: JSON.stringify({ a: [1, "x"], b: null }),
                                     headers: { "content-type": "application/json" } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.deepEqual(await r.json(), { got: { a: [1, "x"], b: null }, method: "POST", path: "/hello" });
    const bad = await f(s, "/hello", { method: "POST", body: "{not json" });
    assert.equal(bad.status, 500); /* request.json() threw in the handler */
});

test("binary bodies both ways on a prefix route, with the URL and a request header", async () => {
    const s = await srv();
    const bytes = Buffer.alloc(256 * 1024 + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 255;
    const r = await f(s, "/echo/a/b%20c?x=1&y=%C3%A9", {
        method: "PUT", body: bytes, headers: { "x-custom": "café ok".normalize(), "content-type": "application/octet-stream" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.equal(r.headers.get("x-length"), String(bytes.length));
    assert.equal(r.headers.get("x-url"), `http://127.0.0.1:${s.port}/echo/a/b%20c?x=1&y=%C3%A9`);
    const got = Buffer.from(await r.arrayBuffer());
    assert.deepEqual(got, Buffer.from(bytes).reverse());
    const empty = await f(s, "/echo/", { method: "PUT" });
    assert.equal(empty.headers.get("x-length"), "0");
    assert.equal((await empty.arrayBuffer()).byteLength, 0);
});

test("prefixes: the longest wins, an exact path beats them; methods route separately", async () => {
    const s = await srv();
    const text = async (p, m = "GET") => {
        const r = await f(s, p, { method: m });
        return `${r.status} ${await r.text()}`;
    };
    assert.equal(await text("/p/"), "200 short /p/");
    assert.equal(await text("/p/x/y"), "200 short /p/x/y");
    assert.equal(await text("/p/long/x"), "200 long /p/long/x");
    assert.equal(await text("/p/long/exact"), "200 exact /p/long/exact");
    assert.equal(await text("/p/long/exact/"), "200 long /p/long/exact/");
    assert.equal(await text("/p"), "404 No HttpAction routed for /p"); /* not under "/p/" */
    assert.equal(await text("/anything/at/all", "DELETE"), "200 root-delete /anything/at/all");
    // the path has routes, not for this method: Convex's 404 (it answers no 405)
    assert.equal(await text("/methods", "PUT"), "404 No HttpAction routed for /methods");
    assert.equal(await text("/methods", "GET"), "404 No HttpAction routed for /methods");
    const patch = await f(s, "/methods", { method: "PATCH" });
    assert.equal(patch.status, 200);
    assert.equal(patch.headers.get("x-method"), "PATCH");
    // routed by the path the handler's URL shows (dot segments resolved, as Convex's router does)
    const raw = async (p, m = "GET") => {
        const r = await request(s.port, m, p);
        return `${r.status} ${r.text}`;
    };
    assert.equal(await raw("/p/long/../x"), "200 short /p/x");
    assert.equal(await raw("/p/long/%2e%2E/exact"), "200 short /p/exact");
    assert.equal(await raw("/p/./long/./exact"), "200 exact /p/long/exact");
    // resolved into Vireo's own /api: never the app's
    assert.doesNotMatch(await raw("/x/../api/health", "DELETE"), /root-delete/);
    // a path longer than any stack buffer is resolved the same way
    const pad = "a".repeat(3000);
    assert.doesNotMatch(await raw(`/x/../api/${pad}`, "DELETE"), /root-delete/);
    assert.equal(await raw(`/p/long/../${pad}`), `200 short /p/${pad}`);
    // Convex's 404 names the path the URL shows
    assert.equal(await raw("/methods/x/.."), "404 No HttpAction routed for /methods/");
});

test("OPTIONS and CORS are the app's: its route answers, with its headers", async () => {
    const s = await srv();
    const r = await f(s, "/methods", { method: "OPTIONS", headers: { Origin: "https://app.example" } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(r.headers.get("access-control-allow-methods"), "PATCH, DELETE");
    assert.equal(r.headers.get("x-method"), "OPTIONS");
    // a path the app routes, but not for OPTIONS: Convex's 404, no preflight grant of Vireo's
    const pre = await f(s, "/hello", { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "DELETE" } });
    assert.equal(pre.status, 404);
    assert.equal(await pre.text(), "No HttpAction routed for /hello");
    assert.equal(pre.headers.get("access-control-allow-origin"), null);
    // Vireo's own paths keep Vireo's CORS answer
    const api = await f(s, "/api/query", { method: "OPTIONS" });
    assert.equal(api.status, 204);
    assert.equal(api.headers.get("access-control-allow-origin"), "*");
});

test("status codes and several Set-Cookie headers", async () => {
    const s = await srv();
    const r = await f(s, "/cookies", { redirect: "manual" });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "/hello");
    assert.deepEqual(r.headers.getSetCookie(), ["a=1; Path=/", "b=2; HttpOnly"]);
    for (const code of [200, 201, 400, 404, 418, 503, 599]) {
        const x = await f(s, `/status?code=${code}`);
        assert.equal(x.status, code);
        assert.equal(await x.text(), `status ${code}`);
    }
    const none = await f(s, "/status?code=204");
    assert.equal(none.status, 204);
    assert.equal(await none.text(), "");
});

test("a throwing handler is a 500 with the error logged; the server keeps serving", async () => {
    const s = await srv();
    const from = s.stderr.length;
    const r = await f(s, "/throws");
    assert.equal(r.status, 500);
    const body = await r.json();
    assert.equal(body.errorCode, "FunctionFailed");
    assert.equal(body.errorMessage, "boom from an HTTP action");
    // Convex's fields beside Vireo's (its js-integration-tests "http action failure")
    assert.match(body.code, /^\[Request ID: [0-9a-f]{16}\] Server Error: Uncaught Error: boom from an HTTP action$/);
    assert.equal(body.trace, "Uncaught Error: boom from an HTTP action");
    assert.equal(body.data, undefined);
    // a ConvexError: its data too ("http action throwing ConvexError")
    const cx = await f(s, "/throws?convex=1");
    assert.equal(cx.status, 500);
    const cb = await cx.json();
    assert.match(cb.code, /^\[Request ID: [0-9a-f]{16}\] Server Error: Uncaught ConvexError: \{"code":"NOPE","n":"5n"\}$/);
    assert.deepEqual(cb.data, { code: "NOPE", n: { $integer: "BQAAAAAAAAA=" } });
    assert.equal(cb.errorCode, "VireoError");
    await s.waitStderr(/\[http\] GET \/throws: HTTP action failed: FunctionFailed: boom from an HTTP action/, { from });
    assert.match(s.stderr.slice(from), /\[fn\] GET \/throws: about to throw/);
    const ok = await f(s, "/hello");
    assert.equal(await ok.text(), "hello world");
});

test("a handler that returns something else than a Response is a 500 with a clear log line", async () => {
    const s = await srv();
    const from = s.stderr.length;
    const r = await f(s, "/not-a-response");
    assert.equal(r.status, 500);
    const body = await r.json();
    assert.equal(body.errorCode, "InvalidResponse");
    assert.match(body.errorMessage, /the HTTP action for GET \/not-a-response returned an Object, not a Response/);
    await s.waitStderr(/\[http\] GET \/not-a-response: HTTP action failed: InvalidResponse: the HTTP action for GET \/not-a-response returned an Object, not a Response/, { from });
});

test("ctx.runMutation, runQuery, runAction, auth and scheduler from an HTTP action", async () => {
    const s = await srv();
    const r = await f(s, "/notes", { method: "POST", body: JSON.stringify({ text: "from http" }) });
    assert.equal(r.status, 200);
    const out = await r.json();
    assert.match(out.id, /^[0-9a-z]{32}$/);
    assert.equal(out.loud, "FROM HTTP!");
    assert.equal(out.who, null);            /* no auth yet (issue 11) */
    assert.equal(out.storage, "object");    /* ctx.storage (an action's: storage.test.mjs) */
    assert.ok(out.count >= 1);
    // the change is visible to a query right after the HTTP action answered
    assert.ok((await s.value("query", "notes:list", {})).includes("from http"));
    const later = await f(s, "/notes/later", { method: "POST", body: JSON.stringify({ text: "scheduled" }) });
    assert.equal(later.status, 200);
    assert.match((await later.json()).job, /^[0-9a-z]{32}$/);
    await waitFor(async () => (await s.value("query", "notes:list", {})).includes("scheduled"));
});

test("routes come before public/ files; Vireo's /api/ and /_vireo/ are never routed", async () => {
    const s = await srv();
    assert.equal(await (await f(s, "/shadowed.txt")).text(), "from the route");
    assert.equal(await (await f(s, "/static.txt")).text(), "static file\n");
    assert.match(await (await f(s, "/")).text(), /<title>static<\/title>/);
    const missing = await f(s, "/missing.txt");
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "No HttpAction routed for /missing.txt");
    // a DELETE prefix route on "/" does not reach Vireo's paths
    const api = await f(s, "/api/query", { method: "DELETE" });
    assert.equal(api.status, 405);
    assert.equal((await api.json()).errorCode, "MethodNotAllowed");
    const vir = await f(s, "/_vireo/client/nope.js", { method: "DELETE" });
    assert.equal(vir.status, 404);
    assert.equal((await vir.json()).errorCode, "NotFound");
    const health = await f(s, "/api/health");
    assert.equal((await health.json()).status, "ok");
});

test("many concurrent requests all answered, each with its own result", async () => {
    const s = await srv();
    const n = 200;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) =>
        f(s, `/slow?n=${i}`).then(async (r) => [r.status, (await r.json()).n])));
    for (let i = 0; i < n; i++) assert.deepEqual(rs[i], [200, i]);
});

test("the body cap: --max-http-action-body (413 past it), and its range", async () => {
    const s = await start(tempDir("http-actions"), ["--max-http-action-body", "1000"]);
    let r = await f(s, "/echo/x", { method: "PUT", body: Buffer.alloc(1000, 1) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-length"), "1000");
    r = await f(s, "/echo/x", { method: "PUT", body: Buffer.alloc(1001, 1) });
    assert.equal(r.status, 413);
    const body = await r.json();
    assert.equal(body.errorCode, "BodyTooLarge");
    assert.match(body.errorMessage, /request body \(1001 bytes\) is larger than the HTTP action body limit \(1000 bytes, --max-http-action-body\)/);
    // a Content-Length over it is refused before the body: 413, not 100 Continue
    const net = await import("node:net");
    const head = await new Promise((resolve, reject) => {
        const sock = net.connect(s.port, "127.0.0.1", () =>
            sock.write("PUT /echo/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"));
        let got = "";
        sock.on("data", (d) => { got += d; if (got.includes("\r\n\r\n")) { sock.destroy(); resolve(got); } });
        sock.on("error", reject);
        setTimeout(() => { sock.destroy(); resolve(got); }, 3000);
    });
    assert.match(head, /^HTTP\/1\.1 413 /, head);
    // /api/ calls keep the server's own --max-body
    assert.equal((await s.call("mutation", "notes:add", { text: "x".repeat(5000) })).status, 200);
    const big = Buffer.alloc(8 << 20, 7); /* the default cap, 8 MiB, on the shared server */
    const d = await f(await srv(), "/echo/big", { method: "PUT", body: big });
    assert.equal(d.status, 200, d.status === 200 ? "" : await d.text());
    assert.equal(d.headers.get("x-length"), String(big.length));
    const e = await f(await srv(), "/echo/big", { method: "PUT", body: Buffer.alloc((8 << 20) + 1) });
    assert.equal(e.status, 413);
});

test("a route in Vireo's reserved paths is a load error naming it; the old version keeps serving", async () => {
    const dir = tempDir("http-actions");
    const s = await start(dir);
    const file = path.join(dir, "vireo/http.ts");
    const orig = fs.readFileSync(file, "utf8");
    const breakWith = async (line, re) => {
        const from = s.stderr.length;
        fs.writeFileSync(file, orig.replace("export default http;", `${line}\nexport default http;`));
        await s.waitStderr(re, { from, timeout: 8000 });
        await s.waitStderr(/previous version keeps running/, { from, timeout: 8000 });
        assert.equal(await (await f(s, "/hello")).text(), "hello world");
    };
    await breakWith(`http.route({ path: "/api/x", method: "GET", handler: tag("x") });`,
                    /route GET \/api\/x collides with Vireo's reserved path \/api\//);
    await breakWith(`http.route({ pathPrefix: "/_vireo/mine/", method: "POST", handler: tag("x") });`,
                    /route POST \/_vireo\/mine\/\* collides with Vireo's reserved path \/_vireo\//);
    await breakWith(`http.route({ path: "/api", method: "GET", handler: tag("x") });`,
                    /route GET \/api collides with Vireo's reserved path \/api\//);
    // Convex's own route checks, with its texts
    await breakWith(`http.route({ path: "nope", method: "GET", handler: tag("x") });`,
                    /path 'nope' does not start with a \//);
    await breakWith(`http.route({ pathPrefix: "/nope", method: "GET", handler: tag("x") });`,
                    /pathPrefix \/nope must end with a \//);
    await breakWith(`http.route({ path: "/hello", method: "GET", handler: tag("x") });`,
                    /Path '\/hello' for method GET already in use/);
    await breakWith(`http.route({ pathPrefix: "/p/", method: "GET", handler: tag("x") });`,
                    /GET pathPrefix \/p\/ is already defined/);
    await breakWith(`http.route({ path: "/x", method: "HEAD", handler: tag("x") });`,
                    /'HEAD' is not an allowed HTTP method \(like GET, POST, PUT etc\.\)/);
    // a good change is served at once
    const from = s.stderr.length;
    fs.writeFileSync(file, orig.replace("export default http;",
        `http.route({ path: "/new", method: "GET", handler: tag("new") });\nexport default http;`));
    await s.waitStderr(/19 HTTP routes served/, { from, timeout: 8000 });
    assert.equal(await (await f(s, "/new")).text(), "new /new");
});

test("an app without http.ts: unknown paths answer Vireo's 404 as before", async () => {
    const dir = tempDir("http-actions");
    fs.rmSync(path.join(dir, "vireo/http.ts"));
    fs.rmSync(path.join(dir, "public"), { recursive: true });
    const s = await start(dir);
    assert.doesNotMatch(s.stderr, /HTTP routes/);
    const r = await request(s.port, "GET", "/hello");
    assert.equal(r.status, 404);
    assert.equal(r.json.errorCode, "NotFound");
});
