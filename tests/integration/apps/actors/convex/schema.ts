import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
    log: defineTable({ room: v.string(), text: v.string() }).index("by_room", ["room"]),
});
