// Fixture of tests/integration/convex-env.test.mjs: process.env at load and in every kind of
// function.
import { query, mutation, action, v } from "./_generated/server";
import settings from "./settings";

export const atLoad = query({
  args: {},
  handler: async () => settings.issuer ?? null,
});

export const get = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => process.env[name] ?? null,
});

export const all = query({
  args: {},
  handler: async () => ({ ...process.env }),
});

export const record = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const value = process.env[name] ?? "(unset)";
    await ctx.db.insert("seen", { value });
    return value;
  },
});

export const inAction = action({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => process.env[name] ?? null,
});

export const shape = query({
  args: {},
  handler: async () => {
    const out: Record<string, unknown> = {};
    out.processKeys = Object.keys(process);
    out.frozen = Object.isFrozen(process.env);
    try {
      (process.env as any).NEW_ONE = "x";
      out.assign = "allowed";
    } catch (e: any) {
      out.assign = e.constructor.name;
    }
    out.missing = process.env.NOT_SET_ANYWHERE === undefined;
    try {
      // a replacement lasts for this call only (as @convex-dev/workflow's environment does)
      (globalThis as any).process = {};
      out.replace = "allowed";
    } catch (e: any) {
      out.replace = e.constructor.name;
    }
    return out;
  },
});

export const leak = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => {
    console.log("the length of the value is", (process.env[name] ?? "").length);
    return null;
  },
});
