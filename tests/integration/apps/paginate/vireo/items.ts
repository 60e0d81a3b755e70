import { query, mutation, v } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";

// One page of a list's items by n (asc or desc), optionally only those with `tag`.
export const page = query({
  args: {
    list: v.string(),
    paginationOpts: paginationOptsValidator,
    order: v.optional(v.union(v.literal("asc"), v.literal("desc"))),
    tag: v.optional(v.string()),
    lo: v.optional(v.number()),
  },
  handler: async (ctx, { list, paginationOpts, order, tag, lo }) => {
    let q = ctx.db
      .query("items")
      .withIndex("by_list_n", (r) => (lo === undefined ? r.eq("list", list) : r.eq("list", list).gte("n", lo)))
      .order(order ?? "asc");
    if (tag !== undefined) q = q.filter((f) => f.eq(f.field("tag"), tag));
    const r = await q.paginate(paginationOpts);
    return { ...r, page: r.page.map((d) => d.n) };
  },
});

// The same shape over another table (cursors of one must not work on the other).
export const otherPage = query({
  args: { list: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { list, paginationOpts }) => {
    const r = await ctx.db
      .query("other")
      .withIndex("by_list_n", (r) => r.eq("list", list))
      .paginate(paginationOpts);
    return { ...r, page: r.page.map((d) => d.n) };
  },
});

// Whole documents of the default order (by_creation_time).
export const recent = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => await ctx.db.query("items").order("desc").paginate(paginationOpts),
});

export const add = mutation({
  args: { list: v.string(), n: v.number(), tag: v.optional(v.string()) },
  handler: async (ctx, { list, n, tag }) => await ctx.db.insert("items", { list, n, tag: tag ?? "a" }),
});

export const addMany = mutation({
  args: { list: v.string(), ns: v.array(v.number()), tag: v.optional(v.string()) },
  handler: async (ctx, { list, ns, tag }) => {
    for (const n of ns) await ctx.db.insert("items", { list, n, tag: tag ?? "a" });
  },
});

export const removeN = mutation({
  args: { list: v.string(), n: v.number() },
  handler: async (ctx, { list, n }) => {
    const d = await ctx.db
      .query("items")
      .withIndex("by_list_n", (r) => r.eq("list", list).eq("n", n))
      .first();
    if (d) await ctx.db.delete(d._id);
  },
});

// Two paginate() calls in one function: Convex refuses the second.
export const twice = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    const q = () => ctx.db.query("items").withIndex("by_list_n", (r) => r.eq("list", list));
    const a = await q().paginate({ numItems: 1, cursor: null });
    const b = await q().paginate({ numItems: 1, cursor: a.continueCursor });
    return [...a.page, ...b.page].map((d) => d.n);
  },
});
