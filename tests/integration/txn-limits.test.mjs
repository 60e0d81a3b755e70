// Convex's transaction limits (docs/operations.md, "Functions"): one query or mutation reads at
// most 32,000 documents and 16 MiB, writes at most 16,000 documents and 16 MiB, in user tables.
// Past one: Convex's error code and message, HTTP 400, nothing of a failed mutation written, and
// the server keeps serving; the next call has the whole limit again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ConvexClient } from "convex/browser";
import { anyApi as api } from "convex/server";
import { startServer, tempDir, assertAppLoaded } from "./helpers.mjs";

let srv;
before(async () => {
    // thousands of writes in one call: more than the default 1 s of CPU under the sanitizers
    srv = await startServer(tempDir("txn-limits"), { cmd: "serve", args: ["--timeout-ms", "30000"] });
    await assertAppLoaded(srv);
});
after(async () => {
    if (srv) await srv.stop();
});

const HELP = "Consider using smaller limits in your queries, paginating your queries, or using " +
    "indexed queries with a selective index range expressions.";

async function expectError(kind, fn, args, code, message) {
    const r = await srv.call(kind, fn, args);
    assert.equal(r.status, 400, `${fn}: ${r.text}`);
    assert.equal(r.json?.errorCode, code, `${fn}: ${r.text}`);
    assert.ok(r.json.errorMessage.includes(message), r.json.errorMessage);
    return r;
}

test("a mutation writing 16,001 documents fails with TooManyWrites and writes nothing", { timeout: 60000 }, async () => {
    await expectError("mutation", "limits:fill", { n: 16001 }, "TooManyWrites",
        "Too many writes in a single function execution (limit: 16000)");
    assert.equal(await srv.value("query", "limits:count", {}), 0);
    assert.equal(await srv.value("mutation", "limits:fill", { n: 16000 }), 16000, "16,000 is allowed");
    // a patch counts as a write, each time
    await expectError("mutation", "limits:patchAll", { limit: 8001 }, "TooManyWrites",
        "Too many writes in a single function execution (limit: 16000)");
    assert.equal(await srv.value("mutation", "limits:patchAll", { limit: 8000 }), 16000);
});

test("a query reading 32,001 documents fails with TooManyDocumentsRead; 32,000 is allowed", { timeout: 60000 }, async () => {
    const have = await srv.value("query", "limits:count", {});
    await srv.value("mutation", "limits:fill", { n: 32000 - have });
    assert.equal(await srv.value("query", "limits:count", {}), 32000);
    assert.equal(await srv.value("query", "limits:take", { n: 32000 }), 32000);
    await srv.value("mutation", "limits:fill", { n: 1 });
    await expectError("query", "limits:count", {}, "TooManyDocumentsRead",
        `Too many documents read in a single function execution (limit: 32000). ${HELP}`);
    assert.equal(await srv.value("query", "limits:take", { n: 32000 }), 32000, "the next query reads again");
    // caught, the limit stays passed for the rest of the call
    const r = await srv.value("query", "limits:readCaught", {});
    assert.equal(r.first.code, "TooManyDocumentsRead");
    assert.equal(r.again, "TooManyDocumentsRead");
    // an action's nested queries are transactions of their own
    assert.equal(await srv.value("action", "limits:countTwice", {}), 40000);
});

test("a call reading 4,097 index ranges (db.get and db.query calls) fails with TooManyReads; 4,096 is allowed", { timeout: 60000 }, async () => {
    // the mutation's own insert is not a read: one get or query per iteration after it
    assert.equal(await srv.value("mutation", "limits:ranges", { n: 4097 }), 4096);
    assert.equal(await srv.value("mutation", "limits:ranges", { n: 2 }), 1);
    await expectError("mutation", "limits:ranges", { n: 4098 }, "TooManyReads",
        `Too many reads in a single function execution (limit: 4096). ${HELP}`);
    // a query's db.get calls count the same way
    await expectError("query", "limits:gets", { n: 4097 }, "TooManyReads", "(limit: 4096)");
    assert.equal(await srv.value("query", "limits:gets", { n: 4096 }), 4096);
    // reads of system tables are not counted
    assert.equal(await srv.value("mutation", "limits:ranges", { n: 4097, system: true }), 4096);
    // the failed mutation wrote nothing: its mark is not there
    assert.deepEqual(await srv.value("query", "limits:marks", {}), [4097, 2, 4097]);
});

test("a scan of a system table whose documents add up to more than 16 MiB returns them all, in batches", { timeout: 120000 }, async () => {
    const before = await srv.value("query", "limits:jobs", {});
    for (let i = 0; i < 24; i++) assert.equal(await srv.value("mutation", "limits:scheduleBig", { i }), i);
    const r = await srv.value("query", "limits:jobs", {});
    const n = before.collected + 24;
    assert.equal(r.collected, n, JSON.stringify(r));
    assert.equal(r.looped, n, JSON.stringify(r));
    // pages of 300 (one page's scan of more than 16 MiB; its value is only the count)
    let paged = 0, cursor = null;
    for (let i = 0; i < 10; i++) {
        const p = await srv.value("query", "limits:jobsPage", { cursor, numItems: 300 });
        paged += p.n;
        cursor = p.cursor;
        if (p.isDone) break;
    }
    assert.equal(paged, n);
    assert.ok(r.bytes > 20_000_000, JSON.stringify(r));
});

test("the convex client's subscription past the read limit fails with the code in its message", { timeout: 30000 }, async () => {
    const c = new ConvexClient(srv.url, { logger: false });
    try {
        const err = await new Promise((resolve, reject) => {
            c.onUpdate(api.limits.count, {}, (v) => reject(new Error(`got a value: ${v}`)), resolve);
        });
        // usePaginatedQuery resets its pages on a message holding "TooManyDocumentsRead"
        assert.match(err.message, /TooManyDocumentsRead: Too many documents read in a single function execution \(limit: 32000\)/);
        assert.equal(await c.query(api.limits.take, { n: 5 }), 5);
    } finally {
        await c.close();
    }
});

test("17 MB written in one mutation: TooManyBytesWritten; 17 MB read in one query: TooManyBytesRead", { timeout: 60000 }, async () => {
    await expectError("mutation", "limits:fill", { n: 17, big: true }, "TooManyBytesWritten",
        "Too many bytes written in a single function execution (limit: 16777216 bytes)");
    assert.equal(await srv.value("query", "limits:count", { big: true }), 0);
    assert.equal(await srv.value("mutation", "limits:fill", { n: 9, big: true }), 9);
    assert.equal(await srv.value("mutation", "limits:fill", { n: 8, big: true }), 8);
    // one scan batch holding them all, and one get after the other
    await expectError("query", "limits:count", { big: true }, "TooManyBytesRead",
        `Too many bytes read in a single function execution (limit: 16777216 bytes). ${HELP}`);
    await expectError("query", "limits:getBig", {}, "TooManyBytesRead",
        "Too many bytes read in a single function execution (limit: 16777216 bytes).");
    assert.equal(await srv.value("query", "limits:take", { n: 3 }), 3, "the server keeps serving");
});
