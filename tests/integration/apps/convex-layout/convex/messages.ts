import { v, ConvexError } from "convex/values";
import type { Infer } from "convex/values";
import { query, mutation, internalMutation } from "./_generated/server";
import { format } from "./_helpers";
// type-only names imported without `type`, as most Convex apps do: _generated/dataModel exists
// only as a .d.ts, and esbuild drops the import
import { Doc, Id } from "./_generated/dataModel";

const message = v.object({ author: v.string(), body: v.string() });
export type Message = Infer<typeof message>;

export const list = query({
  args: {},
  handler: async (ctx) => {
    const rows: Doc<"messages">[] = await ctx.db.query("messages").collect();
    return rows.map((m) => format(m.author, m.body));
  },
});

export const send = mutation({
  args: message.fields,
  handler: async (ctx, { author, body }) => {
    if (body === "") throw new ConvexError({ code: "EMPTY", message: "empty message" });
    const id: Id<"messages"> = await ctx.db.insert("messages", { author, body });
    return id;
  },
});

export const clear = internalMutation({
  args: {},
  handler: async (ctx) => {
    for (const m of await ctx.db.query("messages").collect()) await ctx.db.delete(m._id);
    return null;
  },
});
