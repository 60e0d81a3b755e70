// VireoClient: the sync protocol (docs/protocol.md, "Sync protocol") over one WebSocket.
// Live queries are ref-counted entries of the QueryStore; a transition is applied whole (all its
// modifications, then the version, then the callbacks) so callbacks never see two versions mixed;
// a mutation settles only once the applied version reaches the version it committed at. Mutations
// keep their requestId and idempotencyKey until answered and are re-sent, in order, on every
// reconnect; actions are never re-sent. The session is resumed with the secret the server gave in
// `connected`; a transition too large for one message arrives as transitionChunk parts that are
// joined here before it is applied.

import { normalizeBackoff } from "./backoff.js";
import { Connection } from "./connection.js";
import { ClientError, ServerError } from "./errors.js";
import { PaginatedQuery } from "./paginated.js";
import { QueryStore, keyOf } from "./querystore.js";
import { decodeValue, encodeArgs } from "./values.js";

export const VERSION = "0.1.0";
export const PROTOCOL_VERSION = 1;

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

function reportError(what, err) {
    console.error(`vireo: ${what}`, err);
}

export class VireoClient {
    /**
     * @param {string} url server base URL (http://host:port) or the ws(s)://…/api/sync URL
     * @param {object} [options] see index.d.ts (VireoClientOptions)
     */
    constructor(url, options = {}) {
        this.url = syncUrl(url);
        const WS = options.WebSocket ?? globalThis.WebSocket;
        if (typeof WS !== "function")
            throw new TypeError(
                "VireoClient: no WebSocket implementation. Pass one as options.WebSocket; on " +
                "Node 20: `import WebSocket from \"ws\"; new VireoClient(url, { WebSocket })`");
        this.sessionId = options.sessionId ?? randomUUID();
        /** The server's secret for this session (from `connected`), sent to resume it. */
        this.sessionSecret = null;
        this._chunks = null; // {transitionId, parts[]} of a transition arriving in chunks
        this.clientVersion = options.clientVersion ?? `vireo-js/${VERSION}`;
        this.requestTimeoutMs = options.requestTimeoutMs ?? 60000;
        /** The server's message limit (--max-message): a larger call is refused here, as the
         * server would close the connection (1009) and a replay would meet the same fate. */
        this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
        const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30000;
        if (!(heartbeatIntervalMs > 0)) throw new TypeError("heartbeatIntervalMs must be > 0");

        this.queryStore = new QueryStore();
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
        this._ready = false; // `connected` received on the current socket
        this._closed = false;
        this._listeners = new Set();

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
        this._conn.start();
    }

    /** "connecting" | "connected" | "disconnected" */
    get connectionState() {
        return this._conn.state;
    }

    onConnectionChange(listener) {
        this._listeners.add(listener);
        return () => this._listeners.delete(listener);
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
        if (entry.hasValue || entry.error) {
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
                unsubscribe = this.subscribe(name, args, (v) => finish(resolve, v),
                                             (e) => finish(reject, e));
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

    watchQuery(key, listener) {
        return this.queryStore.watch(key, listener);
    }

    getQueryResult(key) {
        return this.queryStore.getResult(key);
    }

    getQueryError(key) {
        return this.queryStore.getError(key);
    }

    hasServerResult(key) {
        return this.queryStore.hasServerResult(key);
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
        if (add.length || remove.length)
            this._conn.send({ type: "modifyQuerySet", add, remove });
    }

    _addItem(e) {
        const item = { queryId: e.queryId, path: e.path, args: e.args };
        if (e.hash !== undefined) item.hash = e.hash;
        return item;
    }

    _deliver(entry, sub) {
        try {
            if (entry.error) {
                if (sub.onError) sub.onError(entry.error);
                else reportError(`query ${entry.path} failed:`, entry.error);
            } else if (sub.callback) {
                sub.callback(entry.value);
            }
        } catch (e) {
            reportError("query callback threw", e);
        }
    }

    _notify(entry) {
        for (const sub of [...entry.subscribers]) if (sub.active) this._deliver(entry, sub);
        this.queryStore.notifyWatchers(entry.key);
    }

    // ---- mutations and actions --------------------------------------------------------------

    mutation(name, args) {
        return this._request("mutation", name, args);
    }

    action(name, args) {
        return this._request("action", name, args);
    }

    _request(kind, name, args) {
        if (this._closed) return Promise.reject(this._closedError());
        let path, encoded;
        try {
            path = functionPath(name);
            encoded = encodeArgs(args);
        } catch (e) {
            return Promise.reject(e);
        }
        return new Promise((resolve, reject) => {
            const req = {
                kind, requestId: this._nextRequestId++, path, args: encoded,
                idempotencyKey: kind === "mutation" ? randomUUID() : undefined,
                resolve, reject,
                sent: false, // on the current socket
                responded: false, value: undefined, version: undefined,
                timer: null,
            };
            const ms = this.requestTimeoutMs;
            if (ms > 0 && ms !== Infinity) {
                req.timer = setTimeout(() => {
                    const msg = req.responded
                        ? `mutation ${path} committed at version ${req.version} but the client's ` +
                          `queries did not reach that version within ${ms} ms`
                        : `request timed out after ${ms} ms`;
                    this._settle(req, new ClientError(msg, "RequestTimeout"));
                }, ms);
            }
            this._requests.set(req.requestId, req);
            if (this._ready) this._send(req);
        });
    }

    _send(req) {
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
    }

    /** Settles and forgets a request: rejects with `err` if given, else resolves with its value. */
    _settle(req, err) {
        if (this._requests.get(req.requestId) !== req) return;
        this._requests.delete(req.requestId);
        clearTimeout(req.timer);
        if (err) req.reject(err);
        else req.resolve(req.value);
    }

    _resolveReachedMutations() {
        if (this.version === null) return;
        for (const req of this._requests.values()) {
            if (req.responded && req.version <= this.version) this._settle(req);
        }
    }

    // ---- connection ---------------------------------------------------------------------------

    _onOpen() {
        const msg = {
            type: "connect", sessionId: this.sessionId, clientVersion: this.clientVersion,
            protocolVersion: PROTOCOL_VERSION,
        };
        if (this.version !== null) msg.lastVersion = this.version;
        if (this.sessionSecret) msg.sessionSecret = this.sessionSecret;
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
        this._ready = false;
        this._chunks = null;
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
        if (add.length || msg.resumed) this._conn.send({ type: "modifyQuerySet", add, remove: [] });
        for (const req of this._requests.values()) {
            if (req.kind === "mutation" ? !req.responded : !req.sent) this._send(req);
        }
        this._conn.markConnected(); // listeners run now, after the replays went out in order
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
            switch (msg.type) {
            case "connected":
                return this._onConnected(msg);
            case "transition":
                return this._onTransition(msg, decode);
            case "transitionChunk":
                return this._onTransitionChunk(msg);
            case "mutationResponse":
            case "actionResponse":
                return this._onResponse(msg, decode);
            case "error":
                return this._onServerError(msg, decode);
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
        const t = JSON.parse(data);
        this._onTransition(t, data.includes("\"$") ? decodeValue : (v) => v);
    }

    _onTransition(msg, decode) {
        this._conn.markHealthy();
        const changed = new Set();
        for (const m of Array.isArray(msg.modifications) ? msg.modifications : []) {
            const e = this.queryStore.byId.get(m.queryId);
            if (!e) continue; // removed since; the server may still answer it once
            switch (m.type) {
            case "QueryUpdated":
                e.value = decode(m.value);
                e.hasValue = true;
                e.error = null;
                e.hash = m.hash;
                changed.add(e);
                break;
            case "QueryFailed":
                e.error = new ServerError(m.errorMessage, m.errorCode, decode(m.errorData));
                e.hash = undefined;
                changed.add(e);
                break;
            case "QueryUnchanged":
            case "QueryRemoved":
                break;
            default:
                console.warn(`vireo: ignoring unknown modification ${JSON.stringify(m.type)}`);
            }
        }
        if (typeof msg.endVersion === "number") this.version = msg.endVersion;
        for (const e of changed) this._notify(e);
        this._resolveReachedMutations();
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
        if (kind === "action" || typeof msg.version !== "number" ||
            (this.version !== null && this.version >= msg.version))
            this._settle(req);
        // else: settled by the transition that reaches msg.version
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
                this.sessionId = randomUUID();
                this.sessionSecret = null;
                this._conn.setNextDelay(0);
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
            this._notify(e);
            return;
        }
        console.warn(`vireo: server error ${msg.code}: ${msg.message}`);
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
        this._conn.close();
        const err = this._closedError();
        for (const req of [...this._requests.values()]) this._settle(req, err);
        for (const reject of [...this._oneShots]) reject(err);
        this._oneShots.clear();
    }

    _closedError() {
        return new ClientError("the Vireo client was closed", "ClientClosed");
    }

    _checkOpen() {
        if (this._closed) throw this._closedError();
    }
}
