import { defineSchema, defineTable } from "./_generated/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({ channel: v.string(), n: v.number() }).index("by_channel", ["channel", "n"]),
  counters: defineTable({ name: v.string(), value: v.number() }).index("by_name", ["name"]),
});
