// Fixture of tests/integration/convex-ctx.test.mjs: db.vars.commitTs and v.commitTs() (convex 1.48).
import { query, mutation, v } from "./_generated/server";
import { CommitTsPlaceholder, convexToJson, jsonToConvex } from "convex/values";

export const add = mutation({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    const snapshot = ctx.meta.getSnapshotTs();
    const id = await ctx.db.insert("events", { label, at: ctx.db.vars.commitTs });
    const back = (await ctx.db.get("events", id))!.at;
    return { id, snapshot: snapshot.toString(), back: String(back), backType: typeof back };
  },
});
// several in one mutation share its commit timestamp; a patch takes it too
export const addTwoAndTouch = mutation({
  args: { touch: v.id("events") },
  handler: async (ctx, { touch }) => {
    await ctx.db.insert("events", { label: "x1", at: ctx.db.vars.commitTs });
    await ctx.db.insert("events", { label: "x2", at: ctx.db.vars.commitTs });
    await ctx.db.patch("events", touch, { at: ctx.db.vars.commitTs });
    return null;
  },
});
export const list = query({
  args: {},
  handler: async (ctx) =>
    (await ctx.db.query("events").withIndex("by_at").collect()).map((e) => [e.label, e.at.toString()]),
});
export const misuse = mutation({
  args: { how: v.string() },
  handler: async (ctx, { how }): Promise<any> => {
    const p = ctx.db.vars.commitTs;
    if (how === "return") return { at: p };
    if (how === "number") return Number(p);
    if (how === "wrongType") return await ctx.db.insert("events", { label: "bad", at: "soon" as any });
    if (how === "schedule") return await ctx.scheduler.runAfter(0, "commit:list" as any, { p } as any);
    return null;
  },
});
export const values = query({
  args: { at: v.commitTs() },
  handler: async (_ctx, { at }) => {
    const p = jsonToConvex({ $commitTs: null });
    return {
      at: at.toString(),
      json: JSON.stringify(convexToJson({ at: p as any })),
      isPlaceholder: p instanceof CommitTsPlaceholder,
      text: String(p),
      kind: v.commitTs().kind,
      validator: v.commitTs().json,
    };
  },
});
