// The newcomer path and the CLI's smaller holes (issue 7, items 15 and 16): test copies of an app
// never carry a developer's .vireo/ data, `_` folders are not functions, an internal function
// looks exactly like a missing one from outside, HTTP rejects duplicate JSON keys as sync does,
// `vireo serve` prints the admin key only when it creates it, and the state is owner-only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
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

test("15c. the state folders are 0700 and the database and its WAL 0600; no -shm file", { timeout: 30000 }, async () => {
    const dir = writeApp(tempDir());
    const srv = await startServer(dir, { cmd: "serve" });
    try {
        assert.equal((await srv.mutation("pub:noop", {})).status, 200); // the WAL exists now
        const data = path.join(dir, ".vireo/data");
        assert.equal(mode(path.join(dir, ".vireo")), 0o700, ".vireo");
        assert.equal(mode(data), 0o700, ".vireo/data");
        for (const f of ["shard-0.db", "shard-0.db-wal", "lock"])
            assert.equal(mode(path.join(data, f)).toString(8), "600", f);
        // the WAL's index lives in the server's memory (docs/architecture.md, "The process owns
        // its database files")
        assert.equal(fs.existsSync(path.join(data, "shard-0.db-shm")), false, "no -shm file");
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
        for (const f of [db, db + "-wal"])
            assert.equal(mode(f).toString(8), "600", f);
    } finally {
        await other.stop();
    }
});

test("15d. a live database is the server's own: another process gets \"database is locked\", a second server on it refuses to start, the first keeps serving", { timeout: 60000 }, async () => {
    const dir = writeApp(tempDir());
    const db = path.join(tempDir(), "own.db");
    const srv = await startServer(dir, { cmd: "serve", args: ["--data", db] });
    const sqlite = (q) => new Promise((resolve) =>
        execFile("sqlite3", [db, q], { timeout: 10000 }, (err, stdout, stderr) =>
            resolve({ code: err ? err.code : 0, stdout: String(stdout), stderr: String(stderr) })));
    try {
        assert.equal((await srv.mutation("pub:noop", {})).status, 200);
        // a reader and a writer from another process: refused, nothing read or written
        let r = await sqlite("SELECT count(*) FROM _vr_meta");
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stderr, /database is locked/);
        r = await sqlite("CREATE TABLE intruder(x)");
        assert.match(r.stderr, /database is locked/);
        // a second server on the same database file (another app folder, so another lock file)
        const second = writeApp(tempDir());
        r = await runCli(["serve", second, "--port", "0", "--data", db], { timeout: 30000 });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /cannot open .*own\.db: .*database is locked \(another process has the file open\)/);
        // the first server kept serving and writing
        assert.equal((await srv.mutation("pub:noop", {})).status, 200);
    } finally {
        await srv.stop();
    }
    // once it has stopped, the file is an ordinary SQLite database again
    const r = await sqlite("SELECT count(*) FROM sqlite_master WHERE name = 'intruder'");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "0");
});

/* Runs tools/deps.sh with stand-ins first on PATH (no apt, no network): dpkg-query reports the
 * packages in `missing` as not installed, node reports version `nodeMajor`, apt-get fails with
 * apt's lock message `lockedTimes` times before it succeeds and logs its arguments, sleep and
 * sudo do nothing but pass through. */
function runDeps(args, { missing = [], nodeMajor = 22, lockedTimes = 0 } = {}) {
    const shim = tempDir();
    const w = (name, text) => fs.writeFileSync(path.join(shim, name), "#!/bin/sh\n" + text, { mode: 0o755 });
    w("dpkg-query", `for a; do last=$a; done\ncase " ${missing.join(" ")} " in *" $last "*) exit 1;; esac\nprintf 'install ok installed'\n`);
    w("node", `case "$1" in -p) echo ${nodeMajor};; --version) echo v${nodeMajor}.0.0;; esac\n`);
    w("npm", `echo "npm $*" >> "${shim}/log"\n`);
    w("sleep", "exit 0\n");
    w("sudo", `exec "$@"\n`);
    w("apt-get", `echo "apt-get $*" >> "${shim}/log"\n` +
        `n=$(cat "${shim}/locked" 2>/dev/null || echo 0)\n` +
        `if [ "$n" -lt ${lockedTimes} ]; then echo $((n + 1)) > "${shim}/locked"\n` +
        `  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt)" >&2; exit 100; fi\n`);
    return new Promise((resolve) => {
        execFile(path.join(REPO, "tools/deps.sh"), args, { env: { ...process.env, PATH: `${shim}:${process.env.PATH}` }, timeout: 30000 },
            (err, stdout, stderr) => {
                let log = "";
                try { log = fs.readFileSync(path.join(shim, "log"), "utf8"); } catch { /* nothing ran */ }
                resolve({ code: err ? err.code : 0, stdout, stderr, log });
            });
    });
}

test("17/18. deps: build vs test packages, waiting for the apt lock, Node >= 20 for the tests; make demo PORT", { timeout: 60000 }, async () => {
    // everything present: nothing runs
    let r = await runDeps(["--test"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.log, "", "deps ran something with everything installed");

    // building and running need no clang, chromium or sqlite3 shell
    const all = ["libjansson-dev", "clang", "chromium", "sqlite3"];
    r = await runDeps(["--dry-run"], { missing: all });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /install -y -qq libjansson-dev\n/, r.stdout);
    r = await runDeps(["--test", "--dry-run"], { missing: all });
    assert.match(r.stdout, /install -y -qq libjansson-dev clang chromium sqlite3\n/, r.stdout);

    // another apt holds the lists lock twice: update is retried, install waits with a timeout
    r = await runDeps(["--test"], { missing: ["clang"], lockedTimes: 2 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /another apt is running; waiting/);
    const lines = r.log.trim().split("\n");
    assert.equal(lines.filter((l) => / update/.test(l)).length, 3, r.log);
    assert.match(lines.at(-1), /apt-get -o DPkg::Lock::Timeout=600 install -y -qq clang$/, r.log);

    // Node 18: fine to build and run, a Node 22 from the npm registry for the tests
    r = await runDeps([], { nodeMajor: 18 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tests need Node >= 20/);
    assert.equal(r.log, "");
    r = await runDeps(["--test", "--dry-run"], { nodeMajor: 18 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /npm install --prefix build\/node .*node-linux-(x64|arm64)@22/, r.stdout);

    // make demo needs only the build deps, and takes PORT
    const demo = await new Promise((resolve) => execFile("make", ["-n", "demo", "PORT=9123"], { cwd: REPO }, (e, out) => resolve(out)));
    assert.match(demo, /vireo dev examples\/chat --port 9123/);
    assert.doesNotMatch(demo, /--test/);
    const t = await new Promise((resolve) => execFile("make", ["-n", "test"], { cwd: REPO }, (e, out) => resolve(out)));
    assert.match(t, /tools\/deps\.sh --test/);
});
