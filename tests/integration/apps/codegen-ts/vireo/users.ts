import { query, mutation, v } from "./_generated/server";
import type { QueryCtx } from "./_generated/server";
import type { Doc, Id } from "./_generated/dataModel";

export async function byName(ctx: QueryCtx, name: string): Promise<Doc<"users"> | null> {
  return await ctx.db
    .query("users")
    .withIndex("by_name", (q) => q.eq("name", name))
    .unique();
}

export const create = mutation({
  args: { name: v.string(), bio: v.string(), age: v.number() },
  handler: async (ctx, { name, bio, age }): Promise<Id<"users">> => {
    return await ctx.db.insert("users", { name, profile: { bio, age } });
  },
});

export const get = query({
  args: { id: v.id("users") },
  handler: async (ctx, { id }) => {
    const user = await ctx.db.get(id);
    return user ? { name: user.name, age: user.profile.age } : null;
  },
});

export const find = query({
  args: { name: v.string() },
  handler: (ctx, { name }) => byName(ctx, name),
});
