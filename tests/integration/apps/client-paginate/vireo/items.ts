import { query, mutation, v } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";

// One page of a list's n values from the list's `lo` setting up. With `tamper` set, a page that
// starts at a cursor gets that cursor damaged (InvalidCursor), as a stale or forged cursor would;
// `maxRows` passes maximumRowsRead, so a page reading more than half of it is SplitRecommended.
export const page = query({
  args: { list: v.string(), paginationOpts: paginationOptsValidator, maxRows: v.optional(v.number()) },
  handler: async (ctx, { list, paginationOpts, maxRows }) => {
    const s = await ctx.db
      .query("settings")
      .withIndex("by_list", (r) => r.eq("list", list))
      .unique();
    const opts = { ...paginationOpts };
    if (maxRows !== undefined) opts.maximumRowsRead = maxRows;
    if (s?.tamper && typeof opts.cursor === "string")
      opts.cursor = (opts.cursor[0] === "A" ? "B" : "A") + opts.cursor.slice(1);
    const r = await ctx.db
      .query("items")
      .withIndex("by_list_n", (q) => q.eq("list", list).gte("n", s?.lo ?? -Infinity))
      .paginate(opts);
    return { ...r, page: r.page.map((d) => d.n) };
  },
});

export const addMany = mutation({
  args: { list: v.string(), ns: v.array(v.number()) },
  handler: async (ctx, { list, ns }) => {
    for (const n of ns) await ctx.db.insert("items", { list, n });
  },
});

export const remove = mutation({
  args: { list: v.string(), n: v.number() },
  handler: async (ctx, { list, n }) => {
    const d = await ctx.db
      .query("items")
      .withIndex("by_list_n", (r) => r.eq("list", list).eq("n", n))
      .first();
    if (d) await ctx.db.delete(d._id);
  },
});

export const configure = mutation({
  args: { list: v.string(), lo: v.number(), tamper: v.boolean() },
  handler: async (ctx, a) => {
    const s = await ctx.db
      .query("settings")
      .withIndex("by_list", (r) => r.eq("list", a.list))
      .unique();
    if (s) await ctx.db.replace(s._id, a);
    else await ctx.db.insert("settings", a);
  },
});

// Takes paginationOpts but returns a plain array (not a pagination result).
export const plain = query({
  args: { list: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { list }) => [list],
});
