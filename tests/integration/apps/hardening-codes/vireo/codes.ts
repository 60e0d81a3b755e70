// Store failures whose messages name user fields, tables and ids: the error code comes from the
// store's own kind of failure, not from words in the message.
import { query, mutation, v } from "./_generated/server";

export const getId = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.get(id as any),
});

export const patchId = mutation({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.patch(id as any, { n: 1 }),
});

/* Schema mismatch in a table whose name says "not found". */
export const insertWrong = mutation(async (ctx) => ctx.db.insert("schema_not_found", { n: "x" }));

/* A document deleted twice: the second is DocumentNotFound. */
export const deleteTwice = mutation(async (ctx) => {
  const id = await ctx.db.insert("schema_not_found", { n: 1 });
  await ctx.db.delete(id);
  await ctx.db.delete(id);
});
