/* ---- drafts of an actor's state (47_actors.js): Immer's semantics and patches, at a fraction
 * of Immer's cost for what most methods do ----
 * A method's `state` is a draft: writes go to a copy, the instance's state object is never
 * changed, and the call's patches say what changed (docs/actors.md "Patches"). Immer defines
 * what a draft does and which patches it makes, and Zocket's clients rely on those shapes. Immer
 * costs ~1 µs per call in JavaScriptCore before anything is changed (a scope, a revocable proxy,
 * its finalization walk) and ~4 µs when it builds patches, more than the rest of a small call.
 *
 * So a draft starts in a fast mode that mirrors Immer's own bookkeeping for the root object
 * (base, copy, assigned keys, modified) exactly, trap for trap (immer/src/core/proxy.ts,
 * objectTraps, and plugins/patches.ts, generatePatchesFromAssigned), and serves what most
 * methods do: read and write the root's primitive fields, delete them, list its keys. The first
 * operation it does not serve (reading an object or array out of the state, anything on the
 * prototype chain, a symbol, defineProperty) switches it for good: an Immer draft of the same
 * base replays the writes done so far, in order (every write is recorded, so Immer ends in the
 * state it would have reached on its own), and from then on every trap forwards to it. A root
 * that is not a plain object (an array) is an Immer draft from the start.
 * tests/integration/actor-draft.test.mjs checks both modes against Immer itself on random
 * scripts (states, identities and patches). */

const IMMER_STATE = Symbol.for("immer-state"); /* Immer's DRAFT_STATE: isDraft, current, ... */
const draftHasOwn = Object.prototype.hasOwnProperty;
const DRAFT_REVOKED = "Proxy has already been revoked. No more operations are allowed to be " +
    "performed on it";

/* The target of the fast proxy is its state, as in Immer: the traps need no closure. */
class DraftState {
    constructor(base) {
        this.base = base;
        this.copy = null;
        this.assigned = null; /* key -> true (assigned) / false (deleted), in Immer's order */
        this.modified = false;
        this.ops = null;      /* the writes so far, [1, key, value] or [0, key], for a switch */
        this.inner = null;    /* the Immer draft, once switched */
        this.done = false;
        this.proxy = null;
    }
}

/* immer's `is` */
function draftIs(x, y) {
    return x === y ? x !== 0 || 1 / x === 1 / y : x !== x && y !== y;
}

function draftObjectish(v) {
    return v !== null && (typeof v === "object" || typeof v === "function");
}

function draftLive(st) {
    if (st.done) throw new TypeError(DRAFT_REVOKED);
}

/* The Immer draft that takes over, with the writes replayed. */
function draftSwitch(st) {
    if (st.inner === null) {
        const d = actorImmer().createDraft(st.base);
        const ops = st.ops;
        if (ops !== null) {
            for (let i = 0; i < ops.length; i++) {
                const op = ops[i];
                if (op[0] === 1) d[op[1]] = op[2];
                else delete d[op[1]];
            }
        }
        st.inner = d;
        st.ops = null;
        st.copy = null;
        st.assigned = null;
    }
    return st.inner;
}

function draftRecord(st, op) {
    if (st.ops === null) st.ops = [];
    st.ops.push(op);
}

/* immer's prepareCopy and markChanged for a root (no parent) */
function draftPrepareCopy(st) {
    if (st.copy === null) {
        st.assigned = new Map();
        st.copy = { ...st.base };
    }
}

const draftTraps = {
    get(st, prop) {
        draftLive(st);
        if (st.inner === null && typeof prop === "string") {
            const source = st.copy === null ? st.base : st.copy;
            if (draftHasOwn.call(source, prop)) {
                const value = source[prop];
                if (!draftObjectish(value)) return value;
            } else if (!(prop in source)) {
                return undefined;
            }
        }
        return Reflect.get(draftSwitch(st), prop);
    },
    set(st, prop, value) {
        draftLive(st);
        if (st.inner === null && typeof prop === "string" && value !== st.proxy) {
            const source = st.copy === null ? st.base : st.copy;
            const own = draftHasOwn.call(source, prop);
            if ((own || !(prop in source)) && !draftObjectish(source[prop])) {
                /* every write is replayed, the ones that change nothing too: one may still have
                 * marked the draft modified (-0 over 0), and replaying one that did nothing
                 * does nothing again */
                draftRecord(st, [1, prop, value]);
                if (!st.modified) {
                    const current = source[prop];
                    if (draftIs(value, current) &&
                        (value !== undefined || draftHasOwn.call(st.base, prop)))
                        return true;
                    draftPrepareCopy(st);
                    st.modified = true;
                }
                const copy = st.copy;
                if ((copy[prop] === value &&
                     (value !== undefined || draftHasOwn.call(copy, prop))) ||
                    (Number.isNaN(value) && Number.isNaN(copy[prop])))
                    return true;
                copy[prop] = value;
                st.assigned.set(prop, true);
                return true;
            }
        }
        const d = draftSwitch(st);
        return Reflect.set(d, prop, value === st.proxy ? d : value);
    },
    deleteProperty(st, prop) {
        draftLive(st);
        if (st.inner === null && typeof prop === "string") {
            draftPrepareCopy(st);
            if (st.base[prop] !== undefined || prop in st.base) {
                st.assigned.set(prop, false);
                st.modified = true;
            } else {
                st.assigned.delete(prop);
            }
            delete st.copy[prop];
            draftRecord(st, [0, prop]);
            return true;
        }
        return Reflect.deleteProperty(draftSwitch(st), prop);
    },
    has(st, prop) {
        draftLive(st);
        if (st.inner !== null) return prop in st.inner;
        return prop in (st.copy === null ? st.base : st.copy);
    },
    ownKeys(st) {
        draftLive(st);
        if (st.inner !== null) return Reflect.ownKeys(st.inner);
        return Reflect.ownKeys(st.copy === null ? st.base : st.copy);
    },
    getOwnPropertyDescriptor(st, prop) {
        draftLive(st);
        if (st.inner !== null) return Reflect.getOwnPropertyDescriptor(st.inner, prop);
        const owner = st.copy === null ? st.base : st.copy;
        const desc = Reflect.getOwnPropertyDescriptor(owner, prop);
        if (!desc) return desc;
        return { writable: true, configurable: true, enumerable: desc.enumerable,
                 value: owner[prop] };
    },
    defineProperty(st, prop, desc) {
        draftLive(st);
        return Reflect.defineProperty(draftSwitch(st), prop, desc);
    },
    getPrototypeOf(st) {
        draftLive(st);
        if (st.inner !== null) return Reflect.getPrototypeOf(st.inner);
        return Object.getPrototypeOf(st.base);
    },
    setPrototypeOf(st, proto) {
        draftLive(st);
        return Reflect.setPrototypeOf(draftSwitch(st), proto);
    },
};

/* A draft of base: draft.proxy is what the handler sees. */
function draftCreate(base) {
    const st = new DraftState(base);
    if (base !== null && typeof base === "object" && Object.getPrototypeOf(base) === Object.prototype)
        st.proxy = new Proxy(st, draftTraps);
    else
        st.proxy = st.inner = actorImmer().createDraft(base);
    return st;
}

/* Immer's finishDraft: the next state (base itself when nothing was written) and, given a
 * listener, the patches (Immer's, in Immer's order; the listener gets no inverse patches from
 * the fast mode). The draft is unusable afterwards. */
function draftFinish(st, listener) {
    if (st.done) throw new TypeError(DRAFT_REVOKED);
    st.done = true;
    if (st.inner !== null)
        return listener === undefined ? actorImmer().finishDraft(st.inner)
            : actorImmer().finishDraft(st.inner, listener);
    if (!st.modified) {
        if (listener !== undefined) listener([], []);
        return st.base;
    }
    if (listener !== undefined) {
        const patches = [];
        const base = st.base, copy = st.copy;
        for (const [key, assigned] of st.assigned) {
            const op = !assigned ? "remove" : draftHasOwn.call(base, key) ? "replace" : "add";
            if (op === "replace" && base[key] === copy[key]) continue;
            patches.push(op === "remove" ? { op, path: [key] }
                : { op, path: [key], value: copy[key] });
        }
        listener(patches, []);
    }
    return st.copy;
}
