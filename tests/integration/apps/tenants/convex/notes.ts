// tenants fixture: the same functions and table in every tenant (tests/integration/tenants.test.mjs)
import { v } from "convex/values";
import { query, mutation, action, internalMutation } from "./_generated/server";
import { internal, api } from "./_generated/api";

export const add = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert("notes", { text }) });
export const list = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).map((d) => d.text),
});
export const get = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => {
    const nid = ctx.db.normalizeId("notes", id);
    return nid ? await ctx.db.get(nid) : "not-normalized";
  },
});
export const page = query({
  args: { cursor: v.union(v.string(), v.null()), n: v.number() },
  handler: (ctx, { cursor, n }) => ctx.db.query("notes").paginate({ cursor, numItems: n }),
});
export const viaAction = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    await ctx.runMutation(api.notes.add, { text });
    return await ctx.runQuery(api.notes.list, {});
  },
});
export const env = query({ args: {}, handler: () => process.env.TENANT_VAR ?? null });
export const later = mutation({
  args: { text: v.string(), ms: v.number() },
  handler: (ctx, { text, ms }) => ctx.scheduler.runAfter(ms, internal.notes.addInternal, { text }),
});
export const addInternal = internalMutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert("notes", { text }) });
export const uploadUrl = mutation({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });
export const fileUrl = query({ args: { id: v.string() }, handler: (ctx, { id }) => ctx.storage.getUrl(id) });
export const whoami = query({
  args: {},
  handler: async (ctx) => {
    const id = await ctx.auth.getUserIdentity();
    return id ? { subject: id.subject, tenant: id.tenant ?? null } : null;
  },
});
export const slow = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return "done";
  },
});
// ctx.meta's deployment is the tenant
export const deployment = query({ args: {}, handler: (ctx) => ctx.meta.getDeploymentMetadata() });
export const deploymentInAction = action({ args: {}, handler: (ctx) => ctx.meta.getDeploymentMetadata() });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query("notes").collect()).length });
