import { query, mutation, v } from "./_generated/server";

// x strictly between lo and hi (an index range with gt/lt bounds).
export const between = query({
  args: { lo: v.number(), hi: v.number() },
  handler: async (ctx, { lo, hi }) =>
    (
      await ctx.db
        .query("points")
        .withIndex("by_x", (q) => q.gt("x", lo).lt("x", hi))
        .collect()
    ).map((p) => p.x),
});

// The same index range, then a filter on tag: every write in the scanned range matters.
export const taggedBetween = query({
  args: { lo: v.number(), hi: v.number(), tag: v.string() },
  handler: async (ctx, { lo, hi, tag }) =>
    (
      await ctx.db
        .query("points")
        .withIndex("by_x", (q) => q.gt("x", lo).lt("x", hi))
        .filter((q) => q.eq(q.field("tag"), tag))
        .collect()
    ).map((p) => p.x),
});

export const add = mutation({
  args: { x: v.number(), tag: v.string() },
  handler: async (ctx, args) => await ctx.db.insert("points", args),
});

export const move = mutation({
  args: { id: v.id("points"), x: v.number() },
  handler: async (ctx, { id, x }) => await ctx.db.patch(id, { x }),
});
