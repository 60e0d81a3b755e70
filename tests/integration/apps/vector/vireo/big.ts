import { action, mutation, v } from "./_generated/server";

export const addMany = mutation({
  args: { rows: v.array(v.object({ n: v.number(), group: v.number(), e: v.array(v.float64()) })) },
  handler: async (ctx, { rows }) => {
    const ids = [];
    for (const r of rows) ids.push(await ctx.db.insert("big", r));
    return ids;
  },
});

export const search = action({
  args: { vector: v.array(v.float64()), limit: v.optional(v.number()), groups: v.optional(v.array(v.number())) },
  handler: async (ctx, { vector, limit, groups }) =>
    await ctx.vectorSearch("big", "by_e", {
      vector,
      limit,
      filter: groups === undefined ? undefined
        : (q) => q.or(...groups.map((g) => q.eq("group", g))),
    }),
});
