import { query, mutation, action, v } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";

// Fixture of tests/client/react-hooks.test.mjs (@vireo/react's hooks): a list, a paginated list,
// an add, an add that fails after writing (rolled back), a query that fails, an action, and a
// query that reports the caller's identity (for preloadQuery's forwarded headers).
export const list = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    const rows = await ctx.db.query("tasks").withIndex("by_list", (q) => q.eq("list", list)).collect();
    return rows.map((r) => r.text);
  },
});

export const page = query({
  args: { list: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { list, paginationOpts }) => {
    const r = await ctx.db
      .query("tasks")
      .withIndex("by_list", (q) => q.eq("list", list))
      .paginate(paginationOpts);
    return { ...r, page: r.page.map((d) => d.text) };
  },
});

export const add = mutation({
  args: { list: v.string(), text: v.string() },
  handler: async (ctx, { list, text }) => {
    await ctx.db.insert("tasks", { list, text });
    return text;
  },
});

export const addMany = mutation({
  args: { list: v.string(), texts: v.array(v.string()) },
  handler: async (ctx, { list, texts }) => {
    for (const text of texts) await ctx.db.insert("tasks", { list, text });
  },
});

export const addThenFail = mutation({
  args: { list: v.string(), text: v.string() },
  handler: async (ctx, { list, text }) => {
    await ctx.db.insert("tasks", { list, text });
    throw new Error(`refused ${text}`);
  },
});

export const boom = query({
  args: { why: v.string() },
  handler: async (_ctx, { why }) => {
    throw new Error(`boom: ${why}`);
  },
});

export const shout = action({
  args: { text: v.string() },
  handler: async (_ctx, { text }) => text.toUpperCase() + "!",
});

export const big = query({
  args: { n: v.int64() },
  handler: async (_ctx, { n }) => ({ n: n * 2n, bytes: new Uint8Array([1, 2, 3]).buffer }),
});
