// The token a VireoClient's session runs under: setAuth(fetchToken) (Convex's fetcher, refreshed
// before expiry, one forced refetch per server refusal), or a fixed token (setAuthToken/
// setWsToken). It decides which token to use and when; the client sends it (in `connect`, or
// `authenticate`) and keeps query results and requests apart per identity. Invariant: results of
// an async fetch are dropped unless `gen` is unchanged since it started (a later setAuth, clear or
// close wins), and every timer is cleared by _reset().

import { backoffDelay } from "./backoff.js";

/** Refresh this long before `exp`, or at half the lifetime if that is later. */
export const REFRESH_LEEWAY_MS = 30000;
const MAX_REFRESH_DELAY_MS = 20 * 24 * 3600 * 1000; // setTimeout overflows past 2^31 - 1 ms
const MIN_REFRESH_DELAY_MS = 1000; // a clock far ahead of the issuer's cannot cause a fetch storm
/** Longest the client holds `connect` and calls while fetchToken runs (initial fetch, refusal). */
export const AUTH_HOLD_MS = 10000;
const FETCH_BACKOFF = { baseMs: 1000, maxMs: 30000 };
/** A token longer than this is refused here (the server refuses oversized tokens too). */
export const MAX_TOKEN_BYTES = 16384;

function reportError(what, err) {
    console.error(`vireo: ${what}`, err);
}

/** A JWT's payload, decoded without verification (the server verifies); null if not a JWT. */
export function decodeJwtPayload(token) {
    if (typeof token !== "string") return null;
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    try {
        let s = parts[1].replace(/-/g, "+").replace(/_/g, "/");
        while (s.length % 4) s += "=";
        const bin = atob(s);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const p = JSON.parse(new TextDecoder().decode(bytes));
        return p && typeof p === "object" && !Array.isArray(p) ? p : null;
    } catch {
        return null;
    }
}

/**
 * Who a token signs in, as a comparable key: "<iss>|<sub>" (Convex's tokenIdentifier) for a JWT
 * with a `sub`, else the token itself (an opaque token: every new one counts as a new identity);
 * null for no token. Two tokens of one user (a refresh) have the same key.
 */
export function identityKeyOf(token) {
    if (token === null || token === undefined) return null;
    const p = decodeJwtPayload(token);
    if (p && typeof p.sub === "string") return `${typeof p.iss === "string" ? p.iss : ""}|${p.sub}`;
    return `token:${token}`;
}

/** Checks a token given by the app or its fetcher: a non-empty string, or null/undefined. */
export function checkToken(token, what) {
    if (token === null || token === undefined) return null;
    if (typeof token !== "string" || token === "")
        throw new TypeError(`${what} must be a non-empty string, null or undefined; got ${
            token === "" ? "an empty string" : typeof token}`);
    if (token.length > MAX_TOKEN_BYTES)
        throw new TypeError(`${what} is ${token.length} characters long; the limit is ` +
                            `${MAX_TOKEN_BYTES}`);
    return token;
}

/**
 * Milliseconds from now until a token obtained at `obtainedAt` should be refetched, or null
 * when there is nothing to schedule (not a JWT with `exp`, or a lifetime of 2 s or less: the
 * server's TokenExpired then drives the refetch). `expiresAt` (ms, from `authenticated`) wins
 * over the token's `exp`. Refresh at max(exp - 30 s, iat + lifetime / 2), at least 1 s away.
 */
export function refreshDelay(token, obtainedAt, expiresAt, now = Date.now()) {
    const p = decodeJwtPayload(token);
    const expMs = typeof expiresAt === "number" && Number.isFinite(expiresAt) ? expiresAt
        : typeof p?.exp === "number" && Number.isFinite(p.exp) ? p.exp * 1000 : null;
    if (expMs === null) return null;
    const startMs = typeof p?.iat === "number" && Number.isFinite(p.iat) && p.iat * 1000 < expMs
        ? p.iat * 1000 : obtainedAt;
    const lifetime = expMs - startMs;
    if (!(lifetime > 2000)) return null;
    const at = Math.max(expMs - REFRESH_LEEWAY_MS, startMs + lifetime / 2);
    return Math.min(MAX_REFRESH_DELAY_MS, Math.max(MIN_REFRESH_DELAY_MS, at - now));
}

export class AuthManager {
    /**
     * @param {object} host
     * @param {(token: string|null, send: boolean) => void} host.adopt use this token from now on;
     *   `send`: tell the server now (authenticate) — false when the server already dropped it
     * @param {() => void} host.release the hold on `connect` and calls ended
     * @param {() => number} [host.random] backoff jitter
     */
    constructor(host) {
        this.host = host;
        this.mode = "none"; // "none" | "fetch" (setAuth) | "fixed" (setAuthToken/setWsToken)
        this.gen = 0;
        this.fetchToken = null;
        this.onChange = null;
        this.reported = undefined; // last value given to onChange
        /** The token in use (sent in `connect` and `authenticate`); null = anonymous. */
        this.token = null;
        this.obtainedAt = 0;
        /** The server accepted the session's current token (an `authenticated` with an identity). */
        this.isAuthenticated = false;
        /** `connect` and calls wait (for a fetch after setAuth or a refusal), at most AUTH_HOLD_MS. */
        this.holding = false;
        this.retried = false; // a refusal's forced refetch was sent and is not yet accepted
        this.refused = null; // the token the server refused last
        this.failures = 0; // consecutive fetchToken failures
        this.fetching = false;
        this.refusalDuringFetch = false;
        this.refreshTimer = null;
        this.retryTimer = null;
        this.holdTimer = null;
        this.expiry = null; // when the token expires by this client's clock (ms), or null
    }

    // Stops timers and fetches; the hold stays until the caller has adopted its token, so a
    // `connect` it lets go carries that token.
    _reset() {
        this.gen++;
        clearTimeout(this.refreshTimer);
        clearTimeout(this.retryTimer);
        this.refreshTimer = this.retryTimer = null;
        this.fetching = false;
        this.refusalDuringFetch = false;
        this.failures = 0;
        this.retried = false;
        this.refused = null;
    }

    _hold() {
        if (this.holding) return;
        this.holding = true;
        this.holdTimer = setTimeout(() => {
            console.warn(`vireo: fetchToken has not answered in ${AUTH_HOLD_MS} ms; going on ` +
                         "without waiting for it");
            this._release();
        }, AUTH_HOLD_MS);
    }

    _release() {
        clearTimeout(this.holdTimer);
        this.holdTimer = null;
        if (!this.holding) return;
        this.holding = false;
        this.host.release();
    }

    _report(value) {
        this.isAuthenticated = value;
        if (this.mode !== "fetch" || !this.onChange || this.reported === value) return;
        this.reported = value;
        try {
            this.onChange(value);
        } catch (e) {
            reportError("the setAuth onChange callback threw", e);
        }
    }

    _adopt(token, send) {
        // Another user is not authenticated until the server says so; a refresh stays so.
        if (identityKeyOf(token) !== identityKeyOf(this.token)) this.isAuthenticated = false;
        this.token = token;
        this.obtainedAt = Date.now();
        this.expiry = this._expiryOf(undefined);
        this.host.adopt(token, send);
    }

    setAuth(fetchToken, onChange) {
        if (typeof fetchToken !== "function")
            throw new TypeError("setAuth: fetchToken must be a function " +
                                "({forceRefreshToken}) => Promise<string | null | undefined>");
        if (onChange !== undefined && typeof onChange !== "function")
            throw new TypeError("setAuth: onChange must be a function (isAuthenticated) => void");
        this._reset();
        this.mode = "fetch";
        this.fetchToken = fetchToken;
        this.onChange = onChange ?? null;
        this.reported = undefined;
        this._hold();
        this._fetch(false, "initial");
    }

    /** setAuthToken / setWsToken: a fixed token (no fetcher, no refresh); null signs out. */
    setFixed(token) {
        token = checkToken(token, "the token");
        this._reset();
        this.mode = token === null ? "none" : "fixed";
        this.fetchToken = this.onChange = null;
        if (token !== this.token) this._adopt(token, true);
        this._release();
    }

    clear() {
        this._reset();
        this.mode = "none";
        this.fetchToken = this.onChange = null;
        if (this.token !== null) this._adopt(null, true);
        this._release();
    }

    close() {
        this._reset();
        this.mode = "none";
        this._release();
    }

    // why: "initial" (setAuth), "refresh" (before expiry), "refusal" (the server refused the
    // token), "retry" (a fetch after a failed refusal fetch).
    _fetch(force, why) {
        const gen = this.gen;
        this.fetching = true;
        let p;
        try {
            p = Promise.resolve(this.fetchToken({ forceRefreshToken: force }));
        } catch (e) {
            p = Promise.reject(e);
        }
        p.then((token) => {
            if (gen !== this.gen) return;
            this.fetching = false;
            try {
                token = checkToken(token, "the token fetchToken resolved with");
            } catch (e) {
                this._fetchFailed(e, force, why);
                return;
            }
            this.failures = 0;
            this._fetched(token, why);
        }, (err) => {
            if (gen !== this.gen) return;
            this.fetching = false;
            this._fetchFailed(err, force, why);
        });
    }

    _fetched(token, why) {
        if (this.refusalDuringFetch) {
            this.refusalDuringFetch = false; // the server refused the token while this fetch ran
            why = "refusal";
        }
        // A refusal's refetch that brings no token, or the very token refused: stay anonymous.
        if (token !== null && token === this.refused) {
            this._giveUp(`fetchToken returned the token the server refused`);
            return;
        }
        if (token === null) {
            // Signed out (or no token to be had): anonymous; tell the server if it holds one.
            if (this.token !== null) this._adopt(null, why !== "refusal");
            this._release();
            this._report(false);
            return;
        }
        if (token === this.token) {
            // The same token again (a fetcher with a cache): nothing to send; its schedule stands
            // unless it was the refresh itself, which would only repeat.
            if (why === "initial") {
                this._schedule(undefined);
                if (this.isAuthenticated) this._report(true);
            }
            this._release();
            return;
        }
        if (why === "refusal") this.retried = true;
        this._adopt(token, true);
        this._release();
        this._schedule(undefined);
    }

    _fetchFailed(err, force, why) {
        this.failures++;
        if (this.refusalDuringFetch) {
            this.refusalDuringFetch = false;
            why = "refusal";
        }
        reportError(`fetchToken failed (attempt ${this.failures})`, err);
        if (why === "refusal") {
            // The server already dropped the token: anonymous now, and try again later.
            this._giveUp(null);
            why = "retry";
        } else {
            this._release();
            if (!this.isAuthenticated) this._report(false);
        }
        const delay = Math.max(250, backoffDelay(this.failures - 1, FETCH_BACKOFF,
                                                 this.host.random ?? Math.random));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this._fetch(force, why);
        }, delay);
    }

    _giveUp(reason) {
        if (reason) console.warn(`vireo: authentication failed: ${reason}; continuing unauthenticated`);
        clearTimeout(this.refreshTimer);
        this.refreshTimer = null;
        this.retried = false;
        if (this.token !== null) this._adopt(null, false);
        this._release();
        this._report(false);
    }

    _schedule(expiresAt) {
        clearTimeout(this.refreshTimer);
        this.refreshTimer = null;
        if (this.mode !== "fetch" || this.token === null) return;
        const delay = refreshDelay(this.token, this.obtainedAt, expiresAt);
        if (delay === null) return;
        const gen = this.gen;
        this.refreshTimer = setTimeout(() => {
            this.refreshTimer = null;
            if (gen === this.gen && !this.fetching) this._fetch(true, "refresh");
        }, delay);
    }

    /**
     * Before a `connect`: a token the client knows has expired (offline past its `exp`, the
     * refresh failing meanwhile) would be refused and the session would start anonymous; fetch a
     * fresh one first. `connect` and calls wait for it (at most AUTH_HOLD_MS); if the fetch
     * fails, `connect` carries the old token and the server's refusal is handled as any.
     */
    beforeConnect() {
        if (this.mode !== "fetch" || this.token === null || this.holding || !this.expired()) return;
        this._hold();
        if (this.fetching) return; // the fetch under way brings it
        clearTimeout(this.retryTimer);
        clearTimeout(this.refreshTimer);
        this.retryTimer = this.refreshTimer = null;
        this._fetch(true, "refresh");
    }

    // The token's expiry on this client's clock: its lifetime (exp - iat) counted from when it
    // was obtained, so a device clock set wrong does not make a fresh token look expired; `exp`
    // itself for a token without `iat`. `expiresAt` (from `authenticated`, ms) wins over `exp`.
    _expiryOf(expiresAt) {
        const p = decodeJwtPayload(this.token);
        const exp = typeof expiresAt === "number" && Number.isFinite(expiresAt) ? expiresAt
            : typeof p?.exp === "number" && Number.isFinite(p.exp) ? p.exp * 1000 : null;
        if (exp === null) return null;
        if (typeof p?.iat === "number" && Number.isFinite(p.iat) && p.iat * 1000 <= exp)
            return this.obtainedAt + (exp - p.iat * 1000);
        return exp;
    }

    /** The token in use has expired (by its lifetime since it was obtained): the server will
     * refuse it, or accept it within its clock leeway and expire the session at once. */
    expired(now = Date.now()) {
        return this.token !== null && this.expiry !== null && now >= this.expiry;
    }

    /** `authenticated`: the server runs the session under `identity` (null: anonymous). */
    onAuthenticated(identity, expiresAt) {
        if (identity && typeof expiresAt === "number") this.expiry = this._expiryOf(expiresAt);
        if (identity) {
            this.retried = false;
            this.refused = null;
            this._report(true);
            if (typeof expiresAt === "number") this._schedule(expiresAt);
        } else if (this.token === null) {
            this._report(false);
        }
    }

    /** A connect token the server took without saying `authenticated`: count it as accepted. */
    onConnectAccepted() {
        this.retried = false;
        this.refused = null;
        this._report(true);
    }

    /** `authError`: the server refused the token (or it expired); the session is anonymous. */
    onAuthError(code, message) {
        this.isAuthenticated = false;
        const token = this.token;
        if (token === null) return; // a late answer to a token since dropped
        if (this.mode !== "fetch") {
            // A fixed token has no fetcher: sign out so the app (onAuthTokenChange) can set another.
            console.warn(`vireo: the server refused the auth token (${code}: ${message})`);
            this.mode = "none";
            this._adopt(null, false);
            return;
        }
        this.refused = token;
        if (this.retried) {
            this._giveUp(`the server refused a freshly fetched token too (${code}: ${message})`);
            return;
        }
        if (this.fetching) {
            this.refusalDuringFetch = true; // the fetch under way answers this refusal
            this._hold();
            return;
        }
        clearTimeout(this.refreshTimer);
        this.refreshTimer = null;
        this._hold();
        this._fetch(true, "refusal");
    }
}
