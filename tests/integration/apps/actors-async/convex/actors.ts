// Actor methods that wait (tests/integration/actors-async.test.mjs): setTimeout between state
// changes (one transaction per turn), stream: true patches, async generators (rpc:stream),
// cancel, limits.
import { actor, createApp } from "@zocket/core";
import { z } from "zod";

const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => { clearTimeout(t); reject(new Error("aborted")); });
    });

const Job = actor({
    state: z.object({
        steps: z.array(z.string()).default([]),
        count: z.number().default(0),
        log: z.array(z.number()).default([]),
        finally: z.number().default(0),
        deactSteps: z.array(z.number()).default([]), // steps.length at each onDeactivate
    }),
    onDeactivate: ({ state }: any) => { state.deactSteps.push(state.steps.length); },
    methods: {
        // two turns: "a" is stored before the sleep, "b" after it
        twoSteps: {
            input: z.object({ ms: z.number() }),
            handler: async ({ state, input }: any) => {
                state.steps.push("a");
                await sleep(input.ms);
                state.steps.push("b");
                return state.steps.length;
            },
        },
        // a durable timer runs twoSteps; another fires while it waits
        scheduleTwo: {
            input: z.object({ ms: z.number() }),
            handler: ({ timer, input }: any) => {
                timer.after(10).twoSteps({ ms: input.ms });
                timer.after(60).mark({ n: 42 });
            },
        },
        // holds the server's loop (no turns): frames sent meanwhile are read together
        holdLoop: {
            input: z.object({ ms: z.number() }),
            handler: ({ input }: any) => { const t = Date.now(); while (Date.now() - t < input.ms) { /* busy */ } },
        },
        // records the arrival order of calls that waited for the instance
        mark: {
            input: z.object({ n: z.number() }),
            handler: ({ state, input }: any) => { state.log.push(input.n); return input.n; },
        },
        // turn 1 stays, turn 2 throws and rolls back
        failSecond: {
            handler: async ({ state, db }: any) => {
                state.steps.push("kept");
                await db.insert("log", { text: "turn 1" });
                await sleep(20);
                state.steps.push("dropped");
                await db.insert("log", { text: "turn 2" });
                throw new Error("turn two exploded");
            },
        },
        // patches while it runs
        ticks: {
            input: z.object({ n: z.number(), ms: z.number() }),
            stream: { interval: 30 },
            handler: async ({ state, input }: any) => {
                for (let i = 0; i < input.n; i++) {
                    state.count += 1;
                    await sleep(input.ms);
                }
                return state.count;
            },
        },
        // the same without stream: one patch at the end
        ticksQuiet: {
            input: z.object({ n: z.number(), ms: z.number() }),
            handler: async ({ state, input }: any) => {
                for (let i = 0; i < input.n; i++) {
                    state.count += 1;
                    state.steps.push(`t${i}`);
                    await sleep(input.ms);
                }
                return state.count;
            },
        },
        // rpc:stream chunks, then the return value
        words: {
            input: z.object({ ms: z.number() }),
            handler: async function* ({ state, input }: any) {
                yield "Hello";
                await sleep(input.ms);
                state.count += 1;
                yield " world";
                return "Hello world";
            },
        },
        // runs until canceled; finally records it
        forever: {
            handler: async function* ({ state, signal }: any) {
                try {
                    for (let i = 0; ; i++) {
                        state.count += 1;
                        yield i;
                        await sleep(30);
                    }
                } finally {
                    state.finally += 1;
                }
            },
        },
        // a plain method observing ctx.signal
        waitAbort: {
            handler: async ({ state, signal }: any) => {
                state.steps.push("waiting");
                try {
                    await sleep(60_000, signal);
                } catch (e: any) {
                    state.steps.push("aborted");
                    return "aborted";
                }
                return "slept";
            },
        },
        sleepLong: {
            input: z.object({ ms: z.number() }),
            handler: async ({ state, input }: any) => {
                state.count += 1;
                await sleep(input.ms);
                state.count += 100;
                return "done";
            },
        },
        // fetch between two state changes
        fetchText: {
            input: z.object({ url: z.string() }),
            handler: async ({ state, input }: any) => {
                state.steps.push("fetching");
                const r = await fetch(input.url, { headers: { "x-test": "1" } });
                const text = await r.text();
                state.steps.push(`${r.status}:${text}`);
                return { status: r.status, text };
            },
        },
        fetchFails: {
            input: z.object({ url: z.string() }),
            handler: async ({ input }: any) => {
                try {
                    await fetch(input.url);
                    return "no error";
                } catch (e: any) {
                    return `${e.message}: ${e.cause?.code}`;
                }
            },
        },
        // turn 2 runs past the CPU limit
        spinSecond: {
            handler: async ({ state }: any) => {
                state.steps.push("first");
                await sleep(10);
                state.steps.push("spinning");
                for (;;) { /* the watchdog stops it */ }
            },
        },
        // limits of a call
        manyChunks: {
            handler: async function* () {
                for (let i = 0; i < 10001; i++) yield i;
            },
        },
        manyTimers: {
            handler: async ({ state }: any) => {
                state.count += 1;
                for (let i = 0; i < 1001; i++) setTimeout(() => {}, 1000);
            },
        },
        neverSettles: { handler: async () => { await new Promise(() => {}); } },
        // CPU spread over awaits, no timer: each job is its own VM entry
        burnAwait: {
            handler: async () => {
                for (;;) {
                    let x = 0;
                    for (let i = 0; i < 20000; i++) x = (x * 31 + i) % 1000003;
                    await null;
                }
            },
        },
        // the same while a timer of its own is pending (the turn waits for nothing: it loops)
        burnAwaitTimer: {
            handler: async () => {
                setTimeout(() => {}, 60000);
                await new Promise((r) => setTimeout(r, 5));
                for (;;) {
                    let x = 0;
                    for (let i = 0; i < 20000; i++) x = (x * 31 + i) % 1000003;
                    await Promise.resolve();
                }
            },
        },
        read: { handler: ({ state }: any) => state },
    },
});

const Caller = actor({
    state: z.object({ n: z.number().default(0) }),
    methods: {
        // an awaited call to an instance whose method is waiting
        // job/<id> gets a timer call (no connection touches it) that sleeps 700 ms
        startIdle: {
            input: z.object({ id: z.string() }),
            handler: ({ actors, input }: any) => { actors.job(input.id).scheduleTwo({ ms: 700 }); },
        },
        // an awaited call to a method that waits
        callWaiting: {
            input: z.object({ id: z.string() }),
            handler: async ({ state, actors, input }: any) => {
                state.n += 1;
                return actors.job(input.id).twoSteps({ ms: 20 });
            },
        },
        callBusy: {
            input: z.object({ id: z.string() }),
            handler: async ({ actors, input }: any) => actors.job(input.id).read(),
        },
    },
});

export const app = createApp({ actors: { job: Job, caller: Caller } });
