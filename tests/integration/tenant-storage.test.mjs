// The per-tenant storage limit (issue 11 item 6, --max-tenant-storage-mb) on apps/tenant-storage:
// a tenant filled by mutations until StorageLimitExceeded (HTTP 507, and over the sync protocol),
// everything written before it intact, other tenants unaffected, the server serving; in one
// commit batch only the refused mutation fails; a patch that grows a document is refused and
// one that shrinks it passes; the real ConvexClient sees the error; deletes free space for new writes; stored files count (an upload
// past the limit gets 507 from its head or mid-stream and leaves no temporary file; an action's
// ctx.storage.store() throws); the limit holds after a restart; the single shard without
// --tenants; bad flag values.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startServer, tempDir, request, SyncConn, runCli } from "./helpers.mjs";

const ARGS = ["--tenants", "--max-tenant-storage-mb", "1", "--max-messages-per-second", "0", "--action-threads", "1"];
const LIMIT = 1 << 20;
let srv, dir;

before(async () => {
    dir = tempDir("tenant-storage");
    srv = await startServer(dir, { args: ARGS });
});
after(async () => {
    await srv?.stop?.();
});

const call = (tenant, kind, p, args) => request(srv.port, "POST", `/t/${tenant}/api/${kind}`, { path: p, args });

/* Adds documents of `size` bytes to `tag` until one is refused: the seqs that were stored, and
 * the refusal. */
async function fill(tenant, tag, size, max = 400) {
    const seqs = [];
    for (let i = 0; i < max; i++) {
        const r = await call(tenant, "mutation", "items:add", { tag, seq: i, size });
        if (r.json?.status !== "success") return { seqs, refused: r };
        seqs.push(i);
    }
    throw new Error(`${max} documents of ${size} bytes fit under the limit`);
}

function assertRefused(r, who) {
    assert.equal(r.status, 507, r.text);
    assert.equal(r.json.errorCode, "StorageLimitExceeded", r.text);
    const re = new RegExp(`^${who} is over its storage limit of 1 MiB \\(--max-tenant-storage-mb\\): \\d+ bytes are in use \\(\\d+ in documents and indexes, \\d+ in stored files\\) and this write needs about \\d+ more; delete data or raise the limit$`);
    assert.match(r.json.errorMessage, re);
}

async function list(tenant, tag) {
    const r = await call(tenant, "query", "items:list", { tag });
    assert.equal(r.json?.status, "success", r.text);
    return r.json.value;
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

test("a tenant filled by mutations gets 507 StorageLimitExceeded; what it wrote is intact, other tenants and the server go on", { timeout: 60000 }, async () => {
    const { seqs, refused } = await fill("full-a", "a", 4000);
    assertRefused(refused, 'tenant "full-a"');
    assert.ok(seqs.length > 100, `${seqs.length} documents of 4000 bytes in 1 MiB`);
    const l = await list("full-a", "a");
    assert.deepEqual(l.seqs, range(seqs.length));
    assert.ok(l.padsOk);
    assert.equal(l.bytes, seqs.length * 4000);
    // the tenant's metrics: in use at most the limit
    const tm = (await request(srv.port, "GET", "/t/full-a/api/metrics")).json;
    assert.equal(tm.storageLimitBytes, LIMIT);
    assert.ok(tm.storageDatabaseBytes <= LIMIT && tm.storageDatabaseBytes > LIMIT / 2, JSON.stringify(tm));
    assert.equal(tm.storageFileBytes, 0);
    // reads and another tenant's writes go on
    for (let i = 0; i < 20; i++) {
        const r = await call("full-b", "mutation", "items:add", { tag: "b", seq: i, size: 20000 });
        assert.equal(r.json?.status, "success", r.text);
    }
    assert.deepEqual((await list("full-b", "b")).seqs, range(20));
    assert.equal((await request(srv.port, "GET", "/api/health")).status, 200);
    // the refused tenant still refuses, also a mutation that catches the error and returns
    assertRefused(await call("full-a", "mutation", "items:add", { tag: "a", seq: 999, size: 4000 }), 'tenant "full-a"');
    const caught = await call("full-a", "mutation", "items:tryAdd", { tag: "a", seq: 999, size: 4000 });
    assert.equal(caught.json?.status, "success", caught.text);
    assert.equal(caught.json.value.ok, false);
    assert.equal(caught.json.value.code, "StorageLimitExceeded");
    assert.deepEqual((await list("full-a", "a")).seqs, range(seqs.length));
});

test("over the sync protocol: the refused mutation fails, the others of its commit batch commit, the session goes on", { timeout: 60000 }, async () => {
    const { seqs } = await fill("batch", "f", 4000);
    const c = await SyncConn.open(srv.port, { path: "/t/batch/api/sync" });
    try {
        await c.connect();
        const before = (await request(srv.port, "GET", "/t/batch/api/metrics")).json;
        // three mutations in one TCP write: one loop iteration, one commit batch
        const from = c.mark;
        c.ws._socket.cork();
        c.send({ type: "mutation", requestId: 1, path: "items:resize", args: { tag: "f", seq: 1, size: 10 } });
        c.send({ type: "mutation", requestId: 2, path: "items:add", args: { tag: "big", seq: 0, size: 300000 } });
        c.send({ type: "mutation", requestId: 3, path: "items:resize", args: { tag: "f", seq: 2, size: 10 } });
        c.ws._socket.uncork();
        const res = {};
        for (const id of [1, 2, 3]) res[id] = await c.waitMsg((m) => m.type === "mutationResponse" && m.requestId === id, { from });
        const afterM = (await request(srv.port, "GET", "/t/batch/api/metrics")).json;
        assert.equal(afterM.batches - before.batches, 1, "the three mutations shared one batch");
        assert.equal(afterM.batchFailures, before.batchFailures);
        assert.equal(res[1].success, true, JSON.stringify(res[1]));
        assert.equal(res[3].success, true, JSON.stringify(res[3]));
        assert.equal(res[2].success, false);
        assert.equal(res[2].errorCode, "StorageLimitExceeded", JSON.stringify(res[2]));
        assert.match(res[2].errorMessage ?? res[2].message ?? JSON.stringify(res[2]), /tenant "batch" is over its storage limit of 1 MiB/);
        const l = await list("batch", "f");
        assert.deepEqual(l.seqs, range(seqs.length));
        assert.equal(l.bytes, (seqs.length - 2) * 4000 + 20);
        assert.deepEqual((await list("batch", "big")).seqs, []);
        // a patch that grows a document past the limit is refused; the session still serves
        const grow = await c.call("mutation", 4, "items:resize", { tag: "f", seq: 3, size: 400000 });
        assert.equal(grow.errorCode, "StorageLimitExceeded", JSON.stringify(grow));
        const t = await c.subscribe(1, "items:list", { tag: "f" });
        assert.equal(t.modifications[0].value.seqs.length, seqs.length);
    } finally {
        c.close();
    }
});

test("the real ConvexClient (Convex's sync protocol): a mutation past the limit rejects with the limit's message; queries and a delete still work", { timeout: 60000 }, async () => {
    const { seqs } = await fill("cvx", "c", 4000);
    const client = new ConvexClient(`${srv.url}/t/cvx`, { skipConvexDeploymentUrlCheck: true });
    try {
        await assert.rejects(client.mutation(api.items.add, { tag: "c", seq: 999, size: 4000 }), (e) => {
            assert.match(String(e.message), /^\[CONVEX M\([^)]+\)\] \[Request ID: [0-9a-f]{16}\] Server Error\n.*tenant "cvx" is over its storage limit of 1 MiB \(--max-tenant-storage-mb\)/);
            return true;
        });
        assert.deepEqual((await client.query(api.items.list, { tag: "c" })).seqs, range(seqs.length));
        assert.equal(await client.mutation(api.items.removeTag, { tag: "c" }), seqs.length);
        assert.equal(typeof (await client.mutation(api.items.add, { tag: "c", seq: 999, size: 4000 })), "string");
    } finally {
        await client.close();
    }
});

test("deletes free space: after deleting, inserts work again; idempotency records of small results always fit, big ones count", { timeout: 60000 }, async () => {
    const { seqs } = await fill("del", "d", 4000);
    assertRefused(await call("del", "mutation", "items:add", { tag: "d", seq: 1000, size: 4000 }), 'tenant "del"');
    // a result recorded for its idempotency key: a big one does not fit, a small one does
    const idem = (size, key) => request(srv.port, "POST", "/t/del/api/mutation", { path: "items:echo", args: { size }, idempotencyKey: key });
    assertRefused(await idem(200000, "big-1"), 'tenant "del"');
    const small = await idem(100, "small-1");
    assert.equal(small.json?.status, "success", small.text);
    // the delete, over sync with an idempotency key as the JS client sends it
    const c = await SyncConn.open(srv.port, { path: "/t/del/api/sync" });
    let r;
    try {
        await c.connect();
        r = await c.call("mutation", 1, "items:removeTag", { tag: "d" }, { idempotencyKey: "del-1" });
    } finally {
        c.close();
    }
    assert.equal(r.success, true, JSON.stringify(r));
    assert.equal(r.value, seqs.length, JSON.stringify(r));
    const again = await fill("del", "e", 4000);
    assert.ok(again.seqs.length >= seqs.length - 5, `${again.seqs.length} after deleting, ${seqs.length} before`);
    assertRefused(again.refused, 'tenant "del"');
});

function filesDir(tenant) {
    return path.join(dir, ".vireo", "data", "tenants", tenant, "files");
}

function tmpFiles(tenant) {
    return fs.readdirSync(filesDir(tenant)).filter((n) => n.startsWith("tmp-"));
}

/* POSTs n zero bytes to an upload URL; chunked: without Content-Length, in 64 KiB writes. */
function upload(url, n, { chunked = false } = {}) {
    return new Promise((resolve, reject) => {
        const u = new URL(url);
        const headers = { "Content-Type": "application/octet-stream" };
        if (!chunked) headers["Content-Length"] = n;
        const req = http.request({ host: u.hostname, port: u.port, method: "POST", path: u.pathname + u.search, headers, agent: false }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (text += d));
            res.on("end", () => resolve({ status: res.statusCode, text, json: JSON.parse(text) }));
        });
        req.on("error", (e) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? null : reject(e)));
        const chunk = Buffer.alloc(65536);
        let sent = 0;
        const write = () => {
            while (sent < n) {
                const k = Math.min(chunk.length, n - sent);
                sent += k;
                if (!req.write(chunk.subarray(0, k))) return req.once("drain", write);
            }
            req.end();
        };
        write();
    });
}

test("stored files count: an upload past the limit gets 507 (from its head or mid-stream) and leaves no temporary file; ctx.storage.store() throws; deleting a file makes room", { timeout: 60000 }, async () => {
    const url = (await call("files", "mutation", "items:uploadUrl", {})).json.value;
    const ok = await upload(url, 700000);
    assert.equal(ok.status, 200, ok.text);
    const url2 = (await call("files", "mutation", "items:uploadUrl", {})).json.value;
    for (const chunked of [false, true]) {
        const r = await upload(url2, 700000, { chunked });
        assertRefused(r, 'tenant "files"');
        assert.match(r.json.errorMessage, /700000 in stored files/);
        // refused from the head (the declared size) or as soon as the streamed bytes pass the space left
        const needs = Number(/needs about (\d+) more/.exec(r.json.errorMessage)[1]);
        if (chunked) assert.ok(needs < 700000, r.json.errorMessage);
        else assert.equal(needs, 700000);
        assert.deepEqual(tmpFiles("files"), [], `chunked=${chunked}: no temporary file left`);
    }
    const st = await call("files", "action", "items:storeBytes", { size: 500000 });
    assert.equal(st.json?.value?.code, "StorageLimitExceeded", st.text);
    assert.match(st.json.value.message, /^tenant "files" is over its storage limit of 1 MiB/);
    assert.deepEqual(tmpFiles("files"), []);
    assert.deepEqual((await call("files", "query", "items:files", {})).json.value, [700000]);
    assert.equal((await request(srv.port, "GET", "/t/files/api/metrics")).json.storageFileBytes, 700000);
    // documents count with the files: a 400 KB document does not fit beside them
    assertRefused(await call("files", "mutation", "items:add", { tag: "x", seq: 0, size: 400000 }), 'tenant "files"');
    // deleting the file makes room: the refused URL stays usable
    const id = JSON.parse(ok.text).storageId;
    assert.equal((await call("files", "mutation", "items:deleteFile", { id })).json?.status, "success");
    const again = await upload(url2, 700000, { chunked: true });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual((await call("files", "query", "items:files", {})).json.value, [700000]);
    const names = fs.readdirSync(filesDir("files"));
    assert.deepEqual(names, [JSON.parse(again.text).storageId]);
});

test("after a restart with the same data the limit holds and the data is intact", { timeout: 60000 }, async () => {
    const before = await list("full-a", "a");
    await srv.stop();
    srv = await startServer(dir, { args: ARGS });
    assert.deepEqual(await list("full-a", "a"), before);
    assertRefused(await call("full-a", "mutation", "items:add", { tag: "a", seq: 999, size: 4000 }), 'tenant "full-a"');
    const files = (await request(srv.port, "GET", "/t/files/api/metrics")).json;
    assert.equal(files.storageFileBytes, 700000, "stored files summed again at open");
    assertRefused(await upload((await call("files", "mutation", "items:uploadUrl", {})).json.value, 400000), 'tenant "files"');
});

test("without --tenants the flag limits the single shard", { timeout: 60000 }, async () => {
    const one = await startServer(tempDir("tenant-storage"), { args: ["--max-tenant-storage-mb", "1", "--action-threads", "1"] });
    try {
        let refused;
        for (let i = 0; i < 200 && !refused; i++) {
            const r = await request(one.port, "POST", "/api/mutation", { path: "items:add", args: { tag: "s", seq: i, size: 20000 } });
            if (r.json?.status !== "success") refused = r;
        }
        assert.ok(refused, "the limit was reached");
        assertRefused(refused, "the database");
        assert.equal((await request(one.port, "GET", "/api/metrics")).json.storageLimitBytes, LIMIT);
    } finally {
        await one.stop();
    }
});

test("--max-tenant-storage-mb: bad values are refused with the range; help names it", { timeout: 30000 }, async () => {
    const d = tempDir("tenant-storage");
    for (const v of ["-1", "ten", "1.5", "", "16777217"]) {
        const r = await runCli(["serve", d, "--port", "0", "--max-tenant-storage-mb", v]);
        assert.equal(r.code, 2, `${JSON.stringify(v)}: ${r.stderr}`);
        assert.match(r.stderr, /vireo serve: --max-tenant-storage-mb needs a number of MiB from 0 to 16777216/);
    }
    const h = await runCli(["dev", "--help"]);
    assert.match(h.stdout, /--max-tenant-storage-mb N/);
});
