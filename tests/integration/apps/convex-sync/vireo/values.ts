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

// NaN, ±Infinity and -0 ($float on the wire), stored and read back.
export const putFloats = mutation({
  args: { key: v.string(), f: v.array(v.float64()) },
  handler: async (ctx, { key, f }) => {
    await ctx.db.insert("floats", { key, f });
    return f.map((x) => (Object.is(x, -0) ? "-0" : String(x)));
  },
});

export const getFloats = query({
  args: { key: v.string() },
  handler: async (ctx, { key }) =>
    (await ctx.db
      .query("floats")
      .withIndex("by_key", (q) => q.eq("key", key))
      .unique())?.f ?? null,
});
