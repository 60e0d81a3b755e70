// Fixture of tests/integration/convex-ctx.test.mjs: ctx.meta (convex 1.48).
import { query, mutation, action, internalQuery, internalMutation, internalAction, httpAction, v } from "./_generated/server";
import { internal } from "./_generated/api";

export const inQuery = query({
  args: {},
  handler: async (ctx) => {
    const before = await ctx.meta.getTransactionMetrics();
    await ctx.db.query("users").collect();
    await ctx.db.query("notes").take(1);
    return {
      fn: await ctx.meta.getFunctionMetadata(),
      deployment: await ctx.meta.getDeploymentMetadata(),
      before,
      after: await ctx.meta.getTransactionMetrics(),
      snapshot: ctx.meta.getSnapshotTs().toString(),
      snapshotType: typeof ctx.meta.getSnapshotTs(),
      nested: await ctx.runQuery(internal.meta.hidden, {}),
      methods: Object.keys(ctx.meta).sort(),
    };
  },
});
export const hidden = internalQuery({ args: {}, handler: async (ctx) => ctx.meta.getFunctionMetadata() });

export const inMutation = mutation({
  args: {},
  handler: async (ctx) => {
    const snapshot = ctx.meta.getSnapshotTs();
    await ctx.db.insert("users", { name: "bo" });
    await ctx.db.insert("notes", { text: "n" });
    await ctx.scheduler.runAfter(3600_000, internal.meta.noop, { pad: "x".repeat(100) });
    return {
      fn: await ctx.meta.getFunctionMetadata(),
      metrics: await ctx.meta.getTransactionMetrics(),
      snapshot: snapshot.toString(),
      nested: await ctx.runMutation(internal.meta.nestedMutation, {}),
      methods: Object.keys(ctx.meta).sort(),
    };
  },
});
export const nestedMutation = internalMutation({
  args: {},
  handler: async (ctx) => ({ fn: await ctx.meta.getFunctionMetadata(), snapshot: ctx.meta.getSnapshotTs().toString() }),
});
export const noop = internalMutation({ args: { pad: v.string() }, handler: async () => null });

export const inAction = action({
  args: {},
  handler: async (ctx) => ({
    fn: await ctx.meta.getFunctionMetadata(),
    deployment: await ctx.meta.getDeploymentMetadata(),
    methods: Object.keys(ctx.meta).sort(),
    query: await ctx.runQuery(internal.meta.hidden, {}),
  }),
});

export const inHttp = httpAction(async (ctx) =>
  Response.json({ fn: await ctx.meta.getFunctionMetadata(), methods: Object.keys(ctx.meta).sort() }));

// getRequestMetadata(): where the call came from, the same in the calls it makes
export const request = mutation({
  args: {},
  handler: async (ctx) => ({
    own: await ctx.meta.getRequestMetadata(),
    nested: await ctx.runMutation(internal.meta.nestedRequest, {}),
  }),
});
export const nestedRequest = internalMutation({ args: {}, handler: (ctx) => ctx.meta.getRequestMetadata() });
export const requestInAction = action({
  args: {},
  handler: async (ctx) => ({
    own: await ctx.meta.getRequestMetadata(),
    mutation: await ctx.runMutation(internal.meta.nestedRequest, {}),
    action: await ctx.runAction(internal.meta.requestAction, {}),
  }),
});
export const requestAction = internalAction({ args: {}, handler: (ctx) => ctx.meta.getRequestMetadata() });
// a scheduled run's: its job, no client
export const scheduleRequest = mutation({
  args: { action: v.boolean() },
  handler: (ctx, { action }) =>
    action
      ? ctx.scheduler.runAfter(0, internal.meta.recordFromAction, {})
      : ctx.scheduler.runAfter(0, internal.meta.record, {}),
});
export const record = internalMutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("requests", { meta: await ctx.meta.getRequestMetadata() });
  },
});
export const recordFromAction = internalAction({
  args: {},
  handler: async (ctx) => {
    const meta = await ctx.meta.getRequestMetadata();
    await ctx.runMutation(internal.meta.store, { meta, nested: await ctx.runMutation(internal.meta.nestedRequest, {}) });
  },
});
export const store = internalMutation({
  args: { meta: v.any(), nested: v.any() },
  handler: async (ctx, { meta, nested }) => {
    await ctx.db.insert("requests", { meta, nested });
  },
});
export const recorded = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("requests").collect()).map(({ meta, nested }) => ({ meta, nested })),
});

export const requestInHttp = httpAction(async (ctx) => Response.json(await ctx.meta.getRequestMetadata()));
