import { query, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { name: v.string(), n: v.number(), tag: v.string() },
  handler: async (ctx, args) => await ctx.db.insert("items", args),
});

export const range = query({
  args: { lo: v.number(), hi: v.number(), order: v.union(v.literal("asc"), v.literal("desc")) },
  handler: async (ctx, { lo, hi, order }) =>
    (
      await ctx.db
        .query("items")
        .withIndex("by_n", (q) => q.gte("n", lo).lt("n", hi))
        .order(order)
        .collect()
    ).map((d) => d.n),
});

export const byTag = query({
  args: { tag: v.string(), take: v.number() },
  handler: async (ctx, { tag, take }) =>
    (
      await ctx.db
        .query("items")
        .withIndex("by_tag_n", (q) => q.eq("tag", tag))
        .order("desc")
        .take(take)
    ).map((d) => d.name),
});

export const firstOfTag = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const d = await ctx.db
      .query("items")
      .withIndex("by_tag_n", (q) => q.eq("tag", tag).gt("n", 1))
      .first();
    return d === null ? null : d.name;
  },
});

export const uniqueN = query({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const d = await ctx.db
      .query("items")
      .withIndex("by_n", (q) => q.eq("n", n))
      .unique();
    return d === null ? null : d.name;
  },
});

export const filtered = query({
  args: { minN: v.number() },
  handler: async (ctx, { minN }) =>
    (
      await ctx.db
        .query("items")
        .filter((q) => q.and(q.gte(q.field("n"), minN), q.neq(q.field("tag"), "b")))
        .collect()
    ).map((d) => d.name),
});

export const badIndex = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("items").withIndex("nope").collect(),
});
