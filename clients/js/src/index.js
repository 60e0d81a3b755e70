// Public entry point of @vireo/client: re-exports the client, its errors, the query store and
// the value codec. No side effects on import.

export { VireoClient, syncUrl, functionPath, VERSION, PROTOCOL_VERSION } from "./client.js";
export { ServerError, ClientError } from "./errors.js";
export { QueryStore } from "./querystore.js";
export { PaginatedQuery } from "./paginated.js";
export { encodeValue, decodeValue, encodeArgs, canonicalJson } from "./values.js";
export { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
