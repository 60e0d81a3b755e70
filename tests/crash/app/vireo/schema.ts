import { defineSchema, defineTable, v } from "./_generated/server";

// The crash suite's app (tests/crash/crash.mjs): one document per acknowledged write, and one
// counter per writer bumped in the same mutation (a torn batch would make them disagree).
export default defineSchema({
  writes: defineTable({ key: v.string(), writer: v.string() }).index("by_key", ["key"]),
  counters: defineTable({ writer: v.string(), n: v.number() }).index("by_writer", ["writer"]),
});
