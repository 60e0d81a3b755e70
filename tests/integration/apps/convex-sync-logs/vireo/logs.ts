import { query, mutation, v } from "./_generated/server";

const count = async (ctx: any, list: string) =>
  (await ctx.db.query("items").withIndex("by_list", (q: any) => q.eq("list", list)).collect()).length;

// Logs how many items its list has, and returns that number.
export const chatty = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    const n = await count(ctx, list);
    console.log("count", n);
    console.warn("list", { list });
    return n;
  },
});

// The same without a word.
export const quiet = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => count(ctx, list),
});

// Reads the list, logs the same line and returns the same value whatever it holds.
export const constant = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    await count(ctx, list);
    console.log("always the same");
    return "same";
  },
});

// Returns the same value whatever the list holds, but logs its count.
export const varying = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    console.log("seen", await count(ctx, list));
    return "same";
  },
});

// Logs, then throws.
export const fails = query({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    console.log("about to fail", await count(ctx, list));
    throw new Error("boom");
  },
});

// n lines of `size` x's each (a distinct `tag` makes a distinct live query).
export const flood = query({
  args: { n: v.number(), size: v.number(), tag: v.optional(v.string()) },
  handler: async (ctx, { n, size }) => {
    const s = "x".repeat(size);
    for (let i = 0; i < n; i++) console.log(i, s);
    return n;
  },
});

export const add = mutation({
  args: { list: v.string() },
  handler: async (ctx, { list }) => {
    await ctx.db.insert("items", { list, n: 1 });
    return null;
  },
});
