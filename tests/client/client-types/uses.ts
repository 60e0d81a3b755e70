// Typed uses of VireoClient's optimistic updates, persistence, watchQuery and connectionState
// (checked by tests/client/client-types.test.mjs with tsc --strict). @ts-expect-error lines must fail.
import {
    VireoClient, ClientError, createIndexedDbPersistence, type LocalStore, type PersistenceAdapter,
    type ConnectionState, type Watch, type PendingMutation,
} from "../../../clients/js/src/index.js";

export async function uses(): Promise<void> {
    const memory: PersistenceAdapter = {
        load: async () => null,
        save: async (state) => { void state.mutations.length; },
        clear: async () => {},
    };
    const c = new VireoClient("http://127.0.0.1:8788", {
        persistence: createIndexedDbPersistence({ dbName: "x" }),
        maxCacheAge: 86400000, schemaVersion: "v2", maxOfflineQueue: 10,
        backoff: { baseMs: 100, maxMs: 1000, maxAttempts: 5 }, heartbeatIntervalMs: 1000, requestTimeoutMs: 1000,
        onOfflineMutationResult: (r) => { if (r.error instanceof ClientError) void r.error.code; },
    });
    const d = new VireoClient("http://127.0.0.1:8788", { persistence: memory });
    await c.init();
    const st: ConnectionState = c.connectionState();
    const pending: readonly PendingMutation[] = c.pendingMutations();
    const restoredKeys: string[] = pending.filter((m) => m.restored).map((m) => m.idempotencyKey);
    void restoredKeys;
    const offPending: () => void = c.onPendingMutationsChange(() => {});
    offPending();
    const tabs = createIndexedDbPersistence({ locks: null, maxEntries: 50 });
    const orphan: PersistenceAdapter | null = (await tabs.claimOrphan?.({ schemaVersion: null })) ?? null;
    orphan?.close?.();
    const connected: boolean = st.isWebSocketConnected && st.state === "connected";
    void connected;
    const w: Watch<string[]> = c.watchQuery<string[]>("tasks:list", { project: "p" });
    const off: () => void = w.onUpdate(() => { const v: string[] | undefined = w.localQueryResult(); void v; });
    off();
    const unwatch: () => void = c.watchQuery(VireoClient.makeKey("tasks:list", {}), () => {});
    unwatch();
    const r: number | undefined = c.getQueryResult<number>("counters:get", { name: "a" });
    void r;
    const confirmed: boolean = c.hasServerResult("counters:get", { name: "a" }) || c.hasServerResult(VireoClient.makeKey("counters:get", {}));
    void confirmed;
    await c.mutation("tasks:create", { title: "t" }, {
        optimisticUpdate: (store: LocalStore, args) => {
            const cur = store.getQuery<{ title: string }[]>("tasks:list", {});
            if (cur) store.setQuery("tasks:list", {}, [...cur, { title: String(args.title) }]);
            for (const q of store.getAllQueries("tasks:list")) void q.args;
        },
    });
    await c.mutation("counters:increment", {}, { optimistic: { query: "counters:get", args: {}, update: (n) => n + 1 } });
    await d.flushPersistence();
    // @ts-expect-error optimisticUpdate is a function
    await c.mutation("tasks:create", {}, { optimisticUpdate: 1 });
    // @ts-expect-error persistence is a boolean or an adapter
    new VireoClient("http://x", { persistence: "yes" });
    // @ts-expect-error connectionState is a method
    void (c.connectionState === "connected");
}
