// Runaway handlers of several shapes: each must end with ExecutionTimeout.
import { query, mutation, v } from "./_generated/server";

export const empty = query({ args: {}, handler: () => { while (true) {} } });

export const arith = query({
  args: {},
  handler: () => {
    let x = 0;
    for (let i = 0; ; i++) x = (x * 31 + i) % 1000003;
  },
});

function deep(n: number): number {
  try {
    return deep(n + 1) + 1;
  } catch (e) {
    return deep(0);
  }
}
export const recursion = query({ args: {}, handler: () => deep(0) });

const big = new Array(1 << 20).fill(1);
export const forOf = query({
  args: {},
  handler: () => {
    let s = 0;
    for (;;) for (const x of big) s += x;
  },
});

export const emptyMutation = mutation({ args: {}, handler: () => { while (true) {} } });

export const ping = query({ args: {}, handler: () => "pong" });

// Live re-runs: spins while the flag `name` is on.
export const spinIf = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const f = await ctx.db.query("flags").withIndex("by_name", (q) => q.eq("name", name)).first();
    if (f && f.on) while (true) {}
    return f ? f.on : null;
  },
});

export const setFlag = mutation({
  args: { name: v.string(), on: v.boolean() },
  handler: async (ctx, { name, on }) => {
    const f = await ctx.db.query("flags").withIndex("by_name", (q) => q.eq("name", name)).first();
    if (f) await ctx.db.patch(f._id, { on });
    else await ctx.db.insert("flags", { name, on });
  },
});

// Runaways whose CPU time is spread over awaits: each resumption is a VM entry of its own, so the
// per-entry watchdog alone never stops them (50_functions.js roundsWatch does).
function work(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
let sliced = 0;
export const burnAwait = query({
  args: {},
  handler: async () => {
    for (;;) {
      work(20000);
      await null;
    }
  },
});
export const burnAwaitMutation = mutation({
  args: {},
  handler: async () => {
    for (;;) {
      work(20000);
      sliced++;
      await null;
    }
  },
});
export const nullsAwait = mutation({
  args: {},
  handler: async () => {
    for (;;) {
      sliced++;
      await null;
    }
  },
});
export const neverSettles = mutation({ args: {}, handler: async () => { await new Promise(() => {}); } });
// how far the sliced runaways got: it must not move once they have been stopped
export const slicedCount = mutation({ args: {}, handler: async () => { await null; return sliced; } });
// many awaits that end: not a runaway
export const manyAwaits = mutation({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => {
    let x = 0;
    for (let i = 0; i < n; i++) x += await Promise.resolve(i);
    return x;
  },
});
// A handler that returns at once and leaves a loop over awaits running behind it: its answer
// stands, the loop is stopped at the CPU limit.
export const floating = query({
  args: {},
  handler: () => {
    (async () => {
      for (;;) {
        work(20000);
        await null;
      }
    })();
    return "answered";
  },
});
