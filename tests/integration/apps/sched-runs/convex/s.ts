// Fixture of tests/integration/scheduler-runs.test.mjs: cron jobs (an action slower than its
// interval, a mutation every second, an hourly interval), scheduled actions to cancel while they
// run, a queue of slow actions, and the events each run writes.
import { query, mutation, internalMutation, internalAction } from "./_generated/server";
import { internal } from "./_generated/api";
import { v } from "convex/values";

export const log = internalMutation({
  args: { kind: v.string() },
  handler: async (ctx, { kind }) => {
    await ctx.db.insert("events", { kind, t: Date.now() });
  },
});

export const events = query({
  args: { kind: v.optional(v.string()) },
  handler: async (ctx, { kind }) => {
    const all = await ctx.db.query("events").collect();
    return all.filter((e) => kind === undefined || e.kind === kind);
  },
});

export const jobs = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.system.query("_scheduled_functions").collect();
    return all.map((j) => ({ id: j._id, name: j.name, kind: j.state.kind, args: j.args }));
  },
});

export const job = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.system.get(id as any),
});

// a cron action that takes longer than its 1 s interval
export const slow = internalAction({
  args: {},
  handler: async (ctx) => {
    await ctx.runMutation(internal.s.log, { kind: "slow-start" });
    await new Promise((r) => setTimeout(r, 2500));
    await ctx.runMutation(internal.s.log, { kind: "slow-end" });
  },
});

// waits, then schedules a child: canceled while it waits, the child is created canceled
export const parent = internalAction({
  args: { ms: v.number() },
  handler: async (ctx, { ms }) => {
    await ctx.runMutation(internal.s.log, { kind: "parent-start" });
    await new Promise((r) => setTimeout(r, ms));
    await ctx.scheduler.runAfter(0, internal.s.log, { kind: "child" });
    await ctx.runMutation(internal.s.log, { kind: "parent-end" });
  },
});

export const wait = internalAction({
  args: { ms: v.number() },
  handler: async (ctx, { ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    await ctx.runMutation(internal.s.log, { kind: "waited" });
  },
});

export const scheduleParent = mutation({
  args: { ms: v.number() },
  handler: async (ctx, { ms }) => ctx.scheduler.runAfter(0, internal.s.parent, { ms }),
});

export const scheduleWaits = mutation({
  args: { n: v.number(), ms: v.number() },
  handler: async (ctx, { n, ms }) => {
    for (let i = 0; i < n; i++) await ctx.scheduler.runAfter(0, internal.s.wait, { ms });
    return n;
  },
});

export const scheduleLog = mutation({
  args: { ms: v.number(), kind: v.string() },
  handler: async (ctx, { ms, kind }) => ctx.scheduler.runAfter(ms, internal.s.log, { kind }),
});

export const cancel = mutation({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id as any);
  },
});

// what an app's "cancel every pending job" cleanup does
export const cancelAllPending = mutation({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.system.query("_scheduled_functions").collect();
    let n = 0;
    for (const j of all)
      if (j.state.kind === "pending") {
        await ctx.scheduler.cancel(j._id);
        n++;
      }
    return n;
  },
});
