import { query, mutation, action, v, ConvexError } from "./_generated/server";
import { paginationOptsValidator } from "convex/server";
import { api } from "./_generated/api";

// examples/tasks' functions: the list (whole and paginated), one task, counts, create / toggle /
// remove, and an action. `create` refuses an empty text and any text starting with "fail" — after
// inserting, so the page can show an optimistic row rolled back (and the server's write undone).

// Every task, oldest first.
export const list = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("tasks").collect(),
});

// One page of the tasks, oldest first (the page's "Load more").
export const page = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => await ctx.db.query("tasks").paginate(paginationOpts),
});

// One task, or null once it was removed.
export const get = query({
  args: { id: v.id("tasks") },
  handler: async (ctx, { id }) => await ctx.db.get(id),
});

export const stats = query({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.query("tasks").collect();
    return { total: all.length, done: all.filter((t) => t.done).length };
  },
});

export const create = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    const id = await ctx.db.insert("tasks", { text: text.trim(), done: false });
    if (text.trim() === "") throw new ConvexError("a task needs a text");
    if (/^fail/i.test(text.trim())) throw new ConvexError(`refused: "${text.trim()}"`);
    return id;
  },
});

export const toggle = mutation({
  args: { id: v.id("tasks") },
  handler: async (ctx, { id }) => {
    const t = await ctx.db.get(id);
    if (t === null) throw new ConvexError("no such task");
    await ctx.db.patch(id, { done: !t.done });
  },
});

export const remove = mutation({
  args: { id: v.id("tasks") },
  handler: async (ctx, { id }) => {
    await ctx.db.delete(id);
  },
});

// An action (it could call an outside service): a one-line summary of the list.
export const summarize = action({
  args: {},
  handler: async (ctx) => {
    const { total, done } = await ctx.runQuery(api.tasks.stats, {});
    return `${done} of ${total} task${total === 1 ? "" : "s"} done`;
  },
});
