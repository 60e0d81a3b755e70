import { action, internalQuery, mutation, query, v } from "./_generated/server";
import { api, internal } from "./_generated/api";

export const add = mutation({
  args: {
    description: v.string(),
    cuisine: v.string(),
    tag: v.optional(v.string()),
    embedding: v.array(v.float64()),
  },
  handler: async (ctx, doc) => await ctx.db.insert("foods", doc),
});

export const patch = mutation({
  args: { id: v.id("foods"), fields: v.any() },
  handler: async (ctx, { id, fields }) => await ctx.db.patch(id, fields),
});

export const replace = mutation({
  args: { id: v.id("foods"), doc: v.any() },
  handler: async (ctx, { id, doc }) => await ctx.db.replace(id, doc),
});

export const remove = mutation({
  args: { id: v.id("foods") },
  handler: async (ctx, { id }) => await ctx.db.delete(id),
});

// ctx.vectorSearch with Convex's options; `cuisines` and `tags` become one q.or of q.eq
// (a tag of null asks for documents without the field).
export const search = action({
  args: {
    vector: v.array(v.float64()),
    limit: v.optional(v.number()),
    cuisines: v.optional(v.array(v.string())),
    tags: v.optional(v.array(v.union(v.string(), v.null()))),
  },
  handler: async (ctx, { vector, limit, cuisines, tags }) => {
    const eqs = [
      ...(cuisines ?? []).map((c) => ["cuisine", c]),
      ...(tags ?? []).map((t) => ["tag", t === null ? undefined : t]),
    ];
    return await ctx.vectorSearch("foods", "by_embedding", {
      vector,
      limit,
      filter: eqs.length === 0 ? undefined
        : eqs.length === 1 ? (q) => q.eq(eqs[0][0] as any, eqs[0][1])
        : (q) => q.or(...eqs.map(([f, x]) => q.eq(f as any, x))),
    });
  },
});

export const fetchMany = internalQuery({
  args: { ids: v.array(v.id("foods")) },
  handler: async (ctx, { ids }) => {
    const out = [];
    for (const id of ids) {
      const d = await ctx.db.get(id);
      if (d !== null) out.push(d.description);
    }
    return out;
  },
});

// Convex's usual pattern: search, then load the documents with a query.
export const similar = action({
  args: { vector: v.array(v.float64()), limit: v.optional(v.number()) },
  handler: async (ctx, { vector, limit }): Promise<string[]> => {
    const hits = await ctx.vectorSearch("foods", "by_embedding", { vector, limit });
    return await ctx.runQuery(internal.foods.fetchMany, { ids: hits.map((h) => h._id) });
  },
});

// Every bad usage, one per `which`, returning the error's message.
export const bad = action({
  args: { which: v.string() },
  handler: async (ctx, { which }) => {
    const c: any = ctx;
    const run = async () => {
      switch (which) {
        case "unknownIndex":
          return await c.vectorSearch("foods", "nope", { vector: [1, 0, 0] });
        case "unknownTable":
          return await c.vectorSearch("nosuch", "by_embedding", { vector: [1, 0, 0] });
        case "dims":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, 0] });
        case "emptyVector":
          return await c.vectorSearch("foods", "by_embedding", { vector: [] });
        case "noVector":
          return await c.vectorSearch("foods", "by_embedding", {});
        case "notNumbers":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, "a", 0] });
        case "bigint":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1n, 0, 0] });
        case "nan":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, NaN, 0] });
        case "limitHigh":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, 0, 0], limit: 257 });
        case "limitZero":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, 0, 0], limit: 0 });
        case "limitFraction":
          return await c.vectorSearch("foods", "by_embedding", { vector: [1, 0, 0], limit: 2.5 });
        case "notFilterField":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0], filter: (q: any) => q.eq("description", "x"),
          });
        case "filterNotExpr":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0], filter: () => true,
          });
        case "filterAnd":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0], filter: (q: any) => q.and(q.eq("cuisine", "a"), q.eq("tag", "b")),
          });
        case "eqNotField":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0], filter: (q: any) => q.eq(3, "a"),
          });
        case "tooManyConditions":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0],
            filter: (q: any) => q.or(...Array.from({ length: 65 }, (_, i) => q.eq("cuisine", `c${i}`))),
          });
        case "noArgs":
          return await c.vectorSearch();
        case "badValue":
          return await c.vectorSearch("foods", "by_embedding", {
            vector: [1, 0, 0], filter: (q: any) => q.eq("cuisine", () => 1),
          });
      }
      throw new Error(`unknown case ${which}`);
    };
    try {
      await run();
      return "no error";
    } catch (e: any) {
      return String(e?.message ?? e);
    }
  },
});

// Convex has no vector search in queries: ctx.vectorSearch is not there.
export const inQuery = query({
  args: {},
  handler: async (ctx) => typeof (ctx as any).vectorSearch,
});

// A write and a search in one action: the search sees the write (Convex: "consistent and fully
// up-to-date").
export const addThenSearch = action({
  args: { description: v.string(), embedding: v.array(v.float64()) },
  handler: async (ctx, { description, embedding }): Promise<any> => {
    const id = await ctx.runMutation(api.foods.add, { description, cuisine: "fresh", embedding });
    const hits = await ctx.vectorSearch("foods", "by_embedding", {
      vector: embedding, limit: 1, filter: (q) => q.eq("cuisine", "fresh"),
    });
    return { id, hits };
  },
});
