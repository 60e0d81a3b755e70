import { query, mutation, v } from "./_generated/server";

// int64 (BigInt) and bytes (ArrayBuffer) round trips.
export const put = mutation({
  args: { key: v.string(), i: v.int64(), b: v.bytes() },
  handler: async (ctx, args) => {
    await ctx.db.insert("values", args);
    return { i: args.i + 1n, size: args.b.byteLength };
  },
});

export const get = query({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    const d = await ctx.db
      .query("values")
      .withIndex("by_key", (q) => q.eq("key", key))
      .unique();
    return d === null ? null : { i: d.i, b: d.b };
  },
});
