import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  notes: defineTable({ text: v.string(), file: v.optional(v.id("_storage")) }),
});
