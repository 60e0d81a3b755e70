import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  items: defineTable({ tag: v.string(), seq: v.number(), pad: v.string() }).index("by_tag", ["tag", "seq"]),
});
