// convex 1.48's context: ctx.meta, db.table(), db.vars.commitTs, v.commitTs() (type checks only).
import { query, mutation, action } from "./_generated/server";
import { v } from "./_generated/server";
import type { Doc, Id } from "./_generated/dataModel";
import { assertType, type Equals } from "./_checks";
import { api } from "./_generated/api";

export const inQuery = query({
  args: { id: v.id("users") },
  handler: async (ctx, { id }) => {
    const fn = await ctx.meta.getFunctionMetadata();
    assertType<Equals<typeof fn.type, "query" | "mutation" | "action">>();
    const metrics = await ctx.meta.getTransactionMetrics();
    const ts: bigint = ctx.meta.getSnapshotTs();
    const user = await ctx.db.table("users").get(id);
    assertType<Equals<typeof user, Doc<"users"> | null>>();
    const messages = await ctx.db.table("messages").query().collect();
    const seen = messages[0]?.seenAt;
    assertType<Equals<Exclude<typeof seen, undefined>, Doc<"messages">["seenAt"] & {}>>();
    return { name: fn.name, left: metrics.documentsRead.remaining, ts: ts.toString(), user: user?.name };
  },
});

export const inMutation = mutation({
  args: { author: v.id("users") },
  handler: async (ctx, { author }): Promise<Id<"messages">> => {
    const deployment = await ctx.meta.getDeploymentMetadata();
    const placeholder = ctx.db.vars.commitTs;
    void placeholder;
    const messages = ctx.db.table("messages");
    const id = await messages.insert({ author, body: deployment.name, likes: 0, kind: "text" });
    const user = await ctx.runQuery(api.users.get, { id: author }, { transactionLimits: { documentsRead: 10 } });
    assertType<Equals<typeof user, { name: string; age: number } | null>>();
    await messages.patch(id, { likes: 1 });
    return id;
  },
});

export const inAction = action({
  args: {},
  handler: async (ctx): Promise<string> => (await ctx.meta.getFunctionMetadata()).visibility,
});
