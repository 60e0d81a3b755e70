// The bench app's schema: `messages` (one row per write, read back by channel) and `docs`
// (the mutations scenario's inserts, never read by a live query).
import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  messages: defineTable({ channel: v.string(), seq: v.number(), body: v.string() }).index(
    "by_channel_seq",
    ["channel", "seq"],
  ),
  docs: defineTable({ n: v.number(), body: v.string() }),
});
