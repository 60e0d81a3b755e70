import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
    entries: defineTable({ owner: v.string(), amount: v.number() }).index("by_owner", ["owner"]),
    // the same name as a table of the app: each has its own
    notes: defineTable({ text: v.string(), entry: v.optional(v.id("entries")) }),
    held: defineTable({ job: v.id("_scheduled_functions") }),
});
