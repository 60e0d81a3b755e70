// Test and bench tooling (issue 7, item 19 and the fuzz mode): `make bench SCENARIO="a b"` runs
// every named scenario, DURABILITY is checked and passed on; tests/fuzz/run.sh honours
// FUZZ_SECONDS and FUZZ_JOBS, fails the run when a target finds a crash, and leaves nothing in the
// temp folder.
// Fake targets stand in for the real binaries, so nothing here builds or benchmarks.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO, tempDir } from "./helpers.mjs";

function run(cmd, args, env = {}) {
    return new Promise((resolve) => {
        execFile(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

const made = [];
after(() => {
    for (const f of made) fs.rmSync(f, { force: true, recursive: true });
});

test("bench/run.sh checks every named scenario, in one argument or several", async () => {
    const env = { VIREO: "/bin/false", LOADGEN: "/bin/false" };
    for (const args of [["fanout", "nonsense"], ["fanout nonsense"]]) {
        const r = await run("bench/run.sh", args, env);
        assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /unknown scenario "nonsense"/);
    }
});

test("bench/run.sh: DURABILITY must be full or relaxed, and is passed to the server", async () => {
    const bad = await run("bench/run.sh", ["http-query"], { VIREO: "/bin/false", LOADGEN: "/bin/false", DURABILITY: "fast" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /DURABILITY must be full or relaxed/);
    // a fake server that prints its arguments and exits: the run reports it did not start
    const dir = tempDir();
    const fake = path.join(dir, "fake-vireo");
    fs.writeFileSync(fake, '#!/bin/sh\necho "args: $*"\n', { mode: 0o755 });
    const r = await run("bench/run.sh", ["http-query"], { VIREO: fake, LOADGEN: "/bin/false", DURABILITY: "relaxed" });
    assert.match(r.stderr, /args: serve \S+ --port 0 --durability relaxed/);
    assert.match(r.stdout, /durability relaxed/);
});

function fakeTarget(name, script) {
    const dir = tempDir();
    const bin = path.join(dir, `fuzz_${name}`);
    fs.writeFileSync(bin, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    made.push(path.join(REPO, `build/fuzz/${name}.log`));
    return bin;
}

test("tests/fuzz/run.sh: FUZZ_SECONDS reaches the target; its temp folder is removed", async () => {
    const name = `ittest-ok-${process.pid}`;
    const bin = fakeTarget(name, 'for a in "$@"; do echo "arg $a"; done\necho "tmp $TMPDIR"\ntouch "$TMPDIR/vireo-fuzz-sync-x" "$TMPDIR/vireo-fuzz-sync-x-wal"\necho "cov: 7"');
    const r = await run("tests/fuzz/run.sh", [bin], { FUZZ_SECONDS: "3" });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`fuzz: ${name} ok \\(cov: 7, 3s\\)`));
    assert.match(r.stdout, /fuzz: 1 passed, 0 failed/);
    const log = fs.readFileSync(path.join(REPO, `build/fuzz/${name}.log`), "utf8");
    assert.match(log, /arg -max_total_time=3\n/);
    const tmp = /tmp (\S+)/.exec(log)[1];
    assert.notEqual(tmp, "", "the target gets a TMPDIR of its own");
    assert.equal(fs.existsSync(path.join(tmp, "vireo-fuzz-sync-x")), false, "the database files are removed");
    const bad = await run("tests/fuzz/run.sh", [bin], { FUZZ_SECONDS: "soon" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FUZZ_SECONDS must be a positive number/);
});

test("tests/fuzz/run.sh: a crash found by a target fails the run and keeps the input", async () => {
    const name = `ittest-crash-${process.pid}`;
    const artifact = path.join(REPO, `build/fuzz/${name}-crash-0123`);
    made.push(artifact);
    // libFuzzer's way: the input under -artifact_prefix, a report, a non-zero exit
    const bin = fakeTarget(name, 'for a in "$@"; do case "$a" in -artifact_prefix=*) p=${a#-artifact_prefix=};; esac; done\necho boom > "${p}crash-0123"\necho "==1==ERROR: AddressSanitizer: heap-use-after-free"\nexit 1');
    const r = await run("tests/fuzz/run.sh", [bin], { FUZZ_SECONDS: "1" });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, new RegExp(`fuzz: ${name} FAILED`));
    assert.match(r.stdout, /crash-0123/);
    assert.match(r.stdout, /fuzz: 0 passed, 1 failed/);
    assert.ok(fs.existsSync(artifact));
});

test("tests/fuzz/run.sh: FUZZ_JOBS targets run at once; reports come in the targets' order", async () => {
    // each fake target notes when it started and then sleeps 1.5 s: with FUZZ_JOBS=2 the first
    // two start together and the third only after one of them has finished
    const dir = tempDir();
    const names = ["a", "b", "c"].map((x) => `ittest-jobs-${x}-${process.pid}`);
    const bins = names.map((n, i) => fakeTarget(n, `date +%s%N > ${dir}/start-${i}\nsleep 1.5\n${i === 1 ? 'echo "==1==ERROR: AddressSanitizer"; exit 1' : 'echo "cov: 5"'}`));
    const r = await run("tests/fuzz/run.sh", bins, { FUZZ_SECONDS: "1", FUZZ_JOBS: "2" });
    assert.notEqual(r.code, 0, "one target failed");
    const at = [0, 1, 2].map((i) => Number(BigInt(fs.readFileSync(`${dir}/start-${i}`, "utf8").trim()) / 1000000n));
    assert.ok(Math.abs(at[1] - at[0]) < 1000, `the first two ran together: ${at}`);
    assert.ok(at[2] - Math.min(at[0], at[1]) >= 1400, `the third waited for a slot: ${at}`);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("fuzz: "));
    assert.deepEqual(lines, [
        `fuzz: ${names[0]} ok (cov: 5, 1s)`,
        `fuzz: ${names[1]} FAILED (exit 1; see build/fuzz/${names[1]}.log)`,
        `fuzz: ${names[2]} ok (cov: 5, 1s)`,
        "fuzz: 2 passed, 1 failed",
    ]);
    assert.match(r.stdout, /AddressSanitizer/, "a failed target's log tail is shown");
    const bad = await run("tests/fuzz/run.sh", [bins[0]], { FUZZ_SECONDS: "1", FUZZ_JOBS: "many" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FUZZ_JOBS must be a positive number/);
});
