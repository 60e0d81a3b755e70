// VireoClient auth against the scripted fake sync server (fake-server.mjs, a `ws` server the test
// drives frame by frame: it checks the frames the client sends, it is not Vireo): setAuth (token
// in connect, authenticate, refresh before expiry, one forced refetch per refusal, fetchToken
// failures), clearAuth, setAuthToken / setWsToken / onAuthTokenChange, and identities kept apart
// in the query cache and the request queue. tests/client/auth-live.test.mjs runs against vireo.

import test from "node:test";
import assert from "node:assert/strict";
import { VireoClient, ClientError } from "../../clients/js/src/index.js";
import { decodeJwtPayload, identityKeyOf, refreshDelay } from "../../clients/js/src/auth.js";
import { startFakeServer, WebSocket, sleep } from "./fake-server.mjs";

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An unsigned-looking JWT (the client never verifies; the server does). */
function jwt(sub, { lifetimeS = 3600, iat = Math.floor(Date.now() / 1000), iss = "https://idp.test", n = 0 } = {}) {
    return `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ iss, sub, iat, exp: iat + lifetimeS, n })}.c2ln`;
}
const identity = (sub) => ({ tokenIdentifier: `https://idp.test|${sub}`, subject: sub, issuer: "https://idp.test" });

async function waitFor(pred, ms = 3000, what = "condition") {
    const end = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > end) throw new Error(`waitFor timed out: ${what}`);
        await sleep(5);
    }
}

async function setup(t, options = {}) {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket, backoff: { baseMs: 10, maxMs: 20 },
                                                 random: () => 0.5, ...options });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const conn = await server.connection();
    return { server, client, conn };
}

/** A fetchToken that hands out the given tokens in turn (the last one again when they run out)
 * and records its calls. */
function fetcher(...tokens) {
    const calls = [];
    const f = async (args) => {
        calls.push({ ...args, at: Date.now() });
        const v = tokens.length > 1 ? tokens.shift() : tokens[0];
        if (v instanceof Error) throw v;
        return v;
    };
    f.calls = calls;
    return f;
}

/** Subscribes and answers with `value`; returns the values the callback got. */
async function subscribed(client, conn, path, value, version) {
    const values = [];
    client.subscribe(path, {}, (v) => values.push(v));
    const m = await conn.next("modifyQuerySet");
    const queryId = m.add[0].queryId;
    conn.transition(version - 1, version, [{ type: "QueryUpdated", queryId, value, hash: `h${version}` }]);
    await waitFor(() => values.length === 1, 2000, "first value");
    return { values, queryId, key: VireoClient.makeKey(path, {}) };
}

test("JWT helpers: payload decoded without verification, identity key iss|sub, refresh delay", () => {
    const tok = jwt("ada", { iat: 1000, lifetimeS: 3600 });
    assert.equal(decodeJwtPayload(tok).sub, "ada");
    assert.equal(decodeJwtPayload("not-a-jwt"), null);
    assert.equal(decodeJwtPayload("a.%%%.c"), null);
    assert.equal(identityKeyOf(tok), "https://idp.test|ada");
    assert.equal(identityKeyOf(jwt("ada", { n: 2 })), identityKeyOf(tok), "a refresh is the same identity");
    assert.equal(identityKeyOf("opaque"), "token:opaque");
    assert.equal(identityKeyOf(null), null);
    // 1 h token: 30 s before exp; 4 s token: at half its life; expiresAt wins; too short: none
    assert.equal(refreshDelay(tok, 1000e3, undefined, 1000e3), 3570e3);
    assert.equal(refreshDelay(jwt("a", { iat: 1000, lifetimeS: 4 }), 1000e3, undefined, 1000e3), 2000);
    assert.equal(refreshDelay(tok, 1000e3, 1000e3 + 10000, 1000e3), 5000);
    assert.equal(refreshDelay(jwt("a", { iat: 1000, lifetimeS: 2 }), 1000e3, undefined, 1000e3), null);
    assert.equal(refreshDelay("opaque", 0, undefined, 0), null);
    // a client clock far ahead: never sooner than 1 s
    assert.equal(refreshDelay(tok, 1000e3, undefined, 9000e3), 1000);
});

test("setAuth before connecting: connect waits for the token and carries it; onChange(true) on authenticated", async (t) => {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const token = jwt("ada");
    let release;
    const gate = new Promise((r) => (release = r));
    const calls = [];
    const changes = [];
    client.setAuth(async (args) => {
        calls.push(args);
        await gate;
        return token;
    }, (v) => changes.push(v));
    const conn = await server.connection();
    assert.ok(await conn.none("connect", 150), "connect waits while fetchToken runs");
    release();
    const c = await conn.next("connect");
    assert.equal(c.token, token);
    assert.deepEqual(calls, [{ forceRefreshToken: false }]);
    conn.send({ type: "connected", sessionId: c.sessionId, version: 0, protocolVersion: 1, resumed: false });
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: Date.now() + 3600e3 });
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [true]);
    assert.equal(client.isAuthenticated, true);
    assert.equal(client.identity.subject, "ada");
    assert.equal(client.authToken, token);
    assert.ok(await conn.none("authenticate", 100), "the connect token is not sent again");
});

test("a connect token with no `authenticated`: accepted at the first transition without authError", async (t) => {
    const server = await startFakeServer();
    const client = new VireoClient(server.url, { WebSocket });
    t.after(async () => {
        client.close();
        await server.close();
    });
    const changes = [];
    client.setAuth(fetcher(jwt("ada")), (v) => changes.push(v));
    const conn = await server.connection();
    const c = await conn.handshake();
    assert.ok(c.token);
    client.subscribe("q:a", {}, () => {});
    await conn.next("modifyQuerySet");
    assert.deepEqual(changes, []);
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: 1, value: 1, hash: "x" }]);
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [true]);
});

test("setAuth when connected sends authenticate; calls made while fetchToken runs go after it", async (t) => {
    const { client, conn } = await setup(t);
    const c = await conn.handshake();
    assert.equal(c.token, undefined, "anonymous connect carries no token");
    let release;
    const gate = new Promise((r) => (release = r));
    const token = jwt("ada");
    const changes = [];
    client.setAuth(async () => {
        await gate;
        return token;
    }, (v) => changes.push(v));
    const p = client.mutation("m:write", { x: 1 });
    assert.ok(await conn.none("mutation", 100), "held while fetchToken runs");
    release();
    const a = await conn.next();
    assert.deepEqual(a, { type: "authenticate", token });
    // a refused token would make the session anonymous: the call waits for the answer
    assert.ok(await conn.none("mutation", 100), "held until the token is accepted");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const m = await conn.next();
    assert.equal(m.type, "mutation", "the held mutation follows the acceptance");
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "ok" });
    assert.equal(await p, "ok");
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [true]);
});

test("clearAuth sends authenticate with token null and stops the refresh timer", async (t) => {
    const { client, conn } = await setup(t);
    const f = fetcher(jwt("ada", { lifetimeS: 3 }));
    const changes = [];
    client.setAuth(f, (v) => changes.push(v));
    await conn.handshake();
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    await waitFor(() => changes.length === 1);
    client.clearAuth();
    assert.deepEqual(await conn.next(), { type: "authenticate", token: null });
    assert.equal(client.authToken, null);
    await sleep(1800); // the 3 s token would have been refreshed at 1.5 s
    assert.equal(f.calls.length, 1, "no refresh after clearAuth");
    assert.deepEqual(changes, [true], "clearAuth does not call onChange (as Convex)");
});

test("refresh before expiry: a 4 s token is refetched (forced) at about half its life and sent", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada", { lifetimeS: 4, n: 1 });
    const t2 = jwt("ada", { lifetimeS: 4, n: 2 });
    const f = fetcher(t1, t2);
    client.setAuth(f, () => {});
    const c = await conn.handshake();
    assert.equal(c.token, t1);
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const a = await conn.next("authenticate", 5000);
    assert.equal(a.token, t2);
    assert.deepEqual(f.calls.map((x) => x.forceRefreshToken), [false, true]);
    // at iat + lifetime / 2 (iat is in whole seconds), well before exp
    const due = decodeJwtPayload(t1).iat * 1000 + 2000;
    const at = f.calls[1].at;
    // (timers may run late on a loaded machine, never early)
    assert.ok(at >= due - 50 && at < due + 1000, `refreshed ${at - due} ms from the due time`);
});

test("expiresAt from authenticated schedules the refresh", async (t) => {
    const { client, conn } = await setup(t);
    const f = fetcher(jwt("ada", { lifetimeS: 3600, n: 1 }), jwt("ada", { lifetimeS: 3600, n: 2 }));
    client.setAuth(f, () => {});
    const c = await conn.handshake();
    const expiresAt = Date.now() + 3000;
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt });
    await conn.next("authenticate", 5000);
    // the token says 1 h; expiresAt says ~3 s after iat: refresh at iat + half of that
    const iat = decodeJwtPayload(c.token).iat * 1000;
    const due = iat + (expiresAt - iat) / 2;
    const at = f.calls[1].at;
    assert.ok(at >= due - 50 && at < due + 1000, `refreshed ${at - due} ms from the due time`);
});

test("authError TokenExpired: one forced refetch, sent; results stay hidden until the new identity's transition", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada", { n: 1 });
    const t2 = jwt("ada", { n: 2 });
    const f = fetcher(t1, t2);
    const changes = [];
    client.setAuth(f, (v) => changes.push(v));
    await conn.handshake();
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const { values, queryId, key } = await subscribed(client, conn, "me:name", "ada", 1);
    conn.send({ type: "authError", code: "TokenExpired", message: "the token expired" });
    // the server runs the session anonymously now and sends the anonymous result
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId, value: null, hash: "anon" }]);
    const a = await conn.next("authenticate");
    assert.equal(a.token, t2);
    assert.deepEqual(f.calls.map((x) => x.forceRefreshToken), [false, true]);
    assert.equal(client.getQueryResult(key), undefined, "the anonymous result is not shown as ada's");
    assert.deepEqual(values, ["ada"]);
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId, value: "ada", hash: "h3" }]);
    await waitFor(() => values.length === 2);
    assert.deepEqual(values, ["ada", "ada"], "no null flash");
    assert.equal(client.getQueryResult(key), "ada");
    assert.deepEqual(changes, [true], "the refresh after expiry is no sign-out");
    assert.equal(client.lastAuthError.code, "TokenExpired");
});

test("InvalidToken: at most one forced refetch, then anonymous with onChange(false); no loop", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada", { n: 1 });
    const t2 = jwt("ada", { n: 2 });
    const f = fetcher(t1, t2, jwt("ada", { n: 3 }));
    const changes = [];
    const tokens = [];
    client.onAuthTokenChange((tok) => tokens.push(tok));
    client.setAuth(f, (v) => changes.push(v));
    const c = await conn.handshake();
    assert.equal(c.token, t1);
    conn.send({ type: "authError", code: "InvalidToken", message: "bad signature" });
    const a = await conn.next("authenticate");
    assert.equal(a.token, t2);
    conn.send({ type: "authError", code: "InvalidToken", message: "bad signature" });
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [false]);
    assert.ok(await conn.none("authenticate", 600), "no further authenticate");
    assert.equal(f.calls.length, 2, "one forced refetch only");
    assert.equal(client.authToken, null);
    assert.equal(client.isAuthenticated, false);
    assert.deepEqual(tokens, [t1, t2, null]);
});

test("a refusal whose forced refetch returns the same token: nothing sent, onChange(false)", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada");
    const f = fetcher(t1);
    const changes = [];
    client.setAuth(f, (v) => changes.push(v));
    await conn.handshake();
    conn.send({ type: "authError", code: "AuthUnavailable", message: "jwks unreachable" });
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [false]);
    assert.deepEqual(f.calls.map((x) => x.forceRefreshToken), [false, true]);
    assert.ok(await conn.none("authenticate", 300));
});

test("fetchToken returning null signs out: onChange(false), nothing sent while anonymous", async (t) => {
    const { client, conn } = await setup(t);
    const f = fetcher(null);
    const changes = [];
    client.setAuth(f, (v) => changes.push(v));
    const c = await conn.handshake();
    assert.equal(c.token, undefined);
    await waitFor(() => changes.length === 1);
    assert.deepEqual(changes, [false]);
    assert.ok(await conn.none("authenticate", 100));
});

test("fetchToken throwing: connect goes out anonymously, the fetch is retried with backoff", async (t) => {
    const { client, conn } = await setup(t);
    const token = jwt("ada");
    const f = fetcher(new Error("idp down"), new Error("idp down"), token);
    const changes = [];
    const errors = [];
    const orig = console.error;
    console.error = (...a) => errors.push(a.join(" "));
    t.after(() => (console.error = orig));
    client.setAuth(f, (v) => changes.push(v));
    const c = await conn.handshake();
    assert.equal(c.token, undefined);
    const a = await conn.next("authenticate", 4000);
    assert.equal(a.token, token);
    assert.equal(f.calls.length, 3);
    const gap1 = f.calls[1].at - f.calls[0].at;
    const gap2 = f.calls[2].at - f.calls[1].at;
    assert.ok(gap1 >= 200 && gap2 >= gap1 - 50, `retry gaps ${gap1}, ${gap2} ms grow`);
    assert.ok(errors.some((e) => e.includes("fetchToken failed")));
    assert.deepEqual(changes, [false]);
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    await waitFor(() => changes.length === 2);
    assert.deepEqual(changes, [false, true]);
});

test("setAuthToken / setWsToken: authenticate without reconnecting, null signs out, onAuthTokenChange", async (t) => {
    const { server, client, conn } = await setup(t);
    await conn.handshake();
    const seen = [];
    const off = client.onAuthTokenChange((tok) => seen.push(tok));
    const ta = jwt("ada");
    const tb = jwt("bob");
    client.setAuthToken(ta);
    assert.deepEqual(await conn.next(), { type: "authenticate", token: ta });
    assert.equal(client.authToken, ta);
    client.setWsToken(tb);
    assert.deepEqual(await conn.next(), { type: "authenticate", token: tb });
    client.setAuthToken(tb); // unchanged: nothing sent
    client.setWsToken(null);
    assert.deepEqual(await conn.next(), { type: "authenticate", token: null });
    assert.deepEqual(seen, [ta, tb, null]);
    off();
    client.setAuthToken(ta);
    await conn.next("authenticate");
    assert.deepEqual(seen, [ta, tb, null], "unsubscribed");
    assert.equal(server.conns.length, 1, "no reconnect");
    assert.throws(() => client.setAuthToken(42), /non-empty string/);
    assert.throws(() => client.setAuthToken(""), /empty string/);
    assert.throws(() => client.setAuthToken("x".repeat(20000)), /limit is 16384/);
    assert.throws(() => client.setAuth("nope"), /fetchToken must be a function/);
});

test("a fixed token the server refuses is dropped: onAuthTokenChange(null), reconnect is anonymous", async (t) => {
    const { server, client, conn } = await setup(t);
    await conn.handshake();
    const seen = [];
    client.onAuthTokenChange((tok) => seen.push(tok));
    const warn = console.warn;
    console.warn = () => {};
    t.after(() => (console.warn = warn));
    client.setAuthToken(jwt("ada"));
    await conn.next("authenticate");
    conn.send({ type: "authError", code: "TokenExpired", message: "expired" });
    await waitFor(() => seen.length === 2);
    assert.equal(seen[1], null);
    conn.terminate();
    const conn2 = await server.connection();
    const c = await conn2.next("connect");
    assert.equal(c.token, undefined);
});

test("reconnect carries the current token in connect", async (t) => {
    const { server, client, conn } = await setup(t);
    const t1 = jwt("ada");
    client.setAuth(fetcher(t1), () => {});
    const c = await conn.handshake();
    assert.equal(c.token, t1);
    conn.terminate();
    const conn2 = await server.connection();
    const c2 = await conn2.next("connect");
    assert.equal(c2.token, t1);
});

test("switching users: the old user's results are hidden (also from a late transition) until the new one's", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    client.setAuthToken(jwt("ada"));
    await conn.next("authenticate");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const me = await subscribed(client, conn, "me:name", "ada", 1);
    const pub = await subscribed(client, conn, "public:count", 7, 2);
    let watchCalls = 0;
    client.watchQuery(me.key, () => watchCalls++);
    assert.equal(client.isAuthenticated, true);
    client.setAuthToken(jwt("bob"));
    assert.equal(client.isAuthenticated, false, "bob is not authenticated before the server says so");
    await conn.next("authenticate");
    assert.equal(client.getQueryResult(me.key), undefined, "ada's result is not bob's");
    assert.equal(client.hasServerResult(me.key), false);
    assert.equal(client.getQueryResult(pub.key), undefined);
    assert.equal(watchCalls, 1, "watchers told the result went back to loading");
    // a transition the server sent for ada before it read the authenticate
    conn.transition(2, 3, [{ type: "QueryUpdated", queryId: me.queryId, value: "ada2", hash: "a2" }]);
    await sleep(30);
    assert.equal(client.getQueryResult(me.key), undefined);
    assert.deepEqual(me.values, ["ada"], "ada's late result is not delivered");
    // a subscriber arriving meanwhile gets nothing yet
    const late = [];
    client.subscribe("me:name", {}, (v) => late.push(v));
    conn.send({ type: "authenticated", identity: identity("bob"), expiresAt: null });
    // the re-run: me:name changed, public:count did not (unchanged results are not sent)
    conn.transition(3, 4, [{ type: "QueryUpdated", queryId: me.queryId, value: "bob", hash: "b" }]);
    await waitFor(() => me.values.length === 2);
    assert.deepEqual(me.values, ["ada", "bob"]);
    assert.deepEqual(late, ["bob"]);
    assert.equal(client.getQueryResult(me.key), "bob");
    assert.equal(client.getQueryResult(pub.key), 7, "an unchanged result holds for the new identity");
    assert.deepEqual(pub.values, [7, 7], "and is delivered again as the new identity's");
    assert.equal(client.isAuthenticated, true);
    assert.equal(client.identity.subject, "bob");
});

test("a token refresh of the same user hides nothing", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    client.setAuthToken(jwt("ada", { n: 1 }));
    await conn.next("authenticate");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const me = await subscribed(client, conn, "me:name", "ada", 1);
    client.setAuthToken(jwt("ada", { n: 2 }));
    await conn.next("authenticate");
    assert.equal(client.getQueryResult(me.key), "ada");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    conn.transition(1, 2, []);
    await sleep(30);
    assert.deepEqual(me.values, ["ada"]);
});

test("calls of the old identity: unsent ones are dropped (AuthChanged), ones on the wire run and settle", async (t) => {
    const { server, client, conn } = await setup(t, { requestTimeoutMs: 5000 });
    await conn.handshake();
    client.setAuthToken(jwt("ada"));
    await conn.next("authenticate");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const sent = client.mutation("m:a", { n: 1 });
    const m1 = await conn.next("mutation");
    // offline: queued under ada
    conn.terminate();
    await waitFor(() => client.connectionState().state !== "connected");
    const queued = client.mutation("m:a", { n: 2 });
    const queuedAction = client.action("x:a", {});
    client.setAuthToken(jwt("bob"));
    await assert.rejects(queued, (e) => e instanceof ClientError && e.code === "AuthChanged" &&
                                        /identity changed/.test(e.message));
    await assert.rejects(queuedAction, (e) => e.code === "AuthChanged");
    // m1 was sent under ada before the drop and never answered: not replayed as bob
    await assert.rejects(sent, (e) => e.code === "AuthChanged" && /may have run/.test(e.message));
    const conn2 = await server.connection();
    const c = await conn2.handshake();
    assert.equal(identityKeyOf(c.token), "https://idp.test|bob");
    // as vireo does: the connect token is answered (bob's calls wait for that answer)
    conn2.send({ type: "authenticated", identity: identity("bob"), expiresAt: null });
    assert.ok(await conn2.none("mutation", 150), "nothing of ada's is replayed");
    assert.ok(m1);
    // on the wire before the switch: runs under the old identity and settles
    const p = client.mutation("m:b", {});
    const m2 = await conn2.next("mutation");
    client.setAuthToken(jwt("cyd"));
    await conn2.next("authenticate");
    conn2.send({ type: "mutationResponse", requestId: m2.requestId, success: true, value: 5 });
    assert.equal(await p, 5);
});

test("a refresh on a live socket: calls made meanwhile wait for its answer; refused, they never run anonymously", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    client.setAuthToken(jwt("ada", { n: 1 }));
    await conn.next("authenticate");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const first = client.mutation("m:a", { n: 1 });
    const m1 = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: m1.requestId, success: true, value: 1 });
    assert.equal(await first, 1);
    // the refresh (same user) goes out; a call made now waits for its answer
    client.setAuthToken(jwt("ada", { n: 2 }));
    await conn.next("authenticate");
    const second = client.mutation("m:a", { n: 2 });
    assert.ok(await conn.none("mutation", 100), "held behind the unanswered authenticate");
    // refused: the session is anonymous now; a fixed token is dropped, and its call with it
    conn.send({ type: "authError", code: "InvalidToken", message: "no" });
    await assert.rejects(second, (e) => e.code === "AuthChanged");
    assert.ok(await conn.none("mutation", 150), "never sent into the anonymous session");
    // a refresh that is accepted: the call made meanwhile follows the acceptance
    client.setAuthToken(jwt("ada", { n: 3 }));
    await conn.next("authenticate");
    const third = client.mutation("m:a", { n: 3 });
    assert.ok(await conn.none("mutation", 60), "held behind the unanswered authenticate");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const m3 = await conn.next("mutation");
    assert.deepEqual(m3.args, { n: 3 });
    conn.send({ type: "mutationResponse", requestId: m3.requestId, success: true, value: 3 });
    assert.equal(await third, 3);
});

test("an authenticate the server's rate limit refused (RateLimited, refused: authenticate) is sent again; calls wait for it", async (t) => {
    const { client, conn } = await setup(t);
    await conn.handshake();
    const token = jwt("ada");
    client.setAuthToken(token);
    await conn.next("authenticate");
    const p = client.mutation("m:a", {});
    conn.send({ type: "error", code: "RateLimited", message: "more than 5 messages per second", refused: "authenticate", retryAfterMs: 40, fatal: false });
    const again = await conn.next("authenticate", 2000);
    assert.equal(again.token, token);
    assert.ok(await conn.none("mutation", 60), "still held");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const m = await conn.next("mutation");
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "ok" });
    assert.equal(await p, "ok");
    // a refused sign-out is sent again too: the server must not keep ada's identity
    client.clearAuth();
    await conn.next("authenticate");
    conn.send({ type: "error", code: "RateLimited", message: "limited", refused: "authenticate", retryAfterMs: 10, fatal: false });
    assert.deepEqual(await conn.next("authenticate", 2000), { type: "authenticate", token: null });
});

test("close() clears the auth timers: no fetch after close", async (t) => {
    const { client, conn } = await setup(t);
    const f = fetcher(jwt("ada", { lifetimeS: 3 }));
    client.setAuth(f, () => {});
    await conn.handshake();
    client.close();
    await sleep(1800);
    assert.equal(f.calls.length, 1);
    assert.throws(() => client.setAuth(f), /closed/);
    client.clearAuth(); // no-op once closed
});

test("a connect token refused before `connected`: refetched once and sent with authenticate", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada", { n: 1 });
    const t2 = jwt("ada", { n: 2 });
    const changes = [];
    client.setAuth(fetcher(t1, t2), (v) => changes.push(v));
    const c = await conn.next("connect");
    assert.equal(c.token, t1);
    conn.send({ type: "authError", code: "InvalidToken", message: "bad signature" });
    conn.send({ type: "connected", sessionId: c.sessionId, version: 0, protocolVersion: 1, resumed: false });
    const values = [];
    client.subscribe("me:name", {}, (v) => values.push(v));
    const a = await conn.next("authenticate");
    assert.equal(a.token, t2);
    const m = await conn.next("modifyQuerySet");
    // the anonymous result (the session is anonymous until t2 is accepted) is not shown as ada's
    conn.transition(0, 1, [{ type: "QueryUpdated", queryId: m.add[0].queryId, value: null, hash: "n" }]);
    await sleep(30);
    assert.deepEqual(values, []);
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    conn.transition(1, 2, [{ type: "QueryUpdated", queryId: m.add[0].queryId, value: "ada", hash: "a" }]);
    await waitFor(() => values.length === 1);
    assert.deepEqual(values, ["ada"]);
    assert.deepEqual(changes, [true]);
});

test("calls wait for the server to accept the connect token; refused, they run after a fresh token of the same user is accepted", async (t) => {
    const { client, conn } = await setup(t);
    const t1 = jwt("ada", { n: 1 });
    const t2 = jwt("ada", { n: 2 });
    client.setAuth(fetcher(t1, t2), () => {});
    const c = await conn.next("connect");
    assert.equal(c.token, t1);
    const p = client.mutation("m:write", { x: 1 });
    conn.send({ type: "connected", sessionId: c.sessionId, version: 0, protocolVersion: 1, resumed: false });
    assert.ok(await conn.none("mutation", 150), "not sent before the token is answered");
    // vireo accepts a token just past its exp (clock leeway), then expires the session at once
    conn.send({ type: "authError", code: "TokenExpired", message: "the token expired" });
    const a = await conn.next("authenticate");
    assert.equal(a.token, t2);
    assert.ok(await conn.none("mutation", 150), "not sent behind a token not yet accepted");
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    const m = await conn.next("mutation");
    assert.deepEqual(m.args, { x: 1 });
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: "as ada" });
    assert.equal(await p, "as ada");
});

test("a refused connect token whose refetch fails: the calls made under it reject (AuthChanged), none runs anonymously", async (t) => {
    const { client, conn } = await setup(t);
    const errors = [];
    const orig = console.error;
    console.error = (...a) => errors.push(a.join(" "));
    t.after(() => (console.error = orig));
    client.setAuth(fetcher(jwt("ada"), new Error("idp down")), () => {});
    const p = client.mutation("m:write", { x: 1 });
    const c = await conn.next("connect");
    conn.send({ type: "connected", sessionId: c.sessionId, version: 0, protocolVersion: 1, resumed: false });
    conn.send({ type: "authError", code: "InvalidToken", message: "bad signature" });
    await assert.rejects(p, (e) => e instanceof ClientError && e.code === "AuthChanged");
    assert.ok(await conn.none("mutation", 150), "nothing sent on the anonymous session");
    // an anonymous call now goes at once
    const q = client.mutation("m:write", { x: 2 });
    const m = await conn.next("mutation");
    assert.deepEqual(m.args, { x: 2 });
    conn.send({ type: "mutationResponse", requestId: m.requestId, success: true, value: 2 });
    assert.equal(await q, 2);
});

test("a token the client knows has expired is not presented on reconnect: a fresh one is fetched first", async (t) => {
    const { server, client, conn } = await setup(t);
    const t1 = jwt("ada", { n: 1, lifetimeS: 1 });
    const t2 = jwt("ada", { n: 2 });
    const f = fetcher(t1, t2);
    client.setAuth(f, () => {});
    const c = await conn.handshake();
    assert.equal(c.token, t1);
    conn.send({ type: "authenticated", identity: identity("ada"), expiresAt: null });
    await waitFor(() => client.isAuthenticated);
    await sleep(1100); // t1 expires (too short-lived to be refreshed ahead)
    conn.terminate();
    const conn2 = await server.connection();
    const c2 = await conn2.next("connect");
    assert.equal(c2.token, t2, "the expired token is not sent");
    assert.deepEqual(f.calls.map((x) => x.forceRefreshToken), [false, true]);
});
