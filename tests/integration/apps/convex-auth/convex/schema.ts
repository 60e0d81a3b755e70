import { defineSchema, defineTable } from "convex/server";
import { authTables } from "@convex-dev/auth/server";
import { v } from "convex/values";

export default defineSchema({
  ...authTables,
  notes: defineTable({ userId: v.id("users"), text: v.string() }).index("by_user", ["userId"]),
});
