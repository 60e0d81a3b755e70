import { query, mutation, action, v, ConvexError } from "./_generated/server";
import { api } from "./_generated/api";

export const list = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .collect()
    ).map((m) => ({ author: m.author, body: m.body })),
});

export const count = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .collect()
    ).length,
});

export const send = mutation({
  args: { channel: v.string(), author: v.string(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("messages", args);
    console.log("sent", args.body);
    return args.body;
  },
});

// A query that fails with data for the client (ConvexError), or with a plain Error.
export const refuse = query({
  args: { plain: v.boolean(), typed: v.optional(v.boolean()) },
  handler: async (_ctx, { plain, typed }) => {
    if (typed) throw new TypeError("typed failure");
    if (plain) throw new Error("plain failure");
    throw new ConvexError({ code: "NOPE", n: 7 });
  },
});

export const refuseMutation = mutation({
  args: {},
  handler: async () => {
    throw new ConvexError("mutation says no");
  },
});

export const shout = action({
  args: { text: v.string() },
  handler: async (_ctx, { text }) => text.toUpperCase(),
});

// An action whose write goes through ctx.runMutation.
export const sendViaAction = action({
  args: { channel: v.string(), body: v.string() },
  handler: async (ctx, { channel, body }) =>
    await ctx.runMutation(api.messages.send, { channel, author: "action", body }),
});
