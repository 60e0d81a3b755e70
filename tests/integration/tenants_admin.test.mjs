// `vireo serve|dev --tenants` admin routes (issue 11 item 6): GET|POST /api/admin/tenants (list),
// POST /api/admin/tenants/create, POST /api/admin/tenants/delete (409 while in use unless force,
// which closes the tenant's WebSockets), GET /api/admin/tenants/<name>/export (a SQLite copy
// opened here with the sqlite3 CLI), each refused without the admin key and for bad names; and
// --tenant-create admin (an unknown tenant is 404 TenantNotFound until created by the route).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startServer, tempDir, request, SyncConn, runCli, waitFor } from "./helpers.mjs";

let srv, adm;

before(async () => {
    srv = await startServer(tempDir("tenants"), { args: ["--tenants", "--action-threads", "1", "--verbose"] });
    adm = await startServer(tempDir("tenants"), { args: ["--tenants", "--tenant-create", "admin", "--action-threads", "1"] });
});
after(async () => {
    await srv?.stop?.();
    await adm?.stop?.();
});

const auth = (s, key = s.adminKey) => ({ headers: { Authorization: `Bearer ${key}` } });
const admin = (s, method, p, body) => request(s.port, method, p, body, auth(s));
const call = (s, t, kind, p, args = {}) => request(s.port, "POST", `/t/${t}/api/${kind}`, { path: p, args });
async function value(s, t, kind, p, args = {}) {
    const r = await call(s, t, kind, p, args);
    assert.equal(r.json?.status, "success", `${t} ${p}: ${r.text}`);
    return r.json.value;
}
const tenantDir = (s, t) => path.join(s.dir, ".vireo/data/tenants", t);

test("every tenant admin route needs the admin key (401 without it or with a wrong one)", async () => {
    const routes = [
        ["GET", "/api/admin/tenants"],
        ["POST", "/api/admin/tenants"],
        ["POST", "/api/admin/tenants/create", { name: "nokey" }],
        ["POST", "/api/admin/tenants/delete", { name: "nokey" }],
        ["GET", "/api/admin/tenants/nokey/export"],
    ];
    for (const [m, p, body] of routes) {
        for (const opts of [{}, auth(srv, "0".repeat(64)), auth(srv, srv.adminKey.slice(1))]) {
            const r = await request(srv.port, m, p, body, opts);
            assert.equal(r.status, 401, `${m} ${p}: ${r.text}`);
            assert.equal(r.json.errorCode, "Unauthorized");
        }
    }
    assert.equal(fs.existsSync(tenantDir(srv, "nokey")), false, "nothing was created");
});

test("create: 201 for a new tenant, 200 for an existing one; bad names and bodies get 400", async () => {
    let r = await admin(srv, "POST", "/api/admin/tenants/create", { name: "made" });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, { status: "success", name: "made", created: true });
    assert.ok(fs.existsSync(path.join(tenantDir(srv, "made"), "shard.db")));
    r = await admin(srv, "POST", "/api/admin/tenants/create", { name: "made" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.created, false);
    for (const name of ["A", "..", "a/b", "-x", "", "a".repeat(64), "a%2e"]) {
        r = await admin(srv, "POST", "/api/admin/tenants/create", { name });
        assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.text}`);
        assert.equal(r.json.errorCode, "InvalidTenantName", r.text);
    }
    for (const body of [{}, { name: 7 }, [1], "not json{"]) {
        r = await admin(srv, "POST", "/api/admin/tenants/create", body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.errorCode, "BadJsonBody", r.text);
    }
    r = await admin(srv, "GET", "/api/admin/tenants/create");
    assert.equal(r.status, 405, r.text);
    r = await admin(srv, "GET", "/api/admin/tenants/what/ever");
    assert.equal(r.status, 404, r.text);
    // the server still serves
    assert.equal(await value(srv, "made", "mutation", "notes:add", { text: "m" }) !== null, true);
});

test("list: every tenant with open, bytes on disk and last used, by name; GET and POST", async () => {
    await value(srv, "list-b", "mutation", "notes:add", { text: "x" });
    await value(srv, "list-a", "mutation", "notes:add", { text: "y" });
    const t0 = Date.now();
    for (const m of ["GET", "POST"]) {
        const r = await admin(srv, m, "/api/admin/tenants");
        assert.equal(r.status, 200, r.text);
        const names = r.json.tenants.map((t) => t.name);
        assert.deepEqual(names, [...names].sort());
        for (const n of ["list-a", "list-b", "made"]) assert.ok(names.includes(n), `${n} in ${names}`);
        const a = r.json.tenants.find((t) => t.name === "list-a");
        assert.equal(a.open, true);
        assert.ok(a.bytes > 4096, `bytes ${a.bytes}`);
        assert.ok(Math.abs(a.lastUsed - t0) < 10000, `lastUsed ${a.lastUsed} vs ${t0}`);
        assert.ok(r.json.open >= 3 && r.json.maxOpen === 256, r.text);
    }
});

test("list: read off the loop; a closed tenant's bytes and last change from disk; at most 2 at once, the rest 503 TooManyListings", async () => {
    // a closed tenant: its folder only (never opened by this server), with a nested file
    const dir = tenantDir(srv, "list-closed");
    fs.mkdirSync(path.join(dir, "files", "ab"), { recursive: true });
    fs.writeFileSync(path.join(dir, "shard.db"), Buffer.alloc(5000));
    fs.writeFileSync(path.join(dir, "files", "ab", "blob"), Buffer.alloc(7000));
    const mtime = new Date("2026-01-02T03:04:05Z");
    fs.utimesSync(path.join(dir, "shard.db"), mtime, mtime);
    fs.writeFileSync(path.join(tenantDir(srv, ".."), "tenants", "NotATenant"), "x"); // ignored
    const many = await Promise.all(Array.from({ length: 8 }, () => admin(srv, "GET", "/api/admin/tenants")));
    const ok = many.filter((r) => r.status === 200);
    assert.ok(ok.length >= 1, many.map((r) => r.status).join(","));
    for (const r of many) {
        if (r.status === 200) continue;
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.errorCode, "TooManyListings", r.text);
    }
    for (const r of ok) {
        const c = r.json.tenants.find((t) => t.name === "list-closed");
        assert.deepEqual(c, { name: "list-closed", open: false, bytes: 12000, lastUsed: mtime.getTime() });
        assert.ok(!r.json.tenants.some((t) => t.name === "NotATenant"));
    }
    // the server still serves, and a listing afterwards is whole
    assert.notEqual(await value(srv, "made", "mutation", "notes:add", { text: "after" }), null);
    assert.equal((await admin(srv, "GET", "/api/admin/tenants")).status, 200);
});

test("export: a consistent SQLite copy with the tenant's rows, opened by the sqlite3 CLI", async () => {
    for (const t of ["exp-a", "exp-b"]) for (let i = 0; i < 3; i++) await value(srv, t, "mutation", "notes:add", { text: `${t}-${i}` });
    const res = await fetch(`${srv.url}/api/admin/tenants/exp-a/export`, auth(srv));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.sqlite3");
    assert.match(res.headers.get("content-disposition"), /filename="exp-a\.sqlite3"/);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes.subarray(0, 16).toString("latin1"), "SQLite format 3\0");
    const file = path.join(tempDir(), "exp-a.sqlite3");
    fs.writeFileSync(file, bytes);
    const sql = (q) => execFileSync("sqlite3", [file, q], { encoding: "utf8" }).trim();
    assert.equal(sql("PRAGMA integrity_check"), "ok");
    const num = sql("SELECT num FROM _vr_tables WHERE name = 'notes'");
    assert.match(num, /^\d+$/);
    const texts = sql(`SELECT json_extract(j, '$.text') FROM d${num}`).split("\n").sort();
    assert.deepEqual(texts, ["exp-a-0", "exp-a-1", "exp-a-2"]);
    // no temporary file is left behind
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, ".vireo/data/tenants")).filter((f) => f.startsWith(".")), []);
    // unknown and bad names
    let r = await admin(srv, "GET", "/api/admin/tenants/nobody-here/export");
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.errorCode, "TenantNotFound");
    r = await admin(srv, "GET", "/api/admin/tenants/Bad/export");
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errorCode, "InvalidTenantName");
    r = await admin(srv, "POST", "/api/admin/tenants/exp-a/export");
    assert.equal(r.status, 405, r.text);
    assert.equal(fs.existsSync(tenantDir(srv, "nobody-here")), false);
});

test("delete: removes the folder; the tenant used again is fresh and empty (auto); unknown 404", async () => {
    await value(srv, "del-a", "mutation", "notes:add", { text: "old" });
    let r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "del-a" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { status: "success", name: "del-a", deleted: true });
    assert.equal(fs.existsSync(tenantDir(srv, "del-a")), false);
    assert.ok(!(await admin(srv, "GET", "/api/admin/tenants")).json.tenants.some((t) => t.name === "del-a"));
    assert.deepEqual(await value(srv, "del-a", "query", "notes:list"), []);
    r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "never-was" });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.errorCode, "TenantNotFound");
    r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "../tenants" });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.errorCode, "InvalidTenantName");
});

test("delete: 409 TenantInUse while a WebSocket is connected; force closes it and deletes", { timeout: 20000 }, async () => {
    await value(srv, "del-ws", "mutation", "notes:add", { text: "kept?" });
    const ws = await SyncConn.open(srv.port, { path: "/t/del-ws/api/sync" });
    await ws.connect();
    let r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "del-ws" });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.errorCode, "TenantInUse");
    assert.match(r.json.errorMessage, /1 WebSocket connections.*"force": true/);
    assert.ok(fs.existsSync(tenantDir(srv, "del-ws")));
    assert.deepEqual(await value(srv, "del-ws", "query", "notes:list"), ["kept?"]);
    r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "del-ws", force: true });
    assert.equal(r.status, 200, r.text);
    assert.equal((await ws.waitClose()).code, 1001);
    assert.equal(fs.existsSync(tenantDir(srv, "del-ws")), false);
    assert.deepEqual(await value(srv, "del-ws", "query", "notes:list"), []);
});

test("delete: a running action makes the tenant in use (409); force closes it once its sockets are gone, the action's caller gets an answer", { timeout: 20000 }, async () => {
    await value(srv, "del-act", "mutation", "notes:add", { text: "x" });
    const running = call(srv, "del-act", "action", "notes:slow", { ms: 1500 });
    await new Promise((r) => setTimeout(r, 200));
    let r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "del-act" });
    assert.equal(r.status, 409, r.text);
    assert.match(r.json.errorMessage, /0 WebSocket connections, 1 actions/);
    r = await admin(srv, "POST", "/api/admin/tenants/delete", { name: "del-act", force: true });
    assert.equal(r.status, 200, r.text);
    const ans = await running;
    // stopped by the delete (the server goes on): told so, not that the server shuts down
    assert.ok(ans.status >= 500, `the action's caller got ${ans.status} ${ans.text}`);
    assert.equal(ans.json?.errorCode, "TenantDeleting", ans.text);
    assert.match(ans.json.errorMessage, /its tenant is being deleted/);
    assert.equal(fs.existsSync(tenantDir(srv, "del-act")), false);
    assert.deepEqual(await value(srv, "del-act", "query", "notes:list"), []);
});

test("--tenant-create admin: an unknown tenant is 404 TenantNotFound until created; deleted, 404 again", async () => {
    let r = await call(adm, "adm-a", "query", "notes:list");
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.errorCode, "TenantNotFound");
    assert.equal(fs.existsSync(tenantDir(adm, "adm-a")), false);
    r = await request(adm.port, "GET", "/t/adm-a/api/sync");
    assert.equal(r.status, 404, r.text);
    r = await admin(adm, "POST", "/api/admin/tenants/create", { name: "adm-a" });
    assert.equal(r.status, 201, r.text);
    await value(adm, "adm-a", "mutation", "notes:add", { text: "hi" });
    assert.deepEqual(await value(adm, "adm-a", "query", "notes:list"), ["hi"]);
    r = await admin(adm, "POST", "/api/admin/tenants/delete", { name: "adm-a" });
    assert.equal(r.status, 200, r.text);
    r = await call(adm, "adm-a", "query", "notes:list");
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.errorCode, "TenantNotFound");
});

test("--tenant-create needs auto or admin", async () => {
    const r = await runCli(["serve", "--tenants", "--tenant-create", "sometimes", tempDir("tenants")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tenant-create needs auto or admin/);
});

test("vireo import into a tenant streams past --max-body (--max-import-mb bounds it), whether the tenant is open or not", { timeout: 60000 }, async () => {
    const s = await startServer(tempDir("tenants"), { args: ["--tenants", "--action-threads", "1", "--max-body", "1048576"] });
    try {
        const file = path.join(s.dir, "notes.jsonl");
        const line = (i) => JSON.stringify({ text: `note ${i} ${"x".repeat(200)}` }) + "\n";
        fs.writeFileSync(file, Array.from({ length: 12000 }, (_, i) => line(i)).join(""));
        assert.ok(fs.statSync(file).size > 2 * 1048576);
        // a tenant not open yet: the CLI opens it, then streams
        const cold = await runCli(["import", "--table", "notes", "--url", `${s.url}/t/cold`, "--dir", s.dir, file], { timeout: 30000 });
        assert.equal(cold.code, 0, cold.stderr);
        assert.match(cold.stdout + cold.stderr, /notes: 12000 added/);
        assert.equal((await value(s, "cold", "query", "notes:count")), 12000);
        // an open tenant, raw HTTP: the body is streamed, not refused as over --max-body
        await value(s, "warm", "query", "notes:count");
        const r = await fetch(`${s.url}/t/warm/api/admin/import?format=jsonl&table=notes`,
            { method: "POST", body: fs.readFileSync(file), headers: { Authorization: `Bearer ${s.adminKey}` } });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal((await value(s, "warm", "query", "notes:count")), 12000);
        assert.equal((await value(s, "cold", "query", "notes:count")), 12000); // each tenant its own
    } finally {
        await s.stop();
    }
});

test("an import into a tenant force-deleted while its file parses: 503 TenantDeleting (not ServerShuttingDown), nothing stored", { timeout: 60000 }, async () => {
    const s = await startServer(tempDir("tenants"), { args: ["--tenants", "--action-threads", "1"] });
    try {
        const line = (i) => JSON.stringify({ text: `note ${i} ${"x".repeat(200)}` }) + "\n";
        const body = Buffer.from(Array.from({ length: 60000 }, (_, i) => line(i)).join(""));
        const seen = [];
        for (const delay of [40, 80, 150, 300]) {
            await value(s, "impdel", "query", "notes:count"); // open (again: a delete ends each round)
            const imp = fetch(`${s.url}/t/impdel/api/admin/import?format=jsonl&table=notes`,
                { method: "POST", body, headers: { Authorization: `Bearer ${s.adminKey}` } })
                .then(async (r) => ({ status: r.status, json: await r.json() }));
            await new Promise((r) => setTimeout(r, delay));
            const del = await admin(s, "POST", "/api/admin/tenants/delete", { name: "impdel", force: true });
            const r = await imp;
            seen.push(r.json.errorCode ?? r.status);
            if (r.status !== 200) {
                assert.equal(r.status, 503, JSON.stringify(r.json));
                assert.equal(r.json.errorCode, "TenantDeleting", JSON.stringify(r.json));
                assert.equal(r.json.errorMessage, "the tenant is being deleted: nothing was imported");
            }
            assert.equal(del.status, 200, del.text);
        }
        assert.ok(seen.includes("TenantDeleting"), `some import was refused mid-parse: ${seen}`);
        assert.equal(await value(s, "impdel", "query", "notes:count"), 0); // a fresh tenant
    } finally {
        await s.stop();
    }
});

test("what an export killed mid-way left (.export-* beside the databases) is removed at the next start", { timeout: 60000 }, async () => {
    for (const tenants of [false, true]) {
        const dir = tempDir("tenants");
        const exportsDir = path.join(dir, tenants ? ".vireo/data/tenants" : ".vireo");
        fs.mkdirSync(path.join(exportsDir, ".export-snapshot-AbC123.d/sub"), { recursive: true });
        fs.writeFileSync(path.join(exportsDir, ".export-snapshot-AbC123.d/sub/documents.jsonl"), "{}\n");
        fs.writeFileSync(path.join(exportsDir, ".export-acme-Xy9Z0q"), "a copy of a database");
        fs.writeFileSync(path.join(exportsDir, "keep-me"), "not an export");
        const s = await startServer(dir, { args: tenants ? ["--tenants", "--action-threads", "1"] : ["--action-threads", "1"] });
        try {
            assert.deepEqual(fs.readdirSync(exportsDir).filter((f) => f.startsWith(".export-")), [], `tenants=${tenants}`);
            assert.ok(fs.existsSync(path.join(exportsDir, "keep-me")));
            assert.match(s.stderr, new RegExp(`removed 2 unfinished export files from ${exportsDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(the server stopped while they were written\\)`));
        } finally {
            await s.stop();
        }
    }
});

test("delete is all or nothing across a crash: the folder is renamed away first and removed off the loop; what a crash left is swept at the next start", { timeout: 60000 }, async () => {
    const dir = tempDir("tenants");
    const root = path.join(dir, ".vireo/data/tenants");
    let s = await startServer(dir, { args: ["--tenants", "--action-threads", "1"] });
    try {
        await value(s, "big", "mutation", "notes:add", { text: "x" });
        const files = path.join(root, "big", "files");
        fs.mkdirSync(files, { recursive: true });
        for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(files, `f${i}`), "bytes");
        const r = await admin(s, "POST", "/api/admin/tenants/delete", { name: "big", force: true });
        assert.equal(r.status, 200, r.text);
        // gone from the tenants' names at once, whatever is still being removed
        assert.equal(fs.existsSync(path.join(root, "big")), false);
        assert.deepEqual(await value(s, "big", "query", "notes:list"), []);
        await waitFor(() => fs.readdirSync(root).every((f) => !f.startsWith(".deleted-")), { timeout: 10000, what: "the renamed folder removed" });
    } finally {
        await s.stop();
    }
    // a removal a crash cut short: swept at the next start, never counted or listed as a tenant
    fs.mkdirSync(path.join(root, ".deleted-acme-1f-1", "files"), { recursive: true });
    fs.writeFileSync(path.join(root, ".deleted-acme-1f-1", "shard.db"), "half removed");
    fs.writeFileSync(path.join(root, ".deleted-acme-1f-1", "files", "a"), "x");
    s = await startServer(dir, { args: ["--tenants", "--action-threads", "1"] });
    try {
        assert.deepEqual(fs.readdirSync(root).filter((f) => f.startsWith(".deleted-")), []);
        assert.match(s.stderr, /removing \S+\.deleted-acme-1f-1, left by a delete the server did not finish/);
        assert.ok(!(await admin(s, "GET", "/api/admin/tenants")).json.tenants.some((t) => t.name.includes("acme")));
    } finally {
        await s.stop();
    }
});
