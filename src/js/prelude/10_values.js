/* values: Vireo's value model in JS. encode() turns a JS value into value.h JSON text (BigInt ->
 * {"$integer"}, ArrayBuffer -> {"$bytes"}, NaN/±Infinity/-0 -> {"$float"}, undefined object
 * fields dropped) and rejects what cannot be stored; decode() is its inverse. Both only walk or
 * revive when needed. compareValues() is Convex's cross-type order (objects by sorted keys). */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_REV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_REV[B64.charCodeAt(i)] = i;
B64_REV[45] = 62; /* '-' */
B64_REV[95] = 63; /* '_' */

/* Up to B64_CHUNK digits at a time become a flat string of their own (String.fromCharCode over a
 * code array), joined once at the end: `s += four digits` per group made a rope of one string
 * node per group, which for an 8 MiB value held ~9 million strings (~300 MB of heap) until it
 * was flattened. */
const B64_CHUNK = 32768; /* digits per chunk: a multiple of 4, under JSC's argument limit */
const B64_CODES = new Uint8Array(64);
for (let i = 0; i < 64; i++) B64_CODES[i] = B64.charCodeAt(i);
const b64Digits = new Uint16Array(B64_CHUNK);
const fromCharCode = String.fromCharCode;

function base64Encode(bytes) {
    const parts = [];
    const full = bytes.length - (bytes.length % 3);
    let k = 0;
    for (let i = 0; i < full; i += 3) {
        const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
        b64Digits[k++] = B64_CODES[n >> 18];
        b64Digits[k++] = B64_CODES[(n >> 12) & 63];
        b64Digits[k++] = B64_CODES[(n >> 6) & 63];
        b64Digits[k++] = B64_CODES[n & 63];
        if (k === B64_CHUNK) {
            parts.push(fromCharCode.apply(null, b64Digits));
            k = 0;
        }
    }
    if (k > 0) parts.push(fromCharCode.apply(null, b64Digits.subarray(0, k)));
    const rest = bytes.length - full;
    if (rest === 1) {
        const n = bytes[full] << 16;
        parts.push(B64[n >> 18] + B64[(n >> 12) & 63] + "==");
    } else if (rest === 2) {
        const n = (bytes[full] << 16) | (bytes[full + 1] << 8);
        parts.push(B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=");
    }
    return parts.length === 1 ? parts[0] : parts.join("");
}

function base64Decode(s) {
    let len = s.length;
    while (len > 0 && s.charCodeAt(len - 1) === 61) len--;
    const out = new Uint8Array((len * 3) >> 2);
    let acc = 0, bits = 0, o = 0;
    for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        const d = c < 128 ? B64_REV[c] : -1;
        if (d < 0) throw new Error("invalid base64 in a value");
        acc = (acc << 6) | d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (acc >> bits) & 0xff;
            acc &= (1 << bits) - 1;
        }
    }
    return out.buffer.slice(0, o);
}

const scratch8 = new DataView(new ArrayBuffer(8));

function int64ToWire(b) {
    if (BigInt.asIntN(64, b) !== b) throw new Error(`BigInt ${b} does not fit in a 64-bit integer`);
    scratch8.setBigInt64(0, b, true);
    return { $integer: base64Encode(new Uint8Array(scratch8.buffer)) };
}

function floatToWire(n) {
    scratch8.setFloat64(0, n, true);
    return { $float: base64Encode(new Uint8Array(scratch8.buffer)) };
}

function wireBytes8(s, what) {
    const buf = base64Decode(s);
    if (buf.byteLength !== 8) throw new Error(`malformed ${what} value`);
    return new DataView(buf);
}

/* A value's depth is how many arrays and objects enclose its deepest part, the outermost one
 * counted: `1` is 0 deep, `{a: 1}` 1, `{a: [1]}` 2. src/store/value.c (VALUE_MAX_DEPTH) counts
 * the same way. */
const MAX_DEPTH = 64;

function describeType(v) {
    if (v === null) return "null";
    if (typeof v !== "object") return typeof v;
    if (Array.isArray(v)) return "array";
    const proto = Object.getPrototypeOf(v);
    const name = proto && proto.constructor && proto.constructor.name;
    return name ? name : "object";
}

/* Convex's db.vars.commitTs (convex 1.48): a placeholder a mutation writes into a document field,
 * which becomes the mutation's commit timestamp, an int64. Here that is known when the write is
 * made (the store version the mutation commits at: src/js/native_meta.c), so the write stores the
 * number itself; anywhere else (arguments, results, scheduled calls) the placeholder is refused
 * with Convex's text, as it cannot be resolved there. */
const COMMIT_TS_UNRESOLVED = "This commit timestamp is unresolved: its value is assigned when " +
    "the mutation commits. Read the document after the mutation completes to get its value.";
class CommitTsPlaceholder {
    [Symbol.toPrimitive](hint) {
        if (hint === "string") return this.toString();
        throw new Error(COMMIT_TS_UNRESOLVED);
    }
    valueOf() { throw new Error(COMMIT_TS_UNRESOLVED); }
    toJSON() { throw new Error(COMMIT_TS_UNRESOLVED); }
    toString() { return "[unresolved commit timestamp]"; }
}
const commitTsPlaceholder = new CommitTsPlaceholder();
/* the writes whose values may hold the placeholder (their `where`) */
const COMMIT_TS_WRITES = ["db.insert()", "db.patch()", "db.replace()"];

/* A placeholder met by toWire: the commit timestamp in a write, Convex's wire form for
 * convexToJson(), an error elsewhere. */
function commitTsToWire(where) {
    if (COMMIT_TS_WRITES.includes(where)) return int64ToWire(BigInt(native.commitTs()));
    if (where === "convexToJson()") return { $commitTs: null };
    throw new Error(`${where}: ${COMMIT_TS_UNRESOLVED}`);
}

/* Returns v itself when it needs no change, else a converted copy. */
function toWire(v, depth, where) {
    switch (typeof v) {
    case "string":
    case "boolean":
        return v;
    case "number":
        return Number.isFinite(v) && !Object.is(v, -0) ? v : floatToWire(v);
    case "bigint":
        return int64ToWire(v);
    case "object":
        break;
    default:
        throw new Error(`${where}: ${typeof v === "undefined" ? "undefined" : describeType(v)
            } is not a supported value`);
    }
    if (v === null) return null;
    if (depth >= MAX_DEPTH && !(v instanceof ArrayBuffer)) {
        const e = new Error(`${where}: value is nested more than ${MAX_DEPTH} levels deep`);
        e.code = "ValueTooDeep";
        throw e;
    }
    if (Array.isArray(v)) {
        let out = v;
        for (let i = 0; i < v.length; i++) {
            const e = v[i];
            if (e === undefined)
                throw new Error(`${where}: undefined is not a valid array element`);
            const c = toWire(e, depth + 1, where);
            if (c !== e) {
                if (out === v) out = v.slice();
                out[i] = c;
            }
        }
        return out;
    }
    if (v instanceof ArrayBuffer) return { $bytes: base64Encode(new Uint8Array(v)) };
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
        if (v instanceof CommitTsPlaceholder) return commitTsToWire(where);
        throw new Error(`${where}: ${describeType(v)} is not a supported value (use plain ` +
            `objects)`);
    }
    let out = v;
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        if (k.charCodeAt(0) === 36)
            throw new Error(`${where}: field name \`${k}\` may not start with '$'`);
        const e = v[k];
        if (e === undefined) {
            if (out === v) out = Object.assign({}, v);
            delete out[k];
            continue;
        }
        const c = toWire(e, depth + 1, where);
        if (c !== e) {
            if (out === v) out = Object.assign({}, v);
            out[k] = c;
        }
    }
    return out;
}

/* JS value -> value.h JSON text; undefined becomes "null". */
function encode(v, where) {
    if (v === undefined) return "null";
    return JSON.stringify(toWire(v, 0, where || "value"));
}

function revive(k, val) {
    if (val !== null && typeof val === "object" && !Array.isArray(val)) {
        if (typeof val.$integer === "string")
            return wireBytes8(val.$integer, "$integer").getBigInt64(0, true);
        if (typeof val.$float === "string")
            return wireBytes8(val.$float, "$float").getFloat64(0, true);
        if (typeof val.$bytes === "string") return base64Decode(val.$bytes);
        if (val.$commitTs === null && Object.keys(val).length === 1) return commitTsPlaceholder;
    }
    return val;
}

/* value.h JSON text -> JS value; the reviver only runs if a '$'-wrapper may be present. */
function decode(text) {
    return text.indexOf("\"$") < 0 ? JSON.parse(text) : JSON.parse(text, revive);
}

/* Convex's order: undefined < null < int64 < number < boolean < string < bytes < array < object. */
function typeRank(v) {
    switch (typeof v) {
    case "undefined": return 0;
    case "bigint": return 2;
    case "number": return 3;
    case "boolean": return 4;
    case "string": return 5;
    case "object":
        if (v === null) return 1;
        if (v instanceof ArrayBuffer) return 6;
        if (Array.isArray(v)) return 7;
        return 8;
    }
    return 9;
}

function compareNumbers(a, b) {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) {
        if (a !== 0) return 0;
        const na = Object.is(a, -0), nb = Object.is(b, -0);
        return na === nb ? 0 : na ? -1 : 1;
    }
    const an = Number.isNaN(a), bn = Number.isNaN(b);
    return an && bn ? 0 : an ? 1 : -1;
}

/* By Unicode code point (UTF-8 byte order), not UTF-16 code unit. */
function compareStrings(a, b) {
    if (a === b) return 0;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
        let ca = a.charCodeAt(i), cb = b.charCodeAt(i);
        if (ca === cb) continue;
        if (ca >= 0xd800 && cb >= 0xd800) {
            ca += ca >= 0xe000 ? -0x800 : 0x2000;
            cb += cb >= 0xe000 ? -0x800 : 0x2000;
        }
        return ca < cb ? -1 : 1;
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareValues(a, b) {
    const ra = typeRank(a), rb = typeRank(b);
    if (ra !== rb) return ra < rb ? -1 : 1;
    switch (ra) {
    case 0: case 1: return 0;
    case 2: return a < b ? -1 : a > b ? 1 : 0;
    case 3: return compareNumbers(a, b);
    case 4: return a === b ? 0 : a ? 1 : -1;
    case 5: return compareStrings(a, b);
    case 6: {
        const x = new Uint8Array(a), y = new Uint8Array(b);
        const n = Math.min(x.length, y.length);
        for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
        return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case 7: {
        const n = Math.min(a.length, b.length);
        for (let i = 0; i < n; i++) {
            const c = compareValues(a[i], b[i]);
            if (c !== 0) return c;
        }
        return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
    }
    case 8: {
        /* fields in sorted key order, as index keys (key.c) and Convex compare objects */
        const ka = Object.keys(a).sort(compareStrings), kb = Object.keys(b).sort(compareStrings);
        const n = Math.min(ka.length, kb.length);
        for (let i = 0; i < n; i++) {
            let c = compareStrings(ka[i], kb[i]);
            if (c === 0) c = compareValues(a[ka[i]], b[kb[i]]);
            if (c !== 0) return c;
        }
        return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
    }
    }
    return 0;
}

/* Errors that carry data to the client (Convex's ConvexError). */
class VireoError extends Error {
    constructor(data) {
        /* Convex's message (stringifyValueForError): the data as JSON, a BigInt as "5n" */
        let message;
        if (typeof data === "string") {
            message = data;
        } else {
            try {
                message = JSON.stringify(data, (_k, x) =>
                    x === undefined ? "undefined" : typeof x === "bigint" ? `${x}n` : x);
            } catch (e) {
                message = String(data);
            }
        }
        super(message);
        this.name = "VireoError";
        this.data = data;
    }
}
