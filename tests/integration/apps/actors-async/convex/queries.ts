import { query } from "./_generated/server";
import { v } from "convex/values";

export const job = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => ctx.actors.get("job", id),
});

export const logs = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("log").collect()).map((d) => d.text),
});
