// Central cache of live query results, keyed by QueryStore.makeKey(name, args) and by queryId.
// One entry per distinct (name, canonical args): subscribers share it (refCount) and its queryId
// is never reused. Results read through getResult(): the optimistic overlay (optimistic.js) on top
// of the server's (or the persisted cache's) result; watch() is the useSyncExternalStore-style
// hook. An entry loaded from the persisted cache has a value but is not `confirmed` until the
// server sends its result (hasServerResult).
// An entry whose result was computed for another identity than the client's current one is
// `hidden` (reads as loading) until the server re-runs it for the new identity.

import { OptimisticLayers } from "./optimistic.js";
import { encodeArgs, keyOf } from "./values.js";

export { keyOf };

export class QueryStore {
    /** @param {(name: any) => string} [pathOf] function reference -> path (for LocalStore) */
    constructor(pathOf = (n) => n) {
        /** @type {Map<string, object>} key -> entry */
        this.entries = new Map();
        /** @type {Map<number, object>} queryId -> entry */
        this.byId = new Map();
        /** @type {Map<string, Set<() => void>>} */
        this.watchers = new Map();
        /** @type {Map<string, {path, args, value, savedAt, ident}>} persisted results, oldest first */
        this.cache = new Map();
        /** The client's identity key: cached results of another identity are not shown. */
        this.currentIdent = null;
        /** Optimistic layers of the in-flight mutations. */
        this.optimistic = new OptimisticLayers(this, pathOf);
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
            confirmed: false, // the value/error came from the server (not the persisted cache)
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

    /** The server's (or the cache's) result without optimistic layers; undefined while loading. */
    getServerResult(key) {
        const e = this.entries.get(key);
        if (e) return !e.error && !e.hidden ? e.value : undefined;
        const c = this.cache.get(key); // not subscribed (yet): the persisted result
        return c && c.ident === this.currentIdent ? c.value : undefined;
    }

    /** Current result: the optimistic overlay, else the server's (undefined while loading or failed). */
    getResult(key) {
        const e = this.entries.get(key);
        if (e?.hidden) return undefined;
        const o = this.optimistic.get(key);
        return o ? o.value : this.getServerResult(key);
    }

    /** The query's error (null if none, or while an optimistic layer sets its value). */
    getError(key) {
        const e = this.entries.get(key);
        return e && !e.hidden && !this.optimistic.get(key) ? e.error : null;
    }

    /** Whether the server confirmed the result (not only the persisted cache or a layer). */
    hasServerResult(key) {
        const e = this.entries.get(key);
        return !!e && !e.hidden && e.confirmed && (e.hasValue || !!e.error);
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
