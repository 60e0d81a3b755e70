// Types of @vireo/react (see README.md).

import type { ActorClient, ConnectionStatus } from "@vireo/client";
import type { ReactNode, ReactElement } from "react";
import type { ActorHandle } from "@vireo/client";

export {
    VireoProvider, useVireoClient, useQuery, useQueryWithStatus, useMutation, useAction,
    useConnectionState, usePaginatedQuery, usePendingMutations, usePreloadedQuery, ConvexProvider, useConvex,
} from "./queries.js";
export type {
    TypedReference, ArgsOf, ReturnOf, QueryStatus, OptimisticLocalStore, OptimisticUpdate, ReactMutation,
    ReactAction, UsePaginatedQueryResult,
} from "./queries.js";
export { preloadQuery, preloadedQueryResult, preloadedQueryArgs, queryUrl, PreloadError } from "./preload.js";
export type { Preloaded, PreloadOptions } from "./preload.js";
export { createZocketReact, useActorState, useEvent, shallowEqual } from "./actors.js";
export type { ZocketReact, HandleLike } from "./actors.js";

/** The default context's provider (for an app with one actor client). */
export function ZocketProvider(props: { client: ActorClient<any>; children?: ReactNode }): ReactElement;
export function useClient(): ActorClient<any>;
export function useActor(actorName: string, actorId: string): ActorHandle<any>;
export function useConnectionStatus(): ConnectionStatus;
export const ActorClientProvider: typeof ZocketProvider;
export const useActorClient: typeof useClient;
