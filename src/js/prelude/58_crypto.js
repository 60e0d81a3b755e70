/* crypto: getRandomValues and randomUUID (in actions from OpenSSL's RAND_bytes; in queries and
 * mutations from the execution's seeded generator, so that a re-run gives the same values), and
 * crypto.subtle's digest (SHA-1/256/384/512) and HMAC (importKey "raw"/"jwk"-less, exportKey
 * "raw", sign, verify) through OpenSSL (src/js/native_crypto.c). Errors are Node's
 * DOMExceptions; subtle methods report every failure as a rejected promise. */

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
    if (!keyBytes.has(key)) throw argTypeError("key", "an instance of CryptoKey", key);
    if (!key.usages.includes(usage))
        throw domError("InvalidAccessError", `Unable to use this key to ${usage}`);
    return key;
}

class SubtleCrypto {
    async digest(algorithm, data) {
        const name = hashName(algorithm);
        return native.digest(name, dataBytes(data, "data"));
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
        if (algorithmName(algorithm).toUpperCase() !== "HMAC")
            throw domError("NotSupportedError", "Unrecognized algorithm name");
        if (algorithm.hash === undefined) throw new TypeError("HmacImportParams: hash is missing");
        const hash = hashName(algorithm.hash);
        if (format !== "raw")
            throw domError("NotSupportedError", `Unable to import HMAC key with format ${format}`);
        const usages = Array.from(keyUsages || []);
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
        if (!keyBytes.has(key)) throw argTypeError("key", "an instance of CryptoKey", key);
        /* sic: Node's name for this one */
        if (!key.extractable) throw domError("InvalidAccessException", "key is not extractable");
        if (format !== "raw")
            throw domError("NotSupportedError", `Unable to export HMAC key with format ${format}`);
        return copyBytes(keyBytes.get(key)).buffer;
    }

    async sign(algorithm, key, data) {
        hmacKey(algorithm, key, "sign");
        return native.hmac(key.algorithm.hash.name, keyBytes.get(key), dataBytes(data, "data"));
    }

    async verify(algorithm, key, signature, data) {
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
