// The real @convex-dev/auth (0.0.95, from node_modules, unchanged) on Vireo (issue 11, item 5) on
// apps/convex-auth, set up as the library's docs say (convexAuth with the Password provider,
// auth.addHttpRoutes, auth.config.ts reading CONVEX_SITE_URL, authTables). The JWT keys are
// generated per run as the library's generateKeys script does and set in .env.local. The flow
// is the one the library's React client runs, through the real ConvexHttpClient and
// ConvexClient: sign up (lucia's Scrypt over crypto.subtle PBKDF2), a token signed by jose with
// crypto.subtle RSA and verified by Vireo against the app's own JWKS route, getAuthUserId in
// queries and mutations, sign in again, wrong passwords, refresh, sign out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { ConvexHttpClient, ConvexClient } from "convex/browser";
import { tempDir, startServer, assertAppLoaded, request, waitFor, REPO } from "./helpers.mjs";

let srv;

/* What the library's docs' generateKeys script prints, made with node:crypto. */
function generateKeys() {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" });
    const jwk = publicKey.export({ format: "jwk" });
    return {
        JWT_PRIVATE_KEY: pem.trimEnd().replace(/\n/g, " "),
        JWKS: JSON.stringify({ keys: [{ use: "sig", ...jwk }] }),
    };
}

before(async () => {
    const dir = tempDir("convex-auth");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    const keys = generateKeys();
    fs.writeFileSync(path.join(dir, ".env.local"),
                     `JWT_PRIVATE_KEY='${keys.JWT_PRIVATE_KEY}'\nJWKS='${keys.JWKS}'\n`);
    srv = await startServer(dir);
    await assertAppLoaded(srv);
});

after(async () => {
    if (srv) await srv.stop();
});

const client = (token) => {
    const c = new ConvexHttpClient(srv.url, { logger: false });
    if (token) c.setAuth(token);
    return c;
};
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

/* What useAuthActions().signIn("password", ...) sends. */
const password = (email, pw, flow) => client().action("auth:signIn", { provider: "password", params: { email, password: pw, flow } });

async function timed(t, what, fn) {
    const t0 = performance.now();
    const r = await fn();
    t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms`);
    return r;
}

test("CONVEX_SITE_URL and CONVEX_CLOUD_URL are the server's URL; the library's OpenID and JWKS routes answer", async () => {
    assert.deepEqual(await client().query("users:siteUrl", {}), { site: srv.url, cloud: srv.url });
    const oidc = await request(srv.port, "GET", "/.well-known/openid-configuration");
    assert.equal(oidc.status, 200);
    assert.equal(oidc.json.issuer, srv.url);
    assert.equal(oidc.json.jwks_uri, `${srv.url}/.well-known/jwks.json`);
    const jwks = await request(srv.port, "GET", "/.well-known/jwks.json");
    assert.equal(jwks.status, 200);
    assert.equal(jwks.json.keys[0].kty, "RSA");
});

let ada; /* {tokens, userId} of the first sign-up */

test("sign up: tokens; the JWT is RS256 from CONVEX_SITE_URL; getAuthUserId in a query and a mutation", async (t) => {
    const r = await timed(t, "signUp (Scrypt hash + RS256 sign)", () => password("ada@example.com", "correct horse battery", "signUp"));
    assert.ok(r.tokens, JSON.stringify(r));
    const { token, refreshToken } = r.tokens;
    assert.equal(typeof refreshToken, "string");
    const claims = payload(token);
    assert.equal(JSON.parse(Buffer.from(token.split(".")[0], "base64url")).alg, "RS256");
    assert.equal(claims.iss, srv.url);
    assert.equal(claims.aud, "convex");
    assert.ok(claims.exp - claims.iat === 3600, "the library's one-hour token");
    const me = await client(token).query("users:viewer", {});
    assert.equal(me.email, "ada@example.com");
    assert.equal(me.sessionActive, true);
    assert.equal(claims.sub, `${me.userId}|${me.sessionId}`);
    assert.equal(await client().query("users:viewer", {}), null, "no token: no user");
    await client(token).mutation("users:addNote", { text: "hello" });
    assert.deepEqual(await client(token).query("users:myNotes", {}), ["hello"]);
    await assert.rejects(client().mutation("users:addNote", { text: "x" }), /Not signed in/);
    ada = { tokens: r.tokens, userId: me.userId };
});

test("sign in again with the same password: the same user, a new session; wrong password and unknown email fail", async (t) => {
    const r = await timed(t, "signIn (Scrypt verify + RS256 sign)", () => password("ada@example.com", "correct horse battery", "signIn"));
    const me = await client(r.tokens.token).query("users:viewer", {});
    assert.equal(me.userId, ada.userId);
    assert.notEqual(me.sessionId, payload(ada.tokens.token).sub.split("|")[1]);
    assert.deepEqual(await client(r.tokens.token).query("users:myNotes", {}), ["hello"]);
    await assert.rejects(password("ada@example.com", "wrong horse battery", "signIn"), /InvalidSecret/);
    await assert.rejects(password("nobody@example.com", "correct horse battery", "signIn"), /InvalidAccountId/);
    // signUp of an existing email: with its password it signs in (the library's rule), else refused
    const again = await password("ada@example.com", "correct horse battery", "signUp");
    assert.equal((await client(again.tokens.token).query("users:viewer", {})).userId, ada.userId);
    await assert.rejects(password("ada@example.com", "another password", "signUp"), /Account ada@example.com already exists/);
    await assert.rejects(password("bob@example.com", "short", "signUp"), /Invalid password/);
});

test("a second user sees only their own notes", async () => {
    const r = await password("bob@example.com", "bobs long password", "signUp");
    const bob = client(r.tokens.token);
    assert.notEqual((await bob.query("users:viewer", {})).userId, ada.userId);
    assert.deepEqual(await bob.query("users:myNotes", {}), []);
});

test("refresh: signIn with the refreshToken gives a new token for the same session", async () => {
    const r = await client().action("auth:signIn", { refreshToken: ada.tokens.refreshToken });
    assert.ok(r.tokens, JSON.stringify(r));
    assert.notEqual(r.tokens.refreshToken, ada.tokens.refreshToken);
    assert.equal(payload(r.tokens.token).sub, payload(ada.tokens.token).sub, "same user and session");
    const me = await client(r.tokens.token).query("users:viewer", {});
    assert.equal(me.userId, ada.userId);
    ada.tokens = r.tokens;
    await assert.rejects(client().action("auth:signIn", { refreshToken: "not-a-refresh-token" }), /Can't parse refresh token/);
});

test("ConvexClient (WebSocket) with setAuth: the user's live query, then signOut ends the session", async () => {
    const ws = new ConvexClient(srv.url, { logger: false });
    try {
        let token = ada.tokens.token;
        ws.setAuth(async () => token);
        const seen = [];
        const unsub = ws.onUpdate("users:viewer", {}, (v) => seen.push(v));
        await waitFor(() => seen.some((v) => v && v.userId === ada.userId), { what: "the signed-in viewer" });
        // signOut as the React client calls it: an authenticated action
        await ws.action("auth:signOut", {});
        await waitFor(() => seen.at(-1) && seen.at(-1).sessionActive === false, { what: "the session gone" });
        unsub();
    } finally {
        await ws.close();
    }
    // the session's refresh token no longer works
    const r = await client().action("auth:signIn", { refreshToken: ada.tokens.refreshToken });
    assert.equal(r.tokens, null);
});

test("the library's rate limit: too many wrong passwords lock the account with TooManyFailedAttempts", async () => {
    await password("carol@example.com", "carols password", "signUp");
    let last;
    for (let i = 0; i < 12; i++) {
        last = await password("carol@example.com", "wrong password!", "signIn").catch((e) => e);
        if (/TooManyFailedAttempts/.test(last.message)) break;
    }
    assert.match(last.message, /TooManyFailedAttempts/);
    await assert.rejects(password("carol@example.com", "carols password", "signIn"), /TooManyFailedAttempts/);
});
