// Fixture for tests/integration/fetch.test.mjs: fetch() against the test's local HTTP server,
// a counter that queries and mutations use while actions wait, nested calls awaited in actions.
import { query, mutation, action, v } from "./_generated/server";
import { api } from "./_generated/api";

export const get = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const c = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", name)).unique();
    return c ? c.n : 0;
  },
});

export const bump = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const c = await ctx.db.query("counters").withIndex("by_name", (q) => q.eq("name", name)).unique();
    if (c) await ctx.db.patch(c._id, { n: c.n + 1 });
    else await ctx.db.insert("counters", { name, n: 1 });
    return c ? c.n + 1 : 1;
  },
});

function errorOf(e) {
  return { name: e.name, message: e.message, cause: e.cause ? { message: e.cause.message, code: e.cause.code } : null };
}

export const get1 = action({
  args: { url: v.string(), init: v.optional(v.any()), read: v.optional(v.string()) },
  handler: async (_ctx, { url, init, read }) => {
    const t0 = Date.now();
    try {
      const r = await fetch(url, init);
      const out = { status: r.status, ok: r.ok, statusText: r.statusText, url: r.url, redirected: r.redirected,
                    headers: [...r.headers], ms: Date.now() - t0 };
      if (read === "bytes") out.body = Array.from(new Uint8Array(await r.arrayBuffer()));
      else if (read === "json") out.body = await r.json();
      else if (read === "blob") { const b = await r.blob(); out.body = [b.type, b.size]; }
      else if (read === "none") out.body = null;
      else out.body = await r.text();
      return out;
    } catch (e) {
      return { error: errorOf(e), ms: Date.now() - t0 };
    }
  },
});

// posts a body of the given kind and returns what the echo server saw
export const postKind = action({
  args: { url: v.string(), kind: v.string() },
  handler: async (_ctx, { url, kind }) => {
    let body;
    if (kind === "string") body = "héllo";
    else if (kind === "arraybuffer") body = new Uint8Array([0, 1, 2, 255]).buffer;
    else if (kind === "uint8") body = new Uint8Array([255, 0, 128]);
    else if (kind === "blob") body = new Blob([new Uint8Array([7, 8, 9])], { type: "application/x-b" });
    else if (kind === "params") body = new URLSearchParams({ a: "1", b: "x y" });
    else if (kind === "formdata") { body = new FormData(); body.append("f", "v"); body.append("file", new Blob(["abc"], { type: "text/plain" }), "a.txt"); }
    else if (kind === "request") return (await (await fetch(new Request(url, { method: "PUT", body: "via request", headers: { "X-Kind": "req" } }))).json());
    const r = await fetch(url, { method: "POST", body, headers: { "X-Custom": "yes" } });
    return await r.json();
  },
});

export const slowThenCount = action({
  args: { url: v.string(), name: v.string() },
  handler: async (ctx, { url, name }) => {
    const r = await fetch(url);
    const text = await r.text();
    const n = await ctx.runMutation(api.net.bump, { name });
    return { text, n };
  },
});

export const abortable = action({
  args: { url: v.string(), ms: v.number(), how: v.string() },
  handler: async (_ctx, { url, ms, how }) => {
    try {
      if (how === "timeout") await fetch(url, { signal: AbortSignal.timeout(ms) });
      else {
        const c = new AbortController();
        setTimeout(() => c.abort(), ms);
        await fetch(url, { signal: c.signal });
      }
      return "finished";
    } catch (e) {
      return { name: e.name, message: e.message };
    }
  },
});

// reads a streamed body chunk by chunk: when each arrived (ms after the fetch started) and what
export const streamChunks = action({
  args: { url: v.string(), stop: v.optional(v.number()), pauseMs: v.optional(v.number()) },
  handler: async (_ctx, { url, stop, pauseMs }) => {
    const t0 = Date.now();
    try {
      const res = await fetch(url);
      const headAt = Date.now() - t0;
      const chunks = [];
      let bytes = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        if (chunks.length < 50) chunks.push({ at: Date.now() - t0, text: new TextDecoder().decode(value.slice(0, 64)) });
        if (stop !== undefined && chunks.length >= stop) {
          await reader.cancel();
          break;
        }
        if (pauseMs && chunks.length === 1) await new Promise((r) => setTimeout(r, pauseMs));
      }
      return { status: res.status, headAt, chunks, bytes, at: Date.now() - t0 };
    } catch (e) {
      return { error: errorOf(e), at: Date.now() - t0 };
    }
  },
});

// fetches and returns without reading the body (the host drops it when the action ends)
export const streamIgnore = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => (await fetch(url)).status,
});

// aborts the fetch's signal after the first chunk: the next read rejects with the reason
export const streamAbort = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const c = new AbortController();
    const res = await fetch(url, { signal: c.signal });
    const reader = res.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    c.abort(new Error("enough"));
    try {
      await reader.read();
      return { first, second: "read" };
    } catch (e) {
      return { first, error: e.message };
    }
  },
});

export const inQuery = query({
  args: {},
  handler: async () => {
    try {
      await fetch("http://127.0.0.1:1/");
      return "no error";
    } catch (e) {
      return e.message;
    }
  },
});
