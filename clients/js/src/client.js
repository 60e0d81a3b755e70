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

import { AuthManager, identityKeyOf } from "./auth.js";
import { normalizeBackoff } from "./backoff.js";
import { Connection } from "./connection.js";
import { ClientError, ServerError } from "./errors.js";
import { PaginatedQuery } from "./paginated.js";
import { QueryStore, keyOf } from "./querystore.js";
import { decodeValue, encodeArgs } from "./values.js";

export const VERSION = "0.1.0";
const HELD = Symbol("held for fetchToken"); // a request's identity while setAuth fetches (auth)
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
        this._initAuth(options);

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
        if ((entry.hasValue || entry.error) && !entry.hidden) {
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
                // the identity it is made under; while fetchToken runs, the one it brings (auth)
                ident: this._auth.holding ? HELD : this._tokenKey,
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
            if (this._ready && !this._auth.holding) this._send(req);
        });
    }

    _send(req) {
        if (req.ident !== this._tokenKey) {
            this._settle(req, this._authChangedError(req));
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
        this._authSent = [];
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
        this._connectDeferred = false;
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
        this._onConnectedAuth();
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
        if (!this._auth.holding) this._sendUnsent();
        this._conn.markConnected(); // listeners run now, after the replays went out in order
    }

    /** Sends, in order, the requests not sent on this socket (mutations not yet answered). */
    _sendUnsent() {
        for (const req of [...this._requests.values()]) {
            if (req.kind === "mutation" ? !req.responded && !req.sent : !req.sent) this._send(req);
        }
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
        const t = JSON.parse(data);
        this._onTransition(t, data.includes("\"$") ? decodeValue : (v) => v);
    }

    _onTransition(msg, decode) {
        this._conn.markHealthy();
        const retagged = this._transitionAuth();
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
                e.ident = this._serverKey;
                changed.add(e);
                break;
            case "QueryFailed":
                e.error = new ServerError(m.errorMessage, m.errorCode, decode(m.errorData));
                e.hash = undefined;
                e.ident = this._serverKey;
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
        this._updateHidden(retagged ? null : changed, changed);
        for (const e of changed) if (!e.hidden) this._notify(e);
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
            // Calls of the old identity that are not on their way on this socket (ahead of the
            // authenticate) will not run under the new one; answered mutations still settle.
            for (const req of [...this._requests.values()]) {
                if (req.ident !== this._tokenKey && !req.responded && !(this._ready && req.sent))
                    this._settle(req, this._authChangedError(req));
            }
            this._updateHidden(null, null);
        }
        for (const l of [...this._tokenListeners]) {
            try {
                l(token);
            } catch (e) {
                reportError("onAuthTokenChange listener threw", e);
            }
        }
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
            this._onOpen();
        } else if (this._ready) {
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
        // An answer to a token since replaced reports nothing: the newer one's answer follows.
        if (key === this._tokenKey) this._auth.onAuthenticated(identity, this.authExpiresAt);
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
        this._auth.close();
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
