// ctx.storage.get / store in actions (tests/integration/storage-actions.test.mjs).
import { v } from "convex/values";
import { query, mutation, action } from "./_generated/server";
import { api } from "./_generated/api";

const opts = (sha256?: string) => (sha256 === undefined ? undefined : { sha256 });

export const storeText = action({
  args: { text: v.string(), contentType: v.optional(v.string()) },
  handler: (ctx, { text, contentType }) =>
    ctx.storage.store(new Blob([text], contentType === undefined ? {} : { type: contentType })),
});

export const storeBytes = action({
  args: { data: v.bytes(), contentType: v.optional(v.string()), sha256: v.optional(v.string()) },
  handler: (ctx, { data, contentType, sha256 }) =>
    ctx.storage.store(new Blob([data], { type: contentType ?? "" }), opts(sha256)),
});

// a Blob of `size` bytes (i % 251), made in the action
export const storeSize = action({
  args: { size: v.number() },
  handler: (ctx, { size }) => {
    const u8 = new Uint8Array(size);
    for (let i = 0; i < size; i++) u8[i] = i % 251;
    return ctx.storage.store(new Blob([u8]));
  },
});

// a slice of a Blob: its bytes start inside a larger buffer
export const storeSlice = action({
  args: { data: v.bytes(), from: v.number(), to: v.number() },
  handler: (ctx, { data, from, to }) =>
    ctx.storage.store(new Blob([data], { type: "application/x-whole" }).slice(from, to, "application/x-part")),
});

export const storeMany = action({
  args: { texts: v.array(v.string()) },
  handler: (ctx, { texts }) => Promise.all(texts.map((t) => ctx.storage.store(new Blob([t])))),
});

export const storeNotBlob = action({
  args: {},
  handler: (ctx) => ctx.storage.store("just a string" as any),
});

// stores a file, then fails: the file stays (storage writes in actions are not transactional)
export const storeThenFail = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const id = await ctx.storage.store(new Blob([text], { type: "text/plain" }));
    throw new Error(`failed after storing ${id}`);
  },
});

export const get = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    const blob = await ctx.storage.get(id as any);
    if (blob === null) return null;
    return { bytes: await blob.arrayBuffer(), type: blob.type, size: blob.size, isBlob: blob instanceof Blob };
  },
});

export const getText = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    const blob = await ctx.storage.get(id as any);
    return blob === null ? null : await blob.text();
  },
});

// the size and SHA-256 (base64) of a file read with get, without returning its bytes
export const getDigest = action({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    const blob = await ctx.storage.get(id as any);
    if (blob === null) return null;
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    return { size: blob.size, sha256: btoa(String.fromCharCode(...d)) };
  },
});

// store, then read back in the same action; getUrl and getMetadata of it
export const roundTrip = action({
  args: { data: v.bytes(), contentType: v.string() },
  handler: async (ctx, { data, contentType }) => {
    const id = await ctx.storage.store(new Blob([data], { type: contentType }));
    const blob = await ctx.storage.get(id);
    const back = new Uint8Array(await blob!.arrayBuffer());
    const want = new Uint8Array(data);
    const same = back.length === want.length && back.every((b, i) => b === want[i]);
    const url = await ctx.storage.getUrl(id);
    const meta = await ctx.storage.getMetadata(id);
    const noteId = await ctx.runMutation(api.files.addNote, { text: "with a file", file: id });
    return { id, same, type: blob!.type, url, meta, noteId };
  },
});

export const addNote = mutation({
  args: { text: v.string(), file: v.optional(v.id("_storage")) },
  handler: (ctx, a) => ctx.db.insert("notes", a),
});

export const remove = mutation({
  args: { id: v.id("_storage") },
  handler: async (ctx, { id }) => {
    await ctx.storage.delete(id);
    return null;
  },
});

export const list = query({
  args: {},
  handler: async (ctx) => (await ctx.db.system.query("_storage").collect())
    .map((d) => ({ id: d._id, size: d.size, sha256: d.sha256, contentType: d.contentType ?? null })),
});

export const uploadUrl = mutation({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });

// deletes a file and writes a note in one transaction (with --test-fail-commit notes its batch is lost)
export const removeAndNote = mutation({
  args: { id: v.id("_storage") },
  handler: async (ctx, { id }) => {
    await ctx.storage.delete(id);
    await ctx.db.insert("notes", { text: "removed a file" });
    return null;
  },
});
