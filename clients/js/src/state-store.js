// The client's copy of one actor instance's state: a snapshot replaced whole by `state:snapshot`,
// changed by the JSON patches of `state:patch` (RFC 6902's add, replace, remove; paths are RFC
// 6901 pointers, `~1` → `/` and `~0` → `~`). As Zocket's client does, `add` at an array index
// *sets* that index (Immer only adds at the end) and `-` appends. Each update makes a new state
// object and copies only the containers on the patched paths: untouched subtrees keep their
// identity, so selectors and React's useSyncExternalStore see what changed.

/** Splits an RFC 6901 pointer into unescaped reference tokens ("" → the whole document). */
export function parsePointer(path) {
    if (typeof path !== "string") throw new TypeError(`patch path must be a string, got ${typeof path}`);
    if (path === "") return [];
    if (path[0] !== "/") throw new TypeError(`patch path ${JSON.stringify(path)} must start with "/"`);
    return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

// Own data property even for "__proto__" (plain assignment would set the prototype instead).
function setOwn(obj, key, value) {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

function arrayIndex(arr, token, allowEnd) {
    if (token === "-" && allowEnd) return arr.length;
    if (!/^(0|[1-9][0-9]*)$/.test(token)) return -1;
    const i = Number(token);
    return i <= (allowEnd ? arr.length : arr.length - 1) ? i : -1;
}

function isContainer(v) {
    return v !== null && typeof v === "object";
}

function shallowCopy(v) {
    if (Array.isArray(v)) return v.slice();
    const out = {};
    for (const k of Object.keys(v)) setOwn(out, k, v[k]);
    return out;
}

/**
 * Applies one patch to `doc` without changing it; returns the new document. Throws a TypeError
 * naming the patch when its path does not exist (the caller then asks for a fresh snapshot).
 */
export function applyPatch(doc, patch) {
    if (!isContainer(patch)) throw new TypeError("a patch must be an object");
    const { op } = patch;
    if (op !== "add" && op !== "replace" && op !== "remove")
        throw new TypeError(`unsupported patch op ${JSON.stringify(op)}`);
    const tokens = parsePointer(patch.path);
    if (tokens.length === 0) {
        if (op === "remove") throw new TypeError("cannot remove the whole state");
        return patch.value;
    }
    const bad = (why) => new TypeError(`patch ${op} ${JSON.stringify(patch.path)}: ${why}`);
    if (!isContainer(doc)) throw bad("the state is not an object");
    const root = shallowCopy(doc);
    let parent = root;
    for (let i = 0; i < tokens.length - 1; i++) {
        const t = tokens[i];
        let child;
        if (Array.isArray(parent)) {
            const idx = arrayIndex(parent, t, false);
            if (idx < 0) throw bad(`no element ${t}`);
            child = parent[idx];
            if (!isContainer(child)) throw bad(`element ${t} is not an object`);
            parent[idx] = child = shallowCopy(child);
        } else {
            if (!Object.prototype.hasOwnProperty.call(parent, t)) throw bad(`no key ${JSON.stringify(t)}`);
            child = parent[t];
            if (!isContainer(child)) throw bad(`key ${JSON.stringify(t)} is not an object`);
            child = shallowCopy(child);
            setOwn(parent, t, child);
        }
        parent = child;
    }
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
        if (op === "remove") {
            const idx = arrayIndex(parent, last, false);
            if (idx < 0) throw bad(`no element ${last}`);
            parent.splice(idx, 1);
        } else {
            // add and replace both set: Immer's `add` at an index is always at the end, and
            // Zocket's client treats it as a set; `-` appends.
            const idx = arrayIndex(parent, last, op === "add");
            if (idx < 0) throw bad(`no element ${last}`);
            parent[idx] = patch.value;
        }
    } else if (op === "remove") {
        if (!Object.prototype.hasOwnProperty.call(parent, last)) throw bad(`no key ${JSON.stringify(last)}`);
        delete parent[last];
    } else {
        setOwn(parent, last, patch.value);
    }
    return root;
}

/** Applies patches in order; returns the new document (the input is not changed). */
export function applyPatches(doc, patches) {
    if (!Array.isArray(patches)) throw new TypeError("patches must be an array");
    let cur = doc;
    for (const p of patches) cur = applyPatch(cur, p);
    return cur;
}

/**
 * One actor instance's state and its listeners. Listeners run synchronously after each snapshot
 * or patch; a new listener gets the current state at once when there is one. A listener that
 * throws is reported to `onError` and the others still run.
 */
export class StateStore {
    constructor(onError = (e) => console.error(e)) {
        this.state = undefined;
        this.listeners = new Set();
        this.onError = onError;
    }

    getState() {
        return this.state;
    }

    setSnapshot(state) {
        this.state = state;
        this._notify();
    }

    /** Applies a `state:patch`'s patches; ignored before the first snapshot. Throws (changing
     * nothing) when a patch does not apply. */
    applyPatches(patches) {
        if (this.state === undefined) return;
        this.state = applyPatches(this.state, patches);
        this._notify();
    }

    subscribe(listener) {
        if (typeof listener !== "function") throw new TypeError("state listener must be a function");
        const entry = { listener }; // the same function twice is two subscriptions
        this.listeners.add(entry);
        if (this.state !== undefined) this._call(entry, this.state);
        return () => {
            this.listeners.delete(entry);
        };
    }

    get subscriberCount() {
        return this.listeners.size;
    }

    clear() {
        this.state = undefined;
        this.listeners.clear();
    }

    _call(entry, state) {
        try {
            entry.listener(state);
        } catch (e) {
            this.onError(e);
        }
    }

    _notify() {
        if (this.state === undefined) return;
        const state = this.state;
        for (const entry of [...this.listeners]) {
            if (this.listeners.has(entry)) this._call(entry, state);
        }
    }
}
