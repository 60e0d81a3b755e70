import { v } from "convex/values";
import { defineTable, docValidator } from "convex/server";
import { mutation, query } from "./_generated/server";

const all = {
  s: v.string(),
  n: v.number(),
  f: v.float64(),
  i: v.int64(),
  big: v.bigint(),
  b: v.boolean(),
  nul: v.null(),
  by: v.bytes(),
  a: v.any(),
  arr: v.array(v.number()),
  obj: v.object({ x: v.string(), y: v.optional(v.number()) }),
  rec: v.record(v.string(), v.number()),
  lit: v.literal("on"),
  un: v.union(v.literal(1), v.string()),
  id: v.optional(v.id("messages")),
  opt: v.optional(v.string()),
  nb: v.nullable(v.string()),
};

// a mutation whose args use every validator: the server checks them
export const echo = mutation({ args: all, handler: async (_ctx, args) => args });

// the validators' Convex shapes: kind, isOptional, json, per-kind fields and methods
export const shapes = query({
  args: {},
  handler: async () => {
    const o = v.object({ a: v.string(), b: v.number() });
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(all)) out[k] = [x.kind, x.isOptional, x.isConvexValidator];
    return {
      kinds: out,
      json: o.json,
      omit: Object.keys(o.omit("a").fields),
      pick: Object.keys(o.pick("a").fields),
      partial: Object.values(o.partial().fields).map((f: any) => f.isOptional),
      extend: Object.keys(o.extend({ c: v.boolean() }).fields),
      optionalMethod: v.string().optional().isOptional,
      tableName: v.id("users").tableName,
      element: v.array(v.string()).element.kind,
      record: [v.record(v.string(), v.int64()).key.kind, v.record(v.string(), v.int64()).value.kind],
      members: v.union(v.string(), v.null()).members.length,
      literal: v.literal("x").value,
      doc: Object.keys((docValidator("users", defineTable({ name: v.string() })) as any).fields),
    };
  },
});
