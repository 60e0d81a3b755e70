// Fixture of tests/integration/convex-ctx.test.mjs: convex 1.48's function context.
import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  users: defineTable({ name: v.string() }),
  notes: defineTable({ text: v.string(), owner: v.optional(v.id("users")) }),
  // `at` is the commit timestamp of the mutation that wrote it (db.vars.commitTs)
  events: defineTable({ label: v.string(), at: v.commitTs() }).index("by_at", ["at"]),
  // rows for the nested calls' transactionLimits
  items: defineTable({ n: v.number() }),
  // what scheduled runs saw of ctx.meta.getRequestMetadata()
  requests: defineTable({ meta: v.any(), nested: v.optional(v.any()) }),
});
