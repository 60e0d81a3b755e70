// File storage on apps/storage: ctx.storage.generateUploadUrl / getUrl / getMetadata / delete
// from queries, mutations and actions; POST to the upload URL and GET of the file's URL
// (Content-Type, ETag and If-None-Match, Range, caching headers); single-use and tampered
// upload URLs; the upload size cap (413, nothing left behind); sha256 checked against
// the bytes; `_storage` read with ctx.db.system and live over the sync protocol;
// v.id("_storage"); bytes removed on delete and kept when the deleting mutation rolls back.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startServer, tempDir, sleep, SyncConn, modOf } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
let shared;
async function srv() {
    if (!shared) {
        shared = await startServer(tempDir("storage"), { args: ["--max-upload-mb", "1"] });
        servers.push(shared);
    }
    return shared;
}
const filesDir = (s) => path.join(s.dir, ".vireo/data/files");

async function upload(s, bytes, contentType = "application/octet-stream") {
    const url = await s.value("mutation", "files:uploadUrl", {});
    const r = await fetch(url, { method: "POST", body: bytes, headers: { "Content-Type": contentType } });
    return { url, status: r.status, json: await r.json() };
}

test("upload, serve, metadata and sha256 of a file", async () => {
    const s = await srv();
    const bytes = crypto.randomBytes(100_000);
    const url = await s.value("mutation", "files:uploadUrl", {});
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${s.port}/api/storage/upload\\?token=[A-Za-z0-9_.-]+$`));
    const r = await fetch(url, { method: "POST", body: bytes, headers: { "Content-Type": "image/png" } });
    assert.equal(r.status, 200);
    const { storageId } = await r.json();
    assert.match(storageId, /^[0-9a-z]{32}$/);
    assert.ok(fs.existsSync(path.join(filesDir(s), storageId)));
    const sha = crypto.createHash("sha256").update(bytes).digest("base64");
    const meta = await s.value("query", "files:meta", { id: storageId });
    // getMetadata's sha256 is hex, as Convex's (the _storage document's is base64)
    const hex = crypto.createHash("sha256").update(bytes).digest("hex");
    assert.deepEqual(meta, { storageId, sha256: hex, size: 100_000, contentType: "image/png" });
    const fileUrl = await s.value("query", "files:url", { id: storageId });
    assert.equal(fileUrl, `http://127.0.0.1:${s.port}/api/storage/${storageId}`);
    const g = await fetch(fileUrl);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("content-type"), "image/png");
    assert.equal(g.headers.get("content-length"), "100000");
    assert.equal(g.headers.get("etag"), `"${sha}"`);
    assert.match(g.headers.get("cache-control"), /max-age=\d+/);
    assert.equal(g.headers.get("accept-ranges"), "bytes");
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(bytes));
    const nm = await fetch(fileUrl, { headers: { "If-None-Match": `"${sha}"` } });
    assert.equal(nm.status, 304);
    // RFC 9110's If-None-Match: "*", a list, weak tags; another tag is a full answer
    for (const inm of ["*", `"other", "${sha}"`, `W/"${sha}"`, ` "x" ,W/"${sha}" `]) {
        const r = await fetch(fileUrl, { headers: { "If-None-Match": inm } });
        assert.equal(r.status, 304, inm);
    }
    // If-Range: the range only for the same bytes (a strong ETag match), else the whole file
    const part = await fetch(fileUrl, { headers: { Range: "bytes=0-1", "If-Range": `"${sha}"` } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(0, 2)));
    for (const ifr of [`"other"`, `W/"${sha}"`, "Tue, 01 Dec 2026 00:00:00 GMT"]) {
        const r = await fetch(fileUrl, { headers: { Range: "bytes=0-1", "If-Range": ifr } });
        assert.equal(r.status, 200, ifr);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes), ifr);
    }
    for (const inm of [`"other"`, `"${sha}x"`, `${sha}`, `"other", W/"x"`, "**"]) {
        const r = await fetch(fileUrl, { headers: { "If-None-Match": inm } });
        assert.equal(r.status, 200, inm);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes));
    }
    // the id validates as v.id("_storage") and lands in a document
    const pid = await s.value("mutation", "files:addPhoto", { file: storageId, caption: "x" });
    assert.match(pid, /^[0-9a-z]{32}$/);
    const bad = await s.call("mutation", "files:addPhoto", { file: pid, caption: "x" });
    assert.equal(bad.json.status, "error");
    assert.equal(bad.json.errorCode, "ArgumentValidationError");
});

test("served files cannot act as pages of the app's origin: nosniff, and a sandbox but for PDFs", async () => {
    const s = await srv();
    const cases = [
        ["text/html", "<script>localStorage.getItem('token')</script>", "sandbox"],
        ["image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "sandbox"],
        ["image/png", "png", "sandbox"],
        ["application/pdf", "%PDF-1.4", null],
        ["Application/PDF; charset=binary", "%PDF-1.4", null],
    ];
    for (const [type, body, csp] of cases) {
        const { json } = await upload(s, Buffer.from(body), type);
        const g = await fetch(await s.value("query", "files:url", { id: json.storageId }));
        assert.equal(g.status, 200);
        assert.equal(g.headers.get("content-type"), type);
        assert.equal(g.headers.get("x-content-type-options"), "nosniff", type);
        assert.equal(g.headers.get("content-security-policy"), csp, type);
        assert.equal(await g.text(), body);
    }
});

test("an upload without a Content-Type has none; an empty file works", async () => {
    const s = await srv();
    const url = await s.value("mutation", "files:uploadUrl", {});
    const r = await fetch(url, { method: "POST", body: new Uint8Array(0) });
    const { storageId } = await r.json();
    const meta = await s.value("query", "files:meta", { id: storageId });
    assert.equal(meta.size, 0);
    assert.equal(meta.sha256, crypto.createHash("sha256").update(Buffer.alloc(0)).digest("hex"));
    assert.equal(meta.contentType, null);
    const g = await fetch(await s.value("query", "files:url", { id: storageId }));
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("content-type"), "application/octet-stream");
    assert.equal((await g.arrayBuffer()).byteLength, 0);
});

test("Range requests: a slice, an open end, a suffix, an unsatisfiable one", async () => {
    const s = await srv();
    const bytes = crypto.randomBytes(1000);
    const { json } = await upload(s, bytes, "text/plain");
    const u = `http://127.0.0.1:${s.port}/api/storage/${json.storageId}`;
    let r = await fetch(u, { headers: { Range: "bytes=10-19" } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get("content-range"), "bytes 10-19/1000");
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(10, 20)));
    r = await fetch(u, { headers: { Range: "bytes=990-" } });
    assert.equal(r.status, 206);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(990)));
    r = await fetch(u, { headers: { Range: "bytes=-5" } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get("content-range"), "bytes 995-999/1000");
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(995)));
    r = await fetch(u, { headers: { Range: "bytes=1000-" } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get("content-range"), "bytes */1000");
    await r.arrayBuffer();
});

test("an upload URL works once; a tampered or foreign one is refused", async () => {
    const s = await srv();
    const first = await upload(s, Buffer.from("one"));
    assert.equal(first.status, 200);
    const again = await fetch(first.url, { method: "POST", body: "two" });
    assert.equal(again.status, 410);
    const j = await again.json();
    assert.equal(j.errorCode, "UploadUrlUsed");
    const url = await s.value("mutation", "files:uploadUrl", {});
    const tok = new URL(url).searchParams.get("token");
    const flip = (t, i) => t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1);
    for (const bad of [flip(tok, 3), flip(tok, tok.length - 3), tok.slice(0, -1), "", "abc.def"]) {
        const r = await fetch(`http://127.0.0.1:${s.port}/api/storage/upload?token=${bad}`,
                              { method: "POST", body: "x" });
        assert.equal(r.status, 400, bad);
        assert.equal((await r.json()).errorCode, "InvalidUploadUrl");
    }
    // the untampered URL still works (the refused attempts did not use it up)
    assert.equal((await fetch(url, { method: "POST", body: "ok" })).status, 200);
    // GET on the upload URL, POST on a file's URL
    assert.equal((await fetch(url)).status, 405);
    // a file that does not exist and an id of another table
    const pid = await s.value("mutation", "files:addPhoto", { file: first.json.storageId, caption: "y" });
    for (const id of [pid, "nope", "0".repeat(32)])
        assert.equal((await fetch(`http://127.0.0.1:${s.port}/api/storage/${id}`)).status, 404);
});

test("the size cap: 413, no document and no file left", async () => {
    const s = await srv();
    const before = await s.value("query", "files:list", {});
    const filesBefore = fs.readdirSync(filesDir(s)).sort();
    const url = await s.value("mutation", "files:uploadUrl", {});
    const r = await fetch(url, { method: "POST", body: Buffer.alloc((1 << 20) + 1) });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).errorCode, "UploadTooLarge");
    assert.deepEqual(await s.value("query", "files:list", {}), before);
    assert.deepEqual(fs.readdirSync(filesDir(s)).sort(), filesBefore);
    // exactly the cap is accepted, with the same URL (the refused upload did not use it)
    const ok = await fetch(url, { method: "POST", body: Buffer.alloc(1 << 20, 7) });
    assert.equal(ok.status, 200);
});

test("delete removes the document and the bytes; a rolled-back delete keeps both", async () => {
    const s = await srv();
    const { json } = await upload(s, Buffer.from("bye"));
    const id = json.storageId;
    const f = path.join(filesDir(s), id);
    const rb = await s.call("mutation", "files:remove", { id, fail: true });
    assert.equal(rb.json.status, "error");
    assert.ok(fs.existsSync(f));
    assert.notEqual(await s.value("query", "files:meta", { id }), null);
    await s.value("mutation", "files:remove", { id });
    assert.equal(fs.existsSync(f), false);
    assert.equal(await s.value("query", "files:meta", { id }), null);
    assert.equal(await s.value("query", "files:url", { id }), null);
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/api/storage/${id}`)).status, 404);
    const again = await s.call("mutation", "files:remove", { id });
    assert.equal(again.json.status, "error");
    const wrong = await s.call("query", "files:meta", { id: "nope" });
    assert.match(wrong.json.errorMessage, /Invalid storage ID/);
});

test("actions: generateUploadUrl, getUrl, getMetadata, delete", async () => {
    const s = await srv();
    const url = await s.value("action", "files:actionUrl", {});
    const r = await fetch(url, { method: "POST", body: "from an action", headers: { "Content-Type": "text/plain" } });
    const { storageId } = await r.json();
    const got = await s.value("action", "files:actionMeta", { id: storageId });
    assert.equal(got.url, `http://127.0.0.1:${s.port}/api/storage/${storageId}`);
    assert.equal(got.meta.size, 14);
    assert.equal(got.meta.contentType, "text/plain");
    await s.value("action", "files:actionDelete", { id: storageId });
    assert.equal(fs.existsSync(path.join(filesDir(s), storageId)), false);
});

test("`_storage` is live over the sync protocol", async () => {
    const s = await srv();
    const c = await SyncConn.open(s.port);
    try {
        await c.connect();
        const t = await c.subscribe(1, "files:list", {});
        const n0 = modOf(t, 1).value.length;
        const from = c.mark;
        const { json } = await upload(s, Buffer.from("live"));
        const m = await c.waitMsg((x) => x.type === "transition" && modOf(x, 1) &&
            modOf(x, 1).value.length === n0 + 1, { from });
        assert.ok(modOf(m, 1).value.some((d) => d.id === json.storageId && d.size === 4));
        const from2 = c.mark;
        await s.value("mutation", "files:remove", { id: json.storageId });
        await c.waitMsg((x) => x.type === "transition" && modOf(x, 1) &&
            modOf(x, 1).value.length === n0, { from: from2 });
    } finally {
        c.close?.();
        c.ws.close();
    }
});

test("temporary files an interrupted upload left are removed at start", async () => {
    const dir = tempDir("storage");
    const s = await startServer(dir);
    servers.push(s);
    await s.stop();
    const stray = path.join(dir, ".vireo/data/files", "tmp-" + "ab".repeat(16));
    fs.writeFileSync(stray, "half");
    const s2 = await startServer(dir);
    servers.push(s2);
    assert.equal(fs.existsSync(stray), false);
    await s2.stop();
});
