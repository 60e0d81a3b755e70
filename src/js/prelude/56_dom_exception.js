/* DOMException and the byte helpers the web APIs share (57_*.js to 59_*.js). DOMException is
 * Node's: an Error whose `name` says the kind ("InvalidCharacterError") and whose numeric `code`
 * is the legacy one (5), so that `e.name` checks written for browsers, Node and workerd work. */

const DOM_CODES = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13,
    NamespaceError: 14, InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18,
    NetworkError: 19, AbortError: 20, URLMismatchError: 21, QuotaExceededError: 22,
    TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};

class DOMException extends Error {
    constructor(message = "", name = "Error") {
        super(String(message));
        Object.defineProperty(this, "name", { value: String(name), writable: true,
                                              configurable: true });
    }

    get code() {
        return DOM_CODES[this.name] || 0;
    }
}
for (const [k, c] of Object.entries(DOM_CODES)) {
    const constName = k.replace(/Error$/, "").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() +
        "_ERR";
    Object.defineProperty(DOMException, constName, { value: c, enumerable: true });
}
globalThis.DOMException = DOMException;

const domError = (name, message) => new DOMException(message, name);

/* Node's TypeError for an argument of the wrong type: message and code as Node words them. */
function argTypeError(arg, expected, value) {
    let got;
    if (value === null || value === undefined) got = `Received ${value}`;
    else if (typeof value === "function") got = `Received function ${value.name || ""}`.trimEnd();
    else if (typeof value === "object") got = `Received an instance of ${value.constructor &&
        value.constructor.name || "Object"}`;
    else {
        let shown = typeof value === "string" ? `'${value.slice(0, 25)}'` : String(value);
        if (typeof value === "bigint") shown += "n";
        got = `Received type ${typeof value} (${shown})`;
    }
    const e = new TypeError(`The "${arg}" argument must be ${expected}. ${got}`);
    e.code = "ERR_INVALID_ARG_TYPE";
    return e;
}

/* The bytes of a BufferSource (ArrayBuffer, typed array or DataView) as a Uint8Array view over
 * the same memory, or null when x is none of them. */
function bufferSourceBytes(x) {
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    if (typeof SharedArrayBuffer === "function" && x instanceof SharedArrayBuffer)
        return new Uint8Array(x);
    return null;
}

/* A copy of those bytes at offset 0 of a buffer of their own (what native functions take). */
function copyBytes(u8) {
    const out = new Uint8Array(u8.length);
    out.set(u8);
    return out;
}

/* A string with every lone surrogate replaced by U+FFFD (WebIDL's USVString). */
function toUSVString(s) {
    s = String(s);
    if (typeof s.isWellFormed === "function") return s.isWellFormed() ? s : s.toWellFormed();
    return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
                     (m, p) => (p === undefined ? "\uFFFD" : p + "\uFFFD"));
}
