// Unit tests of the pieces without a socket: value codec, canonical keys, URLs, function
// references, backoff delays, and the missing-WebSocket error.

import test from "node:test";
import assert from "node:assert/strict";
import {
    encodeValue, decodeValue, encodeArgs, canonicalJson, QueryStore, VireoClient, syncUrl,
    functionPath, backoffDelay,
} from "../../clients/js/src/index.js";

const wire = (v) => JSON.parse(JSON.stringify(encodeValue(v)));

test("int64 round trip through $integer (little-endian)", () => {
    assert.deepEqual(wire(1n), { $integer: "AQAAAAAAAAA=" });
    for (const n of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 123456789012345678n])
        assert.equal(decodeValue(wire(n)), n);
    assert.throws(() => encodeValue(2n ** 63n), /64-bit/);
    assert.throws(() => encodeValue(-(2n ** 63n) - 1n), /64-bit/);
});

test("special floats round trip through $float; ordinary numbers stay plain", () => {
    assert.deepEqual(wire(NaN), { $float: "AAAAAAAA+H8=" });
    assert.ok(Number.isNaN(decodeValue(wire(NaN))));
    assert.equal(decodeValue(wire(Infinity)), Infinity);
    assert.equal(decodeValue(wire(-Infinity)), -Infinity);
    assert.ok(Object.is(decodeValue(wire(-0)), -0));
    assert.equal(encodeValue(1.5), 1.5);
    assert.equal(encodeValue(0), 0);
});

test("bytes round trip through $bytes as ArrayBuffer; typed-array views are encoded by view", () => {
    const buf = new Uint8Array([0, 1, 2, 250, 255]).buffer;
    assert.deepEqual(wire(buf), { $bytes: "AAEC+v8=" });
    const back = decodeValue(wire(buf));
    assert.ok(back instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(back)], [0, 1, 2, 250, 255]);
    const view = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    assert.deepEqual([...new Uint8Array(decodeValue(wire(view)))], [8, 7]);
});

test("nested values convert both ways; plain JSON is returned as is (fast path)", () => {
    const v = { a: [1, { b: 2n, c: "x" }], d: { e: NaN }, f: null, g: true };
    const back = decodeValue(wire(v));
    assert.equal(back.a[1].b, 2n);
    assert.ok(Number.isNaN(back.d.e));
    assert.deepEqual(back.a[0], 1);
    const plain = { a: [1, 2, { b: "c" }], d: null };
    assert.equal(encodeValue(plain), plain);
    assert.equal(decodeValue(plain), plain);
    // the input is never mutated
    const input = { n: 5n, arr: [1n] };
    encodeValue(input);
    assert.equal(input.n, 5n);
    assert.equal(input.arr[0], 1n);
});

test("undefined fields are dropped, unsupported values rejected", () => {
    assert.deepEqual(encodeValue({ a: 1, b: undefined }), { a: 1 });
    assert.throws(() => encodeValue([undefined]), /undefined/);
    assert.throws(() => encodeValue({ d: new Date() }), /Date/);
    assert.throws(() => encodeValue({ f() {} }), /function/);
    assert.throws(() => encodeValue(new Map()), /Map/);
    assert.throws(() => encodeValue({ $integer: "AAAAAAAAAAA=" }), /reserved/);
    assert.deepEqual(encodeArgs(undefined), {});
    assert.throws(() => encodeArgs([1]), /plain object/);
    assert.throws(() => encodeArgs("x"), /plain object/);
});

test("objects that merely look like wrappers are not decoded", () => {
    const v = { $integer: "AQAAAAAAAAA=", other: 1 };
    assert.deepEqual(decodeValue(v), v);
    assert.deepEqual(decodeValue({ $integer: 5 }), { $integer: 5 });
});

test("query keys are canonical: key order does not matter, values do", () => {
    const k1 = QueryStore.makeKey("m:list", { a: 1, b: { c: 2, d: 3 } });
    const k2 = QueryStore.makeKey("m:list", { b: { d: 3, c: 2 }, a: 1 });
    assert.equal(k1, k2);
    assert.notEqual(k1, QueryStore.makeKey("m:list", { a: 2, b: { c: 2, d: 3 } }));
    assert.notEqual(k1, QueryStore.makeKey("m:other", { a: 1, b: { c: 2, d: 3 } }));
    assert.notEqual(QueryStore.makeKey("m:x", { n: 1 }), QueryStore.makeKey("m:x", { n: 1n }));
    assert.equal(QueryStore.makeKey("m:x", undefined), QueryStore.makeKey("m:x", {}));
    assert.equal(VireoClient.makeKey({ _name: "m:x" }, { a: 1 }), QueryStore.makeKey("m:x", { a: 1 }));
    assert.equal(canonicalJson({ b: [1, { z: 1, y: 2 }], a: "s" }), '{"a":"s","b":[1,{"y":2,"z":1}]}');
});

test("sync URL from a base URL or a ws URL", () => {
    assert.equal(syncUrl("http://127.0.0.1:8788"), "ws://127.0.0.1:8788/api/sync");
    assert.equal(syncUrl("http://127.0.0.1:8788/"), "ws://127.0.0.1:8788/api/sync");
    assert.equal(syncUrl("https://x.example"), "wss://x.example/api/sync");
    assert.equal(syncUrl("https://x.example/prefix/"), "wss://x.example/prefix/api/sync");
    assert.equal(syncUrl("ws://h:1/api/sync"), "ws://h:1/api/sync");
    assert.equal(syncUrl("wss://h/api/sync?t=1"), "wss://h/api/sync?t=1");
    assert.equal(syncUrl("ws://h:1"), "ws://h:1/api/sync");
    assert.throws(() => syncUrl("ftp://h"), /http/);
    assert.throws(() => syncUrl("not a url"), /invalid/);
});

test("function references: strings, {_name}, {path}", () => {
    assert.equal(functionPath("messages:list"), "messages:list");
    assert.equal(functionPath({ _name: "a:b" }), "a:b");
    assert.equal(functionPath({ path: "c:d" }), "c:d");
    assert.throws(() => functionPath({}), /function reference/);
    assert.throws(() => functionPath(""), /function reference/);
});

test("backoff: full jitter under min(maxMs, baseMs * 2^attempt)", () => {
    const o = { baseMs: 100, maxMs: 1000 };
    assert.equal(backoffDelay(0, o, () => 0.999999), 99);
    assert.equal(backoffDelay(3, o, () => 0.5), 400);
    assert.equal(backoffDelay(10, o, () => 0.5), 500);
    assert.equal(backoffDelay(5000, o, () => 0.5), 500);
    assert.equal(backoffDelay(2, o, () => 0), 0);
    for (let i = 0; i < 100; i++) {
        const d = backoffDelay(2, o);
        assert.ok(d >= 0 && d < 400);
    }
});

test("no WebSocket implementation: a clear error naming the option and the ws package", () => {
    const saved = globalThis.WebSocket;
    try {
        delete globalThis.WebSocket;
        assert.throws(() => new VireoClient("http://127.0.0.1:1"), /options\.WebSocket.*"ws"/s);
    } finally {
        if (saved !== undefined) globalThis.WebSocket = saved;
    }
});
