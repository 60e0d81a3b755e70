/* Blob, File and FormData (immutable bytes in memory; no streams), and the multipart/form-data
 * encoder and parser that Request/Response bodies use (`multipartEncode`, `multipartParse`, in
 * the prelude's scope; also reachable as globalThis.__vireo_multipart for tests). Encoding is
 * undici's (Node's fetch) byte for byte apart from the boundary's random part; parsing takes
 * what browsers and undici send and refuses the rest with TypeError "Failed to parse body as
 * FormData.". Limits: MULTIPART_MAX_PARTS parts, MULTIPART_MAX_HEADER bytes of headers a part. */

const blobBytes = new WeakMap(); /* Blob -> Uint8Array (never handed out, never changed) */

function normalizeType(t) {
    if (t === undefined) return "";
    const s = String(t);
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c > 0x7e) return "";
    }
    return s.toLowerCase();
}

class Blob {
    constructor(blobParts = [], options = undefined) {
        if (blobParts === null || typeof blobParts !== "object" ||
            typeof blobParts[Symbol.iterator] !== "function")
            throw new TypeError("Failed to construct 'Blob': The provided value cannot be " +
                "converted to a sequence.");
        const chunks = [];
        let size = 0;
        for (const part of blobParts) {
            let u8;
            if (part instanceof Blob) u8 = blobBytes.get(part);
            else if ((u8 = bufferSourceBytes(part)) !== null) u8 = copyBytes(u8);
            else u8 = utf8Encode(toUSVString(part));
            chunks.push(u8);
            size += u8.length;
        }
        const all = new Uint8Array(size);
        let off = 0;
        for (const c of chunks) {
            all.set(c, off);
            off += c.length;
        }
        blobBytes.set(this, all);
        this.#type = normalizeType(options && options.type);
    }

    #type;
    get size() { return blobBytes.get(this).length; }
    get type() { return this.#type; }

    slice(start, end, contentType) {
        const all = blobBytes.get(this), len = all.length;
        const rel = (x, d) => {
            if (x === undefined) return d;
            const n = Math.trunc(Number(x)) || 0;
            return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
        };
        const from = rel(start, 0), to = Math.max(rel(end, len), from);
        const b = Object.create(Blob.prototype);
        return blobFrom(b, all.subarray(from, to), normalizeType(contentType));
    }

    async text() { return new TextDecoder().decode(blobBytes.get(this)); }
    async arrayBuffer() { return copyBytes(blobBytes.get(this)).buffer; }
    async bytes() { return copyBytes(blobBytes.get(this)); }
}
Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: "Blob" });

/* A Blob over bytes it may share with others (they are never written). */
function blobFrom(proto, bytes, type) {
    const b = new Blob([], { type });
    Object.setPrototypeOf(b, Object.getPrototypeOf(proto));
    blobBytes.set(b, bytes);
    return b;
}

class File extends Blob {
    #name; #lastModified;

    constructor(fileBits, fileName, options = undefined) {
        if (arguments.length < 2)
            throw new TypeError(`Failed to construct 'File': 2 arguments required, but only ` +
                `${arguments.length} present.`);
        super(fileBits, options);
        this.#name = toUSVString(fileName);
        const lm = options && options.lastModified;
        this.#lastModified = lm === undefined ? VDate.now() : Math.trunc(Number(lm)) || 0;
    }

    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
}
Object.defineProperty(File.prototype, Symbol.toStringTag, { value: "File" });

function blobClone(b) {
    if (b instanceof File)
        return new File([b], b.name, { type: b.type, lastModified: b.lastModified });
    return blobFrom(b, blobBytes.get(b), b.type);
}

/* ---- FormData ---- */

function formValue(value, filename, nargs) {
    if (value instanceof Blob) {
        const name = filename !== undefined ? toUSVString(filename)
            : value instanceof File ? value.name : "blob";
        if (value instanceof File && filename === undefined) return value;
        return new File([value], name, { type: value.type,
                                         lastModified: value instanceof File ? value.lastModified
                                                                             : undefined });
    }
    if (nargs > 2)
        throw new TypeError("Failed to execute 'append' on 'FormData': parameter 2 is not of " +
            "type 'Blob'.");
    return toUSVString(value);
}

class FormData {
    #list = [];

    constructor(form = undefined) {
        if (form !== undefined)
            throw new TypeError("FormData constructor: Argument 1 could not be converted to: " +
                "undefined.");
    }

    append(name, value, filename) {
        if (arguments.length < 2)
            throw new TypeError(`FormData.append: 2 arguments required, but only ` +
                `${arguments.length} found.`);
        this.#list.push([toUSVString(name), formValue(value, filename, arguments.length)]);
    }

    set(name, value, filename) {
        if (arguments.length < 2)
            throw new TypeError(`FormData.set: 2 arguments required, but only ` +
                `${arguments.length} found.`);
        const n = toUSVString(name), entry = [n, formValue(value, filename, arguments.length)];
        const i = this.#list.findIndex((e) => e[0] === n);
        if (i < 0) {
            this.#list.push(entry);
            return;
        }
        this.#list[i] = entry;
        this.#list = this.#list.filter((e, j) => j <= i || e[0] !== n);
    }

    delete(name) {
        const n = toUSVString(name);
        this.#list = this.#list.filter((e) => e[0] !== n);
    }

    get(name) {
        const n = toUSVString(name);
        const e = this.#list.find((x) => x[0] === n);
        return e ? e[1] : null;
    }

    getAll(name) {
        const n = toUSVString(name);
        return this.#list.filter((e) => e[0] === n).map((e) => e[1]);
    }

    has(name) {
        const n = toUSVString(name);
        return this.#list.some((e) => e[0] === n);
    }

    forEach(callback, thisArg) {
        for (const [k, v] of this.#list.slice()) callback.call(thisArg, v, k, this);
    }

    *entries() { for (const [k, v] of this.#list.slice()) yield [k, v]; }
    *keys() { for (const [k] of this.#list.slice()) yield k; }
    *values() { for (const [, v] of this.#list.slice()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
}
Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: "FormData" });

globalThis.Blob = Blob;
globalThis.File = File;
globalThis.FormData = FormData;

/* ---- multipart/form-data ---- */

const MULTIPART_MAX_PARTS = 10000;
const MULTIPART_MAX_HEADER = 16384;

const escapeName = (s) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
const crlfLines = (s) => s.replace(/\r?\n|\r/g, "\r\n");

/* FormData -> {body: Uint8Array, contentType}. */
function multipartEncode(fd) {
    let boundary = "----formdata-vireo-";
    for (let i = 0; i < 12; i++) boundary += Math.floor(Math.random() * 10);
    const chunks = [];
    let size = 0;
    const push = (u8) => {
        chunks.push(u8);
        size += u8.length;
    };
    for (const [name, value] of fd) {
        let head = `--${boundary}\r\nContent-Disposition: form-data; ` +
            `name="${escapeName(crlfLines(name))}"`;
        if (typeof value === "string") {
            push(utf8Encode(head + "\r\n\r\n" + crlfLines(value) + "\r\n"));
            continue;
        }
        head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ` +
            `${value.type || "application/octet-stream"}\r\n\r\n`;
        push(utf8Encode(head));
        push(blobBytes.get(value));
        push(utf8Encode("\r\n"));
    }
    push(utf8Encode(`--${boundary}--\r\n`));
    const body = new Uint8Array(size);
    let off = 0;
    for (const c of chunks) {
        body.set(c, off);
        off += c.length;
    }
    return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

function parseError(why) {
    const e = new TypeError("Failed to parse body as FormData.");
    e.reason = why;
    return e;
}

/* The boundary parameter of a multipart/form-data Content-Type, or null. */
function multipartBoundary(contentType) {
    const m = /^\s*multipart\/form-data\s*;(.*)$/i.exec(String(contentType));
    if (!m) return null;
    const p = /(?:^|;)\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i.exec(m[1]);
    if (!p) return null;
    const b = p[1] !== undefined ? p[1].replace(/\\(.)/g, "$1") : p[2];
    return b.length >= 1 && b.length <= 70 ? b : null;
}

function indexOfBytes(hay, needle, from) {
    const first = needle[0], last = hay.length - needle.length;
    for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
        let k = 1;
        while (k < needle.length && hay[i + k] === needle[k]) k++;
        if (k === needle.length) return i;
    }
    return -1;
}

function dispositionParam(header, name) {
    const re = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i");
    const m = re.exec(header);
    if (!m) return null;
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
}

const latin1 = (u8) => {
    let s = "";
    for (let i = 0; i < u8.length; i += 8192)
        s += String.fromCharCode.apply(null, u8.subarray(i, i + 8192));
    return s;
};

/* (Uint8Array body, Content-Type header) -> FormData; TypeError on anything malformed. */
function multipartParse(body, contentType) {
    const boundary = multipartBoundary(contentType);
    if (boundary === null) throw parseError("no multipart/form-data boundary");
    const bytes = body instanceof Uint8Array ? body : bufferSourceBytes(body);
    if (bytes === null) throw parseError("the body is not bytes");
    const delim = utf8Encode("--" + boundary), crlf = utf8Encode("\r\n\r\n");
    const decoder = new TextDecoder();
    const fd = new FormData();
    let pos = indexOfBytes(bytes, delim, 0);
    if (pos !== 0 && (pos < 2 || bytes[pos - 2] !== 13 || bytes[pos - 1] !== 10))
        throw parseError("no first boundary");
    const nextDelim = utf8Encode("\r\n--" + boundary);
    let parts = 0;
    for (;;) {
        pos += delim.length;
        if (bytes[pos] === 45 && bytes[pos + 1] === 45) return fd; /* "--": the end */
        while (bytes[pos] === 32 || bytes[pos] === 9) pos++; /* transport padding */
        if (bytes[pos] !== 13 || bytes[pos + 1] !== 10) throw parseError("bad boundary line");
        pos += 2;
        if (++parts > MULTIPART_MAX_PARTS)
            throw parseError(`more than ${MULTIPART_MAX_PARTS} parts`);
        const headEnd = indexOfBytes(bytes, crlf, pos);
        if (headEnd < 0 || headEnd - pos > MULTIPART_MAX_HEADER)
            throw parseError("part headers too long or unterminated");
        let disposition = null, type = "text/plain"; /* the default of the HTML parser */
        for (const line of latin1(bytes.subarray(pos, headEnd)).split("\r\n")) {
            const c = line.indexOf(":");
            if (c <= 0) throw parseError("bad header line");
            const k = line.slice(0, c).trim().toLowerCase(), v = line.slice(c + 1).trim();
            if (k === "content-disposition") disposition = v;
            else if (k === "content-type") type = v;
        }
        if (disposition === null || !/^form-data\s*(;|$)/i.test(disposition))
            throw parseError("part without Content-Disposition: form-data");
        const rawName = dispositionParam(disposition, "name");
        if (rawName === null) throw parseError("part without a name");
        const start = headEnd + 4;
        const end = indexOfBytes(bytes, nextDelim, start);
        if (end < 0) throw parseError("no closing boundary");
        const content = bytes.subarray(start, end);
        const name = unescapeName(decoder.decode(latin1ToBytes(rawName)));
        const rawFile = dispositionParam(disposition, "filename");
        if (rawFile !== null) {
            fd.append(name, new File([content], unescapeName(decoder.decode(latin1ToBytes(rawFile))),
                                     { type }));
        } else {
            fd.append(name, decoder.decode(content));
        }
        pos = end + 2;
    }
}

/* A name or filename as the encoder escaped it ("%22", "%0D", "%0A"), back (as undici does). */
const unescapeName = (s) => s.replace(/%22/g, '"').replace(/%0D/g, "\r").replace(/%0A/g, "\n");

function latin1ToBytes(s) {
    const u8 = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u8[i] = s.charCodeAt(i) & 0xff;
    return u8;
}

Object.defineProperty(globalThis, "__vireo_multipart", {
    value: Object.freeze({ encode: multipartEncode, parse: multipartParse }),
    enumerable: false,
});
