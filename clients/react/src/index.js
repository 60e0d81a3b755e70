// Public entry point of @vireo/react. Queries, mutations and actions (Convex's hooks, queries.js),
// server-side preloading (preload.js), and live actors (Zocket's API): createZocketReact() for
// typed hooks with their own context, and the same hooks bound to one default context for apps
// with a single actor client.

import { createZocketReact, useActorState, useEvent, shallowEqual } from "./actors.js";

const defaults = createZocketReact();

export {
    VireoProvider, useVireoClient, useQuery, useQueryWithStatus, useMutation, useAction,
    useConnectionState, usePaginatedQuery, usePendingMutations, usePreloadedQuery, ConvexProvider, useConvex,
} from "./queries.js";
export { preloadQuery, preloadedQueryResult, preloadedQueryArgs, queryUrl, PreloadError } from "./preload.js";
export { createZocketReact, useActorState, useEvent, shallowEqual };
export const ZocketProvider = defaults.ZocketProvider;
export const useClient = defaults.useClient;
export const useActor = defaults.useActor;
export const useConnectionStatus = defaults.useConnectionStatus;
/** The same as ZocketProvider and useClient, by names that say which client they hold. */
export const ActorClientProvider = defaults.ZocketProvider;
export const useActorClient = defaults.useClient;
