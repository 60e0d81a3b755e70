// The actor client: Zocket's `createClient` for Vireo's live actors (docs/actors.md, "Protocol"),
// over one WebSocket to `/api/actors`. `client.chat("room-1")` (or `client.actor("chat").get(
// "room-1")`) gives a ref-counted handle whose methods are RPCs (`rpc` → `rpc:result`, timing out
// after `rpcTimeout` counted from the call, wait for the socket included), with lazy event and
// state subscriptions that are re-sent after each reconnect. Pending RPCs are rejected when the
// socket drops (never re-sent: methods need not be idempotent); calls made while disconnected
// wait for the next connection. Invariant: only the current socket's events are acted on (each
// socket has its own generation).

import { ActorInstance, makeHandle } from "./actor-handle.js";
import { ClientError, ServerError } from "./errors.js";

export const ACTORS_PATH = "/api/actors";
export const DEFAULT_ACTOR_BACKOFF = Object.freeze({ baseMs: 250, maxMs: 2000, jitterMs: 100 });

let rpcCounter = 0;

/** A request id as Zocket makes them: `rpc_{counter}_{Date.now() in base 36}`. */
export function rpcId() {
    return `rpc_${++rpcCounter}_${Date.now().toString(36)}`;
}

/**
 * The WebSocket URL for `url`: `http(s)://` becomes `ws(s)://`; a URL without a path (the server
 * root, as Zocket users pass it) gets `/api/actors`; any other path is kept.
 */
export function actorsUrl(url) {
    if (typeof url !== "string" || url === "") throw new TypeError("createClient: options.url must be a non-empty string");
    let u;
    try {
        u = new URL(url);
    } catch {
        throw new TypeError(`createClient: invalid url ${JSON.stringify(url)}`);
    }
    if (u.protocol === "http:") u.protocol = "ws:";
    else if (u.protocol === "https:") u.protocol = "wss:";
    else if (u.protocol !== "ws:" && u.protocol !== "wss:")
        throw new TypeError(`createClient: url must be ws://, wss://, http:// or https://, got ${JSON.stringify(url)}`);
    if (u.pathname === "" || u.pathname === "/") u.pathname = ACTORS_PATH;
    return u.toString();
}

function nonNegative(v, name, dflt) {
    if (v === undefined) return dflt;
    if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`createClient: ${name} must be a non-negative number`);
    return v;
}

/** Reconnect delay before attempt `attempt` (1 = the first retry): min(maxMs, baseMs·2^(attempt−1))
 * plus a random jitter below jitterMs (Zocket's 250 ms → 500 ms → 1 s → 2 s, + 0–100 ms). */
export function actorReconnectDelay(attempt, { baseMs, maxMs, jitterMs }, random = Math.random) {
    const exp = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
    return Math.floor(exp + random() * jitterMs);
}

function deferred() {
    const d = { settled: false };
    d.promise = new Promise((resolve, reject) => {
        d.resolve = (v) => {
            if (!d.settled) (d.settled = true), resolve(v);
        };
        d.reject = (e) => {
            if (!d.settled) (d.settled = true), reject(e);
        };
    });
    d.promise.catch(() => {}); // nobody need be waiting: no unhandled rejection
    return d;
}

function frameText(data) {
    if (typeof data === "string") return data;
    if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
    if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
    return null;
}

const key = (name, id) => `${name}\u0000${id}`;

function checkAuth(auth, what) {
    if (auth === undefined || auth === null || typeof auth === "string" || typeof auth === "function")
        return auth;
    throw new TypeError(`createClient: ${what} must be a token string, a function returning one, or null`);
}

class ActorClient {
    constructor(options) {
        if (options === null || typeof options !== "object") throw new TypeError("createClient: options must be an object");
        this.url = actorsUrl(options.url);
        const WS = options.WebSocket ?? globalThis.WebSocket;
        if (typeof WS !== "function")
            throw new TypeError(
                "createClient: no WebSocket implementation. Pass one as options.WebSocket; on " +
                "Node 20: `import WebSocket from \"ws\"; createClient({ url, WebSocket })`");
        this.WS = WS;
        this.rpcTimeout = nonNegative(options.rpcTimeout, "rpcTimeout", 10000);
        this.connectTimeout = nonNegative(options.connectTimeout, "connectTimeout", 10000);
        this.shouldReconnect = options.reconnect ?? true;
        this.reconnectDelayMs = nonNegative(options.reconnectDelayMs, "reconnectDelayMs", undefined);
        const b = options.backoff ?? {};
        this.backoff = {
            baseMs: nonNegative(b.baseMs, "backoff.baseMs", DEFAULT_ACTOR_BACKOFF.baseMs),
            maxMs: nonNegative(b.maxMs, "backoff.maxMs", DEFAULT_ACTOR_BACKOFF.maxMs),
            jitterMs: nonNegative(b.jitterMs, "backoff.jitterMs", DEFAULT_ACTOR_BACKOFF.jitterMs),
        };
        this.random = options.random ?? Math.random;
        this.onError = typeof options.onError === "function" ? options.onError : null;
        this.auth = checkAuth(options.auth, "auth");

        this.ws = null;
        this.gen = 0;
        this.connected = false;
        this.closed = false; // close() was called
        this.ended = false; // no more connections: closed, or dropped with reconnect off
        this.openedOnce = false;
        this.attempt = 0;
        this.reconnectTimer = null;
        this.clientId = undefined;

        this.status = "connecting";
        this.statusListeners = new Set();
        this.instances = new Map(); // key → ActorInstance
        this.disposeTimers = new Map(); // key → timer of a deferred final dispose
        this.pending = new Map(); // rpc id → entry, sent and unanswered
        this.waiting = new Set(); // entries waiting for an open socket, in call order

        this.ready = deferred();
        this.readyTimer =
            this.connectTimeout > 0
                ? setTimeout(() => {
                      this.readyTimer = null;
                      this.ready.reject(new ClientError(`WebSocket did not connect within ${this.connectTimeout}ms`, "ConnectTimeout"));
                  }, this.connectTimeout)
                : null;
        this._connect();
    }

    _reportError(err) {
        if (this.onError) {
            try {
                this.onError(err);
                return;
            } catch (e) {
                err = e;
            }
        }
        console.error("vireo actors:", err);
    }

    _setStatus(next) {
        if (next === this.status) return;
        this.status = next;
        for (const cb of [...this.statusListeners]) {
            try {
                cb(next);
            } catch (e) {
                this._reportError(e);
            }
        }
    }

    _settleReady(err) {
        if (this.readyTimer) clearTimeout(this.readyTimer);
        this.readyTimer = null;
        if (err) this.ready.reject(err);
        else this.ready.resolve();
    }

    _connect() {
        this.reconnectTimer = null;
        if (this.ended) return;
        const gen = ++this.gen;
        let ws;
        try {
            ws = new this.WS(this.url);
        } catch (e) {
            this._reportError(e);
            this._dropped(gen, "WebSocket closed");
            return;
        }
        this.ws = ws;
        try {
            ws.binaryType = "arraybuffer";
        } catch {
            // not settable: frames are decoded whatever their type
        }
        ws.onopen = () => {
            if (gen !== this.gen) return;
            this.connected = true;
            this.attempt = 0;
            this.openedOnce = true;
            const opened = () => {
                if (gen !== this.gen) return;
                this._setStatus("connected");
                this._settleReady(null);
                for (const inst of this.instances.values()) inst.sync();
                const waiting = [...this.waiting];
                this.waiting.clear();
                for (const entry of waiting) this._sendRpc(entry);
            };
            /* the token first: the server runs what follows once it is verified (a token
             * function may make this wait; without one nothing waits) */
            const sent = this._sendAuth(gen);
            if (sent) sent.then(opened);
            else opened();
        };
        ws.onmessage = (ev) => {
            if (gen === this.gen) this._onMessage(ev.data);
        };
        ws.onclose = (ev) => {
            if (gen === this.gen) this._dropped(gen, ev?.reason || "WebSocket closed");
        };
        ws.onerror = () => {
            // a close event follows
        };
    }

    /** Sends {type:"auth"} with the current token (a function is asked for a fresh one). */
    /* undefined when done at once (no token, or a string); a promise when a token function
     * is asked */
    _sendAuth(gen) {
        if (this.auth === undefined) return undefined;
        const send = (token) => {
            if (gen !== this.gen || !this.ws) return;
            try {
                this.ws.send(JSON.stringify({ type: "auth", token: token ?? null }));
            } catch (e) {
                this._reportError(e);
            }
        };
        if (typeof this.auth !== "function") return send(this.auth);
        return Promise.resolve()
            .then(() => this.auth())
            .catch((e) => {
                this._reportError(e);
                return null;
            })
            .then(send);
    }

    /**
     * Sets the identity of this connection and every reconnection: a JWT, a function returning
     * one (or a promise of one; asked again on each connect and when the token expired), or null
     * to sign out. The promise resolves once the token is sent: calls made after it run with it.
     */
    setAuth(auth) {
        this.auth = checkAuth(auth, "setAuth()");
        return Promise.resolve(this.connected ? this._sendAuth(this.gen) : undefined);
    }

    /** The socket of generation `gen` is gone (closed, or could not be created). */
    _dropped(gen, reason) {
        if (gen !== this.gen || this.ended) return;
        this.gen++;
        const ws = this.ws;
        this.ws = null;
        this.connected = false;
        this.clientId = undefined;
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = ws.onerror = () => {};
            try {
                ws.close();
            } catch {
                // already closed
            }
        }
        this._rejectPending(new ClientError(reason, "ConnectionLost"));
        if (!this.shouldReconnect) {
            this.ended = true;
            this._rejectWaiting(() => new ClientError("WebSocket closed", "ConnectionLost"));
            this._settleReady(new ClientError("WebSocket closed", "ConnectionLost"));
            this._setStatus("disconnected");
            return;
        }
        if (this.openedOnce) this._setStatus("reconnecting");
        const delay = this.reconnectDelayMs ?? actorReconnectDelay(++this.attempt, this.backoff, this.random);
        this.reconnectTimer = setTimeout(() => this._connect(), delay);
    }

    _rejectPending(err) {
        const entries = [...this.pending.values()];
        this.pending.clear();
        for (const e of entries) this._settle(e, err);
    }

    _rejectWaiting(makeErr) {
        const entries = [...this.waiting];
        this.waiting.clear();
        for (const e of entries) this._settle(e, makeErr(e));
    }

    _settle(entry, err, value) {
        if (entry.done) return;
        entry.done = true;
        if (entry.timer) clearTimeout(entry.timer);
        if (entry.unlisten) entry.unlisten();
        if (err) entry.reject(err);
        else entry.resolve(value);
    }

    /** Sends a frame when connected; otherwise drops it (subscriptions are re-sent on open). */
    _send(frame) {
        if (!this.connected || !this.ws) return false;
        try {
            this.ws.send(JSON.stringify(frame));
            return true;
        } catch (e) {
            this._reportError(e);
            return false;
        }
    }

    _onMessage(data) {
        const text = frameText(data);
        let msg;
        try {
            msg = text === null ? null : JSON.parse(text);
        } catch {
            msg = null;
        }
        if (msg === null || typeof msg !== "object" || typeof msg.type !== "string") {
            this._reportError(new Error("actor client: ignored a frame that is not a JSON object with a type"));
            return;
        }
        switch (msg.type) {
            case "welcome":
                this.clientId = msg.clientId;
                break;
            case "rpc:result": {
                const entry = this.pending.get(msg.id);
                if (!entry) break;
                this.pending.delete(msg.id);
                if (msg.error !== undefined && msg.error !== null) this._settle(entry, new ServerError(String(msg.error)));
                else this._settle(entry, null, msg.result);
                break;
            }
            case "rpc:stream": {
                const entry = this.pending.get(msg.id);
                if (!entry || !entry.onChunk) break;
                try {
                    entry.onChunk(msg.chunk);
                } catch (e) {
                    this._reportError(e);
                }
                break;
            }
            case "event":
            case "state:snapshot":
            case "state:patch":
                this.instances.get(key(msg.actor, msg.actorId))?.receive(msg);
                break;
            case "auth:ok":
                break;
            case "error": {
                if (msg.code === "AuthExpired" && typeof this.auth === "function") {
                    this._sendAuth(this.gen); /* a fresh token; this one ran anonymously */
                    break;
                }
                const err = new ServerError(String(msg.message ?? msg.code ?? "server error"), msg.code);
                const entry = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
                if (entry) {
                    this.pending.delete(msg.id);
                    this._settle(entry, err);
                } else {
                    this._reportError(err);
                }
                break;
            }
            default:
                break; // unknown types are ignored (newer servers)
        }
    }

    _rpc(name, actorId, method, input, opts = {}) {
        if (this.closed) return Promise.reject(new ClientError("WebSocket client is closed", "ClientClosed"));
        if (this.ended) return Promise.reject(new ClientError("WebSocket closed", "ConnectionLost"));
        if (opts === null || typeof opts !== "object") return Promise.reject(new TypeError("RPC options must be an object"));
        const timeout = opts.timeout === undefined ? this.rpcTimeout : opts.timeout;
        if (typeof timeout !== "number" || !(timeout >= 0)) return Promise.reject(new TypeError("RPC timeout must be a non-negative number"));
        if (opts.onChunk !== undefined && typeof opts.onChunk !== "function")
            return Promise.reject(new TypeError("onChunk must be a function"));
        const signal = opts.signal;
        if (signal !== undefined && (signal === null || typeof signal !== "object" || typeof signal.addEventListener !== "function"))
            return Promise.reject(new TypeError("signal must be an AbortSignal"));
        if (signal && signal.aborted) return Promise.reject(signal.reason);
        const id = rpcId();
        let text;
        try {
            // serialized now: the input as it was at the call, and errors at the call
            text = JSON.stringify({ type: "rpc", id, actor: name, actorId, method, input });
        } catch (e) {
            return Promise.reject(e);
        }
        return new Promise((resolve, reject) => {
            const entry = { id, method, text, resolve, reject, onChunk: opts.onChunk, timer: null, done: false };
            if (timeout > 0) {
                entry.timer = setTimeout(() => {
                    this.pending.delete(id);
                    this.waiting.delete(entry);
                    this._settle(entry, new ClientError(`RPC "${method}" timed out after ${timeout}ms`, "RequestTimeout"));
                }, timeout);
            }
            if (signal) {
                // an abort cancels the call: the server gets rpc:cancel if it has it
                const onAbort = () => {
                    if (entry.done) return;
                    const sent = this.pending.delete(id);
                    this.waiting.delete(entry);
                    if (sent) this._send({ type: "rpc:cancel", id });
                    this._settle(entry, signal.reason);
                };
                signal.addEventListener("abort", onAbort, { once: true });
                entry.unlisten = () => signal.removeEventListener("abort", onAbort);
            }
            if (this.connected) this._sendRpc(entry);
            else this.waiting.add(entry);
        });
    }

    _sendRpc(entry) {
        if (entry.done) return;
        this.pending.set(entry.id, entry);
        try {
            this.ws.send(entry.text);
        } catch {
            this.pending.delete(entry.id);
            this._settle(entry, new ClientError(`RPC "${entry.method}" could not be sent`, "ConnectionLost"));
        }
    }

    /** The instance for (name, id), created if needed (with no reference: one tick to get one). */
    _instance(name, id) {
        const k = key(name, id);
        let inst = this.instances.get(k);
        if (!inst) {
            inst = new ActorInstance(this, name, id);
            if (this.closed) {
                inst.dispose(); // a closed client keeps nothing
                return inst;
            }
            this.instances.set(k, inst);
            this._scheduleDispose(k, inst);
        }
        return inst;
    }

    _existing(name, id) {
        return this.instances.get(key(name, id));
    }

    _retain(name, id) {
        const k = key(name, id);
        const inst = this._instance(name, id);
        const timer = this.disposeTimers.get(k);
        if (timer !== undefined) {
            clearTimeout(timer);
            this.disposeTimers.delete(k);
        }
        inst.refs++;
    }

    _release(name, id) {
        const k = key(name, id);
        const inst = this.instances.get(k);
        if (!inst || inst.refs === 0) return;
        if (--inst.refs === 0) this._scheduleDispose(k, inst);
    }

    // The final dispose waits one tick, so a release followed at once by a retain (React
    // StrictMode's unmount/remount) keeps the instance, its listeners and its state.
    _scheduleDispose(k, inst) {
        if (this.disposeTimers.has(k)) return;
        const timer = setTimeout(() => {
            this.disposeTimers.delete(k);
            if (inst.refs !== 0 || this.instances.get(k) !== inst) return;
            this.instances.delete(k);
            inst.dispose();
        }, 0);
        this.disposeTimers.set(k, timer);
    }

    handle(name, id, opts = {}) {
        if (typeof name !== "string" || name === "") throw new TypeError("actor name must be a non-empty string");
        if (typeof id !== "string") throw new TypeError(`actor id must be a string, got ${id === null ? "null" : typeof id}`);
        const retain = opts?.retain ?? true;
        if (retain) this._retain(name, id);
        return makeHandle(this, name, id, retain);
    }

    subscribeStatus(cb) {
        if (typeof cb !== "function") throw new TypeError("status listener must be a function");
        const entry = (s) => cb(s);
        this.statusListeners.add(entry);
        return () => {
            this.statusListeners.delete(entry);
        };
    }

    close() {
        if (this.closed) return;
        this.closed = true;
        this.ended = true;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        for (const t of this.disposeTimers.values()) clearTimeout(t);
        this.disposeTimers.clear();
        for (const inst of this.instances.values()) inst.dispose(); // sends the unsubs while open
        this.instances.clear();
        const err = () => new ClientError("WebSocket client closed", "ClientClosed");
        this._rejectPending(err());
        this._rejectWaiting(err);
        const ws = this.ws;
        this.ws = null;
        this.connected = false;
        this.gen++;
        this._setStatus("disconnected");
        this._settleReady(new ClientError("WebSocket client closed before becoming ready", "ClientClosed"));
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = ws.onerror = () => {};
            try {
                ws.close(1000, "client closed");
            } catch {
                // already closed
            }
        }
    }
}

/**
 * Creates an actor client (Zocket's `createClient`). See README.md ("Actors") and actors.d.ts.
 * The result is a Proxy: `client.<actorName>(id)` gives a handle; `connection`, `$ready`,
 * `$close`, `$status`, `on("status", cb)` and `actor(name)` are the client's own.
 */
export function createClient(options) {
    const c = new ActorClient(options);
    const connection = Object.freeze({
        get ready() {
            return c.ready.promise;
        },
        get status() {
            return c.status;
        },
        get clientId() {
            return c.clientId;
        },
        subscribe: (cb) => c.subscribeStatus(cb),
        close: () => c.close(),
        setAuth: (auth) => c.setAuth(auth),
    });
    const close = () => c.close();
    const on = (event, cb) => {
        if (event === "status") return c.subscribeStatus(cb);
        return () => {};
    };
    const actors = new Map(); // name → { get } and name → function, stable identities
    const accessor = (name) => {
        let a = actors.get(name);
        if (!a) actors.set(name, (a = { get: (id, opts) => c.handle(name, id, opts) }));
        return a;
    };
    const actor = (name) => {
        if (typeof name !== "string" || name === "") throw new TypeError("actor name must be a non-empty string");
        return accessor(name);
    };
    const shortcuts = new Map();
    return new Proxy(Object.create(null), {
        get(_t, prop) {
            if (typeof prop !== "string" || prop === "then") return undefined;
            switch (prop) {
                case "connection":
                    return connection;
                case "$ready":
                    return c.ready.promise;
                case "$close":
                    return close;
                case "$status":
                    return c.status;
                case "$setAuth":
                    return connection.setAuth;
                case "on":
                    return on;
                case "actor":
                    return actor;
            }
            let fn = shortcuts.get(prop);
            if (!fn) shortcuts.set(prop, (fn = (id) => accessor(prop).get(id)));
            return fn;
        },
        set() {
            return false;
        },
    });
}

export { createClient as createActorClient };
