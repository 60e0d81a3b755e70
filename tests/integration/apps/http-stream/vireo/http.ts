// Fixture of tests/integration/http-stream.test.mjs: HTTP actions that return a Response whose
// body is a ReadableStream, built every way an app builds one.
import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";
import { api } from "./_generated/api";

const http = httpRouter();
const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two chunks 200 ms apart, from a ReadableStream's start().
http.route({
  path: "/ticks",
  method: "GET",
  handler: httpAction(async () => {
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(enc.encode("first;"));
        await sleep(200);
        controller.enqueue(enc.encode("second;"));
        await sleep(200);
        controller.enqueue(enc.encode("third"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8", "x-kind": "ticks" } });
  }),
});

// The AI-answer pattern of Convex's docs: a TransformStream written from a task that goes on
// after the handler returned, strings through a TextEncoderStream.
http.route({
  path: "/tokens",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { words } = await request.json();
    const { readable, writable } = new TransformStream();
    const text = new TextEncoderStream();
    void text.readable.pipeTo(writable);
    const writer = text.writable.getWriter();
    void (async () => {
      for (const w of words) {
        await writer.write(w + " ");
        await sleep(20);
      }
      await writer.close();
    })();
    return new Response(readable, { headers: { "content-type": "text/plain" } });
  }),
});

// `total` bytes in chunks of `chunk` bytes, from pull() (a producer that waits for room).
http.route({
  path: "/big",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const u = new URL(request.url);
    const total = Number(u.searchParams.get("total"));
    const size = Number(u.searchParams.get("chunk") || 65536);
    let sent = 0;
    let pulls = 0;
    const body = new ReadableStream({
      pull(controller) {
        pulls++;
        const n = Math.min(size, total - sent);
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i += 4096) b[i] = ((sent + i) >> 12) & 255;
        controller.enqueue(b);
        sent += n;
        if (sent >= total) controller.close();
      },
      async cancel(reason) {
        await ctx.runMutation(api.events.record, {
          kind: "big-cancel",
          detail: `${String(reason && reason.message)} after ${sent} bytes`,
        });
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  }),
});

// Chunks, then the stream errors (or the action throws while it is read).
http.route({
  path: "/fails",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const how = new URL(request.url).searchParams.get("how");
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(enc.encode("partial data;"));
        await sleep(50);
        if (how === "string") {
          controller.enqueue("not bytes" as any);
          return;
        }
        controller.error(new Error("the model went away"));
      },
    });
    return new Response(body);
  }),
});

// Never ends on its own: one chunk every 50 ms until cancelled; records the cancel.
http.route({
  path: "/forever",
  method: "GET",
  handler: httpAction(async (ctx) => {
    let n = 0;
    let timer: any;
    const body = new ReadableStream({
      start(controller) {
        const tick = () => {
          try {
            controller.enqueue(enc.encode(`tick ${n++}\n`));
          } catch {
            return;
          }
          timer = setTimeout(tick, 50);
        };
        tick();
      },
      async cancel(reason) {
        clearTimeout(timer);
        await ctx.runMutation(api.events.record, {
          kind: "forever-cancel",
          detail: `${String(reason && reason.message)} after ${n} ticks`,
        });
      },
    });
    return new Response(body);
  }),
});

// A plain body, as before streaming existed.
http.route({
  path: "/plain",
  method: "GET",
  handler: httpAction(async () => new Response("plain body", { status: 201, headers: { "x-plain": "1" } })),
});

// ReadableStream.from over an async generator, read back by Response methods in the action
// (a body that is a stream is consumed as one), then streamed again.
http.route({
  path: "/roundtrip",
  method: "GET",
  handler: httpAction(async () => {
    async function* gen() {
      yield enc.encode("a");
      yield enc.encode("b");
      yield enc.encode("c");
    }
    const text = await new Response(ReadableStream.from(gen())).text();
    const [x, y] = ReadableStream.from([enc.encode(text), enc.encode("!")]).tee();
    const again = await new Response(y).text();
    return new Response(x.pipeThrough(new TransformStream({
      transform(chunk, c) {
        c.enqueue(chunk);
        c.enqueue(enc.encode(`|${again}`));
      },
    })));
  }),
});

// fetch() from the action: the response's body read as a stream (buffered by fetch).
http.route({
  path: "/relay",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const target = new URL(request.url).searchParams.get("url")!;
    const r = await fetch(target);
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = "";
    let chunks = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks++;
      text += dec.decode(value, { stream: true });
    }
    return new Response(r.body === null ? "no body" : JSON.stringify({ text, chunks, used: r.bodyUsed }));
  }),
});

export default http;
