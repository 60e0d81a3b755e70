// The bench app's schema: `messages` (one row per write, read back by channel), `docs`
// (the mutations scenario's inserts, never read by a live query), `rows` (the paginate
// scenario's large table), `articles` (the search scenario's documents: a search index on
// `body` with the filter field `tag`) and `chunks` (the vector scenario's embeddings: a vector
// index of 768 dimensions with the filter field `tag`).
import { defineSchema, defineTable, v } from "./_generated/server";

export default defineSchema({
  messages: defineTable({ channel: v.string(), seq: v.number(), body: v.string() }).index(
    "by_channel_seq",
    ["channel", "seq"],
  ),
  docs: defineTable({ n: v.number(), body: v.string() }),
  rows: defineTable({ n: v.number(), pad: v.string() }),
  articles: defineTable({ body: v.string(), tag: v.string() }).searchIndex("search_body", {
    searchField: "body",
    filterFields: ["tag"],
  }),
  chunks: defineTable({ tag: v.string(), embedding: v.array(v.float64()) }).vectorIndex(
    "by_embedding",
    { vectorField: "embedding", dimensions: 768, filterFields: ["tag"] },
  ),
});
