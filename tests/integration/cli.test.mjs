// The `vireo` command line against real processes: help and usage errors, init's scaffold,
// dev + run on the scaffolded app (internal functions, errors, admin key sources), one server per
// app folder, reset (refused while running, works after), SIGTERM, live reload (new code within
// ~2 s, syntax errors reported with file:line while the old version keeps serving) and serve.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { signHs256 } from "./idp.mjs";
import {
    startServer,
    runCli,
    tempDir,
    waitFor,
    sleep,
} from "./helpers.mjs";

async function initApp() {
    const root = tempDir();
    const dir = path.join(root, "app");
    const r = await runCli(["init", dir]);
    assert.equal(r.code, 0, `vireo init failed: ${r.stderr}`);
    return dir;
}

/* `vireo run` in the app folder against srv; returns {code, stdout, stderr, value}. */
async function vrun(srv, dir, fn, args, extra = [], env = {}) {
    const argv = ["run", fn];
    if (args !== undefined) argv.push(typeof args === "string" ? args : JSON.stringify(args));
    argv.push("--url", srv.url, ...extra);
    const r = await runCli(argv, { cwd: dir, env });
    if (r.code === 0) {
        try {
            r.value = JSON.parse(r.stdout);
        } catch {
            r.value = undefined;
        }
    }
    return r;
}

test("help and usage errors", { timeout: 20000 }, async () => {
    let r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: vireo/);
    for (const cmd of ["init", "dev", "serve", "run", "reset"]) {
        r = await runCli([cmd, "--help"]);
        assert.equal(r.code, 0, `vireo ${cmd} --help exited ${r.code}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`usage: vireo ${cmd}`), `vireo ${cmd} --help`);
        r = await runCli(["help", cmd]);
        assert.equal(r.code, 0, `vireo help ${cmd}`);
        assert.match(r.stdout, new RegExp(`usage: vireo ${cmd}`));
    }
    r = await runCli([]);
    assert.equal(r.code, 2, "no command");
    r = await runCli(["frobnicate"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
    assert.match(r.stderr, /frobnicate/);
    for (const cmd of ["init", "dev", "serve", "run", "reset"]) {
        r = await runCli([cmd, "--no-such-option"], { cwd: tempDir() });
        assert.equal(r.code, 2, `vireo ${cmd} --no-such-option exited ${r.code}`);
        assert.match(r.stderr, /--no-such-option/, `vireo ${cmd}: message names the option`);
    }
    r = await runCli(["dev", "--port", "notaport"]);
    assert.equal(r.code, 2);
    r = await runCli(["dev", "--port", "70000"]);
    assert.equal(r.code, 2);
    r = await runCli(["dev", "--timeout-ms"]);
    assert.equal(r.code, 2, "option without a value");
    r = await runCli(["run"]);
    assert.equal(r.code, 2, "run without a function");
    r = await runCli(["run", "tasks:list", "[1,2]", "--admin-key", "k"]);
    assert.equal(r.code, 2, "run with non-object args");
    r = await runCli(["run", "tasks:list", "{nope", "--admin-key", "k"]);
    assert.equal(r.code, 2, "run with bad JSON args");
    r = await runCli(["--version"]);
    assert.equal(r.code, 0);
});

test("dev on a folder without vireo/ fails with a message", { timeout: 10000 }, async () => {
    const r = await runCli(["dev", tempDir(), "--port", "0"], { timeout: 8000 });
    assert.equal(r.code, 1, `exit ${r.code} ${r.signal ?? ""}: ${r.stderr}`);
    assert.match(r.stderr, /vireo\//);
});

test("init scaffolds the tasks app and refuses to overwrite", { timeout: 10000 }, async () => {
    const dir = await initApp();
    const schema = fs.readFileSync(path.join(dir, "vireo/schema.ts"), "utf8");
    assert.match(schema, /tasks/);
    assert.match(schema, /title:\s*v\.string\(\)/);
    assert.match(schema, /done:\s*v\.boolean\(\)/);
    assert.match(schema, /by_done/);
    const tasks = fs.readFileSync(path.join(dir, "vireo/tasks.ts"), "utf8");
    for (const fn of ["list", "listOpen", "create", "toggle", "remove", "count"])
        assert.match(tasks, new RegExp(`export const ${fn}\\b`), `tasks.ts exports ${fn}`);
    for (const f of ["server.js", "server.d.ts", "api.js", "api.d.ts", "dataModel.d.ts", "vireo.d.ts"])
        assert.ok(fs.existsSync(path.join(dir, "vireo/_generated", f)), f);
    assert.match(fs.readFileSync(path.join(dir, ".gitignore"), "utf8"), /^\.vireo\/$/m);
    fs.writeFileSync(path.join(dir, "vireo/tasks.ts"), tasks + "\n// mine\n");
    const again = await runCli(["init", dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.match(fs.readFileSync(path.join(dir, "vireo/tasks.ts"), "utf8"), /\/\/ mine/, "init overwrote a file");
});

test("dev + run on the scaffolded app; one server per folder; reset; SIGTERM", { timeout: 45000 }, async (t) => {
    const dir = await initApp();
    let srv = await startServer(dir);
    t.after(() => srv.stop("SIGKILL"));

    assert.match(srv.stdout, /^vireo dev: listening on http:\/\/127\.0\.0\.1:\d+$/m);
    assert.ok(srv.stdout.startsWith("vireo dev: listening on"), "the ready line is not first on stdout");
    const keyFile = path.join(dir, ".vireo/admin_key");
    assert.equal(fs.readFileSync(keyFile, "utf8").trim(), srv.adminKey);
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, "admin_key mode");
    assert.ok(fs.existsSync(path.join(dir, ".vireo/data/shard-0.db")), "no shard-0.db");

    let r = await vrun(srv, dir, "tasks:create", { title: "Buy milk" });
    assert.equal(r.code, 0, `run tasks:create: ${r.stderr}`);
    assert.equal(typeof r.value, "string", `tasks:create printed ${r.stdout}`);
    const id = r.value;
    r = await vrun(srv, dir, "tasks:create", '{"title":"Walk dog"}');
    assert.equal(r.code, 0, r.stderr);
    r = await vrun(srv, dir, "tasks:list");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.value.map((x) => x.title), ["Walk dog", "Buy milk"], "list is newest first");
    assert.ok(r.value.every((x) => x.done === false && typeof x._id === "string" && typeof x._creationTime === "number"));
    assert.match(r.stdout, /\n {2,}/, "result is printed indented");
    r = await vrun(srv, dir, "tasks:count");
    assert.equal(r.code, 0, `internal tasks:count: ${r.stderr}`);
    assert.equal(r.value, 2);
    r = await vrun(srv, dir, "tasks:toggle", { id });
    assert.equal(r.code, 0, r.stderr);
    r = await vrun(srv, dir, "tasks:listOpen");
    assert.deepEqual(r.value.map((x) => x.title), ["Walk dog"]);

    // failures: exit 1 with the error code and message
    r = await vrun(srv, dir, "tasks:create", { title: 5 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /vireo run: tasks:create failed \(ArgumentValidationError\)/);
    r = await vrun(srv, dir, "tasks:nope");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FunctionNotFound/);
    r = await vrun(srv, dir, "tasks:toggle", { id: "not-an-id" });
    assert.equal(r.code, 1);
    r = await vrun(srv, dir, "tasks:count", undefined, ["--admin-key", "00".repeat(32)]);
    assert.equal(r.code, 1, "wrong admin key");
    assert.match(r.stderr, /Unauthorized/);

    // other ways to find the key: --dir from elsewhere, $VIREO_ADMIN_KEY, --admin-key
    const elsewhere = tempDir();
    r = await vrun(srv, elsewhere, "tasks:count", undefined, ["--dir", dir]);
    assert.equal(r.code, 0, `--dir: ${r.stderr}`);
    assert.equal(r.value, 2);
    r = await vrun(srv, elsewhere, "tasks:count", undefined, [], { VIREO_ADMIN_KEY: srv.adminKey });
    assert.equal(r.code, 0, `VIREO_ADMIN_KEY: ${r.stderr}`);
    r = await vrun(srv, elsewhere, "tasks:count", undefined, ["--admin-key", srv.adminKey]);
    assert.equal(r.code, 0, `--admin-key: ${r.stderr}`);
    r = await vrun(srv, elsewhere, "tasks:count");
    assert.notEqual(r.code, 0, "run without any admin key succeeded");
    r = await runCli(["run", "tasks:count", "--url", "http://127.0.0.1:1"], { cwd: dir });
    assert.equal(r.code, 1, "unreachable server");
    assert.match(r.stderr, /cannot reach/);

    // a second server on the same folder is refused
    const second = await runCli(["dev", dir, "--port", "0"], { timeout: 10000 });
    assert.equal(second.code, 1, `second server exit ${second.code} ${second.signal ?? ""}`);
    assert.match(second.stderr, /another vireo server/);

    // reset refuses while the server runs
    r = await runCli(["reset", dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /running/);
    assert.equal((await vrun(srv, dir, "tasks:count")).value, 2, "reset deleted data of a running server");

    // SIGTERM: clean exit 0
    const stopped = await srv.stop("SIGTERM");
    assert.equal(stopped.code, 0, `exit after SIGTERM: ${JSON.stringify(stopped)}\n${srv.stderr}`);

    // data survives a restart
    srv = await startServer(dir);
    assert.equal((await vrun(srv, dir, "tasks:count")).value, 2, "data lost across restart");
    const key = srv.adminKey;
    assert.equal((await srv.stop()).code, 0);

    r = await runCli(["reset", dir]);
    assert.equal(r.code, 0, `reset: ${r.stderr}`);
    assert.ok(!fs.existsSync(path.join(dir, ".vireo/data")), ".vireo/data still exists");
    assert.ok(fs.existsSync(keyFile), "reset deleted the admin key");
    r = await runCli(["reset", dir]);
    assert.equal(r.code, 0, "reset twice");

    srv = await startServer(dir);
    assert.equal(srv.adminKey, key, "admin key changed across reset");
    assert.equal((await vrun(srv, dir, "tasks:count")).value, 0, "data after reset");
    assert.equal((await srv.stop()).code, 0);
});

test("dev prints no bundler warnings for the scaffolded app", { timeout: 15000 }, async (t) => {
    const dir = await initApp();
    const srv = await startServer(dir);
    t.after(() => srv.stop("SIGKILL"));
    await srv.value("query", "tasks:list", {});
    assert.doesNotMatch(srv.stderr, /WARNING/, `spurious warning on stderr:\n${srv.stderr}`);
});

test("SIGTERM lets an in-flight request finish", { timeout: 20000 }, async (t) => {
    const dir = await initApp();
    fs.writeFileSync(path.join(dir, "vireo/slow.ts"),
        `import { query } from "./_generated/server";\n` +
        `export const slow = query({ args: {}, handler: async () => { let x = 0; while (x < 3e8) x++; return "done"; } });\n`);
    const srv = await startServer(dir, { args: ["--timeout-ms", "10000"] });
    t.after(() => srv.stop("SIGKILL"));
    const pending = srv.query("slow:slow", {}, { timeout: 15000 });
    await sleep(300);
    srv.proc.kill("SIGTERM");
    const r = await pending.catch((e) => ({ error: e.message }));
    const exit = await srv.exited;
    assert.equal(exit.code, 0);
    assert.equal(r.status, 200, `in-flight request: ${JSON.stringify(r)}`);
    assert.equal(r.json.value, "done");
});

test("dev reload: edits go live, syntax errors keep the old version, fixing reloads", { timeout: 45000 }, async (t) => {
    const dir = await initApp();
    const file = path.join(dir, "vireo/extra.ts");
    const version = (v) =>
        `import { query } from "./_generated/server";\n\nexport const which = query({ args: {}, handler: async () => "${v}" });\n`;
    fs.writeFileSync(file, version("v1"));
    const srv = await startServer(dir);
    t.after(() => srv.stop("SIGKILL"));
    assert.equal(await srv.value("query", "extra:which", {}), "v1");

    const poll = (want, what) =>
        waitFor(async () => (await srv.query("extra:which", {})).json?.value === want, { timeout: 4000, interval: 100, what });

    fs.writeFileSync(file, version("v2"));
    const t0 = Date.now();
    await poll("v2", "v2 to go live");
    assert.ok(Date.now() - t0 < 2500, `reload took ${Date.now() - t0} ms`);

    // a new function in a new file
    fs.writeFileSync(path.join(dir, "vireo/more.ts"),
        `import { mutation, v } from "./_generated/server";\nexport const add = mutation({ args: { title: v.string() }, handler: async (ctx, { title }) => await ctx.db.insert("tasks", { title, done: true }) });\n`);
    await waitFor(async () => (await srv.mutation("more:add", { title: "x" })).status === 200, { timeout: 4000, interval: 100, what: "more:add to appear" });

    // a new file in a new subfolder, then deleting it
    fs.mkdirSync(path.join(dir, "vireo/sub"));
    await sleep(150);
    fs.writeFileSync(path.join(dir, "vireo/sub/deep.ts"),
        `import { query } from "../_generated/server";\nexport const fn = query({ args: {}, handler: async () => "deep" });\n`);
    await waitFor(async () => (await srv.query("sub/deep:fn", {})).json?.value === "deep", { timeout: 4000, interval: 100, what: "sub/deep:fn in a new folder to appear" });
    fs.rmSync(path.join(dir, "vireo/sub/deep.ts"));
    await waitFor(async () => (await srv.query("sub/deep:fn", {})).status === 404, { timeout: 4000, interval: 100, what: "sub/deep:fn to disappear after deleting its file" });

    // syntax error on line 3: reported naming the file and the line; v2 keeps serving
    const from = srv.stderr.length;
    fs.writeFileSync(file, `import { query } from "./_generated/server";\n\nexport const which = query({ args: {}, handler: async () => "v3" ));\n`);
    const m = await srv.waitStderr(/extra\.ts:(\d+)(:\d+)?/, { timeout: 4000, from });
    await srv.waitStderr(/previous version keeps running/, { timeout: 4000, from });
    assert.equal(m[1], "3", `error names line ${m[1]}: ${srv.stderr.slice(from)}`);
    await sleep(300);
    let r = await srv.query("extra:which", {});
    assert.equal(r.status, 200, `after a syntax error: ${r.text}`);
    assert.equal(r.json.value, "v2", "the old version must keep serving");
    assert.equal((await srv.get("/api/health")).json.app, "loaded");

    // a top-level exception at load time: reported, old version keeps serving
    const from2 = srv.stderr.length;
    fs.writeFileSync(file, `import { query } from "./_generated/server";\nthrow new Error("load-time-boom");\nexport const which = query({ args: {}, handler: async () => "v4" });\n`);
    await srv.waitStderr(/load-time-boom/, { timeout: 4000, from: from2 });
    assert.equal((await srv.query("extra:which", {})).json?.value, "v2");

    // fixing it reloads
    fs.writeFileSync(file, version("v5"));
    await poll("v5", "the fixed version to go live");

    // a schema the existing documents violate is refused
    const from3 = srv.stderr.length;
    const schemaFile = path.join(dir, "vireo/schema.ts");
    const schema = fs.readFileSync(schemaFile, "utf8");
    fs.writeFileSync(schemaFile, schema.replace("done: v.boolean()", "done: v.string()"));
    await srv.waitStderr(/previous version keeps running/, { timeout: 4000, from: from3 });
    r = await srv.mutation("tasks:create", { title: "still boolean" });
    assert.equal(r.status, 200, `old schema should still apply: ${r.text}`);
    fs.writeFileSync(schemaFile, schema);
    await sleep(300);
    assert.equal(srv.exitCode, undefined, "dev server exited");
});

test("dev starts with a broken app: 503 NoAppLoaded until it is fixed", { timeout: 30000 }, async (t) => {
    const dir = await initApp();
    const file = path.join(dir, "vireo/tasks.ts");
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, good.replace("export const list", "export const list = = ;\nexport const list2"));
    const secret = "s".repeat(40);
    const srv = await startServer(dir, { args: ["--jwt-secret", secret] });
    t.after(() => srv.stop("SIGKILL"));
    assert.match(srv.stderr, /tasks\.ts:\d+/);
    const h = await srv.get("/api/health");
    assert.equal(h.json.app, "none");
    const r = await srv.query("tasks:list", {});
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.errorCode, "NoAppLoaded");
    // a valid token meanwhile: NoAppLoaded too, not InvalidToken (no providers are known yet)
    const token = signHs256(secret, { sub: "u1", exp: Math.floor(Date.now() / 1000) + 600 });
    for (const convex of [false, true]) {
        const headers = { Authorization: `Bearer ${token}`, ...(convex ? { "Convex-Client": "npm-1.0.0" } : {}) };
        const a = await srv.post("/api/query", { path: "tasks:list", args: {} }, { headers });
        assert.equal(a.status, 503, a.text);
        assert.equal(convex ? a.json.code : a.json.errorCode, "NoAppLoaded", a.text);
    }
    fs.writeFileSync(file, good);
    await waitFor(async () => (await srv.query("tasks:list", {})).status === 200, { timeout: 4000, interval: 100, what: "the app to load" });
    assert.equal((await srv.get("/api/health")).json.app, "loaded");
});

test("serve: serves without watching; a broken app exits 1", { timeout: 30000 }, async (t) => {
    const dir = await initApp();
    const srv = await startServer(dir, { cmd: "serve" });
    t.after(() => srv.stop("SIGKILL"));
    assert.match(srv.stdout, /^vireo serve: listening on http:\/\/127\.0\.0\.1:\d+$/m);
    const c = await srv.mutation("tasks:create", { title: "served" });
    assert.equal(c.status, 200, c.text);
    const file = path.join(dir, "vireo/tasks.ts");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8") + `\nexport const added = query({ args: {}, handler: async () => 1 });\n`);
    await sleep(1500);
    assert.equal((await srv.query("tasks:added", {})).status, 404, "serve reloaded a change");
    assert.equal((await srv.stop()).code, 0);

    fs.writeFileSync(file, "export const = broken;\n");
    const r = await runCli(["serve", dir, "--port", "0"], { timeout: 10000 });
    assert.equal(r.code, 1, `serve on a broken app: exit ${r.code} ${r.signal ?? ""}`);
    assert.match(r.stderr, /tasks\.ts:1/);
});

test("--data puts the database elsewhere", { timeout: 20000 }, async (t) => {
    const dir = await initApp();
    const db = path.join(tempDir(), "other.db");
    const srv = await startServer(dir, { args: ["--data", db] });
    t.after(() => srv.stop("SIGKILL"));
    assert.equal((await srv.mutation("tasks:create", { title: "x" })).status, 200);
    assert.ok(fs.existsSync(db), "--data file not created");
    assert.match(srv.stdout, new RegExp(`data:\\s+${db.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
});

test("admin-key --rotate: through the running server (old key refused at once, no restart), offline, and refused while a server runs without --url", { timeout: 30000 }, async () => {
    const dir = await initApp();
    const srv = await startServer(dir);
    try {
        const old = srv.adminKey;
        assert.equal((await srv.admin("tasks:list", {})).status, 200);
        // the route itself: POST with the key only
        assert.equal((await srv.post("/api/admin/rotate-key", {})).status, 401);
        assert.equal((await srv.get("/api/admin/rotate-key", { headers: { Authorization: `Bearer ${old}` } })).status, 405);
        // without --url while the server runs: refused, nothing changed
        let r = await runCli(["admin-key", "--rotate", dir]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /a server is running for .*; rotate through it: vireo admin-key --rotate --url/);
        assert.equal(fs.readFileSync(path.join(dir, ".vireo/admin_key"), "utf8").trim(), old);
        // through the server
        r = await runCli(["admin-key", "--rotate", "--url", srv.url, dir]);
        assert.equal(r.code, 0, r.stderr);
        const fresh = r.stdout.trim();
        assert.match(fresh, /^[0-9a-f]{64}$/);
        assert.notEqual(fresh, old);
        assert.equal(fs.readFileSync(path.join(dir, ".vireo/admin_key"), "utf8").trim(), fresh);
        assert.equal((fs.statSync(path.join(dir, ".vireo/admin_key")).mode & 0o777), 0o600);
        assert.equal((await srv.admin("tasks:list", {}, old)).status, 401, "the old key stops working");
        assert.equal((await srv.admin("tasks:list", {}, fresh)).status, 200);
        r = await runCli(["admin-key", dir]);
        assert.equal(r.stdout.trim(), fresh);
        // `vireo run` finds the new key in the file
        r = await vrun(srv, dir, "tasks:list", {});
        assert.equal(r.code, 0, r.stderr);
        // rotating with the old key fails
        r = await runCli(["admin-key", "--rotate", "--url", srv.url, dir], { env: { VIREO_ADMIN_KEY: old } });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /HTTP 401/);
        // keys are never logged
        assert.ok(!srv.stderr.includes(fresh) && !srv.stderr.includes(old) && !srv.stdout.includes(fresh));
        await srv.waitStderr(/admin key rotated/);
    } finally {
        await srv.stop();
    }
    // offline: the file is replaced and the next start uses it
    const r = await runCli(["admin-key", "--rotate", dir]);
    assert.equal(r.code, 0, r.stderr);
    const offline = r.stdout.trim();
    assert.match(offline, /^[0-9a-f]{64}$/);
    const srv2 = await startServer(dir);
    try {
        assert.equal(srv2.adminKey, offline);
        assert.equal((await srv2.admin("tasks:list", {}, offline)).status, 200);
    } finally {
        await srv2.stop();
    }
    const bad = await runCli(["admin-key", "--url", "http://127.0.0.1:9", dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--url goes with --rotate/);
});
