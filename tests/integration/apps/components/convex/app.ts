import { query, mutation, action } from "./_generated/server";
import { createFunctionHandle } from "convex/server";
import { api, internal, components } from "./_generated/api";
import { ShardedCounter } from "@convex-dev/sharded-counter";
import { RateLimiter, MINUTE } from "@convex-dev/rate-limiter";
import { Workpool } from "@convex-dev/workpool";
import { TableAggregate } from "@convex-dev/aggregate";
import { ActionRetrier } from "@convex-dev/action-retrier";
import { Presence } from "@convex-dev/presence";
import { GeospatialIndex } from "@convex-dev/geospatial";
import { Migrations } from "@convex-dev/migrations";
import { internalMutation, internalAction } from "./_generated/server";
import { v } from "convex/values";

const counter = new ShardedCounter(components.shardedCounter, { defaultShards: 4 });
const visits = new ShardedCounter(components.visits);
const limiter = new RateLimiter(components.rateLimiter, {
    send: { kind: "fixed window", rate: 2, period: MINUTE },
});

export const countAdd = mutation({
    args: { name: v.string(), n: v.number() },
    handler: async (ctx, { name, n }) => { await counter.add(ctx, name, n); },
});
export const count = query({
    args: { name: v.string() },
    handler: async (ctx, { name }) => await counter.count(ctx, name),
});
export const visit = mutation({
    args: { page: v.string() },
    handler: async (ctx, { page }) => { await visits.inc(ctx, page); },
});
export const visitCount = query({
    args: { page: v.string() },
    handler: async (ctx, { page }) => await visits.count(ctx, page),
});
export const send = mutation({
    args: { user: v.string() },
    handler: async (ctx, { user }) => await limiter.limit(ctx, "send", { key: user }),
});

export const ledgerAdd = mutation({
    args: { owner: v.string(), amount: v.number() },
    handler: async (ctx, args) => await ctx.runMutation(components.ledger.entries.add, args),
});
export const ledgerList = query({
    args: { owner: v.string() },
    handler: async (ctx, args) => await ctx.runQuery(components.ledger.entries.list, args),
});
export const ledgerTotal = query({
    args: { owner: v.string() },
    handler: async (ctx, args) => await ctx.runQuery(components.ledger.entries.total, args),
});
export const ledgerGet = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => await ctx.runQuery(components.ledger.entries.get, { id }),
});
export const ledgerNotes = query({
    args: {},
    handler: async (ctx) => await ctx.runQuery(components.ledger.entries.notes, {}),
});
export const ledgerFailCaught = mutation({
    args: { owner: v.string() },
    handler: async (ctx, { owner }) => {
        let message = "";
        try {
            await ctx.runMutation(components.ledger.entries.fail, { owner });
        } catch (e) {
            message = (e as Error).message;
        }
        await ctx.db.insert("notes", { text: `after ${message}` });
        return message;
    },
});
export const ledgerSum = action({
    args: { owner: v.string() },
    handler: async (ctx, args): Promise<number> =>
        await ctx.runAction(components.ledger.entries.sum, args),
});
export const callSecret = query({
    args: {},
    handler: async (ctx) => await ctx.runQuery((components.ledger.entries as any).secret, {}),
});
export const ledgerCall = query({
    args: { fn: v.string(), args: v.any() },
    handler: async (ctx, { fn, args }) =>
        await ctx.runQuery((components.ledger.entries as any)[fn], args),
});
export const readTable = query({
    args: { table: v.string() },
    handler: async (ctx, { table }) => await ctx.db.query(table as any).collect(),
});
export const getAny = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => (await ctx.db.get(id as any)) === null ? "null" : "found",
});
export const patchAny = mutation({
    args: { id: v.string() },
    handler: async (ctx, { id }) => { await ctx.db.patch(id as any, { text: "x" }); },
});
export const addNote = mutation({
    args: { text: v.string() },
    handler: async (ctx, { text }) => await ctx.db.insert("notes", { text }),
});
export const notes = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("notes").collect()).map((n) => n.text),
});
export const ledgerSchedule = mutation({
    args: { text: v.string() },
    handler: async (ctx, args) => await ctx.runMutation(components.ledger.entries.scheduleNote, args),
});
export const callHandle = query({
    args: { handle: v.string() },
    handler: async (ctx, { handle }) => await ctx.runQuery(handle as any, {}),
});
export const ownHandle = query({
    args: {},
    handler: async () => await createFunctionHandle(api.app.notes),
});

// @convex-dev/workpool, @convex-dev/aggregate, @convex-dev/action-retrier, @convex-dev/presence
const pool = new Workpool(components.jobs, { maxParallelism: 2 });
const scores = new TableAggregate<any>(components.scores, {
    sortKey: (d: any) => d.score,
    sumValue: (d: any) => d.score,
});
const retrier = new ActionRetrier(components.actionRetrier);
const presence = new Presence(components.presence);

export const addScore = mutation({
    args: { score: v.number() },
    handler: async (ctx, { score }) => {
        const id = await ctx.db.insert("scores", { score });
        await scores.insert(ctx, (await ctx.db.get(id))!);
    },
});
export const scoreStats = query({
    args: {},
    handler: async (ctx) => ({ count: await scores.count(ctx), sum: await scores.sum(ctx),
                               top: (await scores.max(ctx))?.key ?? null }),
});
export const work = internalMutation({
    args: { text: v.string() },
    handler: async (ctx, { text }) => { await ctx.db.insert("notes", { text }); },
});
export const enqueue = mutation({
    args: { text: v.string() },
    handler: async (ctx, args) => await pool.enqueueMutation(ctx, internal.app.work, args),
});
export const jobStatus = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => await pool.status(ctx, id as any),
});
export const fetchy = internalAction({ args: {}, handler: async () => "fetched" });
export const retried = action({
    args: {},
    handler: async (ctx) => await retrier.run(ctx, internal.app.fetchy, {}),
});
export const retryStatus = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => await retrier.status(ctx, id as any),
});
export const heartbeat = mutation({
    args: { room: v.string(), user: v.string() },
    handler: async (ctx, { room, user }) => await presence.heartbeat(ctx, room, user, `s-${user}`, 10000),
});
export const online = query({
    args: { token: v.string() },
    handler: async (ctx, { token }) => (await presence.list(ctx, token)).map((p: any) => p.userId),
});
export const ledgerPatch = mutation({
    args: { id: v.string() },
    handler: async (ctx, { id }) => await ctx.runMutation(components.ledger.entries.patchAny, { id }),
});

// @convex-dev/geospatial (its S2 library is WebAssembly, compiled through WebAssembly.instantiate)
const geo = new GeospatialIndex(components.geospatial);
export const place = mutation({
    args: { key: v.string(), lat: v.number(), lng: v.number() },
    handler: async (ctx, { key, lat, lng }) => {
        await geo.insert(ctx, key, { latitude: lat, longitude: lng }, {});
    },
});
export const near = query({
    args: {},
    handler: async (ctx) => (await geo.query(ctx, {
        shape: { type: "rectangle", rectangle: { west: -10, east: 10, south: -10, north: 10 } },
        limit: 10,
    })).results.map((r: any) => r.key).sort(),
});

// @convex-dev/migrations: its state document is patched back whole, system fields included
export const migrations = new Migrations(components.migrations);
export const double = migrations.define({
    table: "scores",
    migrateOne: async (_ctx: any, doc: any) => ({ score: doc.score * 2 }),
});
export const runDouble = mutation({
    args: {},
    handler: async (ctx) => await migrations.runOne(ctx, internal.app.double as any),
});
export const allScores = query({
    args: {},
    handler: async (ctx) => (await ctx.db.query("scores").collect()).map((s) => s.score).sort((a, b) => a - b),
});
// the app's scheduler runs a component's public function
export const scheduleLedger = mutation({
    args: { owner: v.string(), amount: v.number() },
    handler: async (ctx, args) => await ctx.scheduler.runAfter(0, components.ledger.entries.add, args),
});
// an action's vector search names the app's tables only
export const vectorProbe = action({
    args: { table: v.string() },
    handler: async (ctx, { table }) =>
        await ctx.vectorSearch(table as any, "by_embedding" as any, { vector: [1, 2] }),
});
// the app's own `_scheduled_functions` beside the ledger's
export const appHoldJob = mutation({
    args: {},
    handler: async (ctx) => await ctx.scheduler.runAfter(3600_000, api.app.addNote, { text: "held" }),
});
export const appJobs = query({
    args: {},
    handler: async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect())
        .map((j) => ({ name: j.name, kind: j.state.kind })),
});
export const appJob = query({
    args: { id: v.string() },
    handler: async (ctx, { id }) => {
        const j: any = await ctx.db.system.get(id as any);
        return j === null ? null : { name: j.name, kind: j.state.kind };
    },
});
export const appCancel = mutation({
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
export const ledgerMutate = mutation({
    args: { fn: v.string(), args: v.any() },
    handler: async (ctx, { fn, args }) =>
        await ctx.runMutation((components.ledger.entries as any)[fn], args),
});
export const ledgerAct = action({
    args: { fn: v.string(), args: v.any() },
    handler: async (ctx, { fn, args }) =>
        await ctx.runAction((components.ledger.entries as any)[fn], args),
});

// the caller's identity (`vireo run --identity`)
export const whoami = query({ args: {}, handler: async (ctx) => await ctx.auth.getUserIdentity() });
