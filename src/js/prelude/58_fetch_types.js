/* Fetch types: Headers, Request, Response (the Fetch Standard's classes as Node's undici and
 * workerd give them, bodies held in memory, except a Response's made from a ReadableStream
 * (57_streams.js), which is read as it is consumed), and AbortController/AbortSignal. They
 * need no network and exist in every runtime; `fetch` itself (59_fetch.js) is for actions.
 * Bodies are read once: a second read throws TypeError "Body is unusable: Body has already been
 * read" as undici does. Error texts are undici's (Node 20).
 *
 * For other prelude files (fetch, HTTP actions): `fetchRequestParts(req)` gives
 * {method, url, headers: [[name, value]...], body: Uint8Array|null, redirect, signal} and marks
 * the body used; `fetchMakeResponse({status, statusText, headers, body, readable, url,
 * redirected})` builds a Response with immutable headers (as fetch returns it; its body bytes,
 * or a ReadableStream that brings them); `fetchResponseParts(res)`
 * gives {status, statusText, headers, body, stream} (body: Uint8Array|null, marked used; or
 * stream: the ReadableStream of a Response made from one, body null);
 * `fetchNewRequest(url, {method, headers, body})` builds a Request from an incoming HTTP request
 * (body Uint8Array|null). */

/* ---- AbortSignal / AbortController ---- */

const abortState = new WeakMap(); /* AbortSignal -> {aborted, reason, listeners: [], onabort} */
let abortConstructing = false;

class AbortSignal {
    constructor() {
        if (!abortConstructing) throw new TypeError("Illegal constructor");
        abortState.set(this, { aborted: false, reason: undefined, listeners: [], onabort: null });
    }

    get aborted() { return abortState.get(this).aborted; }
    get reason() { return abortState.get(this).reason; }
    get onabort() { return abortState.get(this).onabort; }
    set onabort(fn) {
        /* an event handler keeps the place among the listeners where it was first set */
        const s = abortState.get(this);
        s.onabort = typeof fn === "function" ? fn : null;
        const i = s.listeners.findIndex((l) => l.handler);
        if (s.onabort === null && i >= 0) s.listeners.splice(i, 1);
        else if (s.onabort !== null && i < 0) s.listeners.push({ handler: true, once: false });
    }

    throwIfAborted() {
        const s = abortState.get(this);
        if (s.aborted) throw s.reason;
    }

    addEventListener(type, listener, options) {
        if (String(type) !== "abort" || typeof listener !== "function" &&
            !(listener && typeof listener.handleEvent === "function")) return;
        const s = abortState.get(this);
        if (s.listeners.some((l) => l.fn === listener)) return;
        s.listeners.push({ fn: listener, once: !!(options && typeof options === "object" &&
                                                   options.once) });
    }

    removeEventListener(type, listener) {
        if (String(type) !== "abort") return;
        const s = abortState.get(this);
        s.listeners = s.listeners.filter((l) => l.fn !== listener);
    }

    static abort(reason) {
        const sig = newSignal();
        signalAbort(sig, reason);
        return sig;
    }

    static timeout(ms) {
        const n = Number(ms);
        if (!(n >= 0) || !Number.isFinite(n))
            throw new TypeError(`AbortSignal.timeout: Argument 1 is not a finite, non-negative ` +
                `number.`);
        const sig = newSignal();
        /* setTimeout exists in actions only; elsewhere the signal never fires */
        if (mode === ACTION) {
            setTimeout(() => signalAbort(sig, domError("TimeoutError",
                "The operation was aborted due to timeout")), n);
        }
        return sig;
    }

    static any(signals) {
        const sig = newSignal();
        for (const s of signals) {
            if (!(s instanceof AbortSignal)) throw new TypeError("AbortSignal.any: Argument 1 " +
                "must contain AbortSignal objects.");
            if (s.aborted) {
                signalAbort(sig, s.reason);
                return sig;
            }
        }
        for (const s of signals)
            s.addEventListener("abort", () => signalAbort(sig, s.reason), { once: true });
        return sig;
    }
}
Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: "AbortSignal" });

function newSignal() {
    abortConstructing = true;
    try {
        return new AbortSignal();
    } finally {
        abortConstructing = false;
    }
}

function signalAbort(sig, reason) {
    const s = abortState.get(sig);
    if (s.aborted) return;
    s.aborted = true;
    s.reason = reason === undefined ? domError("AbortError", "This operation was aborted")
                                    : reason;
    const event = { type: "abort", target: sig, currentTarget: sig };
    const call = (fn) => {
        try {
            if (typeof fn === "function") fn.call(sig, event);
            else fn.handleEvent(event);
        } catch (e) {
            try { console.error("Uncaught exception in abort listener:", e); } catch (x) { /* */ }
        }
    };
    const ls = s.listeners;
    s.listeners = ls.filter((l) => !l.once);
    for (const l of ls) {
        if (!l.handler) call(l.fn);
        else if (s.onabort) call(s.onabort);
    }
}

class AbortController {
    #signal = newSignal();
    get signal() { return this.#signal; }
    abort(reason) { signalAbort(this.#signal, reason); }
}
Object.defineProperty(AbortController.prototype, Symbol.toStringTag,
                      { value: "AbortController" });

globalThis.AbortSignal = AbortSignal;
globalThis.AbortController = AbortController;

/* ---- Headers ---- */

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const trimHttp = (s) => s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");

function headerName(name, where) {
    const n = String(name);
    if (!TOKEN_RE.test(n)) throw new TypeError(`Headers.${where}: "${n}" is an invalid header ` +
        `name.`);
    return n.toLowerCase();
}

function headerValue(value, where) {
    const v = trimHttp(String(value));
    for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c === 0 || c === 10 || c === 13 || c > 0xff)
            throw new TypeError(`Headers.${where}: "${v}" is an invalid header value.`);
    }
    return v;
}

const headerList = new WeakMap(); /* Headers -> {list: [[lowercase name, value]], guard} */

class Headers {
    constructor(init = undefined) {
        headerList.set(this, { list: [], guard: "none" });
        if (init === undefined || init === null) {
            if (init === null) throw new TypeError("Headers constructor: Argument 1 could not " +
                "be converted to: record<ByteString, ByteString> or " +
                "sequence<sequence<ByteString>>.");
            return;
        }
        headersFill(this, init);
    }

    append(name, value) {
        const h = headerList.get(this);
        const n = headerName(name, "append"), v = headerValue(value, "append");
        if (h.guard === "immutable") throw new TypeError("immutable");
        h.list.push([n, v]);
    }

    delete(name) {
        const h = headerList.get(this);
        const n = headerName(name, "delete");
        if (h.guard === "immutable") throw new TypeError("immutable");
        h.list = h.list.filter((e) => e[0] !== n);
    }

    get(name) {
        const n = headerName(name, "get");
        const vs = headerList.get(this).list.filter((e) => e[0] === n).map((e) => e[1]);
        return vs.length === 0 ? null : vs.join(", ");
    }

    getSetCookie() {
        return headerList.get(this).list.filter((e) => e[0] === "set-cookie").map((e) => e[1]);
    }

    has(name) {
        const n = headerName(name, "has");
        return headerList.get(this).list.some((e) => e[0] === n);
    }

    set(name, value) {
        const h = headerList.get(this);
        const n = headerName(name, "set"), v = headerValue(value, "set");
        if (h.guard === "immutable") throw new TypeError("immutable");
        const i = h.list.findIndex((e) => e[0] === n);
        if (i < 0) {
            h.list.push([n, v]);
            return;
        }
        h.list[i] = [n, v];
        h.list = h.list.filter((e, j) => j <= i || e[0] !== n);
    }

    forEach(callback, thisArg) {
        if (typeof callback !== "function")
            throw new TypeError("Headers.forEach: Argument 1 is not callable.");
        for (const [k, v] of headersSorted(this)) callback.call(thisArg, v, k, this);
    }

    *entries() { yield* headersSorted(this); }
    *keys() { for (const [k] of headersSorted(this)) yield k; }
    *values() { for (const [, v] of headersSorted(this)) yield v; }
    [Symbol.iterator]() { return this.entries(); }
}
Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: "Headers" });
globalThis.Headers = Headers;

function headersFill(h, init) {
    if (typeof init !== "object" && typeof init !== "function")
        throw new TypeError("Headers constructor: Argument 1 could not be converted to: " +
            "record<ByteString, ByteString> or sequence<sequence<ByteString>>.");
    if (init instanceof Headers) {
        for (const [k, v] of headerList.get(init).list) h.append(k, v);
        return;
    }
    if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
            const p = typeof pair === "string" || pair === null || typeof pair !== "object"
                ? null : Array.from(pair);
            if (p === null) throw new TypeError("Headers constructor: expected name/value pair " +
                "to be length 2, found 0.");
            if (p.length !== 2) throw new TypeError(`Headers constructor: expected name/value ` +
                `pair to be length 2, found ${p.length}.`);
            h.append(p[0], p[1]);
        }
        return;
    }
    for (const k of Object.keys(init)) h.append(k, init[k]);
}

/* Sorted by name, same names combined with ", " except set-cookie (Fetch's "sort and combine"). */
function headersSorted(h) {
    const list = headerList.get(h).list;
    const names = [...new Set(list.map((e) => e[0]))].sort();
    const out = [];
    for (const n of names) {
        const vs = list.filter((e) => e[0] === n).map((e) => e[1]);
        if (n === "set-cookie") for (const v of vs) out.push([n, v]);
        else out.push([n, vs.join(", ")]);
    }
    return out;
}

function headersGuarded(init, guard) {
    const h = new Headers(init);
    headerList.get(h).guard = guard;
    return h;
}

/* ---- bodies ---- */

/* Any body init -> {bytes: Uint8Array|null, type: string|null, readable} (Fetch's "extract a
 * body"); a ReadableStream only where `streams` (a Response's body). */
function extractBody(body, streams = false) {
    if (body === undefined || body === null) return { bytes: null, type: null };
    if (streams && body instanceof ReadableStream) {
        if (body.locked || streamDisturbed(body))
            throw new TypeError("Response body object should not be disturbed or locked");
        return { bytes: null, type: null, readable: body };
    }
    if (typeof body === "string")
        return { bytes: utf8Encode(toUSVString(body)), type: "text/plain;charset=UTF-8" };
    if (body instanceof URLSearchParams)
        return { bytes: utf8Encode(body.toString()),
                 type: "application/x-www-form-urlencoded;charset=UTF-8" };
    if (body instanceof FormData) {
        const m = multipartEncode(body);
        return { bytes: m.body, type: m.contentType };
    }
    if (body instanceof Blob)
        return { bytes: blobBytes.get(body), type: body.type === "" ? null : body.type };
    const u8 = bufferSourceBytes(body);
    if (u8 !== null) return { bytes: copyBytes(u8), type: null };
    if (typeof body === "object" && typeof body.getReader === "function")
        throw new TypeError("ReadableStream request bodies are not supported; pass a string, " +
            "ArrayBuffer, typed array, Blob, FormData or URLSearchParams");
    return { bytes: utf8Encode(toUSVString(body)), type: "text/plain;charset=UTF-8" };
}

/* Request|Response -> {bytes: Uint8Array|null, used, readable: ReadableStream|null, fromBytes}:
 * a body is bytes, or a stream (a Response made from one); `readable` is also made from the
 * bytes when `body` is first asked for (fromBytes), and from then on reading it uses the body. */
const bodyState = new WeakMap();

function bodyUnusable(s) {
    return s.used || (s.readable !== null && s.readable !== undefined &&
                      (streamDisturbed(s.readable) || s.readable.locked));
}

/* The body's bytes, all of them (read from its stream if it has one); marks it used. */
async function consumeBody(self) {
    const s = bodyState.get(self);
    if (s === undefined) throw new TypeError("Illegal invocation");
    if (bodyUnusable(s)) throw new TypeError("Body is unusable: Body has already been read");
    s.used = true;
    if (!s.readable) return s.bytes === null ? new Uint8Array(0) : s.bytes;
    const parts = [];
    let total = 0;
    const reader = s.readable.getReader();
    for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const u8 = value instanceof Uint8Array ? value : null;
        if (u8 === null) throw new TypeError("Received non-Uint8Array chunk");
        parts.push(u8);
        total += u8.byteLength;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
        out.set(p, off);
        off += p.byteLength;
    }
    return out;
}

function bodyMimeType(self) {
    const ct = self.headers.get("content-type");
    return ct === null ? "" : ct;
}

/* `body`: the body's ReadableStream (of a body held in memory: one chunk, made on first use). */
function bodyStream(self) {
    const s = bodyState.get(self);
    if (s === undefined) throw new TypeError("Illegal invocation");
    if (s.readable) return s.readable;
    if (s.bytes === null) return null;
    const bytes = s.bytes;
    s.readable = new ReadableStream({
        pull(controller) {
            controller.enqueue(copyBytes(bytes));
            controller.close();
        },
    }, { highWaterMark: 0 });
    s.fromBytes = true;
    if (s.used) s.readable.cancel(); /* a read body's stream is disturbed (and empty) */
    return s.readable;
}

/* A new state for a copy of this body (clone): a stream is teed, bytes are shared. */
function cloneBodyState(s) {
    if (s.readable && !s.fromBytes) {
        const [a, b] = s.readable.tee();
        s.readable = a;
        return { bytes: null, used: false, readable: b, fromBytes: false };
    }
    return { bytes: s.bytes, used: false, readable: null, fromBytes: false };
}

const bodyMethods = {
    get body() { return bodyStream(this); },
    get bodyUsed() {
        const s = bodyState.get(this);
        return s !== undefined && (s.used || (!!s.readable && streamDisturbed(s.readable)));
    },
    async text() { return new TextDecoder().decode(await consumeBody(this)); },
    async json() { return JSON.parse(new TextDecoder().decode(await consumeBody(this))); },
    async arrayBuffer() { return copyBytes(await consumeBody(this)).buffer; },
    async bytes() { return copyBytes(await consumeBody(this)); },
    async blob() {
        const u8 = await consumeBody(this);
        return blobFrom(new Blob([]), u8, normalizeType(bodyMimeType(this)));
    },
    async formData() {
        const ct = bodyMimeType(this);
        const essence = ct.split(";")[0].trim().toLowerCase();
        if (essence === "multipart/form-data") return multipartParse(await consumeBody(this), ct);
        if (essence === "application/x-www-form-urlencoded") {
            const fd = new FormData();
            const text = new TextDecoder().decode(await consumeBody(this));
            for (const [k, v] of new URLSearchParams(text)) fd.append(k, v);
            return fd;
        }
        await consumeBody(this);
        throw new TypeError('Content-Type was not one of "multipart/form-data" or ' +
            '"application/x-www-form-urlencoded".');
    },
};

function mixBody(proto) {
    for (const k of Object.getOwnPropertyNames(bodyMethods)) {
        const d = Object.getOwnPropertyDescriptor(bodyMethods, k);
        d.enumerable = false;
        Object.defineProperty(proto, k, d);
    }
}

/* ---- Request ---- */

const METHODS_NORMALIZED = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
const REDIRECT_MODES = ["follow", "error", "manual"];

function parseUrl(input, what) {
    try {
        return new URL(String(input)).href;
    } catch (e) {
        const err = new TypeError(`Failed to parse URL from ${String(input)}`);
        err.cause = e;
        throw err;
    }
}

const requestState = new WeakMap(); /* Request -> {method, url, headers, redirect, signal, ...} */

class Request {
    constructor(input, init = undefined) {
        if (arguments.length < 1) throw new TypeError("Request constructor: 1 argument " +
            "required, but only 0 present.");
        if (init !== undefined && init !== null && typeof init !== "object")
            throw new TypeError("Request constructor: Expected init to be a dictionary.");
        init = init || {};
        let base = null;
        let url;
        if (input instanceof Request) {
            base = requestState.get(input);
            url = base.url;
        } else {
            url = parseUrl(input);
        }
        let method = base ? base.method : "GET";
        if (init.method !== undefined) {
            const m = String(init.method);
            if (!TOKEN_RE.test(m)) throw new TypeError(`'${m}' is not a valid HTTP method.`);
            const up = m.toUpperCase();
            if (up === "CONNECT" || up === "TRACE" || up === "TRACK")
                throw new TypeError(`'${m}' HTTP method is unsupported.`);
            method = METHODS_NORMALIZED.includes(up) ? up : m;
        }
        let redirect = base ? base.redirect : "follow";
        if (init.redirect !== undefined) {
            redirect = String(init.redirect);
            if (!REDIRECT_MODES.includes(redirect))
                throw new TypeError(`Request constructor: ${redirect} is not an accepted type. ` +
                    `Expected one of follow, error, manual.`);
        }
        let signal = base ? base.signal : null;
        if (init.signal !== undefined && init.signal !== null) {
            if (!(init.signal instanceof AbortSignal))
                throw new TypeError("Request constructor: Expected signal (\"" +
                    String(init.signal) + "\") to be an instance of AbortSignal.");
            signal = init.signal;
        }
        const headers = headersGuarded(init.headers !== undefined ? init.headers
            : base ? base.headers : undefined, "request");
        let bytes = null;
        if (init.body !== undefined && init.body !== null) {
            if (method === "GET" || method === "HEAD")
                throw new TypeError("Request with GET/HEAD method cannot have body.");
            const b = extractBody(init.body);
            bytes = b.bytes;
            if (b.type !== null && !headers.has("content-type")) headers.append("content-type",
                                                                                 b.type);
        } else if (input instanceof Request) {
            const ib = bodyState.get(input);
            if (ib.bytes !== null) {
                if (bodyUnusable(ib)) throw new TypeError("Cannot construct a Request with a Request " +
                    "object that has already been used.");
                bytes = ib.bytes;
                ib.used = true;
            }
        }
        requestState.set(this, {
            method, url, headers, redirect, signal: signal || newSignal(),
            credentials: init.credentials !== undefined ? String(init.credentials)
                : base ? base.credentials : "same-origin",
            mode: init.mode !== undefined ? String(init.mode) : base ? base.mode : "cors",
            cache: init.cache !== undefined ? String(init.cache) : base ? base.cache : "default",
            referrer: base ? base.referrer : "about:client",
            referrerPolicy: init.referrerPolicy !== undefined ? String(init.referrerPolicy)
                : base ? base.referrerPolicy : "",
            integrity: init.integrity !== undefined ? String(init.integrity)
                : base ? base.integrity : "",
            keepalive: init.keepalive !== undefined ? !!init.keepalive
                : base ? base.keepalive : false,
        });
        bodyState.set(this, { bytes, used: false, readable: null, fromBytes: false });
    }

    get method() { return requestState.get(this).method; }
    get url() { return requestState.get(this).url; }
    get headers() { return requestState.get(this).headers; }
    get redirect() { return requestState.get(this).redirect; }
    get signal() { return requestState.get(this).signal; }
    get credentials() { return requestState.get(this).credentials; }
    get mode() { return requestState.get(this).mode; }
    get cache() { return requestState.get(this).cache; }
    get referrer() { return requestState.get(this).referrer; }
    get referrerPolicy() { return requestState.get(this).referrerPolicy; }
    get integrity() { return requestState.get(this).integrity; }
    get keepalive() { return requestState.get(this).keepalive; }
    get destination() { return ""; }
    get duplex() { return "half"; }

    clone() {
        const s = bodyState.get(this);
        if (bodyUnusable(s)) throw new TypeError("unusable"); /* undici's text */
        return new Request(this.url, this.#cloneInit());
    }

    #cloneInit() {
        const r = requestState.get(this);
        const s = bodyState.get(this);
        return { method: r.method, headers: r.headers, redirect: r.redirect, signal: r.signal,
                 body: s.bytes, credentials: r.credentials, mode: r.mode, cache: r.cache,
                 referrerPolicy: r.referrerPolicy, integrity: r.integrity,
                 keepalive: r.keepalive };
    }
}
mixBody(Request.prototype);
Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: "Request" });
globalThis.Request = Request;

/* ---- Response ---- */

const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
const REDIRECT_STATUS = [301, 302, 303, 307, 308];
const responseState = new WeakMap(); /* Response -> {type, status, statusText, headers, url, ...} */

function checkStatusText(t) {
    const s = String(t);
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(s)) throw new TypeError("Invalid statusText");
    return s;
}

class Response {
    constructor(body = null, init = undefined) {
        if (init !== undefined && init !== null && typeof init !== "object")
            throw new TypeError("Response constructor: Expected init to be a dictionary.");
        init = init || {};
        const status = init.status !== undefined ? Number(init.status) : 200;
        if (!Number.isInteger(status) || status < 200 || status > 599)
            throw new RangeError('init["status"] must be in the range of 200 to 599, inclusive.');
        const statusText = init.statusText !== undefined ? checkStatusText(init.statusText) : "";
        const headers = headersGuarded(init.headers, "response");
        let bytes = null, readable = null;
        if (body !== null && body !== undefined) {
            if (NULL_BODY_STATUS.includes(status))
                throw new TypeError(`Response constructor: Invalid response status code ${status}`);
            const b = extractBody(body, true);
            bytes = b.bytes;
            readable = b.readable || null;
            if (b.type !== null && !headers.has("content-type")) headers.append("content-type",
                                                                                 b.type);
        }
        responseState.set(this, { type: "default", status, statusText, headers, urls: [],
                                  redirected: false });
        bodyState.set(this, { bytes, used: false, readable, fromBytes: false });
    }

    get type() { return responseState.get(this).type; }
    get url() {
        const u = responseState.get(this).urls;
        return u.length === 0 ? "" : u[u.length - 1];
    }
    get redirected() { return responseState.get(this).redirected; }
    get status() { return responseState.get(this).status; }
    get ok() {
        const s = responseState.get(this).status;
        return s >= 200 && s <= 299;
    }
    get statusText() { return responseState.get(this).statusText; }
    get headers() { return responseState.get(this).headers; }

    clone() {
        const s = bodyState.get(this);
        if (bodyUnusable(s)) throw new TypeError("Response.clone: Body has already been consumed.");
        const r = responseState.get(this);
        const c = Object.create(Response.prototype);
        responseState.set(c, Object.assign({}, r, {
            headers: headersGuarded(r.headers, headerList.get(r.headers).guard),
            urls: r.urls.slice(),
        }));
        bodyState.set(c, cloneBodyState(s));
        return c;
    }

    static error() {
        const r = new Response(null, { status: 200 });
        const st = responseState.get(r);
        st.type = "error";
        st.status = 0;
        headerList.get(st.headers).guard = "immutable";
        return r;
    }

    static json(data, init = undefined) {
        const text = JSON.stringify(data);
        if (text === undefined) throw new TypeError("Value is not JSON serializable");
        const headers = new Headers(init && init.headers);
        if (!headers.has("content-type")) headers.set("content-type", "application/json");
        return new Response(text, Object.assign({}, init, { headers }));
    }

    static redirect(url, status = 302) {
        const href = parseUrl(url);
        const s = Number(status);
        if (!REDIRECT_STATUS.includes(s)) throw new RangeError(`Invalid status code ${status}`);
        const r = new Response(null, { status: s, headers: { location: href } });
        headerList.get(responseState.get(r).headers).guard = "immutable";
        return r;
    }
}
mixBody(Response.prototype);
Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: "Response" });
globalThis.Response = Response;

/* ---- for fetch and HTTP actions ---- */

function fetchRequestParts(req) {
    const r = requestState.get(req);
    const s = bodyState.get(req);
    if (s.bytes !== null && bodyUnusable(s)) throw new TypeError("Body is unusable: Body has " +
        "already been read");
    s.used = s.bytes !== null;
    return { method: r.method, url: r.url, headers: headerList.get(r.headers).list.slice(),
             body: s.bytes, redirect: r.redirect, signal: r.signal };
}

function fetchMakeResponse(p) {
    const r = Object.create(Response.prototype);
    const headers = new Headers(p.headers || []);
    headerList.get(headers).guard = "immutable";
    responseState.set(r, { type: p.type || "basic", status: p.status,
                           statusText: p.statusText || "", headers,
                           urls: p.url ? [p.url] : [], redirected: !!p.redirected });
    bodyState.set(r, { bytes: p.body === undefined ? null : p.body, used: false,
                       readable: p.readable || null, fromBytes: false });
    return r;
}

function fetchResponseParts(res) {
    if (!(res instanceof Response)) return null;
    const r = responseState.get(res);
    const s = bodyState.get(res);
    if ((s.bytes !== null || s.readable) && bodyUnusable(s))
        throw new TypeError("Body is unusable: Body has already been read");
    const headers = headerList.get(r.headers).list.slice();
    if (s.readable && !s.fromBytes)
        return { status: r.status, statusText: r.statusText, headers, body: null,
                 stream: s.readable };
    s.used = s.bytes !== null;
    return { status: r.status, statusText: r.statusText, headers, body: s.bytes, stream: null };
}

function fetchNewRequest(url, p) {
    const req = new Request(url, { method: p.method, headers: p.headers || [] });
    bodyState.get(req).bytes = p.body === undefined ? null : p.body;
    return req;
}
