// Queries on reader threads (--query-threads, query-threads.test.mjs): reads after writes into
// any table (no schema: a mutation may create a table the reader has never seen), the running
// version, the caller's identity, process.env, and the limits.
import { query, mutation, v } from "./_generated/server";

export const add = mutation({
  args: { table: v.string(), n: v.number() },
  handler: async (ctx, { table, n }) => {
    const id = await ctx.db.insert(table, { n });
    return id;
  },
});

export const last = query({
  args: { table: v.string() },
  handler: async (ctx, { table }) => (await ctx.db.query(table).order("desc").first())?.n ?? null,
});

export const count = query({
  args: { table: v.string() },
  handler: async (ctx, { table }) => (await ctx.db.query(table).collect()).length,
});

export const getItem = query({
  args: { id: v.id("items") },
  handler: async (ctx, { id }) => (await ctx.db.get(id))?.n ?? null,
});

export const version = query({ args: {}, handler: async () => "v1" });

export const whoami = query({
  args: {},
  handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null,
});

export const env = query({ args: {}, handler: async () => process.env.QT_VAR ?? null });

export const ping = query({ args: {}, handler: async () => "pong" });

export const boom = query({
  args: {},
  handler: async () => {
    throw new Error("boom from a reader");
  },
});

export const spin = query({
  args: {},
  handler: () => {
    for (;;) {}
  },
});

export const hog = query({
  args: {},
  handler: () => {
    const keep: Uint8Array[] = [];
    for (;;) keep.push(new Uint8Array(1 << 20).fill(1));
  },
});
