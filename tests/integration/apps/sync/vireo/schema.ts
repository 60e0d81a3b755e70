import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of the reactive-sync suites (tests/integration/sync*.test.mjs).
export default defineSchema({
  messages: defineTable({ channel: v.string(), author: v.string(), body: v.string() }).index(
    "by_channel",
    ["channel"],
  ),
  counters: defineTable({ name: v.string(), value: v.number() }).index("by_name", ["name"]),
  points: defineTable({ x: v.number(), tag: v.string() }).index("by_x", ["x"]),
  blobs: defineTable({ group: v.string(), data: v.string() }).index("by_group", ["group"]),
});
