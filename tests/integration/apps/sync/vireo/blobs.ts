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

// Rewrites the group's one small blob (creating it once): the result changes, its size does not.
export const bump = mutation({
  args: { group: v.string(), n: v.number() },
  handler: async (ctx, { group, n }) => {
    const data = String(n).padStart(12, "0");
    const docs = await ctx.db
      .query("blobs")
      .withIndex("by_group", (q) => q.eq("group", group))
      .collect();
    const small = docs.find((d) => d.data.length === 12);
    if (small) await ctx.db.patch(small._id, { data });
    else await ctx.db.insert("blobs", { group, data });
  },
});
