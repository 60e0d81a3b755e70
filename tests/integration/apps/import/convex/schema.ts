import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
    users: defineTable({ name: v.string(), age: v.optional(v.number()) }).index("by_name", ["name"]),
    messages: defineTable({
        author: v.id("users"),
        body: v.string(),
        count: v.optional(v.int64()),
        raw: v.optional(v.bytes()),
        file: v.optional(v.id("_storage")),
        replyTo: v.optional(v.id("messages")),
    }).index("by_author", ["author"]),
    rows: defineTable(v.any()),
});
