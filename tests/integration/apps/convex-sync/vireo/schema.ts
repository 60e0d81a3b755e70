import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/convex-sync.test.mjs (Convex's sync protocol, the real client).
export default defineSchema({
  messages: defineTable({ channel: v.string(), author: v.string(), body: v.string() }).index(
    "by_channel",
    ["channel"],
  ),
  counters: defineTable({ name: v.string(), value: v.number() }).index("by_name", ["name"]),
  blobs: defineTable({ group: v.string(), data: v.string() }).index("by_group", ["group"]),
  values: defineTable({ key: v.string(), i: v.int64(), b: v.bytes() }).index("by_key", ["key"]),
});
