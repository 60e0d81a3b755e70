// Persistence of a VireoClient's query cache and offline mutation queue (option `persistence`).
// A PersistenceAdapter is {load, save, clear, close?}; the client saves its whole state as one
// plain, JSON-safe object (values in Convex's JSON encoding) and loads it once in init(). The
// built-in adapter keeps it in IndexedDB, shared by every tab of the origin:
// - the cache: one record per client URL (`key`), written by every tab, merged (the newer result
//   of a query wins; one identity's results: the saver's);
// - the offline queue: one record per session (`key#queue#<sessionId>`), owned by the tab whose
//   client runs that session, which holds the Web Lock `vireo-queue:<dbName>:<key>:<sessionId>`
//   while it lives. A loading tab adopts at most one queue whose lock is free (its tab is gone)
//   and resumes that session, so the queue's idempotency keys stay in their scope: each queued
//   write is replayed by exactly one tab, once. A reloaded tab takes its own previous queue first
//   (its session is in sessionStorage), waiting a little for the old page's lock to go. Without Web Locks (Node, insecure origins) every
//   queue counts as free: one client per store at a time.
// Invariant: what `load` returns is checked here (format, schemaVersion, ages) before the client
// trusts any of it.

export const PERSIST_FORMAT = 1;
export const DEFAULT_MAX_CACHE_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_MAX_CACHE_ENTRIES = 1000;

function idbRequest(req) {
    return new Promise((resolve, reject) => {
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
}

function idbDone(tx) {
    return new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
}

// Takes the Web Lock `name`, waiting at most `ms` for its holder to let go; resolves with its
// release function, or null.
function waitLock(locks, name, ms) {
    return new Promise((resolve) => {
        const abort = typeof AbortController === "function" ? new AbortController() : null;
        const timer = abort ? setTimeout(() => abort.abort(), ms) : null;
        locks.request(name, abort ? { signal: abort.signal } : { ifAvailable: true }, (lock) => {
            clearTimeout(timer);
            if (!lock) {
                resolve(null);
                return undefined;
            }
            return new Promise((release) => resolve(release));
        }).catch(() => resolve(null));
    });
}

// The session whose queue this tab held before a reload (sessionStorage is the tab's own and
// outlives a reload): its lock is being released by the page that just went away.
function tabMemory(storage, name) {
    return {
        get() {
            try {
                return storage?.getItem(name) ?? null;
            } catch {
                return null;
            }
        },
        set(sessionId) {
            try {
                storage?.setItem(name, sessionId);
            } catch {
                // storage refused (quota, privacy mode): only the wait after a reload is lost
            }
        },
    };
}

/** How long a reloaded tab waits for its previous page's queue lock (ms). */
export const RELOAD_LOCK_WAIT_MS = 3000;

// Takes the Web Lock `name` if it is free and holds it until the returned function is called;
// resolves with that function, or null when another holder has it.
function tryLock(locks, name) {
    return new Promise((resolve) => {
        locks.request(name, { ifAvailable: true }, (lock) => {
            if (!lock) {
                resolve(null);
                return undefined;
            }
            return new Promise((release) => resolve(release));
        }).catch(() => resolve(null));
    });
}

// The newer result of each query, the saver's identity only, at most `max` (the newest).
function mergeQueries(ours, stored, ident, max) {
    const byKey = new Map();
    for (const q of Array.isArray(stored) ? stored : []) {
        if (q && typeof q.key === "string" && (q.ident ?? null) === ident) byKey.set(q.key, q);
    }
    for (const q of ours) {
        const o = byKey.get(q.key);
        if (!o || !(o.savedAt > q.savedAt)) byKey.set(q.key, q);
    }
    const all = [...byKey.values()].sort((a, b) => a.savedAt - b.savedAt);
    return all.length > max ? all.slice(all.length - max) : all;
}

/**
 * The built-in adapter (`persistence: true`): in the object store `state` of the IndexedDB
 * database `dbName`, the cache as record `key` and each session's offline queue as record
 * `key#queue#<sessionId>` (see the top of this file).
 * @param {{dbName?: string, key?: string, indexedDB?: IDBFactory, locks?: LockManager | null,
 *          maxEntries?: number}} [options]
 */
export function createIndexedDbPersistence(options = {}) {
    const dbName = options.dbName ?? "vireo-client";
    const key = options.key ?? "default";
    const slotPrefix = `${key}#queue#`;
    const locks = options.locks === undefined ? globalThis.navigator?.locks ?? null : options.locks;
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    const lockName = (sessionId) => `vireo-queue:${dbName}:${key}:${sessionId}`;
    let sessionStore = null;
    try {
        sessionStore = options.sessionStorage === undefined ? globalThis.sessionStorage ?? null : options.sessionStorage;
    } catch {
        // a page whose storage is blocked
    }
    const tab = tabMemory(sessionStore, `vireo-queue:${dbName}:${key}`);
    /** The queue this adapter owns: {sessionId, release} (release null without Web Locks). */
    let own = null;
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
    const store = async (mode) => {
        const tx = (await db()).transaction("state", mode);
        return { tx, s: tx.objectStore("state"), done: mode === "readwrite" ? idbDone(tx) : null };
    };
    const remove = async (k) => {
        const { s, done } = await store("readwrite");
        s.delete(k);
        await done;
    };
    const releaseOwn = () => {
        own?.release?.();
        own = null;
    };
    const takeOwn = async (sessionId) => {
        if (own?.sessionId === sessionId) return null;
        const previous = own?.sessionId ?? null;
        releaseOwn();
        own = { sessionId, release: locks ? await tryLock(locks, lockName(sessionId)) : null };
        tab.set(sessionId);
        return previous;
    };

    // Claims one queue whose owner is gone (its lock is free), oldest first; drops the free ones
    // that are empty or of another schemaVersion. Returns the claimed record or null.
    // `mine`: the session of this tab's page before a reload, tried first, its lock awaited.
    const claimQueue = async (schemaVersion, checkSchema, mine = null) => {
        const { s } = await store("readonly");
        const range = IDBKeyRangeOf(options).bound(slotPrefix, `${slotPrefix}\uffff`);
        const [keys, values] = await Promise.all([idbRequest(s.getAllKeys(range)), idbRequest(s.getAll(range))]);
        const slots = values.map((v, i) => ({ k: keys[i], v, id: String(keys[i]).slice(slotPrefix.length) }))
            .sort((a, b) => (b.id === mine) - (a.id === mine) || (a.v?.savedAt ?? 0) - (b.v?.savedAt ?? 0));
        for (const { k, v, id: sessionId } of slots) {
            const release = !locks ? null : sessionId === mine
                ? await waitLock(locks, lockName(sessionId), RELOAD_LOCK_WAIT_MS)
                : await tryLock(locks, lockName(sessionId));
            if (locks && !release) continue; // its tab is alive: its queue is its own
            const usable = v && Array.isArray(v.mutations) && v.mutations.length > 0 &&
                (!checkSchema || (v.schemaVersion ?? null) === schemaVersion);
            if (!usable) {
                await remove(k);
                release?.();
                continue;
            }
            return { sessionId, release, v };
        }
        return null;
    };

    // An adapter for one claimed queue, for the client that replays it in its session: it loads
    // the queue (no cache), saves only the queue (deleted once empty), and lets go in close().
    const queueAdapter = ({ sessionId, release, v }) => {
        const k = slotPrefix + sessionId;
        let held = true;
        return {
            load: async () => ({ format: PERSIST_FORMAT, schemaVersion: v.schemaVersion ?? null, savedAt: v.savedAt,
                                 ident: v.ident ?? null, queries: [], mutations: v.mutations,
                                 sessionId, sessionSecret: v.sessionSecret ?? null }),
            save: async (state) => {
                if (!held) return;
                const { s, done } = await store("readwrite");
                if (state.mutations?.length) s.put({ ...v, savedAt: state.savedAt, sessionSecret: state.sessionSecret ?? null, mutations: state.mutations }, k);
                else s.delete(k);
                await done;
            },
            clear: () => (held ? remove(k) : Promise.resolve()),
            close() {
                held = false;
                release?.();
            },
        };
    };

    return {
        /** The cache and one adopted queue. `schemaVersion` (the client's): records of another are dropped. */
        async load(opts) {
            releaseOwn(); // a client starts: what a previous one held is left to be claimed again
            const checkSchema = opts !== undefined && "schemaVersion" in opts;
            const schemaVersion = opts?.schemaVersion ?? null;
            const { s } = await store("readonly");
            let cache = await idbRequest(s.get(key));
            if (cache && checkSchema && (cache.schemaVersion ?? null) !== schemaVersion) {
                await remove(key);
                cache = undefined;
            }
            const claimed = await claimQueue(schemaVersion, checkSchema, tab.get());
            if (claimed) {
                own = { sessionId: claimed.sessionId, release: claimed.release };
                tab.set(claimed.sessionId);
            }
            const slot = claimed?.v;
            if (!cache && !slot) return undefined;
            const base = cache ?? { format: PERSIST_FORMAT, schemaVersion: slot.schemaVersion ?? null,
                                    savedAt: slot.savedAt, ident: slot.ident ?? null, queries: [] };
            return {
                ...base, mutations: slot?.mutations ?? [],
                sessionId: slot?.sessionId ?? null, sessionSecret: slot?.sessionSecret ?? null,
            };
        },
        async save(state) {
            const { queries, mutations, sessionId, sessionSecret, ...meta } = state;
            const hasQueue = Array.isArray(mutations) && mutations.length > 0;
            // the queue's record is written only under its session's lock
            const previous = hasQueue || own ? await takeOwn(sessionId) : null;
            const { s, done } = await store("readwrite");
            const get = s.get(key);
            get.onsuccess = () => {
                const stored = get.result;
                s.put({ ...meta, queries: mergeQueries(queries ?? [], stored?.queries, meta.ident ?? null, maxEntries) }, key);
            };
            if (previous !== null) s.delete(slotPrefix + previous); // its mutations are in this state
            if (hasQueue) {
                s.put({ format: meta.format, schemaVersion: meta.schemaVersion ?? null, savedAt: meta.savedAt,
                        ident: meta.ident ?? null, sessionId, sessionSecret, mutations }, slotPrefix + sessionId);
            } else if (own) {
                s.delete(slotPrefix + sessionId);
            }
            await done;
        },
        /** Removes the cache and this adapter's queue (other tabs' queues are theirs). */
        async clear() {
            const { s, done } = await store("readwrite");
            s.delete(key);
            if (own) s.delete(slotPrefix + own.sessionId);
            await done;
        },
        /**
         * Claims another queue whose tab is gone (with Web Locks only: without them a queue of a
         * live client would look orphaned). Resolves with an adapter holding just that queue, for
         * a client that replays it in its session (see VireoClient's drain), or null.
         */
        async claimOrphan(opts) {
            if (!locks) return null;
            const claimed = await claimQueue(opts?.schemaVersion ?? null, opts !== undefined && "schemaVersion" in opts);
            return claimed ? queueAdapter(claimed) : null;
        },
        /** Gives up the queue's lock (the client is closed): another tab may adopt what is left. */
        close() {
            releaseOwn();
        },
    };
}

function IDBKeyRangeOf(options) {
    const R = options.IDBKeyRange ?? globalThis.IDBKeyRange;
    if (!R) throw new TypeError("persistence: no IDBKeyRange in this environment; pass options.IDBKeyRange with options.indexedDB");
    return R;
}

/** Checks `persistence` (true, false/undefined, or an adapter); returns the adapter or null. */
export function normalizePersistence(p, url, maxEntries) {
    if (p === undefined || p === false || p === null) return null;
    if (p === true) return createIndexedDbPersistence({ key: url, maxEntries });
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
