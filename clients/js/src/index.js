// Public entry point of @vireo/client: re-exports the client, its errors, the query store, the
// value codec, and the actor client (Zocket's createClient). No side effects on import.

export { VireoClient, syncUrl, functionPath, VERSION, PROTOCOL_VERSION, DEFAULT_MAX_OFFLINE_QUEUE } from "./client.js";
export { ServerError, ClientError } from "./errors.js";
export { QueryStore } from "./querystore.js";
export { LocalStore } from "./optimistic.js";
export { createIndexedDbPersistence } from "./persistence.js";
export { PaginatedQuery } from "./paginated.js";
export { encodeValue, decodeValue, encodeArgs, canonicalJson } from "./values.js";
export { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
export { createClient, createActorClient, actorsUrl, rpcId, ACTORS_PATH, DEFAULT_ACTOR_BACKOFF } from "./actors.js";
export { StateStore, applyPatch, applyPatches, parsePointer } from "./state-store.js";
