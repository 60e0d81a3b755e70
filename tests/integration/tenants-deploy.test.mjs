// A new app version loading into the open tenants off the event loop (tenants_load: each open
// tenant's app is evaluated on an opener thread while it keeps serving its old version, then its
// schema is applied and the version swapped in on the loop), on apps/tenants-open. The deployed
// versions spin at load (SPIN ms, SLOW ms in tenants named "slow…") so that a deploy takes long
// enough to act during it: the tenants keep answering meanwhile (counted, not timed); a tenant
// opened meanwhile gets the new version too; one deploy at a time (409 DeployInProgress); a
// version that fails everywhere is not adopted, one that fails somewhere is; with no tenant open
// a version is tried in an empty in-memory tenant, and not adopted if it fails there; an environment
// change, a delete and a SIGTERM during a deploy; `vireo dev --tenants` reloads. Without
// --tenants the single shard's deploy is built off the loop as well (deployer.c), and so is the
// reload after an environment change.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, request, runCli, sleep, waitFor, SANITIZER_RE } from "./helpers.mjs";

const ARGS = ["--tenants", "--tenant-open-threads", "2", "--action-threads", "1", "--verbose"];
const call = (s, t, kind, p, args = {}) => request(s.port, "POST", `/t/${t}/api/${kind}`, { path: p, args }, { timeout: 30000 });
const admin = (s) => ({ headers: { Authorization: `Bearer ${s.adminKey}` }, timeout: 60000 });
const deploy = (s, file) => request(s.port, "POST", "/api/admin/deploy", fs.readFileSync(file), admin(s));

async function stopClean(s) {
    await s.stop();
    assert.doesNotMatch(s.stderr, SANITIZER_RE);
}

/* A bundle file of apps/tenants-open plus convex/v2.ts (vireo build), whose load spins `spin` ms
 * (`slow` ms in a tenant named "slow…") and throws in a tenant whose name matches `throwIn`, or
 * with throwAlways on any server (`vireo build`'s own check of the bundle runs without a URL). */
async function bundle({ spin = 0, slow = spin, throwIn = null, throwAlways = false, throwOnEnv = false } = {}) {
    const dir = tempDir("tenants-open");
    fs.writeFileSync(path.join(dir, "convex/v2.ts"), `import { query } from "./_generated/server";
const site = process.env.CONVEX_SITE_URL ?? "";
${throwIn ? `if (/\\/t\\/${throwIn}$/.test(site)) throw new Error("v2 does not load here");` : ""}
${throwAlways ? 'if (site.startsWith("http://127.0.0.1:")) throw new Error("v2 does not load here");' : ""}
${throwOnEnv ? 'if (process.env.FOO === "boom") throw new Error("v2 does not load with FOO=boom");' : ""}
const until = Date.now() + (/\\/t\\/slow[^/]*$/.test(site) ? ${slow} : ${spin});
while (Date.now() < until) {}
export const two = query({ args: {}, handler: () => 2 });
export const env = query({ args: {}, handler: () => process.env.FOO ?? null });
`);
    const file = path.join(tempDir(), "v2.js");
    const r = await runCli(["build", dir, "--out", file], { timeout: 60000 });
    assert.equal(r.code, 0, r.stderr);
    return file;
}

/* Deploys file into s and, 200 ms into its build, sets FOO=bar under `prefix` ("" or
 * "/t/<tenant>"): the deploy still succeeds. Returns where its log starts. */
async function deployWithEnvChange(s, file, prefix) {
    const from = s.stderr.length;
    const pending = deploy(s, file);
    await s.waitStderr(/loading a bundle of \d+ bytes/, { timeout: 10000, from });
    await sleep(200);
    const set = await request(s.port, "POST", `${prefix}/api/admin/env/set`, { name: "FOO", value: "bar" }, admin(s));
    assert.equal(set.status, 200, set.text);
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    return from;
}

/* SIGTERM 300 ms into the build of `file`'s deploy: the deploy is answered 503
 * ServerShuttingDown, or 200 when `mayLand` (a build that ends within the shutdown's grace
 * period lands), or its connection closes; the server exits 0. */
async function sigtermDuringDeploy(s, file, mayLand) {
    const from = s.stderr.length;
    const pending = deploy(s, file).catch((e) => ({ error: e }));
    await s.waitStderr(/loading a bundle of \d+ bytes/, { timeout: 20000, from });
    await sleep(300);
    s.proc.kill("SIGTERM");
    const a = await pending;
    if (!a.error && !(mayLand && a.status === 200)) {
        assert.equal(a.status, 503, a.text);
        assert.equal(a.json.errorCode, "ServerShuttingDown");
    }
    const { code } = await s.exited;
    assert.equal(code, 0, s.stderr.slice(from));
}

/* SIGTERM 200 ms into the reload that setting FOO=later through `set` starts (`waitFor`: its
 * log line): the answer says the change is stored (or the connection closes); exit 0. */
async function sigtermDuringEnvReload(s, set, waitFor) {
    const from = s.stderr.length;
    const last = set({ name: "FOO", value: "later" }).catch((e) => ({ error: e }));
    await s.waitStderr(waitFor, { timeout: 10000, from });
    await sleep(200);
    s.proc.kill("SIGTERM");
    const a = await last;
    if (!a.error && a.json?.reloadError !== undefined)
        assert.match(a.json.reloadError, /the server is shutting down: the change is stored/);
    const { code } = await s.exited;
    assert.equal(code, 0, s.stderr.slice(from));
}

/* Calls notes:ping through q back to back until stop(), which resolves to how many answered
 * (each of them true). */
function probe(q) {
    let on = true, answers = 0;
    const running = (async () => {
        while (on) {
            const r = await q("notes:ping");
            assert.equal(r.json?.value, true, r.text);
            answers++;
        }
    })();
    return { stop: async () => { on = false; await running; return answers; } };
}

async function openAll(s, names) {
    for (const n of names) assert.equal((await call(s, n, "query", "notes:ping")).json?.value, true, n);
}

/* A server with tenants "a" and "slow" open, deploying a version that loads in 50 ms in "a" and
 * `slow` ms in "slow": returned once "a" has it (pending: the deploy's answer; from: where its
 * log starts). */
async function deployingIntoSlow(slow) {
    const file = await bundle({ spin: 50, slow });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ARGS });
    await openAll(s, ["a", "slow"]);
    const from = s.stderr.length;
    const pending = deploy(s, file);
    await s.waitStderr(/"a": the new version built/, { timeout: 20000, from });
    return { s, file, from, pending };
}

test("a deploy builds the open tenants' new version off the loop: they keep answering meanwhile", { timeout: 120000 }, async () => {
    const SPIN = 400;
    const file = await bundle({ spin: SPIN });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ARGS });
    try {
        const names = ["a", "b", "c", "d", "e", "f"];
        await openAll(s, names);
        const probing = probe((p) => call(s, "a", "query", p));
        const t0 = performance.now();
        const r = await deploy(s, file);
        const took = performance.now() - t0;
        const answers = await probing.stop();
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, { status: "success", tenants: 6, name: "convex/" });
        console.log(`# 6 tenants loaded the version in ${took.toFixed(0)} ms; ${answers} answers meanwhile`);
        // 6 loads of 400 ms on 2 threads; on the loop thread they would have answered nothing
        assert.ok(took >= 3 * SPIN - 100, `the deploy took ${took} ms`);
        assert.ok(answers >= 10, `only ${answers} answers during the ${took.toFixed(0)} ms deploy`);
        for (const n of names) assert.equal((await call(s, n, "query", "v2:two")).json?.value, 2, n);
        assert.equal((await call(s, "later", "query", "v2:two")).json?.value, 2, "a tenant opened later");
        // the saved version is the deployed file
        assert.equal(fs.readFileSync(path.join(s.dir, ".vireo/deployed.js"), "utf8"), fs.readFileSync(file, "utf8"));
    } finally {
        await stopClean(s);
    }
});

test("a tenant opened while a version loads gets it too; a second deploy meanwhile gets 409 DeployInProgress", { timeout: 120000 }, async () => {
    const { s, file, from, pending } = await deployingIntoSlow(2000);
    try {
        // "slow" still builds: "late" opens now, with the version in force until this one is adopted
        assert.equal((await call(s, "late", "query", "notes:ping")).json?.value, true);
        assert.equal((await call(s, "late", "query", "v2:two")).status, 404);
        const second = await deploy(s, file);
        assert.equal(second.status, 409, second.text);
        assert.equal(second.json.errorCode, "DeployInProgress");
        assert.match(second.json.errorMessage, /another version is still loading into the open tenants; retry once it is done/);
        const r = await pending;
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.tenants, 3, r.text); // a, slow, and late after them
        for (const n of ["a", "slow", "late"]) assert.equal((await call(s, n, "query", "v2:two")).json?.value, 2, n);
        const log = s.stderr.slice(from);
        assert.ok(log.indexOf('"late": the new version built') > log.indexOf('"slow": the new version built'), log);
    } finally {
        await stopClean(s);
    }
});

test("a version that fails in every open tenant is not adopted; one that fails in some is", { timeout: 120000 }, async () => {
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ARGS });
    try {
        await openAll(s, ["a", "b", "bad"]);
        const everywhere = await bundle({ throwIn: "[a-z]+" });
        let r = await deploy(s, everywhere);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.errorCode, "DeployFailed");
        assert.match(r.json.errorMessage, /^tenant "(a|b|bad)": .*v2 does not load here/);
        assert.doesNotMatch(r.json.errorMessage, /kept their old version/);
        for (const n of ["a", "b", "bad", "new-1"]) {
            assert.equal((await call(s, n, "query", "notes:ping")).json?.value, true, n);
            assert.equal((await call(s, n, "query", "v2:two")).status, 404, `${n} runs the old version`);
        }
        const somewhere = await bundle({ throwIn: "bad.*" });
        r = await deploy(s, somewhere);
        assert.equal(r.status, 400, r.text);
        assert.match(r.json.errorMessage, /^tenant "bad": .*v2 does not load here.*\(1 of 4 open tenants kept their old version\)/);
        for (const n of ["a", "b", "new-1", "new-2"]) assert.equal((await call(s, n, "query", "v2:two")).json?.value, 2, n);
        assert.equal((await call(s, "bad", "query", "v2:two")).status, 404);
        assert.equal((await call(s, "bad", "query", "notes:ping")).json?.value, true);
        // a tenant opened after it with the adopted version that does not load there: every
        // request is told why, not that no app is loaded yet
        r = await call(s, "bad-2", "query", "notes:ping");
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.errorCode, "NoAppLoaded");
        assert.match(r.json.errorMessage, /^tenant "bad-2": the app does not load: .*v2 does not load here/);
    } finally {
        await stopClean(s);
    }
});

test("with no tenant open, a version is tried in an empty tenant: one that does not load is not adopted", { timeout: 120000 }, async () => {
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: [...ARGS, "--tenant-idle-ms", "400"] });
    const noneOpen = () => waitFor(async () => (await request(s.port, "GET", "/api/health")).json.tenants.open === 0,
        { timeout: 20000, what: "every tenant idle-closed" });
    try {
        await openAll(s, ["a"]);
        await noneOpen();
        let r = await deploy(s, await bundle({ throwAlways: true }));
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.errorCode, "DeployFailed");
        assert.match(r.json.errorMessage, /^the version does not load \(tried in an empty tenant, none being open\): .*v2 does not load here/);
        // not adopted: tenants open with the version before it
        for (const n of ["a", "new-1"]) {
            assert.equal((await call(s, n, "query", "notes:ping")).json?.value, true, n);
            assert.equal((await call(s, n, "query", "v2:two")).status, 404, `${n} runs the old version`);
        }
        await noneOpen();
        // a good one is tried the same way and adopted
        const from = s.stderr.length;
        r = await deploy(s, await bundle());
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.tenants, 0);
        assert.match(s.stderr.slice(from), /loads \(tried in an empty tenant in [\d.]+ ms\)/);
        for (const n of ["a", "new-2"]) assert.equal((await call(s, n, "query", "v2:two")).json?.value, 2, n);
    } finally {
        await stopClean(s);
    }
});

test("an environment change on a tenant while its new version builds: it ends with both", { timeout: 120000 }, async () => {
    const file = await bundle({ slow: 1500 });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ARGS });
    try {
        await openAll(s, ["slow"]);
        const from = await deployWithEnvChange(s, file, "/t/slow");
        assert.equal((await call(s, "slow", "query", "v2:env")).json?.value, "bar");
        // its first build was begun before the change: built again
        const log = s.stderr.slice(from);
        assert.match(log, /"slow": another version was installed while this one was built: building it again/);
        assert.equal((log.match(/"slow": the new version built/g) || []).length, 1, log);
    } finally {
        await stopClean(s);
    }
});

test("an environment change in one tenant reloads its app off the loop: the others keep answering; a deploy meanwhile gets 409", { timeout: 120000 }, async () => {
    const file = await bundle({ slow: 1500, throwOnEnv: true });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ARGS });
    const env = (t, op, body) => request(s.port, "POST", `/t/${t}/api/admin/env/${op}`, body, admin(s));
    try {
        await openAll(s, ["a", "slow"]);
        assert.equal((await deploy(s, file)).status, 200);
        const probing = probe((p) => call(s, "a", "query", p));
        let from = s.stderr.length;
        const t0 = performance.now();
        const pending = env("slow", "set", { name: "FOO", value: "bar" });
        await s.waitStderr(/"slow": reloading the app with the new environment \(built off the loop/, { timeout: 10000, from });
        const d = await deploy(s, file);
        assert.equal(d.status, 409, d.text);
        assert.deepEqual([d.json.errorCode, d.json.errorMessage], ["DeployInProgress", 'tenant "slow" is being reloaded after an environment change; retry once it is done']);
        const set = await pending;
        const took = performance.now() - t0;
        const answers = await probing.stop();
        assert.deepEqual(set.json, { status: "success", value: null });
        console.log(`# the tenant's reload took ${took.toFixed(0)} ms; ${answers} answers from another tenant meanwhile`);
        assert.ok(took >= 1400, `the reload took ${took} ms`);
        assert.ok(answers >= 10, `only ${answers} answers during the ${took.toFixed(0)} ms reload`);
        assert.match(s.stderr.slice(from), /"slow" serves with the new environment, built off the loop/);
        assert.equal((await call(s, "slow", "query", "v2:env")).json?.value, "bar");
        assert.equal((await call(s, "a", "query", "v2:env")).json?.value, null, "another tenant's environment is its own");
        // a version that does not load with the change: stored, the old one keeps serving
        const boom = await env("slow", "set", { name: "FOO", value: "boom" });
        assert.equal(boom.status, 200, boom.text);
        assert.match(boom.json.reloadError, /tenant "slow": .*v2 does not load with FOO=boom/);
        assert.equal((await call(s, "slow", "query", "v2:env")).json?.value, "bar");
        // SIGTERM during one: the change is stored, the answer says so (or the connection closes)
        await sigtermDuringEnvReload(s, (b) => env("slow", "set", b), /"slow": reloading the app with the new environment/);
    } finally {
        await stopClean(s);
    }
});

test("a delete of a tenant that is loading a version waits for it (with force); SIGTERM during a deploy", { timeout: 120000 }, async () => {
    const { s, pending } = await deployingIntoSlow(1500);
    try {
        const del = (force) => request(s.port, "POST", "/api/admin/tenants/delete", { name: "slow", force }, admin(s));
        let d = await del(false);
        assert.equal(d.status, 409, d.text);
        assert.equal(d.json.errorCode, "TenantInUse");
        assert.match(d.json.errorMessage, /tenant "slow" is loading a new version; retry once it is done/);
        d = await del(true);
        assert.equal(d.status, 200, d.text);
        assert.deepEqual(d.json, { status: "success", name: "slow", deleted: true });
        const r = await pending;
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.tenants, 1, r.text);
        assert.equal((await call(s, "a", "query", "v2:two")).json?.value, 2);
        // SIGTERM while "slow2" builds: the deploy is answered 503 (or its connection closes), the server exits cleanly
        await openAll(s, ["slow2"]);
        await sigtermDuringDeploy(s, await bundle({ spin: 50, slow: 3000 }), false);
    } finally {
        await stopClean(s);
    }
});

test("vireo dev --tenants: a change while a version loads into the tenants loads after it", { timeout: 120000 }, async () => {
    const dir = tempDir("tenants-open");
    fs.writeFileSync(path.join(dir, ".env.local"), "SLOW_OPEN_MS=400\n");
    const s = await startServer(dir, { args: ARGS });
    try {
        await openAll(s, ["a", "b", "c"]);
        const from = s.stderr.length;
        fs.writeFileSync(path.join(dir, "convex/v2.ts"), 'import { query } from "./_generated/server";\nexport const two = query({ args: {}, handler: () => 2 });\n');
        await s.waitStderr(/change detected, reloading/, { timeout: 10000, from });
        await sleep(150);
        fs.writeFileSync(path.join(dir, "convex/v3.ts"), 'import { query } from "./_generated/server";\nexport const three = query({ args: {}, handler: () => 3 });\n');
        await s.waitStderr(/a version is still loading into the open tenants: this change loads after/, { timeout: 10000, from });
        for (const n of ["a", "b", "c"]) {
            await waitFor(async () => (await call(s, n, "query", "v3:three")).json?.value === 3, { timeout: 20000, what: `v3 in ${n}` });
            assert.equal((await call(s, n, "query", "v2:two")).json?.value, 2, n);
        }
        assert.doesNotMatch(s.stderr.slice(from), /error/);
    } finally {
        await stopClean(s);
    }
});

// ---- without --tenants: the single shard's deploy is built off the loop too (deployer.c) ----

test("without --tenants: a deploy builds off the loop: queries keep answering; a second one meanwhile gets 409", { timeout: 120000 }, async () => {
    const file = await bundle({ spin: 1500 });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ["--action-threads", "1", "--verbose"] });
    const q = (p) => request(s.port, "POST", "/api/query", { path: p, args: {} }, { timeout: 30000 });
    try {
        assert.equal((await q("notes:ping")).json?.value, true);
        const probing = probe(q);
        const t0 = performance.now();
        const pending = deploy(s, file);
        await s.waitStderr(/loading a bundle of \d+ bytes for "convex\/" \(built off the loop/, { timeout: 10000 });
        const second = await deploy(s, file);
        assert.equal(second.status, 409, second.text);
        assert.deepEqual([second.json.errorCode, second.json.errorMessage], ["DeployInProgress", "another deploy is still loading; retry once it is done"]);
        const r = await pending;
        const took = performance.now() - t0;
        // the query readers load the new version now (1.5 s each): meanwhile the loop answers
        const a0 = performance.now();
        assert.equal((await q("v2:two")).json?.value, 2);
        const first = performance.now() - a0;
        assert.ok(first < 1000, `the first query after the deploy took ${first.toFixed(0)} ms: it waited for the readers`);
        const answers = await probing.stop();
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, "success");
        assert.equal(r.json.name, "convex/");
        assert.ok(r.json.functions >= 6, r.text);
        console.log(`# the deploy took ${took.toFixed(0)} ms; ${answers} answers meanwhile`);
        assert.ok(took >= 1400, `the deploy took ${took} ms`);
        assert.ok(answers >= 10, `only ${answers} answers during the ${took.toFixed(0)} ms deploy`);
        assert.equal((await q("v2:two")).json?.value, 2);
        assert.equal(fs.readFileSync(path.join(s.dir, ".vireo/deployed.js"), "utf8"), fs.readFileSync(file, "utf8"));
        // a version that throws at load: 400 DeployFailed, the running one stays
        const bad = await bundle({ throwAlways: true });
        const b = await deploy(s, bad);
        assert.equal(b.status, 400, b.text);
        assert.equal(b.json.errorCode, "DeployFailed");
        assert.match(b.json.errorMessage, /v2 does not load here/);
        assert.equal((await q("v2:two")).json?.value, 2);
    } finally {
        await stopClean(s);
    }
});

test("without --tenants: an environment change during a deploy's build, then SIGTERM during one", { timeout: 120000 }, async () => {
    const file = await bundle({ spin: 1500 });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ["--action-threads", "1", "--verbose"] });
    try {
        const from = await deployWithEnvChange(s, file, "");
        const env = await request(s.port, "POST", "/api/query", { path: "v2:env", args: {} });
        assert.equal(env.json?.value, "bar", env.text);
        assert.match(s.stderr.slice(from), /another version was installed while this one was built: building it again/);
        // the build may finish within the shutdown's grace period: then the deploy lands (200)
        await sigtermDuringDeploy(s, await bundle({ spin: 3000 }), true);
    } finally {
        await stopClean(s);
    }
});

test("without --tenants: an environment change reloads the app off the loop and answers once it serves", { timeout: 120000 }, async () => {
    const file = await bundle({ spin: 1500, throwOnEnv: true });
    const s = await startServer(tempDir("tenants-open"), { cmd: "serve", args: ["--action-threads", "1", "--verbose"] });
    const q = (p) => request(s.port, "POST", "/api/query", { path: p, args: {} }, { timeout: 30000 });
    const env = (op, body) => request(s.port, "POST", `/api/admin/env/${op}`, body, admin(s));
    try {
        assert.equal((await deploy(s, file)).status, 200);
        assert.equal((await q("v2:env")).json?.value, null);
        const probing = probe(q);
        let from = s.stderr.length;
        const t0 = performance.now();
        const pending = env("set", { name: "FOO", value: "bar" });
        await s.waitStderr(/reloading the app with the new environment \(built off the loop/, { timeout: 10000, from });
        // one version at a time: a deploy meanwhile is refused, and says why
        const d = await deploy(s, file);
        assert.equal(d.status, 409, d.text);
        assert.deepEqual([d.json.errorCode, d.json.errorMessage], ["DeployInProgress", "the app is being reloaded after an environment change; retry once it is done"]);
        const set = await pending;
        const took = performance.now() - t0;
        const answers = await probing.stop();
        assert.equal(set.status, 200, set.text);
        assert.deepEqual(set.json, { status: "success", value: null });
        // answered once the new version serves: the next call sees the new value
        assert.equal((await q("v2:env")).json?.value, "bar");
        console.log(`# the reload took ${took.toFixed(0)} ms; ${answers} answers meanwhile`);
        assert.ok(took >= 1400, `the reload took ${took} ms`);
        assert.ok(answers >= 10, `only ${answers} answers during the ${took.toFixed(0)} ms reload`);
        assert.match(s.stderr.slice(from), /"convex\/" serves with the new environment, built in \d+\.\d ms off the loop/);

        // a second change while the first one's reload builds: it reloads on the loop, and the
        // first one's build, begun before it, is built again: both end with both variables
        from = s.stderr.length;
        const first = env("set", { name: "FOO", value: "baz" });
        await s.waitStderr(/reloading the app with the new environment/, { timeout: 10000, from });
        const second = await env("set", { name: "OTHER", value: "x" });
        assert.equal(second.status, 200, second.text);
        assert.equal((await first).status, 200);
        assert.match(s.stderr.slice(from), /another version was installed while this one was built: building it again/);
        assert.equal((await q("v2:env")).json?.value, "baz");
        const list = await env("list", {});
        assert.deepEqual(list.json.value, { FOO: "baz", OTHER: "x" });

        // a version that does not load with the change: stored, the old version keeps serving
        const boom = await env("set", { name: "FOO", value: "boom" });
        assert.equal(boom.status, 200, boom.text);
        assert.match(boom.json.reloadError, /v2 does not load with FOO=boom/);
        assert.equal((await q("v2:env")).json?.value, "baz");
        assert.equal((await env("get", { name: "FOO" })).json.value, "boom");
        // removing it reloads again (a remove of a name not set does not)
        const rm = await env("remove", { name: "FOO" });
        assert.deepEqual(rm.json, { status: "success", value: true });
        assert.equal((await q("v2:env")).json?.value, null);
        from = s.stderr.length;
        const none = await env("remove", { name: "NOT_SET" });
        assert.deepEqual(none.json, { status: "success", value: false });
        assert.doesNotMatch(s.stderr.slice(from), /reloading the app/);

        // SIGTERM during a reload: the change is stored and the answer says the next start has it
        await sigtermDuringEnvReload(s, (b) => env("set", b), /reloading the app with the new environment/);
    } finally {
        await stopClean(s);
    }
    const again = await startServer(s.dir, { cmd: "serve", args: ["--bundle", path.join(s.dir, ".vireo/deployed.js")] });
    try {
        assert.equal((await request(again.port, "POST", "/api/query", { path: "v2:env", args: {} })).json?.value, "later");
    } finally {
        await stopClean(again);
    }
});
