/* crypto: getRandomValues and randomUUID (in actions from OpenSSL's RAND_bytes; in queries and
 * mutations from the execution's seeded generator, so that a re-run gives the same values), and
 * crypto.subtle through OpenSSL: digest (SHA-1/256/384/512), HMAC (importKey/exportKey "raw",
 * generateKey, sign, verify; src/js/native_crypto.c) and RSASSA-PKCS1-v1_5, RSA-PSS and ECDSA
 * P-256/384/521 (importKey "spki"/"pkcs8"/"jwk" and EC "raw", exportKey, generateKey, sign,
 * verify; src/js/native_pkey.c). Errors are Node's DOMExceptions and texts; subtle methods report
 * every failure as a rejected promise. */

const RANDOM_MAX = 65536;
const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
                        Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

function fillRandom(u8) {
    if (mode === ACTION) {
        const tmp = new Uint8Array(u8.length); /* offset 0: what the native side fills */
        native.randomFill(tmp);
        u8.set(tmp);
        return;
    }
    for (let i = 0; i < u8.length; i += 4) {
        const r = (nextRandom() * 4294967296) >>> 0;
        for (let k = 0; k < 4 && i + k < u8.length; k++) u8[i + k] = (r >>> (8 * k)) & 0xff;
    }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

class Crypto {
    getRandomValues(array) {
        if (!INTEGER_ARRAYS.some((T) => array instanceof T))
            throw domError("TypeMismatchError",
                           "The data argument must be an integer-type TypedArray");
        if (array.byteLength > RANDOM_MAX)
            throw domError("QuotaExceededError", "The requested length exceeds 65,536 bytes");
        fillRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
        return array;
    }

    randomUUID() {
        const b = new Uint8Array(16);
        fillRandom(b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        const h = Array.from(b, (x) => HEX[x]);
        return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" +
            h.slice(6, 8).join("") + "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
    }

    get subtle() { return subtle; }
}
Object.defineProperty(Crypto.prototype, Symbol.toStringTag, { value: "Crypto" });

/* ---- crypto.subtle ---- */

const HASHES = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
const keyBytes = new WeakMap(); /* CryptoKey -> its secret (Uint8Array) */

function algorithmName(alg) {
    const name = typeof alg === "string" ? alg
        : alg !== null && typeof alg === "object" && alg.name !== undefined ? String(alg.name)
        : null;
    if (name === null) throw new TypeError("Algorithm: name is missing");
    return name;
}

function hashName(alg) {
    const name = algorithmName(alg).toUpperCase();
    if (!Object.prototype.hasOwnProperty.call(HASHES, name))
        throw domError("NotSupportedError", "Unrecognized algorithm name");
    return name;
}

function dataBytes(x, what) {
    const u8 = bufferSourceBytes(x);
    if (u8 === null)
        throw argTypeError(what, "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", x);
    return copyBytes(u8);
}

class CryptoKey {
    constructor() {
        throw new TypeError("Illegal constructor");
    }
}
Object.defineProperty(CryptoKey.prototype, Symbol.toStringTag, { value: "CryptoKey" });

function makeHmacKey(bytes, hash, extractable, usages) {
    const key = Object.create(CryptoKey.prototype);
    Object.defineProperties(key, {
        type: { value: "secret", enumerable: true },
        extractable: { value: extractable, enumerable: true },
        algorithm: { value: Object.freeze({ name: "HMAC", hash: Object.freeze({ name: hash }),
                                            length: bytes.length * 8 }), enumerable: true },
        usages: { value: Object.freeze(usages.slice()), enumerable: true },
    });
    keyBytes.set(key, bytes);
    return key;
}

function hmacKey(alg, key, usage) {
    if (algorithmName(alg).toUpperCase() !== "HMAC")
        throw domError("NotSupportedError", "Unrecognized algorithm name");
    if (!keyBytes.has(key) && !keyDer.has(key))
        throw argTypeError("key", "an instance of CryptoKey", key);
    if (!keyBytes.has(key) || !key.usages.includes(usage))
        throw domError("InvalidAccessError", `Unable to use this key to ${usage}`);
    return key;
}

/* ---- asymmetric keys: RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA (src/js/native_pkey.c) ---- */

const ASYMMETRIC = { "RSASSA-PKCS1-V1_5": "RSASSA-PKCS1-v1_5", "RSA-PSS": "RSA-PSS",
                     "ECDSA": "ECDSA" };
const CURVES = ["P-256", "P-384", "P-521"];
const keyDer = new WeakMap(); /* CryptoKey -> its DER (SubjectPublicKeyInfo or PKCS #8) */

/* The registered name of an algorithm (case-insensitive, as WebCrypto normalizes it) that
 * supports operation `op`; NotSupportedError otherwise, as Node. */
const OPS = { HMAC: ["importKey", "generateKey", "sign", "verify"],
              PBKDF2: ["importKey", "deriveBits"] };
for (const n of Object.values(ASYMMETRIC)) OPS[n] = ["importKey", "generateKey", "sign", "verify"];

function canonicalName(alg, op) {
    const upper = algorithmName(alg).toUpperCase();
    const name = upper === "HMAC" || upper === "PBKDF2" ? upper
        : Object.prototype.hasOwnProperty.call(ASYMMETRIC, upper) ? ASYMMETRIC[upper] : null;
    if (name === null || !OPS[name].includes(op))
        throw domError("NotSupportedError", "Unrecognized algorithm name");
    return name;
}

/* WebIDL's dictionary conversion: members in order; a missing required one is a TypeError. */
function required(alg, dict, members) {
    for (const m of members)
        if (alg === null || typeof alg !== "object" || alg[m] === undefined) {
            const e = new TypeError("Failed to normalize algorithm: passed algorithm can not be " +
                                    `converted to '${dict}' because '${m}' is required in ` +
                                    `'${dict}'.`);
            e.code = "ERR_MISSING_OPTION";
            throw e;
        }
}

/* Node's TypeError for a key argument that is no CryptoKey (checked before the algorithm). */
function checkKey(key, method) {
    if (keyBytes.has(key) || keyDer.has(key)) return;
    const e = new TypeError(`Failed to execute '${method}' on 'SubtleCrypto': 2nd argument is ` +
                            "not of type CryptoKey.");
    e.code = "ERR_INVALID_ARG_TYPE";
    throw e;
}

/* Calls a native.pkey* function: its errors (an Error whose code names the DOMException) as
 * DOMExceptions. */
function pkey(fn, ...args) {
    try {
        return fn(...args);
    } catch (e) {
        if (e instanceof Error && typeof e.code === "string") throw domError(e.code, e.message);
        throw e;
    }
}

function curveOf(alg, dict) {
    required(alg, dict, ["namedCurve"]);
    const c = String(alg.namedCurve);
    if (!CURVES.includes(c)) throw domError("NotSupportedError", "Unrecognized namedCurve");
    return c;
}

const isRsa = (name) => name !== "ECDSA";

/* Checks usages against what a key of this type allows: SyntaxError as Node words it. */
function checkUsages(name, type, usages, verb) {
    const allowed = type === "private" ? ["sign"] : type === "public" ? ["verify"]
        : ["sign", "verify"];
    for (const u of usages)
        if (!allowed.includes(u))
            throw domError("SyntaxError", `Unsupported key usage for an ${name} key`);
    if (type === "private" && usages.length === 0)
        throw domError("SyntaxError", `Usages cannot be empty when ${verb} a private key.`);
}

/* A CryptoKey from native's describe(): [type, der, modulusLength | namedCurve, exponent]. */
function makeAsymmetricKey(d, name, hash, extractable, usages) {
    const algorithm = isRsa(name)
        ? { name, modulusLength: d[2], publicExponent: new Uint8Array(d[3]), hash: { name: hash } }
        : { name, namedCurve: d[2] };
    const key = Object.create(CryptoKey.prototype);
    Object.defineProperties(key, {
        type: { value: d[0], enumerable: true },
        extractable: { value: extractable, enumerable: true },
        algorithm: { value: algorithm, enumerable: true },
        usages: { value: Object.freeze(usages.slice()), enumerable: true },
    });
    keyDer.set(key, new Uint8Array(d[1]));
    return key;
}

function b64urlDecode(s) {
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1)
        throw domError("DataError", "Invalid keyData");
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
}

function b64urlEncode(buf) {
    const u8 = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < u8.length; i++) bin += String.fromCharCode(u8[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const JWK_RSA_PRIVATE = ["d", "p", "q", "dp", "dq", "qi"];

function jwkAlg(name, hash, curve) {
    if (name === "ECDSA") return { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[curve];
    const bits = hash === "SHA-1" ? "1" : hash.slice(4);
    return (name === "RSA-PSS" ? "PS" : "RS") + bits;
}

function importJwk(jwk, name, hash, curve, extractable, usages) {
    if (jwk === null || typeof jwk !== "object")
        throw argTypeError("keyData", "of type object", jwk);
    if (jwk.kty !== (isRsa(name) ? "RSA" : "EC"))
        throw domError("DataError", 'Invalid JWK "kty" Parameter');
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== "sig")
        throw domError("DataError", 'Invalid JWK "use" Parameter');
    if (jwk.key_ops !== undefined &&
        (!Array.isArray(jwk.key_ops) || usages.some((u) => !jwk.key_ops.includes(u))))
        throw domError("DataError", "Key operations and usage mismatch");
    if (jwk.ext !== undefined && jwk.ext === false && extractable)
        throw domError("DataError", 'JWK "ext" Parameter and extractable mismatch');
    const type = jwk.d !== undefined ? "private" : "public";
    checkUsages(name, type, usages, "importing");
    let parts;
    if (isRsa(name)) {
        if (jwk.alg !== undefined && jwk.alg !== jwkAlg(name, hash))
            throw domError("DataError", 'JWK "alg" does not match the requested algorithm');
        const names = type === "private" ? ["n", "e", ...JWK_RSA_PRIVATE] : ["n", "e"];
        parts = names.map((k) => b64urlDecode(jwk[k]));
    } else {
        if (jwk.crv !== curve)
            throw domError("DataError", 'JWK "crv" does not match the requested algorithm');
        parts = (type === "private" ? ["x", "y", "d"] : ["x", "y"]).map((k) => b64urlDecode(jwk[k]));
    }
    return pkey(native.pkeyFromJwk, isRsa(name) ? "RSA" : "EC", curve || "", ...parts);
}

function importAsymmetric(format, keyData, algorithm, name, extractable, usages) {
    let hash = null, curve = null;
    if (isRsa(name)) {
        required(algorithm, "RsaHashedImportParams", ["hash"]);
        hash = hashName(algorithm.hash);
    } else {
        curve = curveOf(algorithm, "EcKeyImportParams");
    }
    let d;
    if (format === "jwk") {
        d = importJwk(keyData, name, hash, curve, extractable, usages);
    } else if (format === "spki" || format === "pkcs8" || (format === "raw" && curve)) {
        checkUsages(name, format === "pkcs8" ? "private" : "public", usages, "importing");
        d = pkey(native.pkeyImport, isRsa(name) ? "RSA" : "EC", curve || "", format,
                 dataBytes(keyData, "keyData"));
    } else {
        throw domError("NotSupportedError",
                       `Unable to import ${isRsa(name) ? "RSA" : "EC"} key with format ${format}`);
    }
    return makeAsymmetricKey(d, name, hash, extractable, usages);
}

function exportAsymmetric(format, key) {
    const name = key.algorithm.name, der = keyDer.get(key);
    const priv = key.type === "private";
    if (format === "spki" || format === "pkcs8" || format === "raw") {
        if (format === "pkcs8" ? !priv : priv || (format === "raw" && isRsa(name)))
            throw domError("InvalidAccessError",
                           `Unable to export a ${format === "pkcs8" ? "pkcs8" : "raw"} ${name} ` +
                           `${key.type} key`);
        if (format !== "raw") return copyBytes(der).buffer;
        const [x, y] = pkey(native.pkeyJwk, der, false);
        const point = new Uint8Array(1 + x.byteLength + y.byteLength);
        point[0] = 4;
        point.set(new Uint8Array(x), 1);
        point.set(new Uint8Array(y), 1 + x.byteLength);
        return point.buffer;
    }
    if (format !== "jwk")
        throw domError("NotSupportedError", `Unable to export ${name} key with format ${format}`);
    const parts = pkey(native.pkeyJwk, der, priv).map(b64urlEncode);
    const jwk = { key_ops: key.usages.slice(), ext: key.extractable };
    if (isRsa(name)) {
        jwk.kty = "RSA";
        jwk.n = parts[0];
        jwk.e = parts[1];
        JWK_RSA_PRIVATE.forEach((k, i) => { if (priv) jwk[k] = parts[2 + i]; });
        jwk.alg = jwkAlg(name, key.algorithm.hash.name);
    } else {
        jwk.kty = "EC";
        jwk.x = parts[0];
        jwk.y = parts[1];
        jwk.crv = key.algorithm.namedCurve;
        if (priv) jwk.d = parts[2];
    }
    return jwk;
}

/* The hash and salt a sign/verify call uses, after the algorithm's own checks. */
function signParams(algorithm, name, key, usage) {
    if (!keyDer.has(key) && !keyBytes.has(key))
        throw argTypeError("key", "an instance of CryptoKey", key);
    let hash = null, salt = 0;
    if (name === "ECDSA") {
        required(algorithm, "EcdsaParams", ["hash"]);
        hash = hashName(algorithm.hash);
    } else if (name === "RSA-PSS") {
        required(algorithm, "RsaPssParams", ["saltLength"]);
        salt = Number(algorithm.saltLength);
    }
    if (key.algorithm.name !== name || !key.usages.includes(usage))
        throw domError("InvalidAccessError", `Unable to use this key to ${usage}`);
    return { hash: hash || key.algorithm.hash.name, salt };
}

function generateAsymmetric(algorithm, name, extractable, usages) {
    let d, hash = null;
    for (const u of usages)
        if (u !== "sign" && u !== "verify")
            throw domError("SyntaxError", `Unsupported key usage for an ${name} key`);
    if (isRsa(name)) {
        required(algorithm, "RsaHashedKeyGenParams", ["modulusLength", "publicExponent", "hash"]);
        hash = hashName(algorithm.hash);
        const e = bufferSourceBytes(algorithm.publicExponent);
        if (e === null || !(algorithm.publicExponent instanceof Uint8Array))
            throw new TypeError("Failed to normalize algorithm: 'publicExponent' is not a " +
                                "Uint8Array");
        d = [() => pkey(native.pkeyGenerate, "RSA", "", Number(algorithm.modulusLength), copyBytes(e))];
    } else {
        const curve = curveOf(algorithm, "EcKeyGenParams");
        d = [() => pkey(native.pkeyGenerate, "EC", curve, 0)];
    }
    const privUsages = usages.filter((u) => u === "sign");
    if (privUsages.length === 0)
        throw domError("SyntaxError", "Usages cannot be empty when creating a key.");
    const [priv, pub] = d[0]();
    return { /* Node's order */
        publicKey: makeAsymmetricKey(pub, name, hash, true, usages.filter((u) => u === "verify")),
        privateKey: makeAsymmetricKey(priv, name, hash, extractable, privUsages),
    };
}

/* ---- PBKDF2 (native.pbkdf2) ---- */

const PBKDF2_MAX_ITERATIONS = 10000000; /* native_crypto.c's, which stops at the time limit */
const PBKDF2_MAX_BITS = 8 << 20;

function importPbkdf2(format, keyData, extractable, usages) {
    if (format !== "raw")
        throw domError("NotSupportedError", `Unable to import PBKDF2 key with format ${format}`);
    for (const u of usages)
        if (u !== "deriveBits" && u !== "deriveKey")
            throw domError("SyntaxError", "Unsupported key usage for a PBKDF2 key");
    if (extractable) throw domError("SyntaxError", "PBKDF2 keys are not extractable");
    if (usages.length === 0)
        throw domError("SyntaxError", "Usages cannot be empty when importing a secret key.");
    const bytes = dataBytes(keyData, "keyData");
    const key = Object.create(CryptoKey.prototype);
    Object.defineProperties(key, {
        type: { value: "secret", enumerable: true },
        extractable: { value: false, enumerable: true },
        algorithm: { value: Object.freeze({ name: "PBKDF2" }), enumerable: true },
        usages: { value: Object.freeze(usages.slice()), enumerable: true },
    });
    keyBytes.set(key, bytes);
    return key;
}

function derivePbkdf2(algorithm, key, length) {
    required(algorithm, "Pbkdf2Params", ["hash", "iterations", "salt"]);
    const hash = hashName(algorithm.hash);
    const salt = dataBytes(algorithm.salt, "algorithm.salt");
    if (!keyBytes.has(key)) throw argTypeError("baseKey", "an instance of CryptoKey", key);
    if (key.algorithm.name !== "PBKDF2" || !key.usages.includes("deriveBits"))
        throw domError("InvalidAccessError", "Unable to use this key to deriveBits");
    const iterations = Number(algorithm.iterations);
    if (iterations === 0) throw domError("OperationError", "iterations cannot be zero");
    if (!(iterations >= 1 && iterations <= PBKDF2_MAX_ITERATIONS))
        throw domError("OperationError",
                       `iterations must be at most ${PBKDF2_MAX_ITERATIONS} (Vireo's limit)`);
    if (length === null || length === undefined)
        throw domError("OperationError", "length cannot be null");
    const bits = Number(length);
    if (bits % 8 !== 0) throw domError("OperationError", "length must be a multiple of 8");
    if (!(bits >= 0 && bits <= PBKDF2_MAX_BITS))
        throw domError("OperationError", `length must be at most ${PBKDF2_MAX_BITS} (Vireo's limit)`);
    return pkey((...a) => native.pbkdf2(...a), hash, keyBytes.get(key), salt,
                Math.floor(iterations), bits / 8);
}

const HMAC_BLOCK_BITS = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };

class SubtleCrypto {
    async digest(algorithm, data) {
        const name = hashName(algorithm);
        return native.digest(name, dataBytes(data, "data"));
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
        const name = canonicalName(algorithm, "importKey");
        const usages = Array.from(keyUsages || []);
        if (name === "PBKDF2") return importPbkdf2(format, keyData, Boolean(extractable), usages);
        if (name !== "HMAC")
            return importAsymmetric(format, keyData, algorithm, name, Boolean(extractable), usages);
        if (algorithm.hash === undefined) throw new TypeError("HmacImportParams: hash is missing");
        const hash = hashName(algorithm.hash);
        if (format !== "raw")
            throw domError("NotSupportedError", `Unable to import HMAC key with format ${format}`);
        for (const u of usages)
            if (u !== "sign" && u !== "verify")
                throw domError("SyntaxError", "Unsupported key usage for an HMAC key");
        const bytes = dataBytes(keyData, "keyData");
        if (bytes.length === 0) throw domError("DataError", "Zero-length key is not supported");
        if (algorithm.length !== undefined && Number(algorithm.length) !== bytes.length * 8)
            throw domError("DataError", "Invalid key length");
        if (usages.length === 0)
            throw domError("SyntaxError", "Usages cannot be empty when importing a secret key.");
        return makeHmacKey(bytes, hash, Boolean(extractable), usages);
    }

    async exportKey(format, key) {
        checkKey(key, "exportKey");
        /* sic: Node's name for this one */
        if (!key.extractable) throw domError("InvalidAccessException", "key is not extractable");
        if (keyDer.has(key)) return exportAsymmetric(format, key);
        if (key.algorithm.name !== "HMAC")
            throw domError("NotSupportedError", `Unable to export ${key.algorithm.name} key`);
        if (format !== "raw")
            throw domError("NotSupportedError", `Unable to export HMAC key with format ${format}`);
        return copyBytes(keyBytes.get(key)).buffer;
    }

    async generateKey(algorithm, extractable, keyUsages) {
        const name = canonicalName(algorithm, "generateKey");
        const usages = Array.from(keyUsages || []);
        if (name !== "HMAC") return generateAsymmetric(algorithm, name, Boolean(extractable), usages);
        required(algorithm, "HmacKeyGenParams", ["hash"]);
        const hash = hashName(algorithm.hash);
        for (const u of usages)
            if (u !== "sign" && u !== "verify")
                throw domError("SyntaxError", "Unsupported key usage for an HMAC key");
        if (usages.length === 0)
            throw domError("SyntaxError", "Usages cannot be empty when creating a key.");
        const bits = algorithm.length === undefined ? HMAC_BLOCK_BITS[hash]
            : Number(algorithm.length);
        if (!(bits > 0 && bits % 8 === 0 && bits <= 8 * RANDOM_MAX))
            throw domError("OperationError", "Invalid key length");
        const bytes = new Uint8Array(bits / 8);
        fillRandom(bytes);
        return makeHmacKey(bytes, hash, Boolean(extractable), usages);
    }

    async deriveBits(algorithm, baseKey, length) {
        checkKey(baseKey, "deriveBits");
        canonicalName(algorithm, "deriveBits");
        return derivePbkdf2(algorithm, baseKey, length);
    }

    async sign(algorithm, key, data) {
        checkKey(key, "sign");
        const name = canonicalName(algorithm, "sign");
        if (name === "HMAC") {
            hmacKey(algorithm, key, "sign");
            return native.hmac(key.algorithm.hash.name, keyBytes.get(key), dataBytes(data, "data"));
        }
        const { hash, salt } = signParams(algorithm, name, key, "sign");
        return pkey(native.pkeySign, name, hash, keyDer.get(key), undefined,
                    dataBytes(data, "data"), salt);
    }

    async verify(algorithm, key, signature, data) {
        checkKey(key, "verify");
        const name = canonicalName(algorithm, "verify");
        if (name !== "HMAC") {
            const { hash, salt } = signParams(algorithm, name, key, "verify");
            return pkey(native.pkeyVerify, name, hash, keyDer.get(key),
                        dataBytes(signature, "signature"), dataBytes(data, "data"), salt);
        }
        hmacKey(algorithm, key, "verify");
        const sig = dataBytes(signature, "signature");
        const mac = new Uint8Array(native.hmac(key.algorithm.hash.name, keyBytes.get(key),
                                               dataBytes(data, "data")));
        if (sig.length !== mac.length) return false;
        let diff = 0;
        for (let i = 0; i < mac.length; i++) diff |= mac[i] ^ sig[i];
        return diff === 0;
    }
}
Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: "SubtleCrypto" });

const subtle = Object.create(SubtleCrypto.prototype);
globalThis.crypto = Object.create(Crypto.prototype);
globalThis.Crypto = Crypto;
globalThis.SubtleCrypto = SubtleCrypto;
globalThis.CryptoKey = CryptoKey;
