// Convex JSON encoding of values, both ways, plus canonical JSON for query keys.
// Out: BigInt -> {"$integer": b64 LE8}, ArrayBuffer/views -> {"$bytes": b64},
// NaN/±Infinity/-0 -> {"$float": b64 LE8}. In: the reverse, only for objects with exactly that
// one key and a string value. Both directions copy on write: a value needing no conversion is
// returned as is (same reference), so plain JSON costs one walk and no allocation.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const hasBuffer = typeof Buffer === "function" && typeof Buffer.from === "function";

export function bytesToBase64(u8) {
    if (hasBuffer) return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString("base64");
    let s = "";
    for (let i = 0; i < u8.length; i += 0x8000)
        s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(s);
}

export function base64ToBytes(b64) {
    if (hasBuffer) {
        const b = Buffer.from(b64, "base64");
        const u8 = new Uint8Array(b.length);
        u8.set(b);
        return u8;
    }
    const s = atob(b64);
    const u8 = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u8[i] = s.charCodeAt(i);
    return u8;
}

function le8(setter, v) {
    const dv = new DataView(new ArrayBuffer(8));
    dv[setter](0, v, true);
    return bytesToBase64(new Uint8Array(dv.buffer));
}

function read8(b64, what) {
    const u8 = base64ToBytes(b64);
    if (u8.length !== 8) throw new TypeError(`${what}: expected 8 bytes, got ${u8.length}`);
    return new DataView(u8.buffer);
}

function isSpecialFloat(n) {
    return !Number.isFinite(n) || Object.is(n, -0);
}

function isPlainObject(v) {
    const p = Object.getPrototypeOf(v);
    return p === Object.prototype || p === null;
}

function describe(v) {
    if (typeof v === "function") return "a function";
    if (typeof v === "symbol") return "a symbol";
    const name = v?.constructor?.name;
    return name ? `a ${name}` : "an object";
}

function encodeAt(v, path) {
    switch (typeof v) {
    case "string":
    case "boolean":
        return v;
    case "number":
        return isSpecialFloat(v) ? { $float: le8("setFloat64", v) } : v;
    case "bigint":
        if (v < INT64_MIN || v > INT64_MAX)
            throw new TypeError(`${path}: BigInt ${v} does not fit in a 64-bit signed integer`);
        return { $integer: le8("setBigInt64", v) };
    case "object": {
        if (v === null) return null;
        if (v instanceof ArrayBuffer) return { $bytes: bytesToBase64(new Uint8Array(v)) };
        if (ArrayBuffer.isView(v))
            return { $bytes: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
        if (Array.isArray(v)) {
            let out = v;
            for (let i = 0; i < v.length; i++) {
                if (v[i] === undefined)
                    throw new TypeError(`${path}[${i}]: undefined is not a valid array element`);
                const e = encodeAt(v[i], `${path}[${i}]`);
                if (e !== v[i]) {
                    if (out === v) out = v.slice();
                    out[i] = e;
                }
            }
            return out;
        }
        if (!isPlainObject(v))
            throw new TypeError(`${path}: ${describe(v)} is not a value Vireo can send`);
        let out = v;
        const keys = Object.keys(v);
        if (keys.length === 1 && (keys[0] === "$integer" || keys[0] === "$bytes" ||
                                  keys[0] === "$float"))
            throw new TypeError(`${path}: an object whose only field is "${keys[0]}" is reserved`);
        for (const k of keys) {
            const f = v[k];
            if (f === undefined) { // omitted, as JSON.stringify does
                if (out === v) out = { ...v };
                delete out[k];
                continue;
            }
            const e = encodeAt(f, `${path}.${k}`);
            if (e !== f) {
                if (out === v) out = { ...v };
                out[k] = e;
            }
        }
        return out;
    }
    default:
        throw new TypeError(`${path}: ${v === undefined ? "undefined" : describe(v)} is not a value Vireo can send`);
    }
}

/** Converts a JS value to its JSON-ready Convex encoding (throws TypeError on unsupported values). */
export function encodeValue(v) {
    return encodeAt(v, "value");
}

/** Encodes function arguments: undefined/null mean {}; anything else must be a plain object. */
export function encodeArgs(args) {
    if (args === undefined || args === null) return {};
    if (typeof args !== "object" || Array.isArray(args) || !isPlainObject(args))
        throw new TypeError("args must be a plain object");
    return encodeAt(args, "args");
}

/** Converts a decoded-from-JSON Convex value back to JS (BigInt, ArrayBuffer, special floats). */
export function decodeValue(v) {
    if (typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) {
        let out = v;
        for (let i = 0; i < v.length; i++) {
            const d = decodeValue(v[i]);
            if (d !== v[i]) {
                if (out === v) out = v.slice();
                out[i] = d;
            }
        }
        return out;
    }
    let n = 0;
    let only;
    for (const k in v) {
        if (n++ === 0) only = k;
    }
    if (n === 1 && typeof v[only] === "string") {
        if (only === "$integer") return read8(v[only], "$integer").getBigInt64(0, true);
        if (only === "$float") return read8(v[only], "$float").getFloat64(0, true);
        if (only === "$bytes") return base64ToBytes(v[only]).buffer;
    }
    let out = v;
    for (const k in v) {
        const d = decodeValue(v[k]);
        if (d !== v[k]) {
            if (out === v) out = { ...v };
            out[k] = d;
        }
    }
    return out;
}

/** JSON with object keys sorted, for an already-encoded value: equal values, equal strings. */
export function canonicalJson(v) {
    if (typeof v !== "object" || v === null) return JSON.stringify(v);
    if (Array.isArray(v)) return "[" + v.map(canonicalJson).join(",") + "]";
    const keys = Object.keys(v).sort();
    let s = "{";
    for (let i = 0; i < keys.length; i++) {
        if (i) s += ",";
        s += JSON.stringify(keys[i]) + ":" + canonicalJson(v[keys[i]]);
    }
    return s + "}";
}

/** Key of a query in the client's store: its path and its canonical (key-sorted, encoded) args. */
export function keyOf(path, encodedArgs) {
    return JSON.stringify(path) + canonicalJson(encodedArgs);
}
