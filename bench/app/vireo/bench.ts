// The bench app's functions. `latest` is the live query every push scenario subscribes to: the
// newest message of one channel through an index, so its read set is that channel alone and a
// write to another channel must not re-run it. `send` writes one message; `insert` one document.
import { query, mutation, internalMutation, v } from "./_generated/server";
import { internal } from "./_generated/api";

export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_channel_seq", (q) => q.eq("channel", channel))
      .order("desc")
      .first(),
});

export const send = mutation({
  args: { channel: v.string(), seq: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("messages", args);
    return null;
  },
});

export const insert = mutation({
  args: { n: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("docs", args);
    return null;
  },
});

// The scheduler scenario (bench/scheduler.mjs): `scheduleJobs` schedules n runs of `job`, spread
// evenly over spreadMs from `at`; `lateness` reads back what `_scheduled_functions` recorded
// (completedTime - scheduledTime) for the finished runs scheduled at or after `since`.
export const job = internalMutation({
  args: { n: v.number() },
  handler: async () => null,
});

export const scheduleJobs = mutation({
  args: { n: v.number(), at: v.number(), spreadMs: v.number() },
  handler: async (ctx, { n, at, spreadMs }) => {
    for (let i = 0; i < n; i++)
      await ctx.scheduler.runAt(at + (spreadMs * i) / n, internal.bench.job, { n: i });
    return null;
  },
});

export const lateness = query({
  args: { since: v.number() },
  handler: async (ctx, { since }) => {
    const out: number[] = [];
    for await (const j of ctx.db.system.query("_scheduled_functions"))
      if (j.scheduledTime >= since && j.state.kind === "success" && j.completedTime !== undefined)
        out.push(j.completedTime - j.scheduledTime);
    return out;
  },
});
