// Web APIs in actions and queries (issue 9 item 3) on apps/webapi: URL, URLSearchParams,
// TextEncoder/TextDecoder, atob/btoa, structuredClone, crypto (getRandomValues, randomUUID,
// subtle digest, HMAC, PBKDF2, RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA), Blob/File/FormData and the
// multipart encoder/parser, timers, queueMicrotask, DOMException, Web Streams (ReadableStream,
// WritableStream, TransformStream, the encoder streams, a Response made from a stream). Each case
// in apps/webapi/vireo/_lib/cases.mjs runs in Vireo and
// in this Node process, over a table of inputs, and the results must be equal. Then what only
// Vireo has: timers bounded per action and by the action's time limit, timers of a finished
// action never firing, the deterministic subset in queries and mutations, Convex's errors there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, APPS } from "./helpers.mjs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import nodeCrypto from "node:crypto";

const { runCase, latin1Text } = await import(pathToFileURL(path.join(APPS, "webapi/vireo/_lib/cases.mjs")).href);

let srv; // one action thread (module state is per runtime), a 3 s action limit
before(async () => {
    srv = await startServer(tempDir("webapi"), { args: ["--action-threads", "1", "--action-timeout-ms", "3000"] });
});
after(async () => {
    if (srv) await srv.stop();
});

async function vireo(kind, name, input) {
    const fn = kind === "action" ? "webapi:inAction" : kind === "query" ? "webapi:inQuery" : "webapi:inMutation";
    const r = await srv.call(kind, fn, input === undefined ? { name } : { name, input });
    assert.equal(r.status, 200, `${kind} ${name}(${JSON.stringify(input)}): HTTP ${r.status} ${r.text}`);
    assert.equal(r.json.status, "success", r.text);
    return r.json.value;
}

/* Node's result as it comes back through Convex's JSON (undefined fields dropped). */
async function node(name, input) {
    return JSON.parse(JSON.stringify(await runCase(name, input)));
}

/* Checks case `name` on every input: Vireo's action (and, for deterministic APIs, its query)
 * against Node. */
async function same(name, inputs, { kinds = ["action", "query"] } = {}) {
    for (const input of inputs) {
        const want = await node(name, input);
        for (const kind of kinds) {
            const got = await vireo(kind, name, input);
            assert.deepEqual(got, want, `${name} in a ${kind}, input ${JSON.stringify(input)}`);
        }
    }
}

/* The UTF-16 code units of s; past 8,192 of them (Convex's array limit for a value sent as an
 * argument), chunks of at most 8,192 */
const units = (s) => {
    const u = Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
    if (u.length <= 8192) return u;
    const chunks = [];
    for (let i = 0; i < u.length; i += 8192) chunks.push(u.slice(i, i + 8192));
    return chunks;
};

test("URL: parsing, relative URLs, IDNs, percent-encoding, invalid URLs as Node", async () => {
    await same("url", [
        ["https://user:pa ss@Example.COM:8080/a/./b/../c d?q=1 2&r=ä#frag ment"],
        ["http://münchen.de/straße"], ["http://ＥＸＡＭＰＬＥ.com/"], ["http://faß.DE"], ["http://ΑΒΓ.com"],
        ["http://xn--nxasmq6b.com"], ["http://[::1]:80/"], ["http://[2001:db8::0:1]/"], ["http://192.168.0.257/"],
        ["http://0x7f.1/"], ["HTTP://EXAMPLE.COM:80/%7e%7E?%zz"], ["file:///C:/dir/../x.txt"], ["data:text/plain,hi there"],
        ["mailto:a@b.c"], ["javascript:alert(1)"], ["ws://h:443/"], ["wss://h:443/"], ["blob:https://a.com/uuid"],
        ["../x?y#z", "http://a.com/b/c/d"], ["/abs", "https://h.org/p/q?r"], ["?only", "https://h.org/p/q?r#s"],
        ["#h", "https://h.org/p"], ["//other.org/p", "https:/base/"], ["", "http://a/b?c#d"], ["\t http://a/ \n"],
        ["http://a/b\\c\\d"], ["http://a/%2e%2E/x"], ["http://a/😀?😀#😀"], ["https://a.b/?a=1&a=2&b=%20+x"],
        // invalid: TypeError "Invalid URL", code ERR_INVALID_URL
        ["foo"], ["http://"], ["http://a:b:c/"], ["http://[::1/"], ["https://exa mple.com"], ["//x", "not a base"],
        ["http://a b/"], ["http://%41.com"], ["http://xn--/"], [""],
        // IDNA: compatibility forms, case, dots, joiners, punycode that arrives encoded
        ["http://ⓐ.com"], ["http://Ⅷ.com"], ["http://①.com"], ["http://ｆｏｏ．bar"], ["http://\ufb01.com"], ["http://a.b\u3002c"],
        ["http://e\u0301.com"], ["http://\u00ad.com"], ["http://a\u200db.com"], ["http://XN--MNCHEN-3YA.de"], ["http://xn--ls8h.la/"],
        ["http://xn--a/"], ["http://xn--a.xn--nxa/"], ["http://xn--ss-.com"], ["http://xn--abc"], ["http://xn--zca.com"],
    ]);
    await same("urlCanParse", [["http://a"], ["nope"], ["/x", "http://b"], ["/x"]]);
    await same("urlSet", [
        ["http://a.com/p?q#h", "pathname", "/new path/ü"], ["http://a.com/p", "search", "?x=1 2"],
        ["http://a.com/p", "hash", "frag"], ["http://a.com/p", "host", "b.org:81"], ["http://a.com/p", "port", "99999"],
        ["http://a.com/p", "protocol", "https"], ["http://a.com/p", "username", "u@x"], ["http://a.com/p", "href", "nope"],
        ["http://a.com:80/p", "port", "80"], ["http://a.com/p", "hostname", "münchen.de"],
    ]);
    await same("urlParams", [["http://a.com/?gone=1&x=0&x=9&keep=+"], ["/rel?x", "http://b.com/"]]);
});

test("URL is loaded on first use and kept out of reach: nothing on the global object, frozen, one live searchParams", async () => {
    const r = await srv.action("webapi:urlIsolation", {});
    assert.equal(r.json.status, "success", r.text);
    assert.deepEqual(r.json.value, {
        shared: [], sameParams: true, href: "http://a.com/?x=1&y=2", frozen: [true, true, true], assign: "refused",
        instances: [true, true, "[object URL]", "[object URLSearchParams]"], illegal: "TypeError",
    });
});

test("URLSearchParams: + and percent decoding, records, sequences, sort, as Node", async () => {
    await same("searchParams", [
        "a=1+2&b=%20x&c=%zz&d&=e&f==g", "?x=1&x=2&y", "", "%F0%9F%98%80=%E2%82%AC&%ff=1", "q=a+b%2Bc",
        [["k", "v 1"], ["k", "v&2"], ["ü", "=+"]], { one: "1", two: "a b", "sp ace": "~*'()!" },
        "z=1&a=2&m=3&a=1",
    ]);
});

test("TextEncoder: UTF-8, lone surrogates as U+FFFD, encodeInto, as Node", async () => {
    const strings = ["", "hello", "ä€😀", "\ud800", "a\udc00b", "\ud83d\ude00\ud83d", "\u0000\u007f\u0080\u07ff\u0800\uffff",
                     "x".repeat(70000) + "€"];
    await same("encode", strings.map(units));
    await same("encodeInto", [[units("a€😀"), 5], [units("a€😀"), 8], [units("€"), 2], [units(""), 0], [units("\ud800x"), 3],
                              [units("😀"), 3], [units("abc"), 10]]);
});

test("TextDecoder: replacement, fatal, BOM, streaming across chunks, as Node", async () => {
    const inputs = [];
    const bytesCases = [
        [0x68, 0x69], [0xef, 0xbb, 0xbf, 0x41], [0xff], [0xc0, 0x80], [0xe2, 0x82], [0xe2, 0x82, 0x41], [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98, 0x80], [0xf0, 0x9f, 0x98], [0x80, 0x80, 0x41], [0xe0, 0x80, 0x80],
        [0xef, 0xbf, 0xbd], [0xc3, 0xa4, 0xff, 0xc3], [],
    ];
    for (const b of bytesCases)
        for (const fatal of [false, true])
            for (const ignoreBOM of [false, true]) inputs.push({ chunks: [b], fatal, ignoreBOM });
    // streaming: a character cut across chunks, a BOM split, an unfinished sequence at the end
    inputs.push({ chunks: [[0xf0, 0x9f], [0x98], [0x80, 0x41]] });
    inputs.push({ chunks: [[0xef], [0xbb, 0xbf, 0x42], [0xef, 0xbb, 0xbf]] });
    inputs.push({ chunks: [[0x41, 0xe2], [0x82]] });
    inputs.push({ chunks: [[0x41, 0xe2], [0x82]], fatal: true });
    inputs.push({ chunks: [[0xe2, 0x82], [0x41]], fatal: true });
    inputs.push({ chunks: [[0xc3, 0xa4]], label: " UTF8 " });
    inputs.push({ chunks: [[0x41]], label: "unicode-1-1-utf-8" });
    inputs.push({ chunks: [[0x41]], label: "klingon" });
    await same("decode", inputs);
    await same("decodeAgain", [[0x41, 0x42]]);
});

test("atob and btoa: forgiving base64 and Node's InvalidCharacterError", async () => {
    await same("btoa", ["", "a", "ab", "abc", "\u00ff\u00fe", "€", "\ud800", "hello world"].map(units));
    // longer input, across the encoder's 32768-digit chunks (24576 characters each), against
    // Node's Latin-1 base64
    for (const n of [4, 5, 24575, 24576, 24577, 49153, 49154, 100000, (1 << 20) + 1]) {
        const want = Buffer.from(latin1Text(n, n), "latin1").toString("base64");
        for (const kind of ["action", "query"]) {
            const got = await vireo(kind, "btoaOf", [n, n]);
            assert.ok(got === want, `btoa of ${n} characters in a ${kind}: ${got.length} digits, ${want.length} expected`);
        }
    }
    // longer input, across the decoder's 8190-character chunks
    for (const n of [8189, 8190, 8191, 24570, 24571, (1 << 20) + 2])
        for (const kind of ["action", "query"])
            assert.equal(await vireo(kind, "atobRoundTrip", [n, n]), n, `atob of btoa of ${n} characters in a ${kind}`);
    await same("atob", ["", "YQ==", "YWI=", "YWJj", "YQ", "YWI", " Y W\nJ j\t", "Y", "YQ=", "YQ===", "Y=Q=", "=YQ",
                        "YW*", "//79", "-_8", "YWJj\f", "aGVsbG8gd29ybGQ="]);
});

test("structuredClone: Map, Set, Date, RegExp, buffers, cycles, errors; DataCloneError as Node", async () => {
    await same("clone", ["plain", "map_set", "date_regexp", "buffers", "cycle", "sparse_array", "boxed", "bigint",
                         "errors", "class_instance", "blob", "function", "named_function", "symbol", "promise", "weakmap"]);
});

test("WebAssembly: compile, instantiate (bytes and module), the Streaming forms and errors settle as in Node", async () => {
    await same("wasm", ["add", "imports", "bad", "missingImport"], { kinds: ["action", "query", "mutation"] });
});

test("crypto.subtle.digest: SHA-1/256/384/512 as Node, unknown algorithms rejected", async () => {
    const inputs = [];
    const data = [[], [0x61, 0x62, 0x63], Array.from({ length: 1000 }, (_, i) => i & 0xff)];
    for (const alg of ["SHA-1", "SHA-256", "SHA-384", "SHA-512", "sha-256", { name: "SHA-512" }, "SHA-3", "MD5"])
        for (const d of data) inputs.push([alg, d]);
    await same("digest", inputs);
});

test("crypto.subtle HMAC: importKey raw, sign, verify (false on a wrong signature), errors as Node", async () => {
    const inputs = [];
    for (const hash of ["SHA-1", "SHA-256", "SHA-384", "SHA-512", { name: "SHA-256" }])
        for (const [key, data] of [[[1, 2, 3], []], [Array.from({ length: 200 }, (_, i) => i), [0x61, 0x62]]])
            inputs.push({ hash, key, data });
    await same("hmac", inputs);
    await same("hmacErrors", [undefined]);
    // a Uint8Array that views part of a larger buffer is read (and filled) from its offset
    await same("cryptoViews", [undefined], { kinds: ["action"] });
});

/* Keys made by Node, in every format the cases import. */
function asymInput(kind, alg, signAlg, opts) {
    const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync(kind, opts);
    const data = Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
    const nodeSigAlg = { ...signAlg };
    const input = {
        alg, signAlg, data,
        pkcs8: privateKey.export({ type: "pkcs8", format: "der" }).toString("hex"),
        spki: publicKey.export({ type: "spki", format: "der" }).toString("hex"),
        jwkPriv: privateKey.export({ format: "jwk" }),
        jwkPub: publicKey.export({ format: "jwk" }),
    };
    return { input, privateKey, publicKey, nodeSigAlg };
}

async function withNodeSig(x) {
    const k = await crypto.subtle.importKey("pkcs8", Buffer.from(x.input.pkcs8, "hex"), x.input.alg, false, ["sign"]);
    x.input.nodeSig = Buffer.from(await crypto.subtle.sign(x.input.signAlg, k, new Uint8Array(x.input.data))).toString("hex");
    if (x.input.alg.name === "ECDSA")
        x.input.raw = Buffer.from(await crypto.subtle.exportKey("raw", await crypto.subtle.importKey("spki", Buffer.from(x.input.spki, "hex"), x.input.alg, true, ["verify"]))).toString("hex");
    return x;
}

const ASYM = [
    ["rsa", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, "RSASSA-PKCS1-v1_5", { modulusLength: 2048 }],
    ["rsa", { name: "rsassa-pkcs1-v1_5", hash: { name: "SHA-512" } }, { name: "RSASSA-PKCS1-v1_5" }, { modulusLength: 1024, publicExponent: 3 }],
    ["rsa", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-1" }, "RSASSA-PKCS1-v1_5", { modulusLength: 1024 }],
    ["rsa", { name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }, { modulusLength: 2048 }],
    ["rsa", { name: "RSA-PSS", hash: "SHA-384" }, { name: "RSA-PSS", saltLength: 0 }, { modulusLength: 1024 }],
    ["ec", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }, { namedCurve: "P-256" }],
    ["ec", { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }, { namedCurve: "P-384" }],
    ["ec", { name: "ECDSA", namedCurve: "P-521" }, { name: "ECDSA", hash: "SHA-512" }, { namedCurve: "P-521" }],
    ["ec", { name: "ecdsa", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-1" }, { namedCurve: "P-256" }],
];

test("crypto.subtle RSASSA-PKCS1-v1_5, RSA-PSS, ECDSA: import spki/pkcs8/jwk/raw, sign, verify, export as Node", async () => {
    const xs = [];
    for (const [kind, alg, signAlg, opts] of ASYM) xs.push(await withNodeSig(asymInput(kind, alg, signAlg, opts)));
    await same("asym", xs.map((x) => x.input));
    // the randomized signatures (PSS, ECDSA) made in Vireo verify in Node
    for (const x of xs) {
        const sig = await vireo("action", "asymSign", x.input);
        assert.equal(typeof sig, "string", JSON.stringify(sig));
        const k = await crypto.subtle.importKey("spki", Buffer.from(x.input.spki, "hex"), x.input.alg, false, ["verify"]);
        assert.equal(await crypto.subtle.verify(x.input.signAlg, k, Buffer.from(sig, "hex"), new Uint8Array(x.input.data)), true,
                     `${JSON.stringify(x.input.alg)}: Vireo's signature verifies in Node`);
    }
});

test("crypto.subtle asymmetric errors: DataError, SyntaxError, InvalidAccessError, NotSupportedError, TypeError as Node", async () => {
    const rsa = asymInput("rsa", null, null, { modulusLength: 2048 });
    const ec = asymInput("ec", null, null, { namedCurve: "P-256" });
    const input = { pkcs8: rsa.input.pkcs8, spki: rsa.input.spki, ecPkcs8: ec.input.pkcs8, ecSpki: ec.input.spki,
                    rsaJwkPub: rsa.input.jwkPub, ecJwkPub: ec.input.jwkPub };
    const want = await node("asymErrors", input);
    for (const kind of ["action", "query"]) {
        const got = await vireo(kind, "asymErrors", input);
        // where Node is lax, Vireo is strict: a JWK member that is not base64url (Node imports
        // {n: "!!!"} as a 0-bit modulus), one past 4096 bytes (a 36,000-bit modulus no one can
        // verify with) and bytes after the DER structure are refused
        const strict = ["jwkBadBase64", "jwkHugeModulus", "trailing"];
        for (const k of strict) {
            assert.deepEqual([got[k].name, got[k].message], ["DataError", "Invalid keyData"], k);
            assert.deepEqual(want[k], {}, `Node imports ${k}`);
            delete got[k];
        }
        assert.deepEqual(got, Object.fromEntries(Object.entries(want).filter(([k]) => !strict.includes(k))), `asymErrors in a ${kind}`);
    }
});

test("crypto.subtle.generateKey: RSA, RSA-PSS, ECDSA P-256/384/521 pairs and HMAC, shapes and errors as Node", async () => {
    await same("generate", [undefined], { kinds: ["action"] });
});

test("crypto.subtle PBKDF2: importKey raw, deriveBits as Node (what lucia's Scrypt uses), errors, Vireo's limits", async () => {
    const inputs = [];
    for (const hash of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"])
        inputs.push({ hash, password: [0x70, 0x77], salt: [1, 2, 3, 4], iterations: 1000, bits: 256 });
    inputs.push({ hash: "SHA-256", password: [], salt: [], iterations: 1, bits: 8 });
    inputs.push({ hash: { name: "SHA-256" }, password: Array.from({ length: 300 }, (_, i) => i & 0xff), salt: [9], iterations: 3, bits: 4096 });
    await same("pbkdf2", inputs);
    await same("pbkdf2Errors", [undefined]);
    // past Vireo's own bounds (Node has none): a precise OperationError, the action still answers
    const r = await vireo("action", "pbkdf2", { hash: "SHA-256", password: [1], salt: [1], iterations: 10000001, bits: 256 });
    assert.equal(r.name, "OperationError");
    assert.equal(r.message, "iterations must be at most 10000000 (Vireo's limit)");
    const big = await vireo("action", "pbkdf2", { hash: "SHA-256", password: [1], salt: [1], iterations: 1, bits: 8 * (1 << 20) + 8 });
    assert.equal(big.message, "length must be at most 8388608 (Vireo's limit)");
    // within the bounds the work is iterations x output blocks (here 10,000 x 32,768 HMACs, over
    // two minutes in one step before): the derivation stops a watchdog tick before the
    // function's time limit (a mutation's, on the loop), and the server goes on
    const t0 = Date.now();
    const long = await srv.call("mutation", "webapi:inMutation", { name: "pbkdf2", input: { hash: "SHA-256", password: [1], salt: [1], iterations: 10000, bits: 8 * (1 << 20) } });
    const ms = Date.now() - t0;
    assert.ok(ms < 8000, `took ${ms} ms`);
    assert.ok(long.json?.errorCode === "ExecutionTimeout" || (long.json?.value?.name === "OperationError" &&
              long.json.value.message === "the derivation was stopped: it would pass the function's time limit"), long.text);
    assert.deepEqual(await vireo("query", "pbkdf2", inputs[0]), await node("pbkdf2", inputs[0]));
});

test("crypto.getRandomValues and randomUUID: the 65,536-byte quota, integer arrays only, v4 UUIDs", async () => {
    await same("random", [undefined], { kinds: ["action", "query", "mutation"] });
    // randomness differs between calls (actions: OpenSSL; queries and mutations: the seeded generator)
    for (const kind of ["action", "query", "mutation"]) {
        const fn = kind === "action" ? "webapi:uuid" : kind === "query" ? "webapi:uuidQuery" : "webapi:uuidMutation";
        const a = (await srv.call(kind, fn, {})).json.value;
        const b = (await srv.call(kind, fn, {})).json.value;
        assert.notDeepEqual(a, b, `${kind}: two calls gave the same random values`);
    }
});

test("Blob, File and FormData as Node", async () => {
    await same("blob", [
        { parts: ["héllo ", [0x77, 0x6f], { blob: "rld" }], type: "Text/Plain", slice: [1, -2] },
        { parts: [], type: "bad\u00e9type", slice: [] },
        { parts: [{ units: [0xd800, 0x78] }, { units: [0xdc00] }], slice: [-1] },
        { parts: ["abcdef"], type: "a/b", slice: [4, 2, "X/Y"] },
    ]);
    await same("formData", [
        [["append", "a", "1"], ["append", "b", "2"], ["append", "a", "3"], ["set", "b", "4"], ["delete", "zz"]],
        [["append", "a", "1"], ["file", "a", "content", "text/x", "f.txt"], ["set", "a", "only"], ["appendUnits", [0xdc00, 0x63], [0xd800]]],
        [["blob", "a", "bytes", ""], ["file", "b", "x", "A/B"], ["append", "c", "v"], ["delete", "c"]],
    ]);
    await same("formDataErrors", [undefined]);
});

test("multipart/form-data: the encoder matches Node's bytes, the parser reads what Node writes", async () => {
    const forms = [
        [["append", "a", "1"], ["append", "name with \"quotes\"\nand\r\nlines", "v\nw\r\nx\ry"]],
        [["file", "f", "hi there", "text/plain", "n\"a\nme.txt"], ["blob", "g", "bytes", ""], ["append", "ü", "€"]],
        [],
    ];
    await same("multipartEncode", forms, { kinds: ["action"] });
    // bodies written by Node (undici), parsed by Vireo
    for (const ops of forms) {
        const { contentType, text } = await (async () => {
            const fd = new FormData();
            for (const [op, ...a] of ops) {
                if (op === "file") fd.append(a[0], new Blob([a[1]], { type: a[2] }), a[3]);
                else if (op === "blob") fd.append(a[0], new Blob([a[1]], { type: a[2] }));
                else fd[op](...a);
            }
            const r = new Response(fd);
            return { contentType: r.headers.get("content-type"), text: await r.text() };
        })();
        await same("multipartParse", [{ text, contentType }], { kinds: ["action"] });
    }
    // what RFC 2046 allows and Node 20's parser refuses: a preamble, padding after the boundary,
    // an unquoted name, an epilogue; lower-case headers, no Content-Type, a quoted boundary
    const hand = "preamble\r\n--xyz  \r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
        "--xyz\r\nContent-Disposition: form-data; name=b; filename=\"b.bin\"\r\nContent-Type: application/x\r\n\r\n\u00ff\r\n--xyz--\r\nepilogue";
    assert.deepEqual(await vireo("action", "multipartParse", { text: hand, contentType: 'multipart/form-data; boundary="xyz"' }),
                     [["a", "1"], ["b", { file: "b.bin", type: "application/x", size: 2, text: "\u00ff", isFile: true }]]);
    await same("multipartParse", [
        { text: "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xyz--", contentType: "Multipart/Form-Data; BOUNDARY=xyz" },
        { text: "--xyz\r\nContent-Disposition: form-data; name=\"a\"; filename=\"\"\r\n\r\n1\r\n--xyz--\r\n", contentType: "multipart/form-data; boundary=xyz" },
    ], { kinds: ["action"] });
    // malformed: TypeError "Failed to parse body as FormData."
    const bad = [
        { text: "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1", contentType: "multipart/form-data; boundary=xyz" },
        { text: "--xyz\r\nContent-Type: text/plain\r\n\r\n1\r\n--xyz--", contentType: "multipart/form-data; boundary=xyz" },
        { text: "nothing", contentType: "multipart/form-data; boundary=xyz" },
        { text: "--xyz--", contentType: "multipart/form-data" },
        { text: "--xyz--", contentType: "text/plain" },
    ];
    for (const b of bad) {
        const got = await vireo("action", "multipartParse", b);
        assert.equal(got.error, "TypeError", JSON.stringify(got));
        assert.equal(got.message, "Failed to parse body as FormData.");
    }
});

test("queueMicrotask and DOMException as Node", async () => {
    await same("queueMicrotask", [undefined]);
    await same("domException", [undefined]);
});

test("timers in actions: order, arguments, clearTimeout, setInterval, 0 ms after promises, as Node", async () => {
    await same("timers", [undefined], { kinds: ["action"] });
    const r = await srv.action("webapi:sleep", { ms: 100 });
    assert.equal(r.json.status, "success", r.text);
    assert.ok(r.json.value >= 95 && r.json.value < 2000, `slept ${r.json.value} ms`);
});

test("timers in queries and mutations throw Convex's error", async () => {
    for (const kind of ["query", "mutation"]) {
        const r = await srv.call(kind, kind === "query" ? "webapi:inQuery" : "webapi:inMutation", { name: "timers" });
        assert.equal(r.json.status, "error", r.text);
        assert.equal(r.json.errorMessage, "Can't use setTimeout in queries and mutations. Please consider using an action.");
    }
    const r = await srv.query("webapi:intervalInQuery", {});
    assert.equal(r.json.status, "error");
    assert.match(r.json.errorMessage, /^Can't use setInterval in queries and mutations\. Please consider using an action\.$/);
});

test("timers: at most 1000 pending per action, a timer past the time limit, runaway callbacks", async () => {
    let r = await srv.action("webapi:manyTimers", { n: 1000 });
    assert.equal(r.json.status, "success", r.text);
    assert.equal(r.json.value, 2000);
    r = await srv.action("webapi:manyTimers", { n: 1001 });
    assert.equal(r.json.status, "error");
    assert.equal(r.json.errorMessage, "setTimeout: too many pending timers (at most 1000 per action)");
    assert.equal(r.json.errorCode, "TooManyTimers");
    // a timer due after the 3 s limit fails the action at once, not after waiting
    let t0 = Date.now();
    r = await srv.action("webapi:sleep", { ms: 10000 });
    assert.equal(r.json.errorCode, "ExecutionTimeout", r.text);
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    // a callback that loops is stopped by the CPU limit
    t0 = Date.now();
    r = await srv.action("webapi:spinInTimer", {});
    assert.equal(r.json.errorCode, "ExecutionTimeout", r.text);
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
    // a callback that throws is logged; the action goes on
    r = await srv.action("webapi:throwInTimer", {});
    assert.equal(r.json.value, "went on", r.text);
    await srv.waitStderr(/Uncaught exception in setTimeout callback:.*timer boom/);
    // no timer and a promise that never settles: reported as before
    r = await srv.action("webapi:neverSettles", {});
    assert.match(r.json.errorMessage, /did not finish: it awaited a promise that never settled/);
});

test("timers an action leaves behind never fire in a later action", async () => {
    let r = await srv.action("webapi:leaveTimer", {});
    assert.equal(r.json.value, "left", r.text);
    r = await srv.action("webapi:sawLeak", {});
    assert.equal(r.json.value, false, r.text);
});

test("SIGTERM while an action waits on a long timer: the server stops promptly", async () => {
    const s = await startServer(tempDir("webapi"), { args: ["--action-timeout-ms", "60000"] });
    const pending = s.action("webapi:sleep", { ms: 50000 }).catch((e) => e);
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    const { code } = await s.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 3000, `stopped after ${Date.now() - t0} ms`);
    await pending;
});

test("Web Streams: ReadableStream, WritableStream, TransformStream, the encoder streams, a Response's stream body, as Node", async () => {
    for (const which of ["basic", "pull", "asyncPull", "errors", "cancel", "tee", "iterate", "pipe",
                         "writer", "transform", "encoding", "response", "strategies"])
        await same("streams", [which]);
});
