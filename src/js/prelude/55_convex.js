/* convex: every runtime export of the `convex` package's `convex/values`, `convex/server` and
 * `convex/browser` (the version pinned in package.json), as globalThis.__vireo.convex.*; the
 * bundle's shims (src/cli/shims.c) re-export them, so that Convex apps load unchanged even with
 * the real package installed. What belongs to a feature Vireo does not have yet is a real object
 * that records what it is given (cronJobs, httpRouter) or a stub that throws "... is not
 * supported by Vireo" when called, never when imported. */

const notSupported = (what, issue) =>
    new Error(`${what} is not supported by Vireo${issue ? ` yet (issue ${issue})` : ""}`);

/* Convex's ConvexError: a VireoError (same data and wire behaviour) named ConvexError, with the
 * identifying field the Convex client checks. */
class ConvexError extends VireoError {
    constructor(data) {
        super(data);
        this.name = "ConvexError";
    }
}
Object.defineProperty(ConvexError.prototype, Symbol.for("ConvexError"), { value: true });

/* ---- convex/values ---- */

/* Convex's convexToJson: the wire form, object keys sorted as Convex sorts them. */
function sortKeys(x) {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x === null || typeof x !== "object") return x;
    const out = {};
    for (const k of Object.keys(x).sort()) out[k] = sortKeys(x[k]);
    return out;
}

function convexToJson(value) {
    if (value === undefined) throw new Error("undefined is not a valid Convex value");
    return sortKeys(toWire(value, 0, "convexToJson()"));
}

function jsonToConvex(value) {
    return JSON.parse(JSON.stringify(value), revive);
}

function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) n += 1;
        else if (c < 0x800) n += 2;
        else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
        else n += 3;
    }
    return n;
}

/* Convex's size estimate of a value, in bytes. */
function getConvexSize(x) {
    if (x === undefined) return 0;
    if (x === null || typeof x === "boolean") return 1;
    if (typeof x === "bigint" || typeof x === "number") return 9;
    if (typeof x === "string") return 2 + utf8Length(x);
    if (x instanceof ArrayBuffer) return 2 + x.byteLength;
    if (Array.isArray(x)) return x.reduce((n, e) => n + getConvexSize(e), 2);
    if (typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
        let n = 2;
        for (const k of Object.keys(x))
            if (x[k] !== undefined) n += utf8Length(k) + 1 + getConvexSize(x[k]);
        return n;
    }
    throw new Error(`Unsupported value type: ${typeof x}`);
}

function getDocumentSize(doc, options) {
    let n = getConvexSize(doc);
    if (doc._id === undefined)
        n += options && options.customIdLength ? options.customIdLength + 6 : 38;
    if (doc._creationTime === undefined) n += 23;
    return n;
}

const Base64 = Object.freeze({
    byteLength: (b64) => base64Decode(b64).byteLength,
    toByteArray: (b64) => new Uint8Array(base64Decode(b64)),
    fromByteArray: (bytes) => base64Encode(bytes),
    fromByteArrayUrlSafeNoPadding: (bytes) =>
        base64Encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
});

/* ---- references ---- */

function makeFunctionReference(name) {
    return { [FUNCTION_NAME]: name };
}

function getFunctionAddress(ref) {
    if (typeof ref === "string" && ref.startsWith("function://"))
        return { functionHandle: ref };
    if (ref !== null && typeof ref === "object" && typeof ref[TO_REFERENCE_PATH] === "string")
        return { reference: ref[TO_REFERENCE_PATH] };
    return { name: getFunctionName(ref) };
}

/* createFunctionHandle(ref) -> "function://<path>": a string (to store, to pass to another
 * function) that names the function wherever a reference goes on the server (functionPath).
 * Refused for a function the app does not have, as Convex refuses it. */
async function createFunctionHandle(ref) {
    const path = componentFunctionPath(currentPrefix, ref); /* the running component's */
    if (!appFunctionPaths.has(path))
        throw new Error(`createFunctionHandle(): the app has no function \`${path}\``);
    return HANDLE_PREFIX + path;
}


/* ---- cron jobs (scheduled by the shard: src/proto/crons.c) ---- */

const DAYS_OF_WEEK = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
                      "saturday"];

function checkInt(n, min, max, what) {
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max))
        throw new Error(max === undefined ? `${what} must be an integer greater than 0`
                                          : `${what} must be an integer from ${min} to ${max}`);
    return n;
}

const optMinute = (m) =>
    (m === undefined ? undefined : checkInt(m, 0, 59, "Minute of hour"));

function isReference(x) {
    try {
        getFunctionName(x);
        return true;
    } catch (e) {
        return false;
    }
}

/* Convex's Crons: records each job as {name, args: [jsonArgs], schedule} in `crons`. */
class Crons {
    constructor() {
        this.crons = {};
        this.isCrons = true;
    }

    schedule(id, schedule, ref, args) {
        if (typeof id !== "string" || !/^[ -~]*$/.test(id))
            throw new Error(`Invalid cron identifier ${id}: use ASCII letters that are not ` +
                `control characters`);
        if (id in this.crons) throw new Error(`Cron identifier registered twice: ${id}`);
        const a = args === undefined ? {} : args;
        if (a === null || typeof a !== "object" || Array.isArray(a))
            throw new Error(`cron job \`${id}\`: arguments must be an object`);
        this.crons[id] = { name: getFunctionName(ref), args: [convexToJson(a)], schedule };
    }

    interval(id, s, ref, args) {
        const given = ["seconds", "minutes", "hours"].filter((k) => s && s[k] !== undefined);
        if (given.length !== 1) throw new Error("Must specify one of seconds, minutes, or hours");
        checkInt(s[given[0]], 1, undefined, "Interval");
        this.schedule(id, Object.assign({}, s, { type: "interval" }), ref, args);
    }

    hourly(id, s, ref, args) {
        if (isReference(s)) {
            this.schedule(id, { type: "hourly" }, s, ref);
            return;
        }
        const minuteUTC = optMinute(s.minuteUTC);
        this.schedule(id, minuteUTC === undefined ? { type: "hourly" }
                                                  : { minuteUTC, type: "hourly" }, ref, args);
    }

    daily(id, s, ref, args) {
        const hourUTC = checkInt(s.hourUTC, 0, 23, "Hour of day");
        const minuteUTC = optMinute(s.minuteUTC);
        this.schedule(id, minuteUTC === undefined ? { hourUTC, type: "daily" }
                                                  : { hourUTC, minuteUTC, type: "daily" },
                      ref, args);
    }

    weekly(id, s, ref, args) {
        if (!DAYS_OF_WEEK.includes(s.dayOfWeek))
            throw new Error("Day of week must be a string like \"monday\".");
        const hourUTC = checkInt(s.hourUTC, 0, 23, "Hour of day");
        const minuteUTC = optMinute(s.minuteUTC);
        const sch = { dayOfWeek: s.dayOfWeek, hourUTC, type: "weekly" };
        if (minuteUTC !== undefined) sch.minuteUTC = minuteUTC;
        this.schedule(id, sch, ref, args);
    }

    monthly(id, s, ref, args) {
        const day = checkInt(s.day, 1, 31, "Day of month");
        const hourUTC = checkInt(s.hourUTC, 0, 23, "Hour of day");
        const minuteUTC = optMinute(s.minuteUTC);
        const sch = { day, hourUTC, type: "monthly" };
        if (minuteUTC !== undefined) sch.minuteUTC = minuteUTC;
        this.schedule(id, sch, ref, args);
    }

    cron(id, cron, ref, args) {
        if (typeof cron !== "string") throw new Error("cron(): expected a cron expression");
        this.schedule(id, { cron, type: "cron" }, ref, args);
    }

    export() {
        return JSON.stringify(this.crons);
    }
}

/* ---- HTTP router and actions (served by 56_http.js and src/proto/http_action.c) ---- */

const ROUTABLE_HTTP_METHODS = Object.freeze(["GET", "POST", "PUT", "DELETE", "OPTIONS",
                                             "PATCH"]);

function httpActionGeneric(handler) {
    if (typeof handler !== "function")
        throw new TypeError("httpAction(): expected a handler function");
    const fn = function () {
        throw new Error("an HTTP action cannot be called directly");
    };
    fn.isHttp = true;
    fn.isRegistered = true;
    /* ctx: the system action's (with the request's identity) */
    fn.invokeHttpAction = async (request, ctx) => handler(ctx || makeCtx(ACTION, null), request);
    fn._handler = handler;
    return fn;
}

/* Convex's HttpRouter: checks and records routes exactly as Convex does. */
class HttpRouter {
    constructor() {
        this.exactRoutes = new Map();
        this.prefixRoutes = new Map();
        this.isRouter = true;
        this.route = (spec) => this.addRoute(spec);
        this.getRoutes = () => this.routes();
        this.lookup = (path, method) => this.find(path, method);
        this.runRequest = async () => {
            throw new Error("HttpRouter.runRequest() is Convex's internal entry point; Vireo " +
                "serves the routes itself");
        };
    }

    addRoute(spec) {
        if (!spec.handler) throw new Error("route requires handler");
        if (!spec.method) throw new Error("route requires method");
        const { method, handler } = spec;
        if (!ROUTABLE_HTTP_METHODS.includes(method))
            throw new Error(`'${method}' is not an allowed HTTP method (like GET, POST, PUT etc.)`);
        if ("path" in spec) {
            if ("pathPrefix" in spec)
                throw new Error("Invalid httpRouter route: cannot contain both 'path' and " +
                    "'pathPrefix'");
            if (!spec.path.startsWith("/"))
                throw new Error(`path '${spec.path}' does not start with a /`);
            if (spec.path.startsWith("/.files/") || spec.path === "/.files")
                throw new Error(`path '${spec.path}' is reserved`);
            const methods = this.exactRoutes.get(spec.path) || new Map();
            if (methods.has(method))
                throw new Error(`Path '${spec.path}' for method ${method} already in use`);
            methods.set(method, handler);
            this.exactRoutes.set(spec.path, methods);
        } else if ("pathPrefix" in spec) {
            const p = spec.pathPrefix;
            if (!p.startsWith("/")) throw new Error(`pathPrefix '${p}' does not start with a /`);
            if (!p.endsWith("/")) throw new Error(`pathPrefix ${p} must end with a /`);
            if (p.startsWith("/.files/")) throw new Error(`pathPrefix '${p}' is reserved`);
            const prefixes = this.prefixRoutes.get(method) || new Map();
            if (prefixes.has(p))
                throw new Error(`${method} pathPrefix ${p} is already defined`);
            prefixes.set(p, handler);
            this.prefixRoutes.set(method, prefixes);
        } else {
            throw new Error("Invalid httpRouter route entry: must contain either field 'path' " +
                "or 'pathPrefix'");
        }
    }

    routes() {
        const out = [];
        for (const path of [...this.exactRoutes.keys()].sort()) {
            const methods = this.exactRoutes.get(path);
            for (const m of [...methods.keys()].sort()) out.push([path, m, methods.get(m)]);
        }
        for (const m of [...this.prefixRoutes.keys()].sort()) {
            const prefixes = this.prefixRoutes.get(m);
            for (const p of [...prefixes.keys()].sort()) out.push([`${p}*`, m, prefixes.get(p)]);
        }
        return out;
    }

    find(path, method) {
        const m = method === "HEAD" ? "GET" : method;
        const exact = this.exactRoutes.get(path);
        if (exact && exact.get(m)) return [exact.get(m), m, path];
        const prefixes = [...(this.prefixRoutes.get(m) || new Map()).entries()]
            .sort((a, b) => b[0].length - a[0].length);
        for (const [p, h] of prefixes)
            if (path.startsWith(p)) return [h, m, `${p}*`];
        return null;
    }
}

/* A warning about the app's code at load, logged once: by the shard's copy of the app, not again
 * by each action worker's (native.params[6] is 1 there). */
function loadNotice(tag, text) {
    if (native.params[6] !== 1) native.log("warn", tag, text);
}

/* crons.ts and http.ts at the root of the functions folder: Convex reads their default export.
 * Returns {crons} for crons.ts (Crons.export()'s JSON; the shard schedules them) and {routes}
 * for http.ts ([[method, path, isPrefix]]; the router is kept for 56_http.js, and a route inside
 * Vireo's reserved paths throws: a load error), or null. */
function reportSpecialModule(mod, file, exports) {
    const d = exports && exports.default;
    if (mod === "crons" && d && d.isCrons === true)
        return { crons: d.export() };
    if (mod === "http" && d && d.isRouter === true) {
        const routes = httpRoutesOf(d, file);
        loadedRouter = d;
        if (native.params[6] !== 1) native.log("info", "app", `${file}: ${routes.length} HTTP route${routes.length === 1 ? "" : "s"}` +
            ` served (${routes.map((r) => `${r[0]} ${r[1]}${r[2] ? "*" : ""}`).slice(0, 10)
                .join(", ")}${routes.length > 10 ? ", ..." : ""})`);
        return { routes };
    }
    return null;
}

/* ---- the rest of convex/server ---- */

const paginationOptsValidator = v.object({
    numItems: v.number(),
    cursor: v.union(v.string(), v.null()),
    endCursor: v.optional(v.union(v.string(), v.null())),
    id: v.optional(v.number()),
    maximumRowsRead: v.optional(v.number()),
    maximumBytesRead: v.optional(v.number()),
});

function paginationResultValidator(item) {
    return v.object({
        page: v.array(item),
        continueCursor: v.string(),
        isDone: v.boolean(),
        splitCursor: v.optional(v.union(v.string(), v.null())),
        pageStatus: v.optional(v.union(v.literal("SplitRecommended"),
                                       v.literal("SplitRequired"), v.null())),
    });
}

const throwing = (what, issue) => function () {
    throw notSupported(what, issue);
};
const rejecting = (what, issue) => async function () {
    throw notSupported(what, issue);
};

const log = Object.freeze({
    audit: rejecting("log.audit()"),
    vars: Object.freeze({
        requestId: Symbol("var.requestId"),
        ip: Symbol("var.ip"),
        userAgent: Symbol("var.userAgent"),
        now: Symbol("var.now"),
        convexActor: Symbol("var.convexActor"),
    }),
});

/* ---- convex/browser ---- */

/* The WebSocket clients: actions have no WebSocket. */
function clientStub(name) {
    return class {
        constructor() {
            throw new Error(`${notSupported(`${name} in functions`).message}: there is no ` +
                            "WebSocket in actions (ConvexHttpClient works)");
        }
    };
}

/* Convex's ConvexHttpClient (convex/browser's http_client.js at the pinned version), over the
 * action's fetch: to this server (process.env.CONVEX_CLOUD_URL), another Vireo or a Convex
 * deployment. Same requests, headers, mutation queue, log lines and errors. In queries and
 * mutations its calls fail as fetch does there. */
const CONVEX_CLIENT_VERSION = "1.48.0";
const STATUS_CODE_UDF_FAILED = 560;

function validateDeploymentUrl(url) {
    if (typeof url === "undefined")
        throw new Error("Client created with undefined deployment address. If you used an " +
                        "environment variable, check that it's set.");
    if (typeof url !== "string") throw new Error(`Invalid deployment address: found ${url}".`);
    if (!(url.startsWith("http:") || url.startsWith("https:")))
        throw new Error(`Invalid deployment address: Must start with "https://" or "http://". ` +
                        `Found "${url}".`);
    try {
        new URL(url);
    } catch {
        throw new Error(`Invalid deployment address: "${url}" is not a valid URL. If you ` +
                        "believe this URL is correct, use the `skipConvexDeploymentUrlCheck` " +
                        "option to bypass this.");
    }
    if (url.endsWith(".convex.site"))
        throw new Error(`Invalid deployment address: "${url}" ends with .convex.site, which is ` +
                        "used for HTTP Actions. Convex deployment URLs typically end with " +
                        ".convex.cloud? If you believe this URL is correct, use the " +
                        "`skipConvexDeploymentUrlCheck` option to bypass this.");
}

function clientArgs(args) {
    if (args === undefined) return {};
    const proto = args !== null && typeof args === "object" ? Object.getPrototypeOf(args) : 0;
    if (!(proto === null || proto === Object.prototype || proto?.constructor?.name === "Object"))
        throw new Error(`The arguments to a Convex function must be an object. Received: ${args}`);
    return args;
}

const consoleLogger = { log: (...a) => console.log(...a), warn: (...a) => console.warn(...a),
                        error: (...a) => console.error(...a), logVerbose: () => {} };
const noopLogger = { log() {}, warn() {}, error() {}, logVerbose() {} };

/* A function's log line ("[LOG] 'text'") as Convex's client hands it to its logger (the %c
 * and its colour are for browsers' consoles; the default logger passes them to console.log as
 * Convex's does). */
function logFunctionLine(logger, kind, name, line) {
    const prefix = { query: "Q", mutation: "M", action: "A", any: "?" }[kind];
    if (typeof line === "object") line = `ConvexError ${JSON.stringify(line.errorData, null, 2)}`;
    const m = line.match(/^\[.*?\] /);
    if (m === null) {
        logger.error(`[CONVEX ${prefix}(${name})] Could not parse console.log`);
        return;
    }
    logger.log(`%c[CONVEX ${prefix}(${name})] [${line.slice(1, m[0].length - 2)}]`,
               "color:rgb(0, 145, 255)", line.slice(m[0].length));
}

class ConvexHttpClient {
    constructor(address, options) {
        if (typeof options === "boolean")
            throw new Error("skipConvexDeploymentUrlCheck as the second argument is no longer " +
                            "supported. Please pass an options object, " +
                            "`{ skipConvexDeploymentUrlCheck: true }`.");
        if (options?.skipConvexDeploymentUrlCheck !== true) validateDeploymentUrl(address);
        this.logger = options?.logger === false ? noopLogger
            : options?.logger !== true && options?.logger ? options.logger : consoleLogger;
        this.address = address;
        this.debug = true;
        this.auth = undefined;
        this.adminAuth = undefined;
        this.fetch = options?.fetch;
        this.fetchOptions = undefined;
        this.encodedTsPromise = undefined;
        this.mutationQueue = [];
        this.isProcessingQueue = false;
        if (options?.auth) this.setAuth(options.auth);
    }

    backendUrl() {
        return `${this.address}/api`;
    }

    get url() {
        return this.address;
    }

    setAuth(value) {
        this.clearAuth();
        this.auth = value;
    }

    setAdminAuth(token, actingAsIdentity) {
        this.clearAuth();
        if (actingAsIdentity !== undefined) {
            const bytes = new TextEncoder().encode(JSON.stringify(actingAsIdentity));
            this.adminAuth = `${token}:${btoa(String.fromCodePoint(...bytes))}`;
        } else {
            this.adminAuth = token;
        }
    }

    clearAuth() {
        this.auth = undefined;
        this.adminAuth = undefined;
    }

    setDebug(debug) {
        this.debug = debug;
    }

    setFetchOptions(fetchOptions) {
        this.fetchOptions = fetchOptions;
    }

    /* withAuth false: the timestamp request, which Convex's client sends without it */
    headers(withAuth = true) {
        const h = { "Content-Type": "application/json",
                    "Convex-Client": `npm-${CONVEX_CLIENT_VERSION}` };
        if (withAuth && this.adminAuth) h.Authorization = `Convex ${this.adminAuth}`;
        else if (withAuth && this.auth) h.Authorization = `Bearer ${this.auth}`;
        return h;
    }

    /* One call: POST the body to the endpoint, then Convex's result handling. headers: as they
     * were when the call began (a query's, before it waited for its timestamp). */
    async call(kind, name, endpoint, body, headers = this.headers()) {
        const response = await (this.fetch || fetch)(`${this.address}${endpoint}`, {
            ...this.fetchOptions, body, method: "POST", headers,
        });
        if (!response.ok && response.status !== STATUS_CODE_UDF_FAILED)
            throw new Error(await response.text());
        const r = await response.json();
        if (this.debug)
            for (const line of r.logLines ?? []) logFunctionLine(this.logger, kind, name, line);
        switch (r.status) {
        case "success":
            return jsonToConvex(r.value);
        case "error":
            if (r.errorData !== undefined) {
                const e = new ConvexError(r.errorMessage);
                e.data = jsonToConvex(r.errorData);
                throw e;
            }
            throw new Error(r.errorMessage);
        default:
            throw new Error(`Invalid response: ${JSON.stringify(r)}`);
        }
    }

    async consistentQuery(query, ...args) {
        const queryArgs = clientArgs(args[0]);
        return await this.queryInner(query, queryArgs, { timestampPromise: this.getTimestamp() });
    }

    async getTimestamp() {
        if (this.encodedTsPromise) return this.encodedTsPromise;
        return (this.encodedTsPromise = this.getTimestampInner());
    }

    async getTimestampInner() {
        const response = await (this.fetch || fetch)(`${this.address}/api/query_ts`, {
            ...this.fetchOptions, method: "POST", headers: this.headers(false),
        });
        if (!response.ok) throw new Error(await response.text());
        return (await response.json()).ts;
    }

    async query(query, ...args) {
        return await this.queryInner(query, clientArgs(args[0]), {});
    }

    async queryInner(query, queryArgs, options) {
        const name = getFunctionName(query);
        const args = [convexToJson(queryArgs)];
        const headers = this.headers();
        const ts = options.timestampPromise ? await options.timestampPromise : undefined;
        const body = JSON.stringify({ path: name, format: "convex_encoded_json", args,
                                      ...(ts ? { ts } : {}) });
        return await this.call("query", name, ts ? "/api/query_at_ts" : "/api/query", body,
                               headers);
    }

    async mutationInner(mutation, mutationArgs) {
        const name = getFunctionName(mutation);
        const body = JSON.stringify({ path: name, format: "convex_encoded_json",
                                      args: [convexToJson(mutationArgs)] });
        return await this.call("mutation", name, "/api/mutation", body);
    }

    /* Queued mutations run one at a time, in the order they were called. */
    async processMutationQueue() {
        if (this.isProcessingQueue) return;
        this.isProcessingQueue = true;
        while (this.mutationQueue.length > 0) {
            const { mutation, args, resolve, reject } = this.mutationQueue.shift();
            try {
                resolve(await this.mutationInner(mutation, args));
            } catch (error) {
                reject(error);
            }
        }
        this.isProcessingQueue = false;
    }

    enqueueMutation(mutation, args) {
        return new Promise((resolve, reject) => {
            this.mutationQueue.push({ mutation, args, resolve, reject });
            void this.processMutationQueue();
        });
    }

    async mutation(mutation, ...args) {
        const [fnArgs, options] = args;
        const mutationArgs = clientArgs(fnArgs);
        return options?.skipQueue ? await this.mutationInner(mutation, mutationArgs)
                                  : await this.enqueueMutation(mutation, mutationArgs);
    }

    async action(action, ...args) {
        const actionArgs = clientArgs(args[0]);
        const name = getFunctionName(action);
        const body = JSON.stringify({ path: name, format: "convex_encoded_json",
                                      args: [convexToJson(actionArgs)] });
        return await this.call("action", name, "/api/action", body);
    }

    async function(anyFunction, componentPath, ...args) {
        const functionArgs = clientArgs(args[0]);
        const name = typeof anyFunction === "string" ? anyFunction : getFunctionName(anyFunction);
        const body = JSON.stringify({ componentPath, path: name, format: "convex_encoded_json",
                                      args: convexToJson(functionArgs) });
        return await this.call("any", name, "/api/function", body);
    }
}

/* Convex's runtime global as libraries reach it directly (@convex-dev/batch-worker 0.2's
 * runSnapshotQuery): Convex.asyncSyscall("1.0/runUdf", ...), the call behind ctx.runQuery and
 * ctx.runMutation, made from the running query or mutation with its component's names. A
 * "snapshotQuery" is a query: mutations run one at a time here, so there is no conflict for a
 * read to cause. Its other system calls are Convex's internals. */
async function convexRunUdf(argsText) {
    const a = JSON.parse(argsText);
    const kind = a.udfType === "mutation" ? MUTATION :
        a.udfType === "query" || a.udfType === "snapshotQuery" ? QUERY : -1;
    if (kind < 0)
        throw notSupported(`Convex.asyncSyscall("1.0/runUdf") with udfType ${a.udfType}`);
    if (mode === ACTION)
        throw notSupported('Convex.asyncSyscall("1.0/runUdf") in an action (use ctx.runQuery)');
    const ref = typeof a.functionHandle === "string" ? a.functionHandle :
        typeof a.reference === "string" ? { [TO_REFERENCE_PATH]: a.reference } : a.name;
    const path = componentFunctionPath(currentPrefix, ref);
    const what = kind === QUERY ? "ctx.runQuery()" : "ctx.runMutation()";
    const r = await subCall(null, mode, kind, path, jsonToConvex(a.args), what, undefined);
    return JSON.stringify(convexToJson(r === undefined ? null : r));
}
globalThis.Convex = Object.freeze({
    asyncSyscall(op, argsText) {
        if (op === "1.0/runUdf") return convexRunUdf(argsText);
        return Promise.reject(notSupported(`Convex.asyncSyscall("${op}")`));
    },
    syscall(op) { throw notSupported(`Convex.syscall("${op}")`); },
    jsSyscall(op) { throw notSupported(`Convex.jsSyscall("${op}")`); },
});

{
    const base = globalThis.__vireo;
    const server = Object.freeze({
        HttpRouter,
        ROUTABLE_HTTP_METHODS,
        SearchFilter,
        actionGeneric: base.action,
        anyApi: base.anyApi,
        componentsGeneric,
        createFunctionHandle,
        cronJobs: () => new Crons(),
        currentSystemUdfInComponent: throwing("currentSystemUdfInComponent() (components)"),
        defineApp,
        defineComponent,
        defineSchema,
        defineTable,
        docValidator,
        filterApi: (api) => api,
        getFunctionAddress,
        getFunctionName: publicFunctionName,
        getServiceToken: rejecting("getServiceToken()"),
        getServiceUrl: rejecting("getServiceUrl()"),
        httpActionGeneric,
        httpRouter: () => new HttpRouter(),
        internalActionGeneric: base.internalAction,
        internalMutationGeneric: base.internalMutation,
        internalQueryGeneric: base.internalQuery,
        log,
        makeFunctionReference,
        mutationGeneric: base.mutation,
        paginationOptsValidator,
        paginationResultValidator,
        queryGeneric: base.query,
    });
    const values = Object.freeze({
        Base64,
        CommitTsPlaceholder,
        ConvexError,
        asObjectValidator,
        compareValues,
        convexToJson,
        getConvexSize,
        getDocumentSize,
        jsonToConvex,
        v,
    });
    const browser = Object.freeze({
        BaseConvexClient: clientStub("BaseConvexClient"),
        ConvexClient: clientStub("ConvexClient"),
        ConvexHttpClient,
        convexQueryOptions: (options) => options,
    });
    globalThis.__vireo = Object.freeze(Object.assign({}, base, {
        ConvexError,
        httpAction: httpActionGeneric,
        cronJobs: server.cronJobs,
        httpRouter: server.httpRouter,
        paginationOptsValidator,
        makeFunctionReference,
        convex: Object.freeze({ values, server, browser }),
    }));
}
