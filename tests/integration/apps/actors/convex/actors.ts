// Live actors for tests/integration/actors.test.mjs: Zocket's API (`@zocket/core`), schemas in
// Zod 4, Valibot and Vireo's v.*.
import { actor, createApp, middleware } from "@zocket/core";
import { z } from "zod";
import * as vb from "valibot";
import { v } from "convex/values";

let parkedWake: null | (() => void) = null;
const parkedSaw: string[] = [];

const Counter = actor({
    state: z.object({ count: z.number().default(0) }),
    methods: {
        increment: { handler: ({ state }) => { state.count += 1; return state.count; } },
        add: {
            input: z.object({ amount: z.number() }),
            handler: ({ state, input }) => { state.count += input.amount; return { count: state.count }; },
        },
        nothing: { handler: () => {} },
        // what is thrown that is not an Error: Zocket's texts
        throwString: { handler: ({ state }) => { state.count = -1; throw "room is full"; } },
        throwObject: { handler: () => { throw { code: 409, message: "conflict" }; } },
        throwUndefined: { handler: async () => { await null; throw undefined; } },
        protoKey: { handler: ({ state }) => { (state as any)["__proto__"] = { x: 1 }; } },
        cycle: { handler: ({ state }) => { const o: any = { k: 1 }; o.self = o; (state as any).o = o; } },
        returnNull: { handler: () => null },
        fail: { handler: ({ state }) => { state.count = -1000; throw new Error("counter exploded"); } },
        failAsync: {
            handler: async ({ state }) => { state.count = -1000; await null; throw new Error("async boom"); },
        },
        read: { handler: ({ state }) => state },
        // for tests/integration/actors-batch.test.mjs: a runaway, and a promise that never settles
        spin: { handler: ({ state }) => { state.count = -1000; for (;;) { /* the time limit stops it */ } } },
        hang: { handler: ({ state }) => { state.count = -1000; return new Promise(() => {}); } },
        // changes the state, then calls itself without awaiting: that call runs after this one's
        // change is done and runs away, so the whole call fails (its time limit), and its change
        // must not stay, in memory either
        bumpThenSpin: {
            handler: ({ state, actors, actorId }) => { state.count += 100; actors.counter(actorId).spin(); return state.count; },
        },
        // a promise that never settles in its call, settled later by `wake` (another call): what
        // its continuation then does must not land (a write refused, no state stored)
        park: {
            handler: ({ state, db, actorId }) => {
                state.count = -5000;
                return new Promise<void>((r) => { parkedWake = r; }).then(async () => {
                    state.count = -6000;
                    try {
                        await db.insert("log", { room: actorId, text: "parked write" });
                    } catch (e: any) {
                        parkedSaw.push(e.message);
                    }
                });
            },
        },
        wake: {
            handler: ({ state }) => {
                const w = parkedWake;
                parkedWake = null;
                if (w) w();
                state.count += 1;
                return state.count;
            },
        },
        parkedSaw: { handler: () => parkedSaw },
        // a plain method whose promise settles in its own call (it is awaited in its place)
        addSoon: {
            handler: ({ state }) => Promise.resolve().then(() => { state.count += 10; return state.count; }),
        },
        waitThenAdd: {
            handler: async ({ state }) => { await new Promise((r) => setTimeout(r, 20)); state.count += 100; return state.count; },
        },
    },
});

// Every patch shape of Immer: push, unshift, splice, pop, filter-assign, delete key, keys with ~ and /.
const Shapes = actor({
    state: z.object({
        list: z.array(z.number()).default([1, 2, 3]),
        map: z.record(z.string(), z.number()).default({ "a/b": 1, "c~d": 2, plain: 3 }),
        nested: z.object({ deep: z.object({ x: z.number() }) }).default({ deep: { x: 1 } }),
    }),
    methods: {
        push: { handler: ({ state }) => { state.list.push(4, 5); } },
        unshift: { handler: ({ state }) => { state.list.unshift(0); } },
        splice: { handler: ({ state }) => { state.list.splice(1, 1); } },
        pop2: { handler: ({ state }) => { state.list.pop(); state.list.pop(); } },
        filter: { handler: ({ state }) => { state.list = state.list.filter((x) => x % 2 === 1); } },
        deleteKey: { handler: ({ state }) => { delete state.map["a/b"]; } },
        setTilde: { handler: ({ state }) => { state.map["c~d"] = 20; state.map["e/f~g"] = 7; } },
        coalesce: { handler: ({ state }) => { state.nested.deep.x += 1; state.nested.deep.x += 1; state.nested.deep.x += 1; } },
        noop: { handler: ({ state }) => { state.nested.deep.x = state.nested.deep.x; } },
        set: { input: z.object({ list: z.array(z.number()) }), handler: ({ state, input }) => { state.list = input.list; } },
        // a dictionary keyed by input: any word, those Object.prototype has too
        count: {
            input: z.object({ word: z.string() }),
            handler: ({ state, input }) => {
                state.map[input.word] = (Object.hasOwn(state.map, input.word) ? state.map[input.word] : 0) + 1;
                return state.map[input.word];
            },
        },
    },
});

const Chat = actor({
    state: z.object({
        messages: z.array(z.object({ text: z.string(), from: z.string() })).default([]),
        online: z.array(z.string()).default([]),
        activations: z.number().default(0),
        deactivations: z.number().default(0),
    }),
    methods: {
        send: {
            input: z.object({ text: z.string().min(1) }),
            handler: ({ state, input, emit, connectionId }) => {
                const msg = { text: input.text, from: connectionId };
                state.messages.push(msg);
                emit("newMessage", msg);
                return state.messages.length;
            },
        },
        whisper: {
            input: z.object({ to: z.string(), text: z.string() }),
            handler: ({ emit, input }) => { emit.to(input.to, "whisper", { text: input.text }); },
        },
        shout: {
            input: z.object({ text: z.string() }),
            handler: ({ emit, input, connectionId }) => {
                emit.except([connectionId], "whisper", { text: input.text });
                emit.broadcast("newMessage", { text: input.text, from: "all" });
            },
        },
        badEvent: { handler: ({ emit }) => { emit("newMessage", { text: 5 }); } },
        unknownEvent: { handler: ({ emit }) => { emit("nope", {}); } },
        who: { handler: ({ connections }) => connections.list().sort() },
        logToDb: {
            input: z.object({ text: z.string() }),
            handler: async ({ state, input, db, actorId }) => {
                await db.insert("log", { room: actorId, text: input.text });
                state.messages.push({ text: input.text, from: "db" });
            },
        },
        logThenFail: {
            handler: async ({ db, actorId }) => {
                await db.insert("log", { room: actorId, text: "should not stay" });
                throw new Error("after the write");
            },
        },
        // plain functions (they run together when sent together: actors-batch.test.mjs)
        logSync: {
            input: z.object({ text: z.string() }),
            handler: ({ state, input, db, actorId }) => {
                db.insert("log", { room: actorId, text: input.text });
                state.messages.push({ text: input.text, from: "db" });
                return state.messages.length;
            },
        },
        logThenFailSync: {
            handler: ({ db, actorId }) => {
                db.insert("log", { room: actorId, text: "should not stay" });
                throw new Error("after the write");
            },
        },
    },
    events: {
        newMessage: z.object({ text: z.string(), from: z.string() }),
        whisper: z.object({ text: z.string() }),
    },
    onActivate({ state }) { state.activations += 1; },
    onDeactivate({ state }) { state.deactivations += 1; },
    onConnect({ state, connectionId }) { state.online.push(connectionId); },
    onDisconnect({ state, connectionId }) {
        const i = state.online.indexOf(connectionId);
        if (i !== -1) state.online.splice(i, 1);
    },
});

const authed = middleware()
    .use(({ connectionId, method }) => ({ caller: connectionId, method }))
    .use(({ ctx }) => {
        if (ctx.method === "forbidden") throw new Error("Forbidden");
        return { checked: true };
    });

const Guarded = authed.actor({
    state: z.object({ calls: z.number().default(0) }),
    methods: {
        whoami: { handler: ({ ctx, state }) => { state.calls += 1; return ctx; } },
        forbidden: { handler: ({ state }) => { state.calls += 100; } },
    },
});

// Valibot and v.* schemas
const Valid = actor({
    state: vb.object({ name: vb.optional(vb.string(), "anon") }),
    methods: {
        rename: { input: vb.object({ name: vb.pipe(vb.string(), vb.minLength(2)) }), handler: ({ state, input }) => { state.name = input.name; } },
        setV: { input: v.object({ n: v.number() }), handler: ({ state, input }) => { state.name = "n" + input.n; } },
    },
});

// actor-to-actor calls
const Lobby = actor({
    state: z.object({ started: z.array(z.string()).default([]) }),
    methods: {
        start: {
            input: z.object({ match: z.string() }),
            handler: async ({ state, input, actors }) => {
                const r = await actors.match(input.match).init({ players: 2 });
                state.started.push(input.match);
                return r;
            },
        },
        ping: { handler: async ({ actors, actorId }) => actors.match("m-" + actorId).pingBack({ lobby: actorId }) },
        pingLater: { handler: ({ actors, actorId }) => { actors.match("m-" + actorId).pingBackLater({ lobby: actorId }); return "sent"; } },
        pong: { handler: ({ state }) => { state.started.push("pong"); return "pong"; } },
        startThenFail: {
            handler: async ({ actors }) => { await actors.match("doomed").init({ players: 9 }); throw new Error("lobby failed"); },
        },
    },
});

const Match = actor({
    state: z.object({ players: z.number().default(0), pinged: z.number().default(0) }),
    methods: {
        init: { input: z.object({ players: z.number() }), handler: ({ state, input }) => { state.players = input.players; return { ok: true, players: input.players }; } },
        pingBack: { input: z.object({ lobby: z.string() }), handler: async ({ actors, input }) => actors.lobby(input.lobby).pong() },
        pingBackLater: {
            input: z.object({ lobby: z.string() }),
            handler: ({ state, actors, input }) => { state.pinged += 1; actors.lobby(input.lobby).pong(); },
        },
    },
});

// durable timers and cron
const Clock = actor({
    state: z.object({ fired: z.array(z.string()).default([]), ticks: z.number().default(0), fails: z.number().default(0) }),
    methods: {
        after: { input: z.object({ ms: z.number(), tag: z.string() }), handler: ({ timer, input }) => timer.after(input.ms).mark({ tag: input.tag }) },
        every: { input: z.object({ ms: z.number() }), handler: ({ timer, input }) => timer.every(input.ms).tick() },
        everyFailing: { input: z.object({ ms: z.number() }), handler: ({ timer, input }) => timer.every(input.ms).boom() },
        cancel: { input: z.object({ id: z.string() }), handler: ({ timer, input }) => timer.cancel(input.id) },
        setThenFail: { handler: ({ timer }) => { timer.after(50).mark({ tag: "never" }); throw new Error("no timer"); } },
        badTimer: { handler: ({ timer }) => timer.after(10).nope() },
        mark: { input: z.object({ tag: z.string() }), handler: ({ state, input }) => { state.fired.push(input.tag); } },
        tick: { handler: ({ state }) => { state.ticks += 1; } },
        boom: { handler: ({ state }) => { state.fails += 1; throw new Error("tick failed"); } },
    },
});

const Heart = actor({
    state: z.object({ beats: z.number().default(0) }),
    methods: { beat: { handler: ({ state }) => { state.beats += 1; } }, read: { handler: ({ state }) => state.beats } },
    cron: { beat: { every: 150 } },
});

// identities: {"type":"auth","token"} on the socket; ctx.auth in handlers and middleware
const signedIn = middleware().use(async ({ auth }) => {
    const u = await auth.getUserIdentity();
    if (!u) throw new Error("Unauthorized");
    return { user: u.subject };
});
const Private = signedIn.actor({
    state: z.object({ by: z.array(z.string()).default([]) }),
    methods: {
        sign: { handler: ({ state, ctx }) => { state.by.push(ctx.user); return ctx.user; } },
    },
});
const Me = actor({
    state: z.object({}),
    methods: { me: { handler: async ({ auth }) => (await auth.getUserIdentity())?.subject ?? null } },
});

// a state whose patches are large: for the slow-subscriber test
const Big = actor({
    state: z.object({ blob: z.string().default(""), n: z.number().default(0) }),
    methods: {
        grow: { input: z.object({ size: z.number() }), handler: ({ state, input }) => { state.n += 1; state.blob = String(state.n).padEnd(input.size, "x"); return state.n; } },
        read: { handler: ({ state }) => state.n },
    },
});

// Values JSON text does not hold, written every way a method can: the call fails with
// InvalidState and changes nothing. `at` is a Date (kept: JSON writes its ISO text).
const Loose = actor({
    state: z.object({
        n: z.number().default(0),
        list: z.array(z.any()).default([{ k: 1 }]),
        deep: z.object({ inner: z.object({ x: z.any() }) }).default({ inner: { x: 1 } }),
    }).passthrough(),
    methods: {
        read: { handler: ({ state }) => ({ n: state.n, list: state.list, deep: state.deep, keys: Object.keys(state) }) },
        map: { handler: ({ state }) => { state.n += 1; (state as any).m = new Map([["a", 1]]); } },
        setInPush: { handler: ({ state }) => { state.n += 1; state.list.push({ k: 2, s: new Set([1]) }); } },
        deepFn: { handler: ({ state }) => { state.deep.inner.x = () => 1; } },
        nan: { handler: ({ state }) => { state.deep.inner.x = { y: [1, NaN] }; } },
        big: { handler: ({ state }) => { state.n = 10n as any; } },
        undefInArray: { handler: ({ state }) => { state.list.push(undefined); } },
        grow: { handler: ({ state }) => { state.list.length = 3; } },
        pastTheEnd: { handler: ({ state }) => { state.list[3] = { k: 4 }; } },
        moved: { handler: ({ state }) => { state.list.reverse(); state.list[0].bad = new Map(); } },
        afterAwait: { handler: async ({ state }) => { await new Promise((r) => setTimeout(r, 5)); state.n += 1; (state as any).m = new WeakMap(); } },
        dbThenBad: {
            handler: async ({ state, db, actorId }) => {
                await db.insert("log", { room: actorId, text: "should not stay" });
                (state as any)["we/ird"] = new Uint8Array(2);
            },
        },
        replacedParent: { handler: ({ state }) => { const inner = state.deep.inner; inner.x = new Map(); state.deep = { inner: { x: 2 } }; const l = state.list; l.length = 4; state.list = [{ k: 1 }]; } },
        date: { handler: ({ state }) => { (state as any).at = new Date(0); return (state as any).at instanceof Date; } },
        isDate: { handler: ({ state }) => (state as any).at instanceof Date },
        // a changed draft put inside a new object (Immer's own patches lose the change)
        wrapChanged: { handler: ({ state }) => { state.deep.inner.x = 5; (state as any).last = { inner: state.deep.inner }; } },
        fine: { handler: ({ state }) => { state.n += 1; state.list.push({ k: 3, u: undefined }); delete (state as any).missing; } },
    },
});

// its schema's default is a Map: no instance can start
const BadStart = actor({
    state: z.object({ m: z.any().default(() => new Map()) }),
    methods: { read: { handler: ({ state }) => state } },
});

export const app = createApp({
    actors: { loose: Loose, badStart: BadStart, counter: Counter, shapes: Shapes, chat: Chat, guarded: Guarded, valid: Valid, lobby: Lobby, match: Match, clock: Clock, heart: Heart, private: Private, me: Me, big: Big },
});
