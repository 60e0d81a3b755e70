// The bench app's functions. `latest` is the live query every push scenario subscribes to: the
// newest message of one channel through an index, so its read set is that channel alone and a
// write to another channel must not re-run it. `send` writes one message; `insert` one document.
import { query, mutation, v } from "./_generated/server";

export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_channel_seq", (q) => q.eq("channel", channel))
      .order("desc")
      .first(),
});

export const send = mutation({
  args: { channel: v.string(), seq: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("messages", args);
    return null;
  },
});

export const insert = mutation({
  args: { n: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("docs", args);
    return null;
  },
});
