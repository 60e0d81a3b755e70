// A Convex project's layout and imports (issue 8, items 1 and 2) on apps/convex-layout: the
// functions folder found as Convex finds it (convex/, convex.json's `functions`, vireo/),
// nested modules, config/test/declaration files left out, crons.ts (scheduled) and http.ts loaded with one
// log line each, and `convex/values`, `convex/server`, `convex/browser` resolved to Vireo's
// prelude while the real `convex` package is installed in the app's node_modules.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { REPO, tempDir, startServer, spawnServer, runCli, waitFor } from "./helpers.mjs";

/* A temp copy of the fixture whose node_modules is the repository's (the real `convex` package,
 * resolvable from the app folder as in any Convex project). */
function convexApp() {
    const dir = tempDir("convex-layout");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    const req = createRequire(path.join(dir, "package.json"));
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/convex/package.json"), "utf8"));
    assert.equal(pkg.version, "1.48.0", "the pinned convex package is installed");
    assert.match(req.resolve("convex/values"), /node_modules\/convex\//, "convex/values resolves to the real package from the app");
    return dir;
}

const int64 = (n) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return { $integer: b.toString("base64") };
};

describe("a Convex project (convex/ folder, real convex package installed)", () => {
    let s, dir;
    before(async () => {
        dir = convexApp();
        s = await startServer(dir, { cmd: "serve" });
    });
    after(async () => s && (await s.stop()));

    test("loads from convex/ and the bundle does not contain the convex package", () => {
        assert.match(s.stderr, /loaded 15 functions from "convex\/"/);
        const bundle = fs.readFileSync(path.join(dir, ".vireo/bundle.js"), "utf8");
        assert.doesNotMatch(bundle, /node_modules\/convex/, "no module of the real package was bundled");
        assert.doesNotMatch(bundle, /docs\.convex\.dev\/error#undefined-validator/);
        assert.match(bundle, /\.vireo\/shims\/(values|server)\.js/, "the shims were bundled instead");
        // the shims live under .vireo/, never in the app's folders
        assert.ok(fs.existsSync(path.join(dir, ".vireo/shims/server.js")));
        assert.ok(!fs.existsSync(path.join(dir, "convex/shims")));
    });

    test("every runtime export of convex/values, convex/server and convex/browser exists", async () => {
        const got = await s.value("query", "exports:list", {});
        for (const [name, mod] of [["values", "convex/values"], ["server", "convex/server"], ["browser", "convex/browser"]]) {
            const real = await import(mod);
            const want = Object.fromEntries(Object.keys(real).filter((k) => k !== "default").sort()
                .map((k) => [k, typeof real[k]]));
            assert.deepEqual(got[name], want, `${mod}: same names and kinds as the installed package`);
        }
    });

    test("stubs throw a clear 'not supported' only when called; getFunctionName refuses what Convex's refuses", async () => {
        const got = await s.value("query", "exports:stubs", {});
        assert.deepEqual(got, {
            defineApp: "no error",
            defineComponent: "no error",
            createFunctionHandle: "createFunctionHandle(): the app has no function `a:b`",
            components: 'Expected function reference in the current component like "api.file.func" or "internal.file.func", but received reference _reference/childComponent/rag/search',
            handleName: 'Expected function reference like "api.file.func" or "internal.file.func", but received function handle function://a:b',
            ConvexHttpClient: "no error",
            ConvexClient: "ConvexClient in functions is not supported by Vireo: there is no WebSocket in actions (ConvexHttpClient works)",
            BaseConvexClient: "BaseConvexClient in functions is not supported by Vireo: there is no WebSocket in actions (ConvexHttpClient works)",
        });
    });

    test("references, JSON conversion, sizes and errors behave as Convex's", async () => {
        const got = await s.value("query", "exports:helpers", {});
        const { convexToJson, getConvexSize, getDocumentSize, Base64, compareValues } = await import("convex/values");
        assert.equal(got.ref, "messages:list");
        assert.equal(got.anyApi, "admin/users:count");
        assert.equal(got.anyApiDefault, "admin/users");
        assert.deepEqual(got.address, { name: "messages:list" });
        assert.equal(got.filterApi, true);
        assert.equal(got.toJson, JSON.stringify(convexToJson({ n: 5n, b: new Uint8Array([1, 2]).buffer, f: NaN, s: "x" })));
        assert.equal(got.fromJson, true);
        assert.equal(got.size, getConvexSize({ a: "xy", n: 1 }));
        assert.equal(got.docSize, getDocumentSize({ a: 1 }));
        assert.equal(got.base64, Base64.fromByteArray(new Uint8Array([104, 105])));
        assert.equal(got.compare, compareValues(1n, 1));
        assert.equal(got.errorName, "ConvexError");
        assert.deepEqual(got.errorData, { x: 1 });
        assert.deepEqual(got.routable, ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
        const { paginationOptsValidator } = await import("convex/server");
        assert.deepEqual(got.pagination, paginationOptsValidator.json);
        assert.equal(got.paginationResult, "object");
        assert.deepEqual(got.queryOptions, { query: 1 });
        // the same table made with the real convex/server has the same fields
        const { defineTable } = await import("convex/server");
        const { v } = await import("convex/values");
        const t = defineTable({ a: v.string(), e: v.array(v.float64()) }).index("by_a", ["a"])
            .searchIndex("s", { searchField: "a" }).vectorIndex("ve", { vectorField: "e", dimensions: 2 });
        assert.deepEqual(got.tableShape, {
            indexes: t.indexes.map((i) => [i.indexDescriptor, i.fields]),
            search: t.searchIndexes.map((i) => [i.indexDescriptor, i.searchField, i.filterFields]),
            vector: t.vectorIndexes.map((i) => [i.indexDescriptor, i.vectorField, i.dimensions]),
            staged: [t.stagedDbIndexes, t.stagedSearchIndexes, t.stagedVectorIndexes],
            viaMethod: t[" indexes"]().length,
        });
    });

    test("validators have Convex's shapes", async () => {
        const got = await s.value("query", "validators:shapes", {});
        const { v } = await import("convex/values");
        const real = {
            s: v.string(), n: v.number(), f: v.float64(), i: v.int64(), big: v.bigint(), b: v.boolean(),
            nul: v.null(), by: v.bytes(), a: v.any(), arr: v.array(v.number()),
            obj: v.object({ x: v.string(), y: v.optional(v.number()) }), rec: v.record(v.string(), v.number()),
            lit: v.literal("on"), un: v.union(v.literal(1), v.string()), id: v.optional(v.id("messages")),
            opt: v.optional(v.string()), nb: v.nullable(v.string()),
        };
        for (const [k, x] of Object.entries(real))
            assert.deepEqual(got.kinds[k], [x.kind, x.isOptional, true], `v for ${k}`);
        const o = v.object({ a: v.string(), b: v.number() });
        assert.deepEqual(got.json, o.json);
        assert.deepEqual(got.omit, ["b"]);
        assert.deepEqual(got.pick, ["a"]);
        assert.deepEqual(got.partial, ["optional", "optional"]);
        assert.deepEqual(got.extend, ["a", "b", "c"]);
        assert.equal(got.optionalMethod, "optional");
        assert.equal(got.tableName, "users");
        assert.equal(got.element, "string");
        assert.deepEqual(got.record, ["string", "int64"]);
        assert.equal(got.members, 2);
        assert.equal(got.literal, "x");
        assert.deepEqual(got.doc, ["name", "_id", "_creationTime"]);
    });

    test("every validator checks arguments on the server", async () => {
        const id = await s.value("mutation", "messages:send", { author: "ann", body: "hi" });
        const args = {
            s: "x", n: 1.5, f: 2, i: int64(7), big: int64(-3), b: true, nul: null,
            by: { $bytes: Buffer.from([1, 2, 3]).toString("base64") }, a: { any: ["thing"] },
            arr: [1, 2], obj: { x: "y" }, rec: { k: 1 }, lit: "on", un: 1, id, nb: null,
        };
        const r = await s.value("mutation", "validators:echo", args);
        assert.deepEqual(r, args);
        for (const [field, bad] of [["rec", { k: "one" }], ["lit", "off"], ["i", 7], ["by", "AQID"], ["un", true]]) {
            const res = await s.mutation("validators:echo", { ...args, [field]: bad });
            assert.equal(res.status, 400, `${field}: ${res.text}`);
            assert.equal(res.json.errorCode, "ArgumentValidationError", res.text);
            assert.match(res.json.errorMessage, new RegExp(field), res.text);
        }
    });

    test("functions from _generated/server (Convex-generated), nested folders and default exports", async () => {
        await s.value("mutation", "messages:send", { author: "bob", body: "yo" });
        assert.ok((await s.value("query", "messages:list", {})).includes("bob: yo"));
        await s.value("mutation", "admin/users:add", { name: "cy", role: "admin" });
        assert.equal(await s.value("query", "admin/users:count", {}), 1);
        assert.equal(await s.value("query", "admin/users", {}), "default export");
        assert.equal(await s.value("query", "admin/users:default", {}), "default export");
        assert.deepEqual(await s.value("query", "admin/users:refName", {}), ["admin/users:count", "admin/users"]);
        const err = await s.mutation("messages:send", { author: "x", body: "" });
        assert.equal(err.json.errorCode, "VireoError", err.text);
        assert.deepEqual(err.json.errorData, { code: "EMPTY", message: "empty message" });
    });

    test("config, test, spec, declaration and _ files are not function modules", async () => {
        const bundle = fs.readFileSync(path.join(dir, ".vireo/bundle.js"), "utf8");
        for (const marker of ["TEST_FILE_MARKER", "SPEC_FILE_MARKER", "DECLARATION_MARKER"])
            assert.ok(!bundle.includes(marker), `${marker} is not bundled`);
        // auth.config is bundled as configuration (its providers), and is no function (below)
        assert.ok(bundle.includes("AUTH_CONFIG_MARKER"), "auth.config is bundled as configuration");
        for (const p of ["auth.config", "auth.config:default", "convex.config", "messages.test", "_helpers:hidden", "schema", "env.d"]) {
            const r = await s.query(p, {});
            assert.equal(r.json.errorCode, "FunctionNotFound", `${p}: ${r.text}`);
        }
        // the helper itself is bundled (messages.ts imports it), only not registered
        assert.ok((await s.value("query", "messages:list", {})).every((m) => m.includes(": ")));
    });

    test("crons.ts and http.ts load (the cron jobs scheduled, the routes served) and keep their functions", async () => {
        assert.match(s.stderr, /\[cron\] "clear messages" \(messages:clear\): scheduled, next run /);
        assert.match(s.stderr, /\[cron\] "nightly" \(crons:tick\): scheduled, next run \d{4}-\d\d-\d\dT03:30:00Z/);
        const http = s.stderr.match(/http\.ts: 2 HTTP routes served \(GET \/hello, POST \/files\/\*\)/g);
        assert.equal(http && http.length, 1, s.stderr);
        assert.deepEqual(await s.value("query", "http:routes", {}), ["GET /hello", "POST /files/*"]);
        const r = await s.admin("crons:tick", {});
        assert.equal(r.json.value, "ticked", r.text);
    });
});

describe("where the functions folder is", () => {
    test("convex.json's `functions` wins over convex/ and vireo/", async () => {
        const dir = convexApp();
        fs.mkdirSync(path.join(dir, "src"));
        fs.renameSync(path.join(dir, "convex"), path.join(dir, "src/backend"));
        fs.mkdirSync(path.join(dir, "vireo"));
        fs.writeFileSync(path.join(dir, "vireo/decoy.ts"),
            'import { queryGeneric } from "convex/server";\nexport const x = queryGeneric({ handler: async () => 1 });\n');
        fs.writeFileSync(path.join(dir, "convex.json"), JSON.stringify({ functions: "./src/backend/" }));
        const s = await startServer(dir, { cmd: "serve" });
        try {
            assert.match(s.stderr, /loaded 15 functions from "src\/backend\/"/);
            assert.equal(await s.value("query", "admin/users:count", {}), 0);
            assert.equal((await s.query("decoy:x", {})).json.errorCode, "FunctionNotFound");
        } finally {
            await s.stop();
        }
    });

    test("convex/ wins over vireo/ without convex.json; convex.json without `functions` changes nothing", async () => {
        const dir = convexApp();
        fs.writeFileSync(path.join(dir, "convex.json"), JSON.stringify({ node: { externalPackages: [] } }));
        fs.mkdirSync(path.join(dir, "vireo"));
        fs.writeFileSync(path.join(dir, "vireo/decoy.ts"), "export const x = 1;\n");
        const s = await startServer(dir, { cmd: "serve" });
        try {
            assert.match(s.stderr, /from "convex\/"/);
            const key = await runCli(["admin-key", dir]);
            assert.equal(key.code, 0, key.stderr);
        } finally {
            await s.stop();
        }
    });

    test("a bad convex.json or a missing folder is a precise error", async () => {
        const cases = [
            ['{"functions": "../elsewhere"}', /convex\.json: `functions` must be a folder inside the project .*got "\.\.\/elsewhere"/],
            ['{"functions": "/abs/convex"}', /must be a folder inside the project/],
            ['{"functions": 5}', /convex\.json: `functions` must be a string/],
            ['{"functions": "x",}', /convex\.json:1: /],
            ['[1]', /convex\.json: expected a JSON object/],
            ['{"functions": "nowhere/"}', /convex\.json names the functions folder nowhere\/, which is not a folder/],
        ];
        for (const [text, re] of cases) {
            const dir = tempDir();
            fs.mkdirSync(path.join(dir, "convex"));
            fs.writeFileSync(path.join(dir, "convex.json"), text);
            const s = spawnServer(dir, { cmd: "serve" });
            const { code } = await s.exited;
            assert.equal(code, 1, text);
            assert.match(s.stderr, re, text);
            const key = await runCli(["admin-key", dir]);
            assert.equal(key.code, 1);
            assert.match(key.stderr, re, text);
        }
        const empty = tempDir();
        const r = await runCli(["serve", empty, "--port", "0"]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /no vireo\/ folder in .*, nor a convex\/ folder or a convex\.json naming one/);
    });

    test("vireo init leaves a Convex project alone", async () => {
        const dir = convexApp();
        const r = await runCli(["init", dir]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /is a Convex project \(convex\/ or convex\.json\): `vireo dev` serves it as it is; nothing scaffolded/);
        assert.ok(!fs.existsSync(path.join(dir, "vireo")));
    });

    test("vireo dev watches the convex folder, nested files included", async () => {
        const dir = convexApp();
        const s = await startServer(dir, { cmd: "dev" });
        try {
            const from = s.stderr.length;
            fs.appendFileSync(path.join(dir, "convex/admin/users.ts"),
                '\nexport const added = query({ args: {}, handler: async () => "new" });\n');
            await s.waitStderr(/loaded 16 functions from "convex\/"/, { from, timeout: 15000 });
            assert.equal(await s.value("query", "admin/users:added", {}), "new");
            // a file that is not a module (a test) changes nothing that loads
            fs.writeFileSync(path.join(dir, "convex/admin/more.test.ts"), "import 'vitest';\n");
            const from2 = s.stderr.length;
            fs.writeFileSync(path.join(dir, "convex/admin/fresh.ts"),
                'import { query } from "../_generated/server";\nexport const f = query({ args: {}, handler: async () => 2 });\n');
            await waitFor(() => /loaded 17 functions/.test(s.stderr.slice(from2)), { timeout: 15000, what: "reload with fresh.ts" });
            assert.equal(await s.value("query", "admin/fresh:f", {}), 2);
        } finally {
            await s.stop();
        }
    });
});
