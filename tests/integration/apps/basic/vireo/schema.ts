import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  items: defineTable({ name: v.string(), n: v.number(), tag: v.string() })
    .index("by_n", ["n"])
    .index("by_tag_n", ["tag", "n"]),
  notes: defineTable({ text: v.string() }),
  blobs: defineTable({ big: v.int64(), data: v.bytes() }),
  labels: defineTable({ name: v.string(), label: v.optional(v.union(v.string(), v.null())) })
    .index("by_label", ["label"]),
});
