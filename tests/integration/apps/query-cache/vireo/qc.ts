// The query result cache (query-cache.test.mjs): queries over index ranges (a write in another
// range must not drop their answers, one in theirs must), identity, process.env, Date.now and
// Math.random, a throwing query, paginate, a large answer. Whether a call ran or was answered
// from the cache the test reads from /api/metrics (queryCacheHits, queryCacheMisses).
import { query, mutation, internalQuery, v } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";

export const byChannel = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const rows = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .collect();
    return rows.map((r) => r.n);
  },
});

export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const row = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .first();
    return row ? row.n : null;
  },
});

export const counter = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const c = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    return c ? c.value : null;
  },
});

export const getDoc = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    return (await ctx.db.get(id))?.n ?? null;
  },
});

export const whoami = query({
  args: {},
  handler: async (ctx) => {
    return (await ctx.auth.getUserIdentity())?.subject ?? null;
  },
});

export const env = query({
  args: {},
  handler: async () => {
    return process.env.QC_VAR ?? null;
  },
});

export const constant = query({
  args: { tag: v.optional(v.string()) },
  handler: async (_ctx, { tag }) => {
    return { tag: tag ?? null, version: "v1" };
  },
});

export const withArgs = query({
  args: { a: v.number(), b: v.number() },
  handler: async (_ctx, { a, b }) => {
    return a * 10 + b;
  },
});

export const clock = query({
  args: {},
  handler: async () => {
    return { now: Date.now(), random: Math.random() };
  },
});

export const logs = query({
  args: {},
  handler: async () => {
    console.log("from the run");
    return 1;
  },
});

export const boom = query({
  args: {},
  handler: async () => {
    throw new Error("boom");
  },
});

export const page = query({
  args: { channel: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { channel, paginationOpts }) => {
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .paginate(paginationOpts);
  },
});

export const big = query({
  args: { kb: v.number(), salt: v.number() },
  handler: async (_ctx, { kb, salt }) => {
    return "x".repeat(kb * 1024) + salt;
  },
});

export const secret = internalQuery({
  args: {},
  handler: async () => {
    return "internal";
  },
});

export const add = mutation({
  args: { channel: v.string(), n: v.number() },
  handler: async (ctx, { channel, n }) => await ctx.db.insert("messages", { channel, n }),
});

export const setN = mutation({
  args: { id: v.id("messages"), n: v.number() },
  handler: async (ctx, { id, n }) => {
    await ctx.db.patch(id, { n });
  },
});

export const setCounter = mutation({
  args: { name: v.string(), value: v.number() },
  handler: async (ctx, { name, value }) => {
    const c = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    if (c) await ctx.db.patch(c._id, { value });
    else await ctx.db.insert("counters", { name, value });
  },
});
