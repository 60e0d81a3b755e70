import { query, mutation, v } from "./_generated/server";

// The messages of one channel, oldest first (an index range: channel == c).
export const list = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .collect(),
});

// Bodies only (stable across runs: no system fields).
export const bodies = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .collect()
    ).map((m) => m.body),
});

// Re-runs on every write to the channel, but its result only changes on the first one.
export const hasAny = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .collect()
    ).length > 0,
});

export const send = mutation({
  args: { channel: v.string(), author: v.string(), body: v.string() },
  handler: async (ctx, args) => await ctx.db.insert("messages", args),
});

// Inserts, then throws: nothing may remain and nobody may be notified.
export const sendThenThrow = mutation({
  args: { channel: v.string(), author: v.string(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("messages", args);
    throw new Error("boom after insert");
  },
});

export const countAll = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("messages").collect()).length,
});

// The newest message of a channel (a descending scan stopped after one document).
export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const m = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .first();
    return m === null ? null : m.body;
  },
});

// The two oldest bodies of a channel (an ascending scan stopped after two).
export const firstTwo = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .take(2)
    ).map((m) => m.body),
});

// One message by id (a point read).
export const byId = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    const m = await ctx.db.get(id);
    return m === null ? null : m.body;
  },
});

export const edit = mutation({
  args: { id: v.id("messages"), body: v.string() },
  handler: async (ctx, { id, body }) => await ctx.db.patch(id, { body }),
});

export const remove = mutation({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => await ctx.db.delete(id),
});
