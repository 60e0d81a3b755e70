// Fixture of tests/integration/scheduler.test.mjs: ctx.scheduler from mutations and actions,
// jobs in `_scheduled_functions`, counters that show how often each job ran.
import { query, mutation, action, internalMutation, internalAction, v } from "./_generated/server";
import { api, internal } from "./_generated/api";

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
    throw new Error("boom from a scheduled mutation");
  },
});

export const actionBump = internalAction({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    await ctx.runMutation(internal.jobs.bump, { key });
    return "done";
  },
});

export const after = mutation({
  args: { ms: v.number(), key: v.string(), fail: v.optional(v.boolean()) },
  handler: async (ctx, { ms, key, fail }) => {
    const id = await ctx.scheduler.runAfter(ms, internal.jobs.bump, { key });
    if (fail) throw new Error("rolled back after scheduling");
    return id;
  },
});

export const at = mutation({
  args: { t: v.number(), key: v.string(), asDate: v.optional(v.boolean()) },
  handler: async (ctx, { t, key, asDate }) =>
    ctx.scheduler.runAt(asDate ? new Date(t) : t, internal.jobs.bump, { key }),
});

export const many = mutation({
  args: { n: v.number(), prefix: v.string(), ms: v.optional(v.number()) },
  handler: async (ctx, { n, prefix, ms }) => {
    for (let i = 0; i < n; i++)
      await ctx.scheduler.runAfter(ms ?? 0, internal.jobs.bump, { key: `${prefix}${i}` });
    return n;
  },
});

export const scheduleBoom = mutation({
  args: {},
  handler: async (ctx) => ctx.scheduler.runAfter(0, internal.jobs.boom, {}),
});

export const scheduleAction = mutation({
  args: { key: v.string() },
  handler: async (ctx, { key }) => ctx.scheduler.runAfter(0, internal.jobs.actionBump, { key }),
});

export const fromAction = action({
  args: { key: v.string(), ms: v.number() },
  handler: async (ctx, { key, ms }) => ctx.scheduler.runAfter(ms, internal.jobs.bump, { key }),
});

export const cancelFromAction = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id as any);
  },
});

export const cancel = mutation({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id as any);
  },
});

export const badCalls = mutation({
  args: { which: v.string() },
  handler: async (ctx, { which }) => {
    if (which === "negative") await ctx.scheduler.runAfter(-1, internal.jobs.bump, { key: "x" });
    if (which === "nan") await ctx.scheduler.runAfter(NaN, internal.jobs.bump, { key: "x" });
    if (which === "string") await ctx.scheduler.runAfter("1" as any, internal.jobs.bump, { key: "x" });
    if (which === "query") await ctx.scheduler.runAfter(0, api.jobs.count as any, {});
    if (which === "missing") await ctx.scheduler.runAfter(0, "jobs:nope" as any, {});
    if (which === "args") await ctx.scheduler.runAfter(0, internal.jobs.bump, [1] as any);
    if (which === "huge") await ctx.scheduler.runAfter(0, internal.jobs.bump, { key: "h".repeat(1100000) });
    if (which === "tooMany")
      for (let i = 0; i < 1001; i++) await ctx.scheduler.runAfter(0, internal.jobs.bump, { key: "t" });
    if (which === "write") {
      const id = await ctx.scheduler.runAfter(1e9, internal.jobs.bump, { key: "w" });
      await ctx.db.patch(id as any, { name: "x" } as any);
    }
    return null;
  },
});

export const count = query({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    const row = await ctx.db.query("runs").withIndex("by_key", (q) => q.eq("key", key)).unique();
    return row ? row.n : 0;
  },
});

export const counts = query({
  args: { prefix: v.string() },
  handler: async (ctx, { prefix }) => {
    const rows = await ctx.db.query("runs").collect();
    const out: Record<string, number> = {};
    for (const r of rows) if (r.key.startsWith(prefix)) out[r.key] = r.n;
    return out;
  },
});

// One page of the counters (Convex's transaction limit: one query reads at most 32,000 documents).
export const countsPage = query({
  args: { prefix: v.string(), cursor: v.union(v.string(), v.null()) },
  handler: async (ctx, { prefix, cursor }) => {
    const page = await ctx.db.query("runs").paginate({ numItems: 8000, cursor });
    const out: Record<string, number> = {};
    for (const r of page.page) if (r.key.startsWith(prefix)) out[r.key] = r.n;
    return { out, isDone: page.isDone, continueCursor: page.continueCursor };
  },
});

export const job = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.system.get(id as any),
});

export const jobs = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.system.query("_scheduled_functions").collect();
    return all.map((j) => ({ name: j.name, kind: j.state.kind }));
  },
});

export const states = query({
  args: {},
  handler: async (ctx) => {
    const out: Record<string, number> = {};
    for await (const j of ctx.db.system.query("_scheduled_functions")) out[j.state.kind] = (out[j.state.kind] ?? 0) + 1;
    return out;
  },
});

export const manyAt = mutation({
  args: { n: v.number(), prefix: v.string(), t: v.number() },
  handler: async (ctx, { n, prefix, t }) => {
    for (let i = 0; i < n; i++)
      await ctx.scheduler.runAt(t, internal.jobs.bump, { key: `${prefix}${i}` });
    return n;
  },
});
