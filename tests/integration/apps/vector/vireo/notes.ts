import { action, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { text: v.string(), e: v.array(v.float64()) },
  handler: async (ctx, doc) => await ctx.db.insert("notes", doc),
});

// Works once the test adds vector index `by_e` to the schema.
export const search = action({
  args: { vector: v.array(v.float64()) },
  handler: async (ctx, { vector }) => {
    const hits = await (ctx as any).vectorSearch("notes", "by_e", { vector });
    return hits;
  },
});
