// A nested module: its functions are `admin/users:<name>`. It uses the Convex CLI's generated
// _generated/server.js explicitly (query = queryGeneric from "convex/server").
import { v } from "convex/values";
import { query, mutation } from "../_generated/server.js";
import { api } from "../_generated/api.js";

export const add = mutation({
  args: { name: v.string(), role: v.union(v.literal("admin"), v.literal("member")) },
  handler: async (ctx, args) => ctx.db.insert("users", args),
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("users").collect()).length,
});

export default query({ args: {}, handler: async () => "default export" });

// references built from the generated `api` (anyApi), as a Convex app passes them around
export const refName = query({
  args: {},
  handler: async () => [
    (api.admin.users.count as any)[Symbol.for("functionName")],
    (api.admin.users.default as any)[Symbol.for("functionName")],
  ],
});
