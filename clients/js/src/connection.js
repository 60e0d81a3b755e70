// The WebSocket under a VireoClient: opening, heartbeat, dead-connection detection and reconnect
// with backoff. It knows nothing of the sync protocol; the client tells it when the server has
// accepted the session (markConnected) and when the connection proved healthy (markHealthy, on
// its first transition); the backoff resets only then, or after healthyAfterMs connected, so a
// server that accepts and then drops the client at once does not get a reconnect storm.
// Invariant: at most one socket is current; events of any older socket are ignored (each socket
// gets its own generation). A socket the client drops to reconnect is closed with 4000, not 1000:
// 1000 tells the server the session is over.

import { backoffDelay } from "./backoff.js";
import { ClientError } from "./errors.js";

const OPEN = 1;
const noop = () => {};

export class Connection {
    /**
     * @param {object} o
     * @param {string} o.url
     * @param {any} o.WebSocket constructor
     * @param {number} o.heartbeatIntervalMs
     * @param {{baseMs:number,maxMs:number,maxAttempts:number}} o.backoff
     * @param {() => void} o.onOpen socket open: send the handshake
     * @param {(data: any) => void} o.onMessage
     * @param {(err: Error) => void} o.onDrop the socket is gone (before any reconnect is scheduled)
     * @param {(state: string, err?: Error) => void} o.onState
     * @param {number} [o.healthyAfterMs] connected this long counts as healthy (default 10000)
     */
    constructor(o) {
        this.url = o.url;
        this.WS = o.WebSocket;
        this.heartbeatIntervalMs = o.heartbeatIntervalMs;
        this.backoff = o.backoff;
        this.random = o.random ?? Math.random;
        this.onOpen = o.onOpen;
        this.onMessage = o.onMessage;
        this.onDrop = o.onDrop;
        this.onState = o.onState;
        this.healthyAfterMs = o.healthyAfterMs ?? 10000;
        this.healthyTimer = null;
        this.state = "disconnected";
        this.attempt = 0; // consecutive failed attempts since the last accepted connection
        this.nextDelayMs = null; // server-imposed delay for the next attempt (retryAfterMs)
        this.immediate = false; // the next attempt goes at once (retryNow)
        this.stopped = false;
        this.gaveUp = false;
        this.ws = null;
        this.gen = 0;
        this.reconnectTimer = null;
        this.pingTimer = null;
        this.deadTimer = null;
        this.lastMessageAt = 0;
    }

    start() {
        if (this.stopped || this.ws) return;
        this._open();
    }

    _setState(state, err) {
        if (state === this.state) return;
        this.state = state;
        this.onState(state, err);
    }

    _open() {
        this.reconnectTimer = null;
        this.gaveUp = false;
        this._setState("connecting");
        let ws;
        try {
            ws = new this.WS(this.url);
        } catch (e) {
            this.ws = { close: noop }; // so _lost() handles it like any failed socket
            this._lost(e instanceof Error ? e : new Error(String(e)));
            return;
        }
        const gen = ++this.gen;
        this.ws = ws;
        this.lastMessageAt = Date.now();
        this._armDeadTimer();
        ws.onopen = () => {
            if (gen !== this.gen) return;
            this.lastMessageAt = Date.now();
            this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.heartbeatIntervalMs);
            this.onOpen();
        };
        ws.onmessage = (ev) => {
            if (gen !== this.gen) return;
            this.lastMessageAt = Date.now();
            this.onMessage(ev.data);
        };
        ws.onerror = (ev) => {
            if (gen !== this.gen) return;
            const detail = ev?.message || ev?.error?.message;
            this._lost(new ClientError(`WebSocket error${detail ? ": " + detail : ""}`, "ConnectionLost"));
        };
        ws.onclose = (ev) => {
            if (gen !== this.gen) return;
            const why = `code ${ev?.code ?? "?"}${ev?.reason ? ", " + ev.reason : ""}`;
            this._lost(new ClientError(`WebSocket closed (${why})`, "ConnectionLost"));
        };
    }

    // No message at all for 2 heartbeat intervals: the connection is dead. One timer, re-armed
    // lazily from lastMessageAt, so a busy connection costs nothing per message.
    _armDeadTimer() {
        const limit = 2 * this.heartbeatIntervalMs;
        const wait = Math.max(0, this.lastMessageAt + limit - Date.now());
        this.deadTimer = setTimeout(() => {
            this.deadTimer = null;
            if (!this.ws) return;
            if (Date.now() - this.lastMessageAt >= limit) {
                this._lost(new ClientError(`no message from the server for ${limit} ms`, "ConnectionLost"));
            } else {
                this._armDeadTimer();
            }
        }, wait);
    }

    _clearSocketTimers() {
        clearInterval(this.pingTimer);
        clearTimeout(this.deadTimer);
        clearTimeout(this.healthyTimer);
        this.pingTimer = this.deadTimer = this.healthyTimer = null;
    }

    _detach(code, reason) {
        const ws = this.ws;
        this.ws = null;
        this.gen++;
        this._clearSocketTimers();
        if (!ws) return;
        // Keep handlers installed (as no-ops): `ws` emits 'error' when a socket still
        // connecting is closed, and an EventEmitter 'error' without a listener throws.
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = noop;
        try {
            ws.close(code, reason);
        } catch {
            // already closed / closing
        }
    }

    _lost(err) {
        if (!this.ws) return;
        this._detach(4000, "reconnecting");
        this.onDrop(err);
        if (!this.stopped) this._scheduleReconnect(err);
    }

    _scheduleReconnect(err) {
        if (this.attempt >= this.backoff.maxAttempts) {
            this.gaveUp = true;
            const e = new ClientError(
                `gave up reconnecting after ${this.attempt} attempts: ${err.message}`, "GaveUp");
            e.cause = err;
            this._setState("disconnected", e);
            return;
        }
        const delay = this._delay();
        this.nextDelayMs = null;
        this.immediate = false;
        this.attempt++;
        this._setState("disconnected", err);
        this.reconnectTimer = setTimeout(() => this._open(), delay);
    }

    // The wait before the next attempt. A server's retryAfterMs is bounded to [0, maxMs] (1e12
    // would overflow setTimeout into 1 ms) and, after consecutive failures, never shortens the
    // backoff: a server answering every connect with an error cannot make the client spin.
    _delay() {
        if (this.immediate) return 0;
        const backoff = backoffDelay(this.attempt, this.backoff, this.random);
        if (this.nextDelayMs === null) return backoff;
        const asked = Math.min(Math.max(0, this.nextDelayMs), this.backoff.maxMs);
        return this.attempt === 0 ? asked : Math.max(asked, backoff);
    }

    /** The server accepted the session: state "connected"; the backoff resets once healthy. */
    markConnected() {
        clearTimeout(this.healthyTimer);
        this.healthyTimer = setTimeout(() => this.markHealthy(), this.healthyAfterMs);
        this._setState("connected");
    }

    /** The connection works (a transition arrived, or it stayed up): reset the backoff. */
    markHealthy() {
        clearTimeout(this.healthyTimer);
        this.healthyTimer = null;
        if (this.state === "connected") this.attempt = 0;
    }

    /** Sends a message (an object, or its JSON text) if the socket is open; returns whether it
     * was sent. */
    send(msg) {
        const ws = this.ws;
        if (!ws || ws.readyState !== OPEN) return false;
        ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
        return true;
    }

    /** The server's retryAfterMs for the next reconnect (bounded, see _delay). */
    setNextDelay(ms) {
        this.nextDelayMs = ms;
    }

    /** The next reconnect goes at once (SessionIdInUse: a fresh sessionId cannot be in use). */
    retryNow() {
        this.immediate = true;
    }

    /** Drops the current socket (e.g. after a fatal server error) and reconnects per backoff. */
    drop(err) {
        this._lost(err);
    }

    /** Drops the socket and stops reconnecting until reconnect() is called. */
    giveUp(err) {
        const wasStopped = this.stopped;
        this.stopped = true; // suppress the reconnect _lost() would schedule
        this._lost(err);
        this.stopped = wasStopped;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.gaveUp = true;
        this._setState("disconnected", err);
    }

    /** Reconnects now (after giving up, or to skip a backoff wait). */
    reconnect() {
        if (this.stopped) return;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.attempt = 0;
        this.nextDelayMs = null;
        this.immediate = false;
        if (this.ws) {
            this._detach(4000, "reconnect");
            this.onDrop(new ClientError("connection replaced by reconnect()", "ConnectionLost"));
        }
        this._open();
    }

    close() {
        this.stopped = true;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this._detach(1000, "client closed");
        this._setState("disconnected");
    }
}
