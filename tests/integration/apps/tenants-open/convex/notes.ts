// tenants-open fixture (tests/integration/tenants-open-async.test.mjs): an app whose load costs
// SLOW_OPEN_MS of CPU (.env.local) in every tenant, so that opening a tenant takes long enough
// to see; a tenant named "broken-…" throws at load (its URL carries its name).
import { v } from "convex/values";
import { query, mutation } from "./_generated/server";

const site = process.env.CONVEX_SITE_URL ?? "";
if (/\/t\/broken-[^/]*$/.test(site)) throw new Error("this tenant's app throws at load");
const spin = Number(process.env.SLOW_OPEN_MS ?? 0);
const until = Date.now() + spin;
let spun = 0;
while (Date.now() < until) spun++;

export const add = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert("notes", { text }) });
export const list = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).map((d) => d.text),
});
export const ping = query({ args: {}, handler: () => spun >= 0 });
export const uploadUrl = mutation({ args: {}, handler: (ctx) => ctx.storage.generateUploadUrl() });
