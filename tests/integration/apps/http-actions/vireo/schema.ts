import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  notes: defineTable({ text: v.string() }),
});
