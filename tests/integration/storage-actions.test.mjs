// ctx.storage.get / store in actions on apps/storage-actions: text and binary Blobs stored with
// their contentType and read back byte for byte (in the same action and in another), sha256 in
// `_storage` as Node computes it, getUrl serving the bytes, Blob slices, concurrent stores, the
// `sha256` option (Convex's Sha256Mismatch / InvalidDigestHeader, nothing left behind), get of
// a deleted id (null) and of another table's id (error), get past its in-memory cap
// (FileTooLarge) and store past --max-upload-mb (UploadTooLarge, nothing left behind), a store
// kept when its action then fails, the real `ConvexHttpClient` calling such actions, and HTTP
// actions storing a request's body and serving a file (Convex's documented routes).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { startServer, tempDir } from "./helpers.mjs";

const servers = [];
after(async () => {
    for (const s of servers) if (s.exitCode === undefined && !s.exitSignal) await s.stop();
});
let shared;
async function srv() {
    if (!shared || shared.exitCode !== undefined || shared.exitSignal) {
        shared = await startServer(tempDir("storage-actions"), { args: ["--max-upload-mb", "1"] });
        servers.push(shared);
    }
    return shared;
}
const filesDir = (s) => path.join(s.dir, ".vireo/data/files");
const sha256 = (b) => crypto.createHash("sha256").update(b).digest("base64");
/* Vireo's JSON shape of bytes (value.h): {"$bytes": base64} */
const bytesArg = (b) => ({ $bytes: Buffer.from(b).toString("base64") });
const bytesOf = (v) => Buffer.from(v.$bytes, "base64");

async function failure(s, kind, fn, args) {
    const r = await s.call(kind, fn, args);
    assert.equal(r.json.status, "error", `${fn} should fail: ${r.text}`);
    return r.json;
}

test("store a text Blob and a binary one; get them back byte for byte; sha256 and getUrl", async () => {
    const s = await srv();
    const text = "héllo, wörld ✓\n";
    const tid = await s.value("action", "files:storeText", { text, contentType: "text/plain;charset=utf-8" });
    assert.match(tid, /^[0-9a-z]{32}$/);
    assert.equal(await s.value("action", "files:getText", { id: tid }), text);
    const bin = crypto.randomBytes(300_000);
    bin[0] = 0;
    bin[1] = 0xff;
    const bid = await s.value("action", "files:storeBytes", { data: bytesArg(bin), contentType: "image/png" });
    const got = await s.value("action", "files:get", { id: bid });
    assert.equal(got.isBlob, true);
    assert.equal(got.type, "image/png");
    assert.equal(got.size, bin.length);
    assert.ok(bytesOf(got.bytes).equals(bin));
    // the `_storage` documents: sha256 of the bytes (base64, as Convex), size, contentType
    const docs = await s.value("query", "files:list", {});
    const td = docs.find((d) => d.id === tid), bd = docs.find((d) => d.id === bid);
    assert.deepEqual(td, { id: tid, size: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)),
                           contentType: "text/plain;charset=utf-8" });
    assert.deepEqual(bd, { id: bid, size: bin.length, sha256: sha256(bin), contentType: "image/png" });
    // the bytes are on disk under the id, and served at the file's URL
    assert.ok(fs.readFileSync(path.join(filesDir(s), bid)).equals(bin));
    const g = await fetch(`${s.url}/api/storage/${bid}`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("content-type"), "image/png");
    assert.equal(g.headers.get("etag"), `"${sha256(bin)}"`);
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(bin));
    // no temporary file is left
    assert.deepEqual(fs.readdirSync(filesDir(s)).filter((f) => f.startsWith("tmp-")), []);
});

test("a Blob without a type has no contentType; an empty Blob; a slice; stores in parallel", async () => {
    const s = await srv();
    const id = await s.value("action", "files:storeText", { text: "untyped" });
    const got = await s.value("action", "files:get", { id });
    assert.equal(got.type, "");
    assert.equal((await s.value("query", "files:list", {})).find((d) => d.id === id).contentType, null);
    const g = await fetch(`${s.url}/api/storage/${id}`);
    assert.equal(g.headers.get("content-type"), "application/octet-stream");
    assert.equal(await g.text(), "untyped");

    const eid = await s.value("action", "files:storeBytes", { data: bytesArg(Buffer.alloc(0)) });
    const e = await s.value("action", "files:get", { id: eid });
    assert.equal(e.size, 0);
    assert.equal(bytesOf(e.bytes).length, 0);
    assert.equal((await s.value("query", "files:list", {})).find((d) => d.id === eid).sha256,
                 sha256(Buffer.alloc(0)));

    const whole = crypto.randomBytes(5000);
    const sid = await s.value("action", "files:storeSlice", { data: bytesArg(whole), from: 1234, to: 4321 });
    const part = await s.value("action", "files:get", { id: sid });
    assert.equal(part.type, "application/x-part");
    assert.ok(bytesOf(part.bytes).equals(whole.subarray(1234, 4321)));

    const texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"];
    const ids = await s.value("action", "files:storeMany", { texts });
    assert.equal(new Set(ids).size, texts.length);
    for (let i = 0; i < ids.length; i++)
        assert.equal(await s.value("action", "files:getText", { id: ids[i] }), texts[i]);
});

test("store then get in one action, getUrl, getMetadata, and the id saved in a document", async () => {
    const s = await srv();
    const data = crypto.randomBytes(10_000);
    const r = await s.value("action", "files:roundTrip", { data: bytesArg(data), contentType: "application/pdf" });
    assert.equal(r.same, true);
    assert.equal(r.type, "application/pdf");
    assert.equal(r.url, `${s.url}/api/storage/${r.id}`);
    assert.deepEqual(r.meta, { storageId: r.id, sha256: crypto.createHash("sha256").update(data).digest("hex"), size: 10_000, contentType: "application/pdf" });
    assert.match(r.noteId, /^[0-9a-z]{32}$/);
    assert.ok(Buffer.from(await (await fetch(r.url)).arrayBuffer()).equals(data));
});

test("the sha256 option: a match stores, a mismatch or a malformed digest stores nothing", async () => {
    const s = await srv();
    const data = Buffer.from("checked bytes");
    const good = await s.value("action", "files:storeBytes", { data: bytesArg(data), sha256: sha256(data) });
    assert.equal(await s.value("action", "files:getText", { id: good }), "checked bytes");
    // URL-safe base64 without padding decodes to the same digest
    const urlSafe = sha256(data).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    await s.value("action", "files:storeBytes", { data: bytesArg(data), sha256: urlSafe });

    const docsBefore = await s.value("query", "files:list", {});
    const filesBefore = fs.readdirSync(filesDir(s)).sort();
    const other = sha256(Buffer.from("other bytes"));
    const bad = await failure(s, "action", "files:storeBytes", { data: bytesArg(data), sha256: other });
    assert.equal(bad.errorCode, "Sha256Mismatch");
    assert.equal(bad.errorMessage, `Sha256 mismatch. Expected: ${other} Actual: ${sha256(data)}`);
    const hex = crypto.createHash("sha256").update(data).digest("hex");
    for (const d of [hex, "", "not base64!", sha256(data).slice(0, 20)]) {
        const m = await failure(s, "action", "files:storeBytes", { data: bytesArg(data), sha256: d });
        assert.equal(m.errorCode, "InvalidDigestHeader", d);
        assert.match(m.errorMessage, /^storage\.store\(\): options\.sha256 must be the SHA-256 digest of the file in base64/);
    }
    assert.deepEqual(await s.value("query", "files:list", {}), docsBefore);
    assert.deepEqual(fs.readdirSync(filesDir(s)).sort(), filesBefore);
});

test("get: null for a deleted file, an error for another table's id or a non-id", async () => {
    const s = await srv();
    const id = await s.value("action", "files:storeText", { text: "short-lived" });
    await s.value("mutation", "files:remove", { id });
    assert.equal(fs.existsSync(path.join(filesDir(s), id)), false);
    assert.equal(await s.value("action", "files:get", { id }), null);
    const noteId = await s.value("mutation", "files:addNote", { text: "not a file" });
    for (const bad of [noteId, "nope", "../../../etc/passwd"]) {
        const e = await failure(s, "action", "files:get", { id: bad });
        assert.match(e.errorMessage, /storage\.get\(\): Invalid storage ID/, bad);
    }
    const ne = await failure(s, "action", "files:storeNotBlob", {});
    assert.match(ne.errorMessage, /^store\(\) expects a Blob\. If you are trying to store a Request/);
});

test("store past --max-upload-mb: UploadTooLarge, no document and no file left; the cap itself works", async () => {
    const s = await srv();
    const docsBefore = await s.value("query", "files:list", {});
    const filesBefore = fs.readdirSync(filesDir(s)).sort();
    const e = await failure(s, "action", "files:storeSize", { size: (1 << 20) + 1 });
    assert.equal(e.errorCode, "UploadTooLarge");
    assert.equal(e.errorMessage,
                 `storage.store(): the file is ${(1 << 20) + 1} bytes, larger than the limit of ${1 << 20} bytes`);
    assert.deepEqual(await s.value("query", "files:list", {}), docsBefore);
    assert.deepEqual(fs.readdirSync(filesDir(s)).sort(), filesBefore);
    const id = await s.value("action", "files:storeSize", { size: 1 << 20 });
    const got = await s.value("action", "files:get", { id });
    const want = Buffer.alloc(1 << 20);
    for (let i = 0; i < want.length; i++) want[i] = i % 251;
    assert.ok(bytesOf(got.bytes).equals(want));
});

test("a file stored by an action that then fails stays (storage writes are not transactional)", async () => {
    const s = await srv();
    const before = await s.value("query", "files:list", {});
    const e = await failure(s, "action", "files:storeThenFail", { text: "kept" });
    const m = /failed after storing ([0-9a-z]{32})/.exec(e.errorMessage);
    assert.ok(m, e.errorMessage);
    const after = await s.value("query", "files:list", {});
    assert.equal(after.length, before.length + 1);
    assert.ok(after.some((d) => d.id === m[1] && d.size === 4));
    assert.equal(fs.readFileSync(path.join(filesDir(s), m[1]), "utf8"), "kept");
});

test("the real ConvexHttpClient calls actions that store and get files", async () => {
    const s = await srv();
    const c = new ConvexHttpClient(s.url, { skipConvexDeploymentUrlCheck: true });
    const data = crypto.randomBytes(2048);
    const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    const id = await c.action("files:storeBytes", { data: ab, contentType: "application/octet-stream",
                                                   sha256: sha256(data) });
    assert.match(id, /^[0-9a-z]{32}$/);
    const got = await c.action("files:get", { id });
    assert.ok(got.bytes instanceof ArrayBuffer);
    assert.ok(Buffer.from(got.bytes).equals(data));
    assert.equal(got.type, "application/octet-stream");
    assert.equal(await c.action("files:get", { id: (await c.action("files:storeText", { text: "x" })) })
        .then((g) => g.size), 1);
    await assert.rejects(c.action("files:storeBytes", { data: ab, sha256: sha256(Buffer.from("no")) }),
                         /Sha256 mismatch\. Expected: /);
});

test("HTTP actions: store a request's body, serve a file with get (Convex's documented routes)", async () => {
    const s = await srv();
    const img = crypto.randomBytes(40_000);
    const r = await fetch(`${s.url}/sendImage`, { method: "POST", body: img, headers: { "Content-Type": "image/jpeg" } });
    assert.equal(r.status, 200);
    const { storageId } = await r.json();
    const doc = (await s.value("query", "files:list", {})).find((d) => d.id === storageId);
    assert.deepEqual(doc, { id: storageId, size: img.length, sha256: sha256(img), contentType: "image/jpeg" });
    const g = await fetch(`${s.url}/getImage?storageId=${storageId}`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("content-type"), "image/jpeg");
    assert.ok(Buffer.from(await g.arrayBuffer()).equals(img));
    await s.value("mutation", "files:remove", { id: storageId });
    const gone = await fetch(`${s.url}/getImage?storageId=${storageId}`);
    assert.equal(gone.status, 404);
    assert.equal(await gone.text(), "Image not found");
});

test("get past its in-memory cap (a quarter of --memory-limit-mb): FileTooLarge", async () => {
    const s = await startServer(tempDir("storage-actions"), { args: ["--memory-limit-mb", "32"] });
    servers.push(s);
    const cap = (32 << 20) / 4;
    const put = async (bytes) => {
        const url = await s.value("mutation", "files:uploadUrl", {});
        const r = await fetch(url, { method: "POST", body: bytes });
        assert.equal(r.status, 200);
        return (await r.json()).storageId;
    };
    const atCap = Buffer.alloc(cap, 3);
    const okId = await put(atCap);
    assert.deepEqual(await s.value("action", "files:getDigest", { id: okId }), { size: cap, sha256: sha256(atCap) });
    const bigId = await put(Buffer.alloc(cap + 1, 4));
    const e = await failure(s, "action", "files:get", { id: bigId });
    assert.equal(e.errorCode, "FileTooLarge");
    assert.equal(e.errorMessage,
                 `storage.get(): the file is ${cap + 1} bytes, larger than the ${cap} bytes an action ` +
                 "may read into memory (a quarter of the memory limit of 32 MiB); serve it with " +
                 "storage.getUrl() instead");
    // the server still serves it, and the action's worker still works
    assert.equal((await fetch(`${s.url}/api/storage/${bigId}`).then((r) => r.arrayBuffer())).byteLength, cap + 1);
    assert.equal(await s.value("action", "files:getText", { id: await s.value("action", "files:storeText", { text: "ok" }) }), "ok");
    await s.stop();
});

test("an in-memory database has no file storage: store and get say so", async () => {
    const s = await startServer(tempDir("storage-actions"), { args: ["--data", ":memory:"] });
    servers.push(s);
    const e = await failure(s, "action", "files:storeText", { text: "x" });
    assert.equal(e.errorCode, "StorageUnavailable");
    assert.equal(e.errorMessage, "file storage needs a database on disk (this server's is in memory)");
    // no `_storage` document can exist, so get finds none
    const noteId = await s.value("mutation", "files:addNote", { text: "n" });
    assert.match((await failure(s, "action", "files:get", { id: noteId })).errorMessage, /Invalid storage ID/);
    await s.stop();
});

test("a lost commit batch: a delete in it keeps the bytes, a file stored in it leaves none", async () => {
    // --test-fail-commit: a batch inserting into that table fails to commit, as on a full disk
    const s = await startServer(tempDir("storage-actions"), { args: ["--test-fail-commit", "notes"] });
    servers.push(s);
    const id = await s.value("action", "files:storeText", { text: "still here" });
    const e = await failure(s, "mutation", "files:removeAndNote", { id });
    assert.equal(e.errorCode, "StoreError");
    assert.ok((await s.value("query", "files:list", {})).some((d) => d.id === id));
    assert.equal(await s.value("action", "files:getText", { id }), "still here");
    assert.equal(await (await fetch(`${s.url}/api/storage/${id}`)).text(), "still here");
    await s.stop();

    const t = await startServer(tempDir("storage-actions"), { args: ["--test-fail-commit", "_storage"] });
    servers.push(t);
    const se = await failure(t, "action", "files:storeText", { text: "lost" });
    assert.equal(se.errorCode, "StoreError");
    const url = await t.value("mutation", "files:uploadUrl", {});
    const up = await fetch(url, { method: "POST", body: "lost too" });
    assert.equal(up.status, 500);
    await up.arrayBuffer();
    assert.deepEqual(await t.value("query", "files:list", {}), []);
    assert.deepEqual(fs.readdirSync(filesDir(t)), []);
    await t.stop();
});
