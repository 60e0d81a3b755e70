import { getAuthUserId, getAuthSessionId } from "@convex-dev/auth/server";
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

export const viewer = query({
  args: {},
  handler: async (ctx) => {
    const userId = await getAuthUserId(ctx);
    if (userId === null) return null;
    const user = await ctx.db.get(userId);
    return { userId, email: user?.email ?? null, sessionId: await getAuthSessionId(ctx) };
  },
});

export const addNote = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const userId = await getAuthUserId(ctx);
    if (userId === null) throw new Error("Not signed in");
    return await ctx.db.insert("notes", { userId, text });
  },
});

export const myNotes = query({
  args: {},
  handler: async (ctx) => {
    const userId = await getAuthUserId(ctx);
    if (userId === null) return [];
    const notes = await ctx.db.query("notes").withIndex("by_user", (q) => q.eq("userId", userId)).collect();
    return notes.map((n) => n.text);
  },
});
