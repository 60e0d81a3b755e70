// Environment variables (apps/convex-env): process.env at module load and in queries, mutations
// and actions; .env.local under `vireo dev`; `vireo env set/get/list/remove` against a running
// server, kept across a restart; a change reloads the app (live queries and action workers see
// it; a value that breaks loading leaves the old version serving); names, sizes and counts
// refused with precise errors; values never in the server's output.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import {
    startServer, tempDir, runCli, request, assertAppLoaded, SyncConn, modOf, VIREO_BIN, childEnv,
} from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) await s.stop();
});

const SECRET = "sk_live_SECRET_MARKER_93f1";

async function app({ envLocal } = {}) {
    const dir = tempDir("convex-env");
    if (envLocal !== undefined) fs.writeFileSync(path.join(dir, ".env.local"), envLocal);
    return dir;
}

async function serve(dir, opts) {
    const s = await startServer(dir, opts);
    servers.push(s);
    await assertAppLoaded(s);
    return s;
}

const env = (s, ...args) => runCli(["env", ...args, "--url", s.url, "--dir", s.dir]);
const admin = (s, op, body, key = s.adminKey) =>
    request(s.port, "POST", `/api/admin/env/${op}`, body, { headers: key ? { Authorization: `Bearer ${key}` } : {} });

test("process.env: .env.local at load and in every kind of function; a minimal frozen process", async () => {
    const dir = await app({
        envLocal: [
            "# a comment",
            "export CLERK_ISSUER=\"https://issuer.example\"",
            "PLAIN=plain value # trailing comment",
            "SINGLE='a # b'",
            "MULTI=\"line1\\nline2\"",
            "BAD-NAME=1",
            "1BAD=2",
            "not a line",
            "NUL\u0000X=3", // a control byte in a name spoils the line (was set as NUL)
            "",
        ].join("\n"),
    });
    const s = await serve(dir);
    assert.equal(await s.value("query", "env:atLoad", {}), "https://issuer.example");
    assert.deepEqual(await s.value("query", "env:all", {}), {
        CLERK_ISSUER: "https://issuer.example",
        CONVEX_CLOUD_URL: s.url, /* Convex's built-in variables */
        CONVEX_SITE_URL: s.url,
        MULTI: "line1\nline2",
        PLAIN: "plain value",
        SINGLE: "a # b",
    });
    assert.equal(await s.value("mutation", "env:record", { name: "PLAIN" }), "plain value");
    assert.equal(await s.value("action", "env:inAction", { name: "SINGLE" }), "a # b");
    assert.equal(await s.value("query", "env:get", { name: "UNSET" }), null);
    const shape = await s.value("query", "env:shape", {});
    assert.deepEqual(shape.processKeys, ["env"]);
    assert.equal(shape.frozen, true);
    assert.equal(shape.missing, true);
    // neither the assignment (sloppy code: silently ignored) nor the call's replacement of
    // `process` reaches a later call
    assert.equal(await s.value("query", "env:get", { name: "NEW_ONE" }), null);
    assert.equal(await s.value("query", "env:atLoad", {}), "https://issuer.example");
    assert.deepEqual((await s.value("query", "env:shape", {})).processKeys, ["env"]);
    // bad lines named by number, bad names by name; no value in the output
    assert.match(s.stderr, /\.env\.local: variable `BAD-NAME` ignored/);
    assert.match(s.stderr, /\.env\.local: variable `1BAD` ignored/);
    assert.match(s.stderr, /\.env\.local:8: not a NAME=value line; ignored/);
    assert.match(s.stderr, /\.env\.local:9: not a NAME=value line; ignored/);
    // .env.local is not what `vireo env` manages
    const l = await env(s, "list");
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, "");
});

test("vireo env: set/get/list/remove round trip, kept across a restart, over .env.local", async () => {
    const dir = await app({ envLocal: "CLERK_ISSUER=from-file\nOTHER=file-only\n" });
    let s = await serve(dir);
    let r = await env(s, "set", "CLERK_ISSUER", "https://set.example");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "✔ Successfully set CLERK_ISSUER\n");
    r = await env(s, "set", "API_KEY", SECRET);
    assert.equal(r.code, 0, r.stderr);
    // without VALUE: read from stdin (one trailing newline dropped)
    const p = spawnSync(VIREO_BIN, ["env", "set", "FROM_STDIN", "--url", s.url, "--dir", s.dir],
                        { input: "from stdin\n", env: childEnv(), timeout: 10000 });
    assert.equal(p.status, 0, String(p.stderr));
    r = await env(s, "list");
    assert.equal(r.stdout, `API_KEY=${SECRET}\nCLERK_ISSUER=https://set.example\nFROM_STDIN=from stdin\n`);
    r = await env(s, "get", "API_KEY");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${SECRET}\n`);
    // the change reloaded the app: values at load, in handlers and in actions
    assert.equal(await s.value("query", "env:atLoad", {}), "https://set.example");
    assert.equal(await s.value("action", "env:inAction", { name: "API_KEY" }), SECRET);
    assert.equal(await s.value("query", "env:get", { name: "OTHER" }), "file-only");

    await s.stop();
    s = await serve(dir);
    r = await env(s, "list");
    assert.equal(r.stdout, `API_KEY=${SECRET}\nCLERK_ISSUER=https://set.example\nFROM_STDIN=from stdin\n`);
    assert.equal(await s.value("query", "env:atLoad", {}), "https://set.example");
    r = await env(s, "remove", "CLERK_ISSUER");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "✔ Successfully unset CLERK_ISSUER\n");
    // back to .env.local's value
    assert.equal(await s.value("query", "env:atLoad", {}), "from-file");
    r = await env(s, "get", "CLERK_ISSUER");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "Environment variable 'CLERK_ISSUER' not found.\n");
    r = await env(s, "remove", "CLERK_ISSUER");
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "Environment variable 'CLERK_ISSUER' not found.\n");
    // serve reads no .env.local
    await s.stop();
    s = await serve(dir, { cmd: "serve" });
    assert.equal(await s.value("query", "env:get", { name: "OTHER" }), null);
    assert.equal(await s.value("query", "env:get", { name: "API_KEY" }), SECRET);
    assert.ok(!(s.stdout + s.stderr).includes(SECRET), "a value reached the server's output");
});

test("a change re-runs live queries and reaches the action workers; a breaking value keeps the old version", async () => {
    const s = await serve(await app());
    const c = await SyncConn.open(s.port);
    try {
        await c.connect();
        const t = await c.subscribe(1, "env:get", { name: "GREETING" });
        assert.equal(modOf(t, 1).value, null);
        let from = c.mark;
        let r = await env(s, "set", "GREETING", "hello");
        assert.equal(r.code, 0, r.stderr);
        let u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1), { from });
        assert.equal(modOf(u, 1).value, "hello");
        assert.equal(await s.value("action", "env:inAction", { name: "GREETING" }), "hello");

        r = await env(s, "set", "BREAK_LOAD", "yes");
        assert.equal(r.code, 1);
        assert.match(r.stderr, /✔ Successfully set BREAK_LOAD\nvireo env: the app failed to reload with the change \(the previous version keeps running\):\n.*load broken on purpose by BREAK_LOAD/);
        assert.equal(await s.value("query", "env:get", { name: "GREETING" }), "hello");
        assert.equal(await s.value("query", "env:get", { name: "BREAK_LOAD" }), null);
        r = await env(s, "remove", "BREAK_LOAD");
        assert.equal(r.code, 0, r.stderr);
        from = c.mark;
        r = await env(s, "set", "GREETING", "bye");
        assert.equal(r.code, 0, r.stderr);
        u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1), { from });
        assert.equal(modOf(u, 1).value, "bye");
        assert.equal(await s.value("action", "env:inAction", { name: "GREETING" }), "bye");
    } finally {
        c.close();
    }
});

test("bad names, oversized values, too many variables, bad requests: precise errors", async () => {
    const s = await serve(await app());
    let r = await env(s, "set", "1BAD", "x");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "vireo env set: environment variable name `1BAD` is not valid: names start with a letter and contain only letters, digits and underscores (InvalidEnvVarName)\n");
    r = await env(s, "set", "A".repeat(41), "x");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is 41 characters long; the limit is 40 \(InvalidEnvVarName\)/);
    assert.equal((await env(s, "set", "A".repeat(40), "x")).code, 0);
    const big = SECRET + "x".repeat(8193 - SECRET.length);
    r = await env(s, "set", "BIG", big);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "vireo env set: the value of environment variable `BIG` is 8193 bytes; the limit is 8192 bytes (8 KiB) (EnvVarValueTooLarge)\n");
    assert.equal((await env(s, "set", "BIG", big.slice(0, 8192))).code, 0);
    let h = await admin(s, "set", { name: "NUL", value: "a\u0000b" });
    assert.equal(h.status, 400);
    assert.equal(h.json.errorCode, "InvalidEnvVarValue");
    for (let i = 2; i < 100; i++) {
        h = await admin(s, "set", { name: `V${i}`, value: String(i) });
        assert.equal(h.status, 200, h.text);
    }
    h = await admin(s, "set", { name: "ONE_TOO_MANY", value: "x" });
    assert.equal(h.status, 400);
    assert.equal(h.json.errorCode, "TooManyEnvVars");
    assert.equal(h.json.errorMessage, "cannot add environment variable `ONE_TOO_MANY`: a deployment may have at most 100; remove one first");
    // replacing one of the 100 is still allowed
    assert.equal((await admin(s, "set", { name: "V2", value: "replaced_V2_value" })).status, 200);
    // the admin API's own errors
    h = await admin(s, "list", {}, null);
    assert.equal(h.status, 401);
    h = await admin(s, "list", {}, "wrong");
    assert.equal(h.status, 401);
    h = await request(s.port, "GET", "/api/admin/env/list", undefined, { headers: { Authorization: `Bearer ${s.adminKey}` } });
    assert.equal(h.status, 405);
    h = await admin(s, "nope", {});
    assert.equal(h.status, 404);
    h = await admin(s, "get", {});
    assert.equal(h.status, 400);
    assert.equal(h.json.errorMessage, "the body needs \"name\": a string");
    h = await admin(s, "set", `{"name":"X","value":"${SECRET}`);
    assert.equal(h.status, 400);
    assert.equal(h.json.errorCode, "BadJsonBody"); // as every other route
    assert.ok(!h.text.includes(SECRET));
    h = await admin(s, "get", { name: "NOT_SET" });
    assert.equal(h.status, 404);
    assert.equal(h.json.errorCode, "EnvVarNotFound");
    r = await runCli(["env", "frobnicate", "--url", s.url, "--dir", s.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    r = await runCli(["env", "get", "--url", s.url, "--dir", s.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage: vireo env get NAME/);
    // the server kept serving, and no value reached its output
    assert.equal(await s.value("query", "env:get", { name: "V2" }), "replaced_V2_value");
    assert.equal(await s.value("query", "env:get", { name: "BIG" }), big.slice(0, 8192));
    const out = s.stdout + s.stderr;
    assert.ok(!out.includes(SECRET), `a value reached the server's output:\n${out}`);
    assert.ok(!out.includes("replaced_V2_value"), `a value reached the server's output:\n${out}`);
});

test("vireo env without a server or a key says so", async () => {
    const dir = await app();
    let r = await runCli(["env", "list", "--url", "http://127.0.0.1:1", "--dir", dir, "--admin-key", "k"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /vireo env: cannot reach http:\/\/127\.0\.0\.1:1/);
    r = await runCli(["env", "list", "--dir", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vireo env: no admin key/);
});

test("CONVEX_SITE_URL and CONVEX_CLOUD_URL: the server's URL at load and in functions, --public-url's when given, a set value wins", async () => {
    const s = await serve(await app({ envLocal: "" }));
    assert.equal(await s.value("query", "env:get", { name: "CONVEX_SITE_URL" }), s.url);
    assert.equal(await s.value("action", "env:inAction", { name: "CONVEX_CLOUD_URL" }), s.url);
    await s.stop();
    const p = await serve(await app({ envLocal: "" }), { args: ["--public-url", "https://api.example.com/"] });
    assert.equal(await p.value("query", "env:get", { name: "CONVEX_SITE_URL" }), "https://api.example.com");
    assert.equal(await p.value("query", "env:get", { name: "CONVEX_CLOUD_URL" }), "https://api.example.com");
    /* a proxy that serves HTTP actions elsewhere: `vireo env set` wins over the built-in */
    const r = await env(p, "set", "CONVEX_SITE_URL", "https://site.example.com");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await p.value("query", "env:get", { name: "CONVEX_SITE_URL" }), "https://site.example.com");
    assert.equal(await p.value("query", "env:get", { name: "CONVEX_CLOUD_URL" }), "https://api.example.com");
});
