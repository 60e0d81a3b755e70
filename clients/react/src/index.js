// Public entry point of @vireo/react. Live actors (Zocket's API): createZocketReact() for typed
// hooks with their own context, and the same hooks bound to one default context for apps with a
// single actor client. (The Convex-style hooks for queries and mutations come in their own file.)

import { createZocketReact, useActorState, useEvent, shallowEqual } from "./actors.js";

const defaults = createZocketReact();

export { createZocketReact, useActorState, useEvent, shallowEqual };
export const ZocketProvider = defaults.ZocketProvider;
export const useClient = defaults.useClient;
export const useActor = defaults.useActor;
export const useConnectionStatus = defaults.useConnectionStatus;
/** The same as ZocketProvider and useClient, by names that say which client they hold. */
export const ActorClientProvider = defaults.ZocketProvider;
export const useActorClient = defaults.useClient;
