import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/vector.test.mjs: a vector index with two filter fields; `items`
// holds vectors of every odd shape (not indexed); `notes` gets its vector index only when the
// test rewrites this file (backfill).
export default defineSchema({
  foods: defineTable({
    description: v.string(),
    cuisine: v.string(),
    tag: v.optional(v.string()),
    embedding: v.array(v.float64()),
  }).vectorIndex("by_embedding", {
    vectorField: "embedding",
    dimensions: 3,
    filterFields: ["cuisine", "tag"],
  }),
  items: defineTable({ name: v.string(), v: v.optional(v.any()) }).vectorIndex("by_v", {
    vectorField: "v",
    dimensions: 2,
  }),
  big: defineTable({ n: v.number(), group: v.number(), e: v.array(v.float64()) }).vectorIndex(
    "by_e",
    { vectorField: "e", dimensions: 64, filterFields: ["group"] },
  ),
  notes: defineTable({ text: v.string(), e: v.array(v.float64()) }),
});
