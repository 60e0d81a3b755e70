import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/convex-returns.test.mjs.
export default defineSchema({
  items: defineTable({ group: v.string(), n: v.number() }).index("by_group", ["group"]),
});
