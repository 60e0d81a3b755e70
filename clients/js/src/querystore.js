// Central cache of live query results, keyed by QueryStore.makeKey(name, args) and by queryId.
// One entry per distinct (name, canonical args): subscribers share it (refCount) and its queryId
// is never reused. Results read through getResult() so an optimistic layer can later overlay
// the server results without changing callers; watch() is the useSyncExternalStore-style hook.
// An entry whose result was computed for another identity than the client's current one is
// `hidden` (reads as loading) until the server re-runs it for the new identity.

import { canonicalJson, encodeArgs } from "./values.js";

export class QueryStore {
    constructor() {
        /** @type {Map<string, object>} key -> entry */
        this.entries = new Map();
        /** @type {Map<number, object>} queryId -> entry */
        this.byId = new Map();
        /** @type {Map<string, Set<() => void>>} */
        this.watchers = new Map();
    }

    /** Deterministic key of a query: its path and its canonical (key-sorted, encoded) args. */
    static makeKey(name, args) {
        return keyOf(name, encodeArgs(args));
    }

    get(key) {
        return this.entries.get(key);
    }

    create(key, queryId, path, args) {
        const entry = {
            key, queryId, path, args,
            refCount: 0,
            subscribers: new Set(),
            hasValue: false,
            value: undefined,
            error: null,
            hash: undefined,
            ident: null, // identity key the value/error was computed under (auth)
            hidden: false, // ident is not the client's current identity: reads as loading
        };
        this.entries.set(key, entry);
        this.byId.set(queryId, entry);
        return entry;
    }

    delete(entry) {
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
        this.byId.delete(entry.queryId);
    }

    /** Current result (undefined while loading or failed). The optimistic overlay goes here. */
    getResult(key) {
        const e = this.entries.get(key);
        return e && !e.error && !e.hidden ? e.value : undefined;
    }

    getError(key) {
        const e = this.entries.get(key);
        return e && !e.hidden ? e.error : null;
    }

    hasServerResult(key) {
        const e = this.entries.get(key);
        return !!e && !e.hidden && (e.hasValue || !!e.error);
    }

    watch(key, listener) {
        let set = this.watchers.get(key);
        if (!set) this.watchers.set(key, (set = new Set()));
        set.add(listener);
        return () => {
            set.delete(listener);
            if (set.size === 0 && this.watchers.get(key) === set) this.watchers.delete(key);
        };
    }

    notifyWatchers(key) {
        const set = this.watchers.get(key);
        if (!set) return;
        for (const l of [...set]) {
            try {
                l();
            } catch (e) {
                console.error("vireo: query watcher threw", e);
            }
        }
    }
}

export function keyOf(path, encodedArgs) {
    return JSON.stringify(path) + canonicalJson(encodedArgs);
}
