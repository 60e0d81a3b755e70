// Fixture of tests/integration/cron.test.mjs: what the cron jobs run, and counters.
import { query, internalMutation, v } from "./_generated/server";

export const bump = internalMutation({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    const row = await ctx.db.query("runs").withIndex("by_key", (q) => q.eq("key", key)).unique();
    if (row) await ctx.db.patch(row._id, { n: row.n + 1 });
    else await ctx.db.insert("runs", { key, n: 1 });
  },
});

export const boom = internalMutation({
  args: {},
  handler: async () => {
    throw new Error("boom from a cron job");
  },
});

export const count = query({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    const row = await ctx.db.query("runs").withIndex("by_key", (q) => q.eq("key", key)).unique();
    return row ? row.n : 0;
  },
});

export const jobs = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.system.query("_scheduled_functions").collect();
    return all.map((j) => ({ name: j.name, kind: j.state.kind, args: j.args }));
  },
});
