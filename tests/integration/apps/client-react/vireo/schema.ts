import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/client/react-hooks.test.mjs: tasks in lists, ordered by creation.
export default defineSchema({
  tasks: defineTable({ list: v.string(), text: v.string() }).index("by_list", ["list"]),
});
