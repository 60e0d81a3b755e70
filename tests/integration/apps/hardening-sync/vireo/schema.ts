import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/hardening-sync.test.mjs and tests/client/hardening-sync.test.mjs.
export default defineSchema({
  counters: defineTable({ name: v.string(), value: v.number() }).index("by_name", ["name"]),
});
