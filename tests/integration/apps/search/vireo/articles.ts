import { query, mutation, v } from "./_generated/server";

// Full-text search over `articles` (search index search_body): bodies in result order.
export const search = query({
  args: {
    text: v.string(),
    channel: v.optional(v.string()),
    lang: v.optional(v.string()),
    take: v.optional(v.number()),
    minLen: v.optional(v.number()),
    noLang: v.optional(v.boolean()),
  },
  handler: async (ctx, { text, channel, lang, take, minLen, noLang }) => {
    let q = ctx.db.query("articles").withSearchIndex("search_body", (s) => {
      const f = s.search("body", text);
      if (channel !== undefined) f.eq("channel", channel);
      if (lang !== undefined) f.eq("lang", lang);
      if (noLang) f.eq("lang", undefined); // documents without the field
      return f;
    });
    if (minLen !== undefined) q = q.filter((f) => f.gte(f.field("body"), "")); // a filter after
    const docs = take !== undefined ? await q.take(take) : await q.collect();
    return docs
      .filter((d) => minLen === undefined || d.body.length >= minLen)
      .map((d) => d.body);
  },
});

export const first = query({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const d = await ctx.db
      .query("articles")
      .withSearchIndex("search_body", (s) => s.search("body", text))
      .first();
    return d === null ? null : d.body;
  },
});

export const count = query({
  args: { text: v.string(), channel: v.string() },
  handler: async (ctx, { text, channel }) =>
    (
      await ctx.db
        .query("articles")
        .withSearchIndex("search_body", (s) => s.search("body", text).eq("channel", channel))
        .collect()
    ).length,
});

export const add = mutation({
  args: { channel: v.string(), body: v.string(), lang: v.optional(v.string()) },
  handler: async (ctx, a) => await ctx.db.insert("articles", a),
});

export const addMany = mutation({
  args: { channel: v.string(), body: v.string(), n: v.number() },
  handler: async (ctx, { channel, body, n }) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("articles", { channel, body: `${body} ${i}` });
  },
});

export const setBody = mutation({
  args: { id: v.id("articles"), body: v.string() },
  handler: async (ctx, { id, body }) => await ctx.db.patch(id, { body }),
});

export const setChannel = mutation({
  args: { id: v.id("articles"), channel: v.string() },
  handler: async (ctx, { id, channel }) => await ctx.db.patch(id, { channel }),
});

export const replace = mutation({
  args: { id: v.id("articles"), channel: v.string(), body: v.string() },
  handler: async (ctx, { id, channel, body }) => await ctx.db.replace(id, { channel, body }),
});

export const remove = mutation({
  args: { id: v.id("articles") },
  handler: async (ctx, { id }) => await ctx.db.delete(id),
});

// Bad usage, one case per name; each throws.
export const bad = query({
  args: { which: v.string() },
  handler: async (ctx, { which }) => {
    const t = ctx.db.query("articles");
    switch (which) {
      case "unknownIndex":
        return await t.withSearchIndex("nope", (s) => s.search("body", "x")).collect();
      case "notSearchField":
        return await t.withSearchIndex("search_body", (s) => s.search("channel", "x")).collect();
      case "notFilterField":
        return await t
          .withSearchIndex("search_body", (s) => s.search("body", "x").eq("body", "x"))
          .collect();
      case "eqTwice":
        return await t
          .withSearchIndex("search_body", (s) =>
            s.search("body", "x").eq("channel", "a").eq("channel", "b"),
          )
          .collect();
      case "noSearch":
        return await t.withSearchIndex("search_body", (s) => s).collect();
      case "eqFirst":
        return await t.withSearchIndex("search_body", (s) => s.eq("channel", "a")).collect();
      case "order":
        return await t
          .withSearchIndex("search_body", (s) => s.search("body", "x"))
          .order("desc")
          .collect();
      case "orderFirst":
        return await t
          .order("desc")
          // @ts-expect-error not allowed by the types either
          .withSearchIndex("search_body", (s) => s.search("body", "x"))
          .collect();
      case "noText":
        // @ts-expect-error the text is required
        return await t.withSearchIndex("search_body", (s) => s.search("body")).collect();
      case "noFilterFn":
        // @ts-expect-error the filter function is required
        return await t.withSearchIndex("search_body").collect();
      case "textNotString":
        // @ts-expect-error the text is a string
        return await t.withSearchIndex("search_body", (s) => s.search("body", 5)).collect();
      case "badValue":
        return await t
          // @ts-expect-error not a Convex value
          .withSearchIndex("search_body", (s) => s.search("body", "x").eq("channel", () => 1))
          .collect();
      case "searchTwice":
        return await t
          // @ts-expect-error not allowed by the types either
          .withSearchIndex("search_body", (s) => s.search("body", "x").search("body", "y"))
          .collect();
      case "regularIndex":
        return await t.withSearchIndex("by_channel", (s) => s.search("body", "x")).collect();
      case "tooManyTerms":
        return await t
          .withSearchIndex("search_body", (s) =>
            s.search("body", Array.from({ length: 17 }, (_, i) => `w${i}`).join(" ")),
          )
          .collect();
      case "withIndexAfter":
        return await t
          .withSearchIndex("search_body", (s) => s.search("body", "x"))
          // @ts-expect-error not allowed by the types either
          .withIndex("by_channel")
          .collect();
      default:
        throw new Error(`unknown case ${which}`);
    }
  },
});
