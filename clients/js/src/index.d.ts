// Types of @vireo/client (see README.md and docs/protocol.md, "Sync protocol").

/** A value as Vireo stores it: JSON plus bigint (int64), ArrayBuffer (bytes) and special floats. */
export type Value =
    | null
    | boolean
    | number
    | bigint
    | string
    | ArrayBuffer
    | Value[]
    | { [key: string]: Value | undefined };

/** What may be sent: Value, plus typed-array views (sent as bytes). `undefined` fields are dropped. */
export type InputValue =
    | Value
    | ArrayBufferView
    | InputValue[]
    | { [key: string]: InputValue | undefined };

/** Function arguments: an object (`undefined`/`null` mean `{}`). */
export type Args = { [key: string]: InputValue | undefined };

/** "messages:list", or a reference object carrying the path in `_name` or `path`. */
export type FunctionReference = string | { _name: string } | { path: string };

/** The connection's state as onConnectionChange reports it (seed 000's ConnectionState). */
export type SyncConnectionStatus = "connecting" | "connected" | "disconnected";

/** client.connectionState(): Convex's ConnectionState, plus `state` and `offlineQueueLength`. */
export interface ConnectionState {
    /** "connected" once the server answered `connected` on the current socket. */
    state: SyncConnectionStatus;
    isWebSocketConnected: boolean;
    /** Some mutation or action is not settled yet (sent, queued offline, or awaiting its version). */
    hasInflightRequests: boolean;
    timeOfOldestInflightRequest: Date | null;
    hasEverConnected: boolean;
    /** How many times the server accepted a connection of this client. */
    connectionCount: number;
    /** Consecutive failed reconnect attempts. */
    connectionRetries: number;
    inflightMutations: number;
    inflightActions: number;
    /** Mutations waiting for the connection (at most maxOfflineQueue). */
    offlineQueueLength: number;
}

/** One of client.pendingMutations(): a mutation not settled yet. */
export interface PendingMutation {
    name: string;
    args: Args;
    idempotencyKey: string;
    /** ms since the epoch, when it was called. */
    createdAt: number;
    /** Restored from the persisted offline queue after a reload (its promise died with the page). */
    restored: boolean;
}

/**
 * Where `persistence` keeps the cache and the offline queue: `load` returns what `save` last
 * stored (or null/undefined), `clear` removes it. The state is a plain JSON-safe object; treat it
 * as opaque. `persistence: true` uses createIndexedDbPersistence().
 */
export interface PersistenceAdapter {
    /** `options.schemaVersion`: the client's (records of another may be dropped). */
    load(options?: { schemaVersion: string | null }): Promise<PersistedState | null | undefined>;
    save(state: PersistedState): Promise<void>;
    clear(): Promise<void>;
    /** Called after the last save of client.close(). */
    close?(): void;
    /** The built-in adapter's: claims another (closed) tab's queue, as an adapter holding only it. */
    claimOrphan?(options?: { schemaVersion: string | null }): Promise<PersistenceAdapter | null>;
}

/** What a PersistenceAdapter stores (format 1). */
export interface PersistedState {
    format: 1;
    schemaVersion: string | null;
    savedAt: number;
    ident: string | null;
    sessionId: string;
    sessionSecret: string | null;
    queries: { key: QueryKey; path: string; args: unknown; value: unknown; savedAt: number; ident: string | null }[];
    mutations: { path: string; args: unknown; idempotencyKey: string; ident: string | null; createdAt: number }[];
}

/**
 * The built-in IndexedDB adapter, shared safely by the tabs of an origin: the cache as record `key`
 * (default: the client's sync URL) of database `dbName` ("vireo-client"), each session's offline
 * queue as record `key#queue#<sessionId>`, owned under the Web Lock `vireo-queue:<dbName>:<key>:<sessionId>`
 * (`locks`: navigator.locks by default; null: none, one client per store at a time).
 */
export function createIndexedDbPersistence(options?: {
    dbName?: string; key?: string; indexedDB?: any; IDBKeyRange?: any; locks?: any | null; maxEntries?: number;
    /** Where a tab remembers its queue's session across a reload (default: sessionStorage). */
    sessionStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void } | null;
}): PersistenceAdapter;

/** Convex's OptimisticLocalStore: the local results an optimistic update reads and writes. */
export class LocalStore {
    /** The query's current local value (earlier layers included); undefined while loading. */
    getQuery<T = any>(name: FunctionReference, args?: Args): T | undefined;
    /** Every query of `name` the client holds, with its args and local value. */
    getAllQueries<T = any>(name: FunctionReference): { args: Args; value: T | undefined }[];
    /** Sets the query's local value while the mutation is in flight (undefined: loading). */
    setQuery(name: FunctionReference, args: Args | undefined, value: Value | undefined): void;
}

/** Convex's optimistic update: changes the local results; called again on each new server result. */
export type OptimisticUpdate<A = any> = (localStore: LocalStore, args: A) => void;

export interface MutationOptions<A = any> {
    /** Convex's: a layer over the local results, from the call until the mutation settles. */
    optimisticUpdate?: OptimisticUpdate<A>;
    /** Seed 002's single-query shorthand: `update(current)` gives the query's next local value
     * (not called while the query has no value). */
    optimistic?: { query: FunctionReference; args?: Args; update: (current: any) => Value | undefined };
}

/** What onOfflineMutationResult gets for a mutation restored from the persisted queue. */
export interface OfflineMutationResult {
    name: string;
    args: Args;
    idempotencyKey: string;
    value?: Value;
    error?: ServerError | ClientError;
}

/** Convex's Watch (VireoClient.watchQuery(name, args)). */
export interface Watch<T = any> {
    /** Subscribes to the query while registered; `callback` runs whenever its local result changes. */
    onUpdate(callback: () => void): () => void;
    /** The local result (undefined while loading); throws the ServerError if the query failed. */
    localQueryResult(): T | undefined;
    hasServerResult(): boolean;
    error(): ServerError | null;
    readonly key: QueryKey;
}

export type QueryKey = string;

export interface BackoffOptions {
    /** Default 1000. */
    baseMs?: number;
    /** Default 30000. */
    maxMs?: number;
    /**
     * Consecutive failed reconnection attempts after which the client stops and reports
     * "disconnected" with a ClientError (code "GaveUp") via onConnectionChange. Default Infinity.
     */
    maxAttempts?: number;
}

/** The constructor of a WHATWG-style WebSocket (browser, Node 22 global, or the "ws" package). */
export interface WebSocketConstructor {
    new (url: string): {
        readyState: number;
        send(data: string): void;
        close(code?: number, reason?: string): void;
        onopen: ((ev: any) => void) | null;
        onmessage: ((ev: { data: any }) => void) | null;
        onclose: ((ev: { code?: number; reason?: string }) => void) | null;
        onerror: ((ev: any) => void) | null;
    };
}

export interface VireoClientOptions {
    /** WebSocket implementation; default globalThis.WebSocket (absent on Node 20: pass `ws`). */
    WebSocket?: WebSocketConstructor;
    backoff?: BackoffOptions;
    /** Ping interval; no message for 2 intervals means the connection is dead. Default 30000. */
    heartbeatIntervalMs?: number;
    /** Mutations and actions whose message is larger are refused with MessageTooLarge (the
     * server's --max-message). Default 16 MiB. */
    maxMessageBytes?: number;
    /** A connection counts as healthy (the backoff resets) at its first transition, or after
     * this long connected. Default 10000. */
    healthyAfterMs?: number;
    /** Mutation/action timeout from the call; 0 or Infinity disables it. Default 60000. */
    requestTimeoutMs?: number;
    /** Kept across reconnects; default crypto.randomUUID(). */
    sessionId?: string;
    /** Sent in `connect`; default "vireo-js/<version>". */
    clientVersion?: string;
    /** Random source for the backoff jitter (tests). Default Math.random. */
    random?: () => number;
    /** true: IndexedDB; or a PersistenceAdapter. The client then connects in init(). Default off. */
    persistence?: boolean | PersistenceAdapter;
    /** Persisted results older than this (ms) are dropped on load. Default 7 days. */
    maxCacheAge?: number;
    /** A different value than the persisted one clears the whole persisted store. */
    schemaVersion?: string;
    /** Results kept in the persisted cache (the oldest go first). Default 1000. */
    maxCacheEntries?: number;
    /** Delay before a change is written to the adapter (changes in between are written together). Default 100. */
    persistDelayMs?: number;
    /** Mutations held while disconnected; past it the oldest one never sent rejects
     * (OFFLINE_QUEUE_OVERFLOW); those that were sent and are unanswered are kept. Default 1000. */
    maxOfflineQueue?: number;
    /** The outcome of each mutation restored from the persisted queue (its promise is gone). */
    onOfflineMutationResult?: (result: OfflineMutationResult) => void;
}

export interface ServerInfo {
    sessionId: string;
    /** The server's store version when it accepted the connection. */
    version: number;
    resumed: boolean;
    protocolVersion: number;
    serverVersion?: string;
}

/** The server reported a failure: a function error, a failed query, or an `error` frame. */
export class ServerError extends Error {
    name: "ServerError";
    /** errorCode (e.g. "ArgumentValidationError", "VireoError") or the error frame's code. */
    code: string;
    /** errorData of a VireoError thrown by the function. */
    data?: Value;
    /** Present on VersionNotSupported. */
    supportedVersions?: number[];
    retryAfterMs?: number;
    constructor(message: string, code: string, data?: Value);
}

/** The client gave up on something itself. */
export class ClientError extends Error {
    name: "ClientError";
    /** AuthChanged: a call made under another identity than the client's current one was
     * dropped before it reached the server (see setAuth). OutcomeUnknown: a mutation that may
     * have run in a session the client can no longer resume (SessionIdInUse) was not sent again.
     * OFFLINE_QUEUE_OVERFLOW: a mutation never sent was dropped (maxOfflineQueue). */
    code: "RequestTimeout" | "ConnectionLost" | "ClientClosed" | "GaveUp" | "MessageTooLarge" |
        "ProtocolError" | "NotPaginated" | "AuthChanged" | "OFFLINE_QUEUE_OVERFLOW" |
        "OutcomeUnknown" | "PersistedMutationUnreadable";
    cause?: unknown;
    constructor(message: string, code: string);
}

// ---- auth --------------------------------------------------------------------------------

/**
 * Convex's AuthTokenFetcher: returns the JWT (an OpenID Connect ID token or a custom JWT), or
 * null/undefined when there is none (signed out). `forceRefreshToken` is true when the server
 * refused the last token or it is about to expire: return a fresh one, not a cached one.
 */
export type AuthTokenFetcher = (args: { forceRefreshToken: boolean }) => Promise<string | null | undefined>;

/** The identity the server verified (`authenticated`). */
export interface AuthIdentity {
    /** "<iss>|<sub>" */
    tokenIdentifier: string;
    subject: string;
    issuer: string;
}

export class QueryStore {
    /** Deterministic key of (function path, args): args are encoded and their keys sorted. */
    static makeKey(name: string, args?: Args): QueryKey;
    /** The local result: optimistic layers over the server's (or the persisted cache's). */
    getResult(key: QueryKey): Value | undefined;
    /** The server's (or the cache's) result, without optimistic layers. */
    getServerResult(key: QueryKey): Value | undefined;
    getError(key: QueryKey): ServerError | null;
    hasServerResult(key: QueryKey): boolean;
    watch(key: QueryKey, listener: () => void): () => void;
}

/** One page of a paginated query, as `.paginate()` returns it (Convex's PaginationResult). */
export interface PaginationResult<T> {
    page: T[];
    isDone: boolean;
    continueCursor: string;
    splitCursor?: string | null;
    pageStatus?: "SplitRecommended" | "SplitRequired" | null;
}

/** The paginationOpts the client adds to a paginated query's arguments. */
export interface PaginationOptions {
    numItems: number;
    cursor: string | null;
    endCursor?: string | null;
}

/** Convex's PaginationStatus. */
export type PaginationStatus = "LoadingFirstPage" | "CanLoadMore" | "LoadingMore" | "Exhausted";

/**
 * State of a paginated query (Convex's UsePaginatedQueryResult, plus `error`): `results` is the
 * concatenation of the loaded pages.
 */
export type PaginatedQueryResult<Item> = {
    results: Item[];
    /** Loads `numItems` more after the last page; does nothing unless status is "CanLoadMore". */
    loadMore: (numItems: number) => void;
    /** A page's query failed (other than InvalidCursor): the results stop before that page. */
    error: ServerError | ClientError | null;
} & (
    | { status: "LoadingFirstPage"; isLoading: true }
    | { status: "CanLoadMore"; isLoading: false }
    | { status: "LoadingMore"; isLoading: true }
    | { status: "Exhausted"; isLoading: false }
);

/** A live paginated list (VireoClient.paginatedQuery). */
export class PaginatedQuery<Item = any> {
    /** The latest state ("LoadingFirstPage" with no results while nobody subscribes). */
    readonly current: PaginatedQueryResult<Item>;
    /**
     * `callback` gets every new state (the current one at once, in a microtask, when pages are
     * loaded); `onError` each new page error (console.error if omitted). The first subscriber
     * starts the page subscriptions; the last one's unsubscribe releases all of them, and a
     * later subscriber starts over from the first page. Returns the unsubscribe function.
     */
    subscribe(
        callback: (state: PaginatedQueryResult<Item>) => void,
        onError?: (error: ServerError | ClientError) => void,
    ): () => void;
    /** Same as current.loadMore; returns whether a page was added. */
    loadMore(numItems: number): boolean;
}

export class VireoClient {
    /**
     * @param url server base URL ("http://127.0.0.1:8788" → ws://127.0.0.1:8788/api/sync,
     *   "https://x" → wss://x/api/sync) or a ws(s):// URL (…/api/sync is appended if missing).
     * Connects immediately.
     */
    constructor(url: string, options?: VireoClientOptions);

    readonly url: string;
    readonly sessionId: string;
    /** The server-issued secret that resumes the session (from `connected`); null before. */
    readonly sessionSecret: string | null;
    /** Store version the query results are at; null before the first transition. */
    readonly version: number | null;
    /** Details of the last `connected` message. */
    readonly serverInfo: ServerInfo | null;
    /** The last connection-level error (drop, server error frame, give-up). */
    readonly lastError: Error | null;
    readonly queryStore: QueryStore;

    /** Same as QueryStore.makeKey, accepting function references. */
    static makeKey(name: FunctionReference, args?: Args): QueryKey;

    /**
     * Live query. `callback` gets the value on every change (the latest value right away, in a
     * microtask, if the query is already live); `onError` gets a ServerError when the query
     * fails (console.error if omitted). Identical (name, args) subscriptions share one server
     * query. Returns the unsubscribe function (idempotent).
     */
    subscribe<T = any>(
        name: FunctionReference,
        args: Args | undefined,
        callback?: (value: T) => void,
        onError?: (error: ServerError) => void,
    ): () => void;

    /**
     * A live list over a paginated query (Convex's usePaginatedQuery semantics): the query must
     * take `paginationOpts` (added here to `args`) and return `.paginate()`'s result. Each page
     * is its own live query; a page's end is fixed once it loaded (`endCursor`), so the pages
     * never overlap or leave gaps as rows are inserted and deleted. Throws a TypeError unless
     * `options.initialNumItems` is a positive number.
     */
    paginatedQuery<Item = any>(
        name: FunctionReference,
        args: Args | undefined,
        options: { initialNumItems: number },
    ): PaginatedQuery<Item>;

    /** One-shot query: the first result of a subscription, which is then dropped. */
    query<T = any>(name: FunctionReference, args?: Args): Promise<T>;

    /**
     * Resolves with the mutation's value once the client's queries reflect it (their version
     * reached the one it committed at). Queued while offline and re-sent with the same
     * idempotency key until answered. Rejects with ServerError or ClientError.
     */
    mutation<T = any, A extends Args = Args>(name: FunctionReference, args?: A, options?: MutationOptions<A>): Promise<T>;

    /** Resolves with the action's value. Never re-sent: rejects if the connection drops in flight. */
    action<T = any>(name: FunctionReference, args?: Args): Promise<T>;

    /** Listener gets every state change, with the error that caused it when there is one. */
    onConnectionChange(listener: (state: SyncConnectionStatus, error?: Error) => void): () => void;

    /** Convex's shape, plus `state` and `offlineQueueLength`. */
    connectionState(): ConnectionState;

    /** The mutations not settled yet (queued offline, in flight, restored), in call order; the
     * same array while the list is unchanged. */
    pendingMutations(): readonly PendingMutation[];
    /** `listener()` after pendingMutations() changed (at most once per tick). */
    onPendingMutationsChange(listener: () => void): () => void;

    /** With `persistence`: loads the cache and the offline queue, then connects (same promise on
     * later calls). Without: resolves at once. Never rejects (a load failure is logged). */
    init(): Promise<void>;

    /** With `persistence`: writes the cache and the offline queue now. */
    flushPersistence(): Promise<void>;

    /** Convex's watchQuery: a Watch over (name, args). */
    watchQuery<T = any>(name: FunctionReference, args?: Args): Watch<T>;
    /** Seed 000's form: notified on each change of the key; does not subscribe. */
    watchQuery(key: QueryKey, listener: () => void): () => void;
    /** The local result (optimistic layers over the server's or the cache's); undefined: loading. */
    getQueryResult<T = any>(name: FunctionReference, args?: Args): T | undefined;
    getQueryResult<T = any>(key: QueryKey): T | undefined;
    getQueryError(name: FunctionReference, args?: Args): ServerError | null;
    getQueryError(key: QueryKey): ServerError | null;
    /** The server confirmed the result (not only the persisted cache). */
    hasServerResult(name: FunctionReference, args?: Args): boolean;
    hasServerResult(key: QueryKey): boolean;

    /** Reconnects now: after giving up (maxAttempts, VersionNotSupported) or to skip a wait. */
    reconnect(): void;

    // ---- auth (see README.md, "Authentication") ----

    /**
     * Authenticates the session with the JWTs `fetchToken` gives, as Convex's setAuth: the token
     * goes in `connect` (on every (re)connect) or in an `authenticate` message (no reconnect);
     * `connect` and calls made meanwhile wait for the first fetch (at most 10 s). The token is
     * refetched (forceRefreshToken: true) before it expires, at max(exp − 30 s, iat + half its
     * lifetime) (`expiresAt` of `authenticated` wins over `exp`). A refused or expired token gets
     * one forced refetch; if that is refused too, or the fetch gives null or the same token, the
     * client stays anonymous and calls `onChange(false)`. A throwing fetchToken is retried with
     * backoff (1 s doubling to 30 s). `onChange(true)` when the server accepted a token;
     * `onChange` is called only when the value changes.
     */
    setAuth(fetchToken: AuthTokenFetcher, onChange?: (isAuthenticated: boolean) => void): void;

    /** Stops the fetcher and its timers and signs out (`authenticate` with token null). */
    clearAuth(): void;

    /**
     * A fixed token (not refreshed), sent at once with `authenticate`, without reconnecting;
     * null signs out. A token the server refuses is dropped (onAuthTokenChange(null)).
     * Throws TypeError unless a non-empty string of at most 16384 characters, null or undefined.
     */
    setAuthToken(token: string | null | undefined): void;

    /** The same as setAuthToken (Vireo has one socket, re-authenticated in place). */
    setWsToken(token: string | null | undefined): void;

    /** Listener gets the token in use (or null) each time it changes, refreshes included. */
    onAuthTokenChange(listener: (token: string | null) => void): () => void;

    /** The token in use (e.g. for `Authorization: Bearer` on your own HTTP calls), or null. */
    readonly authToken: string | null;
    /** The server accepted the current token. */
    readonly isAuthenticated: boolean;
    /** The identity of the last `authenticated`; null when anonymous or since refused. */
    readonly identity: AuthIdentity | null;
    /** `expiresAt` of the last `authenticated` (ms since epoch), or null. */
    readonly authExpiresAt: number | null;
    /** The last `authError` (code "InvalidToken", "TokenExpired" or "AuthUnavailable"), or null. */
    readonly lastAuthError: ServerError | null;

    /** Closes the socket, rejects pending requests (ClientError "ClientClosed"), stops for good. */
    close(): void;
}

export function syncUrl(url: string): string;
export function functionPath(ref: FunctionReference): string;
export function encodeValue(value: InputValue): unknown;
export function encodeArgs(args: Args | undefined | null): Record<string, unknown>;
export function decodeValue(json: unknown): Value;
export function canonicalJson(encoded: unknown): string;
export function backoffDelay(
    attempt: number,
    options: { baseMs: number; maxMs: number },
    random?: () => number,
): number;
export declare const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>>;
export declare const VERSION: string;
export declare const PROTOCOL_VERSION: number;
export declare const DEFAULT_MAX_OFFLINE_QUEUE: number;

// The actor client (Zocket's API): see actors.d.ts and README.md, "Actors".
export * from "./actors.js";
export * from "./state-store.js";
