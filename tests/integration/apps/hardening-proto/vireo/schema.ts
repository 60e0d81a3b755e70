import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  things: defineTable({ x: v.any() }),
});
