/* Encoding: TextEncoder and TextDecoder (UTF-8, as the Encoding Standard decodes it: maximal
 * subparts become U+FFFD, `fatal` throws instead, `ignoreBOM`, `stream: true` keeps an
 * incomplete sequence for the next call), and atob/btoa with the forgiving-base64 rules and
 * Node's DOMException texts. Deterministic: available in queries and mutations too. */

function utf8Encode(s) {
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii) {
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
        return out;
    }
    const out = new Uint8Array(utf8Length(s));
    utf8Write(s, out, n);
    return out;
}

function utf8Length(s) {
    let len = 0;
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) len += 1;
        else if (c < 0x800) len += 2;
        else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
                 (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { len += 4; i++; }
        else len += 3; /* BMP, or a lone surrogate written as U+FFFD */
    }
    return len;
}

/* Writes whole characters of s into out while they fit: [UTF-16 units read, bytes written]. */
function utf8Write(s, out, n) {
    let i = 0, j = 0;
    const cap = out.length;
    while (i < n) {
        let c = s.charCodeAt(i), units = 1;
        if (c >= 0xd800 && c <= 0xdfff) {
            const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
            if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
                units = 2;
            } else {
                c = 0xfffd;
            }
        }
        if (c < 0x80) {
            if (j + 1 > cap) break;
            out[j++] = c;
        } else if (c < 0x800) {
            if (j + 2 > cap) break;
            out[j++] = 0xc0 | (c >> 6);
            out[j++] = 0x80 | (c & 0x3f);
        } else if (c < 0x10000) {
            if (j + 3 > cap) break;
            out[j++] = 0xe0 | (c >> 12);
            out[j++] = 0x80 | ((c >> 6) & 0x3f);
            out[j++] = 0x80 | (c & 0x3f);
        } else {
            if (j + 4 > cap) break;
            out[j++] = 0xf0 | (c >> 18);
            out[j++] = 0x80 | ((c >> 12) & 0x3f);
            out[j++] = 0x80 | ((c >> 6) & 0x3f);
            out[j++] = 0x80 | (c & 0x3f);
        }
        i += units;
    }
    return [i, j];
}

class TextEncoder {
    get encoding() { return "utf-8"; }

    encode(input = "") {
        return utf8Encode(String(input));
    }

    encodeInto(source, destination) {
        if (!(destination instanceof Uint8Array))
            throw argTypeError("dest", "an instance of Uint8Array", destination);
        const s = String(source);
        const [read, written] = utf8Write(s, destination, s.length);
        return { read, written };
    }
}
Object.defineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: "TextEncoder" });

const UTF8_LABELS = ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8",
                     "x-unicode20utf8"];

function decodeError() {
    const e = new TypeError("The encoded data was not valid for encoding utf-8");
    e.code = "ERR_ENCODING_INVALID_ENCODED_DATA";
    return e;
}

class TextDecoder {
    #fatal; #ignoreBOM;
    /* the UTF-8 decoder's state between stream: true calls (Encoding Standard 4.5.1) */
    #cp = 0; #needed = 0; #seen = 0; #lower = 0x80; #upper = 0xbf; #bomSeen = false;

    constructor(label = "utf-8", options = {}) {
        const l = String(label).trim().toLowerCase();
        if (!UTF8_LABELS.includes(l)) {
            const e = new RangeError(`The "${label}" encoding is not supported`);
            e.code = "ERR_ENCODING_NOT_SUPPORTED";
            throw e;
        }
        const o = options === null || options === undefined ? {} : options;
        this.#fatal = Boolean(o.fatal);
        this.#ignoreBOM = Boolean(o.ignoreBOM);
    }

    get encoding() { return "utf-8"; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }

    decode(input, options = {}) {
        let bytes;
        if (input === undefined || input === null) bytes = new Uint8Array(0);
        else if ((bytes = bufferSourceBytes(input)) === null)
            throw argTypeError("input", "an instance of ArrayBuffer or ArrayBufferView", input);
        const stream = Boolean(options !== null && options !== undefined && options.stream);
        const units = [];
        let out = "";
        const emit = (c) => {
            if (c > 0xffff) {
                c -= 0x10000;
                units.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
            } else {
                units.push(c);
            }
            if (units.length >= 8192) {
                out += String.fromCharCode.apply(null, units);
                units.length = 0;
            }
        };
        const fail = () => {
            this.#reset();
            throw decodeError();
        };
        for (let i = 0; i < bytes.length; i++) {
            const b = bytes[i];
            if (this.#needed === 0) {
                if (b < 0x80) { emit(b); continue; }
                if (b >= 0xc2 && b <= 0xdf) { this.#needed = 1; this.#cp = b & 0x1f; }
                else if (b >= 0xe0 && b <= 0xef) {
                    if (b === 0xe0) this.#lower = 0xa0;
                    if (b === 0xed) this.#upper = 0x9f;
                    this.#needed = 2; this.#cp = b & 0xf;
                } else if (b >= 0xf0 && b <= 0xf4) {
                    if (b === 0xf0) this.#lower = 0x90;
                    if (b === 0xf4) this.#upper = 0x8f;
                    this.#needed = 3; this.#cp = b & 0x7;
                } else {
                    if (this.#fatal) fail();
                    emit(0xfffd);
                }
                continue;
            }
            if (b < this.#lower || b > this.#upper) {
                this.#cp = this.#needed = this.#seen = 0;
                this.#lower = 0x80; this.#upper = 0xbf;
                if (this.#fatal) fail();
                emit(0xfffd);
                i--; /* the byte starts over as the first of a sequence */
                continue;
            }
            this.#lower = 0x80; this.#upper = 0xbf;
            this.#cp = (this.#cp << 6) | (b & 0x3f);
            if (++this.#seen !== this.#needed) continue;
            const c = this.#cp;
            this.#cp = this.#needed = this.#seen = 0;
            emit(c);
        }
        if (!stream && this.#needed !== 0) {
            this.#cp = this.#needed = this.#seen = 0;
            this.#lower = 0x80; this.#upper = 0xbf;
            if (this.#fatal) fail();
            emit(0xfffd);
        }
        out += String.fromCharCode.apply(null, units);
        if (!this.#ignoreBOM && !this.#bomSeen && out.length > 0) {
            this.#bomSeen = true;
            if (out.charCodeAt(0) === 0xfeff) out = out.slice(1);
        }
        if (!stream) this.#reset();
        return out;
    }

    #reset() {
        this.#cp = this.#needed = this.#seen = 0;
        this.#lower = 0x80; this.#upper = 0xbf;
        this.#bomSeen = false;
    }
}
Object.defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: "TextDecoder" });

globalThis.TextEncoder = TextEncoder;
globalThis.TextDecoder = TextDecoder;

/* ---- base64 ---- */

/* B64 (the standard alphabet) is 10_values.js's; its B64_REV also takes the URL-safe digits */
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

function missingArg(name) {
    const e = new TypeError(`The "${name}" argument must be specified`);
    e.code = "ERR_MISSING_ARGS";
    return e;
}

/* the string's characters are its bytes (Latin-1), encoded by 10_values.js's base64Encode */
globalThis.btoa = function btoa(data) {
    if (arguments.length === 0) throw missingArg("input");
    const s = String(data);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 0xff) throw domError("InvalidCharacterError", "Invalid character");
        bytes[i] = c;
    }
    return base64Encode(bytes);
};

globalThis.atob = function atob(data) {
    if (arguments.length === 0) throw missingArg("input");
    const s = String(data);
    const digits = new Uint8Array(s.length); /* a byte each, not a JS array of numbers */
    let nd = 0, equals = 0;
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20) continue;
        if (c === 0x3d) { /* '=' only at the end, at most two */
            if (++equals > 2) throw domError("InvalidCharacterError", "Invalid character");
            continue;
        }
        const d = c < 128 ? B64_INDEX[c] : -1;
        if (d < 0 || equals) throw domError("InvalidCharacterError", "Invalid character");
        digits[nd++] = d;
    }
    const total = nd + equals;
    if (equals && total % 4 !== 0) throw domError("InvalidCharacterError", "Invalid character");
    if (nd % 4 === 1)
        throw domError("InvalidCharacterError",
                       "The string to be decoded is not correctly encoded.");
    const units = [];
    let out = "";
    for (let i = 0; i < nd; i += 4) {
        const n = Math.min(4, nd - i);
        const t = (digits[i] << 18) | ((n > 1 ? digits[i + 1] : 0) << 12) |
            ((n > 2 ? digits[i + 2] : 0) << 6) | (n > 3 ? digits[i + 3] : 0);
        units.push(t >> 16);
        if (n > 2) units.push((t >> 8) & 0xff);
        if (n > 3) units.push(t & 0xff);
        if (units.length >= 8190) {
            out += String.fromCharCode.apply(null, units);
            units.length = 0;
        }
    }
    return out + String.fromCharCode.apply(null, units);
};
