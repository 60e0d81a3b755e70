import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  counters: defineTable({ name: v.string(), n: v.number() }).index("by_name", ["name"]),
});
