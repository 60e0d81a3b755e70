// Types of actors.js: Zocket's createZocketReact and hooks over @vireo/client's actor client.

import type { ReactNode, ReactElement } from "react";
import type { ActorClient, ActorHandle, ConnectionStatus, Unsubscribe } from "@vireo/client";

type ActorsOf<TApp> = TApp extends { readonly actors: infer A } ? A : never;
type IsAny<T> = 0 extends 1 & T ? true : false;
type ActorNames<TApp> = IsAny<TApp> extends true ? string : keyof ActorsOf<TApp> & string;
type HandleOf<TApp, K> = IsAny<TApp> extends true
    ? ActorHandle<any>
    : K extends keyof ActorsOf<TApp>
      ? ActorHandle<ActorsOf<TApp>[K]>
      : never;

/** What the state and event hooks need of a handle (any ActorHandle has it). */
export interface HandleLike<TState = unknown> {
    on(event: any, callback: (payload: any) => void): Unsubscribe;
    readonly state: {
        subscribe(listener: (state: TState) => void): Unsubscribe;
        getSnapshot(): TState | undefined;
    };
}

type PayloadOf<H, E> = H extends { on(event: E, callback: (payload: infer P) => void): Unsubscribe } ? P : any;

export interface ZocketReact<TApp = any> {
    ZocketProvider(props: { client: ActorClient<TApp>; children?: ReactNode }): ReactElement;
    /** The client of the nearest ZocketProvider; throws outside one. */
    useClient(): ActorClient<TApp>;
    /** A stable handle of actorName/actorId; the component holds a reference while mounted. */
    useActor<K extends ActorNames<TApp>>(actorName: K, actorId: string): HandleOf<TApp, K>;
    useActorState: typeof useActorState;
    useEvent: typeof useEvent;
    /** "connecting" | "connected" | "reconnecting" | "disconnected"; re-renders on change. */
    useConnectionStatus(): ConnectionStatus;
}

export function createZocketReact<TApp = any>(): ZocketReact<TApp>;

/** The state (or selector(state)); undefined until the first snapshot. A selection shallowly
 * equal to the previous one is returned as the previous one. */
export function useActorState<TState>(handle: HandleLike<TState>): TState | undefined;
export function useActorState<TState, TSelected>(
    handle: HandleLike<TState>,
    selector: (state: TState) => TSelected,
): TSelected | undefined;

/** Listens to `event` while mounted; the latest callback is called. */
export function useEvent<H extends HandleLike<any>, E extends Parameters<H["on"]>[0]>(
    handle: H,
    event: E,
    callback: (payload: PayloadOf<H, E>) => void,
): void;

export function shallowEqual(a: unknown, b: unknown): boolean;
