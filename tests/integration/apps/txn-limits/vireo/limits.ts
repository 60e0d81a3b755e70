// Fixture of tests/integration/txn-limits.test.mjs: functions that read and write many documents
// or many bytes in one transaction, against Convex's transaction limits.
import { query, mutation, action, v } from "./_generated/server";
import { api } from "./_generated/api";

const MB = "x".repeat(1_000_000);

export const fill = mutation({
  args: { n: v.number(), big: v.optional(v.boolean()) },
  handler: async (ctx, { n, big }) => {
    for (let i = 0; i < n; i++) {
      if (!big) await ctx.db.insert("items", { i });
      else await ctx.db.insert("bigIds", { id: await ctx.db.insert("big", { i, s: MB }) });
    }
    return n;
  },
});

export const count = query({
  args: { big: v.optional(v.boolean()) },
  handler: async (ctx, { big }) => (await ctx.db.query(big ? "big" : "items").collect()).length,
});

export const take = query({
  args: { n: v.number() },
  handler: async (ctx, { n }) => (await ctx.db.query("items").take(n)).length,
});

// Reads past the limit, catches the error, and reads again: every later read fails too.
export const readCaught = query({
  args: {},
  handler: async (ctx) => {
    let first;
    try {
      await ctx.db.query("items").collect();
    } catch (e: any) {
      first = { code: e.code, message: e.message };
    }
    let again;
    try {
      await ctx.db.query("items").first();
    } catch (e: any) {
      again = e.code;
    }
    return { first, again };
  },
});

// Each of the big documents by id, one get after the other.
export const getBig = query({
  args: {},
  handler: async (ctx) => {
    const ids = (await ctx.db.query("bigIds").collect()).map((d) => d.id);
    let n = 0;
    for (const id of ids) if (await ctx.db.get(id)) n++;
    return n;
  },
});

// Patches every item twice: 2 writes per document.
export const patchAll = mutation({
  args: { limit: v.number() },
  handler: async (ctx, { limit }) => {
    const docs = await ctx.db.query("items").take(limit);
    for (const d of docs) {
      await ctx.db.patch(d._id, { p: 1 });
      await ctx.db.patch(d._id, { p: 2 });
    }
    return docs.length * 2;
  },
});

// An action's nested calls are transactions of their own: each has the whole limit.
export const countTwice = action({
  args: {},
  handler: async (ctx) => {
    const a = await ctx.runQuery(api.limits.take, { n: 20000 });
    const b = await ctx.runQuery(api.limits.take, { n: 20000 });
    return a + b;
  },
});
