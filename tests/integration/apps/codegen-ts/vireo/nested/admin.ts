import { action, internalMutation, v } from "../_generated/server";
import { api, internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { FunctionArgs, FunctionReturnType, Infer } from "../_generated/vireo";
import { assertType, type Equals } from "../_checks";

export const wipe = internalMutation({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    await ctx.db.delete(id);
  },
});

// An action that calls the others through typed references.
export const seed = action({
  args: { name: v.string() },
  handler: async (ctx, { name }): Promise<{ id: Id<"messages">; listed: number; total: number }> => {
    const author = await ctx.runMutation(api.users.create, { name, bio: "hi", age: 30 });
    const id = await ctx.runMutation(api.messages.send, { author, body: "hello " + name });
    const listed = await ctx.runQuery(api.messages.list, { limit: 10 });
    const total: number = await ctx.runQuery(internal.messages.count, {});
    return { id, listed: listed.length, total };
  },
});

// The references are typed with each function's arguments and result.
assertType<Equals<FunctionArgs<typeof api.messages.send>, { author: Id<"users">; body: string; kind?: "text" }>>();
assertType<Equals<FunctionReturnType<typeof api.messages.send>, Id<"messages">>>();
assertType<Equals<FunctionReturnType<typeof api.messages.list>, { body: string; likes: number }[]>>();
assertType<Equals<FunctionReturnType<typeof api.users.get>, { name: string; age: number } | null>>();
assertType<Equals<FunctionReturnType<typeof internal.messages.count>, number>>();
assertType<Equals<(typeof api.nested.admin.seed)["_type"], "action">>();
assertType<Equals<(typeof internal.nested.admin.wipe)["_visibility"], "internal">>();
// internal functions are not in `api`, public ones not in `internal`
assertType<Equals<"count" extends keyof typeof api.messages ? true : false, false>>();
assertType<Equals<"list" extends keyof typeof internal.messages ? true : false, false>>();
// Id<"users"> is a string, but a plain string is not an Id
const asString: string = null as unknown as Id<"users">;
assertType<Equals<string extends Id<"users"> ? true : false, false>>();
void asString;

// Infer<> of a validator (Vireo's, or the real convex/values' in the test's variant)
const note = v.object({ body: v.string(), n: v.optional(v.int64()), tags: v.array(v.union(v.literal("a"), v.null())) });
assertType<Equals<Infer<typeof note>, { body: string; n?: bigint; tags: ("a" | null)[] }>>();
