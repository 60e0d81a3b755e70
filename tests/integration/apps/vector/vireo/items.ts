import { action, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { name: v.string(), v: v.optional(v.any()) },
  handler: async (ctx, doc) => await ctx.db.insert("items", doc),
});

export const search = action({
  args: { vector: v.array(v.float64()), limit: v.optional(v.number()) },
  handler: async (ctx, { vector, limit }) =>
    await ctx.vectorSearch("items", "by_v", { vector, limit }),
});
