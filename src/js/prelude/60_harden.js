/* harden: runs last, before the app's bundle. (1) Size caps on the built-ins that allocate a
 * large block in one native step (ArrayBuffer, typed arrays, Array.prototype.fill and join,
 * String.prototype.repeat, padStart/padEnd): past the memory limit (native.params[5], bytes) they throw MemoryLimit at
 * once instead of allocating; the runtime's periodic heap check covers everything else. (2) The
 * intrinsics are frozen, so that no function can change what later calls see
 * (`Object.prototype.x = 1` throws in strict code). Properties that app code commonly shadows on
 * instances (constructor, toString, an Error's name and message, ...) become accessors whose
 * setter defines the property on the instance: assigning them keeps working ("override
 * mistake" taming, as SES does). */

const memoryLimit = native.params[5];

function memoryError(what, bytes) {
    const mib = Math.round(memoryLimit / 1048576);
    const e = new RangeError(`${what} of ${bytes} bytes exceeds the memory limit of ${mib} MiB`);
    e.code = "MemoryLimit";
    return e;
}

function checkBytes(what, bytes) {
    if (bytes > memoryLimit) throw memoryError(what, bytes);
}

const realReflectConstruct = Reflect.construct;
const realReflectApply = Reflect.apply;

/* Replaces owner[name] with a proxy whose construct (and call) traps pass the arguments through
 * `check(args)`, which throws, or returns the arguments to use instead (undefined: the same). */
function guardConstructor(name, check, owner = globalThis) {
    const C = owner[name];
    if (typeof C !== "function") return;
    const P = new Proxy(C, {
        construct(target, args, newTarget) {
            return realReflectConstruct(target, check(args) ?? args,
                                        newTarget === P ? target : newTarget);
        },
        apply(target, self, args) {
            return realReflectApply(target, self, check(args) ?? args);
        },
    });
    Object.defineProperty(C.prototype, "constructor",
                          { value: P, writable: true, enumerable: false, configurable: true });
    Object.defineProperty(owner, name,
                          { value: P, writable: true, enumerable: false, configurable: true });
}

const lengthOf = (x) => {
    if (x === null || typeof x !== "object") return 0;
    if (x instanceof ArrayBuffer) return 0; /* a view on an existing buffer allocates nothing */
    const n = x.length;
    return typeof n === "number" ? n : 0;
};

/* a resizable buffer is charged its maximum: resize() can reach it in one step */
const bufferBytes = (a) => {
    const max = a[1] !== null && typeof a[1] === "object" ? Number(a[1].maxByteLength) || 0 : 0;
    return Math.max(Number(a[0]) || 0, max);
};
guardConstructor("ArrayBuffer", (a) => checkBytes("ArrayBuffer", bufferBytes(a)));
guardConstructor("SharedArrayBuffer", (a) => checkBytes("SharedArrayBuffer", bufferBytes(a)));
for (const name of ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
                    "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array",
                    "BigInt64Array", "BigUint64Array"]) {
    const C = globalThis[name];
    if (typeof C !== "function") continue;
    const size = C.BYTES_PER_ELEMENT;
    guardConstructor(name, (a) => {
        const n = a[0] !== null && typeof a[0] === "object" ? lengthOf(a[0]) : Number(a[0]) || 0;
        checkBytes(name, n * size);
    });
}
/* Array is left alone: a proxy as Array.prototype.constructor sends every map/filter/slice
 * through the generic species path (2-3x slower), and replacing only the global would break
 * `[].constructor === Array`. `new Array(n)` may allocate up to ~1 GiB at once (JSC's largest
 * contiguous array) before the next tick stops the function. */

/* Nothing may block a function's thread (the loop's, for mutations): `Atomics.wait` throws, as
 * on a browser's main thread, and shared WebAssembly memories (the only SharedArrayBuffers here:
 * the global is absent) are refused, so that neither it nor a module's `memory.atomic.wait32`
 * has a shared memory to wait on. Neither wait can be interrupted by the time limit. */
const noSharedMemory = (what) =>
    `${what}: shared memories are not supported (no other thread could share one, and waiting ` +
    `on it would block the server's thread)`;
if (typeof Atomics === "object" && typeof Atomics.wait === "function")
    replaceMethod(Atomics, "wait", () => ({
        wait() {
            throw new TypeError("Atomics.wait cannot be called in this context: a function " +
                "must not block its thread");
        },
    }).wait);

/* WebAssembly memories, charged their pages (64 KiB each) as they are made or grown, and given a
 * maximum within the limit: a Memory's pages are committed as they are touched, in native steps
 * (a typed array's fill over its buffer, the module's own code) that the periodic heap check
 * cannot stop before the process has grown by gigabytes. A module's own memories get the same
 * maximum by a rewrite of its memory section before it compiles, so that `memory.grow` inside it
 * fails (-1) at the limit rather than committing past it. */
const WASM_PAGE = 65536;
const wasmMaxPages = Math.max(1, Math.floor(memoryLimit / WASM_PAGE));

/* An unsigned LEB128 at b[i] (at most 5 bytes: a u32): [value, next index], or null. */
function leb(b, i) {
    let v = 0, shift = 0;
    for (let k = 0; k < 5 && i < b.length; k++, i++) {
        v += (b[i] & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b[i] & 0x80)) return [v, i + 1];
    }
    return null;
}

function lebBytes(v) {
    const out = [];
    do {
        let byte = v % 128;
        v = Math.floor(v / 128);
        if (v > 0) byte |= 0x80;
        out.push(byte);
    } while (v > 0);
    return out;
}

/* The module's bytes with each memory it defines given a maximum of at most wasmMaxPages; the
 * bytes unchanged when they are not a module this understands (its compile then says why). A
 * memory whose minimum alone is past the limit throws MemoryLimit. */
function clampWasmMemories(source) {
    let b;
    if (source instanceof ArrayBuffer) b = new Uint8Array(source);
    else if (ArrayBuffer.isView(source))
        b = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    else return source;
    if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d ||
        b[4] !== 1 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0)
        return source;
    for (let i = 8; i < b.length;) {
        const id = b[i];
        const size = leb(b, i + 1);
        if (!size || size[1] + size[0] > b.length) return source;
        const start = size[1], end = start + size[0];
        if (id === 5) {
            const count = leb(b, start);
            if (!count) return source;
            const body = lebBytes(count[0]);
            let j = count[1], changed = false;
            for (let m = 0; m < count[0]; m++) {
                const flags = b[j];
                if (flags === undefined || flags > 3) return source; /* memory64: left to JSC */
                if (flags & 2) {
                    const CompileError = globalThis.WebAssembly.CompileError;
                    throw new CompileError(noSharedMemory("WebAssembly.Module"));
                }
                const min = leb(b, j + 1);
                if (!min) return source;
                let max = null;
                j = min[1];
                if (flags & 1) {
                    max = leb(b, j);
                    if (!max) return source;
                    j = max[1];
                }
                if (min[0] > wasmMaxPages)
                    throw memoryError("a WebAssembly module's memory", min[0] * WASM_PAGE);
                const clamped = max === null ? wasmMaxPages : Math.min(max[0], wasmMaxPages);
                if (max === null || clamped !== max[0]) changed = true;
                body.push(flags | 1, ...lebBytes(min[0]), ...lebBytes(clamped));
            }
            if (j !== end || !changed) return source;
            const out = new Uint8Array(b.length - size[0] + body.length + 5);
            out.set(b.subarray(0, i + 1), 0);
            const head = lebBytes(body.length);
            out.set(head, i + 1);
            out.set(body, i + 1 + head.length);
            out.set(b.subarray(end), i + 1 + head.length + body.length);
            return out.subarray(0, i + 1 + head.length + body.length + (b.length - end));
        }
        i = end;
    }
    return source;
}

if (globalThis.WebAssembly !== null && typeof globalThis.WebAssembly === "object") {
    const W = globalThis.WebAssembly;
    const RealMemory = W.Memory;
    if (typeof RealMemory === "function") {
        guardConstructor("Memory", (args) => {
            const d = args[0];
            if (d === null || typeof d !== "object") return args;
            const initial = d.initial, maximum = d.maximum, shared = d.shared;
            if (shared) throw new TypeError(noSharedMemory("WebAssembly.Memory"));
            const pages = Number(initial) || 0;
            if (pages > wasmMaxPages) throw memoryError("WebAssembly.Memory", pages * WASM_PAGE);
            /* what the real constructor refuses (a maximum below the initial size, past 65,536
             * pages, or not a number) goes to it unchanged, to be refused as it would be */
            const m = maximum === undefined ? wasmMaxPages : Number(maximum);
            if (Number.isNaN(m) || m < pages || m > 65536) return args;
            return [{ initial, maximum: Math.min(m, wasmMaxPages) }, ...args.slice(1)];
        }, W);
        replaceMethod(RealMemory.prototype, "grow", (real) => ({
            grow(delta) {
                const now = this.buffer.byteLength;
                const bytes = now + (Number(delta) || 0) * WASM_PAGE;
                if (bytes > wasmMaxPages * WASM_PAGE)
                    throw memoryError("WebAssembly.Memory.prototype.grow()", bytes);
                return realReflectApply(real, this, arguments);
            },
        }).grow);
    }
    guardConstructor("Module", (args) => [clampWasmMemories(args[0]), ...args.slice(1)], W);
}

function replaceMethod(proto, name, make) {
    const real = proto[name];
    Object.defineProperty(proto, name,
                          { value: make(real), writable: true, enumerable: false,
                            configurable: true });
}

function relIndex(x, len, dflt) {
    if (x === undefined) return dflt;
    const n = Math.trunc(Number(x)) || 0;
    return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
}

for (const name of ["transfer", "transferToFixedLength"]) {
    if (typeof ArrayBuffer.prototype[name] !== "function") continue;
    replaceMethod(ArrayBuffer.prototype, name, (real) => ({
        [name](length) {
            if (length !== undefined) checkBytes(`ArrayBuffer.prototype.${name}()`,
                                                 Number(length) || 0);
            return realReflectApply(real, this, arguments);
        },
    })[name]);
}
replaceMethod(Array.prototype, "fill", (real) => ({
    fill(value, start, end) {
        const len = this.length >>> 0;
        const from = relIndex(start, len, 0), to = relIndex(end, len, len);
        if (to > from) checkBytes("Array.prototype.fill()", (to - from) * 8);
        return realReflectApply(real, this, arguments);
    },
}).fill);
replaceMethod(Array.prototype, "join", (real) => ({
    join(sep) {
        const len = this.length >>> 0;
        const s = sep === undefined ? 1 : String(sep).length;
        if (len > 1) checkBytes("Array.prototype.join()", (len - 1) * s * 2);
        return realReflectApply(real, this, arguments);
    },
}).join);
replaceMethod(String.prototype, "repeat", (real) => ({
    repeat(count) {
        const n = Number(count);
        if (n > 0) checkBytes("String.prototype.repeat()", String(this).length * n * 2);
        return realReflectApply(real, this, arguments);
    },
}).repeat);
for (const name of ["padStart", "padEnd"]) {
    replaceMethod(String.prototype, name, (real) => ({
        [name](maxLength) {
            const n = Number(maxLength);
            if (n > 0) checkBytes(`String.prototype.${name}()`, n * 2);
            return realReflectApply(real, this, arguments);
        },
    })[name]);
}

/* ---- frozen intrinsics ---- */

const INTRINSIC_GLOBALS = [
    "Object", "Function", "Array", "String", "Number", "Boolean", "Symbol", "BigInt", "Promise",
    "Map", "Set", "WeakMap", "WeakSet", "WeakRef", "FinalizationRegistry", "RegExp", "Date",
    "Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError",
    "AggregateError", "JSON", "Math", "Reflect", "Proxy", "ArrayBuffer", "SharedArrayBuffer",
    "DataView", "Atomics", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
    "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array",
    "BigInt64Array", "BigUint64Array", "Intl", "Iterator", "console", "fetch", "parseInt",
    "parseFloat", "isNaN", "isFinite", "encodeURI", "encodeURIComponent", "decodeURI",
    "decodeURIComponent", "escape", "unescape", "queueMicrotask", "process", "globalThis",
    "WebAssembly",
    "Convex", /* 55_convex.js: Convex's runtime global */
    /* web APIs (56_dom_exception.js to 59_timers.js) */
    "DOMException", "TextEncoder", "TextDecoder", "URL", "URLSearchParams", "atob", "btoa",
    "structuredClone", "crypto", "Crypto", "SubtleCrypto", "CryptoKey", "Blob", "File",
    "FormData", "Headers", "Request", "Response", "AbortController", "AbortSignal", "setTimeout", "clearTimeout", "setInterval", "clearInterval",
    /* 57_streams.js */
    "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamDefaultController",
    "WritableStream", "WritableStreamDefaultWriter", "WritableStreamDefaultController",
    "TransformStream", "TransformStreamDefaultController", "ByteLengthQueuingStrategy",
    "CountQueuingStrategy", "TextEncoderStream", "TextDecoderStream",
];

/* Intrinsics that no global names. */
const hiddenIntrinsics = [
    RealDate,
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(""[Symbol.iterator]()),
    Object.getPrototypeOf(/x/[Symbol.matchAll](""))
];

/* Names that code assigns on instances and expects to shadow the prototype's. */
const SHADOWED = ["constructor", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
                  "isPrototypeOf", "propertyIsEnumerable", "name", "message"];

function tame(obj) {
    for (const key of SHADOWED) {
        const d = Object.getOwnPropertyDescriptor(obj, key);
        if (!d || !("value" in d) || !d.configurable) continue;
        const value = d.value;
        Object.defineProperty(obj, key, {
            get() { return value; },
            set(x) {
                /* the built-in itself: nothing changes, as an assignment to a frozen property
                 * in sloppy code (an app's bundle is): a library doing `Sub.prototype =
                 * Date.prototype; Sub.prototype.constructor = Sub` (@convex-dev/workflow) goes on */
                if (this === obj)
                    return;
                Object.defineProperty(this, key,
                                      { value: x, writable: true, enumerable: true,
                                        configurable: true });
            },
            enumerable: d.enumerable,
            configurable: false,
        });
    }
}

function harden(roots) {
    const seen = new Set();
    const todo = roots.slice();
    while (todo.length) {
        const x = todo.pop();
        if (x === null || (typeof x !== "object" && typeof x !== "function") || seen.has(x))
            continue;
        seen.add(x);
        if (x === globalThis) continue;
        const isProto = typeof x === "object" && Object.prototype.hasOwnProperty.call(x,
                                                                                    "constructor");
        if (isProto || x === Function.prototype) tame(x);
        for (const k of Reflect.ownKeys(x)) {
            const d = Object.getOwnPropertyDescriptor(x, k);
            if (!d) continue;
            if ("value" in d) todo.push(d.value);
            else todo.push(d.get, d.set);
        }
        todo.push(Object.getPrototypeOf(x));
        Object.freeze(x);
    }
}

/* Globals a library may replace for the length of one call (@convex-dev/workflow's
 * deterministic environment assigns these and puts them back): accessors over a slot each, set
 * by assignment, never redefinable, and put back at the start of every execution (run), so no
 * call changes what a later one sees. (Actions suspended together on one worker see each
 * other's until the next one starts.) Every other global binding is read-only. */
const CALL_PATCHABLE = ["Math", "Date", "console", "process", "crypto", "Crypto", "CryptoKey",
                        "SubtleCrypto"];
const patchSlots = [];
let globalsPatched = false;
function restoreGlobals() {
    for (const s of patchSlots) s.cur = s.orig;
    globalsPatched = false;
}

{
    const roots = hiddenIntrinsics.slice();
    for (const name of INTRINSIC_GLOBALS) {
        if (!Object.prototype.hasOwnProperty.call(globalThis, name) || name === "globalThis")
            continue;
        roots.push(globalThis[name]);
        if (CALL_PATCHABLE.includes(name)) {
            const slot = { orig: globalThis[name], cur: globalThis[name] };
            patchSlots.push(slot);
            const d = Object.getOwnPropertyDescriptor(globalThis, name);
            Object.defineProperty(globalThis, name, {
                get() { return slot.cur; },
                set(v) { slot.cur = v; globalsPatched = true; },
                enumerable: d.enumerable,
                configurable: false,
            });
            continue;
        }
        Object.defineProperty(globalThis, name, { writable: false, configurable: false });
    }
    /* the app's own objects (its bundle, __vireo_app) stay writable */
    harden(roots);
}
