import { defineSchema, defineTable, v } from "./_generated/server";

// Fixture of tests/integration/search.test.mjs: a search index with two filter fields; `notes`
// gets its search index only when the test rewrites this file (backfill).
export default defineSchema({
  articles: defineTable({
    channel: v.string(),
    lang: v.optional(v.string()),
    body: v.string(),
  })
    .index("by_channel", ["channel"])
    .searchIndex("search_body", { searchField: "body", filterFields: ["channel", "lang"] }),
  notes: defineTable({ text: v.string() }),
});
