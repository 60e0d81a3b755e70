/* functions: query/mutation/action registration, api/internal references, the per-execution
 * environment (seeded Math.random, frozen Date, no fetch in queries and mutations, console), the
 * entry points the C runtime calls (run, load) and nested calls from actions. Kinds are numbers
 * shared with C: 0 query, 1 mutation, 2 action. */

const QUERY = 0, MUTATION = 1, ACTION = 2;
const KIND_NAMES = ["query", "mutation", "action"];
const registry = new WeakMap(); /* function -> {kind, internal, handler, args, returns} */

function register(kind, internal, def) {
    const title = KIND_NAMES[kind][0].toUpperCase() + KIND_NAMES[kind].slice(1);
    const name = internal ? "internal" + title : KIND_NAMES[kind];
    let handler, args = null, returns = null;
    if (typeof def === "function") {
        handler = def;
    } else if (def !== null && typeof def === "object" && typeof def.handler === "function") {
        handler = def.handler;
        if (def.args !== undefined) {
            args = def.args instanceof Validator ? def.args : v.object(def.args);
            if (args.kind !== "object" || isOptionalField(args))
                throw new TypeError(`${name}(): args must be an object of validators or a ` +
                    `v.object()`);
        }
        if (def.returns !== undefined)
            returns = def.returns instanceof Validator ? def.returns : v.object(def.returns);
    } else {
        throw new TypeError(`${name}(): expected a handler function or {args, handler}`);
    }
    const fn = function () {
        throw new Error(`a ${KIND_NAMES[kind]} cannot be called directly; use ` +
            `ctx.run${KIND_NAMES[kind][0].toUpperCase()}${KIND_NAMES[kind].slice(1)}(api...)`);
    };
    fn.isQuery = kind === QUERY;
    fn.isMutation = kind === MUTATION;
    fn.isAction = kind === ACTION;
    fn.isPublic = !internal;
    fn.isInternal = internal;
    fn.exportArgs = () => JSON.stringify(args ? args.json : { type: "any" });
    fn.exportReturns = () => JSON.stringify(returns ? returns.json : null);
    registry.set(fn, { kind, internal, handler, args, returns });
    return fn;
}

const FUNCTION_NAME = Symbol.for("functionName");

function makeReference(parts) {
    return new Proxy({}, {
        get(_, prop) {
            if (prop === FUNCTION_NAME) {
                if (parts.length < 2)
                    throw new Error(`\`${parts.join(".")}\` is not a function reference ` +
                        `(expected api.module.function)`);
                const file = parts.slice(0, -1).join("/"), name = parts[parts.length - 1];
                return name === "default" ? file : file + ":" + name; /* as Convex's anyApi */
            }
            if (typeof prop !== "string" || prop === "then") return undefined;
            return makeReference(parts.concat([prop]));
        },
    });
}

/* A function handle (createFunctionHandle, 55_convex.js) names a function of the app wherever a
 * reference goes on the server: ctx.runQuery/runMutation/runAction, ctx.scheduler. */
const HANDLE_PREFIX = "function://";
let appFunctionPaths = new Set(); /* the loaded app's functions (load), for handles */
let internalPaths = new Set(); /* those of them that are internal (ctx.meta's visibility) */

/* the path a reference, a "module:fn" string or a function handle names (from the app; a
 * component's ctx resolves its own: componentFunctionPath, 54_components.js) */
function functionPath(ref) {
    return componentFunctionPath("", ref);
}

function getFunctionName(ref) {
    if (typeof ref === "string") return ref;
    if (ref !== null && (typeof ref === "object" || typeof ref === "function")) {
        const n = ref[FUNCTION_NAME];
        if (typeof n === "string") return n;
    }
    throw new TypeError(`expected a function reference (api.module.fn) or a "module:fn" string, ` +
        `got ${describeType(ref)}`);
}

/* ---- per-execution environment ---- */

let mode = ACTION;        /* kind of the running execution; ACTION = real time and randomness */
let frozenNow = 0;
let currentPath = "(load)"; /* function path that console output is attributed to */
/* the component of the innermost running call ("" the app's; 54_components.js), for what names
 * functions outside a ctx (createFunctionHandle) */
let currentPrefix = "";
let s0 = 0, s1 = 0, s2 = 0, s3 = 0;

function seed(a, b) {
    s0 = a >>> 0; s1 = b >>> 0; s2 = 0x9e3779b9; s3 = 1;
    for (let i = 0; i < 12; i++) nextRandom();
}

/* sfc32 */
function nextRandom() {
    const t = (((s0 + s1) >>> 0) + s3) >>> 0;
    s3 = (s3 + 1) >>> 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) >>> 0;
    s2 = (s2 << 21) | (s2 >>> 11);
    s2 = (s2 + t) >>> 0;
    return t / 4294967296;
}

const realRandom = Math.random;
Math.random = function random() {
    return mode === ACTION ? realRandom() : nextRandom();
};

const RealDate = Date;
const realNow = RealDate.now;
const now = () => (mode === ACTION ? realNow() : frozenNow);
function VDate(...a) {
    if (new.target === undefined) return new RealDate(now()).toString();
    return Reflect.construct(RealDate, a.length === 0 ? [now()] : a, new.target);
}
VDate.prototype = RealDate.prototype;
Object.defineProperty(VDate, "name", { value: "Date" }); /* as the app knows it (errors, Date.name) */
VDate.now = function now_() { return now(); };
VDate.parse = RealDate.parse;
VDate.UTC = RealDate.UTC;
Object.defineProperty(RealDate.prototype, "constructor",
                      { value: VDate, writable: true, configurable: true });
globalThis.Date = VDate;

/* ---- console ---- */

function inspect(x, depth, seen) {
    switch (typeof x) {
    case "string": return depth === 0 ? x : JSON.stringify(x);
    case "undefined": return "undefined";
    case "bigint": return `${x}n`;
    case "function": return `[Function: ${x.name || "anonymous"}]`;
    case "symbol": return x.toString();
    case "number": return Object.is(x, -0) ? "-0" : String(x);
    case "boolean": return String(x);
    }
    if (x === null) return "null";
    if (x instanceof Error) {
        const head = `${x.name}: ${x.message}`;
        return x.stack ? `${head}\n${x.stack}` : head;
    }
    if (x instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${x.byteLength} }`;
    if (seen.includes(x)) return "[Circular]";
    if (depth > 4) return Array.isArray(x) ? "[Array]" : "[Object]";
    seen.push(x);
    let s;
    if (Array.isArray(x)) {
        s = "[" + x.map((e) => inspect(e, depth + 1, seen)).join(", ") + "]";
    } else {
        const keys = Object.keys(x);
        const field = (k) =>
            `${IDENT.test(k) ? k : JSON.stringify(k)}: ${inspect(x[k], depth + 1, seen)}`;
        s = keys.length === 0 ? "{}" : "{ " + keys.map(field).join(", ") + " }";
    }
    seen.pop();
    return s;
}

function formatLog(args) {
    let s = "";
    for (let i = 0; i < args.length; i++) {
        if (i) s += " ";
        s += typeof args[i] === "string" ? args[i] : inspect(args[i], 0, []);
    }
    return s;
}

/* Convex's form of a console line (its logLines): every argument as the `object-inspect` package
 * prints it with indent 2 (strings single-quoted, objects one key per line), joined by spaces,
 * after the level: console.log("hi", {n: 1}) is "[LOG] 'hi' {\n  n: 1\n}". */
const INSPECT_QUOTED_KEY = /[^\w$]/;

function quoteString(s) {
    let out = "'";
    for (const ch of s) {
        const c = ch.codePointAt(0);
        if (ch === "'" || ch === "\\") out += "\\" + ch;
        else if (ch === "\n") out += "\\n";
        else if (ch === "\t") out += "\\t";
        else if (ch === "\r") out += "\\r";
        else if (ch === "\b") out += "\\b";
        else if (ch === "\f") out += "\\f";
        else if (c < 0x20) out += "\\x" + c.toString(16).toUpperCase().padStart(2, "0");
        else out += ch;
    }
    return out + "'";
}

function inspectConvex(x, indent, seen) {
    switch (typeof x) {
    case "string": return quoteString(x);
    case "undefined": return "undefined";
    case "bigint": return `${x}n`;
    case "function": return x.name ? `[Function: ${x.name}]` : "[Function (anonymous)]";
    case "symbol": return x.toString();
    case "number": return Object.is(x, -0) ? "-0" : String(x);
    case "boolean": return String(x);
    }
    if (x === null) return "null";
    if (x instanceof Error) return `[${String(x)}]`;
    if (x instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${x.byteLength} }`;
    if (seen.includes(x)) return "[Circular]";
    if (seen.length >= 5) return Array.isArray(x) ? "[Array]" : "[Object]";
    seen.push(x);
    const inner = indent + "  ";
    let s;
    if (Array.isArray(x)) {
        const xs = x.map((e) => inspectConvex(e, inner, seen));
        if (xs.length === 0) s = "[]";
        else if (xs.some((e) => e.includes("\n")))
            s = "[\n" + inner + xs.join(",\n" + inner) + "\n" + indent + "]";
        else s = "[ " + xs.join(", ") + " ]";
    } else {
        const key = (k) => (INSPECT_QUOTED_KEY.test(k) ? quoteString(k) : k);
        const ys = Object.keys(x).map((k) => key(k) + ": " + inspectConvex(x[k], inner, seen));
        s = ys.length === 0 ? "{}" : "{\n" + inner + ys.join(",\n" + inner) + "\n" + indent + "}";
    }
    seen.pop();
    return s;
}

function convexLine(level, args) {
    let s = "[" + level + "]";
    for (let i = 0; i < args.length; i++) {
        let part;
        try {
            part = inspectConvex(args[i], "", []);
        } catch (e) {
            part = "[unprintable]";
        }
        s += " " + part;
        if (s.length > 32769) break;
    }
    /* C cuts lines past 32 KiB and marks them: hand it no more than one unit past that */
    return s.length > 32769 ? s.slice(0, 32769) : s;
}

/* Each line goes to the server log and, during a call, to the call's logLines (the C side keeps
 * at most 256 lines and 256 KiB of them per call; docs/operations.md). */
const logAt = (level, convexLevel) => function (...args) {
    native.log(level, currentPath, formatLog(args), convexLine(convexLevel, args));
};
/* The rest of the console namespace (console.spec.whatwg.org), on the same lines: timers and
 * counters by label (at most MAX_CONSOLE_LABELS of each, the oldest dropped past it, so that a
 * function that never ends its timers grows nothing), assert, groups (their lines indented),
 * table and dir printed as log does. Timers measure real time, in queries and mutations too. */
const MAX_CONSOLE_LABELS = 1000;
const consoleTimers = new Map(), consoleCounts = new Map();
let consoleIndent = "";
const grouped = (f) => (...args) => {
    if (consoleIndent === "") return f(...args);
    if (typeof args[0] === "string") return f(consoleIndent + args[0], ...args.slice(1));
    return f(consoleIndent.slice(0, -1), ...args); /* the separating space ends the indent */
};
const consoleLog = grouped(logAt("info", "LOG")), consoleWarn = grouped(logAt("warn", "WARN"));
const consoleError = grouped(logAt("error", "ERROR"));
function labelOf(label) { return label === undefined ? "default" : String(label); }
function remember(map, key, value) {
    map.delete(key);
    if (map.size >= MAX_CONSOLE_LABELS) map.delete(map.keys().next().value);
    map.set(key, value);
}
function elapsed(label, start) {
    return `${label}: ${Math.round((realNow() - start) * 1000) / 1000}ms`;
}
globalThis.console = {
    log: consoleLog,
    info: grouped(logAt("info", "INFO")),
    warn: consoleWarn,
    error: consoleError,
    debug: grouped(logAt("debug", "DEBUG")),
    trace: grouped(logAt("debug", "DEBUG")),
    dir: (x) => consoleLog(x),
    dirxml: consoleLog,
    table: consoleLog,
    assert(cond, ...args) {
        if (cond) return;
        if (typeof args[0] === "string") args[0] = "Assertion failed: " + args[0];
        else args.unshift("Assertion failed");
        consoleError(...args);
    },
    count(label) {
        const l = labelOf(label), n = (consoleCounts.get(l) || 0) + 1;
        remember(consoleCounts, l, n);
        consoleLog(`${l}: ${n}`);
    },
    countReset(label) {
        const l = labelOf(label);
        if (consoleCounts.has(l)) consoleCounts.set(l, 0);
        else consoleWarn(`Count for '${l}' does not exist`);
    },
    time(label) {
        const l = labelOf(label);
        if (consoleTimers.has(l)) consoleWarn(`Timer '${l}' already exists`);
        else remember(consoleTimers, l, realNow());
    },
    timeLog(label, ...data) {
        const l = labelOf(label), t = consoleTimers.get(l);
        if (t === undefined) consoleWarn(`Timer '${l}' does not exist`);
        else consoleLog(elapsed(l, t), ...data);
    },
    timeEnd(label) {
        const l = labelOf(label), t = consoleTimers.get(l);
        if (t === undefined) {
            consoleWarn(`Timer '${l}' does not exist`);
            return;
        }
        consoleTimers.delete(l);
        consoleLog(elapsed(l, t));
    },
    group: consoleGroup,
    groupCollapsed: consoleGroup,
    groupEnd() { consoleIndent = consoleIndent.slice(2); },
};
function consoleGroup(...label) {
    if (label.length) consoleLog(...label);
    if (consoleIndent.length < 64) consoleIndent += "  ";
}

/* ---- ctx ---- */

/* ctx.auth of one call: identityText is the verified identity's JSON (the server checked the
 * token; auth/identity.h made it) or null. Each getUserIdentity() returns a fresh copy, so a
 * function that changes it changes nothing else. An HTTP action whose Authorization header was
 * refused runs anyway, as in Convex, with "!" + the reason (proto/http_auth.h
 * HTTP_AUTH_ERROR_MARK): getUserIdentity() throws it. */
const anonymousAuth = Object.freeze({
    async getUserIdentity() { return null; },
});

function makeAuth(identityText) {
    if (typeof identityText !== "string") return anonymousAuth;
    if (identityText[0] === "!") {
        const why = identityText.slice(1);
        return Object.freeze({
            async getUserIdentity() {
                const e = new Error(`Could not verify the request's Authorization header: ${why}`);
                e.code = "InvalidToken";
                throw e;
            },
        });
    }
    return Object.freeze({
        async getUserIdentity() { return JSON.parse(identityText); },
    });
}

let nestedChain = Promise.resolve();

/* ---- async actions (src/js/exec.c) ----
 * Several actions may be suspended in one runtime; each C turn runs on behalf of one of them,
 * whose id is native.params[4]. execInfo keeps what must follow an action across its turns. */
const execInfo = new Map(); /* exec id -> {path, chain} */
const opPending = new Map(); /* token -> {exec, resolve, reject, map} */
let opNextToken = 1;

function execEnter(id) {
    const info = execInfo.get(id);
    mode = ACTION;
    if (info) {
        currentPath = info.path;
        currentPrefix = componentPrefix(info.path);
    }
}

/* Starts a host operation (native.opStart(token, ...args)): {token, promise}; the promise
 * settles with map(ok, strings, arrayBuffer) when the host answers. Throws when the host
 * refuses the operation. */
function opBegin(map, ...args) {
    const token = opNextToken++;
    const exec = params[4];
    let resolve, reject;
    const promise = new Promise((a, b) => {
        resolve = a;
        reject = b;
    });
    native.opStart(token, ...args); /* throws when the host refuses */
    opPending.set(token, { exec, resolve, reject, map });
    return { token, promise };
}

/* Drops a pending operation (an abort) and rejects its promise with `reason`; its answer, if
 * any, is ignored. */
function opCancel(token, reason) {
    const op = opPending.get(token);
    if (!op) return false;
    opPending.delete(token);
    native.opCancel(token);
    op.reject(reason);
    return true;
}

/* Entry point from C: the host's answer to operation `token`. */
function settle(token, ok, strs, bytes) {
    const op = opPending.get(token);
    if (!op) return;
    opPending.delete(token);
    execEnter(op.exec);
    try {
        op.resolve(op.map(ok, strs, bytes));
    } catch (e) {
        op.reject(e);
    }
}

/* Entry point from C: execution `id` finished; what it left waiting is dropped. */
function abandon(id) {
    for (const [token, op] of opPending) {
        if (op.exec !== id) continue;
        opPending.delete(token);
        native.opCancel(token);
    }
    execInfo.delete(id);
    timersRun(3, id);
}

function runNested(kind, ref, args, identityText) {
    const what = "ctx.run" + KIND_NAMES[kind][0].toUpperCase() + KIND_NAMES[kind].slice(1) + "()";
    let path, argsText;
    try {
        path = functionPath(ref);
        argsText = encode(args === undefined ? {} : args, `${what} arguments`);
    } catch (e) {
        return Promise.reject(e);
    }
    if (kind === ACTION) return nestedExec(kind, path, argsText, identityText);
    /* one transaction at a time: queries and mutations started by an action run one after
     * another (each action has its own chain) */
    const info = execInfo.get(params[4]);
    const chain = info ? info.chain : nestedChain;
    const p = chain.then(() => nestedExec(kind, path, argsText, identityText));
    if (info) info.chain = p.then(() => undefined, () => undefined);
    else nestedChain = p.then(() => undefined, () => undefined);
    return p;
}

/* On an action worker (a runtime without a store) queries and mutations run on the shard's
 * thread: the host sends them there and the action waits (suspended) until they committed. */
function remoteExec(kind, path, argsText, identityText) {
    return opBegin((ok, s) => {
        if (ok) return decode(s[0]);
        const [text, code, data] = s;
        /* Convex rethrows an error that has data as a ConvexError (a VireoError here) */
        if (code === "VireoError" && data !== "") throw new ConvexError(decode(data));
        const e = new Error(text);
        e.code = code;
        throw e;
    }, 0 /* JS_OP_REMOTE */, kind, path, argsText, identityText).promise;
}

async function nestedExec(kind, path, argsText, identityText) {
    if (kind !== ACTION && native.remote) return remoteExec(kind, path, argsText, identityText);
    const handler = native.nestedBegin(kind, path, argsText);
    if (kind !== ACTION) framesReset(params[4], identityText);
    const saved = [mode, frozenNow, currentPath, currentPrefix, s0, s1, s2, s3, pageRun];
    pageRunStart(undefined);
    mode = kind;
    currentPath = path;
    currentPrefix = componentPrefix(path);
    if (kind !== ACTION) {
        frozenNow = realNow();
        seed((realRandom() * 4294967296) >>> 0, (realRandom() * 4294967296) >>> 0);
    }
    let ok = false, text;
    try {
        const r = await handler(makeCtx(kind, identityText), decode(argsText));
        text = encode(r, "return value");
        native.checkReturns(path, text);
        ok = true;
    } finally {
        [mode, frozenNow, currentPath, currentPrefix, s0, s1, s2, s3, pageRun] = saved;
        native.nestedEnd(kind, ok);
    }
    return decode(text);
}

/* ctx.runQuery / ctx.runMutation inside a query or mutation (Convex's 1.0/runUdf): the function
 * runs at once in the caller's transaction, with its identity, time and random sequence; its
 * arguments and result are checked as a client's call's are (the result after the call: a
 * mutation's writes stay when only its result fails its validator, as in Convex); a mutation
 * runs in a sub-transaction that rolls back when it throws (native.subBegin / subEnd), at most
 * 8 deep. Convex runs the nested function to its end before the caller's next database call;
 * here the caller's writes, schedules, storage changes and nested calls made meanwhile (it did
 * not await the call) wait for it: each ctx has its frame, and those methods run only while
 * their frame is the innermost running one. Reads do not wait. A nested call still running when
 * the caller's call ends is rolled back (js_native_subs_end). */
const FRAME = Symbol("frame");
let frames = [0];       /* the running nested calls' frames, innermost last; 0: the call itself */
let frameCount = 0;
let frameExec = -1;     /* the execution frames belong to (params[4]) */
let frameWaiters = [];  /* [frame, resolve]: a method waiting for its frame to be innermost */
let callIdentity = null; /* the running call's identity text: its nested calls run with it */

function framesReset(exec, identityText) {
    if (frames.length !== 1) frames = [0];
    if (frameWaiters.length) frameWaiters = [];
    frameCount = 0;
    frameExec = exec;
    callIdentity = identityText;
}
/* 1 when self's frame is not the innermost running one (a detached method has none) */
function waits(self) {
    const fr = self !== null && typeof self === "object" ? self[FRAME] : undefined;
    return fr !== undefined && fr !== frames[frames.length - 1];
}
/* f() once self's frame is the innermost running one */
function later(self, f) {
    return new Promise((resolve) => frameWaiters.push([self[FRAME], resolve]))
        .then(() => (waits(self) ? later(self, f) : f()));
}
function framePop() {
    frames.pop();
    const top = frames[frames.length - 1], waiting = frameWaiters;
    frameWaiters = [];
    for (const w of waiting) {
        if (w[0] === top) w[1]();
        else frameWaiters.push(w);
    }
}
/* a query's ctx methods, and a mutation's (whose runMutation is refused once it ended, as its
 * writes are; reads are left alone) */
const querySubCalls = {
    runQuery(ref, args, options) {
        return subCall(this, QUERY, QUERY, ref, args, "ctx.runQuery()", options);
    },
};
const mutationSubCalls = {
    runQuery(ref, args, options) {
        return subCall(this, MUTATION, QUERY, ref, args, "ctx.runQuery()", options);
    },
    runMutation(ref, args, options) {
        return refusedWrite(this, "ctx.runMutation()") ||
            subCall(this, MUTATION, MUTATION, ref, args, "ctx.runMutation()", options);
    },
};
function subCall(self, caller, kind, ref, args, what, options) {
    const f = () => subRun(kind, ref, args, what, caller, callIdentity, options);
    return waits(self) ? later(self, f) : f();
}

/* The options of a nested ctx.runQuery / runMutation (convex 1.48's AdvancedRunQueryOptions):
 * `transactionLimits` lowers the transaction's limits for the nested call (each the most it may
 * use; above the transaction's own, no change), as the array native.subBegin takes (-1: none);
 * undefined without. `useStaleSnapshot` is accepted: the nested query reads the caller's
 * snapshot, which Convex allows ("may in a future backend version choose an older one"). The
 * file limits are accepted: queries and mutations read and write no file contents here. */
const TXN_LIMIT_NAMES = ["documentsRead", "bytesRead", "databaseQueries", "documentsWritten",
    "bytesWritten", "functionsScheduled", "scheduledFunctionArgsBytes"];
const FILE_LIMIT_NAMES = ["filesWritten", "fileWriteBytes", "filesRead", "fileReadBytes"];
function subLimits(options, what) {
    if (options === undefined || options === null) return undefined;
    if (typeof options !== "object")
        throw new TypeError(`${what}: options must be an object, got ${describeType(options)}`);
    const lim = options.transactionLimits;
    if (lim === undefined) return undefined;
    if (lim === null || typeof lim !== "object" || Array.isArray(lim))
        throw new TypeError(`${what}: transactionLimits must be an object, got ` +
            `${describeType(lim)}`);
    const out = TXN_LIMIT_NAMES.map(() => -1);
    for (const k of Object.keys(lim)) {
        const i = TXN_LIMIT_NAMES.indexOf(k);
        if (i < 0 && !FILE_LIMIT_NAMES.includes(k))
            throw new TypeError(`${what}: transactionLimits.${k} is not a transaction limit ` +
                `(${TXN_LIMIT_NAMES.concat(FILE_LIMIT_NAMES).join(", ")})`);
        const n = lim[k];
        if (n === undefined) continue;
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
            throw new TypeError(`${what}: transactionLimits.${k} must be a non-negative ` +
                `integer, got ${typeof n === "number" ? n : describeType(n)}`);
        if (i >= 0) out[i] = n;
    }
    return out;
}

async function subRun(kind, ref, args, what, caller, identityText, options) {
    const path = functionPath(ref);
    const argsText = encode(args === undefined ? {} : args, `${what} arguments`);
    const limits = subLimits(options, what);
    const exec = params[4];
    const handler = native.subBegin(kind, path, argsText, caller, exec, limits);
    const frame = ++frameCount;
    frames.push(frame);
    const savedPageRun = pageRun, savedPrefix = currentPrefix;
    pageRunStart(undefined); /* its own pagination, journaled nowhere (as Convex's fresh journal) */
    let ok = false, text;
    try {
        currentPrefix = componentPrefix(path);
        const r = await handler(makeCtx(kind, identityText, frame, path), decode(argsText));
        text = encode(r, "return value");
        ok = true;
    } finally {
        if (exec === frameExec) { /* not a continuation left by an ended call */
            pageRun = savedPageRun;
            currentPrefix = savedPrefix;
            framePop();
        }
        native.subEnd(ok, exec);
    }
    native.checkReturns(path, text);
    return decode(text);
}

/* ---- ctx.meta (convex 1.48) ----
 * One object per function and kind, made at its first call and kept until the next load, so a
 * call makes none. Its methods are Convex's for that kind: queries and mutations read their
 * transaction (native_meta.c: the snapshot is the store version the call reads at; the metrics
 * count what the store's limits count), actions have none. */
const metaCache = [new Map(), new Map(), new Map()]; /* per kind: path -> the meta object */
const deploymentMetadata = async () =>
    ({ name: native.deploymentName(), region: null, class: "s16" });
const transactionMetrics = async () => JSON.parse(native.txnMetrics());
const snapshotTs = () => BigInt(native.snapshotTs());
const requestMetadata = async () => JSON.parse(native.requestMetadata());
function metaFor(kind, path) {
    let m = metaCache[kind].get(path);
    if (m !== undefined) return m;
    const type = KIND_NAMES[kind];
    /* an HTTP action's route ("GET /path") is public, as Convex makes it */
    const prefix = componentPrefix(path); /* a component's function: its name in it */
    const visibility = (prefix === "" ? internalPaths : componentInternal).has(path) ?
        "internal" : "public";
    const name = path.slice(prefix.length), componentPath = componentPathOf(path);
    const getFunctionMetadata = async () => ({ name, componentPath, type, visibility });
    if (kind === QUERY)
        m = { getFunctionMetadata, getTransactionMetrics: transactionMetrics,
              getDeploymentMetadata: deploymentMetadata, getSnapshotTs: snapshotTs };
    else if (kind === MUTATION)
        m = { getFunctionMetadata, getTransactionMetrics: transactionMetrics,
              getDeploymentMetadata: deploymentMetadata, getRequestMetadata: requestMetadata,
              getSnapshotTs: snapshotTs };
    else
        m = { getFunctionMetadata, getDeploymentMetadata: deploymentMetadata,
              getRequestMetadata: requestMetadata };
    m = Object.freeze(m);
    metaCache[kind].set(path, m);
    return m;
}

/* identityText: the call's identity (makeAuth); an action's nested calls run with it. frame: the
 * nested call a query's or mutation's ctx belongs to (0: the call itself). path: the function the
 * ctx is for (ctx.meta), the running one unless a nested call says. */
function makeCtx(kind, identityText, frame = 0, path = currentPath) {
    const ctx = appCtx(kind, identityText, frame, path);
    /* a component's function (54_components.js) */
    return path.charCodeAt(0) === 95 && path.startsWith(COMPONENT_MARK) ?
        componentCtx(kind, ctx, componentPrefix(path)) : ctx;
}
function appCtx(kind, identityText, frame, path) {
    const auth = makeAuth(identityText);
    const meta = metaFor(kind, path);
    if (kind === QUERY)
        return { db: reader, auth, storage: storageReader, actors: actorReader,
                 runQuery: querySubCalls.runQuery, meta, [FRAME]: frame };
    if (kind === MUTATION) {
        const exec = params[4];
        const m = mutationSubCalls;
        return { db: execWriter(exec, frame), auth, storage: execStorage(exec, frame),
                 scheduler: execScheduler(exec, frame), actors: actorReader,
                 runQuery: m.runQuery, runMutation: m.runMutation, meta, [EXEC]: exec,
                 [FRAME]: frame };
    }
    return {
        auth,
        storage: storageAction,
        scheduler: actionScheduler,
        runQuery: (ref, args) => runNested(QUERY, ref, args, identityText),
        runMutation: (ref, args) => runNested(MUTATION, ref, args, identityText),
        runAction: (ref, args) => runNested(ACTION, ref, args, identityText),
        vectorSearch: actionVectorSearch,
        meta,
    };
}

/* A mutation's writes belong to its execution (native.params[4]). A promise it left pending can
 * settle in a later execution (the app resolves it from another call), and the continuation then
 * runs inside that call: it must not write into that call's transaction. So a mutation's ctx.db,
 * ctx.scheduler and ctx.storage carry their execution, and their write methods refuse once it is
 * no longer the one running. Reads are left alone: they change nothing. The methods are shared
 * by every execution and find it through `this` (per-execution closures cost ~2 µs a mutation:
 * call sites that see a new function each time are compiled again and again); a method detached
 * from its object (`const { insert } = ctx.db`) has no execution to check and writes as before.
 * Each returns the shared method's own promise: no extra microtask turns on the hot path. The
 * objects are not frozen: each belongs to one execution, so changing it changes nothing else. */
const EXEC = Symbol("execution");
const DB = Symbol("db"); /* the namespace's writer an execution's ctx.db writes through */
const dbOf = (self) => (self !== null && typeof self === "object" && self[DB]) || writer;
function refusedWrite(self, what) {
    if (self === null || typeof self !== "object" || self[EXEC] === undefined ||
        self[EXEC] === params[4])
        return null;
    return Promise.reject(new Error(`${what}: the mutation that made this call has already ` +
        "ended (a promise it left pending settled in a later call), so it cannot write"));
}
/* each also waits for its frame (waits/later: a nested call the caller did not await runs
 * first); the closure is made only then */
const execWrites = {
    insert(t, d) {
        return refusedWrite(this, "db.insert()") ||
            (waits(this) ? later(this, () => dbOf(this).insert(t, d)) : dbOf(this).insert(t, d));
    },
    patch(a, b, c) {
        return refusedWrite(this, "db.patch()") ||
            (waits(this) ? later(this, () => dbOf(this).patch(a, b, c)) :
                dbOf(this).patch(a, b, c));
    },
    replace(a, b, c) {
        return refusedWrite(this, "db.replace()") ||
            (waits(this) ? later(this, () => dbOf(this).replace(a, b, c)) :
                dbOf(this).replace(a, b, c));
    },
    delete(a, b) {
        return refusedWrite(this, "db.delete()") ||
            (waits(this) ? later(this, () => dbOf(this).delete(a, b)) : dbOf(this).delete(a, b));
    },
    /* the table's view writes through this ctx.db, its execution and frame checked */
    table(t) {
        return new TableWriter(t, this !== null && typeof this === "object" ? this : writer);
    },
    runAfter(d, r, a) {
        const f = () => mutationScheduler.runAfter(d, r, a, schedNs(this));
        return refusedWrite(this, "scheduler.runAfter()") || (waits(this) ? later(this, f) : f());
    },
    runAt(t, r, a) {
        const f = () => mutationScheduler.runAt(t, r, a, schedNs(this));
        return refusedWrite(this, "scheduler.runAt()") || (waits(this) ? later(this, f) : f());
    },
    cancel(id) {
        const f = () => mutationScheduler.cancel(id, schedNs(this));
        return refusedWrite(this, "scheduler.cancel()") || (waits(this) ? later(this, f) : f());
    },
    generateUploadUrl() {
        const f = () => storageWriter.generateUploadUrl();
        return refusedWrite(this, "storage.generateUploadUrl()") ||
            (waits(this) ? later(this, f) : f());
    },
    storageDelete(id) {
        const f = () => storageWriter.delete(id);
        return refusedWrite(this, "storage.delete()") || (waits(this) ? later(this, f) : f());
    },
};
function execWriter(exec, frame, db = writer) {
    const w = execWrites;
    return { get: db.get, query: db.query, normalizeId: db.normalizeId,
             system: db.system, insert: w.insert, patch: w.patch, replace: w.replace,
             delete: w.delete, table: w.table, vars: db.vars, [EXEC]: exec,
             [FRAME]: frame, [DB]: db };
}
function execScheduler(exec, frame) {
    const w = execWrites;
    return { runAfter: w.runAfter, runAt: w.runAt, cancel: w.cancel, [EXEC]: exec,
             [FRAME]: frame };
}
function execStorage(exec, frame) {
    return { getUrl: storageWriter.getUrl, getMetadata: storageWriter.getMetadata,
             generateUploadUrl: execWrites.generateUploadUrl, delete: execWrites.storageDelete,
             [EXEC]: exec, [FRAME]: frame };
}

/* [message, code, data JSON, name] of what a function threw (name: the Error's class name, as
 * Convex's "Uncaught TypeError: ..." shows it; "" for a value that is not an Error). Reading it
 * runs the app's code (getters, a Proxy's traps): whatever that throws is reported, never left
 * to end the call unsettled. */
function errorResult(e) {
    try {
        return thrownResult(e);
    } catch (x) {
        let why;
        try {
            why = x instanceof Error ? String(x.message) : String(x);
        } catch (y) {
            why = "(unreadable)";
        }
        return [`the function threw a value that could not be read: ${why}`, "FunctionFailed",
                "", ""];
    }
}
function errorName(e, fallback) {
    const n = e.name;
    return typeof n === "string" && n !== "" && n.length <= 200 ? n : fallback;
}
function thrownResult(e) {
    if (e instanceof VireoError) {
        let data;
        try {
            data = encode(e.data, "ConvexError data");
        } catch (x) {
            /* the app's data cannot travel: say so, rather than send something else as it */
            return [String(x.message), "FunctionFailed", "", "Error"];
        }
        const name = errorName(e, "ConvexError");
        return [String(e.message), "VireoError", data, name === "VireoError" ? "ConvexError" : name];
    }
    if (e instanceof RangeError && e.message === "Out of memory") /* JavaScriptCore's own */
        return ["Out of memory: a string, array or object grew past what JavaScriptCore can " +
                "hold in one value, below the memory limit of " +
                `${Math.round(native.params[5] / 1048576)} MiB`, "MemoryLimit", "", "RangeError"];
    if (e instanceof Error) {
        const code = typeof e.code === "string" && e.code !== "" ? e.code : "FunctionFailed";
        return [String(e.message), code, "", errorName(e, "Error")];
    }
    return ["Uncaught " + inspect(e, 1, []), "FunctionFailed", "", ""];
}

const params = native.params; /* Float64Array shared with C: kind, seed lo, seed hi, now, exec id */

/* Await-sliced runaways: JavaScriptCore's watchdog counts CPU per VM entry, and each job after an
 * `await` is an entry of its own, so a function that loops over awaits
 * (`for (;;) { work(); await null; }`) never reaches the limit, and JSC drains the microtask queue
 * before control comes back to C. So every entry point from C ends by arming a watch: one job of
 * roundsWatch per round of the queue, which goes on while any other job ran since its last round
 * (the VM entries are counted: src/js/jsc_clock.h) and every ROUNDS_CHECK rounds asks C whether
 * the call has used its CPU limit (or the server is stopping); if so it spins, which the watchdog
 * stops within one entry, and JSC's termination drops the queued jobs. When nothing but the watch
 * ran since its last round the queue is otherwise empty and the watch ends, so the queue drains
 * as it would without it (a call waiting for a timer, an operation, or a promise that never
 * settles returns to C at once). Where entries cannot be counted (count -1) only a query's,
 * mutation's or actor turn's own pending promise is watched, and an actor turn's not once it
 * waits for a timer or a fetch (its turn must end when the queue drains: 47_actors.js
 * actorsUndone). */
const ROUNDS_CHECK = 64;
const resolvedPromise = Promise.resolve();
const promiseThen = Promise.prototype.then;
let watchGen = 0;
function roundsWatch(w) {
    if (w.gen !== watchGen) return; /* a later entry armed its own */
    if (w.reads >= 0) {
        /* this job's own entry counted one: a count that did not move since the last round is
         * not followed here (see vmReads), so C is asked */
        let r = params[7];
        if (r === w.reads) r = vmReads();
        if (r - w.reads <= 1) return; /* only this job ran: nothing else is queued */
        w.reads = r;
    } else if (w.call.done || (w.call.actor && opCall !== null && opCall.waiting())) {
        return;
    }
    if (++w.rounds % ROUNDS_CHECK === 0 && native.overLimit()) for (;;) {}
    promiseThen.call(resolvedPromise, () => roundsWatch(w));
}
/* the VM entries counted so far on this thread (-1: not counted), asked of C. While js_call_ex
 * runs a call, params[7] follows the count by itself (jsc_clock_mirror); elsewhere it may be
 * stale, and a stale count is never ahead of the true one: the watch then sees more jobs than
 * ran, never fewer. native.vmReads leaves the count in params (a returned number would take the
 * VM lock once more). */
function vmReads() {
    native.vmReads();
    return params[7];
}
/* call: {done, actor} of a query's, mutation's or actor turn's pending promise, or null.
 * reads: a count taken at this entry (run's, followed from C), or undefined to ask C now (a
 * runtime may have run on another thread before, whose count could be ahead of this one's). An
 * older count only makes the watch's first reading see more jobs than ran, never fewer. */
function watchArm(call, reads) {
    const w = { gen: ++watchGen, reads: reads === undefined ? vmReads() : reads, rounds: 0, call };
    if (w.reads < 0 && call === null) return;
    promiseThen.call(resolvedPromise, () => roundsWatch(w));
}
/* an entry point from C that may run app code, followed by the watch over what it queued;
 * with `when`, only the calls whose arguments it accepts run app code and are watched */
function watched(f, when) {
    return function (...a) {
        if (when && !when(...a)) return f.apply(this, a);
        try {
            return f.apply(this, a);
        } finally {
            watchArm(null);
        }
    };
}

/* Entry point from C for one top-level execution; reports through native.done (its id in params).
 * journal: the query journal of a journaled query run (null: none yet), undefined otherwise.
 * identityText: the caller's verified identity as JSON, or null (js_call_opts.identity). */
function run(handler, path, argsText, journal, identityText) {
    const kind = params[0], execId = params[4];
    /* a query's or mutation's count, which C set before this entry and has followed since
     * (js_call_ex, jsc_clock_mirror) */
    const entryReads = kind === ACTION ? undefined : params[7];
    if (globalsPatched) restoreGlobals(); /* a call that replaced Date or Math left them so */
    const pr = pageRunStart(journal);
    if (kind !== ACTION) framesReset(execId, identityText);
    nestedChain = Promise.resolve(); /* an earlier call may have been stopped mid-chain */
    consoleIndent = ""; /* groups an earlier call left open */
    if (kind === ACTION) execInfo.set(execId, { path, chain: Promise.resolve() });
    mode = kind;
    currentPath = path;
    currentPrefix = path.charCodeAt(0) === 95 ? componentPrefix(path) : "";
    frozenNow = params[3];
    if (kind !== ACTION) seed(params[1], params[2]);
    const finish = (ok, x) => {
        execEnter(execId);
        if (ok) {
            let text;
            try {
                text = encode(x, "return value");
            } catch (e) {
                finish(false, e);
                return;
            }
            params[8] = execId;
            params[9] = 1;
            if (typeof pr.out === "string") native.done(text, pr.out);
            else native.done(text);
        } else {
            const [message, code, data, name] = errorResult(x);
            params[8] = execId;
            params[9] = 0;
            native.done(message, code, data, name);
        }
    };
    let r;
    try {
        const args = decode(argsText);
        if (args === null || typeof args !== "object" || Array.isArray(args))
            throw new TypeError("arguments must be an object");
        r = handler(makeCtx(kind, identityText), args);
    } catch (e) {
        finish(false, e);
        watchArm(null); /* it may have left jobs behind */
        return;
    }
    if (r !== null && typeof r === "object" && typeof r.then === "function") {
        if (kind === ACTION) {
            r.then((x) => finish(true, x), (e) => finish(false, e));
            watchArm(null);
            return;
        }
        const call = { done: false, actor: path === ACTORS_RUN_PATH || path === ACTORS_TIMER_PATH };
        r.then((x) => { call.done = true; finish(true, x); },
               (e) => { call.done = true; finish(false, e); });
        watchArm(call, entryReads);
    } else {
        finish(true, r);
        watchArm(null, entryReads);
    }
}

/* Entry point from C after the bundle ran: collects functions and the schema. */
function load() {
    const app = globalThis.__vireo_app;
    if (app === null || typeof app !== "object")
        throw new Error("the bundle did not set globalThis.__vireo_app");
    const functions = [], handlers = [];
    const modules = app.modules || {};
    let httpRoutes = null;
    let crons = null;
    loadedRouter = null;
    actorsLoadBegin();
    for (const mod of Object.keys(modules)) {
        const exports = modules[mod];
        if (exports === null || (typeof exports !== "object" && typeof exports !== "function"))
            continue;
        if (app.files && typeof app.files[mod] === "string") {
            const special = reportSpecialModule(mod, app.files[mod], exports);
            if (special && special.routes) httpRoutes = special.routes;
            if (special && special.crons) crons = special.crons;
        }
        for (const name of Object.keys(exports)) {
            const info = registry.get(exports[name]);
            if (!info) {
                actorsLoadAdd(exports[name], `${mod}:${name}`);
                continue;
            }
            const add = (path) => {
                const args = info.args ? info.args.json : null;
                const returns = info.returns ? info.returns.json : null;
                functions.push({ path, kind: info.kind, internal: info.internal, args, returns });
                handlers.push(info.handler);
            };
            add(mod + ":" + name);
            if (name === "default") add(mod);
        }
    }
    /* components: registered as internal (clients cannot call them); the app may call their
     * public ones (componentInternal keeps which are not) */
    const comps = loadComponents(app, (path, info, args, returns) => {
        functions.push({ path, kind: info.kind, internal: true, args, returns });
        handlers.push(info.handler);
    });
    appFunctionPaths = new Set(functions.map((f) => f.path));
    for (const f of SYSTEM_FUNCTIONS) {
        functions.push({ path: f.path, kind: f.query ? QUERY : MUTATION, internal: true, args: null,
                         returns: null });
        handlers.push(f.handler);
    }
    if (httpRoutes) { /* the action the server runs for each request to a route (56_http.js) */
        functions.push({ path: HTTP_SYSTEM_ACTION.path, kind: ACTION, internal: true, args: null,
                         returns: null });
        handlers.push(HTTP_SYSTEM_ACTION.handler);
    }
    internalPaths = new Set(functions.filter((f) => f.internal).map((f) => f.path));
    for (const c of metaCache) c.clear();
    let schema = null;
    let s = app.schema;
    if (s !== undefined && s !== null && !(s instanceof SchemaDefinition) &&
        s.default instanceof SchemaDefinition)
        s = s.default;
    if (s !== undefined && s !== null) {
        if (!(s instanceof SchemaDefinition))
            throw new Error("schema: expected the default export of defineSchema(...)");
        schema = s.export();
        schemaIndexes = s.indexMap();
    } else {
        schemaIndexes = null;
    }
    if (comps !== null && Object.keys(comps.crons).length > 0) {
        const all = crons === null ? {} : JSON.parse(crons);
        for (const id of Object.keys(comps.crons)) {
            if (Object.prototype.hasOwnProperty.call(all, id))
                throw new Error(`crons: the app's cron job \`${id}\` has the name of a ` +
                    "component's job; rename it");
            all[id] = comps.crons[id];
        }
        crons = JSON.stringify(all);
    }
    if (comps !== null) { /* one schema for the store: the app's tables and the components' */
        const merged = schema === null ? { tables: {}, schemaValidation: true, appSchema: false } :
            JSON.parse(schema);
        Object.assign(merged.tables, comps.tables);
        merged.schemaless = comps.schemaless;
        merged.namespaces = comps.namespaces;
        schema = JSON.stringify(merged);
        schemaIndexes = Object.assign(schemaIndexes || {}, comps.indexes);
    }
    let authConfig = null;
    if (app.authConfig !== undefined && app.authConfig !== null) {
        let c = app.authConfig;
        if (c && typeof c === "object" && c.default !== undefined) c = c.default;
        try {
            authConfig = JSON.stringify(c);
        } catch (e) {
            throw new Error(`auth.config: the default export is not plain data: ${e.message}`);
        }
        if (typeof authConfig !== "string")
            throw new Error("auth.config: the default export must be {providers: [...]}");
    }
    return { functions: JSON.stringify(functions), schema, handlers, crons, authConfig,
             httpRoutes: httpRoutes ? JSON.stringify(httpRoutes) : null,
             actors: actorsLoadEnd() };
}

globalThis.__vireo = Object.freeze({
    query: (def) => register(QUERY, false, def),
    mutation: (def) => register(MUTATION, false, def),
    action: (def) => register(ACTION, false, def),
    internalQuery: (def) => register(QUERY, true, def),
    internalMutation: (def) => register(MUTATION, true, def),
    internalAction: (def) => register(ACTION, true, def),
    v,
    defineSchema,
    defineTable,
    VireoError,
    ConvexError: VireoError,
    api: makeReference([]),
    internal: makeReference([]),
    anyApi: makeReference([]),
    getFunctionName: publicFunctionName,
    compareValues,
    zocket: Object.freeze({ actor, middleware, createApp, setup, MiddlewareBuilder }),
});

/* the bundle's top-level code ends with a call to this (runtime.c appends it): the jobs it
 * queued are watched like a function's; removed once the bundle ran */
Object.defineProperty(globalThis, "__vr_watch_load", {
    value: () => watchArm(null),
    configurable: true,
    enumerable: false,
    writable: false,
});

Object.defineProperty(globalThis, "__vr_internal", {
    value: { run, load: watched(load), settle: watched(settle), abandon,
             undone: watched(actorsUndone) },
    configurable: true,
    enumerable: false,
    writable: true,
});
