// Its own _generated/ files, which vireo dev and vireo build write for a local component as
// Convex's codegen does
import { query, mutation, action, internalQuery, internalMutation } from "./_generated/server";
import { api, components } from "./_generated/api";
import { createFunctionHandle } from "convex/server";
import { v } from "convex/values";

export const add = mutation({
    args: { owner: v.string(), amount: v.number() },
    returns: v.id("entries"),
    handler: async (ctx, { owner, amount }) => {
        const id = await ctx.db.insert("entries", { owner, amount });
        await ctx.db.insert("notes", { text: `added ${amount} for ${owner}`, entry: id });
        await ctx.runMutation(components.shardedCounter.public.add, { name: owner, count: amount });
        return id;
    },
});

export const list = query({
    args: { owner: v.string() },
    handler: async (ctx, { owner }) =>
        (await ctx.db.query("entries").withIndex("by_owner", (q) => q.eq("owner", owner)).collect())
            .map((e) => e.amount),
});

export const total = query({
    args: { owner: v.string() },
    handler: async (ctx, { owner }) =>
        await ctx.runQuery(components.shardedCounter.public.count, { name: owner }),
});

export const get = query({
    args: { id: v.id("entries") },
    handler: async (ctx, { id }) => {
        const d = await ctx.db.get(id);
        const t = await ctx.db.get("entries", id);
        return d && t ? { owner: d.owner, amount: t.amount } : null;
    },
});

export const getAny = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => (await ctx.db.get(id)) === null ? "null" : "found",
});

export const patchAny = mutation({
    args: { id: v.string() },
    handler: async (ctx, { id }) => { await ctx.db.patch(id, { text: "x" }); },
});

export const notes = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("notes").collect()).map((n) => n.text),
});

export const secret = internalQuery({ args: {}, handler: async () => "secret" });

// its own functions, by api and by "module:function"
export const viaApi = query({
    args: {},
    handler: async (ctx) => [await ctx.runQuery(api.entries.secret, {}),
                             await ctx.runQuery("entries:secret" as any, {})],
});

export const whoAmI = query({
    args: {},
    handler: async (ctx) => ({
        identity: await ctx.auth.getUserIdentity(),
        meta: await ctx.meta.getFunctionMetadata(),
    }),
});

export const fail = mutation({
    args: { owner: v.string() },
    handler: async (ctx, { owner }) => {
        await ctx.db.insert("entries", { owner, amount: 1000 });
        throw new Error("ledger refuses");
    },
});

export const badTable = query({
    args: { table: v.string() },
    handler: async (ctx, { table }) => await ctx.db.query(table as any).collect(),
});

export const sum = action({
    args: { owner: v.string() },
    handler: async (ctx, { owner }): Promise<number> => {
        const amounts: number[] = await ctx.runQuery(api.entries.list, { owner });
        await ctx.runMutation(api.entries.add, { owner, amount: 1 });
        return amounts.reduce((a, b) => a + b, 0);
    },
});

// the scheduler inside a component runs the component's own function
export const scheduleNote = mutation({
    args: { text: v.string() },
    handler: async (ctx, { text }) => {
        await ctx.scheduler.runAfter(0, api.entries.writeNote, { text });
    },
});

export const writeNote = internalMutation({
    args: { text: v.string() },
    handler: async (ctx, { text }) => { await ctx.db.insert("notes", { text }); },
});

// a handle names the component's own function, callable by whoever is given it
export const handleOf = query({
    args: {},
    handler: async () => await createFunctionHandle(api.entries.secret),
});

// its process.env: what the app passed, nothing of the app's own variables
export const env = query({
    args: {},
    handler: async () => ({ env: { ...process.env }, cloud: process.env.CONVEX_CLOUD_URL ?? null }),
});

// its own `_scheduled_functions`, as Convex gives each component: what it lists and reaches
export const holdJob = mutation({
    args: { text: v.string() },
    returns: v.id("_scheduled_functions"),
    handler: async (ctx, { text }) => {
        const job = await ctx.scheduler.runAfter(3600_000, api.entries.writeNote, { text });
        await ctx.db.insert("held", { job }); // v.id("_scheduled_functions") is its own table's
        return job;
    },
});
export const jobs = query({
    args: {},
    handler: async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect())
        .map((j) => ({ name: j.name, kind: j.state.kind })),
});
export const job = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => {
        const j: any = await ctx.db.system.get(id as any);
        return j === null ? null : { name: j.name, kind: j.state.kind,
            normalized: ctx.db.system.normalizeId("_scheduled_functions", id) === id };
    },
});
export const cancelJob = mutation({
    args: { id: v.string() },
    handler: async (ctx, { id }) => {
        try {
            await ctx.scheduler.cancel(id as any);
            return "canceled";
        } catch (e: any) {
            return e.message;
        }
    },
});
export const cancelFromAction = action({
    args: { id: v.string() },
    handler: async (ctx, { id }) => { await ctx.scheduler.cancel(id as any); },
});
export const scheduleFromAction = action({
    args: { text: v.string() },
    handler: async (ctx, { text }) => await ctx.scheduler.runAfter(0, api.entries.writeNote, { text }),
});
