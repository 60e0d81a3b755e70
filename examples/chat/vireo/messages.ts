import { query, mutation, v } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";

// A message as the page shows it: an image message gets its file's URL.
async function withUrl(ctx, m) {
  return m.image === undefined ? m : { ...m, url: await ctx.storage.getUrl(m.image) };
}

// The messages of one channel, oldest first.
export const list = query({
  args: { channel: v.string() },
  handler: async (ctx, args) => {
    return await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", args.channel))
      .collect();
  },
});

// One page of a channel's history, newest first (the page's "load older" walks back in time).
export const page = query({
  args: { channel: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { channel, paginationOpts }) => {
    const r = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .paginate(paginationOpts);
    return { ...r, page: await Promise.all(r.page.map((m) => withUrl(ctx, m))) };
  },
});

// The channel's messages whose text matches, best match first.
export const search = query({
  args: { channel: v.string(), text: v.string() },
  handler: async (ctx, { channel, text }) => {
    const found = await ctx.db
      .query("messages")
      .withSearchIndex("search_body", (q) => q.search("body", text).eq("channel", channel))
      .take(20);
    return await Promise.all(found.map((m) => withUrl(ctx, m)));
  },
});

// Where the page POSTs an image before sending the message that shows it.
export const generateUploadUrl = mutation({
  args: {},
  handler: async (ctx) => await ctx.storage.generateUploadUrl(),
});

export const send = mutation({
  args: {
    channel: v.string(),
    author: v.string(),
    body: v.string(),
    image: v.optional(v.id("_storage")),
  },
  handler: async (ctx, args) => {
    if (args.image !== undefined) {
      const file = await ctx.db.system.get(args.image);
      if (!file) throw new Error("the image was not uploaded");
      if (!file.contentType?.startsWith("image/"))
        throw new Error(`not an image: ${file.contentType ?? "no content type"}`);
    } else if (!args.body.trim()) {
      throw new Error("a message needs text or an image");
    }
    await ctx.db.insert("messages", args);
  },
});
