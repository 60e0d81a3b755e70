import { getAuthUserId, getAuthSessionId } from "@convex-dev/auth/server";
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

export const viewer = query({
  args: {},
  handler: async (ctx) => {
    const userId = await getAuthUserId(ctx);
    if (userId === null) return null;
    const user = await ctx.db.get(userId);
    const sessionId = await getAuthSessionId(ctx);
    // the JWT stays valid until it expires; signOut deletes its session document
    const session = sessionId === null ? null : await ctx.db.get(sessionId);
    return { userId, email: user?.email ?? null, sessionId, sessionActive: session !== null };
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

export const siteUrl = query({
  args: {},
  handler: async () => ({ site: process.env.CONVEX_SITE_URL ?? null, cloud: process.env.CONVEX_CLOUD_URL ?? null }),
});
