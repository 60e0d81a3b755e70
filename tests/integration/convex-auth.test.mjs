// The real @convex-dev/auth (0.0.95, from node_modules, unchanged) on Vireo (issue 11, item 5) on
// apps/convex-auth, set up as the library's docs say (convexAuth with the Password provider,
// auth.addHttpRoutes, auth.config.ts reading CONVEX_SITE_URL, authTables). The JWT keys are
// generated per run as the library's generateKeys script does and set in .env.local. The flow
// is the one the library's React client runs, through the real ConvexHttpClient and
// ConvexClient: sign up, the token verified by Vireo against the app's own JWKS route,
// getAuthUserId in a query, sign in again, a wrong password, refresh, sign out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { ConvexHttpClient, ConvexClient } from "convex/browser";
import { tempDir, startServer, assertAppLoaded, request, REPO } from "./helpers.mjs";

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

const client = () => new ConvexHttpClient(srv.url, { logger: false });

async function signUp(email, password) {
    const r = await client().action("auth:signIn", { provider: "password", params: { email, password, flow: "signUp" } });
    return r;
}

test("sign up returns tokens; the token is a verified identity; getAuthUserId in a query", async () => {
    const r = await signUp("ada@example.com", "correct horse battery");
    assert.ok(r.tokens, JSON.stringify(r));
    assert.equal(typeof r.tokens.token, "string");
    assert.equal(typeof r.tokens.refreshToken, "string");
    const c = client();
    c.setAuth(r.tokens.token);
    const me = await c.query("users:viewer", {});
    assert.ok(me, "viewer is signed in");
    assert.equal(me.email, "ada@example.com");
    assert.match(me.userId, /^[A-Za-z0-9_-]+$/);
    assert.equal(await client().query("users:viewer", {}), null, "no token: no user");
});
