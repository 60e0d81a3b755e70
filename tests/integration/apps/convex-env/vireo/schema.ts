import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/convex-env.test.mjs.
export default defineSchema({
  seen: defineTable({ value: v.string() }),
});
