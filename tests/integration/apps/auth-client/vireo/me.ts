import { query, mutation } from "./_generated/server";

// The subject of the caller's verified token, or null when anonymous (tests/client/auth-live).
export const subject = query({
  args: {},
  handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null,
});

// The same from a mutation: a call runs under the identity the session had when it arrived.
export const subjectOfWriter = mutation({
  args: {},
  handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null,
});
