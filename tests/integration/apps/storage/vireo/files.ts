import { v } from "convex/values";
import { query, mutation, action } from "./_generated/server";

export const uploadUrl = mutation({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });

export const url = query({ args: { id: v.string() }, handler: (ctx, { id }) => ctx.storage.getUrl(id) });

export const meta = query({
  args: { id: v.string() },
  handler: (ctx, { id }) => ctx.storage.getMetadata(id),
});

export const remove = mutation({
  args: { id: v.string(), fail: v.optional(v.boolean()) },
  handler: async (ctx, { id, fail }) => {
    await ctx.storage.delete(id);
    if (fail) throw new Error("rolled back");
    return null;
  },
});

export const list = query({
  args: {},
  handler: async (ctx) => (await ctx.db.system.query("_storage").collect())
    .map((d) => ({ id: d._id, size: d.size, sha256: d.sha256, contentType: d.contentType ?? null })),
});

export const addPhoto = mutation({
  args: { file: v.id("_storage"), caption: v.string() },
  handler: (ctx, a) => ctx.db.insert("photos", a),
});

export const actionUrl = action({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });

export const actionMeta = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ({ url: await ctx.storage.getUrl(id), meta: await ctx.storage.getMetadata(id) }),
});

export const actionDelete = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => { await ctx.storage.delete(id); return null; },
});
