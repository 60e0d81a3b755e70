// Web API cases for tests/integration/webapi.test.mjs. The same code runs twice: inside Vireo
// (the fixture's actions and queries call runCase) and in Node (the test imports this file), and
// the test compares the two results. Every case takes JSON input and returns JSON output;
// strings that may hold lone surrogates travel as arrays of UTF-16 code units.

const units = (s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
/* a string from its UTF-16 code units; a long one comes as chunks of them (a Convex value's
 * arrays hold at most 8,192 elements) */
const fromUnits = (u) => (u.length && Array.isArray(u[0]) ? u.map(fromUnits).join("") :
  String.fromCharCode(...u));
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const bytesOf = (a) => new Uint8Array(a);
const fromHex = (h) => new Uint8Array((h.match(/../g) || []).map((b) => parseInt(b, 16)));
// a CryptoKey as JSON: its four attributes (publicExponent as hex)
const keyShape = (k) => ({
  type: k.type, extractable: k.extractable, usages: k.usages, isKey: k instanceof CryptoKey,
  tag: Object.prototype.toString.call(k),
  algorithm: { ...k.algorithm, ...(k.algorithm.publicExponent ? { publicExponent: hex(k.algorithm.publicExponent) } : {}) },
});

// n pseudo-random Latin-1 characters (every code 0-255 occurs), the same in Vireo and Node
export function latin1Text(n, seed) {
  const parts = [], chunk = [];
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    chunk.push(x >>> 24);
    if (chunk.length === 8192 || i === n - 1) {
      parts.push(String.fromCharCode.apply(null, chunk));
      chunk.length = 0;
    }
  }
  return parts.join("");
}

export function errorOf(e) {
  if (!(e instanceof Error) && !(typeof DOMException === "function" && e instanceof DOMException))
    return { thrown: String(e) };
  return {
    error: e.constructor.name,
    name: e.name,
    code: e.code === undefined ? null : e.code,
    message: e.message,
    isDOMException: typeof DOMException === "function" && e instanceof DOMException,
  };
}

async function capture(fn) {
  try {
    return await fn();
  } catch (e) {
    return errorOf(e);
  }
}

function urlParts(u) {
  return {
    href: u.href, origin: u.origin, protocol: u.protocol, username: u.username,
    password: u.password, host: u.host, hostname: u.hostname, port: u.port,
    pathname: u.pathname, search: u.search, hash: u.hash, json: u.toJSON(), string: String(u),
    params: [...u.searchParams],
  };
}

function cloneShape(x, seen = new Map()) {
  // describes a cloned value structurally (types, values, shared references) as JSON
  if (x === null || typeof x !== "object") {
    if (typeof x === "bigint") return { bigint: String(x) };
    if (typeof x === "number" && !Number.isFinite(x)) return { number: String(x) };
    if (Object.is(x, -0)) return { number: "-0" };
    return x === undefined ? { undefined: true } : x;
  }
  if (seen.has(x)) return { ref: seen.get(x) };
  seen.set(x, seen.size);
  const tag = Object.prototype.toString.call(x).slice(8, -1);
  if (x instanceof Date) return { Date: x.getTime() };
  if (x instanceof RegExp) return { RegExp: x.source, flags: x.flags, lastIndex: x.lastIndex };
  if (x instanceof Map) return { Map: [...x].map(([k, v]) => [cloneShape(k, seen), cloneShape(v, seen)]) };
  if (x instanceof Set) return { Set: [...x].map((v) => cloneShape(v, seen)) };
  if (x instanceof ArrayBuffer) return { ArrayBuffer: hex(x) };
  if (ArrayBuffer.isView(x))
    return { view: tag, offset: x.byteOffset, length: x.byteLength, buffer: cloneShape(x.buffer, seen) };
  if (x instanceof Error) return { Error: x.constructor.name, message: x.message, cause: "cause" in x ? cloneShape(x.cause, seen) : null };
  if (x instanceof Blob) return { Blob: x.size, type: x.type };
  if (["Number", "String", "Boolean"].includes(tag)) return { boxed: tag, value: x.valueOf() };
  const out = { tag, proto: Object.getPrototypeOf(x) === Object.prototype ? "Object" : Array.isArray(x) ? "Array" : "other" };
  out.keys = Object.keys(x).map((k) => [k, cloneShape(x[k], seen)]);
  if (Array.isArray(x)) out.length = x.length;
  return out;
}

class Point {
  constructor() { this.x = 1; }
  get y() { return 2; }
}

const CLONE_INPUTS = {
  plain: () => ({ a: 1, b: "two", c: [1, 2, { d: null }], e: true, u: undefined, n: -0, inf: Infinity }),
  map_set: () => new Map([["k", new Set([1, "x", { y: 2 }])], [{ o: 1 }, [3]]]),
  date_regexp: () => { const r = /ab+c/gi; r.lastIndex = 2; return [new Date(1700000000123), r]; },
  buffers: () => {
    const buf = new ArrayBuffer(8);
    new Uint8Array(buf).set([1, 2, 3, 4, 5, 6, 7, 8]);
    return { u8: new Uint8Array(buf), i16: new Int16Array(buf, 2, 2), dv: new DataView(buf, 4), f64: new Float64Array([1.5, -2]), buf };
  },
  cycle: () => { const a = { name: "a" }; const b = { a }; a.b = b; a.self = a; return [a, b]; },
  sparse_array: () => [1, , 3],
  boxed: () => [new Number(3), new String("s"), new Boolean(false)],
  bigint: () => ({ big: 12345678901234567890n }),
  errors: () => [new RangeError("boom", { cause: 1 }), new TypeError("t"), new Error("e")],
  class_instance: () => new Point(),
  blob: () => new Blob(["hello"], { type: "text/plain" }),
  function: () => () => {},
  named_function: () => ({ f: function foo() {} }),
  symbol: () => Symbol("x"),
  promise: () => Promise.resolve(1),
  weakmap: () => new WeakMap(),
};

async function multipartEncode(fd) {
  if (globalThis.__vireo_multipart) {
    const { body, contentType } = globalThis.__vireo_multipart.encode(fd);
    return { contentType, text: new TextDecoder().decode(body) };
  }
  const r = new Response(fd);
  return { contentType: r.headers.get("content-type"), text: await r.text() };
}

async function multipartParse(text, contentType) {
  const body = new TextEncoder().encode(text);
  if (globalThis.__vireo_multipart) return globalThis.__vireo_multipart.parse(body, contentType);
  return await new Response(body, { headers: { "content-type": contentType } }).formData();
}

async function formEntries(fd) {
  const out = [];
  for (const [k, v] of fd) {
    if (typeof v === "string") out.push([k, v]);
    else out.push([k, { file: v.name, type: v.type, size: v.size, text: await v.text(), isFile: v instanceof File }]);
  }
  return out;
}

function buildForm(ops) {
  const fd = new FormData();
  for (const [op, ...a] of ops) {
    // (a filename passed as undefined is "blob" in browsers and the spec, "undefined" in Node 20)
    if (op === "file" && a[3] !== undefined) fd.append(a[0], new Blob([a[1]], { type: a[2] }), a[3]);
    else if (op === "file") fd.append(a[0], new Blob([a[1]], { type: a[2] }));
    else if (op === "blob") fd.append(a[0], new Blob([a[1]], { type: a[2] }));
    else if (op === "appendUnits") fd.append(fromUnits(a[0]), fromUnits(a[1]));
    else fd[op](...a);
  }
  return fd;
}

export const CASES = {
  url: ([input, base]) => capture(() => urlParts(base === undefined ? new URL(input) : new URL(input, base))),
  urlCanParse: ([input, base]) => URL.canParse(input, base),
  urlSet: ([input, prop, value]) => capture(() => { const u = new URL(input); u[prop] = value; return urlParts(u); }),
  urlParams: ([input, base]) => capture(() => {
    const u = new URL(input, base);
    u.searchParams.append("added", "a b+c&d");
    u.searchParams.set("x", "1");
    u.searchParams.delete("gone");
    return urlParts(u);
  }),
  searchParams: (init) => capture(() => {
    const p = new URLSearchParams(init);
    const entries = [...p];
    const firstKey = entries.length ? entries[0][0] : "none";
    const out = { string: p.toString(), entries, get: p.get(firstKey), getAll: p.getAll(firstKey), has: p.has(firstKey), size: p.size };
    p.sort();
    out.sorted = p.toString();
    return out;
  }),
  encode: (u) => Array.from(new TextEncoder().encode(fromUnits(u))),
  encodeInto: ([u, n]) => {
    const dest = new Uint8Array(n);
    const r = new TextEncoder().encodeInto(fromUnits(u), dest);
    return { read: r.read, written: r.written, bytes: Array.from(dest) };
  },
  decode: ({ chunks, fatal, ignoreBOM, label }) => capture(() => {
    const d = new TextDecoder(label, { fatal, ignoreBOM });
    let s = "";
    for (let i = 0; i < chunks.length; i++) s += d.decode(bytesOf(chunks[i]), { stream: i < chunks.length - 1 });
    return { units: units(s), encoding: d.encoding, fatal: d.fatal, ignoreBOM: d.ignoreBOM };
  }),
  decodeAgain: (bytes) => capture(() => {
    // a fatal error resets the decoder: the same object decodes the next input afresh
    const d = new TextDecoder("utf-8", { fatal: true });
    let first;
    try { d.decode(bytesOf([0xe2, 0x82]), { stream: true }); d.decode(bytesOf([0x41])); } catch (e) { first = errorOf(e).name; }
    return { first, then: units(d.decode(bytesOf(bytes))) };
  }),
  btoa: (u) => capture(() => btoa(fromUnits(u))),
  btoaOf: ([n, seed]) => btoa(latin1Text(n, seed)),
  atob: (s) => capture(() => units(atob(s))),
  // atob of btoa of n Latin-1 characters, with a line break every 76 digits: the same text back?
  atobRoundTrip: ([n, seed]) => {
    const text = latin1Text(n, seed);
    const wrapped = btoa(text).replace(/.{76}/g, "$&\n");
    const back = atob(wrapped);
    return back === text ? n : `${back.length} characters back, first difference at ${[...back].findIndex((c, i) => c !== text[i])}`;
  },
  clone: async (name) => {
    const r = await capture(() => cloneShape(structuredClone(CLONE_INPUTS[name]())));
    // a function's text is its source, which the bundler reformats: compare it without spaces
    if (r && typeof r.message === "string") r.message = r.message.replace(/\s+/g, "");
    return r;
  },
  digest: async ([alg, bytes]) => capture(async () => hex(await crypto.subtle.digest(alg, bytesOf(bytes)))),
  hmac: async ({ hash, key, data }) => capture(async () => {
    const k = await crypto.subtle.importKey("raw", bytesOf(key), { name: "HMAC", hash }, true, ["sign", "verify"]);
    const sig = await crypto.subtle.sign("HMAC", k, bytesOf(data));
    const wrong = new Uint8Array(sig);
    wrong[0] ^= 1;
    return {
      sig: hex(sig),
      algorithm: k.algorithm, type: k.type, extractable: k.extractable, usages: k.usages,
      exported: hex(await crypto.subtle.exportKey("raw", k)),
      verifyOk: await crypto.subtle.verify("HMAC", k, sig, bytesOf(data)),
      verifyWrong: await crypto.subtle.verify({ name: "HMAC" }, k, wrong, bytesOf(data)),
      verifyShort: await crypto.subtle.verify("HMAC", k, sig.slice(0, 8), bytesOf(data)),
      verifyOtherData: await crypto.subtle.verify("HMAC", k, sig, bytesOf([...data, 0])),
      isKey: k instanceof CryptoKey,
    };
  }),
  // views into a larger buffer: the bytes of the view, from its offset (native js_u8_bytes)
  cryptoViews: async () => capture(async () => {
    const buf = new Uint8Array([9, 1, 2, 3, 4, 5, 9]);
    const view = buf.subarray(1, 6);
    const digest = hex(await crypto.subtle.digest("SHA-256", view));
    const k = await crypto.subtle.importKey("raw", buf.subarray(2, 5), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    const sig = hex(await crypto.subtle.sign("HMAC", k, view));
    const key = hex(await crypto.subtle.exportKey("raw", k));
    const r = new Uint8Array(16);
    crypto.getRandomValues(r.subarray(4, 12));
    return { digest, sig, key, outsideUntouched: [...r.slice(0, 4), ...r.slice(12)].every((x) => x === 0),
             filled: r.subarray(4, 12).some((x) => x !== 0) };
  }),
  hmacErrors: async () => {
    const out = {};
    out.zeroKey = await capture(() => crypto.subtle.importKey("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
    out.badHash = await capture(() => crypto.subtle.importKey("raw", new Uint8Array(4), { name: "HMAC", hash: "MD5" }, false, ["sign"]));
    out.badUsage = await capture(() => crypto.subtle.importKey("raw", new Uint8Array(4), { name: "HMAC", hash: "SHA-256" }, false, ["encrypt"]));
    const signOnly = await crypto.subtle.importKey("raw", new Uint8Array(4), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    out.verifyWithSignKey = await capture(() => crypto.subtle.verify("HMAC", signOnly, new Uint8Array(32), new Uint8Array(1)));
    out.exportNotExtractable = await capture(async () => { await crypto.subtle.exportKey("raw", signOnly); return "exported"; });
    out.digestUnknown = await capture(() => crypto.subtle.digest("SHA-3", new Uint8Array(1)));
    out.digestRejects = await crypto.subtle.digest("MD5", new Uint8Array(1)).then(() => "resolved", () => "rejected");
    return out;
  },
  random: () => {
    const out = {};
    const a = crypto.getRandomValues(new Uint8Array(65536));
    out.full = a.length;
    out.same = crypto.getRandomValues(a) === a;
    out.types = [Int8Array, Uint16Array, Int32Array, BigUint64Array, Uint8ClampedArray].map((T) => crypto.getRandomValues(new T(4)).constructor.name);
    out.tooBig = errorOf((() => { try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { return e; } })());
    out.tooBig32 = errorOf((() => { try { crypto.getRandomValues(new Uint32Array(16385)); } catch (e) { return e; } })());
    out.float = errorOf((() => { try { crypto.getRandomValues(new Float32Array(4)); } catch (e) { return e; } })());
    out.dataView = errorOf((() => { try { crypto.getRandomValues(new DataView(new ArrayBuffer(4))); } catch (e) { return e; } })());
    const uuid = crypto.randomUUID();
    out.uuidFormat = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid);
    out.uuidsDiffer = crypto.randomUUID() !== crypto.randomUUID();
    // 64 KiB of random bytes: every value occurs, none in a long run
    const seen = new Set(a);
    out.allByteValues = seen.size === 256;
    out.tags = [Object.prototype.toString.call(crypto), Object.prototype.toString.call(crypto.subtle)];
    return out;
  },
  blob: ({ parts, type, slice }) => capture(async () => {
    const part = (p) => (Array.isArray(p) ? bytesOf(p) : typeof p !== "object" ? p : p.units ? fromUnits(p.units) : new Blob([p.blob]));
    const b = new Blob(parts.map(part), { type });
    const s = b.slice(...slice);
    return {
      size: b.size, type: b.type, text: await b.text(), bytes: hex(await b.arrayBuffer()),
      slice: { size: s.size, type: s.type, text: await s.text() },
      file: await (async () => { const f = new File([b], "n.txt", { type: "a/b", lastModified: 5 }); return [f.name, f.type, f.size, f.lastModified, await f.text(), f instanceof Blob]; })(),
    };
  }),
  formData: (ops) => capture(async () => {
    const fd = buildForm(ops);
    return {
      entries: await formEntries(fd),
      get: typeof fd.get("a") === "string" ? fd.get("a") : fd.get("a") && fd.get("a").name,
      getAll: fd.getAll("a").map((v) => (typeof v === "string" ? v : v.name)),
      has: [fd.has("a"), fd.has("zz")],
      keys: [...fd.keys()],
    };
  }),
  formDataErrors: () => {
    const out = {};
    out.ctor = errorOf((() => { try { new FormData(1); } catch (e) { return e; } })());
    out.append = errorOf((() => { try { new FormData().append("x"); } catch (e) { return e; } })());
    return out;
  },
  multipartEncode: (ops) => capture(async () => {
    const { contentType, text } = await multipartEncode(buildForm(ops));
    const boundary = /boundary=(.*)$/.exec(contentType)[1];
    return { contentType: contentType.replace(boundary, "B"), text: text.split(boundary).join("B"),
             roundTrip: await formEntries(await multipartParse(text, contentType)) };
  }),
  multipartParse: ({ text, contentType }) => capture(async () => formEntries(await multipartParse(text, contentType))),
  queueMicrotask: async () => {
    const order = [];
    queueMicrotask(() => order.push("micro1"));
    Promise.resolve().then(() => order.push("promise"));
    queueMicrotask(() => order.push("micro2"));
    order.push("sync");
    await new Promise((r) => queueMicrotask(r));
    await null;
    return { order, bad: errorOf((() => { try { queueMicrotask(1); } catch (e) { return e; } })()) };
  },
  timers: async () => {
    const order = [];
    const t0 = Date.now();
    await new Promise((done) => {
      setTimeout(() => order.push("t120"), 120);
      setTimeout(() => order.push("t20"), 20);
      const c = setTimeout(() => order.push("cleared"), 30);
      setTimeout((a, b) => order.push(`t70:${a}${b}`), 70, "x", "y");
      clearTimeout(c);
      clearTimeout(12345678); // unknown ids are ignored
      let n = 0;
      const iv = setInterval(() => {
        order.push(`iv${++n}`);
        if (n === 2) clearInterval(iv);
      }, 45);
      setTimeout(done, 160);
    });
    const zero = await new Promise((r) => {
      const o = [];
      setTimeout(() => o.push("timeout"), 0);
      Promise.resolve().then(() => o.push("promise"));
      setTimeout(() => r(o), 5);
    });
    const bad = errorOf((() => { try { setTimeout("code", 1); } catch (e) { return e; } })());
    return { order, waited: Date.now() - t0 >= 150, zero, bad };
  },
  // asymmetric keys (RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA): the test makes the keys and a
  // signature in Node; both sides import them in every format, verify, sign, export
  asym: ({ alg, signAlg, pkcs8, spki, jwkPriv, jwkPub, raw, data, nodeSig }) => capture(async () => {
    const s = crypto.subtle;
    const keys = {
      pkcs8: await s.importKey("pkcs8", fromHex(pkcs8), alg, true, ["sign"]),
      spki: await s.importKey("spki", fromHex(spki), alg, true, ["verify"]),
      jwkPriv: await s.importKey("jwk", jwkPriv, alg, true, ["sign"]),
      jwkPub: await s.importKey("jwk", jwkPub, alg, false, ["verify"]),
    };
    if (raw) keys.raw = await s.importKey("raw", fromHex(raw), alg, true, ["verify"]);
    const out = { keys: {} };
    for (const [k, key] of Object.entries(keys)) out.keys[k] = keyShape(key);
    const d = bytesOf(data), sig = fromHex(nodeSig);
    const wrong = sig.slice();
    wrong[5] ^= 1;
    out.verifyNode = [];
    for (const k of ["spki", "jwkPub", ...(raw ? ["raw"] : [])])
      out.verifyNode.push(await s.verify(signAlg, keys[k], sig, d), await s.verify(signAlg, keys[k], wrong, d),
                          await s.verify(signAlg, keys[k], sig, bytesOf([...data, 1])));
    const own = await s.sign(signAlg, keys.pkcs8, d);
    const own2 = await s.sign(signAlg, keys.jwkPriv, d);
    out.ownLength = own.byteLength;
    out.ownVerifies = [await s.verify(signAlg, keys.spki, own, d), await s.verify(signAlg, keys.jwkPub, own2, d)];
    if (alg.name.toUpperCase() === "RSASSA-PKCS1-V1_5") out.ownSig = hex(own); // deterministic
    out.exports = {
      pkcs8: hex(await s.exportKey("pkcs8", keys.pkcs8)), spki: hex(await s.exportKey("spki", keys.spki)),
      jwkFromPkcs8: await s.exportKey("jwk", keys.pkcs8), jwkFromSpki: await s.exportKey("jwk", keys.spki),
      pkcs8FromJwk: hex(await s.exportKey("pkcs8", keys.jwkPriv)),
    };
    if (raw) out.exports.raw = hex(await s.exportKey("raw", keys.raw));
    return out;
  }),
  asymSign: ({ alg, signAlg, pkcs8, data }) => capture(async () => {
    const k = await crypto.subtle.importKey("pkcs8", fromHex(pkcs8), alg, false, ["sign"]);
    return hex(await crypto.subtle.sign(signAlg, k, bytesOf(data)));
  }),
  asymErrors: async ({ pkcs8, spki, ecPkcs8, ecSpki, rsaJwkPub, ecJwkPub }) => {
    const s = crypto.subtle, out = {};
    const A = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, E = { name: "ECDSA", namedCurve: "P-256" };
    const priv = await s.importKey("pkcs8", fromHex(pkcs8), A, false, ["sign"]);
    const pub = await s.importKey("spki", fromHex(spki), A, true, ["verify"]);
    const ecPriv = await s.importKey("pkcs8", fromHex(ecPkcs8), E, true, ["sign"]);
    const cases = {
      garbage: () => s.importKey("pkcs8", new Uint8Array(10), A, true, ["sign"]),
      trailing: () => s.importKey("spki", fromHex(spki + "00"), A, true, ["verify"]),
      spkiAsPkcs8: () => s.importKey("pkcs8", fromHex(spki), A, true, ["sign"]),
      pkcs8AsSpki: () => s.importKey("spki", fromHex(pkcs8), A, true, ["verify"]),
      pkcs8Verify: () => s.importKey("pkcs8", fromHex(pkcs8), A, true, ["verify"]),
      pkcs8Empty: () => s.importKey("pkcs8", fromHex(pkcs8), A, true, []),
      spkiSign: () => s.importKey("spki", fromHex(spki), A, true, ["sign"]),
      spkiEmpty: async () => keyShape(await s.importKey("spki", fromHex(spki), A, true, [])),
      noHash: () => s.importKey("pkcs8", fromHex(pkcs8), { name: "RSASSA-PKCS1-v1_5" }, true, ["sign"]),
      badHash: () => s.importKey("pkcs8", fromHex(pkcs8), { name: "RSASSA-PKCS1-v1_5", hash: "MD5" }, true, ["sign"]),
      ecAsRsa: () => s.importKey("pkcs8", fromHex(ecPkcs8), A, true, ["sign"]),
      rsaAsEc: () => s.importKey("pkcs8", fromHex(pkcs8), E, true, ["sign"]),
      ecWrongCurve: () => s.importKey("spki", fromHex(ecSpki), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]),
      ecBadCurve: () => s.importKey("pkcs8", fromHex(ecPkcs8), { name: "ECDSA", namedCurve: "P-999" }, true, ["sign"]),
      ecNoCurve: () => s.importKey("pkcs8", fromHex(ecPkcs8), { name: "ECDSA" }, true, ["sign"]),
      rsaRaw: () => s.importKey("raw", fromHex(spki), A, true, ["verify"]),
      ecRawBad: () => s.importKey("raw", new Uint8Array([4, 1, 2, 3]), E, true, ["verify"]),
      unknownAlg: () => s.importKey("spki", fromHex(spki), { name: "RSA-OAEP-9" }, true, ["verify"]),
      signWithPub: () => s.sign(A, pub, new Uint8Array(1)),
      verifyWithPriv: () => s.verify(A, priv, new Uint8Array(256), new Uint8Array(1)),
      signWrongAlg: () => s.sign({ name: "ECDSA", hash: "SHA-256" }, priv, new Uint8Array(1)),
      signHmacWithRsa: () => s.sign("HMAC", priv, new Uint8Array(1)),
      signNotAKey: () => s.sign(A, { type: "private" }, new Uint8Array(1)),
      ecSignNoHash: () => s.sign({ name: "ECDSA" }, ecPriv, new Uint8Array(1)),
      pssNoSalt: async () => s.sign({ name: "RSA-PSS" }, await s.importKey("pkcs8", fromHex(pkcs8), { name: "RSA-PSS", hash: "SHA-256" }, true, ["sign"]), new Uint8Array(1)),
      exportSpkiPriv: () => s.exportKey("spki", ecPriv),
      exportPkcs8Pub: () => s.exportKey("pkcs8", pub),
      exportRawRsa: () => s.exportKey("raw", pub),
      exportRawEcPriv: () => s.exportKey("raw", ecPriv),
      exportNotExtractable: () => s.exportKey("jwk", priv),
      jwkTruncated: () => s.importKey("jwk", { kty: "RSA", n: "AQAB" }, A, true, ["verify"]),
      jwkNoModulus: () => s.importKey("jwk", { ...rsaJwkPub, n: undefined }, A, true, ["verify"]),
      jwkPrivPartial: () => s.importKey("jwk", { ...rsaJwkPub, d: rsaJwkPub.n }, A, true, ["sign"]),
      jwkBadBase64: () => s.importKey("jwk", { ...rsaJwkPub, n: "!!!" }, A, true, ["verify"]),
      jwkHugeModulus: () => s.importKey("jwk", { ...rsaJwkPub, n: "_".repeat(6000) }, A, true, ["verify"]),
      jwkKty: () => s.importKey("jwk", { ...rsaJwkPub, kty: "EC" }, A, true, ["verify"]),
      jwkAlg: () => s.importKey("jwk", { ...rsaJwkPub, alg: "RS384" }, A, true, ["verify"]),
      jwkUse: () => s.importKey("jwk", { ...rsaJwkPub, use: "enc" }, A, true, ["verify"]),
      jwkExt: () => s.importKey("jwk", { ...rsaJwkPub, ext: false }, A, true, ["verify"]),
      jwkOps: () => s.importKey("jwk", { ...rsaJwkPub, key_ops: ["sign"] }, A, true, ["verify"]),
      jwkEcShortX: () => s.importKey("jwk", { ...ecJwkPub, x: "AAAA" }, E, true, ["verify"]),
      jwkEcOffCurve: () => s.importKey("jwk", { ...ecJwkPub, y: ecJwkPub.x }, E, true, ["verify"]),
      jwkEcCrv: () => s.importKey("jwk", ecJwkPub, { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]),
      verifyShortEc: async () => s.verify({ name: "ECDSA", hash: "SHA-256" }, await s.importKey("spki", fromHex(ecSpki), E, true, ["verify"]), new Uint8Array(3), new Uint8Array(1)),
      verifyLongRsa: () => s.verify(A, pub, new Uint8Array(300), new Uint8Array(1)),
      verifyEmptyRsa: () => s.verify(A, pub, new Uint8Array(0), new Uint8Array(1)),
    };
    for (const [n, f] of Object.entries(cases)) out[n] = await capture(f);
    return out;
  },
  generate: () => capture(async () => {
    const s = crypto.subtle, out = {};
    const algs = {
      rsa: { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      pss: { name: "RSA-PSS", modulusLength: 1024, publicExponent: new Uint8Array([3]), hash: "SHA-384" },
      p256: { name: "ECDSA", namedCurve: "P-256" }, p384: { name: "ECDSA", namedCurve: "P-384" },
      p521: { name: "ECDSA", namedCurve: "P-521" },
    };
    const signAlgs = { rsa: "RSASSA-PKCS1-v1_5", pss: { name: "RSA-PSS", saltLength: 32 }, p256: { name: "ECDSA", hash: "SHA-256" },
                       p384: { name: "ECDSA", hash: "SHA-384" }, p521: { name: "ECDSA", hash: "SHA-512" } };
    for (const [n, alg] of Object.entries(algs)) {
      const pair = await s.generateKey(alg, false, ["sign", "verify"]);
      const sig = await s.sign(signAlgs[n], pair.privateKey, bytesOf([1, 2, 3]));
      const jwk = await s.exportKey("jwk", pair.publicKey);
      out[n] = { keys: Object.keys(pair), priv: keyShape(pair.privateKey), pub: keyShape(pair.publicKey),
                 verifies: await s.verify(signAlgs[n], pair.publicKey, sig, bytesOf([1, 2, 3])),
                 jwkFields: Object.keys(jwk), kty: jwk.kty, alg: jwk.alg ?? null, crv: jwk.crv ?? null };
    }
    const h = await s.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign"]);
    out.hmac = { shape: keyShape(h), length: (await s.exportKey("raw", h)).byteLength };
    const h2 = await s.generateKey({ name: "HMAC", hash: "SHA-256", length: 72 }, true, ["verify"]);
    out.hmac72 = (await s.exportKey("raw", h2)).byteLength;
    const E = { name: "ECDSA", namedCurve: "P-256" };
    const R = (over) => ({ name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256", ...over });
    const errs = {
      badUsage: () => s.generateKey(E, true, ["encrypt"]),
      empty: () => s.generateKey(E, true, []),
      verifyOnly: () => s.generateKey(E, true, ["verify"]),
      noExponent: () => s.generateKey(R({ publicExponent: undefined }), true, ["sign"]),
      noLength: () => s.generateKey(R({ modulusLength: undefined }), true, ["sign"]),
      small: () => s.generateKey(R({ modulusLength: 100 }), true, ["sign"]),
      evenExponent: () => s.generateKey(R({ publicExponent: new Uint8Array([2]) }), true, ["sign"]),
      unknown: () => s.generateKey({ name: "RSA-OAEP-9" }, true, ["sign"]),
      curve: () => s.generateKey({ name: "ECDSA", namedCurve: "P-192" }, true, ["sign"]),
      hmacEmpty: () => s.generateKey({ name: "HMAC", hash: "SHA-256" }, true, []),
    };
    for (const [n, f] of Object.entries(errs)) out[n] = await capture(f);
    return out;
  }),
  pbkdf2: ({ hash, password, salt, iterations, bits }) => capture(async () => {
    const k = await crypto.subtle.importKey("raw", bytesOf(password), "PBKDF2", false, ["deriveBits"]);
    return { shape: keyShape(k), bits: hex(await crypto.subtle.deriveBits({ name: "PBKDF2", hash, salt: bytesOf(salt), iterations }, k, bits)) };
  }),
  pbkdf2Errors: async () => {
    const s = crypto.subtle, out = {};
    const k = await s.importKey("raw", bytesOf([1, 2]), "pbkdf2", false, ["deriveBits"]);
    const P = (over) => ({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(4), iterations: 2, ...over });
    const cases = {
      extractable: () => s.importKey("raw", new Uint8Array(2), "PBKDF2", true, ["deriveBits"]),
      badUsage: () => s.importKey("raw", new Uint8Array(2), "PBKDF2", false, ["sign"]),
      empty: () => s.importKey("raw", new Uint8Array(2), "PBKDF2", false, []),
      jwk: () => s.importKey("jwk", {}, "PBKDF2", false, ["deriveBits"]),
      zeroKey: async () => keyShape(await s.importKey("raw", new Uint8Array(0), "PBKDF2", false, ["deriveBits"])),
      iterations0: () => s.deriveBits(P({ iterations: 0 }), k, 64),
      noSalt: () => s.deriveBits(P({ salt: undefined }), k, 64),
      noIterations: () => s.deriveBits(P({ iterations: undefined }), k, 64),
      noHash: () => s.deriveBits(P({ hash: undefined }), k, 64),
      length0: async () => hex(await s.deriveBits(P(), k, 0)),
      length7: () => s.deriveBits(P(), k, 7),
      lengthNull: () => s.deriveBits(P(), k, null),
      md5: () => s.deriveBits(P({ hash: "MD5" }), k, 64),
      hmacDerive: () => s.deriveBits(P({ name: "HMAC" }), k, 64),
      signWithIt: () => s.sign("PBKDF2", k, new Uint8Array(1)),
      exportIt: () => s.exportKey("raw", k),
    };
    for (const [n, f] of Object.entries(cases)) out[n] = await capture(f);
    return out;
  },
  streams: (which) => capture(async () => STREAM_CASES[which]()),
  domException: () => {
    const e = new DOMException("msg", "InvalidCharacterError");
    return { name: e.name, message: e.message, code: e.code, isError: e instanceof Error, string: String(e),
             dflt: [new DOMException().name, new DOMException().message, new DOMException().code],
             constant: DOMException.INVALID_CHARACTER_ERR, quota: DOMException.QUOTA_EXCEEDED_ERR };
  },
};

/* Web Streams scenarios (57_streams.js against Node's): traces of what ran in which order. */
const errName = (e) => (e && e.constructor ? e.constructor.name : String(e));
const ticks = async (n = 20) => {
  for (let i = 0; i < n; i++) await null;
};
const readAll = async (rs) => {
  const out = [];
  for await (const v of rs) out.push(v);
  return out;
};
const STREAM_CASES = {
  basic: async () => {
    const log = [];
    const rs = new ReadableStream({
      start(c) {
        log.push(`start ${c.desiredSize}`);
        c.enqueue("a");
        log.push(`after a ${c.desiredSize}`);
        c.enqueue("b");
        c.close();
      },
    });
    log.push(`locked ${rs.locked}`);
    const r = rs.getReader();
    log.push(`locked ${rs.locked}`);
    r.closed.then(() => log.push("closed"));
    log.push(JSON.stringify(await r.read()));
    log.push(JSON.stringify(await r.read()));
    log.push(JSON.stringify(await r.read()));
    log.push(JSON.stringify(await r.read()));
    await ticks();
    r.releaseLock();
    log.push(`locked ${rs.locked}`);
    log.push(`second reader: ${errName(await rs.getReader().closed.then(() => "ok", (e) => e))}`);
    return log;
  },
  pull: async () => {
    const log = [];
    let i = 0;
    const rs = new ReadableStream({
      start(c) { log.push(`start ${c.desiredSize}`); },
      pull(c) {
        log.push(`pull ${c.desiredSize}`);
        c.enqueue(i++);
        if (i === 5) c.close();
      },
    }, new CountQueuingStrategy({ highWaterMark: 2 }));
    await ticks();
    log.push("reading");
    const r = rs.getReader();
    for (;;) {
      const x = await r.read();
      log.push(JSON.stringify(x));
      if (x.done) break;
    }
    return log;
  },
  asyncPull: async () => {
    const log = [];
    let i = 0;
    const rs = new ReadableStream({
      async pull(c) {
        log.push(`pull ${i}`);
        await ticks(3);
        c.enqueue(i++);
        if (i === 3) c.close();
      },
    }, { highWaterMark: 0 });
    log.push(...(await readAll(rs)).map(String));
    return log;
  },
  errors: async () => {
    const out = {};
    let ctl;
    const rs = new ReadableStream({ start(c) { ctl = c; } });
    const r = rs.getReader();
    const pending = r.read().then((x) => "resolved", (e) => `rejected ${errName(e)} ${e.message}`);
    ctl.error(new RangeError("boom"));
    out.pending = await pending;
    out.read = await r.read().then(() => "resolved", (e) => errName(e));
    out.closed = await r.closed.then(() => "resolved", (e) => e.message);
    out.desired = ctl.desiredSize;
    out.enqueueAfter = (() => { try { ctl.enqueue(1); return "ok"; } catch (e) { return errName(e); } })();
    out.cancel = await rs.cancel().then(() => "resolved", (e) => errName(e));
    const closedRs = new ReadableStream({ start(c) { c.close(); ctl = c; } });
    out.enqueueClosed = (() => { try { ctl.enqueue(1); return "ok"; } catch (e) { return errName(e); } })();
    out.closeTwice = (() => { try { ctl.close(); return "ok"; } catch (e) { return errName(e); } })();
    closedRs.getReader();
    out.lockedReader = (() => { try { closedRs.getReader(); return "ok"; } catch (e) { return errName(e); } })();
    out.lockedCancel = await closedRs.cancel().then(() => "resolved", (e) => errName(e));
    out.startThrows = (() => { try { new ReadableStream({ start() { throw new TypeError("bad start"); } }); return "ok"; } catch (e) { return e.message; } })();
    out.startRejects = await new ReadableStream({ start() { return Promise.reject(new TypeError("bad start")); } })
      .getReader().read().then(() => "resolved", (e) => e.message);
    out.pullRejects = await new ReadableStream({ pull() { return Promise.reject(new Error("bad pull")); } })
      .getReader().read().then(() => "resolved", (e) => e.message);
    out.badSize = await (async () => {
      const rs2 = new ReadableStream({ start(c) { try { c.enqueue(1); } catch (e) { return; } } },
                                     { size() { return -1; } });
      return rs2.getReader().read().then(() => "resolved", (e) => errName(e));
    })();
    out.badHwm = (() => { try { new ReadableStream({}, { highWaterMark: -1 }); return "ok"; } catch (e) { return errName(e); } })();
    out.notObject = (() => { try { new ReadableStream(5); return "ok"; } catch (e) { return errName(e); } })();
    return out;
  },
  cancel: async () => {
    const log = [];
    const rs = new ReadableStream({
      start(c) { c.enqueue("x"); },
      cancel(reason) {
        log.push(`cancel ${reason}`);
        return ticks(2).then(() => log.push("cancel done"));
      },
    });
    const r = rs.getReader();
    log.push(JSON.stringify(await r.read()));
    const p = r.read();
    const c = r.cancel("why");
    log.push(JSON.stringify(await p));
    log.push(`cancel -> ${await c}`);
    log.push(JSON.stringify(await r.read()));
    return log;
  },
  tee: async () => {
    let n = 0;
    const log = [];
    const rs = new ReadableStream({
      pull(c) {
        c.enqueue(`v${n++}`);
        if (n === 3) c.close();
      },
      cancel(r) { log.push(`source cancel ${JSON.stringify(r)}`); },
    });
    const [a, b] = rs.tee();
    log.push(`locked ${rs.locked}`);
    const [ra, rb] = await Promise.all([readAll(a), readAll(b)]);
    log.push(ra.join(","), rb.join(","));
    const [c, d] = new ReadableStream({ start(ctl) { ctl.enqueue(1); }, cancel(r) { log.push(`both ${JSON.stringify(r)}`); } }).tee();
    const p = c.cancel("r1"); /* settles once both branches are cancelled */
    await ticks();
    log.push("one cancelled");
    await d.cancel("r2");
    await p;
    return log;
  },
  iterate: async () => {
    const log = [];
    const rs = ReadableStream.from((function* () {
      try {
        yield 1;
        yield 2;
        yield 3;
      } finally {
        log.push("generator finally");
      }
    })());
    for await (const v of rs) {
      log.push(`v ${v}`);
      if (v === 2) break;
    }
    log.push(`locked ${rs.locked}`);
    const rs2 = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } });
    const it = rs2.values({ preventCancel: true });
    log.push(JSON.stringify(await it.next()));
    const ret = await it.return("x");
    log.push(`return ${ret.value} ${ret.done}`);
    log.push(`locked ${rs2.locked}`);
    log.push((await readAll(rs2)).join(","));
    log.push((await readAll(ReadableStream.from((async function* () { yield "p"; yield "q"; })()))).join(","));
    log.push(`same ${ReadableStream.from(rs2) === rs2}`);
    log.push(`notIterable ${(() => { try { ReadableStream.from(5); return "ok"; } catch (e) { return errName(e); } })()}`);
    return log;
  },
  pipe: async () => {
    const log = [];
    const ws = new WritableStream({
      start() { log.push("sink start"); },
      async write(chunk) {
        log.push(`write ${chunk}`);
        await ticks(2);
      },
      close() { log.push("sink close"); },
      abort(r) { log.push(`sink abort ${r}`); },
    }, new CountQueuingStrategy({ highWaterMark: 2 }));
    const rs = new ReadableStream({ start(c) { for (const x of [1, 2, 3, 4]) c.enqueue(x); c.close(); } });
    await rs.pipeTo(ws);
    log.push(`piped, locked ${rs.locked} ${ws.locked}`);
    /* a sink that fails cancels the source */
    const rs2 = new ReadableStream({
      pull(c) { c.enqueue("y"); },
      cancel(r) { log.push(`source cancel ${r.message}`); },
    });
    const ws2 = new WritableStream({ write() { throw new Error("sink broke"); } });
    log.push(`pipe2 ${await rs2.pipeTo(ws2).then(() => "resolved", (e) => e.message)}`);
    /* a source that errors aborts the sink, unless preventAbort */
    const rs3 = new ReadableStream({ start(c) { c.enqueue("z"); c.error(new Error("source broke")); } });
    const ws3 = new WritableStream({ write(ch) { log.push(`w3 ${ch}`); }, abort(r) { log.push(`abort3 ${r.message}`); } });
    log.push(`pipe3 ${await rs3.pipeTo(ws3).then(() => "resolved", (e) => e.message)}`);
    /* preventClose leaves the destination open */
    const ws4 = new WritableStream({ write(ch) { log.push(`w4 ${ch}`); }, close() { log.push("close4"); } });
    await ReadableStream.from(["k"]).pipeTo(ws4, { preventClose: true });
    const w4 = ws4.getWriter();
    await w4.write("after");
    await w4.close();
    return log;
  },
  writer: async () => {
    const log = [];
    let release;
    const ws = new WritableStream({
      write(chunk) {
        log.push(`write ${chunk}`);
        return new Promise((r) => (release = r));
      },
      close() { log.push("close"); },
    }, { highWaterMark: 2 });
    const w = ws.getWriter();
    log.push(`desired ${w.desiredSize}`);
    const p1 = w.write("a");
    log.push(`desired ${w.desiredSize}`);
    const p2 = w.write("b");
    log.push(`desired ${w.desiredSize}`);
    let readyResolved = false;
    w.ready.then(() => (readyResolved = true));
    await ticks();
    log.push(`ready ${readyResolved}`);
    release();
    await p1;
    log.push(`p1 done, desired ${w.desiredSize}`);
    await ticks();
    release();
    await p2;
    log.push(`ready ${readyResolved}`);
    const closing = w.close();
    /* (a write after close() is a TypeError by the standard; Node 20 fails an internal assertion) */
    await closing;
    log.push(`closed ${await w.closed.then(() => "ok")}`);
    w.releaseLock();
    log.push(`released closed ${await w.closed.then(() => "ok", (e) => errName(e))}`);
    const ws2 = new WritableStream({ abort(r) { log.push(`abort ${r}`); } });
    const w2 = ws2.getWriter();
    await w2.abort("stop");
    log.push(`after abort ${await w2.write("x").then(() => "ok", (e) => e)}`);
    log.push(`locked twice ${(() => { try { ws.getWriter(); ws.getWriter(); return "ok"; } catch (e) { return errName(e); } })()}`);
    return log;
  },
  transform: async () => {
    const log = [];
    const upper = new TransformStream({
      start() { log.push("t start"); },
      transform(chunk, c) {
        log.push(`t ${chunk} ${c.desiredSize}`);
        c.enqueue(String(chunk).toUpperCase());
      },
      flush(c) {
        log.push("t flush");
        c.enqueue("!");
      },
    });
    const out = ReadableStream.from(["ab", "cd"]).pipeThrough(upper);
    log.push((await readAll(out)).join(""));
    const id = new TransformStream();
    const w = id.writable.getWriter();
    w.write("p");
    w.write("q");
    w.close();
    log.push((await readAll(id.readable)).join(""));
    const term = new TransformStream({
      transform(chunk, c) {
        c.enqueue(chunk);
        c.terminate();
      },
    });
    const tw = term.writable.getWriter();
    const first = tw.write("only");
    const rd = term.readable.getReader();
    log.push(JSON.stringify(await rd.read()));
    log.push(JSON.stringify(await rd.read()));
    await first;
    log.push(`write after terminate ${await tw.write("x").then(() => "ok", (e) => errName(e))}`);
    const failing = new TransformStream({ transform() { throw new RangeError("no"); } });
    const fw = failing.writable.getWriter();
    const fread = failing.readable.getReader().read(); /* the write waits for a reader (backpressure) */
    log.push(`failing write ${await fw.write(1).then(() => "ok", (e) => e.message)}`);
    log.push(`failing read ${await fread.then(() => "ok", (e) => errName(e))}`);
    return log;
  },
  encoding: async () => {
    const enc = new TextEncoderStream();
    const w = enc.writable.getWriter();
    const s = "a😀é";
    w.write(s.slice(0, 2)); /* the surrogate pair split across writes */
    w.write(s.slice(2));
    w.write("\ud800");
    w.close();
    const bytes = [];
    for await (const c of enc.readable) bytes.push(...c);
    const dec = new TextDecoderStream();
    const dw = dec.writable.getWriter();
    const u8 = new TextEncoder().encode("x€😀y");
    dw.write(u8.slice(0, 2));
    dw.write(u8.slice(2, 6));
    dw.write(u8.slice(6));
    dw.close();
    const parts = await readAll(dec.readable);
    return { bytes, text: parts.join(""), encoding: [enc.encoding, dec.encoding, dec.fatal, dec.ignoreBOM] };
  },
  response: async () => {
    const log = [];
    const rs = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("hi ")); c.enqueue(new Uint8Array([0x74, 0x68, 0x65, 0x72, 0x65])); c.close(); } });
    const r = new Response(rs);
    log.push(`body same ${r.body === rs} used ${r.bodyUsed}`);
    const c = r.clone();
    log.push(await r.text());
    log.push(`used ${r.bodyUsed}`);
    log.push(await c.text());
    log.push(`again ${await r.text().then(() => "ok", (e) => errName(e))}`);
    const locked = new ReadableStream();
    locked.getReader();
    log.push(`locked ${(() => { try { new Response(locked); return "ok"; } catch (e) { return errName(e); } })()}`);
    const bytes = new Response("abc");
    const reader = bytes.body.getReader();
    const first = await reader.read();
    log.push(`bytes body ${new TextDecoder().decode(first.value)} ${JSON.stringify(await reader.read())} used ${bytes.bodyUsed}`);
    log.push(`text after body read ${await bytes.text().then(() => "ok", (e) => errName(e))}`);
    log.push(`null body ${new Response(null).body}`);
    log.push(`bad chunk ${await new Response(new ReadableStream({ start(c) { c.enqueue("str"); c.close(); } })).text().then(() => "ok", (e) => errName(e))}`);
    return log;
  },
  strategies: () => {
    const b = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
    const n = new CountQueuingStrategy({ highWaterMark: 3 });
    return { b: [b.highWaterMark, b.size(new Uint8Array(5))], n: [n.highWaterMark, n.size("anything")],
             noHwm: (() => { try { new CountQueuingStrategy({}); return "ok"; } catch (e) { return errName(e); } })(),
             tags: [Object.prototype.toString.call(new ReadableStream()), Object.prototype.toString.call(new WritableStream()),
                    Object.prototype.toString.call(new TransformStream())] };
  },
};

// (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
//         (import "env" "base" (global i32)) ...) by form: "add" alone, or "imports" with env.k
const WASM_ADD = [0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1,
                  3, 97, 100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11];
// (module (import "env" "k" (func $k (result i32))) (func (export "get") (result i32) call $k))
const WASM_IMPORT = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 2, 9, 1, 3, 101, 110, 118,
                     1, 107, 0, 0, 3, 2, 1, 0, 7, 7, 1, 3, 103, 101, 116, 0, 1, 10, 6, 1, 4, 0, 16,
                     0, 11];
CASES.wasm = async (form) => {
  const bytes = new Uint8Array(form === "bad" ? [0, 97, 115, 109, 9, 9] : form === "imports" || form === "missingImport" ? WASM_IMPORT : WASM_ADD);
  const imports = form === "imports" ? { env: { k: () => 41 } } : {};
  const call = (inst) => (form === "imports" ? inst.exports.get() + 1 : inst.exports.add(20, 22));
  try {
    const out = {};
    const a = await WebAssembly.instantiate(bytes, imports);
    out.instantiate = [a.module instanceof WebAssembly.Module, a.instance instanceof WebAssembly.Instance, call(a.instance)];
    const m = await WebAssembly.compile(bytes);
    out.compile = m instanceof WebAssembly.Module;
    out.fromModule = call(await WebAssembly.instantiate(m, imports));
    out.sync = call(new WebAssembly.Instance(new WebAssembly.Module(bytes), imports));
    const resp = () => new Response(bytes, { headers: { "content-type": "application/wasm" } });
    out.streaming = call((await WebAssembly.instantiateStreaming(resp(), imports)).instance);
    out.compileStreaming = (await WebAssembly.compileStreaming(Promise.resolve(resp()))) instanceof WebAssembly.Module;
    out.exports = WebAssembly.Module.exports(m).map((e) => [e.name, e.kind]);
    return out;
  } catch (e) {
    return { error: e.constructor.name, isWasmError: e instanceof WebAssembly.CompileError || e instanceof WebAssembly.LinkError || e instanceof TypeError };
  }
};

export async function runCase(name, input) {
  const fn = CASES[name];
  if (!fn) throw new Error(`no case ${name}`);
  return await fn(input);
}
