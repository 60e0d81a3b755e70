// Fixture of tests/integration/convex-ctx.test.mjs: the table-first forms of ctx.db (convex 1.31)
// and db.table(name) (convex 1.48), with an id checked against the table it is given with.
import { query, mutation, internalMutation, v } from "./_generated/server";
import { internal } from "./_generated/api";

export const seed = mutation({
  args: {},
  handler: async (ctx) => {
    const user = await ctx.db.insert("users", { name: "ann" });
    const note = await ctx.db.insert("notes", { text: "first", owner: user });
    const job = await ctx.scheduler.runAfter(3600_000, internal.tables.later, {});
    return { user, note, job };
  },
});
export const later = internalMutation({ args: {}, handler: async () => null });

// one db call in the form asked for, over any ids the test gives (v.string(): unchecked)
export const get = query({
  args: { table: v.optional(v.any()), id: v.string(), system: v.optional(v.boolean()) },
  handler: async (ctx, { table, id, system }) => {
    const db: any = system ? ctx.db.system : ctx.db;
    return table === undefined ? await db.get(id) : await db.get(table, id);
  },
});
export const write = mutation({
  args: { op: v.string(), table: v.string(), id: v.string() },
  handler: async (ctx, { op, table, id }) => {
    const db: any = ctx.db;
    if (op === "patch") await db.patch(table, id, { text: "patched" });
    else if (op === "replace") await db.replace(table, id, { text: "replaced" });
    else await db.delete(table, id);
    return op === "delete" ? null : (await db.get(id)).text;
  },
});

// db.table(name): every method of the table's view
export const viaTable = mutation({
  args: { user: v.string() },
  handler: async (ctx, { user }) => {
    const notes = ctx.db.table("notes");
    const id = await notes.insert({ text: "by table" });
    await notes.patch(id, { text: "patched by table" });
    const patched = (await notes.get(id))!.text;
    await notes.replace(id, { text: "replaced by table" });
    const all = (await notes.query().collect()).map((n) => n.text).sort();
    await notes.delete(id);
    let refused = "";
    try {
      await notes.get(user as any);
    } catch (e: any) {
      refused = e.message;
    }
    return { patched, all, gone: await notes.get(id), refused, tableName: notes.tableName };
  },
});
export const readTable = query({
  args: { job: v.string() },
  handler: async (ctx, { job }) => {
    const jobs = ctx.db.system.table("_scheduled_functions");
    return {
      users: (await ctx.db.table("users").query().collect()).map((u) => u.name),
      job: (await jobs.get(job as any))?.name ?? null,
      jobs: (await jobs.query().collect()).length,
      writable: typeof (ctx.db.table("users") as any).insert,
    };
  },
});

// a document read, changed and written back whole, system fields included (as
// @convex-dev/migrations writes its state); `other` puts another document's _id in the value
export const roundTrip = mutation({
  args: { id: v.string(), other: v.optional(v.string()), op: v.string() },
  handler: async (ctx, { id, other, op }) => {
    const db: any = ctx.db;
    const doc = await db.get(id);
    const value = { ...doc, text: `${op} round trip`, ...(other ? { _id: other } : {}) };
    if (op === "patch") await db.patch("notes", id, value);
    else await db.replace(id, value);
    const after = await db.get(id);
    return { text: after.text, sameCreation: after._creationTime === doc._creationTime };
  },
});
