import { query, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => await ctx.db.insert("notes", { text }),
});

// Works once the test adds search index `search_text` to the schema.
export const search = query({
  args: { text: v.string() },
  handler: async (ctx, { text }) =>
    (
      await ctx.db
        .query("notes")
        .withSearchIndex("search_text", (s) => s.search("text", text))
        .collect()
    ).map((n) => n.text),
});
