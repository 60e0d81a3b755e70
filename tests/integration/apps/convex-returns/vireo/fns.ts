// Fixture of tests/integration/convex-returns.test.mjs: `returns` validators kept and broken by
// queries, mutations and actions; ctx.db.system; query.count().
import { query, mutation, action, internalQuery, v } from "./_generated/server";
import { api, internal } from "./_generated/api";

export const good = query({
  args: {},
  returns: v.object({ count: v.number(), label: v.optional(v.string()) }),
  handler: async () => ({ count: 3 }),
});

export const missingField = query({
  args: {},
  returns: v.object({ count: v.number(), total: v.number() }),
  handler: async () => ({ total: 3 }),
});

export const extraField = query({
  args: {},
  returns: { count: v.number() }, // an object of validators, as Convex allows
  handler: async () => ({ count: 1, secret: "x" }),
});

export const wrongType = query({
  args: {},
  returns: v.object({ rows: v.array(v.object({ n: v.number() })) }),
  handler: async () => ({ rows: [{ n: 1 }, { n: "2" }] }),
});

export const wrongLiteral = query({
  args: {},
  returns: v.union(v.literal("a"), v.literal("b")),
  handler: async () => "c",
});

export const nullReturn = query({
  args: {},
  returns: v.null(),
  handler: async () => {},
});

// Inserts, then returns a value its validator refuses: the insert must not remain.
export const insertThenBreak = mutation({
  args: { group: v.string() },
  returns: v.id("items"),
  handler: async (ctx, { group }) => {
    await ctx.db.insert("items", { group, n: 1 });
    return 42;
  },
});

export const insert = mutation({
  args: { group: v.string(), n: v.number() },
  returns: v.id("items"),
  handler: async (ctx, args) => await ctx.db.insert("items", args),
});

export const removeOne = mutation({
  args: { group: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { group }) => {
    const d = await ctx.db.query("items").withIndex("by_group", (q) => q.eq("group", group)).first();
    if (d === null) return false;
    await ctx.db.delete(d._id);
    return true;
  },
});

export const actionBreaks = action({
  args: {},
  returns: v.string(),
  handler: async () => 7,
});

export const actionGood = action({
  args: {},
  returns: v.number(),
  handler: async (ctx) => await ctx.runQuery(api.fns.countGroup, { group: "a" }),
});

// A nested call whose result breaks its validator fails inside the action.
export const actionNested = action({
  args: {},
  returns: v.string(),
  handler: async (ctx) => {
    try {
      await ctx.runQuery(internal.fns.brokenInternal, {});
      return "no error";
    } catch (e) {
      return `${e.code}: ${e.message}`;
    }
  },
});

export const brokenInternal = internalQuery({
  args: {},
  returns: v.number(),
  handler: async () => "not a number",
});

export const countGroup = query({
  args: { group: v.string() },
  returns: v.number(),
  handler: async (ctx, { group }) =>
    await ctx.db.query("items").withIndex("by_group", (q) => q.eq("group", group)).count(),
});

export const countBig = query({
  args: { min: v.number() },
  handler: async (ctx, { min }) =>
    await ctx.db.query("items").filter((q) => q.gte(q.field("n"), min)).count(),
});

export const countAll = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("items").count(),
});

export const system = query({
  args: {},
  handler: async (ctx) => {
    const scheduled = await ctx.db.system.query("_scheduled_functions").collect();
    const files = await ctx.db.system.query("_storage").order("desc").take(5);
    const n = await ctx.db.system.query("_storage").count();
    const first = await ctx.db.system.query("_scheduled_functions").first();
    return { scheduled, files, n, first };
  },
});

export const systemBadTable = query({
  args: {},
  handler: async (ctx) => await ctx.db.system.query("items").collect(),
});

export const systemGetUserId = query({
  args: { id: v.id("items") },
  handler: async (ctx, { id }) => await ctx.db.system.get(id),
});

export const querySystemDirect = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("_storage").collect(),
});

export const writeSystem = mutation({
  args: {},
  handler: async (ctx) => await ctx.db.insert("_storage", { sha256: "x" }),
});

export const systemInMutation = mutation({
  args: {},
  handler: async (ctx) => (await ctx.db.system.query("_storage").collect()).length,
});
