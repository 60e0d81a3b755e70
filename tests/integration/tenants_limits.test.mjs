// Per-tenant limits of `vireo serve|dev --tenants` (issue 11 item 6): --max-connections-per-tenant
// (a sync upgrade past it, either protocol, gets 429 TenantConnectionLimit; other tenants are
// unaffected) and --max-messages-per-second (a token bucket per sync connection with a burst of
// twice the rate: past it a message gets an `error` frame RateLimited with retryAfterMs — on
// Convex's protocol a failed MutationResponse through the real ConvexClient — and the connection
// stays open and serves later messages).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, request, SyncConn, runCli, sleep } from "./helpers.mjs";

let srv;
const open = [];

before(async () => {
    srv = await startServer(tempDir("tenants"), {
        args: ["--tenants", "--max-connections-per-tenant", "3", "--max-messages-per-second", "5", "--action-threads", "1"],
    });
});
after(async () => {
    for (const c of open) c.close?.();
    await srv?.stop?.();
});

/* An upgrade that the server refuses: its status and JSON body. */
async function refusedUpgrade(p) {
    const { default: WebSocket } = await import("ws");
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${p}`);
        ws.on("open", () => {
            ws.close();
            reject(new Error(`${p}: the upgrade was accepted`));
        });
        ws.on("unexpected-response", (req, res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(body) }));
        });
        ws.on("error", () => {});
    });
}

test("--max-connections-per-tenant: the next upgrade (either protocol) gets 429 TenantConnectionLimit; other tenants still connect", { timeout: 20000 }, async () => {
    const a = [];
    for (let i = 0; i < 3; i++) {
        const c = await SyncConn.open(srv.port, { path: "/t/cap-a/api/sync" });
        open.push(c);
        a.push(c);
        if (i < 2) await c.connect(); // the third, before its connect, counts too
    }
    for (const p of ["/t/cap-a/api/sync", "/t/cap-a/api/1.48.0/sync"]) {
        const r = await refusedUpgrade(p);
        assert.equal(r.status, 429, JSON.stringify(r.json));
        assert.equal(r.json.errorCode, "TenantConnectionLimit");
        assert.match(r.json.errorMessage, /tenant "cap-a" has 3 WebSocket connections, its limit \(--max-connections-per-tenant\)/);
    }
    // HTTP calls to the tenant at its cap still work, and another tenant connects up to its own cap
    const r = await request(srv.port, "POST", "/t/cap-a/api/query", { path: "notes:list", args: {} });
    assert.equal(r.json?.status, "success", r.text);
    for (let i = 0; i < 3; i++) {
        const c = await SyncConn.open(srv.port, { path: "/t/cap-b/api/sync" });
        open.push(c);
        await c.connect();
    }
    // one of cap-a's closes: a new one is accepted
    a[0].close();
    await a[0].waitClose();
    let c;
    for (let i = 0; i < 50 && !c; i++) {
        try {
            c = await SyncConn.open(srv.port, { path: "/t/cap-a/api/sync" });
        } catch {
            await sleep(50);
        }
    }
    assert.ok(c, "a connection after one closed");
    open.push(c);
    await c.connect();
    for (const x of open.splice(0)) x.close();
});

test("--max-messages-per-second: a burst past the bucket gets RateLimited with retryAfterMs; the connection stays and later messages work", { timeout: 20000 }, async () => {
    const c = await SyncConn.open(srv.port, { path: "/t/rate-a/api/sync" });
    open.push(c);
    await c.connect(); // 1 message of the bucket of 10
    const from = c.mark;
    for (let i = 1; i <= 20; i++) c.send({ type: "mutation", requestId: i, path: "notes:add", args: { text: `m${i}` } });
    const answered = new Map();
    await c.waitMsg((m) => {
        const id = m.requestId;
        if ((m.type === "mutationResponse" || (m.type === "error" && m.code === "RateLimited")) && id) answered.set(id, m);
        return answered.size === 20;
    }, { from, what: "an answer to each of 20 mutations" });
    const limited = [...answered.values()].filter((m) => m.type === "error");
    const ok = [...answered.values()].filter((m) => m.type === "mutationResponse" && m.success);
    assert.ok(ok.length >= 9 && ok.length <= 12, `ran ${ok.length} of 20`);
    assert.equal(limited.length + ok.length, 20);
    for (const m of limited) {
        assert.equal(m.fatal, false);
        assert.ok(m.retryAfterMs >= 1 && m.retryAfterMs <= 200, JSON.stringify(m));
        assert.match(m.message, /more than 5 messages per second on this connection \(--max-messages-per-second\); retry after \d+ ms/);
    }
    assert.equal(c.closed, null, "the connection stays open");
    await sleep(Math.max(...limited.map((m) => m.retryAfterMs)) + 50);
    const r = await c.call("mutation", 100, "notes:add", { text: "later" });
    assert.equal(r.success, true, JSON.stringify(r));
    // only the mutations that ran wrote
    const list = await request(srv.port, "POST", "/t/rate-a/api/query", { path: "notes:list", args: {} });
    assert.equal(list.json.value.length, ok.length + 1);
    // the limit is per connection: another connection of the same tenant is not limited now
    const d = await SyncConn.open(srv.port, { path: "/t/rate-a/api/sync" });
    open.push(d);
    await d.connect();
    assert.equal((await d.call("mutation", 1, "notes:add", { text: "other" })).success, true);
    c.close();
    d.close();
});

test("--max-messages-per-second: a refused message without an id is named by its type (an authenticate the client must send again)", { timeout: 20000 }, async () => {
    const c = await SyncConn.open(srv.port, { path: "/t/rate-b/api/sync" });
    open.push(c);
    await c.connect();
    const from = c.mark;
    for (let i = 0; i < 12; i++) c.send({ type: "ping" });
    c.send({ type: "authenticate", token: null });
    c.send({ type: "bogus" });
    const refused = [];
    await c.waitMsg((m) => {
        if (m.type === "error" && m.code === "RateLimited") refused.push(m);
        return refused.length >= 3 && refused.some((r) => r.refused === "authenticate");
    }, { from, what: "the authenticate refused, named" });
    assert.ok(refused.some((m) => m.refused === "ping"), JSON.stringify(refused));
    // a type the protocol does not know is not echoed
    await c.waitMsg((m) => m.type === "error" && m.code === "RateLimited" && !("refused" in m), { from, what: "the unknown type refused, unnamed" });
    assert.equal(c.closed, null);
    c.close();
});

test("--max-messages-per-second on Convex's protocol: the real ConvexClient's mutations past it fail with RateLimited; later ones work", { timeout: 20000 }, async () => {
    const client = new ConvexClient(`${srv.url}/t/rate-cvx`, { skipConvexDeploymentUrlCheck: true });
    open.push(client);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.mutation(api.notes.add, { text: `c${i}` })));
    const failed = results.filter((r) => r.status === "rejected");
    assert.ok(failed.length >= 8, `${failed.length} refused of 20`);
    for (const f of failed) assert.match(String(f.reason?.message ?? f.reason), /RateLimited: more than 5 messages per second/);
    await sleep(600);
    const id = await client.mutation(api.notes.add, { text: "after" });
    assert.equal(typeof id, "string");
    const list = await client.query(api.notes.list, {});
    assert.equal(list.length, 20 - failed.length + 1);
    await client.close();
});

test("the limit flags need numbers", async () => {
    for (const f of ["--max-connections-per-tenant", "--max-messages-per-second"]) {
        const r = await runCli(["serve", "--tenants", f, "many", tempDir("tenants")]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`${f} needs a number`));
    }
});

test("--max-tenants holds against a burst of first requests to new names; a deleted tenant frees its place", { timeout: 30000 }, async () => {
    const dir = tempDir("tenants");
    const s = await startServer(dir, { args: ["--tenants", "--max-tenants", "3"] });
    try {
        const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
            request(s.port, "POST", `/t/burst-${i}/api/mutation`, { path: "notes:add", args: { text: "x" } })));
        const ok = rs.filter((r) => r.status === 200);
        const refused = rs.filter((r) => r.status === 507);
        assert.equal(ok.length, 3, rs.map((r) => r.status).join(","));
        assert.equal(refused.length, 17);
        for (const r of refused) {
            assert.equal(r.json.errorCode, "TooManyTenants");
            assert.match(r.json.errorMessage, /this server holds 3 tenants, its limit \(--max-tenants\)/);
        }
        const folders = fs.readdirSync(path.join(dir, ".vireo", "data", "tenants")).filter((n) => n.startsWith("burst-"));
        assert.equal(folders.length, 3, folders.join(","));
        const gone = folders[0];
        const d = await request(s.port, "POST", "/api/admin/tenants/delete", { name: gone, force: true },
                                { headers: { Authorization: `Bearer ${s.adminKey}` } });
        assert.equal(d.status, 200, d.text);
        const again = await request(s.port, "POST", "/t/burst-new/api/mutation", { path: "notes:add", args: { text: "y" } });
        assert.equal(again.status, 200, again.text);
        const over = await request(s.port, "POST", "/t/burst-over/api/mutation", { path: "notes:add", args: { text: "z" } });
        assert.equal(over.status, 507, over.text);
    } finally {
        await s.stop();
    }
});
