// Object values in filters compare by sorted keys, as in indexes and Convex.
import { query, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { x: v.any() },
  handler: async (ctx, { x }) => await ctx.db.insert("things", { x }),
});

export const eq = query({
  args: { x: v.any() },
  handler: async (ctx, { x }) =>
    (await ctx.db.query("things").filter((q) => q.eq(q.field("x"), x)).collect()).map((d) => d.x),
});

export const lt = query({
  args: { x: v.any() },
  handler: async (ctx, { x }) =>
    (await ctx.db.query("things").filter((q) => q.lt(q.field("x"), x)).collect()).map((d) => d.x),
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("things").collect()).length,
});

export const insertNamed = mutation({
  args: { table: v.string() },
  handler: async (ctx, { table }) => await (ctx.db as any).insert(table, { x: 1 }),
});
