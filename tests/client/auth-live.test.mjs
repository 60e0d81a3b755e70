// VireoClient auth against a real `vireo dev --jwt-secret` (tests/integration/apps/auth-client,
// whose query returns the caller's subject): setAuth shows the subject, switching users shows the
// new one, clearAuth shows null, a 4 s token is refreshed before it expires with no null in
// between, a token signed with another secret gives onChange(false) and null. HS256 tokens are
// signed here with node:crypto. Skipped (saying why) on a server without --jwt-secret.
import test, { before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import WebSocket from "ws";
import { VireoClient } from "../../clients/js/src/index.js";
import { startServer, tempDir, assertAppLoaded, waitFor, sleep, runCli } from "../integration/helpers.mjs";

const SECRET = "vireo-client-auth-test-secret-0123456789abcdef";
const ISSUER = "https://auth-live.vireo.test";

const help = await runCli(["dev", "--help"]);
const skip = /--jwt-secret/.test(help.stdout + help.stderr) ? false
    : "the server has no --jwt-secret (`vireo dev --help`): its auth (h/auth) is not merged yet";
if (skip) console.log(`# auth-live skipped: ${skip}`);

let srv;
const clients = [];

before(async () => {
    if (skip) return;
    srv = await startServer(tempDir("auth-client"), { args: ["--jwt-secret", SECRET] });
    await assertAppLoaded(srv);
});
after(async () => {
    for (const c of clients) c.close();
    if (srv) await srv.stop();
});

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
let serial = 0;
/** An HS256 JWT for `sub` living `lifetimeS` seconds from now. */
function sign(sub, { lifetimeS = 3600, secret = SECRET } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({
        iss: ISSUER, sub, aud: "vireo", iat: now, exp: now + lifetimeS, jti: `t${++serial}` })}`;
    return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

function client() {
    const c = new VireoClient(srv.url, { WebSocket, backoff: { baseMs: 30, maxMs: 200 }, requestTimeoutMs: 15000 });
    clients.push(c);
    return c;
}

/** Subscribes to me:subject; `seen` gets every value delivered. */
function watchSubject(c) {
    const seen = [];
    c.subscribe("me:subject", {}, (v) => seen.push(v));
    return seen;
}

const last = (a) => a[a.length - 1];

test("setAuth: the query shows the token's subject; onChange(true)", { skip, timeout: 20000 }, async () => {
    const c = client();
    const changes = [];
    const calls = [];
    c.setAuth(async (args) => {
        calls.push(args);
        return sign("ada");
    }, (v) => changes.push(v));
    const seen = watchSubject(c);
    await waitFor(() => last(seen) === "ada", { what: "subject ada" });
    assert.deepEqual(seen, ["ada"], "no anonymous result first: connect waited for the token");
    await waitFor(() => changes.length === 1, { what: "onChange" });
    assert.deepEqual(changes, [true]);
    assert.deepEqual(calls, [{ forceRefreshToken: false }]);
    assert.equal(c.isAuthenticated, true);
});

test("switching users on a live connection: the new subject, mutations run as the new user", { skip, timeout: 20000 }, async () => {
    const c = client();
    c.setAuthToken(sign("ada"));
    const seen = watchSubject(c);
    await waitFor(() => last(seen) === "ada", { what: "subject ada" });
    assert.equal(await c.mutation("me:subjectOfWriter", {}), "ada");
    const key = VireoClient.makeKey("me:subject", {});
    c.setWsToken(sign("bob"));
    assert.equal(c.getQueryResult(key), undefined, "ada's result is not shown as bob's");
    assert.equal(await c.mutation("me:subjectOfWriter", {}), "bob");
    await waitFor(() => last(seen) === "bob", { what: "subject bob" });
    assert.equal(c.getQueryResult(key), "bob");
    assert.deepEqual(seen, ["ada", "bob"]);

    c.setAuth(async () => sign("cyd"), () => {});
    await waitFor(() => last(seen) === "cyd", { what: "subject cyd" });
    assert.equal(c.connectionState().state, "connected");
});

test("clearAuth: the query shows null", { skip, timeout: 20000 }, async () => {
    const c = client();
    c.setAuth(async () => sign("ada"), () => {});
    const seen = watchSubject(c);
    await waitFor(() => last(seen) === "ada", { what: "subject ada" });
    c.clearAuth();
    await waitFor(() => last(seen) === null, { what: "null after clearAuth" });
    assert.deepEqual(seen, ["ada", null]);
    assert.equal(await c.mutation("me:subjectOfWriter", {}), null);
});

test("a 4 s token is refreshed before it expires: no null in between, no authError", { skip, timeout: 30000 }, async () => {
    const c = client();
    const calls = [];
    c.setAuth(async (args) => {
        calls.push(args);
        return sign("ada", { lifetimeS: 4 });
    }, () => {});
    const seen = watchSubject(c);
    await waitFor(() => last(seen) === "ada", { what: "subject ada" });
    await sleep(9000); // two lifetimes and more
    assert.ok(calls.filter((a) => a.forceRefreshToken).length >= 3,
              `refreshed ${calls.length - 1} times in 9 s`);
    assert.ok(!seen.includes(null), `values seen: ${JSON.stringify(seen)}`);
    assert.equal(c.lastAuthError, null, `authError: ${c.lastAuthError?.message}`);
    assert.equal(await c.mutation("me:subjectOfWriter", {}), "ada");
});

test("an invalid token: onChange(false) and the query shows null", { skip, timeout: 20000 }, async () => {
    const c = client();
    const changes = [];
    const calls = [];
    c.setAuth(async (args) => {
        calls.push(args);
        return sign("eve", { secret: "another-secret-another-secret-another-secret" });
    }, (v) => changes.push(v));
    const seen = watchSubject(c);
    await waitFor(() => changes.length === 1, { what: "onChange" });
    assert.deepEqual(changes, [false]);
    await waitFor(() => seen.length >= 1 && last(seen) === null, { what: "null subject" });
    await sleep(300);
    assert.deepEqual(calls.map((a) => a.forceRefreshToken), [false, true], "one forced refetch, no loop");
    assert.equal(c.lastAuthError?.code, "InvalidToken");
    assert.equal(c.authToken, null);
});

test("offline past the token's expiry with the identity provider down: queued mutations run as the user or reject, never anonymously", { skip, timeout: 30000 }, async () => {
    let offline = false; // the network: the socket cannot open
    let idpDown = false;
    const sockets = [];
    class NetSocket extends WebSocket {
        constructor(url, ...rest) {
            super(offline ? "ws://127.0.0.1:1/api/sync" : url, ...rest);
            sockets.push(this);
        }
    }
    const c = new VireoClient(srv.url, { WebSocket: NetSocket, backoff: { baseMs: 30, maxMs: 100 }, requestTimeoutMs: 15000 });
    clients.push(c);
    const errors = [];
    const orig = console.error;
    console.error = (...a) => errors.push(a.join(" "));
    try {
        c.setAuth(async () => {
            if (idpDown) throw new Error("identity provider unreachable");
            return sign("ada", { lifetimeS: 3 });
        }, () => {});
        await waitFor(() => c.isAuthenticated, { what: "signed in" });
        assert.equal(await c.mutation("me:subjectOfWriter", {}), "ada");
        offline = idpDown = true;
        for (const s of sockets) s.terminate();
        await waitFor(() => c.connectionState().state !== "connected", { what: "offline" });
        const ps = [1, 2, 3].map(() => c.mutation("me:subjectOfWriter", {}).then(
            (value) => ({ status: "fulfilled", value }), (reason) => ({ status: "rejected", reason })));
        await sleep(3500); // the token expires while offline (its refresh fails)
        offline = false; // the network is back; the provider answers a moment later
        await sleep(150);
        idpDown = false;
        const out = await Promise.all(ps);
        for (const r of out) {
            if (r.status === "fulfilled") assert.equal(r.value, "ada", "a mutation ran anonymously");
            else assert.equal(r.reason.code, "AuthChanged", r.reason.message);
        }
    } finally {
        console.error = orig;
    }
});
