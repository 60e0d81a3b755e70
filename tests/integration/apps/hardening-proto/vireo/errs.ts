// Client and app mistakes (4xx) vs server faults (5xx); nesting at the 64-level limit.
import { query, mutation, v } from "./_generated/server";

/* A value `levels` arrays/objects deep (itself counted), ending in 1. */
function nest(levels: number): any {
  let x: any = 1;
  for (let i = 0; i < levels; i++) x = i % 2 ? [x] : { a: x };
  return x;
}

function depthOf(x: any): number {
  if (x === null || typeof x !== "object" || x instanceof ArrayBuffer) return 0;
  let m = 0;
  for (const k of Object.keys(x)) m = Math.max(m, depthOf(x[k]));
  return m + 1;
}

export const argsDepth = query(async (_ctx: any, args: any) => depthOf(args));

export const anyDepth = query({
  args: { x: v.any() },
  handler: async (_ctx, args) => depthOf(args),
});

/* Inserts a document `levels` deep (the document object counted); returns its depth read back. */
export const insertDeep = mutation({
  args: { levels: v.number() },
  handler: async (ctx, { levels }) => {
    const id = await ctx.db.insert("things", { x: nest(levels - 1) });
    const { _id, _creationTime, ...doc } = (await ctx.db.get(id)) as any;
    return depthOf(doc);
  },
});

/* Inserts the argument `x` itself as the document's field (it passed the argument check). */
export const insertArg = mutation({
  args: { x: v.any() },
  handler: async (ctx, { x }) => {
    await ctx.db.insert("things", { x });
    return "ok";
  },
});

export const returnDeep = query({
  args: { levels: v.number() },
  handler: async (_ctx, { levels }) => nest(levels),
});

export const bigDoc = mutation({
  args: {},
  handler: async (ctx) => await ctx.db.insert("things", { x: "y".repeat(1100 * 1024) }),
});

export const bigValue = query({ args: {}, handler: async () => "z".repeat(17 * 1024 * 1024) });

export const tooManyQueries = query({
  args: {},
  handler: async (ctx) => {
    const its = [];
    for (let i = 0; i < 17; i++) {
      const it = (ctx.db.query("things") as any)[Symbol.asyncIterator]();
      await it.next();
      its.push(it);
    }
    return its.length;
  },
});

export const seed = mutation({ args: {}, handler: async (ctx) => await ctx.db.insert("things", { x: 0 }) });

export const patchMissing = mutation({
  args: {},
  handler: async (ctx) => {
    const id = await ctx.db.insert("things", { x: 1 });
    await ctx.db.delete(id);
    await ctx.db.patch(id, { x: 2 });
  },
});

export const badId = query({
  args: {},
  handler: async (ctx) => await ctx.db.get("not-an-id" as any),
});

export const throwPlain = mutation({
  args: {},
  handler: async () => {
    throw new Error("boom");
  },
});
