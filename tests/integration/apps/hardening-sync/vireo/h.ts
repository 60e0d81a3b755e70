import { query, mutation, v } from "./_generated/server";

async function counter(ctx: any, name: string) {
  const d = await ctx.db
    .query("counters")
    .withIndex("by_name", (q: any) => q.eq("name", name))
    .unique();
  return d;
}

// A counter's value (0 when absent).
export const get = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => (await counter(ctx, name))?.value ?? 0,
});

// Every counter: a full-table query, re-run by any write.
export const all = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("counters").collect()).map((d) => d.value),
});

// `n` bytes of result that change with counter "big".
export const big = query({
  args: { n: v.number(), tag: v.string() },
  handler: async (ctx, { n, tag }) => {
    const c = (await counter(ctx, "big"))?.value ?? 0;
    return `${tag}:${c}:` + "x".repeat(n);
  },
});

// The key order of its arguments, as the handler sees them.
export const keys = query({
  args: { obj: v.any() },
  handler: async (_ctx, args) => ({ top: Object.keys(args), obj: Object.keys(args.obj) }),
});

export const inc = mutation({
  args: { name: v.string(), by: v.optional(v.number()) },
  handler: async (ctx, { name, by }) => {
    const d = await counter(ctx, name);
    const step = by ?? 1;
    if (d === null) {
      await ctx.db.insert("counters", { name, value: step });
      return step;
    }
    await ctx.db.patch(d._id, { value: d.value + step });
    return d.value + step;
  },
});

export const noop = mutation({
  args: {},
  handler: async () => "noop",
});

// The length of a (large) argument.
export const len = mutation({
  args: { s: v.string() },
  handler: async (_ctx, { s }) => s.length,
});

// A slow live query: `spins` rounds of arithmetic (Date.now() is fixed inside a query), then the
// counter it watches.
export const slow = query({
  args: { name: v.string(), spins: v.number(), tag: v.string() },
  handler: async (ctx, { name, spins, tag }) => {
    let x = 0;
    for (let i = 0; i < spins; i++) x = (x + i * 7) % 1000003;
    return { tag, x, value: (await counter(ctx, name))?.value ?? 0 };
  },
});
