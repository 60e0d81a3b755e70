// Types of the actor client (actors.js): Zocket's createClient, ActorHandle and ClientApi, inferred
// from the app's type (`createClient<typeof app>(...)`, `app` = `createApp({ actors })`).

import type { WebSocketConstructor } from "./index.js";

export type Unsubscribe = () => void;

/** What a schema produces: Standard Schema (Zod 4, Valibot, ArkType) or a Vireo/Convex `v.*`. */
export type InferSchema<S> = S extends { readonly "~standard": { readonly types?: infer T } }
    ? NonNullable<T> extends { readonly output: infer O }
        ? O
        : unknown
    : S extends { readonly isConvexValidator: true; readonly type: infer T }
      ? T
      : unknown;

/** The configuration of an actor definition: `actor({...})` as Zocket returns it (`{config}`) or
 * the config object itself. */
type ConfigOf<A> = A extends { readonly config: infer C } ? C : A;

type IsAny<T> = 0 extends 1 & T ? true : false;

export interface RpcOptions {
    /** Overrides the client's rpcTimeout for this call (ms; 0 = none). */
    timeout?: number;
    /** Called with each `rpc:stream` chunk the method sends before its result. */
    onChunk?: (chunk: any) => void;
    /** Aborting it rejects the call with the signal's reason and sends `rpc:cancel` (Vireo's
     * extension: the server cancels a streaming method, and aborts the method's `signal`). */
    signal?: AbortSignal;
}

type MethodFn<M> = M extends { readonly input: infer I; readonly handler: (...args: any[]) => infer R }
    ? undefined extends I
        ? (input?: InferSchema<Exclude<I, undefined>>, options?: RpcOptions) => Promise<Awaited<R>>
        : (input: InferSchema<I>, options?: RpcOptions) => Promise<Awaited<R>>
    : M extends { readonly handler: (...args: any[]) => infer R }
      ? (input?: undefined, options?: RpcOptions) => Promise<Awaited<R>>
      : M extends (...args: any[]) => infer R
        ? (input?: unknown, options?: RpcOptions) => Promise<Awaited<R>>
        : never;

export type InferState<A> = ConfigOf<A> extends { readonly state: infer S } ? InferSchema<S> : unknown;

export type InferMethods<A> = ConfigOf<A> extends { readonly methods: infer M }
    ? { [K in keyof M]: MethodFn<M[K]> }
    : {};

export type InferEvents<A> = ConfigOf<A> extends { readonly events: infer E }
    ? { [K in keyof E]: (payload: InferSchema<E[K]>) => void }
    : {};

export interface ActorHandleMeta {
    /** The actor name, e.g. "chat". */
    readonly name: string;
    /** The instance id, e.g. "room-1". */
    readonly id: string;
    /** Releases this handle's reference (once; later calls do nothing). The instance is disposed
     * one tick after its last reference is released. */
    dispose(): void;
}

interface HandleBase<TState, TEvents> {
    /** Listens to an event; the first listener of the handle sends `event:sub`, the last
     * unsubscribe `event:unsub`. */
    on<K extends keyof TEvents & string>(
        event: K,
        callback: TEvents[K] extends (payload: infer P) => void ? (payload: P) => void : (payload: any) => void,
    ): Unsubscribe;
    readonly state: {
        /** The first subscriber sends `state:sub` (the server answers with a snapshot); called
         * at once when a state is held, then after every snapshot and patch. */
        subscribe(listener: (state: TState) => void): Unsubscribe;
        /** The current state, or undefined before the first snapshot. */
        getSnapshot(): TState | undefined;
    };
    readonly meta: ActorHandleMeta;
    /** Calls a method by name (also one whose name is taken: `on`, `state`, `meta`). */
    $call(method: string, input?: unknown, options?: RpcOptions): Promise<any>;
    /** @deprecated Use `meta.name`. */
    readonly $actorName: string;
    /** @deprecated Use `meta.id`. */
    readonly $actorId: string;
    /** @deprecated Use `meta.dispose()`. */
    $dispose(): void;
}

/** The client-side handle of one actor instance: its methods as promises, plus `on`, `state`,
 * `meta`. */
export type ActorHandle<A = any> = IsAny<A> extends true
    ? HandleBase<any, Record<string, (payload: any) => void>> & {
          [method: string]: any;
      }
    : InferMethods<A> & HandleBase<InferState<A>, InferEvents<A>>;

type ActorsOf<TApp> = TApp extends { readonly actors: infer A } ? A : never;

export interface HandleOptions {
    /** false: a handle holding no reference (for render functions; `meta.dispose()` does
     * nothing). It works while another reference keeps the instance. Default true. */
    retain?: boolean;
}

/** `client.<actorName>(id)` for each actor of the app. */
export type ClientApi<TApp> = IsAny<TApp> extends true
    ? { [actorName: string]: (id: string) => ActorHandle<any> }
    : { [K in keyof ActorsOf<TApp>]: (id: string) => ActorHandle<ActorsOf<TApp>[K]> };

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface ClientConnection {
    /** Resolves when the first connection opens; rejects after connectTimeout, or on close(). */
    readonly ready: Promise<void>;
    readonly status: ConnectionStatus;
    /** The server's id for the current connection (its `welcome`), or undefined. */
    readonly clientId: string | undefined;
    subscribe(cb: (status: ConnectionStatus) => void): Unsubscribe;
    /** Stops reconnecting, disposes every handle, rejects pending RPCs ("WebSocket client
     * closed"), closes the socket. The client cannot be reused. */
    close(): void;
    /** A new identity (see ActorClientOptions.auth) now and for every reconnection; null signs
     * out. Resolves once the token is sent: calls made after that run with it. */
    setAuth(auth: ActorAuth): Promise<void>;
}

export interface ActorClientOptions {
    /** `ws://host:port/api/actors`; a URL without a path gets `/api/actors`; http(s) → ws(s). */
    url: string;
    /** Total ms for an RPC, waiting for a socket included. 0 = none. Default 10000. */
    rpcTimeout?: number;
    /** `connection.ready` rejects if the first connection is not open by then. Default 10000. */
    connectTimeout?: number;
    /** Reconnect after the socket drops. Default true. */
    reconnect?: boolean;
    /** A fixed reconnect delay (ms), instead of the backoff. */
    reconnectDelayMs?: number;
    /** Reconnect delay: min(maxMs, baseMs·2^(n−1)) + random(0, jitterMs). Default 250 / 2000 / 100. */
    backoff?: { baseMs?: number; maxMs?: number; jitterMs?: number };
    /** WebSocket implementation; default globalThis.WebSocket (absent on Node 20: pass `ws`). */
    WebSocket?: WebSocketConstructor;
    /** Server `error` frames, undecodable frames, listener exceptions, patches that do not
     * apply. Default: console.error. */
    onError?: (error: Error) => void;
    /** Jitter source. Default Math.random. */
    random?: () => number;
    /** The connection's identity (docs/actors.md, "Protocol"): a JWT, or a function returning one
     * (or a promise of one), asked on every connect and again when the server reports the token
     * expired. Sent as {type:"auth"} before anything else on each connection. */
    auth?: ActorAuth;
}

export type ActorAuth = string | null | (() => string | null | undefined | Promise<string | null | undefined>);

export type ActorClient<TApp = any> = ClientApi<TApp> & {
    readonly connection: ClientConnection;
    /** `client.actor("chat").get("room-1")` is `client.chat("room-1")`. */
    actor<K extends keyof ActorsOf<TApp> & string>(
        name: IsAny<TApp> extends true ? string : K,
    ): { get(id: string, options?: HandleOptions): ActorHandle<IsAny<TApp> extends true ? any : ActorsOf<TApp>[K]> };
    readonly $ready: Promise<void>;
    readonly $status: ConnectionStatus;
    $close(): void;
    /** connection.setAuth: a new identity now and for every reconnection (null signs out). */
    $setAuth(auth: ActorAuth): Promise<void>;
    on(event: "status", cb: (status: ConnectionStatus) => void): Unsubscribe;
};

export function createClient<TApp = any>(options: ActorClientOptions): ActorClient<TApp>;
export { createClient as createActorClient };

export function actorsUrl(url: string): string;
export function rpcId(): string;
export declare const ACTORS_PATH: "/api/actors";
export declare const DEFAULT_ACTOR_BACKOFF: Readonly<{ baseMs: number; maxMs: number; jitterMs: number }>;
