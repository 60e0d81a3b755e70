import { query, v } from "./_generated/server";

// Edited by the live-reload test while `vireo dev` runs.
export const greeting = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => "hello " + name,
});
