// Types of queries.js: Convex's query, mutation and action hooks over @vireo/client's VireoClient.

import type { ReactNode, ReactElement } from "react";
import type {
    VireoClient, FunctionReference, Args, SyncConnectionStatus, PaginatedQueryResult, ServerError, ClientError,
    PendingMutation,
} from "@vireo/client";
import type { Preloaded } from "./preload.js";

/** A reference typed with its args and result (Convex's `api.tasks.list`: `_args`, `_returnType`). */
export type TypedReference<A = any, R = any> = FunctionReference & { _args: A; _returnType: R };
/** The args of a reference: its `_args` if typed, else any object. */
export type ArgsOf<F> = F extends { _args: infer A } ? A : Args;
/** The result of a reference: its `_returnType` if typed, else any. */
export type ReturnOf<F> = F extends { _returnType: infer R } ? R : any;
/** The items of a paginated query's page. */
export type ItemOf<F> = ReturnOf<F> extends { page: (infer I)[] } ? I : any;
/** A paginated query's args without `paginationOpts` (the hook adds it). */
export type PaginatedArgsOf<F> = F extends { _args: infer A } ? Omit<A, "paginationOpts"> : Args;

export function VireoProvider(props: { client: VireoClient; children?: ReactNode }): ReactElement;
/** The client of the nearest VireoProvider; throws outside one. */
export function useVireoClient(): VireoClient;

/** Live result; undefined while loading or with "skip"; the query's error is thrown. */
export function useQuery<F extends FunctionReference>(query: F, args?: ArgsOf<F> | "skip"): ReturnOf<F> | undefined;

/** convex-helpers' useQueryWithStatus: the error is returned, not thrown. */
export type QueryStatus<T> =
    | { status: "pending"; data: undefined; error: undefined; isPending: true; isSuccess: false; isError: false }
    | { status: "success"; data: T; error: undefined; isPending: false; isSuccess: true; isError: false }
    | { status: "error"; data: undefined; error: Error; isPending: false; isSuccess: false; isError: true };
export function useQueryWithStatus<F extends FunctionReference>(query: F, args?: ArgsOf<F> | "skip"): QueryStatus<ReturnOf<F>>;

/** What an optimistic update may read and write (client.mutation's `optimisticUpdate` option). */
export interface OptimisticLocalStore {
    getQuery<Q extends FunctionReference>(query: Q, args?: ArgsOf<Q>): ReturnOf<Q> | undefined;
    setQuery<Q extends FunctionReference>(query: Q, args: ArgsOf<Q>, value: ReturnOf<Q> | undefined): void;
    getAllQueries<Q extends FunctionReference>(query: Q): { args: ArgsOf<Q>; value: ReturnOf<Q> | undefined }[];
}
export type OptimisticUpdate<A> = (localStore: OptimisticLocalStore, args: A) => void;

/** Convex's ReactMutation: call it to run the mutation. */
export interface ReactMutation<F extends FunctionReference> {
    (args?: ArgsOf<F>): Promise<ReturnOf<F>>;
    /** The same mutation, with an optimistic update applied while it is in flight. Throws
     * "Already specified optimistic update for mutation <name>" when it already has one. */
    withOptimisticUpdate(optimisticUpdate: OptimisticUpdate<ArgsOf<F>>): ReactMutation<F>;
}
export function useMutation<F extends FunctionReference>(mutation: F): ReactMutation<F>;

export type ReactAction<F extends FunctionReference> = (args?: ArgsOf<F>) => Promise<ReturnOf<F>>;
export function useAction<F extends FunctionReference>(action: F): ReactAction<F>;

/** client.pendingMutations() (only `mutation`'s when given), re-rendering when it changes; [] on a server. */
export function usePendingMutations(mutation?: FunctionReference): readonly PendingMutation[];

/** "connecting" | "connected" | "disconnected"; "connecting" when rendered on a server. */
export function useConnectionState(): SyncConnectionStatus;

/** Convex's UsePaginatedQueryResult (the error is thrown, not returned). */
export type UsePaginatedQueryResult<Item> = PaginatedQueryResult<Item> extends infer S
    ? S extends unknown ? Omit<S, "error"> : never
    : never;
export function usePaginatedQuery<F extends FunctionReference>(
    query: F,
    args: PaginatedArgsOf<F> | "skip",
    options: { initialNumItems: number },
): UsePaginatedQueryResult<ItemOf<F>>;

/** The preloaded value on the first render, then the live one. */
export function usePreloadedQuery<T>(preloaded: Preloaded<T>): T;

export const ConvexProvider: typeof VireoProvider;
export const useConvex: typeof useVireoClient;

export type { ServerError, ClientError };
