/* http: serving the app's HTTP actions (http.ts's default export, an HttpRouter from 55_convex.js).
 * The server matches a request against the routes load() hands to C (httpRoutes) and runs the
 * built-in internal action `_system/http:run` on the action pool with the request as its
 * arguments ({method, url, path, headers: [[name, value]], body: ArrayBuffer | null}); that
 * action builds a web-standard Request (58_fetch_types.js), runs the route's handler with an action's ctx, and
 * returns the handler's Response as {status, headers: [[name, value]], body: ArrayBuffer}
 * (a string for Vireo's own 404), which
 * the server writes out (src/proto/http_action.c). What is not a Response is an error.
 * A Response whose body is a ReadableStream is sent as it is produced (sendStreamed): the head
 * and then each chunk go to the server as stream operations (JS_OP_STREAM) while the action
 * runs, and the record returned only says so. */

const HTTP_RUN_PATH = "_system/http:run";

/* Paths the server answers itself: a route inside them could never be reached. */
const RESERVED_HTTP_PREFIXES = ["/api/", "/_vireo/"];

let loadedRouter = null; /* the http.ts router of the bundle this runtime loaded, or null */

function reservedPrefixOf(path) {
    for (const p of RESERVED_HTTP_PREFIXES)
        if (path.startsWith(p) || path === p.slice(0, -1)) return p;
    return null;
}

/* Checks that no route collides with Vireo's own paths and returns the routes for C as
 * [[method, path, isPrefix]]. Throws (a load error) naming the first route that collides. */
function httpRoutesOf(router, file) {
    const out = [];
    for (const [spec, method] of router.getRoutes()) {
        const prefix = spec.endsWith("*");
        const path = prefix ? spec.slice(0, -1) : spec;
        const reserved = reservedPrefixOf(path);
        if (reserved !== null)
            throw new Error(`${file}: route ${method} ${spec} collides with Vireo's reserved ` +
                `path ${reserved} (served by Vireo itself); move the route elsewhere`);
        out.push([method, path, prefix]);
    }
    return out;
}

function describeResult(r) {
    if (r === null) return "null";
    if (r === undefined) return "undefined";
    if (typeof r !== "object") return `a ${typeof r}`;
    const c = Object.getPrototypeOf(r);
    const name = c && c.constructor && c.constructor.name;
    return name ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}` : "an object";
}

/* The handler of `_system/http:run`. */
async function runHttpAction(ctx, a) {
    const router = loadedRouter;
    const match = router ? router.lookup(a.path, a.method) : null;
    if (!match) {
        /* the routes changed since the server matched this request (a reload) */
        return { status: 404, headers: [["content-type", "text/plain;charset=UTF-8"]],
                 body: `No HttpAction routed for ${a.path}` };
    }
    const [endpoint, method, route] = match;
    currentPath = `${method} ${route}`;
    currentPrefix = "";
    ctx.meta = metaFor(ACTION, currentPath); /* the route is the function ctx.meta names */
    const body = a.body === null || a.method === "GET" || a.method === "HEAD" ? null
        : new Uint8Array(a.body);
    const request = fetchNewRequest(a.url, { method: a.method, headers: a.headers, body });
    if (typeof endpoint.invokeHttpAction !== "function")
        throw new TypeError(`the handler of ${method} ${route} is not an HTTP action: wrap it ` +
            `in httpAction(async (ctx, request) => ...)`);
    const r = await endpoint.invokeHttpAction(request, ctx);
    const parts = fetchResponseParts(r);
    if (parts === null) {
        const e = new Error(`the HTTP action for ${method} ${route} returned ` +
            `${describeResult(r)}, not a Response (return new Response(body, {status, headers}))`);
        e.code = "InvalidResponse";
        throw e;
    }
    if (parts.stream !== null) return sendStreamed(parts, `${method} ${route}`);
    let out = null;
    if (parts.body !== null) {
        const b = parts.body;
        out = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer
            : b.slice().buffer;
    }
    return { status: parts.status, headers: parts.headers, body: out };
}

const JS_OP_STREAM = 2, STREAM_HEAD = 0, STREAM_CHUNK = 1, STREAM_WATCH = 2;

function streamError(message, code) {
    const e = new Error(message);
    e.code = code;
    return e;
}

/* One stream operation; settles once the server has room for more (or fails: the client left,
 * the response is too large). */
function streamOp(kind, data) {
    let op;
    try {
        op = opBegin((ok, s) => {
            if (!ok) throw streamError(s[0], s[1]);
            return s[0];
        }, JS_OP_STREAM, kind, data);
    } catch (e) {
        /* refused by the host: "CODE|message" */
        const m = /^([A-Za-z_]+)\|(.*)$/s.exec(String(e && e.message));
        throw m ? streamError(m[2], m[1]) : e;
    }
    return op.promise;
}

/* Sends a Response whose body is a ReadableStream: the head at once, then each chunk as the
 * stream yields it, each awaited until the server can take more (backpressure). When the client
 * leaves, the stream is cancelled (its source's cancel(reason) runs) and the action ends
 * normally. A stream that errors, or a chunk that is not bytes, fails the action: the server
 * then closes the connection without the last chunk. */
async function sendStreamed(parts, what) {
    const reader = parts.stream.getReader();
    let gone = null;
    const leave = (reason) => {
        if (gone !== null) return;
        gone = reason;
        reader.cancel(new Error(reason)).then(undefined, () => {});
    };
    await streamOp(STREAM_HEAD, JSON.stringify({ status: parts.status, headers: parts.headers }));
    const watch = opBegin((ok, s) => s[0], JS_OP_STREAM, STREAM_WATCH, undefined);
    watch.promise.then(leave, () => {});
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done || gone !== null) break;
            const u8 = value instanceof Uint8Array ? value
                : ArrayBuffer.isView(value) || value instanceof ArrayBuffer
                    ? bufferSourceBytes(value) : null;
            if (u8 === null) {
                const e = new TypeError(`the response body stream of ${what} gave ` +
                    `${describeResult(value)}, not bytes: enqueue Uint8Array chunks (a string: ` +
                    `new TextEncoder().encode(text), or pipe through a TextEncoderStream)`);
                reader.cancel(e).then(undefined, () => {});
                throw e;
            }
            if (u8.byteLength !== 0) await streamOp(STREAM_CHUNK, u8);
        }
    } catch (e) {
        if (gone !== null || (e && e.code === "ClientDisconnected")) {
            leave(gone !== null ? gone : e.message);
            return { status: parts.status, headers: [], body: null, streamed: true };
        }
        if (e && e.code === "ResponseTooLarge") reader.cancel(e).then(undefined, () => {});
        throw e;
    } finally {
        opCancel(watch.token, undefined);
    }
    return { status: parts.status, headers: [], body: null, streamed: true };
}

/* Registered by load() as an internal action when the app has an http.ts router. */
const HTTP_SYSTEM_ACTION = { path: HTTP_RUN_PATH, handler: runHttpAction };
