import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

// Every message with its author's name and its file's metadata: reads through the references,
// so an import whose ids were rewritten shows here whole.
export const messages = query({
    args: {},
    handler: async (ctx) => {
        const out = [];
        for (const m of await ctx.db.query("messages").order("asc").collect()) {
            const author = await ctx.db.get(m.author);
            const reply = m.replyTo ? await ctx.db.get(m.replyTo) : null;
            const file = m.file ? await ctx.db.system.get(m.file) : null;
            out.push({
                id: m._id,
                ct: m._creationTime,
                body: m.body,
                author: author?.name ?? null,
                replyTo: reply?.body ?? null,
                count: m.count === undefined ? null : String(m.count) + "n",
                raw: m.raw === undefined ? null : Array.from(new Uint8Array(m.raw)),
                file: file ? { size: file.size, contentType: file.contentType ?? null } : null,
                url: m.file ? await ctx.storage.getUrl(m.file) : null,
            });
        }
        return out;
    },
});

export const users = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("users").collect()).map((u) => ({ id: u._id, ct: u._creationTime, name: u.name, age: u.age ?? null })),
});

export const rows = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("rows").collect()).map(({ _id, _creationTime, ...rest }) => rest),
});

export const count = query({
    args: { table: v.union(v.literal("users"), v.literal("messages"), v.literal("rows")) },
    handler: async (ctx, { table }) => (await ctx.db.query(table).collect()).length,
});

export const addUser = mutation({
    args: { name: v.string() },
    handler: async (ctx, { name }) => ctx.db.insert("users", { name }),
});

// A user and a message of theirs in one transaction: an export must hold both or neither.
export const pair = mutation({
    args: { name: v.string() },
    handler: async (ctx, { name }) => {
        const author = await ctx.db.insert("users", { name });
        await ctx.db.insert("messages", { author, body: `by ${name}` });
    },
});
