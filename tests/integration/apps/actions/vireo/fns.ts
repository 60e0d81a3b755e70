// Fixture for tests/integration/hardening-actions.test.mjs: actions that loop, wait on runaway
// queries, write and read back, and call each other.
import { query, mutation, action, internalAction, v, VireoError, ConvexError } from "./_generated/server";
import { api, internal } from "./_generated/api";

export const ping = query({ args: {}, handler: async () => "pong" });

export const addNote = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => await ctx.db.insert("notes", { text }),
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).length,
});

export const listNotes = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("notes").collect()).map((d) => d.text),
});

// hardening-durability's WAL test: a note's length and first characters, without its text
export const noteHead = query({
  args: { id: v.id("notes") },
  handler: async (ctx, { id }) => {
    const d = await ctx.db.get(id);
    return d && `${d.text.length}:${d.text.slice(0, 8)}`;
  },
});

export const spinQuery = query({
  args: {},
  handler: async () => {
    let x = 0;
    for (;;) x++;
  },
});

export const failing = mutation({
  args: {},
  handler: async () => {
    throw new VireoError({ why: "nested" });
  },
});

// CPU-bound: runs until its time limit (or forever on a server without one).
export const spin = action({
  args: {},
  handler: async () => {
    let x = 0;
    for (;;) x++;
  },
});

export const spinEmpty = action({
  args: {},
  handler: async () => {
    while (true) {}
  },
});

// Runaways whose CPU time is spread over awaits (each resumption a VM entry of its own), with and
// without a timer of their own pending; and an action awaiting a promise that never settles.
function work(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
  return x;
}
export const spinAwait = action({
  args: {},
  handler: async () => {
    for (;;) {
      work(20000);
      await null;
    }
  },
});

export const nullsAwait = action({
  args: {},
  handler: async () => {
    for (;;) await null;
  },
});

export const spinAwaitTimer = action({
  args: {},
  handler: async () => {
    setTimeout(() => {}, 60000);
    await new Promise((r) => setTimeout(r, 5));
    for (;;) {
      work(20000);
      await Promise.resolve();
    }
  },
});

export const neverSettles = action({
  args: {},
  handler: async () => {
    await new Promise(() => {});
  },
});

// Many awaits that end: not a runaway.
export const manyAwaits = action({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      s += i;
      await null;
    }
    return s;
  },
});

export const busy = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    const end = Date.now() + ms;
    let x = 0;
    while (Date.now() < end) x++;
    return ms;
  },
});

export const queryRunaway = action({
  args: {},
  handler: async (ctx) => {
    const start = Date.now();
    try {
      await ctx.runQuery(api.fns.spinQuery, {});
      return { ok: true };
    } catch (e: any) {
      return { ok: false, code: e.code, message: e.message, ms: Date.now() - start };
    }
  },
});

export const queryRunawayUncaught = action({
  args: {},
  handler: async (ctx) => await ctx.runQuery(api.fns.spinQuery, {}),
});

export const writeRead = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const id = await ctx.runMutation(api.fns.addNote, { text });
    const notes = await ctx.runQuery(api.fns.listNotes, {});
    return { id, seen: notes.includes(text), n: notes.length };
  },
});

export const writeMany = action({
  args: { prefix: v.string(), n: v.number() },
  handler: async (ctx, { prefix, n }) => {
    for (let i = 0; i < n; i++) await ctx.runMutation(api.fns.addNote, { text: `${prefix}${i}` });
    return await ctx.runQuery(api.fns.count, {});
  },
});

export const nestedErrors = action({
  args: {},
  handler: async (ctx) => {
    const out: any = {};
    try {
      await ctx.runMutation(api.fns.failing, {});
    } catch (e: any) {
      out.vireo = { isVireo: e instanceof VireoError, data: e.data, code: e.code };
      out.convex = { isConvex: e instanceof ConvexError, name: e.name,
                     identified: e[Symbol.for("ConvexError")] === true };
    }
    try {
      await ctx.runQuery(api.fns.addNote as any, { text: "x" });
    } catch (e: any) {
      out.kind = e.message;
    }
    try {
      await ctx.runMutation(api.fns.addNote, { text: 5 } as any);
    } catch (e: any) {
      out.args = { code: e.code, message: e.message };
    }
    try {
      await ctx.runQuery("fns:nope" as any, {});
    } catch (e: any) {
      out.missing = e.code;
    }
    return out;
  },
});

export const inner = internalAction({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    await ctx.runMutation(api.fns.addNote, { text: `inner${n}` });
    return n + 1;
  },
});

export const outer = action({
  args: { n: v.number() },
  handler: async (ctx, { n }) => await ctx.runAction(internal.fns.inner, { n }),
});

export const version = action({ args: {}, handler: async () => "v1" });

export const slowVersion = action({
  args: { ms: v.number() },
  handler: async (_ctx, { ms }) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
    return "v1";
  },
});
