import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  messages: defineTable({ author: v.string(), body: v.string() }),
});
