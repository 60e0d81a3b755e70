// Fixture of tests/integration/convex-ctx.test.mjs: transactionLimits (and useStaleSnapshot) of a
// nested ctx.runQuery / ctx.runMutation (convex 1.48).
import { query, mutation, internalQuery, internalMutation, v } from "./_generated/server";
import { internal } from "./_generated/api";

export const fill = mutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("items", { n: i });
  },
});

export const readN = internalQuery({
  args: { n: v.number(), queries: v.optional(v.number()) },
  handler: async (ctx, { n, queries }) => {
    for (let q = 1; q < (queries ?? 1); q++) await ctx.db.query("items").take(1);
    return (await ctx.db.query("items").take(n)).length;
  },
});
// a nested query that reads, then lets a nested query of its own read
export const readThenNested = internalQuery({
  args: { own: v.number(), inner: v.number() },
  handler: async (ctx, { own, inner }) => {
    const mine = (await ctx.db.query("items").take(own)).length;
    return mine + (await ctx.runQuery(internal.limits.readN, { n: inner }));
  },
});
export const writeN = internalMutation({
  args: { n: v.number(), schedule: v.optional(v.number()) },
  handler: async (ctx, { n, schedule }) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("items", { n: 100 + i });
    for (let i = 0; i < (schedule ?? 0); i++) await ctx.scheduler.runAfter(3600_000, internal.limits.noop, {});
    return n;
  },
});
export const noop = internalMutation({ args: {}, handler: async () => null });

const outcome = async (p: Promise<unknown>) => {
  try {
    return { value: await p };
  } catch (e: any) {
    return { error: e.message, code: e.code ?? null };
  }
};

// one nested call with the limits the test gives; afterwards the caller reads on, unlimited
export const nestedQuery = query({
  args: { fn: v.string(), args: v.any(), options: v.any() },
  handler: async (ctx, { fn, args, options }) => {
    const ref = fn === "readThenNested" ? internal.limits.readThenNested : internal.limits.readN;
    const r = await outcome(ctx.runQuery(ref, args, options));
    return { ...r, after: (await ctx.db.query("items").take(6)).length };
  },
});
export const nestedMutation = mutation({
  args: { args: v.any(), options: v.any() },
  handler: async (ctx, { args, options }) => {
    const before = (await ctx.db.query("items").collect()).length;
    const r = await outcome(ctx.runMutation(internal.limits.writeN, args, options));
    const written = (await ctx.db.query("items").collect()).length - before;
    await ctx.db.insert("items", { n: -1 }); // the caller writes on
    return { ...r, written };
  },
});
