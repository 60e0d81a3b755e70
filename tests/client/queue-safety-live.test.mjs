// The offline queue's safety rules against a real `vireo dev` (tests/integration/apps/sync;
// ./vireo or VIREO_BIN), with fake-indexeddb for persistence: a persisted offline mutation is
// applied once across a reload that follows a reconnect on which the session was started afresh
// (the server keeps the holder's secret then: src/proto/sync.c; a server that rotated it is
// tests/client/queue-safety.test.mjs's case, with the other protocol-level ones).

import "fake-indexeddb/auto";
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { VireoClient, createIndexedDbPersistence } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep } from "../integration/helpers.mjs";

let srv;
const clients = [];

before(async () => {
    srv = await startServer(tempDir("sync"));
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.stop();
});

function client(url, opts = {}) {
    const c = new VireoClient(url, { WebSocket, backoff: { baseMs: 20, maxMs: 100 }, requestTimeoutMs: 15000, ...opts });
    clients.push(c);
    return c;
}

test("a persisted offline mutation is applied once after a reload that follows a fresh start of its session", { timeout: 30000 }, async () => {
    const key = `rotation-${Math.random()}`;
    const idb = createIndexedDbPersistence({ dbName: "vireo-queue-live", key, locks: null, sessionStorage: null });
    let frozen = false; // the page is dead: nothing more is written
    const adapter = { load: (o) => idb.load(o), clear: () => idb.clear(), close: () => idb.close(),
                      save: (st) => (frozen ? Promise.resolve() : idb.save(st)) };
    let offline = false; // the network: sockets cannot open
    let dieOnAnswer = false;
    let sockets = [];
    // The page's WebSocket: refuses to open while offline; the page dies (its socket is cut
    // without a close frame, nothing more is saved) when the answer to a mutation arrives.
    class PageSocket extends WebSocket {
        constructor(url, ...rest) {
            super(offline ? "ws://127.0.0.1:1/api/sync" : url, ...rest);
            sockets.push(this);
        }
        send(data, ...rest) {
            if (JSON.parse(data).type === "mutation") dieOnAnswer = true;
            return super.send(data, ...rest);
        }
        set onmessage(fn) {
            super.onmessage = (ev) => {
                if (dieOnAnswer && String(ev.data).includes("\"mutationResponse\"")) {
                    frozen = true;
                    offline = true;
                    this.terminate();
                    return;
                }
                fn(ev);
            };
        }
        get onmessage() {
            return super.onmessage;
        }
    }
    const a = client(srv.url, { WebSocket: PageSocket, persistence: adapter, persistDelayMs: 100 });
    await a.init();
    await waitFor(() => a.connectionState().state === "connected", { what: "a connected" });
    const firstSecret = a.sessionSecret;
    // the network goes away (the socket dies without a close frame: the server keeps the session)
    offline = true;
    for (const s of sockets) s.terminate();
    await waitFor(() => a.connectionState().state !== "connected", { what: "a offline" });
    a.mutation("messages:send", { channel: "#rot", author: "a", body: "once" }).catch(() => {});
    await a.flushPersistence();
    // back online: a has no live query, so it reconnects without lastVersion and the server
    // starts the session afresh (keeping its secret); a sends its mutation and dies at the answer
    offline = false;
    await waitFor(() => frozen, { what: "the mutation answered", timeout: 10000 });
    assert.equal(a.sessionSecret, firstSecret, "the server keeps the secret its holder presented");
    await sleep(100);
    a.close();
    await waitFor(async () => (await srv.value("query", "messages:bodies", { channel: "#rot" })).length === 1,
                  { what: "the write committed" });

    // the page reloads on the same store
    frozen = false;
    const results = [];
    const b = client(srv.url, { persistence: adapter, onOfflineMutationResult: (r) => results.push(r) });
    await b.init();
    assert.equal(b.pendingMutations().length, 1, "the queue as the page last saved it");
    await waitFor(() => results.length === 1, { what: "the replay's outcome", timeout: 10000 });
    assert.equal(results[0].error, undefined, `replayed in its session: ${results[0].error?.message}`);
    assert.equal(typeof results[0].value, "string");
    assert.deepEqual(await srv.value("query", "messages:bodies", { channel: "#rot" }), ["once"], "applied once");
});
