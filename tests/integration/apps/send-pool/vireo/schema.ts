import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/send-pool.test.mjs: notes of a channel in sequence.
export default defineSchema({
  notes: defineTable({ ch: v.string(), seq: v.number(), body: v.string() }).index("by_ch_seq", [
    "ch",
    "seq",
  ]),
});
