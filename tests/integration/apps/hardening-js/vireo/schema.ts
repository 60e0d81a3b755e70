import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  flags: defineTable({ name: v.string(), on: v.boolean() }).index("by_name", ["name"]),
  things: defineTable({ x: v.any() }),
});
