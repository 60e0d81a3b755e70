import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/paginate.test.mjs: items in lists, ordered by n.
export default defineSchema({
  items: defineTable({ list: v.string(), n: v.number(), tag: v.string() }).index("by_list_n", [
    "list",
    "n",
  ]),
  other: defineTable({ list: v.string(), n: v.number() }).index("by_list_n", ["list", "n"]),
});
