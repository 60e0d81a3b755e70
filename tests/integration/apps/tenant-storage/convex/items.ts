// tenant-storage fixture: documents and files that fill a shard up to --max-tenant-storage-mb
// (tests/integration/tenant-storage.test.mjs)
import { v } from "convex/values";
import { query, mutation, action } from "./_generated/server";

export const add = mutation({
  args: { tag: v.string(), seq: v.number(), size: v.number() },
  handler: (ctx, { tag, seq, size }) => ctx.db.insert("items", { tag, seq, pad: "x".repeat(size) }),
});
/* every document of a tag: its seqs in order and whether each pad is whole */
export const list = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const docs = await ctx.db.query("items").withIndex("by_tag", (q) => q.eq("tag", tag)).collect();
    return { seqs: docs.map((d) => d.seq), padsOk: docs.every((d) => /^x*$/.test(d.pad)), bytes: docs.reduce((n, d) => n + d.pad.length, 0) };
  },
});
export const removeTag = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const docs = await ctx.db.query("items").withIndex("by_tag", (q) => q.eq("tag", tag)).collect();
    for (const d of docs) await ctx.db.delete(d._id);
    return docs.length;
  },
});
/* a patch that grows (or shrinks) one document's pad */
export const resize = mutation({
  args: { tag: v.string(), seq: v.number(), size: v.number() },
  handler: async (ctx, { tag, seq, size }) => {
    const d = await ctx.db.query("items").withIndex("by_tag", (q) => q.eq("tag", tag).eq("seq", seq)).unique();
    if (!d) return null;
    await ctx.db.patch(d._id, { pad: "x".repeat(size) });
    return d._id;
  },
});
/* an insert past the limit, caught: the mutation goes on and commits what else it does */
export const tryAdd = mutation({
  args: { tag: v.string(), seq: v.number(), size: v.number() },
  handler: async (ctx, { tag, seq, size }) => {
    try {
      await ctx.db.insert("items", { tag, seq, pad: "x".repeat(size) });
      return { ok: true };
    } catch (e) {
      return { ok: false, code: e.code ?? null, message: String(e.message) };
    }
  },
});
/* a mutation that writes nothing and returns `size` bytes: with an idempotencyKey its result is
 * recorded */
export const echo = mutation({ args: { size: v.number() }, handler: (_ctx, { size }) => "y".repeat(size) });
export const uploadUrl = mutation({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });
export const deleteFile = mutation({ args: { id: v.id("_storage") }, handler: (ctx, { id }) => ctx.storage.delete(id) });
export const files = query({
  args: {},
  handler: async (ctx) => (await ctx.db.system.query("_storage").collect()).map((f) => f.size),
});
export const storeBytes = action({
  args: { size: v.number() },
  handler: async (ctx, { size }) => {
    try {
      return { id: await ctx.storage.store(new Blob([new Uint8Array(size)])) };
    } catch (e) {
      return { code: e.code ?? null, message: String(e.message) };
    }
  },
});
