// Verified identities on every path (issue 11, items 1-4): a local OpenID Connect issuer
// (idp.mjs: keys generated per run) and `--jwt-secret`; tokens over HTTP (Vireo's and Convex's
// shapes, HTTP actions), the sync protocol (connect's token, `authenticate`, expiry) and Convex's
// sync protocol, with the real ConvexHttpClient and ConvexClient. Every refusal is its own test:
// HTTP 401 with a JSON error, and on sync an authError after which the connection works
// anonymously.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ConvexHttpClient, ConvexClient } from "convex/browser";
import { startIdp, signHs256, b64url } from "./idp.mjs";
import { tempDir, startServer, request, SyncConn, assertAppLoaded, sleep, waitFor, modOf } from "./helpers.mjs";

const SECRET = "self-hosted-secret-0123456789-abcdefghij";
const SELF_ISS = "https://self.example";
let idp, srv;

before(async () => {
    idp = await startIdp();
    const dir = tempDir("auth");
    fs.writeFileSync(path.join(dir, ".env.local"), `AUTH_DOMAIN=${idp.url}\n`);
    srv = await startServer(dir, { args: ["--jwt-secret", SECRET, "--jwt-issuer", SELF_ISS, "--test-auth-refresh-s", "1",
                                          "--test-auth-clock-skew-s", "2"] });
    await assertAppLoaded(srv);
});

after(async () => {
    if (srv) await srv.stop();
    if (idp) await idp.close();
});

const bearer = (t) => (t === undefined ? {} : { Authorization: `Bearer ${t}` });
const call = (kind, p, token, args = {}) => request(srv.port, "POST", `/api/${kind}`, { path: p, args }, { headers: bearer(token) });
const run = (p, token) => request(srv.port, "POST", `/api/run/${p}`, { args: {}, format: "json" }, { headers: bearer(token) });

async function syncWith(token) {
    const c = await SyncConn.open(srv.port);
    const from = c.mark;
    const msg = { type: "connect", sessionId: crypto.randomUUID(), protocolVersion: 1 };
    if (token !== undefined) msg.token = token;
    c.send(msg);
    await c.waitMsg("connected", { from });
    return c;
}

const firstValue = async (c, queryId, p) => modOf(await c.subscribe(queryId, p), queryId).value;

/* --- accepted --- */

for (const [alg, kid] of [["RS256", "rsa1"], ["ES256", "ec1"], ["EdDSA", "ed1"]]) {
    test(`${alg}: identity over HTTP, with Convex's claims mapping`, async () => {
        const tok = idp.sign({ sub: `u-${alg}`, email: "a@example.com", email_verified: true, given_name: "Ada", team: "core" }, { kid });
        const r = await call("query", "me:whoami", tok);
        assert.equal(r.status, 200, r.text);
        const id = r.json.value;
        assert.equal(id.subject, `u-${alg}`);
        assert.equal(id.issuer, idp.url);
        assert.equal(id.tokenIdentifier, `${idp.url}|u-${alg}`);
        assert.equal(id.email, "a@example.com");
        assert.equal(id.emailVerified, true);
        assert.equal(id.givenName, "Ada");
        assert.equal(id.team, "core"); /* custom claims are kept */
        assert.equal(id.exp, undefined);
    });
}

test("HS256 with --jwt-secret (and its --jwt-issuer)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const tok = signHs256(SECRET, { iss: SELF_ISS, sub: "self-1", exp: now + 600 });
    const r = await call("query", "me:subject", tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, "self-1");
    const other = signHs256(SECRET, { iss: "https://elsewhere.example", sub: "x", exp: now + 600 });
    const bad = await call("query", "me:subject", other);
    assert.equal(bad.status, 401);
    assert.equal(bad.json.errorCode, "InvalidToken");
});

test("no token: anonymous; identity never leaks to the next call; a changed identity object changes nothing", async () => {
    const tok = idp.sign({ sub: "leaky" });
    assert.equal((await call("query", "me:subject", tok)).json.value, "leaky");
    assert.equal((await call("query", "me:subject")).json.value, null);
    assert.equal((await call("query", "me:tamper", tok)).json.value, "leaky");
    /* another scheme is not a token: anonymous */
    const basic = await request(srv.port, "POST", "/api/query", { path: "me:subject", args: {} }, { headers: { Authorization: "Basic dXNlcjpwdw==" } });
    assert.equal(basic.json.value, null);
});

test("ctx.auth in a mutation, an action and its nested calls, an HTTP action; a scheduled function sees null", async () => {
    const tok = idp.sign({ sub: "writer" });
    const m = await call("mutation", "me:record", tok);
    assert.equal(m.json.value, "writer");
    const a = await call("action", "me:act", tok);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json.value, { self: "writer", nested: "writer", wrote: "writer" });
    const anon = await call("action", "me:act");
    assert.deepEqual(anon.json.value, { self: null, nested: null, wrote: null });
    const h = await request(srv.port, "GET", "/whoami", undefined, { headers: bearer(tok) });
    assert.equal(h.status, 200, h.text);
    assert.equal(h.json.identity.subject, "writer");
    const h0 = await request(srv.port, "GET", "/whoami");
    assert.equal(h0.json.identity, null);
    // a token the app's providers refuse does not stop an HTTP action (Convex's behaviour): only
    // getUserIdentity() throws, here and in its nested calls; another scheme too
    for (const header of ["Bearer x.y.z", "Bearer helloworld", "a", "Basic dXNlcjpwYXNz", `Bearer ${idp.sign({ sub: "late", exp: Math.floor(Date.now() / 1000) - 3600 })}`]) {
        const hbad = await request(srv.port, "GET", "/authHeader", undefined, { headers: { Authorization: header } });
        assert.equal(hbad.status, 200, hbad.text);
        assert.equal(hbad.json.authorizationHeader, header);
        assert.equal(hbad.json.identity, "error");
        assert.match(hbad.json.error, /^Could not verify the request's Authorization header: /);
        assert.match(hbad.json.nested, /^error: .*Could not verify the request's Authorization header/);
    }
    const hgood = await request(srv.port, "GET", "/authHeader", undefined, { headers: bearer(tok) });
    assert.equal(hgood.json.identity.subject, "writer");
    assert.equal(hgood.json.nested, "writer");
    const hnone = await request(srv.port, "GET", "/authHeader");
    assert.equal(hnone.json.identity, null);
    assert.equal(hnone.json.nested, null);
    /* the scheduled runs (three records above: two with an identity) all saw none */
    await waitFor(async () => (await call("query", "me:seen")).json.value.length >= 3, { what: "scheduled runs" });
    const seen = (await call("query", "me:seen")).json.value;
    assert.ok(seen.every((w) => w === null), JSON.stringify(seen));
});

test("the admin key still works on /api/admin/run (it is not taken for a JWT)", async () => {
    const r = await request(srv.port, "POST", "/api/admin/run", { path: "me:subject", args: {} }, { headers: bearer(srv.adminKey) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, null);
});

/* --- each refusal: HTTP (both shapes) and sync --- */

function refusal(name, makeToken, code, re, { headerTooLarge = false } = {}) {
    test(`refused: ${name}`, async () => {
        const tok = makeToken();
        const r = await call("query", "me:subject", tok);
        if (headerTooLarge) {
            /* over HTTP the 16 KiB request-header limit refuses it first (431) */
            assert.equal(r.status, 431, r.text);
            await syncRefusal(tok, code, re);
            return;
        }
        assert.equal(r.status, 401, r.text);
        assert.equal(r.json.status, "error");
        assert.equal(r.json.errorCode, code);
        assert.match(r.json.errorMessage, re);
        const cv = await run("me/subject", tok);
        assert.equal(cv.status, 401, cv.text);
        assert.equal(cv.json.code, code);
        assert.match(cv.json.message, re);
        await syncRefusal(tok, code, re);
    });
}

/* sync: authError, then the same connection works anonymously */
async function syncRefusal(tok, code, re) {
        const c = await syncWith(tok);
        const e = await c.waitMsg("authError");
        assert.equal(e.code, code);
        assert.match(e.message, re);
        assert.equal(await firstValue(c, 1, "me:subject"), null);
        const m = await c.call("mutation", 1, "me:record");
        assert.equal(m.success, true);
        assert.equal(m.value, null);
        /* and authenticate refuses the same way without closing */
        const from = c.mark;
        c.send({ type: "authenticate", token: tok });
        const e2 = await c.waitMsg("authError", { from });
        assert.equal(e2.code, code);
        assert.equal(c.closed, null);
        c.close();
        assert.ok(!(srv.stdout + srv.stderr).includes(tok.slice(0, 60)) || tok.length < 20, "a token reached the log");
}

const now = () => Math.floor(Date.now() / 1000);
refusal("alg none", () => {
    const t = idp.sign({}, { header: { alg: "none" } }).split(".");
    return `${t[0]}.${t[1]}.`;
}, "InvalidToken", /none|algorithm/i);
refusal("algorithm confusion (HS256 signed with the RSA public key PEM)", () => signHs256(idp.publicPem("rsa1"), { iss: idp.url, aud: "vireo-test", sub: "evil", exp: now() + 600 }, { kid: "rsa1" }), "InvalidToken", /HS256|algorithm|key/i);
refusal("bad signature", () => {
    const t = idp.sign({ sub: "a" }).split(".");
    const other = idp.sign({ sub: "b" }).split(".");
    return `${t[0]}.${t[1]}.${other[2]}`;
}, "InvalidToken", /signature/i);
refusal("expired", () => idp.sign({ exp: now() - 300, iat: now() - 900 }), "TokenExpired", /expired/i);
refusal("nbf in the future", () => idp.sign({ nbf: now() + 600 }), "InvalidToken", /nbf|not (yet )?valid/i);
refusal("wrong audience", () => idp.sign({ aud: "someone-else" }), "InvalidToken", /aud/i);
refusal("wrong issuer", () => idp.sign({ iss: "https://evil.example" }), "InvalidToken", /issuer `https:\/\/evil\.example`/);
refusal("unknown kid (refetched, still unknown)", () => idp.sign({}, { kid: "rsa1", header: { kid: "nope" } }), "InvalidToken", /kid/);
refusal("malformed base64", () => "eyJhbGciOiJSUzI1NiJ9!!.e30.c2ln", "InvalidToken", /JWT|base64|malformed/i);
refusal("malformed JSON", () => `${b64url("{\"alg\":")}.${b64url("{not json")}.${b64url("sig")}`, "InvalidToken", /JWT|JSON|malformed/i);
refusal("oversized token (> 16 KiB)", () => idp.sign({ pad: "x".repeat(17000) }), "InvalidToken", /16384/, { headerTooLarge: true });

/* --- keys --- */

test("key rotation: a new kid makes the server refetch the JWKS and accept it", async () => {
    assert.equal((await call("query", "me:subject", idp.sign({ sub: "before" }))).json.value, "before");
    const hits = idp.hits.jwks;
    idp.rotate("rsa2", "RS256");
    await sleep(1100); /* --test-auth-refresh-s 1 */
    const r = await call("query", "me:subject", idp.sign({ sub: "rotated" }, { kid: "rsa2" }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value, "rotated");
    assert.ok(idp.hits.jwks > hits, "refetched");
});

test("keys past their age are fetched again while they verify: a key the provider withdrew stops verifying; a failed refetch keeps the keys", { timeout: 30000 }, async () => {
    const own = await startIdp();
    const dir = tempDir("auth");
    fs.writeFileSync(path.join(dir, ".env.local"), `AUTH_DOMAIN=${own.url}\n`);
    const s = await startServer(dir, { args: ["--test-auth-keys-max-age-s", "1"] });
    const ask = (t) => request(s.port, "POST", "/api/query", { path: "me:subject", args: {} }, { headers: bearer(t) });
    try {
        const old = own.sign({ sub: "old-key" });
        assert.equal((await ask(old)).json.value, "old-key");
        // the provider withdraws rsa1 (compromised) and publishes rsa2
        own.rotate("rsa2", "RS256", { drop: ["rsa1"] });
        await sleep(1200);
        const hits = own.hits.jwks;
        assert.equal((await ask(old)).json.value, "old-key", "stale keys verify while they are fetched again");
        await waitFor(() => own.hits.jwks > hits, { what: "the refetch" });
        await waitFor(async () => (await ask(old)).status === 401, { what: "the withdrawn key refused" });
        assert.equal((await ask(own.sign({ sub: "new-key" }, { kid: "rsa2" }))).json.value, "new-key");
        // the provider down when the keys are stale again: they are kept
        own.down = true;
        await sleep(1200);
        const fresh = own.sign({ sub: "kept" }, { kid: "rsa2" });
        for (let i = 0; i < 3; i++) {
            assert.equal((await ask(fresh)).json.value, "kept");
            await sleep(300);
        }
    } finally {
        await s.stop();
        await own.close();
    }
});

test("provider down after the keys were fetched: cached keys keep working", async () => {
    idp.down = true;
    try {
        for (const kid of ["rsa1", "ec1", "ed1"]) {
            const r = await call("query", "me:subject", idp.sign({ sub: `cached-${kid}` }, { kid }));
            assert.equal(r.json.value, `cached-${kid}`);
        }
        /* a kid it never saw cannot be fetched now: refused, the server keeps serving */
        await sleep(1100);
        const r = await call("query", "me:subject", idp.sign({}, { kid: "rsa1", header: { kid: "ghost" } }));
        assert.equal(r.status, 401);
    } finally {
        idp.down = false;
    }
});

/* --- sync --- */

test("sync: connect's token sets the identity before the queries run; mutations and actions run with it", async () => {
    const c = await syncWith(idp.sign({ sub: "sync-user" }));
    const a = await c.waitMsg("authenticated");
    assert.equal(a.identity.subject, "sync-user");
    assert.equal(a.identity.tokenIdentifier, `${idp.url}|sync-user`);
    assert.ok(a.expiresAt > Date.now());
    assert.equal(await firstValue(c, 1, "me:subject"), "sync-user");
    assert.equal((await c.call("mutation", 1, "me:record")).value, "sync-user");
    const act = await c.call("action", 2, "me:act");
    assert.deepEqual(act.value, { self: "sync-user", nested: "sync-user", wrote: "sync-user" });
    c.close();
});

test("sync: authenticate swaps the identity: authenticated, then exactly one transition with the new results", async () => {
    const c = await syncWith(idp.sign({ sub: "alice" }));
    assert.equal(await firstValue(c, 1, "me:subject"), "alice");
    const who = modOf(await c.subscribe(2, "me:whoami"), 2).value;
    assert.equal(who.subject, "alice");
    const from = c.mark;
    c.send({ type: "authenticate", token: idp.sign({ sub: "bob" }, { kid: "ec1" }) });
    const a = await c.waitMsg("authenticated", { from });
    assert.equal(a.identity.subject, "bob");
    const t = await c.waitMsg("transition", { from });
    assert.equal(modOf(t, 1).value, "bob");
    assert.equal(modOf(t, 2).value.subject, "bob");
    await sleep(300);
    assert.equal(c.transitions(from).length, 1, JSON.stringify(c.transitions(from)));
    /* sign out */
    const f2 = c.mark;
    c.send({ type: "authenticate", token: null });
    const out = await c.waitMsg("authenticated", { from: f2 });
    assert.equal(out.identity, null);
    assert.equal(out.expiresAt, null);
    const t2 = await c.waitMsg("transition", { from: f2 });
    assert.equal(modOf(t2, 1).value, null);
    assert.equal(modOf(t2, 2).value, null);
    c.close();
});

test("sync: two users on the same query get their own results; anonymous sessions share theirs", async () => {
    const a = await syncWith(idp.sign({ sub: "user-a" }));
    const b = await syncWith(idp.sign({ sub: "user-b" }, { kid: "ed1" }));
    const n1 = await syncWith();
    const n2 = await syncWith();
    assert.equal(await firstValue(a, 1, "me:subject"), "user-a");
    assert.equal(await firstValue(b, 1, "me:subject"), "user-b");
    assert.equal(await firstValue(n1, 1, "me:subject"), null);
    assert.equal(await firstValue(n2, 1, "me:subject"), null);
    for (const c of [a, b, n1, n2]) c.close();
});

test("sync: a token expiring mid-subscription: authError TokenExpired, the query re-runs anonymously", async () => {
    const c = await syncWith(idp.sign({ sub: "short", exp: now() + 3 }));
    assert.equal(await firstValue(c, 1, "me:subject"), "short");
    const from = c.mark;
    const e = await c.waitMsg("authError", { from, timeout: 10000 });
    assert.equal(e.code, "TokenExpired");
    assert.match(e.message, /the token expired at \d{4}-/);
    const t = await c.waitMsg("transition", { from });
    assert.equal(modOf(t, 1).value, null);
    assert.equal(c.closed, null);
    c.close();
});

test("sync: a token past its exp but within the clock skew keeps its identity until exp + the skew, as it verifies", async () => {
    const exp = now() - 1; // verifies until exp + 2 s here (--test-auth-clock-skew-s 2)
    const c = await syncWith(idp.sign({ sub: "late", exp }));
    const connected = c.mark;
    assert.equal(await firstValue(c, 1, "me:subject"), "late");
    assert.ok(!c.messages.slice(connected).some((m) => m.type === "authError"), "not expired at once");
    const e = await c.waitMsg("authError", { from: connected, timeout: 6000 });
    assert.equal(e.code, "TokenExpired");
    assert.ok(Date.now() >= (exp + 2) * 1000 - 50, `expired at exp + the skew, not before (${Date.now() - exp * 1000} ms after exp)`);
    c.close();
});

test("sync: `token` of the wrong type is an InvalidMessage", async () => {
    const c = await SyncConn.open(srv.port);
    c.send({ type: "connect", sessionId: crypto.randomUUID(), token: 42 });
    const e = await c.waitMsg("error");
    assert.equal(e.code, "InvalidMessage");
    assert.match(e.message, /`token`/);
    c.close();
});

/* --- the real Convex clients --- */

test("ConvexHttpClient.setAuth(token): identity visible; a bad token is refused with 401", async () => {
    const client = new ConvexHttpClient(srv.url);
    client.setAuth(idp.sign({ sub: "http-client" }));
    assert.equal(await client.query("me:subject", {}), "http-client");
    assert.equal(await client.mutation("me:record", {}), "http-client");
    assert.equal((await client.action("me:act", {})).nested, "http-client");
    client.setAuth(idp.sign({ exp: now() - 300, iat: now() - 900 }));
    await assert.rejects(client.query("me:subject", {}), /TokenExpired/);
    client.clearAuth();
    assert.equal(await client.query("me:subject", {}), null);
});

test("ConvexClient.setAuth(fetchToken): authenticated live query; a refused token leaves it unauthenticated", async () => {
    const client = new ConvexClient(srv.url, { logger: false });
    try {
        const changes = [];
        client.setAuth(async () => idp.sign({ sub: "live-client" }, { kid: "ec1" }), (ok) => changes.push(ok));
        const values = [];
        client.onUpdate("me:subject", {}, (v) => values.push(v));
        await waitFor(() => values.includes("live-client"), { what: "the authenticated result", timeout: 8000 });
        await waitFor(() => changes.includes(true), { what: "onChange(true)" });
        assert.equal(await client.mutation("me:record", {}), "live-client");
        /* a provider that only hands out bad tokens: refused, the client gives up and keeps working */
        const bad = [];
        client.setAuth(async () => idp.sign({ aud: "nope" }), (ok) => bad.push(ok));
        await waitFor(() => bad.includes(false), { what: "onChange(false)", timeout: 10000 });
        await waitFor(() => values[values.length - 1] === null, { what: "anonymous again", timeout: 8000 });
        assert.equal(await client.query("me:subject", {}), null);
    } finally {
        await client.close();
    }
});

test("a bad auth.config fails the load naming the field; the server keeps running", async () => {
    const dir = tempDir("auth");
    fs.writeFileSync(path.join(dir, "vireo", "auth.config.ts"), "export default { providers: [{ domain: 'https://x.example' }] };\n");
    const s = await startServer(dir);
    try {
        await waitFor(() => /providers\[0\] needs `applicationID`/.test(s.stdout + s.stderr), { what: "the load error" });
        const h = await request(s.port, "GET", "/api/health");
        assert.equal(h.status, 200);
    } finally {
        await s.stop();
    }
});
