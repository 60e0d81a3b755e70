// Persistence of a VireoClient's query cache and offline mutation queue (option `persistence`).
// A PersistenceAdapter is {load, save, clear}; the client saves its whole state as one plain,
// JSON-safe object (values in Convex's JSON encoding) and loads it once in init(). The built-in
// adapter keeps it in IndexedDB, one record per client URL. Invariant: what `load` returns is
// checked here (format, schemaVersion, ages) before the client trusts any of it.

export const PERSIST_FORMAT = 1;
export const DEFAULT_MAX_CACHE_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_MAX_CACHE_ENTRIES = 1000;

function idbRequest(req) {
    return new Promise((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
}

/**
 * The built-in adapter (`persistence: true`): one record `key` in the object store `state` of the
 * IndexedDB database `dbName`.
 * @param {{dbName?: string, key?: string, indexedDB?: IDBFactory}} [options]
 */
export function createIndexedDbPersistence(options = {}) {
    const dbName = options.dbName ?? "vireo-client";
    const key = options.key ?? "default";
    let dbPromise = null;
    const db = () => {
        if (dbPromise) return dbPromise;
        const idb = options.indexedDB ?? globalThis.indexedDB;
        if (!idb) return Promise.reject(new TypeError("persistence: no IndexedDB in this environment; pass a PersistenceAdapter"));
        const req = idb.open(dbName, 1);
        req.onupgradeneeded = () => req.result.createObjectStore("state");
        dbPromise = idbRequest(req);
        dbPromise.catch(() => { dbPromise = null; });
        return dbPromise;
    };
    const run = async (mode, fn) => {
        const tx = (await db()).transaction("state", mode);
        const result = await idbRequest(fn(tx.objectStore("state")));
        if (mode === "readwrite") {
            await new Promise((resolve, reject) => {
                tx.oncomplete = resolve;
                tx.onerror = tx.onabort = () => reject(tx.error);
            });
        }
        return result;
    };
    return {
        load: () => run("readonly", (s) => s.get(key)),
        save: (state) => run("readwrite", (s) => s.put(state, key)).then(() => undefined),
        clear: () => run("readwrite", (s) => s.delete(key)).then(() => undefined),
    };
}

/** Checks `persistence` (true, false/undefined, or an adapter); returns the adapter or null. */
export function normalizePersistence(p, url) {
    if (p === undefined || p === false || p === null) return null;
    if (p === true) return createIndexedDbPersistence({ key: url });
    if (typeof p === "object" && ["load", "save", "clear"].every((m) => typeof p[m] === "function"))
        return p;
    throw new TypeError("persistence must be true, false, or a PersistenceAdapter " +
                        "{load(): Promise<state>, save(state): Promise<void>, clear(): Promise<void>}");
}

/**
 * Validates a loaded state. Returns {queries, mutations, sessionId, sessionSecret, ident} with
 * entries older than maxCacheAge dropped, or null when there is nothing usable (no state, another
 * format or schemaVersion: the caller clears the store).
 */
export function checkLoadedState(state, { schemaVersion, maxCacheAge, now = Date.now() }) {
    if (!state || typeof state !== "object" || state.format !== PERSIST_FORMAT) return null;
    if ((state.schemaVersion ?? null) !== (schemaVersion ?? null)) return null;
    const okString = (s) => typeof s === "string" && s.length > 0;
    const queries = (Array.isArray(state.queries) ? state.queries : []).filter((q) =>
        q && okString(q.key) && okString(q.path) && typeof q.savedAt === "number" &&
        now - q.savedAt <= maxCacheAge && "value" in q);
    const mutations = (Array.isArray(state.mutations) ? state.mutations : []).filter((m) =>
        m && okString(m.path) && okString(m.idempotencyKey) && "args" in m);
    return {
        queries, mutations,
        sessionId: okString(state.sessionId) ? state.sessionId : null,
        sessionSecret: okString(state.sessionSecret) ? state.sessionSecret : null,
        ident: typeof state.ident === "string" ? state.ident : null,
    };
}
