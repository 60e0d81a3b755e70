// Request/Response/Headers/AbortController cases for tests/integration/fetch.test.mjs. The same
// code runs inside Vireo (the fixture's actions and queries call runTypes) and in Node (the
// test imports this file); the test compares the two results. JSON in, JSON out.

function errorOf(e) {
  if (!(e instanceof Error) && !(typeof DOMException === "function" && e instanceof DOMException))
    return { thrown: String(e) };
  return { error: e.constructor.name, name: e.name, message: e.message };
}

async function capture(fn) {
  try {
    return await fn();
  } catch (e) {
    return errorOf(e);
  }
}

const bytes = (buf) => Array.from(new Uint8Array(buf));

async function responseInfo(r) {
  return {
    status: r.status, ok: r.ok, statusText: r.statusText, type: r.type, url: r.url,
    redirected: r.redirected, headers: [...r.headers], bodyUsed: r.bodyUsed,
    hasBody: r.body !== null,
  };
}

function makeBody(kind) {
  switch (kind) {
    case "string": return "héllo wörld";
    case "arraybuffer": return new Uint8Array([0, 1, 2, 255, 128]).buffer;
    case "uint8": return new Uint8Array([9, 8, 7, 0, 255]);
    case "view": return new DataView(new Uint8Array([1, 2, 3, 4, 5, 6]).buffer, 2, 3);
    case "int16": return new Int16Array([1, -1, 256]);
    case "blob": return new Blob(["a", new Uint8Array([0, 200])], { type: "application/X-Thing" });
    case "blob-untyped": return new Blob(["plain"]);
    case "params": return new URLSearchParams({ a: "1 2", b: "ä&=" });
    case "object": return { toString() { return "obj!"; } };
    case "number": return 42;
    case "null": return null;
    default: throw new Error("unknown body kind " + kind);
  }
}

const CASES = {
  headers: async () => {
    const h = new Headers([["B", "1"], ["a", "2"], ["Set-Cookie", "x=1"], ["set-cookie", "y=2"], ["b", " 3\t"]]);
    const out = { list: [...h], get: [h.get("b"), h.get("A"), h.get("set-cookie"), h.get("none")] };
    out.cookies = h.getSetCookie();
    out.has = [h.has("B"), h.has("c")];
    h.set("b", "only");
    h.delete("A");
    h.append("C", "z");
    out.after = [...h];
    out.keys = [...h.keys()];
    out.values = [...h.values()];
    const seen = [];
    h.forEach((v, k) => seen.push(k + "=" + v));
    out.forEach = seen;
    out.fromRecord = [...new Headers({ "X-One": "1", "x-two": "2" })];
    out.fromHeaders = [...new Headers(h)];
    out.tag = Object.prototype.toString.call(h);
    out.errors = [
      await capture(() => new Headers({ "a b": "x" })),
      await capture(() => new Headers({ ab: "x\ny" })),
      await capture(() => new Headers([["a"]])),
      await capture(() => new Headers([["a", "b", "c"]])),
      await capture(() => new Headers().get("bad name")),
      await capture(() => Response.error().headers.set("a", "b")),
      await capture(() => Response.redirect("http://a.test/").headers.append("a", "b")),
    ];
    return out;
  },

  requestBasics: async () => {
    const r = new Request("http://Example.test/a/../b?c=1#frag", { method: "post", headers: { "X-A": "1" }, body: "hi" });
    const out = { method: r.method, url: r.url, headers: [...r.headers], redirect: r.redirect,
                  bodyUsed: r.bodyUsed, signal: typeof r.signal, aborted: r.signal.aborted };
    const c = r.clone();
    out.text = await r.text();
    out.cloneText = await c.text();
    out.used = [r.bodyUsed, c.bodyUsed];
    out.again = await capture(() => r.text());
    out.cloneUsed = await capture(() => r.clone());
    out.methods = ["get", "delete", "Patch", "options", "put", "head", "custom"].map((m) => new Request("http://a.test/", { method: m }).method);
    const r2 = new Request(new Request("http://a.test/x", { method: "PUT", body: "b", redirect: "manual" }), { headers: { y: "2" } });
    out.copy = { method: r2.method, url: r2.url, redirect: r2.redirect, headers: [...r2.headers], text: await r2.text() };
    out.errors = [
      await capture(() => new Request("/relative")),
      await capture(() => new Request("http://a.test/", { body: "x" })),
      await capture(() => new Request("http://a.test/", { method: "HEAD", body: "x" })),
      await capture(() => new Request("http://a.test/", { method: "CONNECT" })),
      await capture(() => new Request("http://a.test/", { method: "bad method" })),
    ];
    return out;
  },

  bodyKinds: async (kind) => {
    const out = {};
    const req = new Request("http://a.test/", { method: "POST", body: makeBody(kind) });
    out.reqType = req.headers.get("content-type");
    out.reqBytes = bytes(await req.arrayBuffer());
    const res = new Response(makeBody(kind));
    out.resType = res.headers.get("content-type");
    const b = await res.clone().blob();
    out.blob = { size: b.size, type: b.type, bytes: bytes(await b.arrayBuffer()) };
    out.text = await res.text();
    return out;
  },

  readers: async () => {
    const out = {};
    out.json = await new Response('{"a":[1,2,{"b":null}]}').json();
    out.badJson = (await capture(() => new Response("abc").json())).name; // the text is the engine's
    out.ab = bytes(await new Response(new Uint8Array([1, 2, 3])).arrayBuffer());
    out.emptyText = await new Response().text();
    out.emptyBlob = (await new Response(null).blob()).size;
    const fd = new FormData();
    fd.append("name", "välue");
    fd.append("file", new Blob([new Uint8Array([0, 1, 255])], { type: "image/png" }), "x.png");
    const back = await new Response(fd).formData();
    out.formData = [];
    for (const [k, v] of back) {
      out.formData.push(typeof v === "string" ? [k, v] : [k, v.name, v.type, bytes(await v.arrayBuffer())]);
    }
    out.urlencoded = [...(await new Response(new URLSearchParams("a=1&b=x+y&a=2")).formData())];
    out.badForm = await capture(() => new Response("abc", { headers: { "content-type": "text/plain" } }).formData());
    const used = new Response("x");
    await used.text();
    out.usedErrors = [await capture(() => used.json()), await capture(() => used.arrayBuffer()),
                      await capture(() => used.blob()), await capture(() => used.clone())];
    out.noBodyReads = [await new Response(null).text(), await new Response(null).text()];
    return out;
  },

  responseBasics: async () => {
    const out = {};
    const r = new Response("body", { status: 201, statusText: "Made", headers: [["X-Y", "z"]] });
    out.basic = await responseInfo(r);
    out.notOk = (await responseInfo(new Response(null, { status: 404 }))).ok;
    out.default = await responseInfo(new Response());
    const j = Response.json({ a: 1, b: [true] }, { status: 202, headers: { "x-k": "v" } });
    out.json = [await responseInfo(j), await j.json()];
    const j2 = Response.json("s", { headers: { "content-type": "application/vnd.x+json" } });
    out.json2 = [...j2.headers];
    out.redirect = await responseInfo(Response.redirect("http://a.test/x?y", 307));
    out.redirect302 = Response.redirect("http://a.test/").status;
    out.error = await responseInfo(Response.error());
    const c = r.clone();
    out.clone = [await c.text(), await r.text(), c.status, [...c.headers]];
    out.errors = [
      await capture(() => new Response("x", { status: 204 })),
      await capture(() => new Response("x", { status: 99 })),
      await capture(() => new Response("x", { status: 600 })),
      await capture(() => Response.redirect("http://a.test/", 200)),
      await capture(() => Response.redirect("/relative")),
    ];
    out.nullStatus = (await responseInfo(new Response(null, { status: 204 }))).status;
    out.tags = [Object.prototype.toString.call(r), Object.prototype.toString.call(new Request("http://a.test/"))];
    return out;
  },

  abort: async () => {
    const out = {};
    const c = new AbortController();
    const events = [];
    c.signal.addEventListener("abort", (e) => events.push("listener:" + e.type));
    c.signal.onabort = () => events.push("onabort");
    out.before = c.signal.aborted;
    c.abort();
    c.abort("again");
    out.after = [c.signal.aborted, c.signal.reason.name, c.signal.reason.message, events];
    out.throwIf = await capture(() => c.signal.throwIfAborted());
    const c2 = new AbortController();
    c2.abort("why");
    out.reason = c2.signal.reason;
    out.static = [AbortSignal.abort().aborted, AbortSignal.abort(7).reason];
    const any = AbortSignal.any([new AbortController().signal, AbortSignal.abort("x")]);
    out.any = [any.aborted, any.reason];
    out.ctor = await capture(() => new AbortSignal());
    out.tags = [Object.prototype.toString.call(c), Object.prototype.toString.call(c.signal)];
    return out;
  },

  abortTimeout: async () => {
    const s = AbortSignal.timeout(30);
    const before = s.aborted;
    await new Promise((r) => setTimeout(r, 80));
    return [before, s.aborted, s.reason.name, s.reason.message];
  },
};

export async function runTypes(name, input) {
  const fn = CASES[name];
  if (!fn) throw new Error("unknown case " + name);
  return fn(input);
}
export const TYPE_CASES = Object.keys(CASES);
