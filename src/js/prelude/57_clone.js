/* structuredClone: the HTML structured clone of a value, as Node does it: primitives, plain
 * objects and arrays (own enumerable string keys), Date, RegExp, Map, Set, ArrayBuffer, typed
 * arrays and DataView (views that shared a buffer share its clone), boxed primitives, Error
 * types, Blob and File, and cycles; other objects (class instances) become plain objects.
 * Functions, symbols, promises and weak collections throw DOMException DataCloneError
 * "<value> could not be cloned.". `transfer` is not supported (the values are copied).
 * Deterministic: available in queries and mutations too. */

const ERROR_TYPES = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError,
                      URIError };
const TYPED_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
                      Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array,
                      BigUint64Array].concat(typeof Float16Array === "function" ? [Float16Array]
                                                                                : []);
const UNCLONEABLE = [Promise, WeakMap, WeakSet, WeakRef, FinalizationRegistry];
const objectTag = (x) => Object.prototype.toString.call(x).slice(8, -1);

function cloneError(v) {
    if (typeof v === "symbol") return domError("DataCloneError", `${String(v)} could not be cloned.`);
    if (typeof v === "function") {
        let text;
        try {
            text = Function.prototype.toString.call(v);
        } catch (e) {
            text = "function";
        }
        return domError("DataCloneError", `${text} could not be cloned.`);
    }
    const name = v.constructor && typeof v.constructor.name === "string" ? v.constructor.name
                                                                         : "Object";
    return domError("DataCloneError", `#<${name}> could not be cloned.`);
}

function cloneInto(v, memo) {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) {
        if (typeof v === "symbol") throw cloneError(v);
        return v;
    }
    if (typeof v === "function") throw cloneError(v);
    const seen = memo.get(v);
    if (seen !== undefined) return seen;
    let out;
    const tag = objectTag(v);
    if (v instanceof ArrayBuffer) {
        out = v.slice(0);
        memo.set(v, out);
        return out;
    }
    if (ArrayBuffer.isView(v)) {
        const buf = cloneInto(v.buffer, memo);
        if (v instanceof DataView) out = new DataView(buf, v.byteOffset, v.byteLength);
        else {
            const C = TYPED_ARRAYS.find((T) => v instanceof T) || Uint8Array;
            out = new C(buf, v.byteOffset, v.length);
        }
        memo.set(v, out);
        return out;
    }
    for (const C of UNCLONEABLE) if (typeof C === "function" && v instanceof C)
        throw cloneError(v);
    if (tag === "Date") out = new RealDate(RealDate.prototype.getTime.call(v));
    else if (tag === "RegExp") out = new RegExp(v.source, v.flags);
    else if (tag === "Boolean" || tag === "Number" || tag === "String" || tag === "BigInt")
        out = Object(v.valueOf());
    else if (v instanceof Blob) out = blobClone(v);
    if (out !== undefined) {
        memo.set(v, out);
        return out;
    }
    if (v instanceof Map) {
        out = new Map();
        memo.set(v, out);
        for (const [k, x] of v) out.set(cloneInto(k, memo), cloneInto(x, memo));
        return out;
    }
    if (v instanceof Set) {
        out = new Set();
        memo.set(v, out);
        for (const x of v) out.add(cloneInto(x, memo));
        return out;
    }
    if (v instanceof Error) {
        const C = Object.prototype.hasOwnProperty.call(ERROR_TYPES, v.name) ? ERROR_TYPES[v.name]
                                                                            : Error;
        out = new C(v.message);
        memo.set(v, out);
        if (typeof v.stack === "string")
            Object.defineProperty(out, "stack", { value: v.stack, writable: true,
                                                  configurable: true });
        if ("cause" in v)
            Object.defineProperty(out, "cause", { value: cloneInto(v.cause, memo),
                                                  writable: true, configurable: true });
        return out;
    }
    out = Array.isArray(v) ? new Array(v.length) : {};
    memo.set(v, out);
    for (const k of Object.keys(v))
        Object.defineProperty(out, k, { value: cloneInto(v[k], memo), writable: true,
                                        enumerable: true, configurable: true });
    return out;
}

globalThis.structuredClone = function structuredClone(value, options) {
    if (arguments.length === 0) {
        const e = new TypeError('The "value" argument must be specified');
        e.code = "ERR_MISSING_ARGS";
        throw e;
    }
    return cloneInto(value, new Map());
};
