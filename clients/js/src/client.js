// VireoClient: the sync protocol (docs/protocol.md, "Sync protocol") over one WebSocket.
// Live queries are ref-counted entries of the QueryStore; a transition is applied whole (all its
// modifications, then the version, then the callbacks) so callbacks never see two versions mixed;
// a mutation settles only once the applied version reaches the version it committed at. Mutations
// keep their requestId and idempotencyKey until answered and are re-sent, in order, on every
// reconnect; actions are never re-sent. The session is resumed with the secret the server gave in
// `connected`; a transition too large for one message arrives as transitionChunk parts that are
// joined here before it is applied. Auth (auth.js decides the token): the token goes in `connect`
// or an `authenticate`; results and unsent calls carry the identity they belong to, and are
// hidden / refused once the client's identity is another one (see the auth block below).
// Optimistic updates are layers over the results (optimistic.js), dropped in the transition that
// settles their mutation; with `persistence` the results and the unanswered mutations are saved
// (persistence.js) and restored by init(), before the socket opens.

import { AuthManager, identityKeyOf } from "./auth.js";
import { normalizeBackoff } from "./backoff.js";
import { Connection } from "./connection.js";
import { ClientError, ServerError } from "./errors.js";
import { PaginatedQuery } from "./paginated.js";
import {
    DEFAULT_MAX_CACHE_AGE_MS, DEFAULT_MAX_CACHE_ENTRIES, PERSIST_FORMAT, checkLoadedState,
    normalizePersistence,
} from "./persistence.js";
import { QueryStore, keyOf } from "./querystore.js";
import { decodeValue, encodeArgs, encodeValue } from "./values.js";

export const VERSION = "0.1.0";
const HELD = Symbol("held for fetchToken"); // a request's identity while setAuth fetches (auth)
export const PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_OFFLINE_QUEUE = 1000;
const HOLD_MS = 50; // longest a transition waits for the answer of an optimistic mutation
/** Most clients replaying other tabs' queues at once (each has its own socket); more wait. */
export const MAX_QUEUE_REPLAYERS = 4;

/** Turns the server base URL (http/https) or a ws/wss URL into the sync endpoint URL. */
export function syncUrl(url) {
    let u;
    try {
        u = new URL(String(url));
    } catch {
        throw new TypeError(`invalid Vireo URL: ${url}`);
    }
    if (u.protocol === "http:") u.protocol = "ws:";
    else if (u.protocol === "https:") u.protocol = "wss:";
    else if (u.protocol !== "ws:" && u.protocol !== "wss:")
        throw new TypeError(`invalid Vireo URL ${url}: expected http(s):// or ws(s)://`);
    if (!u.pathname.endsWith("/api/sync"))
        u.pathname = u.pathname.replace(/\/+$/, "") + "/api/sync";
    u.hash = "";
    return u.toString();
}

/** Function path of a reference: "messages:list", or an object with a `_name` or `path`. */
export function functionPath(ref) {
    if (typeof ref === "string" && ref) return ref;
    if (ref && (typeof ref === "object" || typeof ref === "function")) {
        if (typeof ref._name === "string" && ref._name) return ref._name;
        if (typeof ref.path === "string" && ref.path) return ref.path;
    }
    throw new TypeError("function reference must be a name like \"messages:list\" " +
                        "or an object with a `_name` or `path` string");
}

function randomUUID() {
    const c = globalThis.crypto;
    if (c?.randomUUID) return c.randomUUID(); // absent in browsers on insecure origins
    const b = new Uint8Array(16);
    if (c?.getRandomValues) c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The optimistic update of a mutation's options: optimisticUpdate(localStore, args) (Convex), or
 * seed 002's single-query shorthand optimistic {query, args?, update(current) → next}, applied
 * when the query has a value. Returns a function (localStore, args) or null.
 */
function optimisticOf(options) {
    if (options === undefined || options === null) return null;
    if (typeof options !== "object") throw new TypeError("mutation options must be an object");
    const { optimisticUpdate: fn, optimistic: o } = options;
    if (fn !== undefined && o !== undefined)
        throw new TypeError("mutation options: pass optimisticUpdate or optimistic, not both");
    if (fn !== undefined) {
        if (typeof fn !== "function")
            throw new TypeError("optimisticUpdate must be a function (localStore, args) => void");
        return fn;
    }
    if (o === undefined) return null;
    if (!o || typeof o !== "object" || typeof o.update !== "function")
        throw new TypeError("optimistic must be {query, args?, update: (current) => next} " +
                            "(use optimisticUpdate to change several queries)");
    const path = functionPath(o.query);
    const qargs = o.args ?? {};
    encodeArgs(qargs); // refused now rather than when the layer runs
    return (store) => {
        const current = store.getQuery(path, qargs);
        if (current !== undefined) store.setQuery(path, qargs, o.update(current));
    };
}

function reportError(what, err) {
    console.error(`vireo: ${what}`, err);
}

// A stored value decoded, or as stored if it does not decode (never throws: for display).
function decodeOr(v) {
    try {
        return decodeValue(v);
    } catch {
        return v;
    }
}

export class VireoClient {
    /**
     * @param {string} url server base URL (http://host:port) or the ws(s)://…/api/sync URL
     * @param {object} [options] see index.d.ts (VireoClientOptions)
     */
    constructor(url, options = {}) {
        this.url = syncUrl(url);
        this._options = options; // for the clients that replay other tabs' queues (_drainOrphans)
        const WS = options.WebSocket ?? globalThis.WebSocket;
        if (typeof WS !== "function")
            throw new TypeError(
                "VireoClient: no WebSocket implementation. Pass one as options.WebSocket; on " +
                "Node 20: `import WebSocket from \"ws\"; new VireoClient(url, { WebSocket })`");
        this.sessionId = options.sessionId ?? randomUUID();
        /** The server's secret for this session (from `connected`), sent to resume it. */
        this.sessionSecret = null;
        this._chunks = null; // {transitionId, parts[]} of a transition arriving in chunks
        this._sessionVersion = null; // the version the next transition must start from, if known
        this._held = null; // {list: [[msg, decode]], timer}: transitions waiting for an answer
        this.clientVersion = options.clientVersion ?? `vireo-js/${VERSION}`;
        this.requestTimeoutMs = options.requestTimeoutMs ?? 60000;
        /** The server's message limit (--max-message): a larger call is refused here, as the
         * server would close the connection (1009) and a replay would meet the same fate. */
        this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
        const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30000;
        if (!(heartbeatIntervalMs > 0)) throw new TypeError("heartbeatIntervalMs must be > 0");

        this.queryStore = new QueryStore(functionPath);
        /** Store version the query results are at (null before the first transition). */
        this.version = null;
        /** The last `connected` message's details. */
        this.serverInfo = null;
        this.lastError = null;

        this._nextQueryId = 1;
        this._nextRequestId = 1;
        this._requests = new Map(); // requestId -> request, in creation (= send) order
        this._oneShots = new Set(); // reject functions of pending query() calls
        this._pendingAdd = new Set(); // queryIds to add at the next flush
        this._pendingRemove = new Set(); // queryIds whose refCount fell to 0
        this._flushQueued = false;
        // modifyQuerySet messages of this socket not known to be processed yet ({add, remove,
        // left: ids not yet acknowledged}): one the server refuses (RateLimited) is re-sent
        this._querySets = [];
        this._querySetRetry = null; // {add: Set, remove: Set, timer}
        this._ready = false; // `connected` received on the current socket
        this._closed = false;
        this._listeners = new Set();
        this._pendingListeners = new Set();
        this._pendingNotifyQueued = false;
        this._pendingSnapshot = null; // pendingMutations()'s array until the list changes
        this._hasEverConnected = false;
        this._connectionCount = 0;
        this._inUseStreak = 0; // SessionIdInUse refusals since the last `connected`
        this._initAuth(options);
        this._initPersistence(options);

        this._conn = new Connection({
            url: this.url,
            WebSocket: WS,
            heartbeatIntervalMs,
            healthyAfterMs: options.healthyAfterMs,
            backoff: normalizeBackoff(options.backoff),
            random: options.random,
            onOpen: () => this._onOpen(),
            onMessage: (data) => this._onMessage(data),
            onDrop: (err) => this._onDrop(err),
            onState: (state, err) => this._onState(state, err),
        });
        if (!this._persist) this._conn.start(); // with persistence, init() starts it
    }

    /**
     * Convex's ConnectionState, plus `state` ("connecting" | "connected" | "disconnected") and
     * `offlineQueueLength` (mutations waiting to be sent).
     */
    connectionState() {
        let oldest = null;
        let mutations = 0;
        let actions = 0;
        for (const r of this._requests.values()) {
            if (r.kind === "mutation") mutations++;
            else actions++;
            if (oldest === null || r.createdAt < oldest) oldest = r.createdAt;
        }
        return {
            state: this._conn.state,
            isWebSocketConnected: this._ready,
            hasInflightRequests: this._requests.size > 0,
            timeOfOldestInflightRequest: oldest === null ? null : new Date(oldest),
            hasEverConnected: this._hasEverConnected,
            connectionCount: this._connectionCount,
            connectionRetries: this._conn.attempt,
            inflightMutations: mutations,
            inflightActions: actions,
            offlineQueueLength: this._unsentMutations().length,
        };
    }

    onConnectionChange(listener) {
        this._listeners.add(listener);
        return () => this._listeners.delete(listener);
    }

    /**
     * The mutations not yet settled (the offline queue, those in flight, and those restored from
     * the persisted queue after a reload), in call order: [{name, args, idempotencyKey,
     * createdAt, restored}]. The same array while the list is unchanged.
     */
    pendingMutations() {
        if (this._pendingSnapshot) return this._pendingSnapshot;
        const out = [];
        for (const r of this._requests.values()) {
            if (r.kind !== "mutation") continue;
            out.push(Object.freeze({ name: r.path, args: decodeOr(r.args), idempotencyKey: r.idempotencyKey,
                                     createdAt: r.createdAt, restored: !!r.restored }));
        }
        return (this._pendingSnapshot = Object.freeze(out));
    }

    /** Calls `listener()` (once per tick at most) when pendingMutations() changes. */
    onPendingMutationsChange(listener) {
        this._pendingListeners.add(listener);
        return () => this._pendingListeners.delete(listener);
    }

    _pendingChanged() {
        this._pendingSnapshot = null;
        if (this._pendingNotifyQueued || !this._pendingListeners.size) return;
        this._pendingNotifyQueued = true;
        queueMicrotask(() => {
            this._pendingNotifyQueued = false;
            for (const l of [...this._pendingListeners]) {
                try {
                    l();
                } catch (e) {
                    reportError("pending-mutations listener threw", e);
                }
            }
        });
    }

    static makeKey(name, args) {
        return QueryStore.makeKey(functionPath(name), args);
    }

    // ---- queries ----------------------------------------------------------------------------

    subscribe(name, args, callback, onError) {
        this._checkOpen();
        const path = functionPath(name);
        const encoded = encodeArgs(args);
        const key = keyOf(path, encoded);
        let entry = this.queryStore.get(key);
        if (!entry) {
            entry = this.queryStore.create(key, this._nextQueryId++, path, encoded);
            this._pendingAdd.add(entry.queryId);
            this._queueFlush();
        }
        entry.refCount++;
        const sub = { callback, onError, active: true };
        entry.subscribers.add(sub);
        if (!entry.hasValue && !entry.error) this._hydrate(entry);
        if (this.queryStore.getResult(key) !== undefined || this.queryStore.getError(key)) {
            queueMicrotask(() => {
                if (sub.active) this._deliver(entry, sub);
            });
        }
        return () => {
            if (!sub.active) return;
            sub.active = false;
            entry.subscribers.delete(sub);
            if (--entry.refCount === 0) {
                this._pendingRemove.add(entry.queryId);
                this._queueFlush();
            }
        };
    }

    query(name, args) {
        if (this._closed) return Promise.reject(this._closedError());
        return new Promise((resolve, reject) => {
            let unsubscribe = null;
            let done = false;
            const finish = (fn, v) => {
                if (done) return;
                done = true;
                this._oneShots.delete(onClose);
                fn(v);
                unsubscribe?.(); // callbacks are asynchronous, so it is set by now
            };
            const onClose = (err) => finish(reject, err);
            this._oneShots.add(onClose);
            try {
                const key = keyOf(functionPath(name), encodeArgs(args));
                // the server's result, not the cache's or an optimistic layer's
                const onValue = () => {
                    if (this.queryStore.hasServerResult(key))
                        finish(resolve, this.queryStore.getServerResult(key));
                };
                unsubscribe = this.subscribe(name, args, onValue, (e) => finish(reject, e));
            } catch (e) {
                finish(reject, e);
            }
        });
    }

    /**
     * A growing live list over a paginated query (Convex's usePaginatedQuery): see paginated.js.
     * `args` without paginationOpts; options.initialNumItems is the first page's size.
     */
    paginatedQuery(name, args, options) {
        this._checkOpen();
        return new PaginatedQuery(this, functionPath(name), args, options);
    }

    /**
     * Convex's watchQuery(name, args) → {onUpdate(cb) → unsubscribe, localQueryResult(),
     * hasServerResult(), error()}: onUpdate subscribes to the query (while any callback is
     * registered) and calls `cb()` whenever its local result changes. Seed 000's form
     * watchQuery(key, listener) → unsubscribe only watches the store (no server subscription).
     */
    watchQuery(nameOrKey, args, options) {
        if (typeof args === "function") return this.queryStore.watch(nameOrKey, args);
        const key = this._keyOf(nameOrKey, args);
        const name = nameOrKey;
        return {
            onUpdate: (cb) => {
                const unwatch = this.queryStore.watch(key, cb);
                const unsub = this.subscribe(name, args ?? {}, null, () => {});
                return () => {
                    unwatch();
                    unsub();
                };
            },
            localQueryResult: () => {
                const err = this.queryStore.getError(key);
                if (err) throw err;
                return this.queryStore.getResult(key);
            },
            hasServerResult: () => this.queryStore.hasServerResult(key),
            error: () => this.queryStore.getError(key),
            key,
            options,
        };
    }

    /** The local result (optimistic layers over the server's or the cache's); undefined: loading. */
    getQueryResult(nameOrKey, args) {
        return this.queryStore.getResult(this._keyOf(nameOrKey, args));
    }

    getQueryError(nameOrKey, args) {
        return this.queryStore.getError(this._keyOf(nameOrKey, args));
    }

    /** Whether the server confirmed the result (not only the persisted cache). */
    hasServerResult(nameOrKey, args) {
        return this.queryStore.hasServerResult(this._keyOf(nameOrKey, args));
    }

    // A key from makeKey (it starts with a quote: no function name does), or (name, args).
    _keyOf(nameOrKey, args) {
        if (typeof nameOrKey === "string" && nameOrKey.startsWith("\"") && args === undefined)
            return nameOrKey;
        return keyOf(functionPath(nameOrKey), encodeArgs(args ?? {}));
    }

    _queueFlush() {
        if (this._flushQueued) return;
        this._flushQueued = true;
        queueMicrotask(() => this._flush());
    }

    // Sends the adds and removes collected since the last flush as one modifyQuerySet. A query
    // added and dropped within one tick is never sent; one dropped and re-subscribed is kept.
    _flush() {
        this._flushQueued = false;
        const add = [];
        const remove = [];
        for (const id of this._pendingAdd) {
            const e = this.queryStore.byId.get(id);
            if (!e) continue;
            if (e.refCount > 0) add.push(this._addItem(e));
            else this.queryStore.delete(e);
        }
        for (const id of this._pendingRemove) {
            const e = this.queryStore.byId.get(id);
            if (!e || e.refCount > 0) continue;
            this.queryStore.delete(e);
            if (!this._pendingAdd.has(id)) remove.push(id);
        }
        this._pendingAdd.clear();
        this._pendingRemove.clear();
        if (!this._ready) return; // the adds go out with the query set on `connected`
        if (add.length || remove.length) this._sendQuerySet(add, remove);
    }

    _sendQuerySet(add, remove) {
        if (!this._conn.send({ type: "modifyQuerySet", add, remove })) return;
        const left = new Set([...add.map((a) => `a${a.queryId}`), ...remove.map((id) => `r${id}`)]);
        this._querySets.push({ add: add.map((a) => a.queryId), remove, left });
    }

    // The server processed this add (a result, a failure, or an error naming it) or remove
    // (QueryRemoved): the message that carried it was accepted.
    _querySetAck(tag) {
        for (let i = 0; i < this._querySets.length; i++) {
            const q = this._querySets[i];
            if (!q.left.delete(tag)) continue;
            if (!q.left.size) this._querySets.splice(i, 1);
            return;
        }
    }

    // A modifyQuerySet refused as a whole (RateLimited: "it was not processed"). The error names
    // the first queryId of the message (the first add's), or none when it only removes: then
    // every remove-only message still unacknowledged is taken as refused (a remove sent twice is
    // ignored by the server). Their adds (of queries still wanted) and removes are re-sent after
    // retryAfterMs, together.
    _querySetRefused(queryId, retryAfterMs) {
        const refused = this._querySets.filter((q) => queryId !== null
            ? q.add[0] === queryId : q.add.length === 0 && q.left.size > 0);
        if (!refused.length) return false;
        this._querySets = this._querySets.filter((q) => !refused.includes(q));
        const r = this._querySetRetry ?? (this._querySetRetry = { add: new Set(), remove: new Set(), timer: null });
        for (const q of refused) {
            for (const id of q.add) r.add.add(id);
            for (const id of q.remove) r.remove.add(id);
        }
        const wait = typeof retryAfterMs === "number" && retryAfterMs >= 0 ? Math.min(retryAfterMs, 30000) : 1000;
        clearTimeout(r.timer);
        r.timer = setTimeout(() => {
            this._querySetRetry = null;
            if (!this._ready) return; // a reconnect re-sends the whole query set
            const add = [];
            for (const id of r.add) {
                const e = this.queryStore.byId.get(id);
                if (e && e.refCount > 0) add.push(this._addItem(e));
            }
            const remove = [...r.remove];
            if (add.length || remove.length) this._sendQuerySet(add, remove);
        }, wait);
        return true;
    }

    _clearQuerySets() {
        this._querySets = [];
        clearTimeout(this._querySetRetry?.timer);
        this._querySetRetry = null;
    }

    _addItem(e) {
        const item = { queryId: e.queryId, path: e.path, args: e.args };
        if (e.hash !== undefined) item.hash = e.hash;
        return item;
    }

    _deliver(entry, sub) {
        try {
            const error = this.queryStore.getError(entry.key);
            const value = this.queryStore.getResult(entry.key);
            if (error) {
                if (sub.onError) sub.onError(error);
                else reportError(`query ${entry.path} failed:`, error);
            } else if (sub.callback && value !== undefined) {
                sub.callback(value);
            }
        } catch (e) {
            reportError("query callback threw", e);
        }
    }

    _notify(entry) {
        for (const sub of [...entry.subscribers]) if (sub.active) this._deliver(entry, sub);
        this.queryStore.notifyWatchers(entry.key);
    }

    // Tells a key's subscribers and watchers its local result changed.
    _notifyKey(key) {
        const e = this.queryStore.get(key);
        if (e && !e.hidden) this._notify(e);
        else this.queryStore.notifyWatchers(key);
    }

    // ---- mutations and actions --------------------------------------------------------------

    /**
     * options.optimisticUpdate(localStore, args): Convex's optimistic update, a layer over the
     * local results until the mutation settles. options.optimistic {query, args?, update(current)}:
     * the single-query shorthand (seed 002).
     */
    mutation(name, args, options) {
        return this._request("mutation", name, args, options);
    }

    action(name, args) {
        return this._request("action", name, args);
    }

    _request(kind, name, args, options) {
        if (this._closed) return Promise.reject(this._closedError());
        let path, encoded, update;
        try {
            path = functionPath(name);
            encoded = encodeArgs(args);
            if (kind === "mutation") update = optimisticOf(options);
        } catch (e) {
            return Promise.reject(e);
        }
        return new Promise((resolve, reject) => {
            const req = this._newMutationOrAction(kind, path, encoded, resolve, reject);
            if (update) {
                let changed;
                try {
                    changed = this.queryStore.optimistic.add(req.requestId, update, args ?? {});
                } catch (e) {
                    reject(e); // nothing was sent
                    return;
                }
                req.layer = true;
                for (const k of changed) this._notifyKey(k);
            }
            this._requests.set(req.requestId, req);
            if (kind === "mutation") this._boundOfflineQueue();
            if (this._canSend()) this._send(req);
            if (kind === "mutation") {
                this._schedulePersist();
                this._pendingChanged();
            }
        });
    }

    _newMutationOrAction(kind, path, encoded, resolve, reject) {
        const req = {
            kind, requestId: this._nextRequestId++, path, args: encoded,
            idempotencyKey: kind === "mutation" ? randomUUID() : undefined,
            resolve, reject,
            sent: false, // on the current socket
            // sent on some socket (or restored from a store that says it may have been): its
            // outcome is in doubt until answered, and it may only be re-sent in `session`, the
            // scope of its idempotency key
            everSent: false, session: null,
            savedUnsent: false, // a save recorded it as never sent (see _sendUnsent)
            responded: false, value: undefined, version: undefined,
            timer: null,
            layer: false, // has an optimistic layer
            createdAt: Date.now(),
            // the identity it is made under; while fetchToken runs, the one it brings (auth)
            ident: this._auth.holding ? HELD : this._tokenKey,
        };
        // An action's clock runs from the call; a mutation's from each send (it may wait in
        // the offline queue for as long as the client is disconnected).
        if (kind === "action") this._armTimeout(req);
        return req;
    }

    _armTimeout(req) {
        const ms = this.requestTimeoutMs;
        if (!(ms > 0 && ms !== Infinity)) return;
        clearTimeout(req.timer);
        req.timer = setTimeout(() => {
            const msg = req.responded
                ? `mutation ${req.path} committed at version ${req.version} but the client's ` +
                  `queries did not reach that version within ${ms} ms`
                : `request timed out after ${ms} ms`;
            this._settle(req, new ClientError(msg, "RequestTimeout"));
        }, ms);
    }

    // Mutations waiting to be sent (called offline, or unanswered when the connection dropped).
    _unsentMutations() {
        const out = [];
        for (const r of this._requests.values())
            if (r.kind === "mutation" && !r.responded && !(this._ready && r.sent)) out.push(r);
        return out;
    }

    // The offline queue holds at most maxOfflineQueue mutations: past it the oldest one that was
    // never sent is rejected. One that was sent (its outcome is in doubt: it may have committed)
    // is never evicted: it is replayed with its key and the server applies it once.
    _boundOfflineQueue() {
        if (this._canSend()) return;
        const q = this._unsentMutations();
        let excess = q.length - this.maxOfflineQueue;
        for (const r of q) {
            if (excess <= 0) break;
            if (r.everSent) continue;
            excess--;
            this._settle(r, new ClientError(
                `mutation ${r.path} was dropped from the offline queue without being sent: more ` +
                `than ${this.maxOfflineQueue} mutations (maxOfflineQueue) waited for the connection`,
                "OFFLINE_QUEUE_OVERFLOW"));
        }
    }

    // Whether calls may go out on the socket now: connected, no fetchToken running, the server
    // has accepted the client's identity on this socket, and no save the replays wait for
    // (_sendUnsent).
    _canSend() {
        return this._ready && !this._auth.holding && !this._persistWait && !this._identityUnconfirmed();
    }

    // Calls made under an identity wait until the server has accepted its token on this socket:
    // a refused token makes the session anonymous, and calls sent behind it would run
    // anonymously. Pending: the `connect` token has no answer yet, an `authenticate` of the
    // token (a refresh on a live socket) has no answer yet, the server refused the token (or it
    // expired) and no fresh one of the same identity has been accepted since, or the client
    // knows its token has expired (a server accepts it within its clock leeway, then expires the
    // session at once). An anonymous client never waits.
    _identityUnconfirmed() {
        return this._tokenKey !== null &&
            (this._connectPending || this._reauthPending || this._auth.expired() ||
             this._authSent.includes(this._tokenKey));
    }

    _outcomeUnknownError(req) {
        return new ClientError(
            `mutation ${req.path} may already have run in session ${req.session}, which this ` +
            `client can no longer resume; it was not sent again`, "OutcomeUnknown");
    }

    // Mutations whose outcome is in doubt in a session that is no longer the client's: re-sent in
    // another session their idempotency key would not be known and they could run twice.
    _dropOutOfScope() {
        for (const req of [...this._requests.values()]) {
            if (req.kind === "mutation" && req.everSent && !req.responded && req.session !== this.sessionId)
                this._settle(req, this._outcomeUnknownError(req));
        }
    }

    _send(req) {
        if (req.ident !== this._tokenKey) {
            this._settle(req, this._authChangedError(req));
            return;
        }
        if (req.everSent && req.kind === "mutation" && req.session !== this.sessionId) {
            this._settle(req, this._outcomeUnknownError(req));
            return;
        }
        const msg = { type: req.kind, requestId: req.requestId, path: req.path, args: req.args };
        if (req.idempotencyKey) msg.idempotencyKey = req.idempotencyKey;
        const text = JSON.stringify(msg);
        const max = this.maxMessageBytes;
        if (text.length * 3 > max && new TextEncoder().encode(text).length > max) {
            this._settle(req, new ClientError(
                `${req.kind} ${req.path}: the message is larger than the server's limit of ` +
                `${max} bytes (arguments may be up to 16 MiB with their envelope)`,
                "MessageTooLarge"));
            return;
        }
        req.sent = this._conn.send(text);
        if (req.sent && !req.everSent) {
            req.everSent = true;
            req.session = this.sessionId;
        }
        if (req.sent && req.kind === "mutation") this._armTimeout(req);
    }

    /**
     * Settles and forgets a request: rejects with `err` if given, else resolves with its value.
     * Its optimistic layer is dropped (and the queries it touched told) unless the caller
     * already dropped it (a transition drops the layers it settles all at once).
     */
    _settle(req, err) {
        if (this._requests.get(req.requestId) !== req) return;
        this._requests.delete(req.requestId);
        clearTimeout(req.timer);
        if (req.layer) {
            req.layer = false;
            for (const k of this.queryStore.optimistic.recompute(new Set([req.requestId])))
                this._notifyKey(k);
        }
        if (req.kind === "mutation") {
            this._schedulePersist();
            this._pendingChanged();
        }
        if (err) req.reject(err);
        else req.resolve(req.value);
    }

    // Mutations answered at a version the results have reached.
    _reachedMutations() {
        const out = [];
        if (this.version === null) return out;
        for (const req of this._requests.values())
            if (req.responded && req.version <= this.version) out.push(req);
        return out;
    }

    // ---- connection ---------------------------------------------------------------------------

    _onOpen(afterHold = false) {
        this._authSent = [];
        // a token the client knows has expired is not presented: a fresh one first (once per socket)
        if (!afterHold) this._auth.beforeConnect();
        if (this._auth.holding) {
            this._connectDeferred = true; // sent when fetchToken answers (_releaseAuthHold)
            return;
        }
        this._connectDeferred = false;
        const msg = {
            type: "connect", sessionId: this.sessionId, clientVersion: this.clientVersion,
            protocolVersion: PROTOCOL_VERSION,
        };
        if (this.version !== null) msg.lastVersion = this.version;
        if (this.sessionSecret) msg.sessionSecret = this.sessionSecret;
        if (this._auth.token !== null) msg.token = this._auth.token;
        this._connectKey = this._tokenKey;
        this._connectToken = this._auth.token;
        this._reauthPending = false; // this connect's token is answered anew
        this._conn.send(msg);
    }

    _onState(state, err) {
        if (err) this.lastError = err;
        for (const l of [...this._listeners]) {
            try {
                l(state, err);
            } catch (e) {
                reportError("connection listener threw", e);
            }
        }
    }

    _onDrop(err) {
        this._releaseHeld();
        this._ready = false;
        this._chunks = null;
        this._connectDeferred = false;
        this._persistWait = false; // the next `connected` decides again
        this._clearQuerySets(); // the next `connected` sends the whole set
        for (const req of [...this._requests.values()]) {
            if (req.kind === "action" && req.sent) {
                const e = new ClientError(
                    `connection lost while action ${req.path} was in flight; actions are not ` +
                    `retried because they are not idempotent (${err.message})`, "ConnectionLost");
                e.cause = err;
                this._settle(req, e);
            } else {
                req.sent = false;
            }
        }
    }

    _onConnected(msg) {
        this.serverInfo = {
            sessionId: msg.sessionId, version: msg.version, resumed: !!msg.resumed,
            protocolVersion: msg.protocolVersion, serverVersion: msg.serverVersion,
        };
        if (typeof msg.sessionSecret === "string") this.sessionSecret = msg.sessionSecret;
        this._ready = true;
        this._inUseStreak = 0;
        // the version the next transition starts from: each starts where the last ended, the
        // first of a resumed session at the client's version; a new session's first is not checked
        this._sessionVersion = msg.resumed ? this.version : null;
        this._hasEverConnected = true;
        this._connectionCount++;
        this._onConnectedAuth();
        // Other tabs' queues left behind: replayed now that the server is reachable (not while
        // offline: a tab that is still loading takes its own queue back first)
        if (this._loaded) this._drainOrphans();
        // The whole live query set, with the hashes of the results held (entries whose last
        // subscriber left are dropped here rather than removed on the server).
        this._flushQueued = false;
        this._pendingAdd.clear();
        this._pendingRemove.clear();
        const add = [];
        for (const e of [...this.queryStore.byId.values()]) {
            if (e.refCount > 0) add.push(this._addItem(e));
            else this.queryStore.delete(e);
        }
        // After a resume the server keeps the session's queries until this first query-set
        // change says which ones are still wanted: send it even when it adds nothing.
        this._clearQuerySets();
        if (add.length || msg.resumed) this._sendQuerySet(add, []);
        this._sendUnsent();
        // a new secret is saved at once: a reloaded page presenting the old one would be refused
        // (SessionIdInUse) and could not replay its queue in its session
        if (!this._persistWait && this._persist && this._loaded && this.sessionSecret !== this._durableSecret)
            this._save();
        this._conn.markConnected(); // listeners run now, after the replays went out in order
    }

    /**
     * Sends, in order, the requests not sent on this socket (mutations not yet answered). With
     * persistence, mutations a save recorded as never sent (the offline queue) are first saved as
     * sent, with the session's current secret: a page reloaded after they went out then knows
     * their outcome is in doubt and can resume their session; only then do they go out.
     */
    _sendUnsent(saved = false) {
        if (!this._canSend()) return;
        const out = [];
        for (const req of this._requests.values()) {
            if (req.kind === "mutation" ? !req.responded && !req.sent : !req.sent) out.push(req);
        }
        if (!out.length) return;
        if (!saved && this._persist && this._loaded && out.some((r) => r.kind === "mutation") &&
            (this.sessionSecret !== this._durableSecret || out.some((r) => r.savedUnsent))) {
            for (const r of out) {
                if (r.kind !== "mutation" || r.everSent || r.ident !== this._tokenKey) continue;
                r.everSent = true;
                r.session = this.sessionId;
            }
            this._persistWait = true;
            const n = this._connectionCount;
            this._save().then((ok) => {
                if (n !== this._connectionCount || !this._ready || this._closed) return;
                this._persistWait = false;
                this._sendUnsent(!ok); // a failed save does not stall the queue
            });
            return;
        }
        for (const req of out) this._send(req);
    }

    _onMessage(data) {
        if (typeof data !== "string") {
            if (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
                data = new TextDecoder().decode(data);
            else data = String(data);
        }
        let msg;
        try {
            msg = JSON.parse(data);
        } catch {
            console.warn("vireo: ignoring a frame that is not JSON");
            return;
        }
        if (!msg || typeof msg !== "object") return;
        const decode = data.includes("\"$") ? decodeValue : (v) => v;
        try {
            if (this._held && msg.type !== "transition" && msg.type !== "transitionChunk" &&
                msg.type !== "mutationResponse" && msg.type !== "actionResponse" && msg.type !== "pong")
                this._releaseHeld(); // keep the server's order for everything else
            switch (msg.type) {
            case "connected":
                return this._onConnected(msg);
            case "transition":
                return this._transitionIn(msg, decode);
            case "transitionChunk":
                return this._onTransitionChunk(msg);
            case "mutationResponse":
            case "actionResponse":
                this._onResponse(msg, decode);
                if (this._held && !this._inDoubt()) this._releaseHeld();
                return;
            case "error":
                return this._onServerError(msg, decode);
            case "authenticated":
                return this._onAuthenticated(msg);
            case "authError":
                return this._onAuthError(msg);
            case "pong":
                return;
            default:
                console.warn(`vireo: ignoring unknown message type ${JSON.stringify(msg.type)}`);
            }
        } catch (e) {
            reportError(`failed to handle a ${msg.type} message`, e);
        }
    }

    // Parts of one transition arrive in order, 0 .. totalParts-1, with nothing between them.
    _onTransitionChunk(msg) {
        const n = msg.totalParts;
        if (msg.partNumber === 0) this._chunks = { id: msg.transitionId, parts: [] };
        const c = this._chunks;
        if (!c || c.id !== msg.transitionId || c.parts.length !== msg.partNumber ||
            typeof msg.chunk !== "string" || !(n > msg.partNumber)) {
            this._chunks = null;
            this._conn.drop(new ClientError("transitionChunk out of order; reconnecting",
                                            "ProtocolError"));
            return;
        }
        c.parts.push(msg.chunk);
        if (c.parts.length < n) return;
        this._chunks = null;
        const data = c.parts.join("");
        let t;
        try {
            t = JSON.parse(data);
        } catch {
            t = null;
        }
        if (!t || typeof t !== "object") {
            // a transition lost: the state would silently miss it
            this._conn.drop(new ClientError("transitionChunk parts do not join into a transition; " +
                                            "reconnecting", "ProtocolError"));
            return;
        }
        this._transitionIn(t, data.includes("\"$") ? decodeValue : (v) => v);
    }

    // The server answers a mutation after the transition that carries its write. While a
    // mutation with an optimistic layer is sent and unanswered, a transition is held (at most
    // HOLD_MS) until that answer: applied before it, the transition would show the write twice
    // (in the server's result and in the layer still on top of it) for a moment.
    _inDoubt() {
        for (const r of this._requests.values())
            if (r.layer && r.sent && !r.responded) return true;
        return false;
    }

    _transitionIn(msg, decode) {
        if (!this._held && !this._inDoubt()) {
            this._onTransition(msg, decode);
            return;
        }
        if (!this._held) this._held = { list: [], timer: setTimeout(() => this._releaseHeld(), HOLD_MS) };
        this._held.list.push([msg, decode]);
    }

    _releaseHeld() {
        const h = this._held;
        if (!h) return;
        this._held = null;
        clearTimeout(h.timer);
        for (const [msg, decode] of h.list) {
            try {
                if (!this._onTransition(msg, decode)) break; // reconnecting
            } catch (e) {
                reportError("failed to handle a transition message", e);
            }
        }
    }

    // Checks a transition whole before anything of it applies, decoding its values: returns
    // [modification, decoded value or errorData] pairs, or a reason it is malformed.
    _checkTransition(msg, decode) {
        const mods = msg.modifications ?? [];
        if (!Array.isArray(mods)) return "modifications is not an array";
        const { startVersion: start, endVersion: end } = msg;
        if (end !== undefined && typeof end !== "number") return "endVersion is not a number";
        if (typeof start === "number" && typeof end === "number" && end < start)
            return `endVersion ${end} is before startVersion ${start}`;
        if (typeof start === "number" && this._sessionVersion !== null && start !== this._sessionVersion)
            return `startVersion ${start} is not the session's version ${this._sessionVersion}`;
        const out = [];
        for (const m of mods) {
            if (!m || typeof m !== "object") return "a modification is not an object";
            try {
                out.push([m, m.type === "QueryUpdated" ? decode(m.value)
                    : m.type === "QueryFailed" ? decode(m.errorData) : undefined]);
            } catch (e) {
                return `a value does not decode (${e.message})`;
            }
        }
        return out;
    }

    // Applies a transition, all of it or nothing: a malformed one (or one that does not continue
    // from the session's version) means the client's state can no longer be trusted to match the
    // server's, so it reconnects and resumes from the version it holds. Returns false then.
    _onTransition(msg, decode) {
        const mods = this._checkTransition(msg, decode);
        if (typeof mods === "string") {
            this._conn.drop(new ClientError(`malformed transition: ${mods}; reconnecting`, "ProtocolError"));
            return false;
        }
        if (typeof msg.endVersion === "number") this._sessionVersion = msg.endVersion;
        this._conn.markHealthy();
        const connectPending = this._connectPending;
        const retagged = this._transitionAuth();
        const changed = new Set();
        const store = this.queryStore;
        const serverBefore = new Map(); // server results under the optimistic overlay, before
        for (const k of store.optimistic.overlay.keys()) serverBefore.set(k, store.getServerResult(k));
        for (const [m, decoded] of mods) {
            if (this._querySets.length && m.queryId !== undefined)
                this._querySetAck(`${m.type === "QueryRemoved" ? "r" : "a"}${m.queryId}`);
            const e = this.queryStore.byId.get(m.queryId);
            if (!e) continue; // removed since; the server may still answer it once
            switch (m.type) {
            case "QueryUpdated":
                e.value = decoded;
                e.hasValue = true;
                e.error = null;
                e.hash = m.hash;
                e.ident = this._serverKey;
                e.confirmed = true;
                changed.add(e);
                this._cachePut(e);
                break;
            case "QueryFailed":
                e.error = new ServerError(m.errorMessage, m.errorCode, decoded);
                e.hash = undefined;
                e.ident = this._serverKey;
                e.confirmed = true;
                changed.add(e);
                break;
            case "QueryUnchanged":
                if (!e.confirmed && (e.hasValue || e.error)) {
                    e.confirmed = true;
                    changed.add(e);
                }
                break;
            case "QueryRemoved":
                break;
            default:
                console.warn(`vireo: ignoring unknown modification ${JSON.stringify(m.type)}`);
            }
        }
        if (typeof msg.endVersion === "number") this.version = msg.endVersion;
        this._updateHidden(retagged ? null : changed, changed);
        // The layers of the mutations this transition settles are dropped together, and the
        // others replayed over the new results, before anyone is told.
        const reached = this._reachedMutations();
        const dropped = new Set();
        for (const req of reached) {
            if (!req.layer) continue;
            req.layer = false;
            dropped.add(req.requestId);
        }
        const keys = new Set();
        for (const e of changed) if (!e.hidden) keys.add(e.key);
        for (const k of store.optimistic.recompute(dropped, (k) => serverBefore.has(k)
            ? serverBefore.get(k) : store.getServerResult(k)))
            keys.add(k);
        for (const k of keys) this._notifyKey(k);
        for (const req of reached) this._settle(req);
        if (changed.size) this._schedulePersist();
        if (connectPending) this._sendUnsent(); // the connect token was accepted
        return true;
    }

    _onResponse(msg, decode) {
        const req = this._requests.get(msg.requestId);
        const kind = msg.type === "mutationResponse" ? "mutation" : "action";
        if (!req || req.kind !== kind || req.responded) return;
        if (!msg.success) {
            const err = new ServerError(msg.errorMessage, msg.errorCode, decode(msg.errorData));
            if (msg.retryAfterMs !== undefined) err.retryAfterMs = msg.retryAfterMs; // ServerOverloaded
            this._settle(req, err);
            return;
        }
        req.value = decode(msg.value);
        req.responded = true;
        req.version = msg.version;
        this._schedulePersist(); // it committed: no longer to be replayed after a reload
        // A client without live queries has nothing to wait for: the server sends no transition
        // to a session with nothing to report (e.g. after a replay it had already applied).
        if (kind === "action" || typeof msg.version !== "number" || !this._hasLiveQueries() ||
            (this.version !== null && this.version >= msg.version))
            this._settle(req);
        // else: settled by the transition that reaches msg.version
    }

    _hasLiveQueries() {
        for (const e of this.queryStore.byId.values()) if (e.refCount > 0) return true;
        return false;
    }

    _onServerError(msg, decode) {
        const err = new ServerError(msg.message, msg.code, decode(msg.errorData));
        if (msg.supportedVersions) err.supportedVersions = msg.supportedVersions;
        if (msg.retryAfterMs !== undefined) err.retryAfterMs = msg.retryAfterMs;
        const retry = typeof msg.retryAfterMs === "number" && msg.retryAfterMs >= 0;
        if (msg.fatal) {
            // The server closes the connection after a fatal error; requests it carried are
            // handled as for any drop (mutations replayed, actions rejected).
            this.lastError = err;
            if (msg.code === "SessionIdInUse") {
                // Our sessionId is another client's live session: start a session of our own.
                // What may have run in the old one cannot be replayed in the new one.
                this.sessionId = randomUUID();
                this.sessionSecret = null;
                this._dropOutOfScope();
                // at once, but only once in a row: a server refusing every session id gets the
                // backoff
                if (++this._inUseStreak === 1) this._conn.retryNow();
            }
            if (msg.code === "VersionNotSupported" && !retry) {
                this._conn.giveUp(err);
                return;
            }
            if (retry) this._conn.setNextDelay(msg.retryAfterMs);
            this._conn.drop(err);
            return;
        }
        if (retry) this._conn.setNextDelay(msg.retryAfterMs);
        const hasRequest = msg.requestId !== undefined && msg.requestId !== null;
        const hasQuery = msg.queryId !== undefined && msg.queryId !== null;
        // a refused authenticate (or sign-out) is sent again: the server kept the old identity
        if (msg.code === "RateLimited" && msg.refused === "authenticate" && this._authSent.length) {
            this._authRefused(msg.retryAfterMs);
            return;
        }
        // a refused modifyQuerySet is re-sent: its queries are not failed for good
        if (msg.code === "RateLimited" && !hasRequest &&
            this._querySetRefused(hasQuery ? msg.queryId : null, msg.retryAfterMs))
            return;
        if (hasQuery) this._querySetAck(`a${msg.queryId}`); // processed (DuplicateQueryId, ...)
        if (msg.requestId !== undefined && msg.requestId !== null) {
            const req = this._requests.get(msg.requestId);
            if (req) this._settle(req, err);
            return;
        }
        if (msg.queryId !== undefined && msg.queryId !== null) {
            const e = this.queryStore.byId.get(msg.queryId);
            // DuplicateQueryId for a query we own: the server already holds it (a resumed
            // session kept its query set), so there is nothing to do.
            if (!e || msg.code === "DuplicateQueryId") return;
            e.error = err;
            e.hash = undefined;
            e.ident = this._serverKey;
            e.hidden = this._isHidden(e);
            if (!e.hidden) this._notify(e);
            return;
        }
        console.warn(`vireo: server error ${msg.code}: ${msg.message}`);
    }

    // ---- auth: setAuth, clearAuth, setAuthToken, setWsToken --------------------------------
    // auth.js decides which token to use and when; this block sends it and keeps identities
    // apart. Identity keys (identityKeyOf: "<iss>|<sub>"): _tokenKey is the identity the client
    // wants (its token's), _serverKey the one the server runs the session under as far as the
    // messages received so far tell. Each result carries the _serverKey it was computed under
    // (entry.ident) and is hidden (reads as loading) while that is not _tokenKey. After a message
    // that changes the server's identity (connected, authenticated, authError) the next transition
    // re-validates every result: the server re-ran them all and sent those that changed.

    _initAuth(options) {
        this._auth = new AuthManager({
            adopt: (token, send) => this._adoptToken(token, send),
            release: () => this._releaseAuthHold(),
            random: options.random,
        });
        this._tokenKey = null;
        this._serverKey = null;
        this._connectKey = null; // identity the current socket's `connect` carried
        this._connectToken = null; // and its token
        this._connectPending = false; // that token has had no answer yet
        this._reauthPending = false; // the server refused the token; calls wait for a fresh one
        this._authSent = []; // keys of this socket's unanswered `authenticate` messages, in order
        this._retag = false; // the next transition re-validates every result
        this._connectDeferred = false; // `connect` waits for fetchToken
        this._tokenListeners = new Set();
        /** The identity of the last `authenticated` (null: anonymous, or since refused). */
        this.identity = null;
        /** `expiresAt` of the last `authenticated` (ms since epoch) or null. */
        this.authExpiresAt = null;
        /** The last `authError` as a ServerError (code InvalidToken, TokenExpired, AuthUnavailable). */
        this.lastAuthError = null;
    }

    /** Convex's setAuth: `fetchToken({forceRefreshToken})` gives the JWT, refreshed before expiry. */
    setAuth(fetchToken, onChange) {
        this._checkOpen();
        this._auth.setAuth(fetchToken, onChange);
    }

    /** Signs out: stops the fetcher and its timers, and sends `authenticate` with token null. */
    clearAuth() {
        if (this._closed) return;
        this._auth.clear();
    }

    /** A fixed token (no refresh), sent at once with `authenticate`; null signs out (seed 002). */
    setAuthToken(token) {
        this._checkOpen();
        this._auth.setFixed(token);
    }

    /** The same as setAuthToken: Vireo has one socket and changes its identity without reconnecting. */
    setWsToken(token) {
        this.setAuthToken(token);
    }

    /** Listener gets the token (or null) each time the token the client uses changes. */
    onAuthTokenChange(listener) {
        if (typeof listener !== "function") throw new TypeError("onAuthTokenChange: listener must be a function");
        this._tokenListeners.add(listener);
        return () => this._tokenListeners.delete(listener);
    }

    /** The token in use (for an `Authorization: Bearer` header of your own HTTP calls), or null. */
    get authToken() {
        return this._auth.token;
    }

    /** The server accepted the current token (`authenticated` with an identity). */
    get isAuthenticated() {
        return this._auth.isAuthenticated;
    }

    _adoptToken(token, send) {
        const prev = this._tokenKey;
        this._tokenKey = identityKeyOf(token);
        this._retagHeld();
        if (send && this._ready) {
            this._authSent.push(this._tokenKey);
            this._conn.send({ type: "authenticate", token });
        }
        if (this._tokenKey !== prev) {
            this._reauthPending = false; // about the old identity
            // Calls of the old identity that are not on their way on this socket (ahead of the
            // authenticate) will not run under the new one; answered mutations still settle.
            for (const req of [...this._requests.values()]) {
                if (req.ident !== this._tokenKey && !req.responded && !(this._ready && req.sent))
                    this._settle(req, this._authChangedError(req));
            }
            this._updateHidden(null, null);
            this._identityChanged();
        }
        for (const l of [...this._tokenListeners]) {
            try {
                l(token);
            } catch (e) {
                reportError("onAuthTokenChange listener threw", e);
            }
        }
        this._sendUnsent(); // calls that waited for a fresh token (they follow its authenticate)
    }

    _authChangedError(req) {
        return new ClientError(
            `${req.kind} ${req.path} was dropped: the client's identity changed (setAuth, ` +
            `clearAuth, setAuthToken or a refused token) before it was ` +
            (req.kind === "mutation" && req.idempotencyKey
                ? "answered; if it was sent before, it may have run under the previous identity"
                : "sent"), "AuthChanged");
    }

    // fetchToken answered (or AUTH_HOLD_MS passed): send what waited for it.
    _releaseAuthHold() {
        if (this._closed) return;
        this._retagHeld();
        if (this._connectDeferred) {
            this._connectDeferred = false;
            this._onOpen(true);
        } else {
            this._sendUnsent();
        }
    }

    _retagHeld() {
        for (const req of this._requests.values()) if (req.ident === HELD) req.ident = this._tokenKey;
    }

    _onConnectedAuth() {
        this._serverKey = this._connectKey;
        this._connectPending = this._connectKey !== null;
        this._retag = true;
        if (this._auth.token !== this._connectToken) {
            // The token changed after `connect` went out: send the current one.
            this._authSent.push(this._tokenKey);
            this._conn.send({ type: "authenticate", token: this._auth.token });
        }
    }

    _onAuthenticated(msg) {
        const key = this._authSent.length ? this._authSent.shift()
            : this._connectPending ? this._connectKey : this._tokenKey;
        this._connectPending = false;
        const identity = msg.identity && typeof msg.identity === "object" ? msg.identity : null;
        this._serverKey = identity ? key ?? `server:${identity.tokenIdentifier}` : null;
        this.identity = identity;
        this.authExpiresAt = typeof msg.expiresAt === "number" ? msg.expiresAt : null;
        this._retag = true;
        if (identity && key === this._tokenKey) this._reauthPending = false;
        // An answer to a token since replaced reports nothing: the newer one's answer follows.
        if (key === this._tokenKey) this._auth.onAuthenticated(identity, this.authExpiresAt);
        this._sendUnsent(); // the calls that waited for the identity's acceptance
    }

    // The oldest unanswered authenticate was not processed (RateLimited): the session keeps the
    // identity it had. The current token goes again after retryAfterMs, on this socket.
    _authRefused(retryAfterMs) {
        this._authSent.shift();
        const n = this._connectionCount;
        setTimeout(() => {
            if (n !== this._connectionCount || !this._ready || this._closed) return;
            this._authSent.push(this._tokenKey);
            this._conn.send({ type: "authenticate", token: this._auth.token });
        }, Math.max(0, Number(retryAfterMs) || 0));
    }

    _onAuthError(msg) {
        const key = this._authSent.length ? this._authSent.shift() : null;
        if (!this._ready) this._connectKey = null; // the connect token, refused before `connected`
        this._connectPending = false;
        this._serverKey = null;
        this.identity = null;
        this.authExpiresAt = null;
        this._retag = true;
        this.lastAuthError = new ServerError(msg.message, msg.code);
        if (key !== null && key !== this._tokenKey) return; // about a token since replaced
        // the session is anonymous now: the identity's calls wait for a fresh token's acceptance
        // (or reject with AuthChanged when the client gives the identity up)
        if (this._tokenKey !== null) this._reauthPending = true;
        this._auth.onAuthError(msg.code, msg.message);
    }

    // At the start of each transition. Returns whether every result was re-tagged.
    _transitionAuth() {
        if (this._connectPending) {
            // No authError before the first transition: the server took the connect token.
            this._connectPending = false;
            if (this._connectKey === this._tokenKey) this._auth.onConnectAccepted();
        }
        if (!this._retag) return false;
        this._retag = false;
        for (const e of this.queryStore.byId.values()) e.ident = this._serverKey;
        return true;
    }

    _isHidden(e) {
        return (e.hasValue || !!e.error) && e.ident !== this._tokenKey;
    }

    // Recomputes `hidden` for `entries` (null: all). Entries that become visible are delivered,
    // those that become hidden tell their watchers (their value reads as loading); the ones in
    // `changed` are delivered by the caller.
    _updateHidden(entries, changed) {
        for (const e of [...(entries ?? this.queryStore.byId.values())]) {
            const hidden = this._isHidden(e);
            if (hidden === e.hidden) continue;
            e.hidden = hidden;
            if (hidden) this.queryStore.notifyWatchers(e.key);
            else if (!changed?.has(e)) this._notify(e);
        }
    }

    // ---- persistence: init, the cache, the offline queue across reloads ------------------------
    // The cache (queryStore.cache) holds the last server result of every query seen, with the
    // identity it was computed under; it is saved with the unanswered mutations (the offline
    // queue) at most every persistDelayMs. init() loads both before the socket opens: cached
    // results show at once (hasServerResult stays false until the server sends its own), and the
    // restored mutations are replayed first, in their order, with their idempotency keys in the
    // session they were made in (sessionId and sessionSecret are saved too: a key is scoped to its
    // session), so one that committed before its answer was lost is not applied twice.

    _initPersistence(options) {
        this.maxCacheEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
        if (!(this.maxCacheEntries >= 0)) throw new TypeError("maxCacheEntries must be a number >= 0");
        this._persist = normalizePersistence(options.persistence, this.url, this.maxCacheEntries);
        this.maxCacheAge = options.maxCacheAge ?? DEFAULT_MAX_CACHE_AGE_MS;
        if (!(this.maxCacheAge >= 0)) throw new TypeError("maxCacheAge must be a number >= 0 (ms)");
        this.schemaVersion = options.schemaVersion ?? null;
        this.maxOfflineQueue = options.maxOfflineQueue ?? DEFAULT_MAX_OFFLINE_QUEUE;
        if (!(this.maxOfflineQueue >= 1)) throw new TypeError("maxOfflineQueue must be a number >= 1");
        this.persistDelayMs = options.persistDelayMs ?? 100;
        this._onOfflineResult = options.onOfflineMutationResult ?? null;
        this._explicitSession = options.sessionId !== undefined;
        this._onPageHide = null;
        this._draining = false;
        this._drainers = new Set(); // [client, adapter] replaying other tabs' queues
        this._initPromise = null;
        this._persistTimer = null;
        this._saveChain = Promise.resolve();
        this._saveFailed = false;
        this._loaded = false;
        this._persistWait = false; // the replays wait for a save (_sendUnsent)
        this._durableSecret = null; // the sessionSecret the last completed save wrote
    }

    /**
     * With `persistence`: loads the cached results and the offline queue, then connects. Call it
     * (once; later calls return the same promise) before relying on the cache. Without
     * persistence the client is already connecting and this resolves at once.
     */
    init() {
        if (this._initPromise) return this._initPromise;
        if (!this._persist) return (this._initPromise = Promise.resolve());
        // in a page: what changed in the last persistDelayMs is written when the page goes away
        // (best effort: the browser may end the page before IndexedDB commits)
        if (typeof globalThis.addEventListener === "function" && typeof globalThis.document === "object") {
            this._onPageHide = () => {
                if (this._loaded && this._persistTimer) this.flushPersistence();
            };
            globalThis.addEventListener("pagehide", this._onPageHide);
        }
        this._initPromise = this._load().finally(() => {
            this._loaded = true;
        }).catch((e) => reportError("could not load the persisted cache", e))
            .then(() => {
                if (!this._closed) this._conn.start();
            });
        return this._initPromise;
    }

    async _load() {
        const raw = await this._persist.load({ schemaVersion: this.schemaVersion });
        if (this._closed) return;
        const st = checkLoadedState(raw, { schemaVersion: this.schemaVersion, maxCacheAge: this.maxCacheAge });
        if (!st) {
            if (raw) await this._persist.clear(); // another format or schemaVersion
            return;
        }
        // The queue (the user's unsent writes) is restored whatever the cache holds; a cached
        // result that does not decode is dropped alone (the cache is only a cache).
        this._restoreQueue(st);
        const cache = this.queryStore.cache;
        for (const q of st.queries) {
            if (cache.has(q.key)) continue; // a result the server sent meanwhile is newer
            let value;
            try {
                value = decodeValue(q.value);
            } catch (e) {
                console.warn(`vireo: dropped the persisted result of ${q.path}: ${e.message}`);
                continue;
            }
            cache.set(q.key, { path: q.path, args: q.args, value, savedAt: q.savedAt, ident: q.ident ?? null });
        }
        for (const e of this.queryStore.entries.values()) {
            if (!e.hasValue && !e.error && this._hydrate(e)) this._notifyKey(e.key);
        }
    }

    _restoreQueue(st) {
        if (st.mutations.length) {
            if (!this._explicitSession && st.sessionId) {
                // the keys of these mutations are scoped to that session: resume its scope
                this.sessionId = st.sessionId;
                this.sessionSecret = st.sessionSecret;
                this._durableSecret = st.sessionSecret;
            }
            // Stored args that do not decode cannot be shown nor trusted to be what was called:
            // such a mutation is dropped and reported, not sent.
            const unreadable = [];
            const restored = st.mutations.filter((m) => {
                try {
                    decodeValue(m.args);
                    return true;
                } catch (e) {
                    unreadable.push([m, e]);
                    return false;
                }
            }).map((m) => {
                const req = this._newMutationOrAction("mutation", m.path, m.args,
                    (value) => this._offlineResult(m, value, null),
                    (error) => this._offlineResult(m, undefined, error));
                req.idempotencyKey = m.idempotencyKey;
                req.ident = m.ident ?? null;
                req.restored = true;
                // a record without `sent` (an older client's) may have been sent
                req.everSent = m.sent !== false;
                req.savedUnsent = !req.everSent;
                req.session = st.sessionId;
                return req;
            });
            // restored first: they were made before anything called since this client started
            const rest = [...this._requests.values()];
            this._requests.clear();
            for (const r of [...restored, ...rest]) this._requests.set(r.requestId, r);
            this._pendingChanged();
            this._dropOutOfScope(); // restored into another session (an explicit sessionId)
            this._boundOfflineQueue();
            for (const [m, e] of unreadable) {
                this._offlineResult(m, undefined, new ClientError(
                    `the persisted mutation ${m.path} was dropped: its stored arguments do not ` +
                    `decode (${e.message}); it was not sent`, "PersistedMutationUnreadable"));
            }
            if (unreadable.length) this._schedulePersist(); // the store drops it too
        }
    }

    // Other tabs' offline queues left behind (their tab closed and no loading tab adopted them;
    // a tab adopts one in init), looked for on each `connected`. A mutation's idempotency key is scoped to its session, so each
    // queue is replayed by a client of its own that resumes that session (same URL, options and
    // token; results go to onOfflineMutationResult), which ends, and removes the queue, once
    // every mutation is settled. Only adapters that can tell a live tab's queue from an orphan
    // (claimOrphan: the built-in one, with Web Locks) do this.
    async _drainOrphans() {
        if (this._draining || this._closed || typeof this._persist?.claimOrphan !== "function") return;
        this._draining = true;
        try {
            for (;;) {
                if (this._closed || this._drainers.size >= MAX_QUEUE_REPLAYERS) return;
                const adapter = await this._persist.claimOrphan({ schemaVersion: this.schemaVersion });
                if (!adapter) return;
                if (this._closed) {
                    adapter.close?.();
                    return;
                }
                this._startDrainer(adapter);
            }
        } catch (e) {
            reportError("could not adopt another tab's offline queue", e);
        } finally {
            this._draining = false;
        }
    }

    _startDrainer(adapter) {
        const o = this._options;
        const d = new VireoClient(this.url, {
            WebSocket: o.WebSocket, backoff: o.backoff, heartbeatIntervalMs: o.heartbeatIntervalMs,
            requestTimeoutMs: o.requestTimeoutMs, healthyAfterMs: o.healthyAfterMs,
            maxMessageBytes: o.maxMessageBytes, clientVersion: this.clientVersion, random: o.random,
            schemaVersion: this.schemaVersion, maxOfflineQueue: this.maxOfflineQueue,
            persistence: adapter, persistDelayMs: this.persistDelayMs,
            onOfflineMutationResult: this._onOfflineResult ?? undefined,
        });
        const entry = [d, adapter];
        this._drainers.add(entry);
        if (this._auth.token !== null) d.setAuthToken(this._auth.token);
        let off = null;
        const finish = () => {
            if (d._closed || !d._loaded || d.pendingMutations().length) return;
            off?.();
            this._drainers.delete(entry);
            d.close(); // saves the empty queue (the record is removed) and releases its lock
            if (this._ready) this._drainOrphans(); // the ones that waited for a free place
        };
        off = d.onPendingMutationsChange(finish);
        d.init().then(finish);
    }

    _offlineResult(m, value, error) {
        const info = { name: m.path, args: decodeOr(m.args), idempotencyKey: m.idempotencyKey,
                       value, error: error ?? undefined };
        if (!this._onOfflineResult) {
            if (error) reportError(`restored offline mutation ${m.path} failed:`, error);
            return;
        }
        try {
            this._onOfflineResult(info);
        } catch (e) {
            reportError("onOfflineMutationResult threw", e);
        }
    }

    // Gives a new entry the cached result of its key, if one is held for the current identity.
    _hydrate(e) {
        const c = this.queryStore.cache.get(e.key);
        if (!c || c.ident !== this._tokenKey) return false;
        e.value = c.value;
        e.hasValue = true;
        e.confirmed = false;
        e.ident = c.ident;
        e.hidden = this._isHidden(e);
        return true;
    }

    _cachePut(e) {
        if (!this._persist || e.ident !== this._tokenKey) return;
        const cache = this.queryStore.cache;
        cache.delete(e.key); // re-inserted last: the Map's order is the age order
        cache.set(e.key, { path: e.path, args: e.args, value: e.value, savedAt: Date.now(),
                           ident: e.ident });
        for (const k of cache.keys()) {
            if (cache.size <= this.maxCacheEntries) break;
            cache.delete(k);
        }
    }

    // A new identity: the cache and the queue of the previous one are dropped (the queue's
    // mutations were rejected with AuthChanged by the caller) and the store rewritten.
    _identityChanged() {
        this.queryStore.currentIdent = this._tokenKey;
        for (const [k, c] of this.queryStore.cache) if (c.ident !== this._tokenKey) this.queryStore.cache.delete(k);
        this._schedulePersist();
    }

    _schedulePersist() {
        if (!this._persist || !this._initPromise || this._persistTimer || this._closed) return;
        this._persistTimer = setTimeout(() => {
            this._persistTimer = null;
            this._save();
        }, this.persistDelayMs);
    }

    /** Saves the cache and the offline queue now (with persistence); resolves when written. */
    flushPersistence() {
        if (!this._persist) return Promise.resolve();
        clearTimeout(this._persistTimer);
        this._persistTimer = null;
        return this._save().then(() => {});
    }

    // The state to save, and what to note once it is written: which mutations the store now
    // knows were sent, and the secret it holds.
    _snapshot() {
        const queries = [];
        for (const [key, c] of this.queryStore.cache) {
            queries.push({ key, path: c.path, args: c.args, value: encodeValue(c.value),
                           savedAt: c.savedAt, ident: c.ident });
        }
        const mutations = [];
        const sent = [];
        for (const r of this._requests.values()) {
            if (r.kind !== "mutation" || r.responded || r.ident === HELD) continue;
            mutations.push({ path: r.path, args: r.args, idempotencyKey: r.idempotencyKey,
                             ident: r.ident, createdAt: r.createdAt, sent: r.everSent });
            if (r.everSent) sent.push(r);
            else r.savedUnsent = true;
        }
        const state = {
            format: PERSIST_FORMAT, schemaVersion: this.schemaVersion, savedAt: Date.now(),
            ident: this._tokenKey, sessionId: this.sessionId, sessionSecret: this.sessionSecret,
            queries, mutations,
        };
        return {
            state,
            written: () => {
                for (const r of sent) r.savedUnsent = false;
                this._durableSecret = state.sessionSecret;
            },
        };
    }

    /** Saves the state as it is now; resolves with whether it was written (never rejects). */
    _save() {
        if (!this._initPromise) return Promise.resolve(false);
        // After init's load (never overwrite what it has not read yet), one save at a time, of
        // the state as it is now (once loaded).
        let snap = this._loaded ? this._snapshot() : null;
        const run = () => this._initPromise.then(() => {
            snap ??= this._snapshot();
            return this._persist.save(snap.state);
        }).then(() => {
            this._saveFailed = false;
            snap.written();
            return true;
        }, (e) => {
            if (!this._saveFailed) reportError("could not save the persisted cache", e);
            this._saveFailed = true;
            return false;
        });
        this._saveChain = this._saveChain.then(run);
        return this._saveChain;
    }

    // ---- lifecycle ----------------------------------------------------------------------------

    /** Reconnects now: after the client gave up (maxAttempts, VersionNotSupported) or to skip a wait. */
    reconnect() {
        this._checkOpen();
        this._conn.reconnect();
    }

    close() {
        if (this._closed) return;
        this._closed = true;
        this._ready = false;
        clearTimeout(this._held?.timer);
        this._held = null;
        this._clearQuerySets();
        this._auth.close();
        this._conn.close();
        for (const [d, adapter] of this._drainers) {
            adapter.close?.(); // first: what is left stays in the store for the next tab
            d.close();
        }
        this._drainers.clear();
        const err = this._closedError();
        for (const req of [...this._requests.values()]) this._settle(req, err);
        for (const reject of [...this._oneShots]) reject(err);
        this._oneShots.clear();
        if (this._persist) {
            if (this._onPageHide) globalThis.removeEventListener("pagehide", this._onPageHide);
            clearTimeout(this._persistTimer);
            // the last save, then the adapter lets go (the built-in one: its queue's lock)
            const last = this._loaded ? this._save() : this._initPromise ?? Promise.resolve();
            last.then(() => this._persist.close?.()).catch(() => {});
        }
    }

    _closedError() {
        return new ClientError("the Vireo client was closed", "ClientClosed");
    }

    _checkOpen() {
        if (this._closed) throw this._closedError();
    }
}
