import { query, v } from "./_generated/server";

// A default export: Convex names it "greeting" (or "greeting:default").
export default query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => "hello " + name,
});
