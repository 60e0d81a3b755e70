import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  runs: defineTable({ key: v.string(), n: v.number() }).index("by_key", ["key"]),
});
