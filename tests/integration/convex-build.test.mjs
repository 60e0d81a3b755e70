// Build once, run without Node (issue 8, item 9): `vireo build` writes one bundle file,
// `vireo serve --bundle FILE` runs it with neither Node nor esbuild reachable (a copy of the
// binary, PATH stripped, VIREO_ESBUILD unset), `vireo deploy` pushes a new version to a running
// server over POST /api/admin/deploy: schema applied all or nothing, connections kept, a bad
// bundle refused with the old version serving.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
    REPO, VIREO_BIN, Server, tempDir, startServer, runCli, request, SyncConn, modOf, sleep,
} from "./helpers.mjs";

const HEADER = /^\/\* vireo-bundle 1 functions=convex\/ \*\/\n/;

function convexApp() {
    const dir = tempDir("convex-layout");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

/* A small Convex app whose version n differs in what `v:which` returns and in its schema. */
function writeVersion(dir, files) {
    fs.mkdirSync(path.join(dir, "convex"), { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, "convex", name), text);
}

const V1 = {
    "schema.ts": `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({ notes: defineTable({ text: v.string() }) });
`,
    "v.ts": `import { queryGeneric, mutationGeneric } from "convex/server";
import { v } from "convex/values";
export const which = queryGeneric({ args: {}, handler: async (ctx) =>
  "v1:" + (await ctx.db.query("notes").collect()).length });
export const add = mutationGeneric({ args: { text: v.string() }, handler: async (ctx, a) =>
  ctx.db.insert("notes", a) });
`,
};
const V2 = {
    "schema.ts": `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({
  notes: defineTable({ text: v.string() }).index("by_text", ["text"]),
  tags: defineTable({ name: v.string() }),
});
`,
    "v.ts": `import { queryGeneric, mutationGeneric } from "convex/server";
import { v } from "convex/values";
export const which = queryGeneric({ args: {}, handler: async (ctx) =>
  "v2:" + (await ctx.db.query("notes").withIndex("by_text").collect()).length });
export const add = mutationGeneric({ args: { text: v.string() }, handler: async (ctx, a) =>
  ctx.db.insert("notes", a) });
export const tag = mutationGeneric({ args: { name: v.string() }, handler: async (ctx, a) =>
  ctx.db.insert("tags", a) });
`,
};

/* Spawns `bin serve ...args` with exactly `env` (no VIREO_ESBUILD, PATH as given). */
async function serveBare(bin, args, env) {
    const keep = {};
    for (const k of ["ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"]) if (process.env[k]) keep[k] = process.env[k];
    const proc = spawn(bin, ["serve", ...args, "--port", "0"], { env: { ...keep, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const s = new Server(proc);
    s.dir = args[0];
    return s;
}

describe("vireo build", () => {
    test("writes one bundle file (default .vireo/build.js, or --out) that loaded once", async () => {
        const dir = convexApp();
        const r = await runCli(["build", dir]);
        assert.equal(r.code, 0, r.stderr);
        const def = path.join(dir, ".vireo/build.js");
        assert.match(r.stdout, new RegExp(`wrote ${def.replace(/[.]/g, "\\.")} \\(\\d+ bytes, functions from convex/\\)`));
        const text = fs.readFileSync(def, "utf8");
        assert.match(text, HEADER);
        assert.match(text, /sourceMappingURL=data:application\/json;base64,/);
        assert.doesNotMatch(text, /node_modules\/convex/);
        assert.match(r.stderr, /loaded 15 functions from "convex\/"/, "the build was checked by loading it");
        const out = path.join(tempDir(), "app.js");
        const r2 = await runCli(["build", dir, "--out", out]);
        assert.equal(r2.code, 0, r2.stderr);
        assert.equal(fs.readFileSync(out, "utf8"), text);
        // codegen output is written too, as by `vireo dev`
        assert.ok(fs.existsSync(path.join(dir, "convex/_generated")));
    });

    test("a bundle that does not load or whose schema is invalid is refused, nothing written", async () => {
        const dir = tempDir();
        writeVersion(dir, { "v.ts": 'throw new Error("broken at load");\nexport const x = 1;\n' });
        const out = path.join(dir, "out.js");
        const r = await runCli(["build", dir, "--out", out]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /vireo build: .*broken at load/);
        assert.ok(!fs.existsSync(out));
        writeVersion(dir, {
            "v.ts": "export const x = 1;\n",
            "schema.ts": 'import { defineSchema, defineTable } from "convex/server";\nimport { v } from "convex/values";\nexport default defineSchema({ t: defineTable({ a: v.string() }).index("by_id", ["a"]) });\n',
        });
        const r2 = await runCli(["build", dir, "--out", out]);
        assert.equal(r2.code, 1);
        assert.match(r2.stderr, /index name `by_id` is reserved/);
        assert.ok(!fs.existsSync(out));
        const r3 = await runCli(["build", tempDir()]);
        assert.equal(r3.code, 1);
        assert.match(r3.stderr, /no vireo\/ folder/);
        const r4 = await runCli(["build", dir, "--bogus"]);
        assert.equal(r4.code, 2);
    });
});

describe("vireo serve --bundle", () => {
    const servers = [];
    after(async () => {
        for (const s of servers) await s.stop();
    });

    test("runs a built app with neither Node nor esbuild reachable", async () => {
        const src = convexApp();
        const file = path.join(tempDir(), "app.js");
        assert.equal((await runCli(["build", src, "--out", file])).code, 0);
        // a copy of the binary outside the checkout (no node_modules/.bin/esbuild above it),
        // an app folder with no functions folder, PATH without node or esbuild
        const binDir = tempDir();
        const bin = path.join(binDir, "vireo");
        fs.copyFileSync(VIREO_BIN, bin);
        fs.chmodSync(bin, 0o755);
        const prod = tempDir();
        const s = await serveBare(bin, [prod, "--bundle", file], { PATH: "/nonexistent" });
        servers.push(s);
        await s.waitReady();
        assert.match(s.stdout, /bundle: {4}.*app\.js/);
        assert.match(s.stderr, /loaded 15 functions from "convex\/"/);
        await s.value("mutation", "messages:send", { author: "prod", body: "no node here" });
        assert.deepEqual(await s.value("query", "messages:list", {}), ["prod: no node here"]);
        assert.equal(await s.value("query", "admin/users", {}), "default export");
        assert.ok(!fs.existsSync(path.join(prod, "convex")) && !fs.existsSync(path.join(prod, "node_modules")));
        // load errors still name the source file and line (the inline source map is used)
        const bad = await s.mutation("messages:send", { author: "x", body: "" });
        assert.equal(bad.json.errorCode, "VireoError");
        await s.stop();
        // without --bundle the same binary cannot build there, and says so
        fs.mkdirSync(path.join(prod, "convex"));
        fs.writeFileSync(path.join(prod, "convex/a.ts"), "export const x = 1;\n");
        const s2 = await serveBare(bin, [prod], { PATH: "/nonexistent" });
        servers.push(s2);
        const { code } = await s2.exited;
        assert.equal(code, 1);
        assert.match(s2.stderr, /esbuild not found/);
    });

    test("a missing or foreign file is a precise error", async () => {
        const dir = tempDir();
        const notBundle = path.join(dir, "x.js");
        fs.writeFileSync(notBundle, "console.log(1)\n");
        const badHeader = path.join(dir, "y.js");
        fs.writeFileSync(badHeader, "/* vireo-bundle 1 functions= */\nx\n");
        for (const [file, re] of [
            [path.join(dir, "missing.js"), /cannot read .*missing\.js: No such file or directory/],
            [notBundle, /not a bundle file of `vireo build`.*x\.js/],
            [badHeader, /its first line must be/],
        ]) {
            const r = await runCli(["serve", dir, "--port", "0", "--bundle", file]);
            assert.equal(r.code, 1, r.stderr);
            assert.match(r.stderr, re);
        }
        const r = await runCli(["dev", dir, "--port", "0", "--bundle", notBundle]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--bundle is for `vireo serve`/);
    });
});

describe("vireo deploy", () => {
    let s, dir;
    after(async () => s && (await s.stop()));

    test("pushes a new version: schema applied, connections and live queries kept", async () => {
        dir = tempDir();
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
        writeVersion(dir, V1);
        s = await startServer(dir, { cmd: "serve" });
        await s.value("mutation", "v:add", { text: "a" });
        const c = await SyncConn.open(s.port);
        await c.connect();
        const t = await c.subscribe(1, "v:which", {});
        assert.equal(modOf(t, 1).value, "v1:1");
        const health0 = await s.get("/api/health");

        writeVersion(dir, V2);
        const from = c.mark;
        const r = await runCli(["deploy", dir, "--url", s.url]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`${s.url} now serves 3 functions from convex/`));
        // the live query re-ran on the new code over the same connection
        const upd = await c.waitMsg((m) => m.type === "transition" && modOf(m, 1)?.value === "v2:1", { from, what: "v2's result" });
        assert.ok(upd);
        assert.ok(!c.closed, "the sync connection stayed open");
        const m = await c.call("mutation", 1, "v:add", { text: "b" });
        assert.equal(m.success, true, JSON.stringify(m));
        await c.waitMsg((x) => x.type === "transition" && modOf(x, 1)?.value === "v2:2", { from, what: "v2 after a write on the same connection" });
        await s.value("mutation", "v:add", { text: "c" }); // a third note
        await c.waitMsg((x) => x.type === "transition" && modOf(x, 1)?.value === "v2:3", { from, what: "v2 after an HTTP write" });
        // the new table and index exist
        await s.value("mutation", "v:tag", { name: "t" });
        assert.equal(await s.value("query", "v:which", {}), "v2:3");
        assert.equal((await s.get("/api/health")).json.status, health0.json.status);
        c.close();
    });

    test("a bad bundle or a schema the data violates is refused; the old version keeps serving", async () => {
        // top-level throw
        writeVersion(dir, { ...V2, "v.ts": V2["v.ts"] + 'throw new Error("v3 is broken");\n' });
        let r = await runCli(["deploy", dir, "--url", s.url]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /refused \(DeployFailed, HTTP 400\): .*v3 is broken/);
        assert.match(r.stderr, /keeps serving its previous version/);
        assert.equal(await s.value("query", "v:which", {}), "v2:3");
        // a schema that existing documents violate: nothing of it applies
        writeVersion(dir, {
            ...V2,
            "schema.ts": `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
export default defineSchema({
  notes: defineTable({ text: v.number() }).index("by_text", ["text"]),
  tags: defineTable({ name: v.string() }),
  extra: defineTable({ x: v.string() }),
});
`,
        });
        r = await runCli(["deploy", dir, "--url", s.url]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /DeployFailed.*schema/);
        assert.equal(await s.value("query", "v:which", {}), "v2:3");
        await s.value("mutation", "v:add", { text: "still a string" });
        await s.waitStderr(/\(the previous version keeps running\)/);
        // a bundle that esbuild cannot build never leaves the machine
        writeVersion(dir, { ...V2, "v.ts": "export const = ;\n" });
        r = await runCli(["deploy", dir, "--url", s.url]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /bundling failed/);
        writeVersion(dir, V2);
    });

    test("deploy --bundle pushes a file from vireo build", async () => {
        writeVersion(dir, { ...V2, "v.ts": V2["v.ts"].replace('"v2:"', '"v4:"') });
        const file = path.join(tempDir(), "v4.js");
        assert.equal((await runCli(["build", dir, "--out", file])).code, 0);
        const r = await runCli(["deploy", "--bundle", file, "--url", s.url, "--admin-key", s.adminKey], { cwd: tempDir() });
        assert.equal(r.code, 0, r.stderr);
        assert.match(await s.value("query", "v:which", {}), /^v4:/);
        const junk = path.join(tempDir(), "junk.js");
        fs.writeFileSync(junk, "console.log(1)\n");
        const r2 = await runCli(["deploy", "--bundle", junk, "--url", s.url, "--admin-key", s.adminKey]);
        assert.equal(r2.code, 1);
        assert.match(r2.stderr, /junk\.js: not a bundle file/);
    });

    test("the endpoint: admin key, method, body checks, unreachable server", async () => {
        const file = fs.readFileSync(path.join(dir, ".vireo/bundle.js"));
        const header = Buffer.from("/* vireo-bundle 1 functions=convex/ */\n");
        const body = Buffer.concat([header, file]);
        let r = await request(s.port, "POST", "/api/admin/deploy", body);
        assert.equal(r.status, 401);
        assert.equal(r.json.errorCode, "Unauthorized");
        r = await request(s.port, "POST", "/api/admin/deploy", body, { headers: { Authorization: "Bearer nope" } });
        assert.equal(r.status, 401);
        const auth = { headers: { Authorization: `Bearer ${s.adminKey}` } };
        r = await request(s.port, "GET", "/api/admin/deploy", undefined, auth);
        assert.equal(r.status, 405);
        r = await request(s.port, "POST", "/api/admin/deploy", "", auth);
        assert.equal(r.status, 400);
        assert.equal(r.json.errorCode, "BadBundle");
        r = await request(s.port, "POST", "/api/admin/deploy", file, auth);
        assert.equal(r.json.errorCode, "BadBundle");
        assert.match(r.json.errorMessage, /not a bundle file/);
        r = await request(s.port, "POST", "/api/admin/deploy", Buffer.concat([header, Buffer.from("}{")]), auth);
        assert.equal(r.status, 400);
        assert.equal(r.json.errorCode, "DeployFailed");
        r = await request(s.port, "POST", "/api/admin/deploy", body, auth);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, { status: "success", functions: 3, name: "convex/" });
        const wrongKey = await runCli(["deploy", dir, "--url", s.url, "--admin-key", "nope"]);
        assert.equal(wrongKey.code, 1);
        assert.match(wrongKey.stderr, /refused \(Unauthorized, HTTP 401\)/);
        const down = await runCli(["deploy", dir, "--url", "http://127.0.0.1:9", "--admin-key", "k"]);
        assert.equal(down.code, 1);
        assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
        const nokey = await runCli(["deploy", tempDir(), "--url", s.url]);
        assert.equal(nokey.code, 2);
        assert.match(nokey.stderr, /no admin key/);
    });

    test("the last deployed version is saved (0600) and `serve --bundle` restarts with it", async () => {
        const saved = path.join(dir, ".vireo/deployed.js");
        const st = fs.statSync(saved);
        assert.equal(st.mode & 0o777, 0o600);
        assert.match(fs.readFileSync(saved, "utf8"), HEADER);
        await s.waitStderr(/\[deploy\] saved to ".*deployed\.js"/);
        const before = await s.value("query", "v:which", {});
        const savedText = fs.readFileSync(saved, "utf8");
        // a refused deploy leaves the saved file alone
        const bad = await request(s.port, "POST", "/api/admin/deploy", "/* vireo-bundle 1 functions=convex/ */\nthrow 1;\n",
            { headers: { Authorization: `Bearer ${s.adminKey}` } });
        assert.equal(bad.json.errorCode, "DeployFailed");
        assert.equal(fs.readFileSync(saved, "utf8"), savedText);
        await s.stop();
        fs.rmSync(path.join(dir, "convex"), { recursive: true });
        s = await startServer(dir, { cmd: "serve", args: ["--bundle", saved] });
        assert.equal(await s.value("query", "v:which", {}), before, "the deployed code and the data are back");
    });

    test("a bundle over --max-body gets 413 and a clear message", async () => {
        const d = tempDir();
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d, "node_modules"));
        writeVersion(d, V1);
        const small = await startServer(d, { cmd: "serve", args: ["--max-body", "1000"] });
        try {
            const r = await runCli(["deploy", d, "--url", small.url]);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /larger than the server's --max-body \(HTTP 413\)/);
            assert.match(await small.value("query", "v:which", {}), /^v1:/);
        } finally {
            await small.stop();
        }
        await sleep(0);
    });
});
