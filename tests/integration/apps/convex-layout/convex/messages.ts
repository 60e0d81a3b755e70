import { v, ConvexError } from "convex/values";
import type { Infer } from "convex/values";
import { query, mutation, internalMutation } from "./_generated/server";
import { format } from "./_helpers";

const message = v.object({ author: v.string(), body: v.string() });
export type Message = Infer<typeof message>;

export const list = query({
  args: {},
  handler: async (ctx) => {
    const rows = await ctx.db.query("messages").collect();
    return rows.map((m) => format(m.author, m.body));
  },
});

export const send = mutation({
  args: message.fields,
  handler: async (ctx, { author, body }) => {
    if (body === "") throw new ConvexError({ code: "EMPTY", message: "empty message" });
    return await ctx.db.insert("messages", { author, body });
  },
});

export const clear = internalMutation({
  args: {},
  handler: async (ctx) => {
    for (const m of await ctx.db.query("messages").collect()) await ctx.db.delete(m._id);
    return null;
  },
});
