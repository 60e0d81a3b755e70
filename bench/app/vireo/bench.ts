// The bench app's functions. `latest` is the live query every push scenario subscribes to: the
// newest message of one channel through an index, so its read set is that channel alone and a
// write to another channel must not re-run it. `send` writes one message; `insert` one document.
import { query, mutation, internalMutation, action, v } from "./_generated/server";
import { internal } from "./_generated/api";
import { paginationOptsValidator } from "convex/server";

export const latest = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_channel_seq", (q) => q.eq("channel", channel))
      .order("desc")
      .first(),
});

export const send = mutation({
  args: { channel: v.string(), seq: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("messages", args);
    return null;
  },
});

export const insert = mutation({
  args: { n: v.number(), body: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("docs", args);
    return null;
  },
});

// The scheduler scenario (bench/scheduler.mjs): `scheduleJobs` schedules n runs of `job`, spread
// evenly over spreadMs from `at`; `lateness` reads back what `_scheduled_functions` recorded
// (completedTime - scheduledTime) for the finished runs scheduled at or after `since`.
export const job = internalMutation({
  args: { n: v.number() },
  handler: async () => null,
});

export const scheduleJobs = mutation({
  args: { n: v.number(), at: v.number(), spreadMs: v.number() },
  handler: async (ctx, { n, at, spreadMs }) => {
    for (let i = 0; i < n; i++)
      await ctx.scheduler.runAt(at + (spreadMs * i) / n, internal.bench.job, { n: i });
    return null;
  },
});

export const lateness = query({
  args: { since: v.number() },
  handler: async (ctx, { since }) => {
    const out: number[] = [];
    for await (const j of ctx.db.system.query("_scheduled_functions"))
      if (j.scheduledTime >= since && j.state.kind === "success" && j.completedTime !== undefined)
        out.push(j.completedTime - j.scheduledTime);
    return out;
  },
});

// The paginate scenario (bench/paginate.mjs): `seedRows` inserts rows start .. start+n-1 (one
// mutation per 1,000), `page` reads one page of the whole table in creation order.
export const seedRows = mutation({
  args: { start: v.number(), n: v.number() },
  handler: async (ctx, { start, n }) => {
    for (let i = 0; i < n; i++)
      await ctx.db.insert("rows", { n: start + i, pad: "row-payload-0123456789abcdef" });
    return null;
  },
});

export const page = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => await ctx.db.query("rows").paginate(paginationOpts),
});

// The search scenario (bench/search.mjs): `seedArticles` inserts the given documents, `addArticle`
// one, `search` the 10 most relevant documents of one tag for a text.
export const seedArticles = mutation({
  args: { docs: v.array(v.object({ body: v.string(), tag: v.string() })) },
  handler: async (ctx, { docs }) => {
    for (const d of docs) await ctx.db.insert("articles", d);
    return null;
  },
});

export const addArticle = mutation({
  args: { body: v.string(), tag: v.string() },
  handler: async (ctx, args) => {
    await ctx.db.insert("articles", args);
    return null;
  },
});

export const search = query({
  args: { text: v.string(), tag: v.string() },
  handler: async (ctx, { text, tag }) =>
    await ctx.db
      .query("articles")
      .withSearchIndex("search_body", (q) => q.search("body", text).eq("tag", tag))
      .take(10),
});

// The vector scenario (bench/vector.mjs): `seedChunks` inserts the given embeddings,
// `vectorSearch` finds the 10 nearest (of one tag, when given).
export const seedChunks = mutation({
  args: { docs: v.array(v.object({ tag: v.string(), embedding: v.array(v.float64()) })) },
  handler: async (ctx, { docs }) => {
    for (const d of docs) await ctx.db.insert("chunks", d);
    return null;
  },
});

export const vectorSearch = action({
  args: { vector: v.array(v.float64()), tag: v.optional(v.string()) },
  handler: async (ctx, { vector, tag }) =>
    await ctx.vectorSearch("chunks", "by_embedding", {
      vector,
      limit: 10,
      filter: tag === undefined ? undefined : (q) => q.eq("tag", tag),
    }),
});

/* the `auth` scenario: the caller's subject, or null */
export const whoami = query({
  args: {},
  handler: async (ctx) => (await ctx.auth.getUserIdentity())?.subject ?? null,
});
