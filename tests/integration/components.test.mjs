// Convex components on Vireo: convex/convex.config.ts's app.use(...) with real components from npm,
// unchanged (@convex-dev/sharded-counter twice, @convex-dev/rate-limiter, @convex-dev/workpool,
// @convex-dev/aggregate, @convex-dev/action-retrier, @convex-dev/presence,
// @convex-dev/geospatial, @convex-dev/migrations; several use @convex-dev/batch-worker
// themselves, in two versions), and a local one (convex/ledger) that has a child of its own.
// Each instance has its own tables, reached only through its functions; the app calls them with
// ctx.runQuery/runMutation/runAction(components.<name>.<module>.<fn>), through the real `convex`
// clients (ConvexHttpClient, ConvexClient).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ConvexHttpClient, ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { tempDir, startServer, assertAppLoaded, request, runCli, waitFor, unzip, REPO } from "./helpers.mjs";

let srv, dir;

function appCopy() {
    const d = tempDir("components");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(d, "node_modules"));
    fs.writeFileSync(path.join(d, ".env.local"), "LEDGER_GREETING=hello from the app\nAPP_ONLY=secret\n");
    return d;
}

before(async () => {
    dir = appCopy();
    srv = await startServer(dir);
    await assertAppLoaded(srv);
});

after(async () => {
    if (srv) await srv.stop();
});

test("vireo codegen writes a local component's _generated/ too, and fails on a convex.config that does not bundle", async () => {
    const d = appCopy();
    const r = await runCli(["codegen", d], { timeout: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wrote \S+\/convex\/_generated\nwrote the _generated folders of the app's local components\n$/);
    for (const f of ["api.js", "api.d.ts", "server.js", "server.d.ts", "dataModel.d.ts"])
        assert.ok(fs.existsSync(path.join(d, "convex/ledger/_generated", f)), f);
    assert.match(fs.readFileSync(path.join(d, "convex/ledger/_generated/api.js"), "utf8"), /export const components/);
    // an npm package's folder is not written into
    assert.ok(!fs.existsSync(path.join(REPO, "node_modules/@convex-dev/sharded-counter/dist/component/_generated/vireo.d.ts")));
    fs.writeFileSync(path.join(d, "convex/convex.config.ts"), 'import x from "./nowhere";\nexport default x;\n');
    const bad = await runCli(["codegen", d], { timeout: 60000 });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^vireo codegen: [^]*Could not resolve "\.\/nowhere"/);
});

const client = () => new ConvexHttpClient(srv.url, { logger: false });
const q = (name, args = {}) => client().query(name, args);
const m = (name, args = {}) => client().mutation(name, args);
const fails = async (p, re) => {
    await assert.rejects(p, (e) => {
        assert.match(e.message, re);
        return true;
    });
};

test("@convex-dev/sharded-counter from npm: its client counts through its own tables, an instance per name", async () => {
    await m(api.app.countAdd, { name: "likes", n: 3 });
    await m(api.app.countAdd, { name: "likes", n: 4 });
    await m(api.app.countAdd, { name: "other", n: 1 });
    assert.equal(await q(api.app.count, { name: "likes" }), 7);
    // the second instance ("visits") is another set of tables
    await m(api.app.visit, { page: "likes" });
    assert.equal(await q(api.app.visitCount, { page: "likes" }), 1);
    assert.equal(await q(api.app.count, { name: "likes" }), 7);
});

test("@convex-dev/rate-limiter (and its own batch-worker component) limits as it does on Convex", async () => {
    const a = await m(api.app.send, { user: "ann" });
    const b = await m(api.app.send, { user: "ann" });
    const c = await m(api.app.send, { user: "ann" });
    assert.deepEqual([a.ok, b.ok, c.ok], [true, true, false]);
    assert.ok(c.retryAfter > 0 && c.retryAfter <= 60000, `retryAfter ${c.retryAfter}`);
    assert.equal((await m(api.app.send, { user: "bob" })).ok, true);
});

test("@convex-dev/workpool runs an enqueued mutation through its own scheduler loop (and its batch-worker)", async () => {
    const id = await m(api.app.enqueue, { text: "from the workpool" });
    await waitFor(async () => (await q(api.app.notes)).includes("from the workpool"), { what: "the workpool's job" });
    await waitFor(async () => (await q(api.app.jobStatus, { id })).state === "finished", { what: "its status" });
});

test("@convex-dev/aggregate keeps a count, a sum and a max in its own B-tree tables", async () => {
    for (const score of [5, 9, 2]) await m(api.app.addScore, { score });
    assert.deepEqual(await q(api.app.scoreStats), { count: 3, sum: 16, top: 9 });
});

test("@convex-dev/action-retrier runs an action to its end", async () => {
    const id = await client().action(api.app.retried, {});
    await waitFor(async () => (await q(api.app.retryStatus, { id })).type === "completed", { what: "the run" });
    assert.deepEqual((await q(api.app.retryStatus, { id })).result, { type: "success", returnValue: "fetched" });
});

test("@convex-dev/presence (batch-worker 0.2, which calls Convex.asyncSyscall itself) lists who is online", async () => {
    const a = await m(api.app.heartbeat, { room: "lobby", user: "ann" });
    await m(api.app.heartbeat, { room: "lobby", user: "bob" });
    await waitFor(async () => (await q(api.app.online, { token: a.roomToken })).length === 2, { what: "both online" });
    assert.deepEqual((await q(api.app.online, { token: a.roomToken })).sort(), ["ann", "bob"]);
    assert.doesNotMatch(srv.stderr, /Can't find variable: Convex|presence.*failed/);
});

test("@convex-dev/geospatial: its WebAssembly S2 library loads; points are found in a rectangle", async () => {
    await m(api.app.place, { key: "in", lat: 1, lng: 2 });
    await m(api.app.place, { key: "out", lat: 50, lng: 2 });
    await m(api.app.place, { key: "in2", lat: -3, lng: -4 });
    assert.deepEqual(await q(api.app.near), ["in", "in2"]);
});

test("@convex-dev/migrations runs a migration over the app's table to its end", async () => {
    const before = await q(api.app.allScores);
    const r = await m(api.app.runDouble);
    assert.equal(r.state, "success", JSON.stringify(r));
    assert.deepEqual(await q(api.app.allScores), before.map((x) => x * 2).sort((a, b) => a - b));
});

test("a component's process.env holds what its parent passed, none of the app's own", async () => {
    const r = await q(api.app.ledgerCall, { fn: "env", args: {} });
    assert.deepEqual(r, { env: { GREETING: "hello from the app", MODE: "test" }, cloud: null });
});

test("a local component with a child: its mutation writes its tables and calls its child", async () => {
    const id = await m(api.app.ledgerAdd, { owner: "o1", amount: 5 });
    await m(api.app.ledgerAdd, { owner: "o1", amount: 7 });
    assert.deepEqual(await q(api.app.ledgerList, { owner: "o1" }), [5, 7]);
    assert.equal(await q(api.app.ledgerTotal, { owner: "o1" }), 12); // ledger/shardedCounter
    assert.deepEqual(await q(api.app.ledgerGet, { id }), { owner: "o1", amount: 5 });
    // the ledger's `notes` and the app's `notes` are two tables
    await m(api.app.addNote, { text: "app's" });
    assert.ok((await q(api.app.notes)).includes("app's"));
    const notes = await q(api.app.ledgerNotes);
    assert.ok(notes.includes("added 5 for o1") && !notes.includes("app's"), JSON.stringify(notes));
    // the app's sharded counter is not the ledger's
    assert.equal(await q(api.app.count, { name: "o1" }), 0);
});

test("a component's tables are its own: neither the app nor another component reaches them", async () => {
    const id = await m(api.app.ledgerAdd, { owner: "o2", amount: 1 });
    await fails(q(api.app.readTable, { table: "ledger/entries" }), /`ledger\/entries` is not a table name/);
    await fails(client().action(api.app.vectorProbe, { table: "ledger/entries" }),
                /vectorSearch: `ledger\/entries` is not a table name/);
    await fails(q(api.app.ledgerCall, { fn: "badTable", args: { table: "shardedCounter/counters" } }),
                /is not a table name/);
    // the ledger's `notes` query reads its own table, never the app's
    const own = await q(api.app.ledgerCall, { fn: "badTable", args: { table: "notes" } });
    assert.ok(own.every((n) => n.text !== "app's"));
    // an id of the app's tables is nothing to the component, and the app cannot write its ids
    const noteId = await m(api.app.addNote, { text: "mine" });
    assert.equal(await q(api.app.ledgerCall, { fn: "getAny", args: { id: noteId } }), "null");
    await fails(m(api.app.patchAny, { id }), /db\.patch\(\): `[0-9a-z]+` is not a document of the app's tables/);
    // nor does the app read a component's document by its id
    assert.equal(await q(api.app.getAny, { id }), "null");
    // the component writes the app's documents no more than the app writes its
    await fails(m(api.app.ledgerPatch, { id: noteId }), /db\.patch\(\): `[0-9a-z]+` is not a document of component `ledger`'s tables/);
    assert.ok((await q(api.app.notes)).includes("mine"));
    assert.deepEqual(await q(api.app.ledgerList, { owner: "o2" }), [1]);
    // v.id("entries") in a component's validator is an id of its own `entries`
    await fails(q(api.app.ledgerGet, { id: noteId }), /Found ID "\w+" from table `notes`, which does not match the table name in validator `v\.id\("ledger\/entries"\)`/);
});

test("visibility: a component's internal functions are its own; clients call none of them", async () => {
    await fails(q(api.app.callSecret), /`entries\.secret` is an internal function of component `ledger`/);
    // its own functions reach them, by api.<module>.<fn> and by "module:fn"
    assert.deepEqual(await q(api.app.ledgerCall, { fn: "viaApi", args: {} }), ["secret", "secret"]);
    // no client calls a component's function, public or not, by its path
    for (const p of ["_components/ledger/entries:list", "_components/ledger/entries:secret"]) {
        const r = await request(srv.port, "POST", "/api/query", { path: p, args: { owner: "o1" }, format: "json" });
        assert.equal(r.json.status, "error", r.text);
        assert.match(r.json.errorMessage, /Could not find public function/);
    }
    await fails(q(api.app.ledgerCall, { fn: "nope", args: {} }), /function `_components\/ledger\/entries:nope` not found/);
});

test("an admin calls a component's functions, internal ones too: ConvexHttpClient.function with componentPath, vireo run --component", async () => {
    const admin = new ConvexHttpClient(srv.url, { logger: false });
    admin.setAdminAuth(srv.adminKey);
    const id = await admin.function("entries:add", "ledger", { owner: "adm", amount: 5 });
    assert.equal(await admin.function("entries:total", "ledger", { owner: "adm" }), 5);
    assert.equal(await q(api.app.ledgerTotal, { owner: "adm" }), 5); // the app sees the write
    assert.equal(await admin.function("entries:secret", "ledger", {}), "secret");
    assert.equal(await admin.function("public:count", "ledger/shardedCounter", { name: "adm" }), 5);
    assert.deepEqual(await admin.function("entries:get", "ledger", { id }), { owner: "adm", amount: 5 });
    // a path that is no component's, a function it does not have
    await fails(admin.function("entries:secret", "ledger/../x", {}), /BadJsonBody.*componentPath\W+ must be a component's path/);
    await fails(admin.function("entries:nope", "ledger", {}), /Could not find public function for '_components\/ledger\/entries:nope'/);
    // a wrong key is refused before the path is looked at; no key: a client's answer
    const wrong = new ConvexHttpClient(srv.url, { logger: false });
    wrong.setAdminAuth("nope");
    await fails(wrong.function("entries:secret", "ledger", {}), /BadAdminKey/);
    await fails(client().function("entries:secret", "ledger", {}), /only an admin key \(Authorization: Convex <key>\) names one with \W+componentPath/);
    // the CLI
    const r = await runCli(["run", "--component", "ledger", "entries:total", '{"owner":"adm"}', "--url", srv.url], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "5\n");
    const who = await runCli(["run", "app:whoami", "--identity", '{"subject":"u9","issuer":"https://idp.test"}', "--url", srv.url], { cwd: dir });
    assert.equal(who.code, 0, who.stderr);
    assert.deepEqual(JSON.parse(who.stdout), { issuer: "https://idp.test", subject: "u9", tokenIdentifier: "https://idp.test|u9" });
    const bad = await runCli(["run", "--component", "a//b", "entries:total", "--url", srv.url], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /failed \(BadJsonBody\): "componentPath" must be a component's path/);
    const badId = await runCli(["run", "app:whoami", "--identity", "[1]", "--url", srv.url], { cwd: dir });
    assert.equal(badId.code, 2);
    assert.equal(badId.stderr, "vireo run: --identity must be a JSON object\n");
});

test("a component mutation that throws rolls back its own writes only; the caller goes on", async () => {
    const msg = await m(api.app.ledgerFailCaught, { owner: "o3" });
    assert.equal(msg, "ledger refuses");
    assert.deepEqual(await q(api.app.ledgerList, { owner: "o3" }), []);
    assert.ok((await q(api.app.notes)).includes("after ledger refuses"));
});

test("inside a component: no identity, ctx.meta names the function and its component", async () => {
    const r = await q(api.app.ledgerCall, { fn: "whoAmI", args: {} });
    assert.deepEqual(r, { identity: null,
                          meta: { name: "entries:whoAmI", componentPath: "ledger", type: "query", visibility: "public" } });
});

test("an action calls a component's action, which runs the component's query and mutation", async () => {
    await m(api.app.ledgerAdd, { owner: "o4", amount: 2 });
    assert.equal(await client().action(api.app.ledgerSum, { owner: "o4" }), 2);
    assert.deepEqual(await q(api.app.ledgerList, { owner: "o4" }), [2, 1]);
});

test("a component's scheduler runs its own function; its function handles name its functions", async () => {
    await m(api.app.ledgerSchedule, { text: "scheduled in ledger" });
    await waitFor(async () => (await q(api.app.ledgerNotes)).includes("scheduled in ledger"), { what: "the scheduled note" });
    assert.ok(!(await q(api.app.notes)).includes("scheduled in ledger"));
    const h = await q(api.app.ledgerCall, { fn: "handleOf", args: {} });
    assert.equal(h, "function://_components/ledger/entries:secret");
    assert.equal(await q(api.app.callHandle, { handle: h }), "secret");
    assert.equal(await q(api.app.ownHandle), "function://app:notes");
    // the app schedules a component's public function by its reference
    await m(api.app.scheduleLedger, { owner: "scheduled", amount: 3 });
    await waitFor(async () => (await q(api.app.ledgerList, { owner: "scheduled" })).length === 1, { what: "the scheduled add" });
});

test("each component has its own _scheduled_functions: it lists, reads and cancels its own jobs, named as it names them", async () => {
    const lj = await m(api.app.ledgerMutate, { fn: "holdJob", args: { text: "held in ledger" } });
    const aj = await m(api.app.appHoldJob, {});
    const ledgerJobs = await q(api.app.ledgerCall, { fn: "jobs", args: {} });
    assert.ok(ledgerJobs.some((j) => j.name === "entries:writeNote" && j.kind === "pending"), JSON.stringify(ledgerJobs));
    assert.ok(ledgerJobs.every((j) => j.name === "entries:writeNote"), JSON.stringify(ledgerJobs));
    const appJobs = await q(api.app.appJobs);
    assert.ok(appJobs.some((j) => j.name === "app:addNote" && j.kind === "pending"), JSON.stringify(appJobs));
    assert.ok(!appJobs.some((j) => j.name === "entries:writeNote"), JSON.stringify(appJobs));
    // each reads its own job; the other's is none of its own
    assert.deepEqual(await q(api.app.ledgerCall, { fn: "job", args: { id: lj } }),
                     { name: "entries:writeNote", kind: "pending", normalized: true });
    assert.equal(await q(api.app.ledgerCall, { fn: "job", args: { id: aj } }), null);
    assert.equal(await q(api.app.appJob, { id: lj }), null);
    assert.deepEqual(await q(api.app.appJob, { id: aj }), { name: "app:addNote", kind: "pending" });
    // cancel: the other's id is refused and its job left pending; its own is canceled
    assert.match(await m(api.app.ledgerMutate, { fn: "cancelJob", args: { id: aj } }), /is not the id of a scheduled function/);
    assert.match(await m(api.app.appCancel, { id: lj }), /is not the id of a scheduled function/);
    assert.equal((await q(api.app.appJob, { id: aj })).kind, "pending");
    assert.equal((await q(api.app.ledgerCall, { fn: "job", args: { id: lj } })).kind, "pending");
    assert.equal(await m(api.app.ledgerMutate, { fn: "cancelJob", args: { id: lj } }), "canceled");
    assert.equal((await q(api.app.ledgerCall, { fn: "job", args: { id: lj } })).kind, "canceled");
    assert.equal(await m(api.app.appCancel, { id: aj }), "canceled");
    // an action of the component schedules into its table too, and the job runs
    const fromAction = await client().action(api.app.ledgerAct, { fn: "scheduleFromAction", args: { text: "from a ledger action" } });
    await waitFor(async () => (await q(api.app.ledgerNotes)).includes("from a ledger action"), { what: "the action's scheduled note" });
    await waitFor(async () => (await q(api.app.ledgerCall, { fn: "job", args: { id: fromAction } }))?.kind === "success",
                  { what: "the action's job marked success" });
    const aj2 = await m(api.app.appHoldJob, {});
    await assert.rejects(client().action(api.app.ledgerAct, { fn: "cancelFromAction", args: { id: aj2 } }),
                         /is not the id of a scheduled function/);
    assert.equal((await q(api.app.appJob, { id: aj2 })).kind, "pending");
    assert.equal(await m(api.app.appCancel, { id: aj2 }), "canceled");
});

test("a component's crons.ts runs its own function, as the job `<component>/<id>`", async () => {
    await waitFor(async () => (await q(api.app.ledgerNotes)).includes("cron tick"), { timeout: 8000, what: "the cron's note" });
    assert.ok(!(await q(api.app.notes)).includes("cron tick"));
    assert.match(srv.stderr, /cron.*ledger\/tick|ledger\/tick/);
    // its runs are the component's own jobs
    assert.ok((await q(api.app.ledgerCall, { fn: "jobs", args: {} })).some((j) => j.kind === "success"));
    assert.ok(!(await q(api.app.appJobs)).some((j) => j.name.includes("writeNote")));
});

test("live queries: a subscription over a component's tables updates after a write through it", async () => {
    const c = new ConvexClient(srv.url, { logger: false });
    try {
        const seen = [];
        c.onUpdate(api.app.count, { name: "live" }, (v) => seen.push(v));
        await waitFor(() => seen.length >= 1, { what: "the first result" });
        assert.equal(seen[0], 0);
        await m(api.app.countAdd, { name: "live", n: 2 });
        await waitFor(() => seen.at(-1) === 2, { what: "the update" });
        // a write to another name's shard does not change the result (it may re-run, not differ)
        await m(api.app.countAdd, { name: "other-live", n: 5 });
        await m(api.app.countAdd, { name: "live", n: 1 });
        await waitFor(() => seen.at(-1) === 3, { what: "the second update" });
        assert.ok(!seen.includes(7) && !seen.includes(8), JSON.stringify(seen));
    } finally {
        await c.close();
    }
});

test("vireo data lists components' tables as component/table and prints one with --component", async () => {
    const list = await runCli(["data", "--url", srv.url], { cwd: dir });
    assert.equal(list.code, 0, list.stderr);
    for (const t of ["ledger/entries", "ledger/shardedCounter/counters", "rateLimiter/batchWorker/workers", "shardedCounter/counters", "visits/counters", "notes"])
        assert.ok(list.stdout.split("\n").includes(t), `${t} in ${list.stdout}`);
    const one = await runCli(["data", "entries", "--component", "ledger", "--format", "jsonLines", "--url", srv.url], { cwd: dir });
    assert.equal(one.code, 0, one.stderr);
    const owners = one.stdout.trim().split("\n").map((l) => JSON.parse(l).owner);
    assert.ok(owners.includes("o1"), one.stdout);
    const bad = await runCli(["data", "ledger/../x", "--url", srv.url], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a table name/);
});

test("vireo import --component: a .jsonl file into a component's table", async () => {
    const file = path.join(tempDir(), "entries.jsonl");
    fs.writeFileSync(file, '{"owner":"imported","amount":4}\n{"owner":"imported","amount":6}\n');
    const r = await runCli(["import", "--component", "ledger", "--table", "entries", "--append", file, "--url", srv.url], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ledger\/entries: 2 added/);
    assert.deepEqual(await q(api.app.ledgerList, { owner: "imported" }), [4, 6]);
    // its schema applies: a document that does not match is refused, nothing stored
    fs.writeFileSync(file, '{"owner":"bad","amount":"x"}\n');
    const bad = await runCli(["import", "--component", "ledger", "--table", "entries", "--append", file, "--url", srv.url], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.deepEqual(await q(api.app.ledgerList, { owner: "bad" }), []);
    const usage = await runCli(["import", "--component", "ledger", file, "--url", srv.url], { cwd: dir });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--component needs --table/);
});

test("export and import: components' tables in Convex's _components/ layout, restored into a fresh server", async () => {
    const zip = path.join(tempDir(), "snap.zip");
    const ex = await runCli(["export", "--path", zip, "--url", srv.url], { cwd: dir });
    assert.equal(ex.code, 0, ex.stderr);
    const list = Object.keys(unzip(fs.readFileSync(zip)));
    for (const name of ["_components/ledger/entries/documents.jsonl",
                        "_components/ledger/_components/shardedCounter/counters/documents.jsonl",
                        "_components/rateLimiter/_components/batchWorker/workers/documents.jsonl",
                        "notes/documents.jsonl"])
        assert.ok(list.includes(name), `${name} in ${list.join(" ")}`);
    const dir2 = appCopy();
    const srv2 = await startServer(dir2);
    try {
        await assertAppLoaded(srv2);
        // --replace: the ledger's cron writes a note every second, so on a slow machine its
        // `notes` table is no longer empty by the time the import arrives
        const im = await runCli(["import", zip, "--replace", "-y", "--url", srv2.url], { cwd: dir2 });
        assert.equal(im.code, 0, im.stderr);
        const c2 = new ConvexHttpClient(srv2.url, { logger: false });
        assert.deepEqual(await c2.query(api.app.ledgerList, { owner: "o1" }), [5, 7]);
        assert.equal(await c2.query(api.app.ledgerTotal, { owner: "o1" }), 12);
        assert.equal(await c2.query(api.app.count, { name: "likes" }), 7);
        assert.deepEqual(await c2.query(api.app.notes), await q(api.app.notes));
        // the notes' references to the ledger's entries were kept
        const notes = await c2.query(api.app.ledgerCall, { fn: "badTable", args: { table: "notes" } });
        const withEntry = notes.find((n) => n.entry);
        assert.ok(withEntry, JSON.stringify(notes));
        assert.notEqual(await c2.query(api.app.ledgerGet, { id: withEntry.entry }), null);
    } finally {
        await srv2.stop();
    }
});

test("convex.config mistakes are load errors that say what is wrong", async () => {
    const cases = [
        ["export default {};\n", /convex\.config: the default export must be defineApp\(\)'s app/],
        ['import { defineApp } from "convex/server";\nimport c from "@convex-dev/sharded-counter/convex.config";\n' +
         "const app = defineApp();\napp.use(c);\napp.use(c);\nexport default app;\n",
         /Component `shardedCounter` is already used here/],
        ['import { defineApp } from "convex/server";\nconst app = defineApp();\napp.use({});\nexport default app;\n',
         /use\(\): expected a component definition/],
        ['import { defineApp, defineComponent } from "convex/server";\nconst app = defineApp();\n' +
         'app.use(defineComponent("stray"));\nexport default app;\n',
         /component `stray`: its definition is not a convex\.config the bundle found/],
        ['import { defineApp } from "convex/server";\nimport c from "@convex-dev/sharded-counter/convex.config";\n' +
         'const app = defineApp();\napp.use(c, { name: "bad-name" });\nexport default app;\n',
         /Component name `bad-name` must start with a letter/],
        ['import { defineApp } from "convex/server";\nimport c from "@convex-dev/sharded-counter/convex.config";\n' +
         'const app = defineApp();\napp.use(c, { env: { X: "1" } });\nexport default app;\n',
         /Env var "X" is not declared on component "shardedCounter"/],
        ['import { defineApp } from "convex/server";\nimport c from "./ledger/convex.config";\n' +
         'const app = defineApp();\napp.use(c, { env: { GREETING: app.env.NOPE } });\nexport default app;\n',
         /Env var "NOPE" is not declared on this app/],
    ];
    // a component that uses itself: components nest at most 8 deep
    cases.push(['import { defineApp } from "convex/server";\nimport loop from "./loop/convex.config";\n' +
                "const app = defineApp();\napp.use(loop);\nexport default app;\n",
                /component `loop\/loop\/loop\/loop\/loop\/loop\/loop\/loop\/loop`: components nest at most 8 deep/]);
    for (const [text, re] of cases) {
        const d = appCopy();
        fs.mkdirSync(path.join(d, "convex/loop"));
        fs.writeFileSync(path.join(d, "convex/loop/convex.config.ts"),
                         'import { defineComponent } from "convex/server";\n' +
                         'const c = defineComponent("loop");\nc.use(c);\nexport default c;\n');
        fs.writeFileSync(path.join(d, "convex/convex.config.ts"), text);
        const r = await runCli(["build", d, "--out", path.join(d, "b.js")], { cwd: d, timeout: 30000 });
        assert.equal(r.code, 1, `${text}\n${r.stdout}${r.stderr}`);
        assert.match(r.stderr, re);
    }
});
