// Optimistic layers over the QueryStore's server results (Convex's OptimisticLocalStore).
// Each in-flight mutation with an optimistic update owns one layer: a function run against a
// LocalStore. The overlay (key -> value) is recomputed from the server results by replaying every
// remaining layer in call order, whenever a layer is added or dropped or the server results
// change; so a layer is never "undone" by hand, and dropping several layers (or one touching
// several queries) is atomic. Invariant: `overlay` only holds keys some layer set.

import { decodeValue, encodeArgs, keyOf } from "./values.js";

/** Maximum number of optimistic layers (in-flight mutations with an update) held at once. */
export const MAX_LAYERS = 10000;

/** The store an optimistic update reads and writes: server results with earlier layers on top. */
export class LocalStore {
    constructor(layers, pathOf) {
        this._layers = layers;
        this._pathOf = pathOf;
        /** Keys this update wrote. */
        this.modified = [];
    }

    /** The query's current value (undefined: loading, failed, or unknown to the client). */
    getQuery(name, args = {}) {
        const key = keyOf(this._pathOf(name), encodeArgs(args));
        return this._layers.view(key);
    }

    /** Every query of `name` the client holds: [{args, value}] (value undefined while loading). */
    getAllQueries(name) {
        const path = this._pathOf(name);
        const out = [];
        const seen = new Set();
        for (const [key, o] of this._layers.next) {
            if (o.path !== path) continue;
            seen.add(key);
            out.push({ args: decodeValue(o.args), value: o.value });
        }
        for (const e of this._layers.store.entries.values()) {
            if (e.path !== path || seen.has(e.key)) continue;
            out.push({ args: decodeValue(e.args), value: this._layers.store.getServerResult(e.key) });
        }
        return out;
    }

    /** Sets the query's value as seen by this client until the layer is dropped (undefined: loading). */
    setQuery(name, args, value) {
        const path = this._pathOf(name);
        const encoded = encodeArgs(args ?? {});
        const key = keyOf(path, encoded);
        this._layers.next.set(key, { path, args: encoded, value });
        this.modified.push(key);
    }
}

export class OptimisticLayers {
    /**
     * @param {import("./querystore.js").QueryStore} store server results
     * @param {(name: any) => string} pathOf function reference -> path
     */
    constructor(store, pathOf) {
        this.store = store;
        this.pathOf = pathOf;
        /** @type {{id: number, update: Function, args: any}[]} in mutation call order */
        this.layers = [];
        /** @type {Map<string, {path: string, args: any, value: any}>} */
        this.overlay = new Map();
        this.next = this.overlay; // the overlay being built while layers run
    }

    // A key's value while layers run: a layer's write, else the server's.
    view(key) {
        const o = this.next.get(key);
        return o ? o.value : this.store.getServerResult(key);
    }

    /** Effective value of a key: overlay first. `has` tells whether the overlay holds it. */
    get(key) {
        return this.overlay.get(key);
    }

    /**
     * Adds a layer and runs it at once on the current overlay. Returns the keys it changed
     * (effective value differs). Throws (adding nothing) when the update throws.
     */
    add(id, update, args) {
        if (this.layers.length >= MAX_LAYERS)
            throw new RangeError(`more than ${MAX_LAYERS} mutations with optimistic updates in flight`);
        const before = this.overlay;
        this.next = new Map(before);
        try {
            update(new LocalStore(this, this.pathOf), args);
        } catch (e) {
            this.next = this.overlay;
            throw e;
        }
        this.layers.push({ id, update, args });
        this.overlay = this.next;
        return this._diff(before, (k) => this.store.getServerResult(k));
    }

    /** Whether mutation `id` has a layer. */
    has(id) {
        return this.layers.some((l) => l.id === id);
    }

    /**
     * Drops the layers of `ids` (a Set) and replays the others over the server results.
     * `serverBefore(key)` gives a key's server value before the caller changed the server results
     * (default: unchanged). Returns the keys whose effective value changed by the overlay.
     */
    recompute(ids, serverBefore) {
        if (ids?.size) this.layers = this.layers.filter((l) => !ids.has(l.id));
        const before = this.overlay;
        if (!this.layers.length && !before.size) return [];
        this.next = new Map();
        for (const l of this.layers) {
            try {
                l.update(new LocalStore(this, this.pathOf), l.args);
            } catch (e) {
                console.error("vireo: an optimistic update threw while replayed; its layer is skipped", e);
            }
        }
        this.overlay = this.next;
        return this._diff(before, serverBefore ?? ((k) => this.store.getServerResult(k)));
    }

    _diff(before, serverBefore) {
        const changed = [];
        const keys = new Set([...before.keys(), ...this.overlay.keys()]);
        for (const k of keys) {
            const a = before.has(k) ? before.get(k).value : serverBefore(k);
            const b = this.overlay.has(k) ? this.overlay.get(k).value : this.store.getServerResult(k);
            if (a !== b) changed.push(k);
        }
        return changed;
    }
}
