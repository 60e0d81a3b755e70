import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/convex-sync-logs.test.mjs (console lines of live queries over
// Convex's sync protocol).
export default defineSchema({
  items: defineTable({ list: v.string(), n: v.number() }).index("by_list", ["list"]),
});
