// Actions and commit batches: an action finishing in the same loop iteration as a batch that
// then fails to commit (the server runs with `--test-fail-commit failbox`).
import { query, mutation, action, v } from "./_generated/server";
import { api } from "./_generated/api";

/* Busy for `ms` on its worker (actions get real time), then writes one document. */
export const spinThenDone = action({
  args: { ms: v.number() },
  handler: async (ctx, { ms }) => {
    const id = await ctx.runMutation(api.acts.ok, {});
    const end = Date.now() + ms;
    while (Date.now() < end) { /* busy */ }
    return id;
  },
});

/* Blocks the loop thread until the query time limit stops it. */
export const runaway = query({
  args: {},
  handler: async () => {
    for (;;) { /* busy */ }
  },
});

export const ok = mutation({ args: {}, handler: async (ctx) => await ctx.db.insert("things", { x: "ok" }) });

export const fail = mutation({ args: {}, handler: async (ctx) => await ctx.db.insert("failbox", { n: 1 }) });

export const ping = query({ args: {}, handler: async () => "pong" });
