import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/client/paginated.test.mjs: items in lists ordered by n, and per-list settings
// that change a list's query (its lower bound, a cursor the query itself damages).
export default defineSchema({
  items: defineTable({ list: v.string(), n: v.number() }).index("by_list_n", ["list", "n"]),
  settings: defineTable({ list: v.string(), lo: v.number(), tamper: v.boolean() }).index("by_list", [
    "list",
  ]),
});
