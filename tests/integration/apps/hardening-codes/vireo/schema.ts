import { defineSchema, defineTable, v } from "./_generated/server";

// Field and table names hold the words an error message used to be searched for.
export default defineSchema({
  docs: defineTable({ "schema not found invalid id too large reserved": v.any() }),
  schema_not_found: defineTable({ n: v.number() }),
});
