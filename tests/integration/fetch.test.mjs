// fetch and actions that wait (issue 9 items 1 and 2) on apps/fetch. First the Fetch types
// (Headers, Request, Response, AbortController/AbortSignal): each case in
// apps/fetch/vireo/_lib/types.mjs runs in Vireo (action and query) and in this Node process, and
// the results must be equal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, tempDir, APPS } from "./helpers.mjs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const { runTypes } = await import(pathToFileURL(path.join(APPS, "fetch/vireo/_lib/types.mjs")).href);

let srv;
before(async () => {
    srv = await startServer(tempDir("fetch"), { args: ["--action-threads", "2"] });
});
after(async () => {
    if (srv) await srv.stop();
});

async function vireo(kind, name, input) {
    const fn = kind === "action" ? "fetchtypes:inAction" : "fetchtypes:inQuery";
    const r = await srv.call(kind, fn, input === undefined ? { name } : { name, input });
    assert.equal(r.status, 200, `${kind} ${name}(${JSON.stringify(input)}): HTTP ${r.status} ${r.text}`);
    assert.equal(r.json.status, "success", r.text);
    return r.json.value;
}

async function same(name, inputs = [undefined], { kinds = ["action", "query"] } = {}) {
    for (const input of inputs) {
        const want = JSON.parse(JSON.stringify(await runTypes(name, input)));
        for (const kind of kinds) {
            const got = await vireo(kind, name, input);
            assert.deepEqual(got, want, `${name} in a ${kind}, input ${JSON.stringify(input)}`);
        }
    }
}

test("Headers: order, combining, set-cookie, case-insensitivity, errors as Node", async () => {
    await same("headers");
});

test("Request: constructor forms, method normalisation, clone, body used once, errors as Node", async () => {
    await same("requestBasics");
});

test("bodies of every kind: string, ArrayBuffer, typed arrays, DataView, Blob, URLSearchParams, others", async () => {
    await same("bodyKinds", ["string", "arraybuffer", "uint8", "view", "int16", "blob", "blob-untyped", "params", "object", "number", "null"]);
});

test("body readers: json, arrayBuffer, blob, formData (multipart and urlencoded), consumed bodies", async () => {
    await same("readers");
});

test("Response: status, ok, statusText, clone, Response.json/redirect/error, errors as Node", async () => {
    await same("responseBasics");
});

test("AbortController and AbortSignal (abort, any, listeners, throwIfAborted); AbortSignal.timeout in actions", async () => {
    await same("abort");
    await same("abortTimeout", [undefined], { kinds: ["action"] });
});
