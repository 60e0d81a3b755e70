import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  users: defineTable({
    name: v.string(),
    email: v.optional(v.string()),
    profile: v.object({ bio: v.string(), age: v.number() }),
  }).index("by_name", ["name"]),
  messages: defineTable({
    author: v.id("users"),
    body: v.string(),
    likes: v.number(),
    kind: v.union(v.literal("text"), v.literal("image")),
    embedding: v.optional(v.array(v.float64())),
    seenAt: v.optional(v.commitTs()),
  })
    .index("by_author", ["author"])
    .index("by_kind_likes", ["kind", "likes"])
    .vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 4, filterFields: ["kind"] }),
});
