import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  photos: defineTable({ file: v.id("_storage"), caption: v.string() }),
});
