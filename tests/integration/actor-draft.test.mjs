// The drafts of actors' states (src/js/prelude/46_draft.js) against Immer itself, on the random
// scripts of draft-fuzz.mjs: in Node (V8), with the prelude file evaluated as one strict-mode
// script as in the binary and `actorImmer` given; and in the binary's JavaScriptCore, bundled
// into an app's action. Then the cases the fast mode must keep (and hand over) named one by one.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fuzzDrafts } from "./draft-fuzz.mjs";
import { REPO, tempDir, startServer } from "./helpers.mjs";
// Immer's production build, as the binary's (tools/bundle_polyfill.mjs minifies, which makes
// esbuild define NODE_ENV=production): the development build refuses writes the other allows
const IMMER_PROD = path.join(REPO, "node_modules/immer/dist/immer.production.mjs");
const { Immer, enablePatches } = await import(IMMER_PROD);

enablePatches();
const immer = new Immer({ autoFreeze: false });

const DRAFT_JS = path.join(REPO, "src/js/prelude/46_draft.js");
const src = fs.readFileSync(DRAFT_JS, "utf8");
// one realm for both drafts (the prelude runs in the realm of the states it drafts)
const { draftCreate, draftFinish } = new Function(
    "actorImmer", `"use strict";\n${src}\nreturn { draftCreate, draftFinish };`)(() => immer);

test("random scripts in V8: the same reads, states, identities and patches as Immer", () => {
    const r = fuzzDrafts({ immer, draftCreate, draftFinish, from: 1, to: 6000 });
    assert.deepEqual(r.mismatches, []);
    // the fast mode is what most scripts ran in, nested patches included
    assert.ok(r.counts.fast > r.counts.scripts / 2 && r.counts.nested > 100, JSON.stringify(r.counts));
});

test("random scripts in JavaScriptCore (the binary): the same as Immer", async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "vireo"));
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "draft-jsc", private: true, type: "module" }));
    fs.writeFileSync(path.join(dir, "vireo", "draftlib.js"),
        "let immerOf = null;\nexport function useImmer(i) { immerOf = i; }\n" +
        "function actorImmer() { return immerOf; }\n" + src + "\nexport { draftCreate, draftFinish };\n");
    fs.writeFileSync(path.join(dir, "vireo", "fuzz.js"), `
import { action } from "./_generated/server";
import { Immer, enablePatches } from ${JSON.stringify(IMMER_PROD)};
import { fuzzDrafts } from ${JSON.stringify(path.join(REPO, "tests/integration/draft-fuzz.mjs"))};
import { useImmer, draftCreate, draftFinish } from "./draftlib.js";
enablePatches();
const immer = new Immer({ autoFreeze: false });
useImmer(immer);
export const run = action({
    handler: async (ctx, { from, to }) => fuzzDrafts({ immer, draftCreate, draftFinish, from, to }),
});
`);
    const s = await startServer(dir);
    try {
        const r = await s.value("action", "fuzz:run", { from: 1, to: 3000 });
        assert.deepEqual(r.mismatches, []);
        assert.ok(r.counts.fast > r.counts.scripts / 2 && r.counts.nested > 50, JSON.stringify(r.counts));
    } finally {
        await s.stop();
    }
});

test("fields and a nested push stay in the fast mode, with Immer's patches", () => {
    const base = { count: 1, name: "x", room: { messages: [{ text: "a" }] } };
    const st = draftCreate(base);
    st.proxy.count += 1;
    st.proxy.name = "y";
    delete st.proxy.name;
    st.proxy.extra = true;
    st.proxy.room.messages.push({ text: "b" });
    st.proxy.room.messages[0].text = "A";
    assert.equal(st.switched, false);
    let patches;
    const next = draftFinish(st, (p) => { patches = p; });
    assert.deepEqual(next, { count: 2, extra: true, room: { messages: [{ text: "A" }, { text: "b" }] } });
    assert.deepEqual(base, { count: 1, name: "x", room: { messages: [{ text: "a" }] } });
    assert.equal(next.room.messages[1], patches[1].value);
    assert.deepEqual(patches, [
        { op: "replace", path: ["room", "messages", 0, "text"], value: "A" },
        { op: "add", path: ["room", "messages", 1], value: { text: "b" } },
        { op: "replace", path: ["count"], value: 2 },
        { op: "remove", path: ["name"] },
        { op: "add", path: ["extra"], value: true },
    ]);
});

test("moving a draft switches to Immer with the earlier operations replayed", () => {
    const base = { count: 1, a: { x: 1 }, items: [1] };
    const st = draftCreate(base);
    st.proxy.count = 5;
    st.proxy.items.push(2);
    st.proxy.b = st.proxy.a;
    assert.equal(st.switched, true);
    let patches;
    const next = draftFinish(st, (p) => { patches = p; });
    assert.deepEqual(next, { count: 5, a: { x: 1 }, b: { x: 1 }, items: [1, 2] });
    assert.deepEqual(base, { count: 1, a: { x: 1 }, items: [1] });
    assert.deepEqual(patches, [
        { op: "add", path: ["items", 1], value: 2 },
        { op: "replace", path: ["count"], value: 5 },
        { op: "add", path: ["b"], value: { x: 1 } },
    ]);
});

test("a changed draft put inside a new object: Immer's patches lose the change, Vireo's reach the state", () => {
    const base = { items: [{ text: "a", done: false }, { text: "b", done: false }], n: 1 };
    const run = (create, finish) => {
        const st = create(structuredClone(base));
        const d = st.proxy ?? st;
        d.items[0].done = true;
        d.lastDone = { item: d.items[0] };
        let patches;
        const next = finish(st, (p) => { patches = p; });
        return { next, patches };
    };
    const im = run((b) => immer.createDraft(b), (d, l) => immer.finishDraft(d, l));
    assert.notDeepEqual(JSON.parse(JSON.stringify(immer.applyPatches(base, im.patches))), im.next, "Immer's own patches lose it");
    const v = run(draftCreate, draftFinish);
    assert.deepEqual(v.next, im.next);
    assert.deepEqual(JSON.parse(JSON.stringify(immer.applyPatches(base, v.patches))), JSON.parse(JSON.stringify(v.next)));
    assert.deepEqual(v.patches, [
        { op: "replace", path: ["items"], value: [{ text: "a", done: true }, { text: "b", done: false }] },
        { op: "add", path: ["lastDone"], value: { item: { text: "a", done: true } } },
    ]);
    // the random scripts hit it too, and every such case is counted
    const r = fuzzDrafts({ immer, draftCreate, draftFinish, from: 1, to: 6000 });
    assert.ok(r.counts.fixed > 0, JSON.stringify(r.counts));
});

test("an array root is an Immer draft; the draft is unusable after finishing", () => {
    const st = draftCreate([1, 2]);
    assert.equal(st.switched, true);
    st.proxy.push(3);
    assert.deepEqual(draftFinish(st), [1, 2, 3]);
    const f = draftCreate({ a: 1, o: {} });
    const o = f.proxy.o;
    draftFinish(f);
    assert.throws(() => f.proxy.a, TypeError);
    assert.throws(() => o.x, TypeError);
    assert.throws(() => { f.proxy.a = 2; }, TypeError);
    assert.throws(() => draftFinish(f), TypeError);
});
