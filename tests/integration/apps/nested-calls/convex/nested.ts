// ctx.runQuery / ctx.runMutation inside queries and mutations (tests/integration/nested-calls.test.mjs).
import { createFunctionHandle } from "convex/server";
import { ConvexError, v } from "convex/values";
import { api, internal } from "./_generated/api";
import { action, internalMutation, internalQuery, mutation, query } from "./_generated/server";

export const count = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) =>
    (await ctx.db.query("items").withIndex("by_name", (q) => q.eq("name", name)).collect()).length,
});

// a live query whose reads are all made by the query it calls
export const countVia = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => ({ n: await ctx.runQuery(api.nested.count, { name }) }),
});

export const add = internalMutation({
  args: { name: v.string(), n: v.number() },
  returns: v.id("items"),
  handler: (ctx, doc) => ctx.db.insert("items", doc),
});

export const addThenFail = internalMutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    await ctx.db.insert("items", { name, n: -1 });
    await ctx.scheduler.runAfter(0, internal.nested.add, { name, n: -2 });
    throw new ConvexError({ why: "nope", name });
  },
});

// one write kept, one nested mutation rolled back and caught, then a nested query that sees the
// caller's transaction
export const outer = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const id = await ctx.runMutation(internal.nested.add, { name, n: 1 });
    let caught = null;
    try {
      await ctx.runMutation(internal.nested.addThenFail, { name });
    } catch (e: any) {
      caught = { message: e.message, data: e.data ?? null, convex: e instanceof ConvexError };
    }
    const seen = await ctx.runQuery(api.nested.count, { name });
    return { id, caught, seen };
  },
});

export const outerThrows = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    await ctx.runMutation(internal.nested.add, { name, n: 1 });
    throw new Error("the caller fails after its nested mutation succeeded");
  },
});

export const badReturn = internalMutation({
  args: { name: v.string() },
  returns: v.string(),
  handler: async (ctx, { name }) => {
    await ctx.db.insert("items", { name, n: 2 });
    return 5 as any;
  },
});

export const callsBadReturn = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    try {
      await ctx.runMutation(internal.nested.badReturn, { name });
      return "no error";
    } catch (e: any) {
      return e.message;
    }
  },
});

export const recurse = mutation({
  args: { depth: v.number() },
  handler: async (ctx, { depth }): Promise<number> =>
    depth === 0 ? 0 : 1 + (await ctx.runMutation(api.nested.recurse, { depth: depth - 1 })),
});

export const misuse = mutation({
  args: { what: v.string() },
  handler: async (ctx, { what }) => {
    const c = ctx as any;
    if (what === "kind") return await c.runQuery(internal.nested.add, { name: "x", n: 1 });
    if (what === "args") return await c.runMutation(internal.nested.add, { name: 1, n: 1 });
    if (what === "missing") return await c.runQuery("nested:nope", {});
    if (what === "action") return await c.runMutation("nested:act", {});
    return await c.runQuery(42, {});
  },
});

export const queryCtx = query({
  args: {},
  handler: async (ctx) => ({
    runMutation: typeof (ctx as any).runMutation,
    viaString: await ctx.runQuery("nested:count" as any, { name: "none" }),
  }),
});

export const secret = internalQuery({ args: {}, handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null });

// not awaited: the caller's own insert waits for the nested mutation, which fails and rolls back
// only its own writes
export const concurrent = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const nested = ctx.runMutation(internal.nested.addThenFail, { name });
    const own = ctx.db.insert("items", { name, n: 7 });
    const both = await Promise.allSettled([nested, own]);
    return { nested: both[0].status, own: both[1].status, seen: await ctx.runQuery(api.nested.count, { name }) };
  },
});

export const hangs = internalMutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    await ctx.db.insert("items", { name, n: 9 });
    await new Promise(() => {});
  },
});

// returns without awaiting a nested mutation that never finishes: its write is rolled back
export const abandons = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    void ctx.runMutation(internal.nested.hangs, { name });
    return "done";
  },
});

// writes after starting one that never finishes: the write waits for it, so the call never ends
export const waitsForever = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    void ctx.runMutation(internal.nested.hangs, { name });
    await ctx.db.insert("items", { name, n: 1 });
    return "done";
  },
});

export const act = action({ args: {}, handler: async () => 1 });

// function handles: strings naming a function wherever a reference goes
export const handles = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const add = await createFunctionHandle(internal.nested.add);
    const count = await createFunctionHandle(api.nested.count);
    await ctx.runMutation(add, { name, n: 1 });
    await ctx.scheduler.runAfter(0, add, { name, n: 2 });
    return { add, same: (await createFunctionHandle(add as any)) === add, n: await ctx.runQuery(count, { name }) };
  },
});

export const badHandle = mutation({
  args: { what: v.string() },
  handler: async (ctx, { what }) => {
    if (what === "create") return await createFunctionHandle("nested:nope" as any);
    return await ctx.runMutation("function://nested:nope" as any, {});
  },
});

export const actionHandles = action({
  args: { name: v.string() },
  handler: async (ctx, { name }): Promise<number> => {
    await ctx.runMutation(await createFunctionHandle(internal.nested.add), { name, n: 3 });
    return await ctx.runQuery(await createFunctionHandle(api.nested.count), { name });
  },
});

// a random plan of nested mutations (nested-calls.test.mjs checks it against a model): each
// inserts its label, runs its children (catching a child's error when the child says so), then
// throws when told to
type Plan = { label: number; fail: boolean; caught: boolean; children: Plan[] };
export const plan = mutation({
  args: { name: v.string(), node: v.any() },
  handler: async (ctx, { name, node }): Promise<null> => {
    const p = node as Plan;
    await ctx.db.insert("items", { name, n: p.label });
    for (const c of p.children) {
      try {
        await ctx.runMutation(api.nested.plan, { name, node: c });
      } catch (e) {
        if (!c.caught) throw e;
      }
    }
    if (p.fail) throw new Error(`plan ${p.label} fails`);
    return null;
  },
});

export const labels = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) =>
    (await ctx.db.query("items").withIndex("by_name", (q) => q.eq("name", name)).collect())
      .map((d) => d.n)
      .sort((a, b) => a - b),
});
