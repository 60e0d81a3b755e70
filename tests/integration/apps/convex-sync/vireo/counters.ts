import { query, mutation, v } from "./_generated/server";

export const get = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const d = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    return d === null ? 0 : d.value;
  },
});

export const increment = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const d = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    if (d === null) {
      await ctx.db.insert("counters", { name, value: 1 });
      return 1;
    }
    await ctx.db.patch(d._id, { value: d.value + 1 });
    return d.value + 1;
  },
});
