import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  events: defineTable({ kind: v.string(), detail: v.string() }),
});
