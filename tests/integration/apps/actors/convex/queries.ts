import { query } from "./_generated/server";
import { v } from "convex/values";

export const counter = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => (await ctx.actors.get("counter", id)).count,
});

export const logs = query({
    args: { room: v.string() },
    handler: async (ctx, { room }) =>
        (await ctx.db.query("log").withIndex("by_room", (q) => q.eq("room", room)).collect()).map((d) => d.text),
});
