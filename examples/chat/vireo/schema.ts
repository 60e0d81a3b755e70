import { defineSchema, defineTable, v } from "./_generated/server";

export const schema = defineSchema({
  messages: defineTable({
    channel: v.string(),
    author: v.string(),
    body: v.string(),
  }).index("by_channel", ["channel"]),
});
