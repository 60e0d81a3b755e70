// Test and bench tooling (issue 7, item 19 and the fuzz mode): `make bench SCENARIO="a b"` runs
// every named scenario, DURABILITY is checked and passed on; tests/fuzz/run.sh honours
// FUZZ_SECONDS, fails the run when a target finds a crash, and leaves nothing in the temp folder.
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
