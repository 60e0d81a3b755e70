// Typed uses of @vireo/react's query hooks and preloadQuery: what must compile, and
// (@ts-expect-error) what must not. References typed as Convex's generated `api` types them
// (`_args`, `_returnType`), and untyped names.
import { VireoClient } from "../../../clients/js/src/index.js";
import {
    VireoProvider, ConvexProvider, useVireoClient, useConvex, useQuery, useQueryWithStatus, useMutation,
    useAction, useConnectionState, usePaginatedQuery, usePendingMutations, usePreloadedQuery, preloadQuery, preloadedQueryResult,
    PreloadError, type TypedReference, type Preloaded, type ReactMutation,
} from "../../../clients/react/src/index.js";

declare const api: {
    tasks: {
        list: TypedReference<{ list: string }, string[]>;
        add: TypedReference<{ list: string; text: string }, string>;
        page: TypedReference<
            { list: string; paginationOpts: { numItems: number; cursor: string | null } },
            { page: { text: string }[]; isDone: boolean; continueCursor: string }
        >;
        shout: TypedReference<{ text: string }, string>;
    };
};

const client = new VireoClient("http://localhost:8788");
VireoProvider({ client });
ConvexProvider({ client, children: null });
const c1: VireoClient = useVireoClient();
const c2: VireoClient = useConvex();

const tasks: string[] | undefined = useQuery(api.tasks.list, { list: "a" });
const skipped: string[] | undefined = useQuery(api.tasks.list, "skip");
const untyped: any = useQuery("tasks:list", { list: "a", anything: 1 });
// @ts-expect-error wrong args type
useQuery(api.tasks.list, { list: 1 });
// @ts-expect-error the result is string[]
const wrong: number | undefined = useQuery(api.tasks.list, { list: "a" });

const st = useQueryWithStatus(api.tasks.list, { list: "a" });
if (st.status === "success") { const d: string[] = st.data; const ok: true = st.isSuccess; }
if (st.isError) { const e: Error = st.error; }
if (st.status === "pending") { const u: undefined = st.data; }

const add = useMutation(api.tasks.add);
const r: Promise<string> = add({ list: "a", text: "t" });
const opt: ReactMutation<typeof api.tasks.add> = add.withOptimisticUpdate((store, args) => {
    const cur = store.getQuery(api.tasks.list, { list: args.list });
    if (cur !== undefined) store.setQuery(api.tasks.list, { list: args.list }, [...cur, args.text]);
    const all: { args: { list: string }; value: string[] | undefined }[] = store.getAllQueries(api.tasks.list);
    // @ts-expect-error setQuery's value must be the query's result type
    store.setQuery(api.tasks.list, { list: args.list }, 5);
});
// @ts-expect-error the mutation's args
add({ list: "a" });

const shout = useAction(api.tasks.shout);
const s: Promise<string> = shout({ text: "x" });

const conn: "connecting" | "connected" | "disconnected" = useConnectionState();
const queuedTexts: unknown[] = usePendingMutations("tasks:add").filter((m) => m.restored).map((m) => m.args.text);
void queuedTexts;

const p = usePaginatedQuery(api.tasks.page, { list: "a" }, { initialNumItems: 10 });
const items: { text: string }[] = p.results;
p.loadMore(5);
if (p.status === "Exhausted") { const f: false = p.isLoading; }
const skippedPage = usePaginatedQuery("tasks:page", "skip", { initialNumItems: 1 });
// @ts-expect-error initialNumItems is required
usePaginatedQuery(api.tasks.page, { list: "a" }, {});

async function ssr() {
    const pre: Preloaded<string[]> = await preloadQuery("http://localhost:8788", api.tasks.list, { list: "a" },
        { headers: { Authorization: "Bearer x" } });
    const v: string[] = preloadedQueryResult(pre);
    const live: string[] = usePreloadedQuery(pre);
    // @ts-expect-error preloadQuery's args
    await preloadQuery("http://localhost:8788", api.tasks.list, { list: 2 });
    try {
        await preloadQuery("http://x", "tasks:list");
    } catch (e) {
        if (e instanceof PreloadError) { const code: string = e.code; const status: number = e.status; }
    }
    const json: string = JSON.stringify(pre);
}
