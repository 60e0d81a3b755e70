// Fixture of tests/integration/http-stream.test.mjs: what the streaming HTTP actions record
// (a stream's cancel hook, how far a producer got) so that the test can check it.
import { query, mutation, v } from "./_generated/server";

export const list = query({
  args: { kind: v.optional(v.string()) },
  handler: async (ctx, { kind }) =>
    (await ctx.db.query("events").collect())
      .filter((e) => kind === undefined || e.kind === kind)
      .map((e) => ({ kind: e.kind, detail: e.detail })),
});

export const record = mutation({
  args: { kind: v.string(), detail: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("events", args);
  },
});
