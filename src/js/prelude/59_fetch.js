/* fetch: in actions, an HTTP request made by the action worker's libcurl (src/net/fetch.c) while
 * the action is suspended (in actor methods, by the shard loop's: 47_actors.js, proto/actors.c); the Request/Response classes are 58_fetch_types.js. Errors are
 * Node's: a bad URL throws TypeError "Failed to parse URL from ...", anything the network does
 * wrong rejects with TypeError "fetch failed" whose `cause` is an Error with a `code`
 * (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ERR_FETCH_RESPONSE_TOO_LARGE, ...). An AbortSignal aborts
 * it with the signal's reason. In queries and mutations fetch throws Convex's error. */

const FETCH_REDIRECT = { follow: 0, manual: 1, error: 2 };

function fetchFailed(message, code) {
    const cause = new Error(message);
    if (code) cause.code = code;
    const e = new TypeError("fetch failed");
    Object.defineProperty(e, "cause", { value: cause, writable: true, configurable: true });
    return e;
}

/* The answer at the response's head: [status, statusText, headersJson, url, redirected] and the
 * whole body (an actor method's fetch), or a sixth string, the id of a body that streams in
 * (an action's: fetchBodyStream). */
function fetchResult(method, signal) {
    return (ok, s, bytes) => {
        if (!ok) throw fetchFailed(s[0], s[1]);
        const status = Number(s[0]);
        const headers = JSON.parse(s[2]);
        const nullBody = method === "HEAD" || NULL_BODY_STATUS.includes(status);
        const p = { status, statusText: s[1], headers, url: s[3], redirected: s[4] === "1" };
        if (s.length > 5) {
            const id = Number(s[5]);
            if (nullBody) {
                fetchBodyClose(id);
                p.body = null;
            } else {
                p.readable = fetchBodyStream(id, signal);
            }
        } else {
            p.body = nullBody ? null : new Uint8Array(bytes || new ArrayBuffer(0));
        }
        return fetchMakeResponse(p);
    };
}

const FETCH_BODY = 3; /* JS_OP_FETCH_BODY */

/* Drops body `id` on the host (its transfer stops). */
function fetchBodyClose(id) {
    try {
        opBegin(() => undefined, FETCH_BODY, id, true).promise.catch(() => {});
    } catch (e) { /* the host is shutting down: it drops the body itself */ }
}

/* A fetch response body that arrives while the action reads it: each pull asks the host for
 * the bytes that came since (JS_OP_FETCH_BODY), none meaning the end. Cancelling the stream or
 * aborting the fetch's signal stops the transfer. */
function fetchBodyStream(id, signal) {
    let open = true;
    let controller;
    const finish = () => {
        open = false;
        if (signal) signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
        if (!open) return;
        finish();
        fetchBodyClose(id);
        controller.error(signal.reason);
    };
    return new ReadableStream({
        start(c) {
            controller = c;
            if (signal) signal.addEventListener("abort", onAbort, { once: true });
        },
        pull(c) {
            let op;
            try {
                op = opBegin((ok, s, bytes) => {
                    if (!ok) throw fetchFailed(s[0], s[1]);
                    return bytes === undefined ? null : new Uint8Array(bytes);
                }, FETCH_BODY, id, false);
            } catch (e) {
                finish();
                c.error(e);
                return undefined;
            }
            return op.promise.then((chunk) => {
                if (!open) return;
                if (chunk !== null) {
                    c.enqueue(chunk);
                    return;
                }
                finish();
                c.close();
            }, (e) => {
                if (!open) return;
                finish();
                c.error(e);
            });
        },
        cancel() {
            if (!open) return;
            finish();
            fetchBodyClose(id);
        },
    }, { highWaterMark: 0 });
}

globalThis.fetch = function fetch(input, init = undefined) {
    const actorCall = mode !== ACTION ? actorTimerOwner() : null; /* an actor method's */
    if (mode !== ACTION && actorCall === null)
        throw new Error("Can't use fetch() in queries and mutations. Please consider using an " +
            "action. See https://docs.convex.dev/functions/actions for more details.");
    let req;
    try {
        req = new Request(input, init);
    } catch (e) {
        return Promise.reject(e);
    }
    const signal = req.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    let parts;
    try {
        parts = fetchRequestParts(req);
    } catch (e) {
        return Promise.reject(e);
    }
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(parts.url);
    if (!scheme || !/^https?$/i.test(scheme[1]))
        return Promise.reject(fetchFailed(`unknown scheme: ${scheme ? scheme[1] : "none"}:`,
                                          "ERR_UNSUPPORTED_SCHEME"));
    let op;
    try {
        op = opBegin(fetchResult(parts.method, signal), 1 /* JS_OP_FETCH */, parts.method, parts.url,
                     JSON.stringify(parts.headers), parts.body === null ? undefined : parts.body,
                     FETCH_REDIRECT[parts.redirect], 0);
    } catch (e) {
        /* refused by the host: "CODE|message" */
        const m = /^([A-Z_]+)\|(.*)$/s.exec(String(e && e.message));
        return Promise.reject(m ? fetchFailed(m[2], m[1]) : e);
    }
    if (actorCall !== null) actorCall.fetches.add(op.token);
    const onAbort = () => opCancel(op.token, signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    op.promise.then(done, done);
    return op.promise;
};
