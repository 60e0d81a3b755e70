import { query, mutation, v } from "./_generated/server";

// Every blob of a group: a big result when the blobs are big.
export const list = query({
  args: { group: v.string() },
  handler: async (ctx, { group }) =>
    await ctx.db
      .query("blobs")
      .withIndex("by_group", (q) => q.eq("group", group))
      .collect(),
});

export const add = mutation({
  args: { group: v.string(), size: v.number() },
  handler: async (ctx, { group, size }) =>
    await ctx.db.insert("blobs", { group, data: "x".repeat(size) }),
});
