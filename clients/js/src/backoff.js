// Reconnect backoff: exponential with full jitter, delay = random(0, min(maxMs, baseMs * 2^attempt)).
// attempt counts consecutive failed attempts since the last successful connect (0 for the first
// retry); the caller resets it when the server accepts a connection.

export const DEFAULT_BACKOFF = Object.freeze({ baseMs: 1000, maxMs: 30000, maxAttempts: Infinity });

function positive(v, name, dflt, allowZero = false) {
    if (v === undefined) return dflt;
    if (typeof v !== "number" || Number.isNaN(v) || v < 0 || (!allowZero && v === 0))
        throw new TypeError(`backoff.${name} must be a ${allowZero ? "non-negative" : "positive"} number`);
    return v;
}

export function normalizeBackoff(opts = {}) {
    const baseMs = positive(opts.baseMs, "baseMs", DEFAULT_BACKOFF.baseMs, true);
    const maxMs = positive(opts.maxMs, "maxMs", DEFAULT_BACKOFF.maxMs, true);
    const maxAttempts = positive(opts.maxAttempts, "maxAttempts", DEFAULT_BACKOFF.maxAttempts);
    return { baseMs, maxMs: Math.max(maxMs, 0), maxAttempts };
}

export function backoffDelay(attempt, { baseMs, maxMs }, random = Math.random) {
    const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 60));
    return Math.floor(random() * cap);
}
