import { query, mutation, v } from "./_generated/server";

// Every blob of a group: a result over the 1 MiB transition chunk size when the blobs are big.
export const list = query({
  args: { group: v.string() },
  handler: async (ctx, { group }) =>
    (
      await ctx.db
        .query("blobs")
        .withIndex("by_group", (q) => q.eq("group", group))
        .collect()
    ).map((d) => d.data),
});

export const add = mutation({
  args: { group: v.string(), size: v.number(), fill: v.string() },
  handler: async (ctx, { group, size, fill }) => {
    await ctx.db.insert("blobs", { group, data: fill.repeat(size) });
  },
});
