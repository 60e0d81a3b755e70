// Object values in filters compare by sorted keys, as in indexes and Convex.
import { query, mutation, v } from "./_generated/server";
import { api } from "./_generated/api";

export const add = mutation({
  args: { x: v.any() },
  handler: async (ctx, { x }) => await ctx.db.insert("things", { x }),
});

export const eq = query({
  args: { x: v.any() },
  handler: async (ctx, { x }) =>
    (await ctx.db.query("things").filter((q) => q.eq(q.field("x"), x)).collect()).map((d) => d.x),
});

export const lt = query({
  args: { x: v.any() },
  handler: async (ctx, { x }) =>
    (await ctx.db.query("things").filter((q) => q.lt(q.field("x"), x)).collect()).map((d) => d.x),
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("things").collect()).length,
});

export const insertNamed = mutation({
  args: { table: v.string() },
  handler: async (ctx, { table }) => await (ctx.db as any).insert(table, { x: 1 }),
});

// A mutation that fails with a promise left pending (parkThenWrite), whose continuation the app
// resumes from a later mutation (wakeParked): what the continuation then tries — a write, a
// schedule, a storage delete — must not land in the later mutation's transaction.
let parked: null | (() => void) = null;
let parkedOutcome: string[] = [];
export const parkThenWrite = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    await new Promise<void>((resolve) => { parked = resolve; });
    for (const [what, act] of [
      ["insert", () => ctx.db.insert("things", { x: `leaked ${tag}` })],
      ["schedule", () => ctx.scheduler.runAfter(0, api.things.add, { x: `scheduled ${tag}` })],
      ["storage", () => ctx.storage.delete("kg2000000000000000000000000000000" as any)],
    ] as const) {
      try {
        await act();
        parkedOutcome.push(`${what}: done`);
      } catch (e: any) {
        parkedOutcome.push(`${what}: ${e.message}`);
      }
    }
  },
});
export const wakeParked = mutation({
  args: { tag: v.string(), fail: v.boolean() },
  handler: async (ctx, { tag, fail }) => {
    const p = parked;
    parked = null;
    parkedOutcome = [];
    if (p) p();
    for (let i = 0; i < 10; i++) await null; /* the continuation runs meanwhile */
    await ctx.db.insert("things", { x: `woke ${tag}` });
    if (fail) throw new Error("wakeParked failed on purpose");
    return parkedOutcome;
  },
});
export const all = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("things").collect()).map((d) => d.x),
});
