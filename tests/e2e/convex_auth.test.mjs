// The real @convex-dev/auth in headless Chromium against `vireo dev` (issue 11, item 5): the
// fixture tests/integration/apps/convex-auth (a Convex project as the library's docs set it up,
// keys generated per run into .env.local) and its page (src/main.tsx: ConvexAuthProvider and
// useAuthActions from @convex-dev/auth/react over the official ConvexReactClient), bundled here
// with esbuild. Sign up → the user id from getAuthUserId shown → reload (the tokens the library
// keeps in localStorage sign the page in again) → sign out → signed out after a reload too; a
// wrong password shows the library's error; signing in again gives the same user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import * as esbuild from "esbuild";
import { REPO, tempDir, startServer, assertAppLoaded } from "../integration/helpers.mjs";
import { launchBrowser, openPage } from "./helpers.mjs";

let srv, browser;

before(async () => {
    const dir = tempDir("convex-auth");
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).trimEnd().replace(/\n/g, " ");
    const jwks = JSON.stringify({ keys: [{ use: "sig", ...publicKey.export({ format: "jwk" }) }] });
    fs.writeFileSync(path.join(dir, ".env.local"), `JWT_PRIVATE_KEY='${pem}'\nJWKS='${jwks}'\n`);
    await esbuild.build({
        entryPoints: [path.join(dir, "src/main.tsx")], outfile: path.join(dir, "public/app.js"),
        bundle: true, format: "esm", jsx: "automatic", target: "es2022", logLevel: "warning",
        define: { "process.env.NODE_ENV": '"production"' },
    });
    srv = await startServer(dir);
    await assertAppLoaded(srv);
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    if (srv) await srv.stop();
});

async function waitState(page, state) {
    try {
        await page.waitForSelector(`#app[data-state="${state}"]`, { timeout: 45000 });
    } catch (e) {
        e.message += `\npage errors: ${JSON.stringify(page.errors)}\nvireo stderr tail: ${srv.stderr.slice(-1500)}`;
        throw e;
    }
}

async function submit(page, email, password, flow) {
    await page.fill("#email-input", email);
    await page.fill("#password-input", password);
    await page.selectOption("#flow", flow);
    await page.click("#submit");
}

test("sign up, the user shown, kept across a reload, sign out, a wrong password, sign in again", async () => {
    const page = await openPage(browser, srv.url);
    await waitState(page, "signed-out");
    await submit(page, "ada@example.com", "correct horse battery", "signUp");
    await waitState(page, "signed-in");
    await page.waitForFunction(() => document.querySelector("#user")?.textContent.length > 0, null, { timeout: 45000 });
    const userId = await page.textContent("#user");
    assert.equal(await page.textContent("#email"), "ada@example.com");
    assert.match(userId, /^[A-Za-z0-9_-]{10,}$/);
    // the library keeps its tokens in localStorage: a reload is still signed in
    await page.reload();
    await waitState(page, "signed-in");
    await page.waitForFunction((id) => document.querySelector("#user")?.textContent === id, userId, { timeout: 45000 });
    await page.click("#signout");
    await waitState(page, "signed-out");
    await page.reload();
    await waitState(page, "signed-out");
    await submit(page, "ada@example.com", "not her password", "signIn");
    await page.waitForSelector("#error", { timeout: 45000 });
    assert.match(await page.textContent("#error"), /InvalidSecret/);
    assert.equal(await page.getAttribute("#app", "data-state"), "signed-out");
    await submit(page, "ada@example.com", "correct horse battery", "signIn");
    await waitState(page, "signed-in");
    await page.waitForFunction((id) => document.querySelector("#user")?.textContent === id, userId, { timeout: 45000 });
    // expected: the failed sign-in (the library logs it) and the browser's favicon request
    const unexpected = page.errors.filter((e) => !/InvalidSecret|favicon\.ico|status of 404/.test(e));
    assert.deepEqual(unexpected, [], `no other page errors: ${JSON.stringify(page.errors)}`);
    assert.ok(page.errors.filter((e) => /^HTTP 404/.test(e)).every((e) => /\/favicon\.ico$/.test(e)), JSON.stringify(page.errors));
});
