// Actors for the actor client's tests (tests/client/actors-live.test.mjs): a counter with events
// and errors, a list whose methods make every patch shape, a gated actor, and a query reading an
// actor's stored state (to compare the client's copy with the server's).
import { actor, createApp, middleware } from "@zocket/core";
import { v } from "convex/values";
import { query } from "./_generated/server";

// A Standard Schema that fills in defaults (what z.object({...}).default() does for Zocket apps).
function withDefaults<T extends object>(defaults: T) {
    return {
        "~standard": {
            version: 1 as const,
            vendor: "client-actors",
            validate: (value: unknown) => ({ value: { ...defaults, ...((value ?? {}) as object) } as T }),
        },
    };
}

const counter = actor({
    state: withDefaults({ count: 0, log: [] as string[] }),
    methods: {
        increment: { handler: ({ state }) => ({ count: ++state.count }) },
        add: {
            input: v.object({ by: v.number() }),
            handler: ({ state, input, emit }) => {
                state.count += input.by;
                emit("changed", { count: state.count });
                return state.count;
            },
        },
        note: {
            input: v.object({ text: v.string() }),
            handler: ({ state, input }) => {
                state.log.push(input.text);
            },
        },
        // rpc:stream chunks, then the count; runs until canceled when `forever`
        stream: {
            input: v.object({ n: v.number(), forever: v.boolean() }),
            handler: async function* ({ state, input }: any) {
                try {
                    for (let i = 0; input.forever || i < input.n; i++) {
                        state.count += 1;
                        yield { i };
                        await new Promise((r) => setTimeout(r, 20));
                    }
                } finally {
                    state.log.push("finally");
                }
                return state.count;
            },
        },
        fail: {
            handler: ({ state }) => {
                state.count = -1000;
                throw new Error("counter refuses");
            },
        },
        whoami: { handler: ({ connectionId }) => connectionId },
        get: { handler: ({ state }) => state },
    },
    events: { changed: v.object({ count: v.number() }) },
});

type Item = { id: number; text: string };
const list = actor({
    state: withDefaults({ items: [] as Item[], keys: {} as Record<string, number>, n: 0 }),
    methods: {
        push: { input: v.object({ text: v.string() }), handler: ({ state, input }) => { state.items.push({ id: ++state.n, text: input.text }); } },
        unshift: { input: v.object({ text: v.string() }), handler: ({ state, input }) => { state.items.unshift({ id: ++state.n, text: input.text }); } },
        splice: {
            input: v.object({ at: v.number(), remove: v.number(), text: v.optional(v.string()) }),
            handler: ({ state, input }) => {
                if (input.text === undefined) state.items.splice(input.at, input.remove);
                else state.items.splice(input.at, input.remove, { id: ++state.n, text: input.text });
            },
        },
        popTwo: { handler: ({ state }) => { state.items.pop(); state.items.pop(); } },
        keepOdd: { handler: ({ state }) => { state.items = state.items.filter((i) => i.id % 2 === 1); } },
        rename: { input: v.object({ index: v.number(), text: v.string() }), handler: ({ state, input }) => { state.items[input.index].text = input.text; } },
        setKey: { input: v.object({ key: v.string(), value: v.number() }), handler: ({ state, input }) => { state.keys[input.key] = input.value; } },
        deleteKey: { input: v.object({ key: v.string() }), handler: ({ state, input }) => { delete state.keys[input.key]; } },
        many: {
            handler: ({ state }) => {
                for (let i = 0; i < 5; i++) state.items.push({ id: ++state.n, text: `m${i}` });
                state.items.shift();
                state.keys["a/b~c"] = state.n;
            },
        },
        get: { handler: ({ state }) => state },
    },
});

const gated = middleware()
    .use(({ method }) => {
        if (method === "secret") throw new Error("Forbidden");
        return { role: "guest" };
    })
    .actor({
        state: withDefaults({ calls: 0 }),
        methods: {
            open: { handler: ({ state, ctx }) => { state.calls++; return ctx.role; } },
            secret: { handler: () => "never" },
        },
    });

// the connection's identity (createClient's `auth`)
const me = actor({
    state: withDefaults({}),
    methods: { who: { handler: async ({ auth }) => (await auth.getUserIdentity())?.subject ?? null } },
});

export const app = createApp({ actors: { counter, list, gated, me } });

export const stored = query({
    args: { name: v.string(), id: v.string() },
    handler: async (ctx, { name, id }) => await (ctx as any).actors.get(name, id),
});
