// examples/chat end to end over HTTP: messages sent to #general and #random are listed per
// channel, only that channel's, in send order, with system fields _id and _creationTime.
import { test as nodeTest, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startServer, tempDir, REPO, guardServer, guardedTest, assertAppLoaded } from "./helpers.mjs";

let srv;

let appDir;
const start = async () => {
    srv = await startServer(appDir);
};

before(async () => {
    appDir = tempDir(path.join(REPO, "examples/chat"));
    await start();
    await assertAppLoaded(srv);
});

guardServer({ beforeEach, afterEach }, () => srv, start);
const test = guardedTest(nodeTest, () => srv);

after(async () => {
    if (srv) await srv.stop();
});

const send = (channel, author, body) => srv.mutation("messages:send", { channel, author, body });
const list = (channel) => srv.value("query", "messages:list", { channel });

test("an empty channel lists nothing", { timeout: 5000 }, async () => {
    assert.deepEqual(await list("#general"), []);
});

test("messages are listed per channel, in send order, with system fields", { timeout: 15000 }, async () => {
    const sent = [
        ["#general", "ada", "hello general"],
        ["#random", "bob", "hello random"],
        ["#general", "bob", "second in general"],
        ["#general", "ada", "third ✓ in general"],
        ["#random", "ada", "second in random"],
    ];
    let lastVersion = -1;
    for (const [ch, author, body] of sent) {
        const r = await send(ch, author, body);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.status, "success");
        assert.ok(r.json.version > lastVersion, `mutation versions must increase: ${r.json.version} after ${lastVersion}`);
        lastVersion = r.json.version;
    }
    for (const ch of ["#general", "#random"]) {
        const msgs = await list(ch);
        const want = sent.filter(([c]) => c === ch);
        assert.equal(msgs.length, want.length, `${ch}: ${JSON.stringify(msgs)}`);
        msgs.forEach((m, i) => {
            assert.equal(m.channel, ch);
            assert.equal(m.author, want[i][1]);
            assert.equal(m.body, want[i][2], `${ch} message ${i} out of order`);
            assert.equal(typeof m._id, "string");
            assert.ok(m._id.length > 0);
            assert.equal(typeof m._creationTime, "number");
            assert.deepEqual(Object.keys(m).sort(), ["_creationTime", "_id", "author", "body", "channel"]);
            if (i > 0) assert.ok(m._creationTime > msgs[i - 1]._creationTime, `${ch}: _creationTime not increasing`);
        });
    }
    const all = [...(await list("#general")), ...(await list("#random"))];
    assert.equal(new Set(all.map((m) => m._id)).size, all.length, "duplicate _id");
    const now = Date.now();
    assert.ok(all.every((m) => Math.abs(m._creationTime - now) < 60000), "_creationTime is not a ms timestamp near now");
    assert.deepEqual(await list("#nobody"), []);
    const q = await srv.query("messages:list", { channel: "#general" });
    assert.ok(q.json.version >= lastVersion, "query version older than the last commit");
});

test("bad calls to the chat functions", { timeout: 5000 }, async () => {
    let r = await srv.mutation("messages:send", { channel: "#general", author: "ada" });
    assert.equal(r.status, 400);
    assert.equal(r.json.errorCode, "ArgumentValidationError");
    assert.match(r.json.errorMessage, /body/);
    r = await srv.query("messages:list", { channel: 7 });
    assert.equal(r.status, 400);
    assert.equal(r.json.errorCode, "ArgumentValidationError");
    r = await srv.query("messages:send", { channel: "#general", author: "a", body: "b" });
    assert.equal(r.status, 400);
    assert.equal(r.json.errorCode, "WrongFunctionKind");
    assert.equal((await list("#general")).length, 3, "a bad call wrote a message");
});

test("concurrent senders: every message lands once", { timeout: 15000 }, async () => {
    const n = 30;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => send("#load", `u${i % 3}`, `msg ${i}`)));
    rs.forEach((r) => assert.equal(r.status, 200, r.text));
    const msgs = await list("#load");
    assert.equal(msgs.length, n);
    assert.deepEqual(new Set(msgs.map((m) => m.body)), new Set(Array.from({ length: n }, (_, i) => `msg ${i}`)));
});
