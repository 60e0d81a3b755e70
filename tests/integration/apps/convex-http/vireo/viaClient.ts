// Fixture for tests/integration/convex-http.test.mjs: Vireo's own ConvexHttpClient (the prelude's,
// through the convex/browser shim) inside functions, calling this server back over HTTP.
import { action, mutation, v } from "./_generated/server";
import { ConvexError } from "convex/values";
import { ConvexHttpClient, ConvexClient } from "convex/browser";
import { api } from "./_generated/api";

function fails(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "did not throw";
}

async function rejects(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const err = e as ConvexError<any>;
    return { convex: err instanceof ConvexError, name: err.name, message: err.message, data: err.data ?? null };
  }
  return { convex: false, name: "none", message: "did not throw", data: null };
}

export const run = action({
  args: { url: v.optional(v.string()), tag: v.string() },
  handler: async (_ctx, { url, tag }) => {
    const printed: unknown[][] = [];
    const logger = {
      log: (...a: unknown[]) => printed.push(["log", ...a]),
      warn: (...a: unknown[]) => printed.push(["warn", ...a]),
      error: (...a: unknown[]) => printed.push(["error", ...a]),
      logVerbose() {},
    };
    const c = new ConvexHttpClient(url ?? process.env.CONVEX_CLOUD_URL!, { logger });
    // three queued mutations: sent one at a time, in call order
    const sends = [1, 2, 3].map((i) => c.mutation(api.messages.send, { author: tag, body: `${tag}${i}` }));
    const sent = await Promise.all(sends);
    const list = (await c.query(api.messages.list, {})).filter((m: { author: string }) => m.author === tag);
    printed.length = 0;
    const chatty = await c.query(api.messages.chatty);
    const lines = printed.slice();
    return {
      url: c.url,
      backendUrl: c.backendUrl(),
      sent,
      list,
      chatty,
      lines,
      echoed: await c.action(api.messages.echoAction, { value: { big: 5n, bytes: new Uint8Array([7, 8]).buffer, nan: NaN } }),
      typed: await c.query("messages:typed", { n: 1, name: "a" }),
      convexError: await rejects(c.mutation(api.messages.failWithData, {})),
      stringError: await rejects(c.query(api.messages.failWithString, {})),
      plainError: await rejects(c.query(api.messages.boom, {})),
      badArgs: await rejects(c.query(api.messages.typed, { n: "x", name: "a" } as any)),
      unknown: await rejects(c.query("messages:nope" as any, {})),
      notAnObject: await rejects(c.query(api.messages.list, [1] as any)),
      noQueue: await c.mutation(api.messages.send, { author: tag, body: "skip" }, { skipQueue: true }),
      badUrl: fails(() => new ConvexHttpClient("ftp://x")),
      undefinedUrl: fails(() => new ConvexHttpClient(undefined as any)),
      siteUrl: fails(() => new ConvexHttpClient("https://happy-animal-123.convex.site")),
      booleanOption: fails(() => new ConvexHttpClient("http://127.0.0.1:1", true as any)),
      webSocketClient: fails(() => new ConvexClient("http://127.0.0.1:1")),
      unreachable: await rejects(new ConvexHttpClient("http://127.0.0.1:1").query(api.messages.list, {})),
      // the auth option sends the token as Convex's client does (this app trusts no provider)
      badAuth: await rejects(new ConvexHttpClient(process.env.CONVEX_CLOUD_URL!, { auth: "x.y.z" }).query(api.messages.list, {})),
    };
  },
});

// In a mutation the client's calls fail as fetch does there.
export const inMutation = mutation({
  args: {},
  handler: async () => {
    const c = new ConvexHttpClient(process.env.CONVEX_CLOUD_URL!);
    try {
      await c.query(api.messages.list, {});
    } catch (e) {
      return (e as Error).message;
    }
    return "did not throw";
  },
});

// ConvexHttpClient.function() (Convex's /api/function) from an action.
export const viaFunction = action({
  args: {},
  handler: async () => {
    const c = new ConvexHttpClient(process.env.CONVEX_CLOUD_URL!, { logger: false });
    return await c.function(api.messages.typed, undefined, { n: 9, name: "v" });
  },
});
