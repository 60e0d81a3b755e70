// Typed uses of the actor client and hooks: what must compile, and (@ts-expect-error) what must
// not. An app value shaped as `createApp` returns it, with Zod schemas (Standard Schema) and a
// Convex-style validator.
import { z } from "zod";
import { createClient, type ActorHandle, type ConnectionStatus } from "../../../clients/js/src/index.js";
import { createZocketReact, useActorState, useEvent } from "../../../clients/react/src/index.js";

declare const vNumber: { readonly isConvexValidator: true; readonly type: number };

const Counter = {
    _tag: "ActorDef" as const,
    config: {
        state: z.object({ count: z.number().default(0), items: z.array(z.string()) }),
        methods: {
            increment: { handler: () => ({ count: 1 }) },
            add: { input: z.object({ by: z.number() }), handler: async (_c: unknown) => 5 },
            scale: { input: vNumber, handler: (_c: unknown) => "ok" as const },
            reset: { handler: () => {} },
        },
        events: { changed: z.object({ count: z.number() }) },
    },
};
const app = { _tag: "AppDef" as const, actors: { counter: Counter } };

const client = createClient<typeof app>({ url: "ws://localhost:8788" });
const c = client.counter("a");
const r1: Promise<{ count: number }> = c.increment();
const r2: Promise<number> = c.add({ by: 2 });
const r3: Promise<"ok"> = c.scale(3, { timeout: 100, onChunk: (x) => x });
const r4: Promise<void> = c.reset();
c.on("changed", (p) => { const n: number = p.count; });
c.state.subscribe((s) => { const n: number = s.count; const l: string[] = s.items; });
const snap: { count: number; items: string[] } | undefined = c.state.getSnapshot();
const same: ActorHandle<typeof Counter> = client.actor("counter").get("b", { retain: false });
c.meta.dispose();
const st: ConnectionStatus = client.connection.status;
client.connection.subscribe((s) => { const t: "connecting" | "connected" | "reconnecting" | "disconnected" = s; });
const ready: Promise<void> = client.$ready;
// @ts-expect-error input type
c.add({ by: "x" });
// @ts-expect-error missing input
c.add();
// @ts-expect-error unknown actor
client.nope("x");
// @ts-expect-error unknown event
c.on("nope", () => {});
// @ts-expect-error payload type
c.on("changed", (p: { count: string }) => {});
// @ts-expect-error id is a string
client.counter(1);

// untyped: any actor and method
const loose = createClient({ url: "ws://localhost:8788" });
loose.whatever("id").anything({ x: 1 }).then((v: unknown) => v);

// React
const { ZocketProvider, useActor, useConnectionStatus, useClient } = createZocketReact<typeof app>();
ZocketProvider({ client, children: null });
const h = useActor("counter", "a");
const r5: Promise<number> = h.add({ by: 1 });
const n: number | undefined = useActorState(h, (s) => s.count);
const whole: { count: number; items: string[] } | undefined = useActorState(h);
useEvent(h, "changed", (p) => { const x: number = p.count; });
const cs: ConnectionStatus = useConnectionStatus();
const cl: typeof client = useClient();
// @ts-expect-error unknown actor
useActor("nope", "a");
// @ts-expect-error payload typed
useEvent(h, "changed", (p) => { const y: string = p.count; });
// @ts-expect-error selector's state typed
useActorState(h, (s) => { const y: string = s.count; return y; });
