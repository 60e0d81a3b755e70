// The drafts of actors' states (src/js/prelude/46_draft.js) against Immer itself: random states
// and random scripts of what a method does to its `state` (reads, writes of primitives and
// objects, deletes, nested changes, array methods, moves, key listings, spreads, defineProperty),
// run once on an Immer draft and once on a Vireo draft. Both must give the same reads, the same
// next state (the same identity: the base itself when nothing was written), the same patches in
// the same order, the same errors, an untouched base, and a draft that is unusable afterwards.
// The prelude file is evaluated as one strict-mode script, as in the binary, with `actorImmer` given.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
// Immer's production build, as the binary's (tools/bundle_polyfill.mjs minifies, which makes
// esbuild define NODE_ENV=production): the development build refuses writes the other allows
const { Immer, enablePatches } = await import(
    new URL("../../node_modules/immer/dist/immer.production.mjs", import.meta.url));

enablePatches();
const immer = new Immer({ autoFreeze: false });

const src = readFileSync(new URL("../../src/js/prelude/46_draft.js", import.meta.url), "utf8");
// one realm for both drafts (the prelude runs in the realm of the states it drafts)
const { draftCreate, draftFinish } = new Function(
    "actorImmer", `"use strict";\n${src}\nreturn { draftCreate, draftFinish };`)(() => immer);

function rng(seed) {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const KEYS = ["a", "b", "c", "d", "n", "list", "obj", "x/y", "~t", "toString", "0"];
const PRIMS = [0, -0, 1, 2, NaN, "", "s", "a/b", true, false, null, undefined];

function pick(r, xs) { return xs[Math.floor(r() * xs.length)]; }

function randomValue(r, depth) {
    const k = r();
    if (depth <= 0 || k < 0.6) return pick(r, PRIMS);
    if (k < 0.8) {
        const o = {};
        const n = Math.floor(r() * 4);
        for (let i = 0; i < n; i++) o[pick(r, KEYS)] = randomValue(r, depth - 1);
        return o;
    }
    const a = [];
    const n = Math.floor(r() * 4);
    for (let i = 0; i < n; i++) a.push(randomValue(r, depth - 1));
    return a;
}

function randomState(r) {
    const o = {};
    const n = Math.floor(r() * 6);
    for (let i = 0; i < n; i++) o[pick(r, KEYS)] = randomValue(r, 3);
    if (r() < 0.7) o.n = Math.floor(r() * 3);
    return o;
}

// An op is data, so the same script runs on both drafts; it returns what a handler would see.
function randomOp(r) {
    const k = r();
    const key = pick(r, KEYS);
    if (k < 0.18) return { t: "read", key };
    if (k < 0.40) return { t: "setPrim", key, v: pick(r, PRIMS) };
    if (k < 0.46) return { t: "inc", key: "n" };
    if (k < 0.52) return { t: "setObj", key, seed: Math.floor(r() * 1e9) };
    if (k < 0.60) return { t: "del", key };
    if (k < 0.64) return { t: "has", key };
    if (k < 0.67) return { t: "keys" };
    if (k < 0.69) return { t: "spread" };
    if (k < 0.71) return { t: "json" };
    if (k < 0.78) return { t: "nestedSet", key, sub: pick(r, KEYS), v: pick(r, PRIMS) };
    if (k < 0.84) return { t: "arr", key, m: pick(r, ARRAY_METHODS), v: pick(r, PRIMS) };
    if (k < 0.88) return { t: "move", key, to: pick(r, KEYS) };
    if (k < 0.90) return { t: "define", key };
    if (k < 0.92) return { t: "proto" };
    if (k < 0.94) return { t: "desc", key };
    if (k < 0.96) return { t: "symbol" };
    return { t: "setBack", key };
}

// What a method does below the root: a path of up to three keys from the root (mostly keys the
// base has), then an action.
function randomDeepOp(r, base) {
    const path = [];
    const depth = 1 + Math.floor(r() * 3);
    let o = base;
    for (let i = 0; i < depth; i++) {
        const keys = o !== null && typeof o === "object" ? Object.keys(o) : [];
        const k = keys.length > 0 && r() < 0.85 ? pick(r, keys)
            : r() < 0.4 ? String(Math.floor(r() * 3)) : pick(r, KEYS);
        path.push(k);
        o = o !== null && typeof o === "object" ? o[k] : undefined;
    }
    const k = r();
    const key = pick(r, KEYS);
    const v = pick(r, PRIMS);
    if (k < 0.25) return { t: "deepSet", path, key, v };
    if (k < 0.35) return { t: "deepDel", path, key };
    if (k < 0.50) return { t: "deepPush", path, obj: r() < 0.6, v };
    if (k < 0.55) return { t: "deepPushRef", path, ref: pick(r, KEYS) };
    if (k < 0.62) return { t: "deepLen", path, n: Math.floor(r() * 4) };
    if (k < 0.67) return { t: "deepSparse", path, v };
    if (k < 0.74) return { t: "deepSplice", path, v, obj: r() < 0.5 };
    if (k < 0.80) return { t: "keepThenReplace", path, key, v };
    if (k < 0.84) return { t: "deepRead", path };
    if (k < 0.88) return { t: "deepDate", path, key };
    if (k < 0.92) return { t: "deepPop", path };
    if (k < 0.93) return { t: "deepInc", path, key };
    if (k < 0.97) return { t: "deepArr", path, m: pick(r, ARRAY_METHODS), v };
    return { t: "deepAssignObj", path, key, seed: Math.floor(r() * 1e9) };
}

function walk(d, path) {
    let o = d;
    for (const p of path) {
        if (o === null || typeof o !== "object") return undefined;
        o = o[p];
    }
    return o === null || typeof o !== "object" ? undefined : o;
}

function show(v) {
    // what a handler could observe of a read, without touching drafts further
    if (v === null || typeof v !== "object") return Object.is(v, -0) ? "-0" : v;
    return JSON.stringify(v);
}

const ARRAY_METHODS = ["push", "pop", "shift", "unshift", "reverse", "sort", "splice", "len0"];

function arrayOp(a, op) {
    if (!Array.isArray(a)) return "none";
    switch (op.m) {
    case "push": return a.push(op.v);
    case "pop": return show(a.pop());
    case "shift": return show(a.shift());
    case "unshift": return a.unshift(op.v);
    case "reverse": a.reverse(); return "ok";
    case "sort": a.sort((x, y) => String(x).localeCompare(String(y))); return "ok";
    case "splice": return JSON.stringify(a.splice(0, 1, op.v));
    case "len0": a.length = 0; return "ok";
    }
    return "?";
}

function atPath(d, op, f) {
    const o = walk(d, op.path);
    if (!o) return "none";
    const r = f(o);
    return r === undefined ? "ok" : r;
}

function atArray(d, op, f) {
    const a = walk(d, op.path);
    return Array.isArray(a) ? f(a) : "none";
}

function runOp(d, op) {
    switch (op.t) {
    case "deepSet": return atPath(d, op, (o) => { o[Array.isArray(o) ? "0" : op.key] = op.v; });
    case "deepDel":
        return atPath(d, op, (o) => delete o[Array.isArray(o) ? String(o.length - 1) : op.key]);
    case "deepPush": return atArray(d, op, (a) => a.push(op.obj ? { text: op.v, n: 1 } : op.v));
    case "deepPushRef": return atArray(d, op, (a) => a.push({ ref: d[op.ref] }));
    case "deepLen": return atArray(d, op, (a) => { a.length = op.n; return a.length; });
    case "deepSparse": return atArray(d, op, (a) => { a[a.length + 1] = op.v; return a.length; });
    case "deepSplice":
        return atArray(d, op, (a) => JSON.stringify(a.splice(1, 1, op.obj ? { v: op.v } : op.v)));
    case "keepThenReplace": // a child kept, its parent's field replaced, then the child written
        return atPath(d, op, (o) => {
            d[op.path[0]] = op.v;
            o[Array.isArray(o) ? "0" : op.key] = 5;
        });
    case "deepRead": return show(walk(d, op.path));
    case "deepDate": return atPath(d, op, (o) => { o[op.key] = new Date(0); return String(o[op.key]); });
    case "deepPop": return atArray(d, op, (a) => show(a.pop()));
    case "deepInc":
        return atPath(d, op, (o) => {
            if (Array.isArray(o)) return "array";
            o[op.key] = (typeof o[op.key] === "number" ? o[op.key] : 0) + 1;
            return o[op.key];
        });
    case "deepAssignObj":
        return atPath(d, op, (o) => { o[Array.isArray(o) ? "0" : op.key] = randomValue(rng(op.seed), 2); });
    case "read": return show(d[op.key]);
    case "setPrim": d[op.key] = op.v; return "ok";
    case "inc": d.n = (typeof d.n === "number" ? d.n : 0) + 1; return d.n;
    case "setObj": d[op.key] = randomValue(rng(op.seed), 2); return "ok";
    case "del": return delete d[op.key];
    case "has": return op.key in d;
    case "keys": return Object.keys(d).join(",");
    case "spread": return JSON.stringify({ ...d });
    case "json": return JSON.stringify(d);
    case "nestedSet": {
        const o = d[op.key];
        if (o === null || typeof o !== "object") return "none";
        o[Array.isArray(o) ? 0 : op.sub] = op.v;
        return "ok";
    }
    case "arr": return arrayOp(d[op.key], op);
    case "deepArr": return arrayOp(walk(d, op.path), op);
    case "move": d[op.to] = d[op.key]; return "ok";
    case "define":
        Object.defineProperty(d, op.key, { value: 1, writable: true, enumerable: true, configurable: true });
        return "ok";
    case "proto": return Object.getPrototypeOf(d) === Object.prototype;
    case "desc": return JSON.stringify(Object.getOwnPropertyDescriptor(d, op.key) ?? null);
    case "symbol": return String(d[Symbol.toStringTag]);
    case "setBack": { // writes a value and then the one it had: modified, with no patch
        const was = d[op.key];
        if (was !== null && typeof was === "object") return "none";
        d[op.key] = "tmp";
        d[op.key] = was;
        return "ok";
    }
    }
    throw new Error(op.t);
}

function runScript(create, finish, base, ops, withPatches) {
    const out = [];
    const st = create(base);
    const d = st.draft;
    for (const op of ops) {
        try {
            out.push(runOp(d, op));
        } catch (e) {
            out.push(`throw ${e.constructor.name}`);
        }
    }
    let patches = null;
    const next = withPatches ? finish(st, (p) => { patches = p; }) : finish(st);
    let after;
    try {
        void d.n;
        after = "usable";
    } catch (e) {
        after = e instanceof TypeError ? "revoked" : "other";
    }
    return { out, next, patches, same: next === base, after };
}

const immerSide = {
    create: (base) => ({ draft: immer.createDraft(base) }),
    finish: (st, l) => (l ? immer.finishDraft(st.draft, l) : immer.finishDraft(st.draft)),
};
const vireoSide = {
    create: (base) => { const s = draftCreate(base); return { s, draft: s.proxy }; },
    finish: (st, l) => draftFinish(st.s, l),
};

function compare(seed, withPatches) {
    const r = rng(seed);
    const base1 = randomState(r);
    const ops = [];
    const n = 1 + Math.floor(r() * 6);
    for (let i = 0; i < n; i++) ops.push(r() < 0.5 ? randomOp(r) : randomDeepOp(r, base1));
    const base2 = structuredClone(base1);
    const snapshot = structuredClone(base1);
    const a = runScript(immerSide.create, immerSide.finish, base1, ops, withPatches);
    const b = runScript(vireoSide.create, vireoSide.finish, base2, ops, withPatches);
    const what = `seed ${seed}, patches ${withPatches}, base ${JSON.stringify(snapshot)}, ops ${JSON.stringify(ops)}`;
    assert.deepEqual(b.out, a.out, `reads: ${what}`);
    assert.deepEqual(b.next, a.next, `next state: ${what}`);
    assert.equal(b.same, a.same, `identity: ${what}`);
    assert.deepEqual(b.patches, a.patches, `patches: ${what}`);
    assert.equal(b.after, a.after, `after finish: ${what}`);
    assert.deepEqual(base2, snapshot, `base untouched: ${what}`);
}

test("random scripts: the same reads, states, identities and patches as Immer", () => {
    for (let seed = 1; seed <= 6000; seed++) {
        compare(seed, true);
        compare(seed, false);
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
