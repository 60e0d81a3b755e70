// Fixture of tests/integration/http-actions.test.mjs: what the HTTP actions read and write.
import { query, mutation, internalMutation, action, v } from "./_generated/server";

export const list = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).map((n) => n.text),
});

export const add = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => ctx.db.insert("notes", { text }),
});

export const addLater = internalMutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    await ctx.db.insert("notes", { text });
  },
});

export const shout = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => text.toUpperCase() + "!",
});
