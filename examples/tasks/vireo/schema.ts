import { defineSchema, defineTable, v } from "./_generated/server";

// examples/tasks: one table of tasks, read in creation order (the default order of a table).
export default defineSchema({
  tasks: defineTable({ text: v.string(), done: v.boolean() }),
});
