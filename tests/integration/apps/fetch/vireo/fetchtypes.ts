// Fixture for tests/integration/fetch.test.mjs: the Request/Response/Headers/AbortController
// cases of _lib/types.mjs, run in an action and in a query (they need no network).
import { query, action, v } from "./_generated/server";
import { runTypes } from "./_lib/types.mjs";

export const inAction = action({
  args: { name: v.string(), input: v.optional(v.any()) },
  handler: async (_ctx, { name, input }) => runTypes(name, input),
});

export const inQuery = query({
  args: { name: v.string(), input: v.optional(v.any()) },
  handler: async (_ctx, { name, input }) => runTypes(name, input),
});
