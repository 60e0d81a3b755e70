// Store failures whose messages name user fields, tables and ids: the error code comes from the
// store's own kind of failure, not from words in the message.
import { query, mutation, v } from "./_generated/server";
import { ConvexError } from "convex/values";

export const getId = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.get(id as any),
});

export const patchId = mutation({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ctx.db.patch(id as any, { n: 1 }),
});

/* Schema mismatch in a table whose name says "not found". */
export const insertWrong = mutation(async (ctx) => ctx.db.insert("schema_not_found", { n: "x" }));

/* A document deleted twice: the second is DocumentNotFound. */
export const deleteTwice = mutation(async (ctx) => {
  const id = await ctx.db.insert("schema_not_found", { n: 1 });
  await ctx.db.delete(id);
  await ctx.db.delete(id);
});

/* What a function throws or returns that cannot be sent as it is: each is reported for what it
 * is (a ConvexError whose data is no Convex value, an error unreadable because its own code
 * throws), never as another error, and the mutation's writes are rolled back. */
export const unsendable = mutation({
  args: { kind: v.string() },
  handler: async (ctx, { kind }) => {
    await ctx.db.insert("schema_not_found", { n: 1 });
    if (kind === "deepData") {
      let o: any = 1;
      for (let i = 0; i < 10000; i++) o = [o];
      throw new ConvexError(o);
    }
    if (kind === "cyclicData") {
      const d: any = { a: 1 };
      d.self = d;
      throw new ConvexError(d);
    }
    if (kind === "fnData") throw new ConvexError({ f: () => 1 } as any);
    if (kind === "msgGetter") {
      const e = new Error("x");
      Object.defineProperty(e, "message", { get() { throw new Error("inner"); } });
      throw e;
    }
    if (kind === "proxyErr") throw new Proxy(new Error("x"), { get() { throw new Error("pget"); } });
    if (kind === "returnDate") return new Date(0) as any;
    return Date.name;
  },
});
export const countDocs = query(async (ctx) => (await ctx.db.query("schema_not_found").collect()).length);
