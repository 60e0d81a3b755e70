import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  things: defineTable({ x: v.any() }),
  // the tests run a server with `--test-fail-commit failbox`: a batch inserting here fails
  failbox: defineTable({ n: v.number() }),
});
