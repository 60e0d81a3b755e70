// GET /_vireo/client/<file>.js: the binary serves the JS client package (clients/js/src/*.js,
// embedded at build time) byte for byte, with or without the app's public/ folder, and nothing
// else under that prefix; an app's public/_vireo/ cannot shadow it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { REPO, request } from "../integration/helpers.mjs";
import { startExample } from "./helpers.mjs";

const SRC = path.join(REPO, "clients/js/src");
const files = fs.readdirSync(SRC).filter((f) => f.endsWith(".js")).sort();
let withPublic, noPublic;

before(async () => {
    withPublic = await startExample("chat", {
        prepare: (dir) => {
            fs.mkdirSync(path.join(dir, "public/_vireo/client"), { recursive: true });
            fs.writeFileSync(path.join(dir, "public/_vireo/client/index.js"), "shadowed");
            fs.writeFileSync(path.join(dir, "public/_vireo/client/extra.js"), "extra");
        },
    });
    noPublic = await startExample("chat", {
        prepare: (dir) => fs.rmSync(path.join(dir, "public"), { recursive: true, force: true }),
    });
});

after(async () => {
    await withPublic?.stop();
    await noPublic?.stop();
});

test("every client file is served as JavaScript, byte for byte", { timeout: 20000 }, async () => {
    assert.ok(files.includes("index.js") && files.length >= 2, `client files: ${files}`);
    for (const srv of [withPublic, noPublic]) {
        for (const f of files) {
            const r = await request(srv.port, "GET", `/_vireo/client/${f}`);
            assert.equal(r.status, 200, `${f}: ${r.text.slice(0, 200)}`);
            assert.equal(r.headers["content-type"], "text/javascript; charset=utf-8");
            assert.equal(r.headers["cache-control"], "no-cache");
            assert.equal(r.text, fs.readFileSync(path.join(SRC, f), "utf8"), f);
            assert.equal(Number(r.headers["content-length"]), fs.statSync(path.join(SRC, f)).size);
        }
    }
});

test("HEAD has the length and no body; a query string is ignored", { timeout: 10000 }, async () => {
    const size = fs.statSync(path.join(SRC, "index.js")).size;
    const h = await request(withPublic.port, "HEAD", "/_vireo/client/index.js");
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers["content-length"]), size);
    assert.equal(h.text, "");
    const q = await request(withPublic.port, "GET", "/_vireo/client/index.js?v=2");
    assert.equal(q.status, 200);
    assert.equal(q.text.length > 0 && q.text, fs.readFileSync(path.join(SRC, "index.js"), "utf8"));
});

test("anything else under /_vireo/client/ is 404, and public/ cannot shadow it", { timeout: 10000 }, async () => {
    for (const p of ["/_vireo/client/", "/_vireo/client/nope.js", "/_vireo/client/index.d.ts",
        "/_vireo/client/INDEX.JS", "/_vireo/client/index.js/", "/_vireo/client/./index.js",
        "/_vireo/client/../client/index.js", "/_vireo/client//index.js", "/_vireo/client/extra.js",
        "/_vireo/client/%69ndex.js"]) {
        const r = await request(withPublic.port, "GET", p);
        assert.equal(r.status, 404, p);
        assert.equal(r.json?.errorCode, "NotFound", p);
    }
    const post = await request(withPublic.port, "POST", "/_vireo/client/index.js", "{}");
    assert.equal(post.status, 404);
    const shadow = await request(withPublic.port, "GET", "/_vireo/client/index.js");
    assert.notEqual(shadow.text, "shadowed");
    // the rest of public/ is still served
    const page = await request(withPublic.port, "GET", "/");
    assert.equal(page.status, 200);
    assert.match(page.text, /\/_vireo\/client\/|app\.js/);
});
