import { query, mutation, v } from "./_generated/server";

// The newest note of a channel: every subscriber of one channel gets the same result.
export const latest = query({
  args: { ch: v.string() },
  handler: async (ctx, { ch }) =>
    await ctx.db
      .query("notes")
      .withIndex("by_ch_seq", (q) => q.eq("ch", ch))
      .order("desc")
      .first(),
});

// One write: note `seq` on channel "all" and, with big > 0, a note of `big` bytes on "big"
// (its text depends on seq, so a byte out of place shows).
export const put = mutation({
  args: { seq: v.number(), big: v.number() },
  handler: async (ctx, { seq, big }) => {
    await ctx.db.insert("notes", { ch: "all", seq, body: `note ${seq}` });
    if (big > 0) {
      let body = "";
      for (let i = 0; body.length < big; i++) body += `${seq}:${i};`;
      await ctx.db.insert("notes", { ch: "big", seq, body: body.slice(0, big) });
    }
    return null;
  },
});
