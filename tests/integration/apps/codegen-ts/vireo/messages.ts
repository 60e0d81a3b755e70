import { query, mutation, internalQuery, action, v } from "./_generated/server";
import type { MutationCtx } from "./_generated/server";
import type { Doc, Id } from "./_generated/dataModel";
import { byName } from "./users";

export const list = query({
  args: { limit: v.number() },
  returns: v.array(v.object({ body: v.string(), likes: v.number() })),
  handler: async (ctx, { limit }) => {
    const rows: Doc<"messages">[] = await ctx.db.query("messages").order("desc").take(limit);
    return rows.map((m) => ({ body: m.body, likes: m.likes }));
  },
});

export const send = mutation({
  args: { author: v.id("users"), body: v.string(), kind: v.optional(v.literal("text")) },
  handler: async (ctx, { author, body }) => {
    return await insertMessage(ctx, author, body);
  },
});

async function insertMessage(ctx: MutationCtx, author: Id<"users">, body: string) {
  const id = await ctx.db.insert("messages", { author, body, likes: 0, kind: "text" });
  await ctx.db.patch(id, { likes: 1 });
  return id;
}

export const popular = query({
  args: { min: v.number() },
  handler: async (ctx, { min }) => {
    const rows = await ctx.db
      .query("messages")
      .withIndex("by_kind_likes", (q) => q.eq("kind", "text").gte("likes", min))
      .filter((q) => q.neq(q.field("body"), ""))
      .collect();
    return rows.length;
  },
});

export const byAuthorName = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const user = await byName(ctx, name);
    if (!user) return [];
    return await ctx.db
      .query("messages")
      .withIndex("by_author", (q) => q.eq("author", user._id))
      .collect();
  },
});

export const count = internalQuery({
  args: {},
  handler: async (ctx) => (await ctx.db.query("messages").collect()).length,
});

// `.count()` (type-checked here; not called by the tests, it comes with issue 8 item 5)
export const countFast = internalQuery({
  args: {},
  handler: async (ctx): Promise<number> => await ctx.db.query("messages").count(),
});

// The bare-function form.
export const total = query(async (ctx) => (await ctx.db.query("messages").collect()).length);

// ctx.vectorSearch: table and index names, the filter's fields and values, the result's types.
export const similar = action({
  args: { vector: v.array(v.float64()) },
  handler: async (ctx, { vector }) => {
    const hits = await ctx.vectorSearch("messages", "by_embedding", {
      vector,
      limit: 5,
      filter: (q) => q.or(q.eq("kind", "text"), q.eq("kind", "image")),
    });
    const ids: Id<"messages">[] = hits.map((h) => h._id);
    const best: number = hits.length ? hits[0]._score : 0;
    return { ids, best };
  },
});
