// Server-side preloading (Convex's convex/nextjs preloadQuery, seed 000's signature): runs a query
// once over HTTP (`POST <url>/api/query`, docs/protocol.md "Calling functions"), forwarding the
// caller's headers (e.g. Authorization), and returns a JSON-serializable Preloaded token that
// usePreloadedQuery renders on its first render before the live subscription answers. Uses only
// fetch, so it runs in Node 20+, edge runtimes and browsers.

import { decodeValue, encodeArgs, functionPath as nameOf } from "@vireo/client";

/** The HTTP endpoint of the query API for a server base URL (http(s), or the ws(s) sync URL). */
export function queryUrl(url) {
    let u;
    try {
        u = new URL(String(url));
    } catch {
        throw new TypeError(`invalid Vireo URL: ${url}`);
    }
    if (u.protocol === "ws:") u.protocol = "http:";
    else if (u.protocol === "wss:") u.protocol = "https:";
    else if (u.protocol !== "http:" && u.protocol !== "https:")
        throw new TypeError(`invalid Vireo URL ${url}: expected http(s):// or ws(s)://`);
    u.pathname = u.pathname.replace(/\/+$/, "").replace(/\/api\/sync$/, "") + "/api/query";
    u.search = "";
    u.hash = "";
    return u.toString();
}

/** A failed preloadQuery: the server's errorCode (or "PreloadFailed"), message and errorData. */
export class PreloadError extends Error {
    constructor(message, code, data, status) {
        super(message);
        this.name = "PreloadError";
        this.code = code;
        this.data = data;
        this.status = status;
    }
}

/**
 * Runs query `name` with `args` on the server at `url` and returns a Preloaded token:
 * {_name, _argsJSON, _valueJSON} (Convex's shape; values in Convex's JSON encoding, so BigInt and
 * bytes survive), plus `_version` (the store version it read at). `options.headers` are sent
 * with the request (e.g. `{Authorization: "Bearer <jwt>"}`); `options.fetch` replaces
 * globalThis.fetch. Rejects with a PreloadError carrying the server's errorCode.
 */
export async function preloadQuery(url, name, args, options = {}) {
    const path = nameOf(name);
    const encoded = encodeArgs(args);
    const doFetch = options.fetch ?? globalThis.fetch;
    if (typeof doFetch !== "function")
        throw new TypeError("preloadQuery: no fetch implementation; pass options.fetch");
    const headers = { ...(options.headers ?? {}), "Content-Type": "application/json" };
    const res = await doFetch(queryUrl(url), {
        method: "POST", headers, body: JSON.stringify({ path, args: encoded }),
    });
    const text = await res.text();
    let body;
    try {
        body = JSON.parse(text);
    } catch {
        throw new PreloadError(`preloadQuery ${path}: the server answered HTTP ${res.status} with a ` +
                               `body that is not JSON: ${text.slice(0, 200)}`, "PreloadFailed", undefined,
                               res.status);
    }
    if (body?.status !== "success") {
        throw new PreloadError(body?.errorMessage ?? body?.message ?? `HTTP ${res.status}`,
                               body?.errorCode ?? body?.code ?? "PreloadFailed",
                               body?.errorData === undefined ? undefined : decodeValue(body.errorData),
                               res.status);
    }
    return {
        _name: path,
        _argsJSON: JSON.stringify(encoded),
        _valueJSON: JSON.stringify(body.value === undefined ? null : body.value),
        _version: typeof body.version === "number" ? body.version : null,
    };
}

/** The value in a Preloaded token (Convex's preloadedQueryResult), e.g. for a server component. */
export function preloadedQueryResult(preloaded) {
    return decodeValue(JSON.parse(preloaded._valueJSON));
}

/** The args in a Preloaded token. */
export function preloadedQueryArgs(preloaded) {
    return decodeValue(JSON.parse(preloaded._argsJSON));
}
