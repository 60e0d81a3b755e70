// The actor benchmarks' drivers (bench/actor-rpc.mjs, bench/actor-fanout.mjs and, when built,
// bench/loadgen's actor-rpc/actor-fanout) on small counts against a real vireo serving
// bench/actors-app: each finishes, checks what it measured (the counter's results in order, every
// subscriber's patch), writes its results JSON and its ROW line; against an app without the
// actors each reports an ERROR row instead of hanging or passing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO, startServer, tempDir, copyApp } from "./helpers.mjs";

const LOADGEN = path.join(REPO, "build/release/bench/loadgen");
let srv, bare, out;

before(async () => {
    const dir = tempDir();
    copyApp(path.join(REPO, "bench/actors-app"), dir);
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    srv = await startServer(dir, { cmd: "serve" });
    bare = await startServer(tempDir("basic"), { cmd: "serve" });
    out = tempDir();
});

after(async () => {
    await srv?.stop();
    await bare?.stop();
});

function run(cmd, args) {
    return new Promise((resolve) => {
        execFile(cmd, args, { cwd: REPO, timeout: 90000 }, (err, stdout, stderr) =>
            resolve({ code: err ? err.code : 0, stdout: String(stdout), stderr: String(stderr) }));
    });
}

const row = (stdout) => {
    const line = stdout.split("\n").filter((l) => l.startsWith("ROW\t")).pop();
    assert.ok(line, `a ROW line in:\n${stdout}`);
    return line.split("\t").slice(1);
};

test("actor-rpc.mjs: both phases, results checked, JSON and ROW", { timeout: 60000 }, async () => {
    const file = path.join(out, "rpc.json");
    const r = await run("node", ["bench/actor-rpc.mjs", "--port", String(srv.port), "--pid", String(srv.proc.pid),
        "--window", "16", "--duration", "0.5", "--rtt-calls", "50", "--out", file]);
    const [name, fig, target, verdict] = row(r.stdout);
    assert.equal(name, "actor-rpc");
    assert.match(verdict, /^(PASS|MISS)$/, r.stdout);
    assert.match(target, /150,000/);
    assert.match(fig, /calls\/s \(window 16/);
    const j = JSON.parse(fs.readFileSync(file, "utf8"));
    assert.equal(j.unloaded_calls, 50);
    assert.ok(j.calls > 0 && j.calls_per_s > 0 && j.rtt_p50_us > 0 && j.rtt_p99_us >= j.rtt_p50_us, JSON.stringify(j));
    assert.ok(j.server_cpu_cores >= 0, "the server's CPU was read from /proc");
});

test("actor-fanout.mjs: every subscriber gets every call's patch", { timeout: 60000 }, async () => {
    const file = path.join(out, "fan.json");
    const r = await run("node", ["bench/actor-fanout.mjs", "--port", String(srv.port), "--pid", String(srv.proc.pid),
        "--subs", "40", "--threads", "2", "--calls", "5", "--warmup", "1", "--pause-ms", "5", "--out", file]);
    const [name, fig, , verdict] = row(r.stdout);
    assert.equal(name, "actor-fanout");
    assert.equal(verdict, "INFO", r.stdout);
    assert.match(fig, /last delivery p50 .* \(40 subs, 5 calls\)/);
    const j = JSON.parse(fs.readFileSync(file, "utf8"));
    assert.equal(j.subscribers, 40);
    assert.equal(j.missed, 0);
    assert.ok(j.last_p99_ms >= j.last_p50_ms && j.last_p50_ms >= j.delivery_p50_ms && j.delivery_p50_ms > 0, JSON.stringify(j));
});

test("the loadgen's actor-rpc and actor-fanout (C)", { timeout: 60000, skip: !fs.existsSync(LOADGEN) && "build/release/bench/loadgen is not built" }, async () => {
    const a = await run(LOADGEN, ["actor-rpc", "--port", String(srv.port), "--depth", "8", "--duration", "0.5"]);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [, afig, , av] = row(a.stdout);
    assert.match(av, /^(PASS|MISS)$/);
    const calls = Number(/^(\d+) calls\/s/.exec(afig)?.[1]);
    assert.ok(calls > 0, afig);
    assert.match(a.stdout, /, 0 failed/);
    const f = await run(LOADGEN, ["actor-fanout", "--port", String(srv.port), "--conns", "30", "--writes", "20"]);
    assert.equal(f.code, 0, f.stdout + f.stderr);
    const [, ffig, , fv] = row(f.stdout);
    assert.equal(fv, "INFO", f.stdout);
    assert.match(ffig, /\(30 subs, 10 calls\)/);
    assert.match(f.stdout, /0 incomplete, 0 failed/);
});

test("against an app without the actors, each reports an ERROR row", { timeout: 60000 }, async () => {
    const r = await run("node", ["bench/actor-rpc.mjs", "--port", String(bare.port), "--rtt-calls", "5", "--duration", "0.2"]);
    const [, fig, , verdict] = row(r.stdout);
    assert.equal(verdict, "ERROR");
    assert.match(fig, /Unknown actor: counter/);
    const f = await run("node", ["bench/actor-fanout.mjs", "--port", String(bare.port), "--subs", "4", "--threads", "1", "--calls", "2"]);
    const [, ffig, , fv] = row(f.stdout);
    assert.equal(fv, "ERROR");
    assert.match(ffig, /UnknownActor|Unknown actor|snapshot/);
});
