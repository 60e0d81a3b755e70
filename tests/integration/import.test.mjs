// `vireo import` and POST /api/admin/import, as `npx convex import`: a .jsonl, .json or .csv
// file into one table, or a ZIP snapshot (Convex's export format: <table>/documents.jsonl in
// clean JSON decoded with generated_schema.jsonl, _storage and its files) into the tables it
// names; one transaction, all or nothing; requireEmpty / --append / --replace / --replace-all;
// ids that are not ids of their table here replaced and every reference to them rewritten;
// _creationTime kept; live queries updated; every bad input a precise error with nothing stored
// (apps/import).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { sharedServer, runCli, SyncConn, modOf, startServer, tempDir, unzip } from "./helpers.mjs";

const { test, server } = sharedServer("import");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vireo-import-"));
function file(name, content) {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, content);
    return p;
}

/* `vireo import ...args` against the shared server. */
function cli(...args) {
    const s = server();
    return runCli(["import", "--url", s.url, "--admin-key", s.adminKey, ...args]);
}

function post(query, body, key = server().adminKey) {
    const headers = { "Content-Type": "application/octet-stream" };
    if (key) headers.Authorization = `Bearer ${key}`;
    return server().post(`/api/admin/import${query}`, body, { headers });
}

const q = (fn, args = {}) => server().value("query", fn, args);

/* A ZIP of stored (uncompressed) entries: what a test needs of the format, written here. */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
});
function crc32(buf) {
    let c = 0xffffffff;
    for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}
function zip(entries) {
    const locals = [], centrals = [];
    let off = 0;
    for (const [name, content] of Object.entries(entries)) {
        const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
        const n = Buffer.from(name);
        const crc = crc32(data);
        const h = Buffer.alloc(30);
        h.writeUInt32LE(0x04034b50, 0);
        h.writeUInt16LE(20, 4);
        h.writeUInt32LE(crc, 14);
        h.writeUInt32LE(data.length, 18);
        h.writeUInt32LE(data.length, 22);
        h.writeUInt16LE(n.length, 26);
        locals.push(h, n, data);
        const c = Buffer.alloc(46);
        c.writeUInt32LE(0x02014b50, 0);
        c.writeUInt16LE(20, 4);
        c.writeUInt16LE(20, 6);
        c.writeUInt32LE(crc, 16);
        c.writeUInt32LE(data.length, 20);
        c.writeUInt32LE(data.length, 24);
        c.writeUInt16LE(n.length, 28);
        c.writeUInt32LE(off, 42);
        centrals.push(c, n);
        off += 30 + n.length + data.length;
    }
    const cd = Buffer.concat(centrals);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Object.keys(entries).length, 8);
    end.writeUInt16LE(Object.keys(entries).length, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(off, 16);
    return Buffer.concat([...locals, cd, end]);
}
const lines = (b) => b.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const jsonl = (docs) => docs.map((d) => JSON.stringify(d)).join("\n") + "\n";

test("a .jsonl file into a table; a second import is refused until --append or --replace says what to do", async () => {
    const p = file("users.jsonl", jsonl([{ name: "ada", age: 36 }, { name: "alan" }]) + "\n   \n");
    let r = await cli("--table", "users", p);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /users: 2 added/);
    assert.deepEqual((await q("data:users")).map((u) => [u.name, u.age]), [["ada", 36], ["alan", null]]);

    r = await cli("--table", "users", p);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ImportTableNotEmpty, HTTP 409\): table `users` already has 2 documents: import with --append/);
    assert.match(r.stderr, /nothing was imported/);
    assert.equal(await q("data:count", { table: "users" }), 2);

    r = await cli("--table", "users", "--append", p);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await q("data:count", { table: "users" }), 4);

    // --replace asks first; without a terminal it needs -y
    r = await cli("--table", "users", "--replace", p);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--replace deletes existing documents; pass -y to confirm/);
    assert.equal(await q("data:count", { table: "users" }), 4);
    r = await cli("--table", "users", "--replace", "-y", file("one.jsonl", jsonl([{ name: "grace" }])));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /users: 1 added, 4 deleted/);
    assert.deepEqual((await q("data:users")).map((u) => u.name), ["grace"]);
});

test("ids of this server's table and creation times are kept; others replaced", async () => {
    const [grace] = await q("data:users");
    const p = file("keep.jsonl", jsonl([
        { _id: grace.id, _creationTime: grace.ct, name: "grace again" },
        { _id: "k57bdj0v6bd4ax6srnmnz4t8m17gdxsz", _creationTime: 1600000000000.5, name: "foreign id" },
    ]));
    const r = await cli("--table", "users", "--replace", "-y", p);
    assert.equal(r.code, 0, r.stderr);
    const users = await q("data:users");
    const again = users.find((u) => u.name === "grace again");
    assert.equal(again.id, grace.id);
    assert.equal(again.ct, grace.ct);
    const foreign = users.find((u) => u.name === "foreign id");
    assert.notEqual(foreign.id, "k57bdj0v6bd4ax6srnmnz4t8m17gdxsz");
    assert.equal(foreign.ct, 1600000000000.5);
    // a creation time in the future does not move the clock new documents take
    const far = 8e15;
    let r2 = await cli("--table", "users", "--append", file("far.jsonl", jsonl([{ _creationTime: far, name: "far future" }])));
    assert.equal(r2.code, 0, r2.stderr);
    const id = await server().value("mutation", "data:addUser", { name: "new" });
    const added = (await q("data:users")).find((u) => u.id === id);
    assert.ok(added.ct > grace.ct && added.ct > Date.now() - 60000 && added.ct < Date.now() + 60000, `${added.ct}`);
    assert.equal((await q("data:users")).find((u) => u.name === "far future").ct, far);
    // past a JavaScript Date's range: refused
    r2 = await cli("--table", "users", "--append", file("inf.jsonl", jsonl([{ _creationTime: 1e300, name: "x" }])));
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /line 1 of the file: _creationTime must be a number of milliseconds from 0 to 8\.64e15/);
    // only ids written as ids are looked for: an `_id` "1" is replaced, a "1" elsewhere stays
    r2 = await cli("--table", "rows", "--append", file("one.jsonl", jsonl([{ _id: "1", tag: "one" }, { tag: "1" }])));
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok((await q("data:rows")).some((x) => x.tag === "1"));
});

test("CSV: a header, numbers and strings, RFC 4180 quoting; a JSON array", async () => {
    const csv = 'a,b,c\n1,x,"quoted, with comma"\n2.5,"multi\nline","say ""hi"""\n-3e2,007x,\n';
    let r = await cli("--table", "rows", "--replace", "-y", file("rows.csv", csv));
    assert.equal(r.code, 0, r.stderr);
    const rows = await q("data:rows");
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0], { a: 1, b: "x", c: "quoted, with comma" });
    assert.deepEqual(rows[1], { a: 2.5, b: "multi\nline", c: 'say "hi"' });
    assert.equal(rows[2].a, -300);
    assert.equal(rows[2].b, "007x");
    r = await cli("--table", "rows", "--replace", "-y", file("rows.json", JSON.stringify([{ k: [1, { n: null }] }, { big: { $integer: "AQAAAAAAAAA=" } }])));
    assert.equal(r.code, 0, r.stderr);
    // as Convex: an empty entry of a field the schema makes optional is no field (users.age is
    // v.optional(v.number())); one of another field stays an empty string
    r = await cli("--table", "users", "--append", file("people.csv", "name,age\ncsv-bob,\n,42\n"));
    assert.equal(r.code, 0, r.stderr);
    const people = (await q("data:users")).filter((u) => u.name === "csv-bob" || u.age === 42);
    assert.deepEqual(people.map((u) => [u.name, u.age]), [["csv-bob", null], ["", 42]]);
    // values in Convex's encoded JSON: an int64 travels as {"$integer": <base64>}
    assert.deepEqual(await q("data:rows"), [{ k: [1, { n: null }] }, { big: { $integer: "AQAAAAAAAAA=" } }]);
});

test("a Convex snapshot ZIP: tables, references rewritten, int64 and bytes restored, stored files", async () => {
    // ids as Convex writes them (not ids of these tables here)
    const U1 = "jd7bnh4yb2pk6n3dmbdcd8zr0s6ytvfq", U2 = "jd79qkn5kxr7bz5y9gcc4r0cnh6yt8em";
    const M1 = "k17a1b2dg3h4j5k6m7n8p9q0r1s2t3v4", M2 = "k17e5f6g7h8j9k0m1n2p3q4r5s6t7v8w";
    const S1 = "kg2f3v4s5k6f7d8g9h0j1k2m3n4p5q6r";
    const bytes = Buffer.from("hello, file");
    const sha = (await import("node:crypto")).createHash("sha256").update(bytes).digest("base64");
    const z = zip({
        "README.md": "# Welcome to your Convex snapshot export!\n",
        "_tables/documents.jsonl": jsonl([{ name: "users", id: 10001 }, { name: "messages", id: 10002 }]),
        "users/generated_schema.jsonl": JSON.stringify('{"_creationTime": normalfloat64, "_id": id<10001>, "name": string}') + "\n",
        "users/documents.jsonl": jsonl([
            { _id: U1, _creationTime: 1700000000000.1, name: "ada" },
            { _id: U2, _creationTime: 1700000000001.2, name: "alan" },
        ]),
        "messages/generated_schema.jsonl":
            JSON.stringify('{"_creationTime": normalfloat64, "_id": id<10002>, "author": id<10001>, "body": string, "count"?: int64, "file"?: id<10003>, "raw"?: bytes, "replyTo"?: id<10002>}') + "\n",
        "messages/documents.jsonl": jsonl([
            { _id: M1, _creationTime: 1700000000002, author: U1, body: "first", count: "42", raw: Buffer.from([1, 2, 255]).toString("base64"), file: S1 },
            { _id: M2, _creationTime: 1700000000003, author: U2, body: "reply", replyTo: M1, count: "-9007199254740993" },
        ]),
        "_storage/documents.jsonl": jsonl([{ _id: S1, _creationTime: 1700000000000, sha256: sha, size: bytes.length, contentType: "text/plain", internalId: "x" }]),
        [`_storage/${S1}.txt`]: bytes,
    });
    const c = await SyncConn.open(server().port);
    try {
        await c.connect();
        const t0 = await c.subscribe(7, "data:count", { table: "messages" });
        assert.equal(modOf(t0, 7).value, 0);
        const from = c.mark;
        const r = await cli("--replace", "-y", file("snapshot.zip", z));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /messages: 2 added/);
        assert.match(r.stdout, /_storage: 1 added/);
        // the live query saw the import
        const u = await c.waitMsg((m) => m.type === "transition" && modOf(m, 7), { from });
        assert.equal(modOf(u, 7).value, 2);
    } finally {
        c.close();
    }
    const msgs = await q("data:messages");
    assert.deepEqual(msgs.map((m) => [m.body, m.author, m.replyTo, m.count, m.raw, m.ct]), [
        ["first", "ada", null, "42n", [1, 2, 255], 1700000000002],
        ["reply", "alan", "first", "-9007199254740993n", null, 1700000000003],
    ]);
    assert.deepEqual(msgs[0].file, { size: bytes.length, contentType: "text/plain" });
    const url = new URL(msgs[0].url);
    const got = await server().get(url.pathname + url.search);
    assert.equal(got.status, 200);
    assert.equal(got.text, "hello, file");
    assert.ok(!msgs.some((m) => [M1, M2].includes(m.id)), "Convex's ids are not ids here: replaced");
    assert.deepEqual((await q("data:users")).map((x) => [x.name, x.ct]), [["ada", 1700000000000.1], ["alan", 1700000000001.2]]);
});

test("vireo export: a snapshot ZIP in Convex's format, read back by vireo import with ids, references, int64, bytes and files intact", async () => {
    const s = server();
    const before = await q("data:messages"), usersBefore = await q("data:users");
    const out = path.join(tmp, "export.zip");
    let r = await runCli(["export", "--url", s.url, "--admin-key", s.adminKey, "--path", out, "--include-file-storage"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /export\.zip \(\d+ bytes\) from http/);
    const z = unzip(fs.readFileSync(out));
    assert.match(z["README.md"].toString(), /vireo import/);
    for (const t of ["users", "messages", "rows"]) assert.equal(z[`${t}/generated_schema.jsonl`].toString(), '"uniform"\n');
    // Convex's export JSON: an int64 is an integer literal, a float64 keeps a '.', bytes encoded
    const text = z["messages/documents.jsonl"].toString();
    assert.match(text, /"count":42[,}]/);
    assert.match(text, /"count":-9007199254740993[,}]/);
    assert.match(text, /"_creationTime":1700000000002\.0[,}]/);
    const msgs = lines(z["messages/documents.jsonl"]);
    assert.deepEqual(msgs.map((m) => m._id), [...msgs.map((m) => m._id)].sort(), "by _id");
    const first = msgs.find((m) => m.body === "first");
    assert.deepEqual(first.raw, { $bytes: Buffer.from([1, 2, 255]).toString("base64") });
    const files = lines(z["_storage/documents.jsonl"]);
    assert.equal(files.length, 1);
    assert.equal(first.file, files[0]._id);
    assert.match(z["_storage/documents.jsonl"].toString(), /"size":11[,}]/);
    assert.equal(z[`_storage/${files[0]._id}`].toString(), "hello, file");
    // without --include-file-storage: no stored files
    const out2 = path.join(tmp, "no-files.zip");
    r = await runCli(["export", "--url", s.url, "--admin-key", s.adminKey, "--path", out2]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!Object.keys(unzip(fs.readFileSync(out2))).some((n) => n.startsWith("_storage/")));

    // a stored file whose bytes went missing behind the server's back: the export names it
    const stored = path.join(s.dir, ".vireo/data/files", files[0]._id);
    assert.ok(fs.existsSync(stored), stored);
    fs.renameSync(stored, stored + ".away");
    try {
        const miss = await s.get("/api/admin/export?includeStorage=true", { headers: { Authorization: `Bearer ${s.adminKey}` } });
        assert.equal(miss.status, 500, miss.text);
        assert.equal(miss.json.errorCode, "ExportFailed");
        assert.match(miss.json.errorMessage, new RegExp(`^the stored file ${files[0]._id} has a \`_storage\` document but its bytes are missing \\(.*: No such file or directory\\): restore the file, or delete it \\(ctx\\.storage\\.delete\\), then export again$`));
        const without = await s.get("/api/admin/export", { headers: { Authorization: `Bearer ${s.adminKey}` } });
        assert.equal(without.status, 200);
    } finally {
        fs.renameSync(stored + ".away", stored);
    }

    // restored: this server's ids kept, references intact, the file a new stored file with the same bytes
    r = await cli("--replace-all", "-y", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /messages: 2 added, 2 deleted/);
    const after = await q("data:messages");
    const shape = (m) => [m.id, m.ct, m.body, m.author, m.replyTo, m.count, m.raw, m.file];
    assert.deepEqual(after.map(shape), before.map(shape));
    assert.deepEqual(await q("data:users"), usersBefore);
    const url = new URL(after[0].url);
    assert.equal((await s.get(url.pathname + url.search)).text, "hello, file");
});

test("export: what it refuses", async () => {
    const s = server();
    const auth = { headers: { Authorization: `Bearer ${s.adminKey}` } };
    let r = await s.get("/api/admin/export");
    assert.equal(r.status, 401);
    r = await s.post("/api/admin/export", "", auth);
    assert.equal(r.status, 405);
    r = await s.get("/api/admin/export?includeStorage=maybe", auth);
    assert.equal(r.status, 400);
    assert.match(r.json.errorMessage, /includeStorage must be true or false/);
    r = await runCli(["export", "--url", s.url, "--admin-key", s.adminKey]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--path FILE is required/);
    r = await runCli(["export", "--url", s.url, "--admin-key", "wrong", "--path", path.join(tmp, "x.zip")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused \(Unauthorized, HTTP 401\)/);
    assert.ok(!fs.existsSync(path.join(tmp, "x.zip")));
    assert.ok(!fs.readdirSync(tmp).some((n) => n.includes(".part-")), "no partial file left");
});

test("--replace-all empties every table first", async () => {
    assert.ok((await q("data:count", { table: "messages" })) > 0);
    const r = await cli("--table", "rows", "--replace-all", "-y", file("r.jsonl", jsonl([{ only: true }])));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /messages: 0 added, 2 deleted/);
    assert.equal(await q("data:count", { table: "messages" }), 0);
    assert.equal(await q("data:count", { table: "users" }), 0);
    assert.deepEqual(await q("data:rows"), [{ only: true }]);
});

test("bad input: a precise error naming the file and line, and nothing stored", async () => {
    await cli("--table", "users", "--replace", "-y", file("base.jsonl", jsonl([{ name: "base" }])));
    const before = await q("data:users");
    const bad = async (query, body, status, re) => {
        const r = await post(query, body);
        assert.equal(r.status, status, r.text);
        assert.equal(r.json.status, "error");
        assert.match(r.json.errorMessage, re);
        return r.json;
    };
    const A = "?format=jsonl&table=users&mode=append";
    await bad(A, '{"name":"ok"}\n{"name": oops}\n', 400, /^line 2 of the file: /);
    await bad(A, '{"name":"ok"}\n[1]\n', 400, /^line 2 of the file: .*object/);
    let e = await bad(A, '{"name":"ok"}\n{"name":5}\n', 400, /^line 2 of the file: Failed to insert or update a document in table "users" because it does not match the schema: Value does not match validator\.\nPath: \.name\n/);
    assert.equal(e.errorCode, "InvalidImport");
    await bad(A, '{"name":"a","_secret":1}\n', 400, /line 1 of the file: .*_secret/);
    await bad(A, '{"name":"a","_creationTime":"yesterday"}\n', 400, /line 1 of the file: .*_creationTime/);
    await bad(A, '{"name":"a","_id":7}\n', 400, /line 1 of the file: .*_id/);
    await bad("?format=jsonl&table=nope", '{"a":1}\n', 400, /table `nope` is not in the schema/);
    await bad("?format=jsonl&table=_storage", '{"a":1}\n', 400, /table must be a table name/);
    await bad("?format=jsonl", '{"a":1}\n', 400, /table/);
    await bad("?format=zip&table=users", zip({ "users/documents.jsonl": "{}\n" }), 400, /--table is not supported for a ZIP import/);
    await bad("?format=zip", Buffer.from("not a zip at all"), 400, /zip/i);
    await bad("?format=xml&table=users", "<a/>", 400, /format=jsonl, json, csv or zip/);
    await bad(A.replace("append", "merge"), "{}\n", 400, /mode must be requireEmpty/);
    await bad("?format=csv&table=rows&mode=append", "a,b\n1,2,3\n", 400, /line 2/);
    await bad("?format=json&table=users&mode=append", '[{"name":"ok"},{"name":7}]', 400, /^element 2 of the file: .*does not match the schema/);
    await bad("?format=jsonl&table=a%26b", "{}\n", 400, /table must be a table name/);
    // the same foreign id twice
    await bad(A, jsonl([{ _id: "jd7bnh4yb2pk6n3dmbdcd8zr0s6ytvfq", name: "x" }, { _id: "jd7bnh4yb2pk6n3dmbdcd8zr0s6ytvfq", name: "y" }]), 400, /line 2 of the file: the id `jd7bnh4yb2pk6n3dmbdcd8zr0s6ytvfq` appears twice/);
    // a document of this table whose id exists already
    await bad(A, jsonl([{ _id: before[0].id, name: "dup" }]), 400, /already exists in `users`/);
    // a ZIP whose stored file does not match its sha256
    await bad("?format=zip&mode=append", zip({
        "_storage/documents.jsonl": jsonl([{ _id: "kg2f3v4s5k6f7d8g9h0j1k2m3n4p5q6r", sha256: "AAAA", size: 2 }]),
        "_storage/kg2f3v4s5k6f7d8g9h0j1k2m3n4p5q6r": "hi",
    }), 400, /sha256/);
    // the admin key, the method
    let r = await post(A, "{}\n", null);
    assert.equal(r.status, 401);
    r = await server().get("/api/admin/import", { headers: { Authorization: `Bearer ${server().adminKey}` } });
    assert.equal(r.status, 405);
    assert.match(r.json.errorMessage, /use POST with the file to import as the body/);
    // nothing of any of them was stored
    assert.deepEqual(await q("data:users"), before);
    assert.equal(await q("data:count", { table: "rows" }), 1);
});

test("files are parsed off the event loop, 2 at a time: a third import meanwhile gets 503 TooManyImports", async () => {
    // ~15 MB of small documents whose last line is malformed: long to parse, nothing stored
    const line = '{"a":1,"b":"xyzxyzxyzxyz"}\n';
    const n = Math.floor((15 << 20) / line.length);
    const body = Buffer.from(line.repeat(n) + "{oops}\n");
    const before = await q("data:count", { table: "rows" });
    const t0 = Date.now();
    const calls = [0, 1, 2].map(() => post("?format=jsonl&table=rows&mode=append", body));
    // the loop answers while the files are parsed
    const health = await server().get("/api/health");
    const healthMs = Date.now() - t0;
    const rs = await Promise.all(calls);
    assert.equal(health.status, 200);
    const codes = rs.map((r) => r.json?.errorCode).sort();
    assert.deepEqual(codes, ["InvalidImport", "InvalidImport", "TooManyImports"], rs.map((r) => r.text).join("\n"));
    for (const r of rs.filter((x) => x.json.errorCode === "InvalidImport"))
        assert.equal(r.json.errorMessage.startsWith(`line ${n + 1} of the file: malformed JSON`), true, r.json.errorMessage);
    const busy = rs.find((r) => r.json.errorCode === "TooManyImports");
    assert.equal(busy.status, 503);
    assert.match(busy.json.errorMessage, /2 imports are being parsed, the most at once; retry later/);
    assert.equal(await q("data:count", { table: "rows" }), before);
    assert.ok(healthMs < Date.now() - t0, `health answered (${healthMs} ms) before the imports ended (${Date.now() - t0} ms)`);
});

test("the CLI: a format it cannot tell, --table with a ZIP, a missing file, conflicting modes", async () => {
    let r = await cli("--table", "users", file("data.txt", "{}"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot tell the format of .*data\.txt.*--format/);
    r = await cli("--table", "users", file("z.zip", zip({})));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--table is not supported for a ZIP import/);
    r = await cli(file("u.jsonl", "{}\n"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--table is required for a jsonl file/);
    r = await cli("--table", "users", path.join(tmp, "missing.jsonl"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read .*missing\.jsonl/);
    r = await cli("--table", "users", "--append", "--replace", file("u2.jsonl", "{}\n"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /choose one/);
    r = await cli("--table", "a&b", file("u3.jsonl", "{}\n"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a table name/);
    r = await cli("--table", "users", "--format", "jsonLines", file("u4", jsonl([{ name: "by format" }])), "--append");
    assert.equal(r.code, 0, r.stderr);
    // a file past the server's --max-body (16 MiB): streamed to disk, it imports
    r = await cli("--table", "rows", "--append", file("big.jsonl", Buffer.concat([Buffer.alloc((16 << 20) + 10, "\n"), Buffer.from('{"after":"16 MiB of blank lines"}\n')])));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rows: 1 added/);
});

test("with --tenants, into one tenant's tables only", async () => {
    const t = await startServer(tempDir("import"), { args: ["--tenants"] });
    try {
        const p = file("tenant.jsonl", jsonl([{ name: "only acme" }]));
        const r = await runCli(["import", "--url", `${t.url}/t/acme`, "--admin-key", t.adminKey, "--table", "users", p]);
        assert.equal(r.code, 0, r.stderr);
        const names = async (tenant) => (await t.post(`/t/${tenant}/api/query`, { path: "data:users", args: {} })).json.value.map((u) => u.name);
        assert.deepEqual(await names("acme"), ["only acme"]);
        assert.deepEqual(await names("other"), []);
        // and out of that tenant alone
        const out = path.join(tmp, "acme.zip");
        const e = await runCli(["export", "--url", `${t.url}/t/acme`, "--admin-key", t.adminKey, "--path", out]);
        assert.equal(e.code, 0, e.stderr);
        assert.deepEqual(lines(unzip(fs.readFileSync(out))["users/documents.jsonl"]).map((u) => u.name), ["only acme"]);
    } finally {
        await t.stop();
    }
});

test("vireo data: the tables, a table's documents newest first (pretty, jsonLines, jsonArray), its refusals", async () => {
    const s = server();
    const data = (...args) => runCli(["data", "--url", s.url, "--admin-key", s.adminKey, ...args]);
    await cli("--table", "users", "--replace", "-y", file("d.jsonl", jsonl([
        { _creationTime: 1000, name: "first" },
        { _creationTime: 2000, name: "second, with a very long name that a table cell cuts", age: 7 },
        { _creationTime: 3000, name: "third" },
    ])));
    let r = await data();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["messages", "rows", "users"]);
    r = await data("users");
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split("\n");
    assert.match(rows[0], /^_id +_creationTime +name +age$/);
    assert.match(rows[1], /^[0-9a-z]{32} +3000 +third +$/);
    assert.match(rows[2], /second, with a very long name that a ta… +7$/); // cut to 40
    r = await data("users", "--order", "asc", "--limit", "2", "--format", "jsonLines");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).name), ["first", "second, with a very long name that a table cell cuts"]);
    assert.match(r.stderr, /2 shown; there are more/);
    r = await data("users", "--format", "jsonArray", "--limit", "1");
    assert.equal(JSON.parse(r.stdout)[0].name, "third");
    r = await data("nope");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused \(TableNotFound, HTTP 404\): there is no table `nope`; the tables are \["messages","rows","users"\]/);
    r = await data("users", "--limit", "5000");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /limit must be from 1 to 1000/);
    r = await data("users", "--format", "xml");
    assert.equal(r.code, 2);
    const auth = { headers: { Authorization: `Bearer ${s.adminKey}` } };
    for (const [q2, re] of [["?table=a%26b", /table must be a table name/], ["?table=users&order=up", /order must be asc or desc/], ["?table=users&limit=x", /limit must be from 1 to 1000/]]) {
        const h = await s.get(`/api/admin/data${q2}`, auth);
        assert.equal(h.status, 400, h.text);
        assert.match(h.json.errorMessage, re);
    }
    assert.equal((await s.get("/api/admin/data")).status, 401);
    assert.equal((await s.post("/api/admin/data", "", auth)).status, 405);
});

test("an export reads every document, past the limits of one function's reads", async () => {
    const s = server();
    const n = 33000;
    const r = await cli("--table", "rows", "--append", file("many.jsonl", Array.from({ length: n }, (_, i) => `{"big":${i}}`).join("\n") + "\n"));
    assert.equal(r.code, 0, r.stderr);
    const out = path.join(tmp, "many.zip");
    const e = await runCli(["export", "--url", s.url, "--admin-key", s.adminKey, "--path", out]);
    assert.equal(e.code, 0, e.stderr);
    const rows = lines(unzip(fs.readFileSync(out))["rows/documents.jsonl"]);
    assert.equal(rows.filter((x) => typeof x.big === "number").length, n);
    // and away again, so that the tests after this one count small tables
    const back = await cli("--table", "rows", "--replace", "-y", file("few.jsonl", '{"only":true}\n'));
    assert.equal(back.code, 0, back.stderr);
});

test("a client gone before its file is parsed imports nothing", async () => {
    const s = server();
    const before = await q("data:count", { table: "users" });
    const body = Buffer.from(Array.from({ length: 400000 }, (_, i) => `{"name":"gone ${i}"}`).join("\n") + "\n");
    const sock = net.connect(s.port, "127.0.0.1");
    await new Promise((res) => sock.once("connect", res));
    const head = `POST /api/admin/import?format=jsonl&table=users&mode=append HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.adminKey}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
    await new Promise((res) => sock.write(Buffer.concat([Buffer.from(head), body]), res));
    await new Promise((res) => setTimeout(res, 60)); // the server has the body and is parsing it
    sock.destroy();
    await new Promise((res) => setTimeout(res, 3000));
    assert.equal((await server().get("/api/health")).status, 200);
    assert.equal(await q("data:count", { table: "users" }), before);
    assert.doesNotMatch(s.stderr, /400000 documents in/, "nothing was stored");
});

test("an export is one committed state while writes go on", async () => {
    const s = server();
    let stop = false, n = 0;
    const writer = (async () => {
        while (!stop) await s.value("mutation", "data:pair", { name: `p${n++}` });
    })();
    try {
        for (let round = 0; round < 5; round++) {
            const out = path.join(tmp, `busy-${round}.zip`);
            const r = await runCli(["export", "--url", s.url, "--admin-key", s.adminKey, "--path", out]);
            assert.equal(r.code, 0, r.stderr);
            const z = unzip(fs.readFileSync(out));
            const users = lines(z["users/documents.jsonl"]), msgs = lines(z["messages/documents.jsonl"]);
            const ids = new Set(users.map((u) => u._id));
            const paired = msgs.filter((m) => m.body.startsWith("by p"));
            assert.equal(paired.length, users.filter((u) => /^p\d+$/.test(u.name)).length, "a user and their message, or neither");
            for (const m of msgs) assert.ok(ids.has(m.author), `message ${m._id}'s author is in the snapshot`);
        }
    } finally {
        stop = true;
        await writer;
    }
    assert.ok(n > 5, `writes went on during the exports (${n})`);
});

test("SIGKILL during an import: after the restart the database holds all of it or none of it", async () => {
    const dir = tempDir("import");
    const n = 4000; // four rounds stay under a query's 16,384 documents read
    const body = Buffer.from(Array.from({ length: n }, (_, i) => JSON.stringify({ i, pad: "x".repeat(40) })).join("\n") + "\n");
    const outcomes = [];
    for (const delay of [15, 40, 80, 160]) {
        const t = await startServer(dir, { cmd: "serve" });
        const before = (await t.post("/api/query", { path: "data:count", args: { table: "rows" } })).json.value;
        const sent = t.post("/api/admin/import?format=jsonl&table=rows&mode=append", body, {
            headers: { Authorization: `Bearer ${t.adminKey}`, "Content-Type": "application/octet-stream" },
        }).catch(() => null);
        await new Promise((r) => setTimeout(r, delay));
        t.proc.kill("SIGKILL");
        const answer = await sent;
        await t.exited;
        const again = await startServer(dir, { cmd: "serve" });
        try {
            const after = (await again.post("/api/query", { path: "data:count", args: { table: "rows" } })).json.value;
            assert.ok(after === before || after === before + n, `${after} rows after the crash: before ${before}, the import ${n}`);
            if (answer?.json?.status === "success") assert.equal(after, before + n, "an acknowledged import survives");
            outcomes.push(after === before ? "none" : "all");
        } finally {
            await again.stop();
        }
    }
    console.log(`# SIGKILL during imports: ${outcomes.join(", ")}`);
});

test("SIGTERM while a file is parsed: 503 ServerShuttingDown and nothing stored; the storage limit: 507", async () => {
    const dir = tempDir("import");
    let t = await startServer(dir, { cmd: "serve", args: ["--max-tenant-storage-mb", "1", "--max-import-mb", "8"] });
    const auth = { Authorization: `Bearer ${t.adminKey}`, "Content-Type": "application/octet-stream" };
    // past the storage limit (1 MiB): 507, nothing stored
    const big = Buffer.from(Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: "y".repeat(900) })).join("\n") + "\n");
    let r = await t.post("/api/admin/import?format=jsonl&table=rows", big, { headers: auth });
    assert.equal(r.status, 507, r.text);
    assert.equal(r.json.errorCode, "StorageLimitExceeded");
    assert.match(r.json.errorMessage, /^line \d+ of the file: /);
    assert.equal((await t.post("/api/query", { path: "data:count", args: { table: "rows" } })).json.value, 0);
    // past --max-import-mb (8): 413 ImportTooLarge, from the declared length or as the bytes come
    const nine = Buffer.alloc(9 << 20, "\n");
    r = await t.post("/api/admin/import?format=jsonl&table=rows", nine, { headers: auth });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.errorCode, "ImportTooLarge");
    assert.match(r.json.errorMessage, /larger than the import limit of 8388608 bytes \(--max-import-mb\)/);
    const cl = await runCli(["import", "--url", t.url, "--admin-key", t.adminKey, "--table", "rows", file("nine.jsonl", nine)]);
    assert.equal(cl.code, 1);
    assert.match(cl.stderr, /refused \(ImportTooLarge, HTTP 413\)/);
    assert.deepEqual(fs.readdirSync(path.join(dir, ".vireo/data/files")).filter((n) => !n.startsWith(".")), [], "no temporary file left");
    await t.stop();
    t = await startServer(dir, { cmd: "serve" });
    // ~900,000 documents: a parse of several hundred ms, the signal 150 ms after the upload
    const body = Buffer.from(Array.from({ length: 900000 }, (_, i) => `{"i":${i}}`).join("\n") + "\n");
    const sent = t.post("/api/admin/import?format=jsonl&table=rows", body, { headers: { ...auth, Authorization: `Bearer ${t.adminKey}` }, timeout: 20000 });
    await new Promise((res) => setTimeout(res, 150));
    t.proc.kill("SIGTERM");
    r = await sent.catch((e) => ({ status: 0, text: String(e) }));
    await t.exited;
    const again = await startServer(dir, { cmd: "serve" });
    try {
        if (r.status === 200) assert.fail("the parse ended before the signal: this machine is too fast for this test's timing");
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.errorCode, "ServerShuttingDown");
        assert.match(r.json.errorMessage, /nothing was imported/);
        assert.doesNotMatch(t.stderr, /documents in \d+ tables.* stored in/, "nothing was stored");
        assert.equal((await again.post("/api/query", { path: "data:count", args: { table: "rows" } })).json.value, 0);
    } finally {
        await again.stop();
    }
});

test("a batch lost after the import's transaction committed: 500 StoreError, and its stored files removed", async () => {
    const dir = tempDir("import");
    const t = await startServer(dir, { cmd: "serve", args: ["--test-fail-commit", "messages"] });
    try {
        const U = "jd7bnh4yb2pk6n3dmbdcd8zr0s6ytvfq", S = "kg2f3v4s5k6f7d8g9h0j1k2m3n4p5q6r";
        const bytes = Buffer.from("lost file");
        const sha = (await import("node:crypto")).createHash("sha256").update(bytes).digest("base64");
        const z = zip({
            "users/documents.jsonl": jsonl([{ _id: U, name: "u" }]),
            "messages/documents.jsonl": jsonl([{ author: U, body: "b", file: S }]),
            "_storage/documents.jsonl": jsonl([{ _id: S, sha256: sha, size: bytes.length }]),
            [`_storage/${S}`]: bytes,
        });
        const r = await t.post("/api/admin/import?format=zip", z, { headers: { Authorization: `Bearer ${t.adminKey}`, "Content-Type": "application/zip" } });
        assert.equal(r.status, 500, r.text);
        assert.equal(r.json.errorCode, "StoreError");
        const files = path.join(dir, ".vireo/data/files");
        assert.deepEqual(fs.existsSync(files) ? fs.readdirSync(files).filter((n) => !n.startsWith(".")) : [], [], "no stored file left");
        assert.equal((await t.post("/api/query", { path: "data:count", args: { table: "users" } })).json.value, 0);
    } finally {
        await t.stop();
    }
});
