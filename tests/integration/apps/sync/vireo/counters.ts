import { query, mutation, action, v } from "./_generated/server";
import { api } from "./_generated/api";

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

// Read-modify-write: exact only if mutations are serialized.
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

export const double = action({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => n * 2,
});

// An action whose write goes through ctx.runMutation.
export const incrementViaAction = action({
  args: { name: v.string() },
  handler: async (ctx, { name }) => await ctx.runMutation(api.counters.increment, { name }),
});
