// React hooks for queries, mutations and actions over @vireo/client's VireoClient, with Convex's
// names and shapes (convex/react): VireoProvider (ConvexProvider), useVireoClient (useConvex),
// useQuery (with "skip"), useQueryWithStatus (convex-helpers' shape), useMutation (with
// .withOptimisticUpdate), useAction, useConnectionState, usePaginatedQuery and usePreloadedQuery.
// Built on useSyncExternalStore. Rendering never subscribes: a query is subscribed in the store's
// subscribe (a commit-phase effect) and released in its cleanup, and the client shares one server
// query between its subscribers (ref-counted, the query set flushed once per tick), so StrictMode's
// unmount/remount in the same tick sends nothing and leaks nothing.

import {
    createContext, createElement, useCallback, useContext, useMemo, useSyncExternalStore,
} from "react";
import { decodeValue, functionPath as nameOf } from "@vireo/client";

const ClientContext = createContext(null);
ClientContext.displayName = "VireoClient";

/** Makes `client` (a VireoClient) available to the hooks below it. */
export function VireoProvider({ client, children }) {
    return createElement(ClientContext.Provider, { value: client ?? null }, children);
}

function clientFor(hook) {
    const client = useContext(ClientContext);
    if (!client)
        throw new Error(`Could not find Vireo client! \`${hook}\` must be used in the React component ` +
                        "tree under `VireoProvider`. Did you forget it?");
    return client;
}

/** The VireoClient of the nearest VireoProvider; throws outside one. */
export function useVireoClient() {
    return clientFor("useVireoClient");
}

/** A string equal for equal args (object keys sorted), to memoize on the args' contents. */
function argsKey(v) {
    if (typeof v === "bigint") return `{"$n":"${v}"}`;
    if (v instanceof ArrayBuffer) return `{"$b":[${new Uint8Array(v)}]}`;
    if (Array.isArray(v)) return `[${v.map(argsKey).join(",")}]`;
    if (v && typeof v === "object")
        return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined)
            .map((k) => `${JSON.stringify(k)}:${argsKey(v[k])}`).join(",")}}`;
    if (typeof v === "number" && !Number.isFinite(v)) return `{"$f":"${v}"}`;
    return v === undefined ? "null" : JSON.stringify(v);
}

const LOADING = Object.freeze({ status: "pending", value: undefined, error: undefined });
const serverLoading = () => LOADING;

// A watched query: subscribe() (useSyncExternalStore's) subscribes it on the client; the snapshot
// is {status, value, error}, the same object while nothing changed. Where the result is read,
// first found: Convex's watchQuery(name, args) if the client has it (an object with onUpdate and
// localQueryResult: results with optimistic updates applied); else seed 000's store API by key
// (VireoClient.makeKey): getQueryResult(key) (the server's result merged with optimistic layers),
// getQueryError(key), watchQuery(key, listener) — results computed for another identity than the
// client's current one read as loading there; else the subscription's own callbacks.
class QueryWatcher {
    constructor(client, name, args) {
        this.client = client;
        this.name = name;
        this.args = args;
        this.server = null; // {value} | {error}: the last the subscription delivered
        this.snap = LOADING;
        this.watch = localWatch(client, name, args);
        this.key = null; // set when the key API is used
        const make = client.constructor?.makeKey;
        if (!this.watch && typeof client.getQueryResult === "function" &&
            typeof client.watchQuery === "function" && typeof make === "function") {
            try {
                this.key = make.call(client.constructor, name, args);
            } catch {
                // args the client refuses: its subscribe throws them to the component
            }
        }
        this.subscribe = this.subscribe.bind(this);
        this.getSnapshot = this.getSnapshot.bind(this);
    }

    subscribe(onChange) {
        const unsub = this.client.subscribe(this.name, this.args, (value) => {
            this.server = { value };
            onChange();
        }, (error) => {
            this.server = { error };
            onChange();
        });
        let unwatch = null;
        if (this.watch) unwatch = this.watch.onUpdate(() => onChange());
        else if (this.key !== null) unwatch = this.client.watchQuery(this.key, () => onChange());
        return () => {
            unsub();
            if (typeof unwatch === "function") unwatch();
        };
    }

    _read() {
        if (this.watch) {
            // localQueryResult() is the truth (an optimistic update may even set "loading"); a
            // client whose localQueryResult does not throw a failed query's error still has it
            // from the subscription
            try {
                const value = this.watch.localQueryResult();
                if (value !== undefined) return { value, error: undefined };
            } catch (error) {
                return { value: undefined, error };
            }
            return { value: undefined, error: this.server?.error };
        }
        if (this.key !== null) {
            const c = this.client;
            const error = typeof c.getQueryError === "function" ? c.getQueryError(this.key) ?? undefined
                : this.server?.error;
            return { value: error === undefined ? c.getQueryResult(this.key) : undefined, error };
        }
        return { value: this.server?.value, error: this.server?.error };
    }

    getSnapshot() {
        const { value, error } = this._read();
        const s = this.snap;
        if (error !== undefined) {
            if (s.error !== error) this.snap = { status: "error", value: undefined, error };
        } else if (value !== undefined) {
            if (s.status !== "success" || s.value !== value) this.snap = { status: "success", value, error: undefined };
        } else {
            this.snap = LOADING;
        }
        return this.snap;
    }
}

// Convex's watchQuery(name, args) → {onUpdate, localQueryResult}, if the client has it (an older
// client's watchQuery(key, listener) returns an unsubscribe function, undone here at once).
function localWatch(client, name, args) {
    if (typeof client.watchQuery !== "function") return null;
    let w;
    try {
        w = client.watchQuery(name, args);
    } catch {
        return null;
    }
    if (typeof w === "function") {
        w();
        return null;
    }
    return w && typeof w.onUpdate === "function" && typeof w.localQueryResult === "function" ? w : null;
}

function useQueryState(hook, query, args) {
    const client = clientFor(hook);
    const skip = args === "skip";
    const name = nameOf(query);
    const key = skip ? "skip" : argsKey(args ?? {});
    // the args of the first render with this content (an inline object is new each render)
    // eslint-disable-next-line react-hooks/exhaustive-deps
    const stableArgs = useMemo(() => (skip ? null : args ?? {}), [key]);
    const watcher = useMemo(
        () => (stableArgs === null ? null : new QueryWatcher(client, name, stableArgs)),
        [client, name, stableArgs],
    );
    return useSyncExternalStore(
        watcher ? watcher.subscribe : noSubscribe,
        watcher ? watcher.getSnapshot : serverLoading,
        serverLoading,
    );
}

const noSubscribe = () => () => {};

/**
 * The query's live result: undefined while loading (and with "skip" as args, which subscribes
 * nothing); throws the query's error (a ServerError) to the nearest error boundary.
 */
export function useQuery(query, args) {
    const s = useQueryState("useQuery", query, args);
    if (s.status === "error") throw s.error;
    return s.value;
}

const PENDING = Object.freeze({
    status: "pending", data: undefined, error: undefined, isSuccess: false, isPending: true, isError: false,
});

/**
 * convex-helpers' useQueryWithStatus: {status: "pending" | "success" | "error", data, error,
 * isPending, isSuccess, isError}; an error is returned instead of thrown. "skip" is pending.
 */
export function useQueryWithStatus(query, args) {
    const s = useQueryState("useQueryWithStatus", query, args);
    return useMemo(() => {
        if (s.status === "error")
            return { status: "error", data: undefined, error: s.error, isSuccess: false, isPending: false, isError: true };
        if (s.status === "success")
            return { status: "success", data: s.value, error: undefined, isSuccess: true, isPending: false, isError: false };
        return PENDING;
    }, [s]);
}

function assertNotAccidentalArgument(value) {
    if (typeof value === "object" && value !== null && "bubbles" in value && "persist" in value &&
        "isDefaultPrevented" in value) {
        throw new Error(
            "Vireo function called with SyntheticEvent object. Did you use a Vireo function as an " +
            "event handler directly? Event handlers like onClick receive an event object as their " +
            "first argument. These SyntheticEvent objects are not valid Vireo values. Try wrapping " +
            "the function like `const handler = () => myMutation();` and using `handler` in the " +
            "event handler.");
    }
}

function createMutation(name, client, update) {
    function mutation(args) {
        assertNotAccidentalArgument(args);
        return update === undefined
            ? client.mutation(name, args ?? {})
            : client.mutation(name, args ?? {}, { optimisticUpdate: update });
    }
    mutation.withOptimisticUpdate = function withOptimisticUpdate(optimisticUpdate) {
        if (update !== undefined)
            throw new Error(`Already specified optimistic update for mutation ${name}`);
        if (typeof optimisticUpdate !== "function")
            throw new TypeError("withOptimisticUpdate: the optimistic update must be a function");
        return createMutation(name, client, optimisticUpdate);
    };
    return mutation;
}

/**
 * A function that runs the mutation (`(args) => Promise<result>`), stable while the client and
 * name are. `.withOptimisticUpdate((localStore, args) => …)` returns one that passes the update
 * to client.mutation's `optimisticUpdate` option.
 */
export function useMutation(mutation) {
    const client = clientFor("useMutation");
    const name = nameOf(mutation);
    return useMemo(() => createMutation(name, client, undefined), [client, name]);
}

/** A function that runs the action (`(args) => Promise<result>`), stable while client and name are. */
export function useAction(action) {
    const client = clientFor("useAction");
    const name = nameOf(action);
    return useMemo(() => {
        const run = (args) => {
            assertNotAccidentalArgument(args);
            return client.action(name, args ?? {});
        };
        return run;
    }, [client, name]);
}

// "connecting" | "connected" | "disconnected": seed 000's connectionState property, or the
// `state` of a connectionState() method's object (Convex's ConnectionState plus `state`).
function readConnectionState(client) {
    const s = client.connectionState;
    const v = typeof s === "function" ? s.call(client) : s;
    if (typeof v === "string") return v;
    if (v && typeof v.state === "string") return v.state;
    return v?.isWebSocketConnected ? "connected" : "connecting";
}

const serverConnecting = () => "connecting";

/**
 * The client's connection state ("connecting" | "connected" | "disconnected"), re-rendering on
 * each change; "connecting" when rendered on a server.
 */
export function useConnectionState() {
    const client = clientFor("useConnectionState");
    const subscribe = useCallback((onChange) => client.onConnectionChange(() => onChange()), [client]);
    const getSnapshot = useCallback(() => readConnectionState(client), [client]);
    return useSyncExternalStore(subscribe, getSnapshot, serverConnecting);
}

const NONE = Object.freeze([]);

/**
 * The client's unsettled mutations (client.pendingMutations(): the offline queue, those in
 * flight, those restored from the persisted queue), or only those of `mutation` when given;
 * re-renders when the list changes. [] when rendered on a server or with a client without it.
 */
export function usePendingMutations(mutation) {
    const client = clientFor("usePendingMutations");
    const name = mutation === undefined ? null : nameOf(mutation);
    const has = typeof client.pendingMutations === "function";
    const subscribe = useCallback(
        (onChange) => (has ? client.onPendingMutationsChange(() => onChange()) : () => {}),
        [client, has],
    );
    const getSnapshot = useCallback(() => (has ? client.pendingMutations() : NONE), [client, has]);
    const all = useSyncExternalStore(subscribe, getSnapshot, () => NONE);
    return useMemo(() => (name === null ? all : all.filter((m) => m.name === name)), [all, name]);
}

const FIRST_PAGE = Object.freeze({
    results: Object.freeze([]), status: "LoadingFirstPage", isLoading: true, loadMore: () => {},
});
const serverFirstPage = () => FIRST_PAGE;

/**
 * Convex's usePaginatedQuery over client.paginatedQuery: {results, status, isLoading, loadMore}.
 * `status`: "LoadingFirstPage" | "CanLoadMore" | "LoadingMore" | "Exhausted"; loadMore(n) loads n
 * more items when it is "CanLoadMore". New args (or "skip") start over from the first page. The
 * query's error is thrown to the nearest error boundary.
 */
export function usePaginatedQuery(query, args, options) {
    const client = clientFor("usePaginatedQuery");
    const n = options?.initialNumItems;
    if (typeof n !== "number" || !(n > 0))
        throw new Error(`\`options.initialNumItems\` must be a positive number. Received \`${n}\`.`);
    const skip = args === "skip";
    const name = nameOf(query);
    const key = skip ? "skip" : argsKey(args ?? {});
    // eslint-disable-next-line react-hooks/exhaustive-deps
    const stableArgs = useMemo(() => (skip ? null : args ?? {}), [key]);
    const pq = useMemo(
        () => (stableArgs === null ? null : client.paginatedQuery(name, stableArgs, { initialNumItems: n })),
        [client, name, stableArgs, n],
    );
    const subscribe = useCallback(
        (onChange) => (pq ? pq.subscribe(() => onChange(), () => onChange()) : () => {}),
        [pq],
    );
    const getSnapshot = useCallback(() => (pq ? pq.current : FIRST_PAGE), [pq]);
    const state = useSyncExternalStore(subscribe, getSnapshot, serverFirstPage);
    if (state.error) throw state.error;
    return state;
}

/**
 * The value of a `Preloaded` token (preloadQuery's, made on the server) on the first render —
 * no loading state, so the server's HTML hydrates as is — then the live query's.
 */
export function usePreloadedQuery(preloaded) {
    const args = useMemo(() => decodeValue(JSON.parse(preloaded._argsJSON)), [preloaded._argsJSON]);
    const initial = useMemo(() => decodeValue(JSON.parse(preloaded._valueJSON)), [preloaded._valueJSON]);
    const s = useQueryState("usePreloadedQuery", preloaded._name, args);
    if (s.status === "error") throw s.error;
    return s.status === "success" ? s.value : initial;
}

/** Convex's names for the same provider and hooks. */
export const ConvexProvider = VireoProvider;
export const useConvex = useVireoClient;
