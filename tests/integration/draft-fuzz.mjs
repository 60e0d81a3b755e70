// The random scripts that check actors' state drafts (src/js/prelude/46_draft.js) against Immer:
// random states and random scripts of what a method does to its `state` (reads, writes of
// primitives and objects, deletes, nested changes, array methods, moves, key listings, spreads,
// defineProperty), run once on an Immer draft and once on a Vireo draft. Both must give the same
// reads, the same next state (keys in the same order; the same identity: the base itself when
// nothing was written), the same patches in the same order (or, where Immer's patches do not
// lead to its own next state, patches that do), the same errors, an untouched base,
// and a draft that is unusable afterwards. Plain JavaScript without Node's modules: it runs in
// Node (actor-draft.test.mjs) and, bundled into an app, in the binary's JavaScriptCore.

/* Deep equality: Object.is for primitives, the same prototype, own keys in the same order, the
 * same shape of cycles (a script can push an array into itself). */
export function same(a, b, seen = new Map()) {
    if (Object.is(a, b)) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
    if (seen.has(a)) return seen.get(a) === b;
    seen.set(a, b);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (a instanceof Date) return Object.is(a.getTime(), b.getTime());
    const ka = Reflect.ownKeys(a), kb = Reflect.ownKeys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) {
        if (ka[i] !== kb[i] || !same(a[ka[i]], b[ka[i]], seen)) return false;
    }
    return true;
}

function clone(v) { /* the states are JSON-like, with -0, NaN and undefined kept */
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(clone);
    const o = {};
    for (const k of Object.keys(v)) o[k] = clone(v[k]);
    return o;
}

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
    if (k < 0.86) return { t: "move", key, to: pick(r, KEYS) };
    if (k < 0.88) return { t: "wrap", key, to: pick(r, KEYS) }; // a draft put in a new object
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
    case "wrap": d[op.to] = { item: d[op.key] }; return "ok";
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

function runScript(side, base, ops, withPatches) {
    const out = [];
    const st = side.create(base);
    const d = st.draft;
    for (const op of ops) {
        try {
            out.push(runOp(d, op));
        } catch (e) {
            // Immer's drafts refuse the hardened realm's setter of a key Object.prototype has
            // (its error 11: defineProperty on a draft); Vireo's write it as Node's realm does
            out.push(/minified error nr: 11\b/.test(String(e?.message)) ? TAMED : `throw ${e.constructor.name}`);
        }
    }
    let patches = null;
    const next = withPatches ? side.finish(st, (p) => { patches = p; }) : side.finish(st);
    let after;
    try {
        after = typeof d.n === "symbol" ? "?" : "usable";
    } catch (e) {
        after = e instanceof TypeError ? "revoked" : `other: ${e}`;
    }
    return { out, next, patches, same: next === base, after, fast: st.s ? !st.s.switched : false };
}

const TAMED = "throw: a key of Object.prototype, in the hardened realm";

/* Whether patches applied to base give next, as JSON (what subscribers hold; keys in any order). */
function reaches(apply, base, patches, next) {
    if (patches === null) return false;
    const norm = (v) => JSON.stringify(v, (k, x) => x !== null && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.keys(x).sort().map((key) => [key, x[key]])) : x);
    try {
        return norm(apply(base, patches)) === norm(next);
    } catch (e) {
        return false;
    }
}

function compareOne(sides, seed, withPatches) {
    const r = rng(seed);
    const base1 = randomState(r);
    const ops = [];
    const n = 1 + Math.floor(r() * 6);
    for (let i = 0; i < n; i++) ops.push(r() < 0.5 ? randomOp(r) : randomDeepOp(r, base1));
    const base2 = clone(base1);
    const snapshot = clone(base1);
    const a = runScript(sides.immer, base1, ops, withPatches);
    if (a.out.includes(TAMED)) return { tamed: true }; // (Node's realm, untamed, checks these)
    const b = runScript(sides.vireo, base2, ops, withPatches);
    // Vireo's patches differ from Immer's only where Immer's do not reach its own next state
    // (a changed draft put inside a new object): then Vireo's must
    const fixed = !same(b.patches, a.patches) && !reaches(sides.apply, snapshot, a.patches, a.next) &&
        reaches(sides.apply, snapshot, b.patches, a.next);
    const wrong = !same(b.out, a.out) ? "reads" : !same(b.next, a.next) ? "next state"
        : b.same !== a.same ? "identity" : !same(b.patches, a.patches) && !fixed ? "patches"
        : b.after !== a.after ? "after finish" : !same(base2, snapshot) ? "base touched" : null;
    if (wrong === null) return { fast: b.fast, fixed, nested: b.patches !== null && b.patches.some((p) => p.path.length > 1) };
    return { wrong: `${wrong}: seed ${seed}, patches ${withPatches}, base ${JSON.stringify(snapshot)}, ` +
        `ops ${JSON.stringify(ops)}; immer ${JSON.stringify([a.out, a.next, a.patches, a.same, a.after])}, ` +
        `vireo ${JSON.stringify([b.out, b.next, b.patches, b.same, b.after])}` };
}

/* Seeds from..to, each with and without patches: the first mismatches (at most 5) and how many
 * scripts ended in the fast mode, and how many of those made nested patches. */
export function fuzzDrafts({ immer, draftCreate, draftFinish, from, to }) {
    const sides = {
        apply: (base, patches) => immer.applyPatches(base, patches),
        immer: {
            create: (base) => ({ draft: immer.createDraft(base) }),
            finish: (st, l) => (l ? immer.finishDraft(st.draft, l) : immer.finishDraft(st.draft)),
        },
        vireo: {
            create: (base) => { const s = draftCreate(base); return { s, draft: s.proxy }; },
            finish: (st, l) => draftFinish(st.s, l),
        },
    };
    const mismatches = [];
    const counts = { scripts: 0, fast: 0, nested: 0, fixed: 0, tamed: 0 };
    for (let seed = from; seed <= to && mismatches.length < 5; seed++) {
        for (const withPatches of [true, false]) {
            const c = compareOne(sides, seed, withPatches);
            counts.scripts++;
            if (c.wrong) mismatches.push(c.wrong);
            else if (c.fixed) counts.fixed++;
            if (c.tamed) counts.tamed++;
            if (!c.wrong && c.fast) { counts.fast++; if (c.nested) counts.nested++; }
        }
    }
    return { mismatches, counts };
}
