import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    author: v.string(),
    body: v.string(),
    tags: v.optional(v.array(v.string())),
  })
    .index("by_author", ["author"])
    .searchIndex("search_body", { searchField: "body", filterFields: ["author"] }),
  users: defineTable({
    name: v.string(),
    role: v.union(v.literal("admin"), v.literal("member")),
    embedding: v.optional(v.array(v.float64())),
  }).vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 2 }),
});
