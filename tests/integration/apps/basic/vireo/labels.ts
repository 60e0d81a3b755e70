// Index ranges over a field some documents lack (tests/integration/http.test.mjs): Convex orders
// a missing field (undefined) before null and every value, and withIndex may compare to it.
import { query, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { name: v.string(), label: v.optional(v.union(v.string(), v.null())) },
  handler: async (ctx, args) => await ctx.db.insert("labels", args),
});

// op: eq | gt | gte | lt | lte, against `value`, or undefined when `undef` is set
export const find = query({
  args: { op: v.string(), value: v.optional(v.union(v.string(), v.null())), undef: v.optional(v.boolean()) },
  handler: async (ctx, { op, value, undef }) => {
    const x = undef ? undefined : value;
    const rows = await ctx.db
      .query("labels")
      .withIndex("by_label", (q) => (q as any)[op]("label", x))
      .collect();
    return rows.map((d) => d.name);
  },
});
