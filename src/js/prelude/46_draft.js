/* ---- drafts of an actor's state (47_actors.js): Immer's semantics and patches, at a fraction
 * of Immer's cost ----
 * A method's `state` is a draft: writes go to copies, the instance's state objects are never
 * changed, and the call's patches say what changed (docs/actors.md "Patches"). Immer defines
 * what a draft does and which patches it makes, and Zocket's clients rely on those shapes. Immer
 * costs ~1 µs per call in JavaScriptCore before anything is changed (a scope, a revocable proxy,
 * its finalization) and ~4 µs with patches for one field; pushing to an array of 100 costs ~10
 * µs with patches (it visits every index).
 *
 * So a draft starts in a fast mode that keeps Immer's own bookkeeping (immer/src/core/proxy.ts's
 * traps, core/finalize.ts's finalization, plugins/patches.ts's patches), trap for trap, for
 * plain objects and arrays: a node per drafted object with its base, copy, assigned keys and
 * modified flag, children drafted when read, finished children first in reverse creation order,
 * patches in Immer's order. What the fast mode does not serve switches the draft to Immer for
 * good: moving a draft (assigning one, which array methods that reorder objects do), a value
 * that is neither a plain object nor an array (Date, Map, a class), anything on the prototype
 * chain that is not a data property, symbols (Immer's own DRAFT_STATE included), defineProperty,
 * and, when finishing, a new value that contains a draft. An Immer draft of the same base then
 * replays every operation that changed Immer's bookkeeping, in order (children drafted, writes,
 * deletes), so it ends in the state it would have reached on its own, and from then on every
 * node forwards to its Immer counterpart. A root that is not a plain object is an Immer draft
 * from the start. tests/integration/actor-draft.test.mjs checks both modes against Immer on
 * random scripts (reads, states, identities, patches, errors), in V8 and in the binary's
 * JavaScriptCore. */

const DRAFT_NODE = Symbol("vireo draft node");   /* a fast proxy answers its node */
const draftHasOwn = Object.prototype.hasOwnProperty;
const DRAFT_REVOKED = "Proxy has already been revoked. No more operations are allowed to be " +
    "performed on it";

const DRAFT_NO_PROTO = "a state's object cannot be given a key `__proto__`, nor a new prototype " +
    "(Object.setPrototypeOf() cannot be used on a draft)";
const OP_CHILD = 0, OP_SET = 1, OP_DELETE = 2; /* the operations a switch replays */
const DRAFT_ROOT_PATH = Object.freeze([]);

/* One draft (of one finishDraft): its nodes in creation order, the operations to replay. */
class DraftScope {
    constructor() {
        this.nodes = [];
        /* by fours: OP_CHILD node, OP_SET node key value, OP_DELETE node key */
        this.ops = [];
        this.switched = false;
        this.settled = false; /* draftSettle ran: the finish's mode is decided */
        this.unusual = false; /* a write put what draftScalar is not (draftEachWrite looks) */
        this.done = false;
        this.root = null;
        this.proxy = null;    /* what the handler sees */
        this.base = undefined; /* the state drafted */
    }
}

/* Immer's ProxyState for a plain object or an array. */
class DraftNode {
    constructor(scope, base, parent, key, isArray) {
        this.scope = scope;
        this.base = base;
        this.copy = null;
        this.assigned = null; /* key -> true (assigned) / false (deleted), in Immer's order */
        this.modified = false;
        this.finalized = false;
        this.parent = parent;
        this.key = key;       /* in the parent (a number in an array) */
        this.isArray = isArray;
        this.sparse = false;  /* a write left empty slots in it (draftEachWrite visits it) */
        this.inner = null;    /* the Immer draft, once switched */
        this.proxy = isArray ? new Proxy([this], draftArrayTraps) : new Proxy(this, draftTraps);
    }
}

function draftIs(x, y) { /* immer's `is` */
    return x === y ? x !== 0 || 1 / x === 1 / y : x !== x && y !== y;
}

function draftObjectish(v) {
    return v !== null && (typeof v === "object" || typeof v === "function");
}

/* A fast proxy's node, or undefined. */
function draftNodeOf(v) {
    return draftObjectish(v) ? v[DRAFT_NODE] : undefined;
}

/* A plain object (Object.prototype as its prototype) or an array (callers rule drafts out). */
function draftPlain(v) {
    return Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype;
}

function draftLatest(n) { return n.copy === null ? n.base : n.copy; }

function draftPrepareCopy(n) {
    if (n.copy === null) {
        n.assigned = new Map();
        n.copy = n.isArray ? Array.prototype.slice.call(n.base) : { ...n.base };
    }
}

function draftMarkChanged(n) {
    while (n !== null && !n.modified) {
        n.modified = true;
        n = n.parent;
    }
}

/* The Immer draft that takes over, with the operations replayed; n's counterpart. */
function draftSwitch(n) {
    const sc = n.scope;
    if (!sc.switched) {
        const immer = actorImmer();
        sc.root.inner = immer.createDraft(sc.root.base);
        const ops = sc.ops;
        for (let i = 0; i < ops.length; i += 4) {
            const m = ops[i + 1];
            if (ops[i] === OP_CHILD) m.inner = Reflect.get(m.parent.inner, m.key);
            else if (ops[i] === OP_SET) Reflect.set(m.inner, ops[i + 2], ops[i + 3]);
            else Reflect.deleteProperty(m.inner, ops[i + 2]);
        }
        sc.switched = true;
        sc.ops = null;
    }
    return n.inner;
}

function draftLive(n) {
    if (n.scope.done) throw new TypeError(DRAFT_REVOKED);
}

function draftGet(n, prop) {
    if (prop === DRAFT_NODE) return n;
    draftLive(n);
    if (n.scope.switched || typeof prop !== "string") return Reflect.get(draftSwitch(n), prop);
    const source = draftLatest(n);
    if (!draftHasOwn.call(source, prop)) {
        if (!(prop in source)) return undefined;
        if (draftTamedKey(source, prop)) return Object.prototype[prop];
        const desc = draftProtoDesc(source, prop);
        if (desc !== undefined && "value" in desc) return desc.value;
        return Reflect.get(draftSwitch(n), prop); /* a getter: Immer calls it on the draft */
    }
    const value = source[prop];
    if (!draftObjectish(value)) return value;
    const vn = value[DRAFT_NODE];
    if (vn !== undefined) { /* a draft: Immer's isDraftable would throw on a revoked one */
        if (vn.scope !== n.scope && vn.scope.done) throw new TypeError(DRAFT_REVOKED);
        return value;
    }
    if (!draftPlain(value)) return Reflect.get(draftSwitch(n), prop);
    if (value !== n.base[prop]) return value; /* assigned values are never drafted */
    draftPrepareCopy(n);
    const key = n.isArray ? +prop : prop;
    const child = new DraftNode(n.scope, value, n, key, Array.isArray(value));
    n.scope.nodes.push(child);
    n.scope.ops.push(OP_CHILD, child, undefined, undefined);
    n.copy[key] = child.proxy;
    return child.proxy;
}

function draftProtoDesc(source, prop) {
    let proto = Object.getPrototypeOf(source);
    while (proto) {
        const desc = Object.getOwnPropertyDescriptor(proto, prop);
        if (desc) return desc;
        proto = Object.getPrototypeOf(proto);
    }
    return undefined;
}

/* A key of Object.prototype that the prelude's hardening (60_harden.js) made an accessor whose
 * setter defines the key on the instance ("override mistake" taming): on a plain object it reads
 * as Object.prototype's value and is written as an own data property, as where Object.prototype
 * holds data properties (Immer's set trap would call the setter, whose defineProperty Immer's
 * drafts refuse: `state.counts[word] = n` failed for word "toString"). */
function draftTamedKey(source, prop) {
    if (prop === "__proto__" || Array.isArray(source) ||
        Object.getPrototypeOf(source) !== Object.prototype)
        return false;
    const d = Object.getOwnPropertyDescriptor(Object.prototype, prop);
    return d !== undefined && d.get !== undefined && d.set !== undefined;
}

function draftSet(n, prop, value) {
    draftLive(n);
    if (prop === "__proto__") /* Immer's own refusal reads "minified error nr: 12" here */
        throw new TypeError(DRAFT_NO_PROTO);
    const vn = draftNodeOf(value); /* one of this draft's own: assigning it moves it */
    if (!n.scope.switched && typeof prop === "string" &&
        (vn === undefined || vn.scope !== n.scope)) {
        const source = draftLatest(n);
        if (draftHasOwn.call(source, prop) || !(prop in source) || draftTamedKey(source, prop)) {
            /* every write is replayed, those that change nothing too: one may still have
             * marked the draft modified (-0 over 0), and one that did nothing does nothing
             * again */
            n.scope.ops.push(OP_SET, n, prop, value);
            if (!n.modified) {
                const current = source[prop];
                const cur = draftNodeOf(current);
                if (cur !== undefined && cur.base === value) {
                    n.copy[prop] = value;
                    n.assigned.delete(prop);
                    return true;
                }
                if (draftIs(value, current) &&
                    (value !== undefined || draftHasOwn.call(n.base, prop)))
                    return true;
                draftPrepareCopy(n);
                draftMarkChanged(n);
            }
            const copy = n.copy;
            if ((copy[prop] === value && (value !== undefined || draftHasOwn.call(copy, prop))) ||
                (Number.isNaN(value) && Number.isNaN(copy[prop])))
                return true;
            if (n.isArray && !n.sparse && draftMakesHoles(copy, prop, value))
                n.sparse = n.scope.unusual = true;
            copy[prop] = value;
            n.assigned.set(prop, true);
            if (!draftScalar(value)) n.scope.unusual = true;
            return true;
        }
    }
    const d = draftSwitch(n);
    try {
        return Reflect.set(d, prop, vn !== undefined && vn.scope === n.scope ? draftSwitch(vn) : value);
    } catch (e) {
        if (typeof prop === "string" && !draftHasOwn.call(draftLatest(n), prop) &&
            draftTamedKey(draftLatest(n), prop))
            throw new TypeError(`cannot write the key "${prop}" (a name Object.prototype has) ` +
                "in this call: its draft was handed to Immer (a draft moved or put in a new " +
                "object, a Date or a class instance in the state), whose drafts refuse it");
        throw e;
    }
}

function draftDelete(n, prop) {
    draftLive(n);
    if (n.isArray) return draftSet(n, prop, undefined); /* Immer's arrays: a write of undefined */
    if (n.scope.switched || typeof prop !== "string")
        return Reflect.deleteProperty(draftSwitch(n), prop);
    n.scope.ops.push(OP_DELETE, n, prop, undefined);
    draftPrepareCopy(n);
    if (n.base[prop] !== undefined || prop in n.base) {
        n.assigned.set(prop, false);
        draftMarkChanged(n);
    } else {
        n.assigned.delete(prop);
    }
    delete n.copy[prop];
    return true;
}

function draftDescriptor(n, prop) {
    draftLive(n);
    if (n.scope.switched) return Reflect.getOwnPropertyDescriptor(n.inner, prop);
    const owner = draftLatest(n);
    const desc = Reflect.getOwnPropertyDescriptor(owner, prop);
    if (!desc) return desc;
    return { writable: true, configurable: !n.isArray || prop !== "length",
             enumerable: desc.enumerable, value: owner[prop] };
}

const draftTraps = {
    get: (n, prop) => draftGet(n, prop),
    set: (n, prop, value) => draftSet(n, prop, value),
    deleteProperty: (n, prop) => draftDelete(n, prop),
    has(n, prop) {
        draftLive(n);
        return prop in (n.scope.switched ? n.inner : draftLatest(n));
    },
    ownKeys(n) {
        draftLive(n);
        return Reflect.ownKeys(n.scope.switched ? n.inner : draftLatest(n));
    },
    getOwnPropertyDescriptor: (n, prop) => draftDescriptor(n, prop),
    defineProperty(n, prop, desc) {
        draftLive(n);
        return Reflect.defineProperty(draftSwitch(n), prop, desc);
    },
    getPrototypeOf(n) {
        draftLive(n);
        return n.scope.switched ? Reflect.getPrototypeOf(n.inner) : Object.getPrototypeOf(n.base);
    },
    setPrototypeOf(n, proto) {
        draftLive(n);
        throw new TypeError(DRAFT_NO_PROTO); /* as Immer's drafts (whose text is a number here) */
    },
};

/* an array's proxy targets [node], so that Array.isArray(draft) holds (as Immer's) */
const draftArrayTraps = {
    get: (t, prop) => draftGet(t[0], prop),
    set: (t, prop, value) => draftSet(t[0], prop, value),
    deleteProperty: (t, prop) => draftDelete(t[0], prop),
    has: (t, prop) => draftTraps.has(t[0], prop),
    ownKeys: (t) => draftTraps.ownKeys(t[0]),
    getOwnPropertyDescriptor: (t, prop) => draftDescriptor(t[0], prop),
    defineProperty: (t, prop, desc) => draftTraps.defineProperty(t[0], prop, desc),
    getPrototypeOf: (t) => draftTraps.getPrototypeOf(t[0]),
    setPrototypeOf: (t, proto) => draftTraps.setPrototypeOf(t[0], proto),
};

/* A draft of base: scope.proxy is what the handler sees. */
function draftCreate(base) {
    const sc = new DraftScope();
    sc.base = base;
    if (base !== null && typeof base === "object" &&
        Object.getPrototypeOf(base) === Object.prototype) {
        const root = new DraftNode(sc, base, null, undefined, false);
        sc.root = root;
        sc.nodes.push(root);
        sc.proxy = root.proxy;
    } else {
        sc.switched = true;
        sc.ops = null;
        sc.proxy = actorImmer().createDraft(base);
    }
    return sc;
}

/* Whether v (a new value written into a draft) may hold a draft, or something the fast finish
 * cannot walk as Immer would (handleValue): then Immer finishes. Deeper than 32 levels (or a
 * cycle) counts as may. */
function draftHolds(v, depth) {
    if (!draftObjectish(v)) return false;
    if (depth > 32 || v[DRAFT_NODE] !== undefined || !draftPlain(v)) return true;
    for (const k of Reflect.ownKeys(v)) {
        if (typeof k !== "string" || draftHolds(v[k], depth + 1)) return true;
    }
    return false;
}

function draftNeedsImmer(sc) {
    if (sc.nodes.length < 2) return false; /* Immer walks new values only beside children */
    for (const n of sc.nodes) {
        if (n.assigned === null) continue;
        for (const [k, a] of n.assigned)
            if (a && draftHolds(n.copy[k], 0)) return true;
    }
    return false;
}

/* The last decision of the fast mode, made at the finish (before it, by a caller that must know
 * how the draft finishes): new values that hold drafts, or what only Immer walks, send the
 * draft to Immer. */
function draftSettle(sc) {
    if (!sc.switched && !sc.settled && draftNeedsImmer(sc)) draftSwitch(sc.root);
    sc.settled = true;
}

/* A string, a boolean, a finite number or null. */
function draftScalar(v) {
    switch (typeof v) {
    case "string":
    case "boolean":
        return true;
    case "number":
        return v - v === 0;
    case "object":
        return v === null;
    }
    return false;
}

/* Whether writing value at prop of array a leaves empty slots in it. */
function draftMakesHoles(a, prop, value) {
    if (prop === "length") return typeof value === "number" && value > a.length;
    const i = Number(prop);
    return Number.isInteger(i) && String(i) === prop && i > a.length;
}

/* After a finish in the fast mode: visit(value, node, key) for each value a write left in a
 * node's copy (not an array index a shorter length cut off) that is not draftScalar, and for
 * each array a write left empty slots in (as its parent's key), until visit returns false.
 * Returns false, visiting nothing, for a draft Immer finished (its patches say what was
 * written). */
function draftEachWrite(sc, visit) {
    if (sc.switched) return false;
    if (!sc.unusual) return true;
    for (const n of sc.nodes) {
        if (!n.modified || n.assigned === null) continue;
        if (n.sparse && draftLatest(n.parent)[n.key] === n.copy &&
            visit(n.copy, n.parent, n.key) === false)
            return true;
        const copy = n.copy;
        for (const [k, a] of n.assigned)
            if (a && (!n.isArray || k in copy) && !draftScalar(copy[k]) &&
                visit(copy[k], n, k) === false)
                return true;
    }
    return true;
}

/* Where draftEachWrite's node n holds key k in the next state: the keys from the root, or null
 * when n is no longer part of it (a write into an object the handler then replaced). */
function draftWritePath(n, k) {
    const path = draftPath(n);
    return path === null ? null : draftPathTo(path, k);
}

/* Immer's getPath: the child's path from the root, or null when it is no longer where it was
 * drafted (then its parent's own patch says what is there). */
function draftPath(n) {
    const path = [];
    let s = n;
    while (s.parent !== null) {
        const parentCopy = draftLatest(s.parent);
        const v = parentCopy[s.key];
        if (v === undefined) return null;
        if (v !== s.proxy && v !== s.copy) return null;
        const m = draftNodeOf(v);
        if (m !== undefined && m.base !== s.base) return null;
        if (!draftHasOwn.call(parentCopy, s.key)) return null;
        path.push(s.key);
        s = s.parent;
    }
    path.reverse();
    let cur = s.copy; /* resolvePath from the root's copy */
    for (let i = 0; i < path.length - 1; i++) {
        cur = cur[path[i]];
        if (!draftObjectish(cur)) return null;
    }
    return path;
}

function draftPathTo(path, key) {
    if (path.length === 0) return [key];
    const p = path.slice();
    p.push(key);
    return p;
}

function draftObjectPatches(n, path, patches) {
    const base = n.base, copy = n.copy;
    for (const [key, assigned] of n.assigned) {
        const op = !assigned ? "remove" : draftHasOwn.call(base, key) ? "replace" : "add";
        const value = copy[key];
        if (op === "replace" && base[key] === value) continue;
        const p = draftPathTo(path, key);
        patches.push(op === "remove" ? { op, path: p } : { op, path: p, value });
    }
}

/* generateArrayPatches: changed assigned indices replaced in ascending order, then additions at
 * the end ascending, or, when the array shrank, removals from the tail descending. Only the
 * assigned indices are visited (Immer visits every index and keeps the assigned ones). */
function draftArrayPatches(n, path, patches) {
    const base = n.base, copy = n.copy;
    const shrank = copy.length < base.length;
    const lo = shrank ? copy : base; /* Immer swaps the two so that base is never longer */
    const hi = shrank ? base : copy;
    const idx = [];
    for (const [key, assigned] of n.assigned) {
        if (!assigned) continue;
        const i = +key;
        if (i >>> 0 === i && String(i) === key && i < lo.length) idx.push(i);
    }
    idx.sort((a, b) => a - b);
    for (const i of idx) {
        const copied = hi === copy ? copy[i] : base[i], baseItem = hi === copy ? base[i] : copy[i];
        if (copied === baseItem) continue;
        if (!shrank) {
            const m = draftNodeOf(copied);
            if (m !== undefined && m.modified) continue;
        }
        patches.push({ op: "replace", path: draftPathTo(path, i), value: copy[i] });
    }
    if (!shrank) {
        for (let i = base.length; i < copy.length; i++)
            patches.push({ op: "add", path: draftPathTo(path, i), value: copy[i] });
    } else {
        for (let i = base.length - 1; copy.length <= i; --i)
            patches.push({ op: "remove", path: draftPathTo(path, i) });
    }
}

function draftPatches(n, path, patches) {
    if (n.isArray) draftArrayPatches(n, path, patches);
    else draftObjectPatches(n, path, patches);
}

/* Immer's patches when they lead from base to next, else patches that do. Immer loses a
 * change made through a draft that is then put inside a new object (`state.items[0].done =
 * true; state.last = {item: state.items[0]}` patches only /last): a subscriber would keep the
 * old value with nothing to tell it. Checked only after a switch to Immer (moves are what make
 * it), as JSON, which is what subscribers hold; when they differ, each top-level key that
 * changed is replaced (a root that is not an object: replaced whole). */
function draftCheckedPatches(immer, base, next, patches) {
    if (base === next || patches === null) return patches === null ? [] : patches;
    let want, got;
    try {
        want = JSON.parse(JSON.stringify(next));
    } catch (e) {
        return patches; /* (a state JSON cannot hold is refused after the call: actorStateError) */
    }
    try {
        got = JSON.parse(JSON.stringify(immer.applyPatches(base, patches)));
    } catch (e) {
        got = undefined; /* they do not apply */
    }
    if (draftJsonEqual(got, want)) return patches;
    if (!draftObjectish(base) || !draftObjectish(next) || Array.isArray(base) ||
        Array.isArray(next) || !draftPlain(base) || !draftPlain(next))
        return [{ op: "replace", path: [], value: next }];
    const was = JSON.parse(JSON.stringify(base)), out = [];
    for (const k of Object.keys(was)) {
        if (!draftHasOwn.call(want, k)) out.push({ op: "remove", path: [k] });
        else if (!draftJsonEqual(was[k], want[k]))
            out.push({ op: "replace", path: [k], value: next[k] });
    }
    for (const k of Object.keys(want))
        if (!draftHasOwn.call(was, k)) out.push({ op: "add", path: [k], value: next[k] });
    return out;
}

/* Two values JSON.parse made are the same, whatever their keys' order (false when too deep). */
function draftJsonEqual(a, b) {
    try {
        return draftJsonSame(a, b);
    } catch (e) {
        return false;
    }
}

function draftJsonSame(a, b) {
    if (a === b) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object" ||
        Array.isArray(a) !== Array.isArray(b))
        return false;
    if (Array.isArray(a)) {
        if (a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (!draftJsonSame(a[i], b[i])) return false;
        return true;
    }
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!draftHasOwn.call(b, k) || !draftJsonSame(a[k], b[k])) return false;
    return true;
}

/* Immer's finishDraft: the next state (base itself when nothing was written) and, given a
 * listener, the patches (the fast mode gives it no inverse patches). The draft is unusable
 * afterwards. */
function draftFinish(sc, listener) {
    if (sc.done) throw new TypeError(DRAFT_REVOKED);
    draftSettle(sc);
    if (sc.switched) { /* (Immer reads through the fast proxies it finds in new values) */
        const d = sc.root === null ? sc.proxy : sc.root.inner;
        const immer = actorImmer();
        try {
            if (listener === undefined) return immer.finishDraft(d);
            const base = sc.base;
            let made = null, inverse = null;
            const next = immer.finishDraft(d, (p, inv) => { made = p; inverse = inv; });
            listener(draftCheckedPatches(immer, base, next, made), inverse);
            return next;
        } finally {
            sc.done = true;
        }
    }
    const root = sc.root;
    if (!root.modified) {
        sc.done = true;
        if (listener !== undefined) listener([], []);
        return root.base;
    }
    const patches = listener !== undefined ? [] : null;
    /* the children's callbacks, last drafted first (Immer pops them), then the root's */
    for (let i = sc.nodes.length - 1; i >= 1; i--) {
        const n = sc.nodes[i];
        const parentCopy = draftLatest(n.parent);
        if (parentCopy[n.key] === n.proxy) parentCopy[n.key] = n.modified ? n.copy : n.base;
        /* (a draft is never elsewhere in the fast mode: moving one switches to Immer) */
        if (n.modified && !n.finalized && n.assigned !== null && n.assigned.size > 0) {
            if (patches !== null) {
                const path = draftPath(n);
                if (path !== null) draftPatches(n, path, patches);
            }
            n.finalized = true;
        }
    }
    sc.done = true; /* (draftPath reads through the drafts still in the copies) */
    if (patches !== null) {
        draftPatches(root, DRAFT_ROOT_PATH, patches); /* (each node's patches are made once) */
        listener(patches, []);
    }
    return root.copy;
}
