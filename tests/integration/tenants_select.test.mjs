// Choosing the tenant besides /t/<tenant>/ (issue 11 item 6): --tenant-header (a proxy's header
// names the tenant of an unprefixed request; one naming another tenant than the path is refused),
// seed 002's `shardKey` in an unprefixed HTTP call's body, and --tenant-claim (a verified token
// must carry a claim naming the tenant it is used on: a token of tenant a on /t/b/ is 403
// TenantMismatch, over HTTP, the sync protocol and Convex's HTTP API).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, request, SyncConn, runCli } from "./helpers.mjs";
import { signHs256 } from "./idp.mjs";

const SECRET = "tenant-select-secret-0123456789abcdef";
const ISS = "https://vireo.test/self";
let srv;
const conns = [];

before(async () => {
    srv = await startServer(tempDir("tenants"), {
        args: ["--tenants", "--tenant-header", "X-Tenant", "--tenant-claim", "tenant", "--jwt-secret", SECRET, "--jwt-issuer", ISS, "--action-threads", "1"],
    });
});
after(async () => {
    for (const c of conns) c.close();
    await srv?.stop?.();
});

const token = (claims) => signHs256(SECRET, { iss: ISS, sub: "user-1", exp: Math.floor(Date.now() / 1000) + 600, ...claims });
const q = (p, body, headers = {}) => request(srv.port, "POST", p, body, { headers });

test("--tenant-header: an unprefixed request goes to the tenant the header names", async () => {
    let r = await q("/api/mutation", { path: "notes:add", args: { text: "via header" } }, { "X-Tenant": "hd-a" });
    assert.equal(r.json?.status, "success", r.text);
    r = await q("/t/hd-a/api/query", { path: "notes:list", args: {} });
    assert.deepEqual(r.json.value, ["via header"]);
    r = await q("/api/query", { path: "notes:list", args: {} }, { "x-tenant": "hd-b" });
    assert.deepEqual(r.json.value, []);
    // the same tenant in both: fine; another: refused
    r = await q("/t/hd-a/api/query", { path: "notes:list", args: {} }, { "X-Tenant": "hd-a" });
    assert.deepEqual(r.json.value, ["via header"]);
    r = await q("/t/hd-a/api/query", { path: "notes:list", args: {} }, { "X-Tenant": "hd-b" });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errorCode, "TenantMismatch");
    assert.match(r.json.errorMessage, /the path names tenant "hd-a" but the X-Tenant header names "hd-b"/);
    // the header twice (a proxy appending its own after the client's): refused, whichever values
    for (const twice of [["hd-b", "hd-a"], ["hd-a", "hd-a"]]) {
        r = await q("/api/query", { path: "notes:list", args: {} }, { "X-Tenant": twice });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.errorCode, "InvalidTenant");
        assert.equal(r.json.errorMessage, "the X-Tenant header appears 2 times; a request names one tenant");
    }
    // a bad name in the header
    for (const bad of ["A", "..", "a/b", ""]) {
        r = await q("/api/query", { path: "notes:list", args: {} }, { "X-Tenant": bad });
        assert.equal(r.status, 400, `${bad}: ${r.text}`);
        assert.equal(r.json.errorCode, "InvalidTenantName");
        assert.match(r.json.errorMessage, /^the X-Tenant header: /);
    }
    // the sync protocol through the header
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api/sync`, { headers: { "X-Tenant": "hd-a" } });
    const c = new SyncConn(ws);
    conns.push(c);
    await new Promise((res, rej) => (ws.once("open", res), ws.once("error", rej)));
    await c.connect();
    const t = await c.subscribe(1, "notes:list");
    assert.deepEqual(t.modifications.find((m) => m.queryId === 1).value, ["via header"]);
    c.close();
    // server-wide routes ignore the header
    r = await request(srv.port, "GET", "/api/admin/tenants", undefined, { headers: { Authorization: `Bearer ${srv.adminKey}`, "X-Tenant": "hd-a" } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.tenants.some((x) => x.name === "hd-a"));
});

test("shardKey in an unprefixed HTTP call's body selects the tenant (seed 002)", async () => {
    let r = await q("/api/mutation", { path: "notes:add", args: { text: "keyed" }, shardKey: "sk-a" });
    assert.equal(r.json?.status, "success", r.text);
    r = await q("/api/run/notes/list", { args: {}, shardKey: "sk-a" });
    assert.deepEqual(r.json.value, ["keyed"], r.text);
    r = await q("/t/sk-b/api/query", { path: "notes:list", args: {} });
    assert.deepEqual(r.json.value, []);
    for (const [k, code] of [["../x", "InvalidTenantName"], ["Sk", "InvalidTenantName"], [5, "InvalidTenantName"]]) {
        r = await q("/api/query", { path: "notes:list", args: {}, shardKey: k });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.errorCode, code);
    }
    // neither a prefix, a header nor a shardKey: the tenants-only 404
    r = await q("/api/query", { path: "notes:list", args: {} });
    assert.equal(r.status, 404, r.text);
    assert.match(r.json.errorMessage, /this server serves tenants/);
});

test("--tenant-claim: a token whose claim names another tenant (or none) is 403 TenantMismatch; its own tenant runs with the identity", async () => {
    const ta = token({ tenant: "cl-a" });
    const auth = (t) => ({ Authorization: `Bearer ${t}` });
    let r = await q("/t/cl-a/api/query", { path: "notes:whoami", args: {} }, auth(ta));
    assert.equal(r.json?.status, "success", r.text);
    assert.deepEqual(r.json.value, { subject: "user-1", tenant: "cl-a" });
    r = await q("/t/cl-b/api/query", { path: "notes:whoami", args: {} }, auth(ta));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.errorCode, "TenantMismatch");
    assert.match(r.json.errorMessage, /the token's "tenant" claim names tenant "cl-a", not "cl-b" \(--tenant-claim\)/);
    // the other tenant's mutation did not run
    r = await q("/t/cl-b/api/mutation", { path: "notes:add", args: { text: "intruder" } }, auth(ta));
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((await q("/t/cl-b/api/query", { path: "notes:list", args: {} })).json.value, []);
    // Convex's shape (/api/run) and the header route are checked the same way
    r = await q("/t/cl-b/api/run/notes/whoami", { args: {} }, auth(ta));
    assert.equal(r.status, 403, r.text);
    r = await q("/api/query", { path: "notes:whoami", args: {} }, { ...auth(ta), "X-Tenant": "cl-b" });
    assert.equal(r.status, 403, r.text);
    // a token without the claim
    r = await q("/t/cl-a/api/query", { path: "notes:whoami", args: {} }, auth(token({})));
    assert.equal(r.status, 403, r.text);
    assert.match(r.json.errorMessage, /the token has no string "tenant" claim naming tenant "cl-a"/);
    // no token: anonymous, as the app decides
    r = await q("/t/cl-b/api/query", { path: "notes:whoami", args: {} });
    assert.equal(r.json.value, null);
    // the sync protocol: connect's token of another tenant gets authError TenantMismatch, the session goes on anonymously
    const c = await SyncConn.open(srv.port, { path: "/t/cl-b/api/sync" });
    conns.push(c);
    const from = c.mark;
    c.send({ type: "connect", sessionId: crypto.randomUUID(), clientVersion: "vireo-it/0", protocolVersion: 1, token: ta });
    const e = await c.waitMsg((m) => m.type === "authError", { from, what: "authError" });
    assert.equal(e.code, "TenantMismatch");
    const own = await SyncConn.open(srv.port, { path: "/t/cl-a/api/sync" });
    conns.push(own);
    const f2 = own.mark;
    own.send({ type: "connect", sessionId: crypto.randomUUID(), clientVersion: "vireo-it/0", protocolVersion: 1, token: ta });
    const ok = await own.waitMsg((m) => m.type === "authenticated" || m.type === "authError", { from: f2, what: "authenticated" });
    assert.equal(ok.type, "authenticated", JSON.stringify(ok));
    c.close();
    own.close();
});

test("--tenant-header and --tenant-claim need a name", async () => {
    for (const f of ["--tenant-header", "--tenant-claim"]) {
        const r = await runCli(["serve", "--tenants", f, "", tempDir("tenants")]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`${f} needs a`));
    }
});
