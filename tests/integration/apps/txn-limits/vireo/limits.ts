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

// Leaves a mark, then reads n - 1 index ranges, alternating db.get and db.query(...).first();
// `system` adds as many db.system.get calls, which are not counted.
export const ranges = mutation({
  args: { n: v.number(), system: v.optional(v.boolean()) },
  handler: async (ctx, { n, system }) => {
    const id = await ctx.db.insert("marks", { n });
    const job = system ? await ctx.scheduler.runAfter(600_000, api.limits.fill, { n: 0 }) : null;
    let found = 0;
    for (let i = 1; i < n; i++) {
      if (i % 2 ? await ctx.db.get(id) : await ctx.db.query("marks").first()) found++;
      if (job && !(await ctx.db.system.get(job))) throw new Error("no job");
    }
    return found;
  },
});

export const marks = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("marks").collect()).map((d) => d.n),
});

// n db.get calls of one document (a missing one counts as well).
export const gets = query({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const first = await ctx.db.query("marks").first();
    if (!first) throw new Error("no mark");
    let found = 0;
    for (let i = 1; i < n; i++) if (await ctx.db.get(first._id)) found++;
    return found + 1;
  },
});

// A job due in ten minutes whose arguments are ~900 KB: `_scheduled_functions` is a system table,
// not counted against the read limits, so a scan of it can hold more than a batch's 16 MiB text.
export const scheduleBig = mutation({
  args: { i: v.number() },
  handler: async (ctx, { i }) => {
    await ctx.scheduler.runAfter(600_000, api.limits.sink, { pad: "y".repeat(900_000), i });
    return i;
  },
});

export const sink = mutation({
  args: { pad: v.string(), i: v.number() },
  handler: async () => null,
});

// The scheduled jobs read two ways, collect and a `for await` loop; a page of them in jobsPage.
export const jobs = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.system.query("_scheduled_functions").collect();
    let looped = 0;
    for await (const j of ctx.db.system.query("_scheduled_functions")) if (j.args) looped++;
    return { collected: all.length, looped, bytes: all.reduce((n, j) => n + JSON.stringify(j.args).length, 0) };
  },
});

export const jobsPage = query({
  args: { cursor: v.union(v.string(), v.null()), numItems: v.number() },
  handler: async (ctx, { cursor, numItems }) => {
    const p = await ctx.db.system.query("_scheduled_functions").paginate({ numItems, cursor });
    return { n: p.page.length, isDone: p.isDone, cursor: p.continueCursor };
  },
});
