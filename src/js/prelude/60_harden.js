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

/* Replaces globalThis[name] with a proxy whose construct (and call) traps check `check(args)`. */
function guardConstructor(name, check) {
    const C = globalThis[name];
    if (typeof C !== "function") return;
    const P = new Proxy(C, {
        construct(target, args, newTarget) {
            check(args);
            return realReflectConstruct(target, args, newTarget === P ? target : newTarget);
        },
        apply(target, self, args) {
            check(args);
            return realReflectApply(target, self, args);
        },
    });
    Object.defineProperty(C.prototype, "constructor",
                          { value: P, writable: true, enumerable: false, configurable: true });
    globalThis[name] = P;
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
                if (this === obj)
                    throw new TypeError(`Attempted to assign to readonly property ` +
                        `\`${key}\` of a built-in`);
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

{
    const roots = hiddenIntrinsics.slice();
    for (const name of INTRINSIC_GLOBALS) {
        if (!Object.prototype.hasOwnProperty.call(globalThis, name) || name === "globalThis")
            continue;
        roots.push(globalThis[name]);
        Object.defineProperty(globalThis, name, { writable: false, configurable: false });
    }
    /* the app's own objects (its bundle, __vireo_app) stay writable */
    harden(roots);
}
