// React hooks for live actors (Zocket's @zocket/react): createZocketReact() makes a context and the
// hooks bound to it — ZocketProvider, useClient, useActor, useActorState, useEvent,
// useConnectionStatus. The client is @vireo/client's createClient. Built on useSyncExternalStore;
// StrictMode-safe: render never takes a reference (useActor's handle holds none), the effect
// does, and the client disposes an instance only one tick after its last reference is released.

import {
    createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef,
    useSyncExternalStore,
} from "react";

/** Equal, or arrays / plain objects with the same length and identical entries. */
export function shallowEqual(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    if (Array.isArray(a)) {
        if (a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
        return true;
    }
    const pa = Object.getPrototypeOf(a);
    if ((pa !== Object.prototype && pa !== null) || Object.getPrototypeOf(b) !== pa) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !Object.is(a[k], b[k])) return false;
    return true;
}

/** Creates a provider and hooks with their own context (one per app/server). */
export function createZocketReact() {
    const ClientContext = createContext(null);
    ClientContext.displayName = "ZocketClient";

    function ZocketProvider({ client, children }) {
        return createElement(ClientContext.Provider, { value: client ?? null }, children);
    }

    function useClient() {
        const client = useContext(ClientContext);
        if (!client) throw new Error("useClient must be used within <ZocketProvider>");
        return client;
    }

    /**
     * The handle of actor `actorName` instance `actorId`, stable while (client, name, id) are.
     * The component holds one reference from mount to unmount (or until name/id change).
     */
    function useActor(actorName, actorId) {
        const client = useClient();
        const handle = useMemo(
            () => client.actor(actorName).get(actorId, { retain: false }),
            [client, actorName, actorId],
        );
        useEffect(() => {
            const held = client.actor(actorName).get(actorId);
            return () => held.meta.dispose();
        }, [client, actorName, actorId]);
        return handle;
    }

    return {
        ZocketProvider,
        useClient,
        useActor,
        useActorState,
        useEvent,
        useConnectionStatus: () => useConnectionStatusOf(useClient()),
    };
}

/**
 * The handle's state, or `selector(state)`; undefined until the first snapshot. The selection is
 * recomputed when the state or the selector changes, and a result shallowly equal to the last
 * one is returned as the last one (no re-render).
 */
export function useActorState(handle, selector) {
    const selectorRef = useRef(selector);
    selectorRef.current = selector;
    const cache = useRef(null); // { handle, state, selector, selected }

    const subscribe = useCallback((onStoreChange) => handle.state.subscribe(() => onStoreChange()), [handle]);

    const getSnapshot = () => {
        const state = handle.state.getSnapshot();
        if (state === undefined) return undefined;
        const sel = selectorRef.current;
        if (!sel) return state;
        const c = cache.current;
        if (c && c.handle === handle && c.state === state && c.selector === sel) return c.selected;
        let selected = sel(state);
        if (c && c.handle === handle && shallowEqual(c.selected, selected)) selected = c.selected;
        cache.current = { handle, state, selector: sel, selected };
        return selected;
    };

    return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** Calls `callback(payload)` for each `event` of the handle while mounted; the latest callback
 * is used (no stale closures) without re-subscribing. */
export function useEvent(handle, event, callback) {
    const ref = useRef(callback);
    ref.current = callback;
    useEffect(() => handle.on(event, (payload) => ref.current(payload)), [handle, event]);
}

const serverStatus = () => "connecting";

function useConnectionStatusOf(client) {
    const subscribe = useCallback((onChange) => client.connection.subscribe(() => onChange()), [client]);
    const getSnapshot = useCallback(() => client.connection.status, [client]);
    return useSyncExternalStore(subscribe, getSnapshot, serverStatus);
}
