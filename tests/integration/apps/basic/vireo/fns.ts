import {
  query,
  mutation,
  action,
  internalQuery,
  internalMutation,
  v,
  VireoError,
} from "./_generated/server";
import { api, internal } from "./_generated/api";

export const ping = query({ args: {}, handler: async () => "pong" });

export const echo = query({
  args: { value: v.any() },
  handler: async (_ctx, { value }) => value,
});

export const typed = query({
  args: { s: v.string(), n: v.number(), b: v.optional(v.boolean()) },
  handler: async (_ctx, args) => args,
});

export const addNote = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => await ctx.db.insert("notes", { text }),
});

export const listNotes = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).map((d) => d.text),
});

export const insertThenThrow = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    await ctx.db.insert("notes", { text });
    throw new Error("boom after insert");
  },
});

export const badInsert = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("notes", { text: "before-bad" });
    await ctx.db.insert("items", { name: 5, n: 1, tag: "bad" } as any);
  },
});

export const fail = query({
  args: {},
  handler: async () => {
    throw new Error("custom failure message");
  },
});

export const vireoErr = mutation({
  args: {},
  handler: async () => {
    throw new VireoError({ code: 42, why: "nope" });
  },
});

export const spin = query({
  args: {},
  handler: async () => {
    let x = 0;
    for (;;) x++;
  },
});

export const spinAfterInsert = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("notes", { text: "spin-insert" });
    let x = 0;
    for (;;) x++;
  },
});

export const secret = internalQuery({ args: {}, handler: async () => "internal-ok" });

export const secretInsert = internalMutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => await ctx.db.insert("notes", { text }),
});

export const viaAction = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const id = await ctx.runMutation(api.fns.addNote, { text });
    const notes = await ctx.runQuery(api.fns.listNotes, {});
    const hidden = await ctx.runQuery(internal.fns.secret, {});
    return { id, notes, hidden };
  },
});

export const roundTrip = mutation({
  args: { big: v.int64(), data: v.bytes() },
  handler: async (ctx, { big, data }) => {
    const id = await ctx.db.insert("blobs", { big, data });
    const doc = await ctx.db.get(id);
    return {
      big: doc!.big,
      data: doc!.data,
      bigType: typeof doc!.big,
      minusOne: doc!.big - 1n,
      byteLength: doc!.data.byteLength,
      isArrayBuffer: doc!.data instanceof ArrayBuffer,
    };
  },
});

export const log = mutation({
  args: { msg: v.string() },
  handler: async (_ctx, { msg }) => {
    console.log("hello", msg);
    return null;
  },
});

export const big = query({
  args: { n: v.number(), tag: v.string() },
  handler: async (_ctx, { n, tag }) => tag + ":" + "x".repeat(n),
});
