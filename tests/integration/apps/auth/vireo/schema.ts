import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
    notes: defineTable({ who: v.union(v.string(), v.null()) }),
    seen: defineTable({ who: v.union(v.string(), v.null()) }),
});
