// The newcomer path and the CLI's smaller holes (issue 7, items 15 and 16): test copies of an app
// never carry a developer's .vireo/ data, `_` folders are not functions, an internal function
// looks exactly like a missing one from outside, HTTP rejects duplicate JSON keys as sync does,
// `vireo serve` prints the admin key only when it creates it, and the state is owner-only.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
    REPO, startServer, tempDir, runCli, assertAppLoaded, SyncConn, modOf,
} from "./helpers.mjs";

/* A small app written on the fly: a `_helpers` folder (a helper module with an export that looks
 * like a query), a public module importing it, an internal query, and an action reaching the
 * internal query through `internal` imported from ./_generated/api as docs/functions.md says. */
function writeApp(dir) {
    fs.mkdirSync(path.join(dir, "vireo/_helpers"), { recursive: true });
    fs.writeFileSync(path.join(dir, "vireo/_helpers/h.ts"), `
import { query } from "../_generated/server";
export const greeting = (name: string) => "hello " + name;
export const hidden = query({ args: {}, handler: async () => "hidden ran" });
`);
    fs.writeFileSync(path.join(dir, "vireo/pub.ts"), `
import { query, mutation, action, internalQuery, internalMutation, internalAction, v }
  from "./_generated/server";
import { api, internal } from "./_generated/api";
import { greeting } from "./_helpers/h";
export const hi = query({ args: { name: v.string() }, handler: async (ctx, { name }) => greeting(name) });
export const secret = internalQuery({ args: {}, handler: async () => "secret value" });
export const secretWrite = internalMutation({ args: {}, handler: async () => "wrote" });
export const secretAct = internalAction({ args: {}, handler: async () => "acted" });
export const noop = mutation({ args: {}, handler: async () => null });
export const reveal = action({
  args: {},
  handler: async (ctx) => [await ctx.runQuery(internal.pub.secret, {}),
                           await ctx.runQuery(api.pub.hi, { name: "api" })],
});
`);
    return dir;
}

function mode(p) {
    return fs.statSync(p).mode & 0o777;
}

test("16. an app copied for a test leaves the developer's .vireo/ data and node_modules behind", { timeout: 30000 }, async () => {
    // a checkout where `make demo` ran: examples/chat with its own .vireo/data holding messages
    const checkout = tempDir(path.join(REPO, "examples/chat"));
    let srv = await startServer(checkout);
    await assertAppLoaded(srv);
    const sent = await srv.mutation("messages:send", { channel: "#general", author: "dev", body: "demo data" });
    assert.equal(sent.status, 200, sent.text);
    assert.equal((await srv.stop()).code, 0);
    assert.ok(fs.existsSync(path.join(checkout, ".vireo/data/shard-0.db")), "the demo left no data");
    fs.writeFileSync(path.join(checkout, ".vireo/junk"), "junk");
    fs.mkdirSync(path.join(checkout, "node_modules/pkg"), { recursive: true });
    fs.writeFileSync(path.join(checkout, "node_modules/pkg/index.js"), "junk");
    fs.mkdirSync(path.join(checkout, "vireo/.vireo"), { recursive: true }); // at any depth

    const copy = tempDir(checkout);
    assert.ok(fs.existsSync(path.join(copy, "vireo/messages.ts")), "the copy lacks the app");
    assert.ok(fs.existsSync(path.join(copy, "public/index.html")), "the copy lacks public/");
    for (const p of [".vireo", "node_modules", "vireo/.vireo"])
        assert.ok(!fs.existsSync(path.join(copy, p)), `the copy holds ${p}`);

    // what chat.test.mjs checks first: a fresh copy starts with an empty channel
    srv = await startServer(copy);
    await assertAppLoaded(srv);
    assert.deepEqual(await srv.value("query", "messages:list", { channel: "#general" }), []);
    assert.notEqual(srv.adminKey, fs.readFileSync(path.join(checkout, ".vireo/admin_key"), "utf8").trim(),
        "the copy reuses the developer's admin key");
    assert.equal((await srv.stop()).code, 0);
});

test("15a/f. `_` folders are bundled for imports but hold no functions; api/internal come from ./_generated/api", { timeout: 30000 }, async () => {
    const srv = await startServer(writeApp(tempDir()));
    try {
        await assertAppLoaded(srv);
        assert.equal(await srv.value("query", "pub:hi", { name: "ada" }), "hello ada", "a helper import from _helpers");
        for (const p of ["_helpers/h:hidden", "_helpers/h:greeting", "_generated/server:query"]) {
            const r = await srv.query(p, {});
            assert.equal(r.status, 404, `${p}: ${r.text}`);
            assert.equal(r.json.errorCode, "FunctionNotFound", `${p}: ${r.text}`);
            const a = await srv.admin(p, {});
            assert.equal(a.status, 404, `admin ${p} found a function in a _ folder: ${a.text}`);
        }
        assert.deepEqual(await srv.value("action", "pub:reveal", {}), ["secret value", "hello api"]);
        const r = await runCli(["run", "pub:secret", "--url", srv.url, "--dir", srv.dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout), "secret value");
    } finally {
        await srv.stop();
    }
});

test("15d. an internal function gets exactly a missing function's answer, over HTTP and sync", { timeout: 30000 }, async () => {
    const srv = await startServer(writeApp(tempDir()));
    try {
        await assertAppLoaded(srv);
        const pairs = [["query", "pub:secret"], ["mutation", "pub:secretWrite"], ["action", "pub:secretAct"]];
        for (const [kind, internalName] of pairs) {
            const missing = "pub:nosuchfn";
            const a = await srv.call(kind, internalName, {});
            const b = await srv.call(kind, missing, {});
            assert.equal(a.status, b.status, `${kind}: ${a.text} vs ${b.text}`);
            assert.equal(a.text.replaceAll(internalName, "NAME"), b.text.replaceAll(missing, "NAME"),
                `HTTP ${kind}: an internal function answers differently from a missing one`);
            assert.equal(a.json.errorCode, "FunctionNotFound");
        }
        // the wrong endpoint for an internal function says nothing about its kind either
        const w = await srv.call("mutation", "pub:secret", {});
        const m = await srv.call("mutation", "pub:nosuchfn", {});
        assert.equal(w.text.replaceAll("pub:secret", "NAME"), m.text.replaceAll("pub:nosuchfn", "NAME"));

        const c = await SyncConn.open(srv.port);
        try {
            await c.connect();
            const strip = (x, name) => JSON.stringify({ ...x, requestId: 0 }).replaceAll(name, "NAME");
            for (const [kind, internalName] of [["mutation", "pub:secretWrite"], ["action", "pub:secretAct"], ["mutation", "pub:secret"]]) {
                const a = await c.call(kind, 1, internalName, {});
                const b = await c.call(kind, 2, "pub:nosuchfn", {});
                assert.equal(strip(a, internalName), strip(b, "pub:nosuchfn"), `sync ${kind} ${internalName}`);
            }
            const qa = modOf(await c.subscribe(1, "pub:secret", {}), 1);
            const qb = modOf(await c.subscribe(2, "pub:nosuchfn", {}), 2);
            assert.equal(qa.errorCode, "FunctionNotFound");
            assert.equal(JSON.stringify({ ...qa, queryId: 0 }).replaceAll("pub:secret", "NAME"),
                JSON.stringify({ ...qb, queryId: 0 }).replaceAll("pub:nosuchfn", "NAME"), "sync query");
        } finally {
            c.close();
        }
    } finally {
        await srv.stop();
    }
});

test("15e. HTTP rejects duplicate JSON keys, as sync does, and keeps serving", { timeout: 30000 }, async () => {
    const srv = await startServer(writeApp(tempDir()));
    try {
        await assertAppLoaded(srv);
        const bodies = [
            '{"path":"pub:hi","path":"pub:secret","args":{"name":"a"}}',
            '{"path":"pub:hi","args":{"name":"a","name":"b"}}',
            '{"path":"pub:hi","args":{"name":"a"},"args":{"name":"b"}}',
        ];
        for (const body of bodies) {
            const r = await srv.post("/api/query", body);
            assert.equal(r.status, 400, `${body}: ${r.text}`);
            assert.equal(r.json.errorCode, "BadJsonBody", r.text);
            assert.match(r.json.errorMessage ?? r.text, /duplicate/i, r.text);
        }
        const adm = await srv.post("/api/admin/run", '{"path":"pub:secret","path":"pub:hi","args":{}}',
            { headers: { Authorization: `Bearer ${srv.adminKey}` } });
        assert.equal(adm.status, 400, adm.text);
        assert.equal(await srv.value("query", "pub:hi", { name: "still" }), "hello still");
    } finally {
        await srv.stop();
    }
});

test("15b. `vireo serve` prints the admin key only on the start that created it; `vireo admin-key` prints it", { timeout: 30000 }, async () => {
    const dir = writeApp(tempDir());
    let srv = await startServer(dir, { cmd: "serve" });
    const key = fs.readFileSync(path.join(dir, ".vireo/admin_key"), "utf8").trim();
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.ok(srv.stdout.includes(key), `the first start did not print the new key:\n${srv.stdout}`);
    assert.ok(srv.stdout.startsWith("vireo serve: listening on"), "the ready line is not first on stdout");
    assert.equal((await srv.stop()).code, 0);

    for (const cmd of ["serve", "dev"]) {
        srv = await startServer(dir, { cmd });
        assert.ok(!srv.stdout.includes(key), `vireo ${cmd} printed the existing admin key:\n${srv.stdout}`);
        assert.match(srv.stdout, /admin key: in .*\.vireo\/admin_key/);
        assert.equal(srv.adminKey, key);
        assert.equal((await srv.admin("pub:secret")).json.value, "secret value");
        assert.equal((await srv.stop()).code, 0);
    }

    let r = await runCli(["admin-key", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, key + "\n");
    r = await runCli(["admin-key"], { cwd: dir });
    assert.equal(r.stdout, key + "\n", "admin-key in the app folder");
    // before any start: creates the key, owner-only, and the first start then does not print it
    const fresh = writeApp(tempDir());
    r = await runCli(["admin-key", fresh]);
    assert.equal(r.code, 0, r.stderr);
    const freshKey = r.stdout.trim();
    assert.match(freshKey, /^[0-9a-f]{64}$/);
    assert.equal(mode(path.join(fresh, ".vireo/admin_key")), 0o600);
    assert.equal(mode(path.join(fresh, ".vireo")), 0o700);
    srv = await startServer(fresh, { cmd: "serve" });
    assert.ok(!srv.stdout.includes(freshKey), "serve printed a key it did not create");
    assert.equal(srv.adminKey, freshKey);
    await srv.stop();
    // errors: not an app folder, extra arguments, unknown options
    r = await runCli(["admin-key", tempDir()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vireo admin-key: no vireo\/ folder/);
    r = await runCli(["admin-key", dir, dir]);
    assert.equal(r.code, 2);
    r = await runCli(["admin-key", "--nope"]);
    assert.equal(r.code, 2);
    r = await runCli(["help", "admin-key"]);
    assert.match(r.stdout, /usage: vireo admin-key/);
});

test("15c. the state folders are 0700 and the database, its WAL and shm files 0600", { timeout: 30000 }, async () => {
    const dir = writeApp(tempDir());
    const srv = await startServer(dir, { cmd: "serve" });
    try {
        assert.equal((await srv.mutation("pub:noop", {})).status, 200); // the WAL exists now
        const data = path.join(dir, ".vireo/data");
        assert.equal(mode(path.join(dir, ".vireo")), 0o700, ".vireo");
        assert.equal(mode(data), 0o700, ".vireo/data");
        for (const f of ["shard-0.db", "shard-0.db-wal", "shard-0.db-shm", "lock"])
            assert.equal(mode(path.join(data, f)).toString(8), "600", f);
        assert.equal(mode(path.join(dir, ".vireo/admin_key")), 0o600, "admin_key");
    } finally {
        await srv.stop();
    }
    // a folder an older version left 0755 is tightened on the next start
    fs.chmodSync(path.join(dir, ".vireo"), 0o755);
    fs.chmodSync(path.join(dir, ".vireo/data"), 0o755);
    const again = await startServer(dir, { cmd: "serve" });
    assert.equal(mode(path.join(dir, ".vireo")), 0o700);
    assert.equal(mode(path.join(dir, ".vireo/data")), 0o700);
    await again.stop();
    // --data elsewhere: a new database file is created 0600 as well
    const db = path.join(tempDir(), "other.db");
    const other = await startServer(dir, { cmd: "serve", args: ["--data", db] });
    try {
        assert.equal((await other.mutation("pub:noop", {})).status, 200);
        for (const f of [db, db + "-wal", db + "-shm"])
            assert.equal(mode(f).toString(8), "600", f);
    } finally {
        await other.stop();
    }
});
