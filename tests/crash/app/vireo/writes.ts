import { query, mutation, v } from "./_generated/server";

// One write: a document keyed by `key` (the writer's idempotency key too) and its writer's
// counter + 1, in one transaction.
export const put = mutation({
  args: { key: v.string(), writer: v.string() },
  handler: async (ctx, { key, writer }) => {
    await ctx.db.insert("writes", { key, writer });
    const c = await ctx.db
      .query("counters")
      .withIndex("by_writer", (q) => q.eq("writer", writer))
      .unique();
    if (c === null) await ctx.db.insert("counters", { writer, n: 1 });
    else await ctx.db.patch(c._id, { n: c.n + 1 });
    return key;
  },
});

// Writes in key order, `limit` at a time after `after` (the last key of the previous page).
export const page = query({
  args: { after: v.string(), limit: v.number() },
  handler: async (ctx, { after, limit }) =>
    (
      await ctx.db
        .query("writes")
        .withIndex("by_key", (q) => q.gt("key", after))
        .take(limit)
    ).map((d) => [d.key, d.writer]),
});

export const counters = query({
  args: {},
  handler: async (ctx) =>
    (await ctx.db.query("counters").collect()).map((d) => [d.writer, d.n]),
});
