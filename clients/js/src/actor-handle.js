// Actor handles of the actor client (actors.js). One ActorInstance per (actor name, id) holds the
// event listeners, the StateStore and the reference count; the event and state subscriptions on
// the server are lazy (the first listener sends `event:sub` / `state:sub`, the last one's removal
// the `…:unsub`). What users hold are handle objects: Proxies over (client, name, id) whose
// property reads become method calls (`room.sendMessage(input)`), plus `on`, `state`, `meta`.
// A handle from `client.chat(id)` holds one reference, released once by `meta.dispose()`; the
// instance is disposed one tick after its count reaches zero (React StrictMode re-retains it in
// between). A handle made with `{ retain: false }` holds none and finds the instance by key.

import { StateStore } from "./state-store.js";

export class ActorInstance {
    constructor(client, name, id) {
        this.client = client;
        this.name = name;
        this.id = id;
        this.refs = 0;
        this.disposed = false;
        this.eventListeners = new Map(); // event name → Set of { fn }
        this.eventCount = 0;
        this.eventSubscribed = false;
        this.store = new StateStore((e) => client._reportError(e));
        this.stateSubscribed = false;
    }

    _frame(type) {
        return { type, actor: this.name, actorId: this.id };
    }

    on(event, fn) {
        if (typeof event !== "string") throw new TypeError(`event name must be a string, got ${typeof event}`);
        if (typeof fn !== "function") throw new TypeError("event listener must be a function");
        if (this.disposed) return () => {};
        if (!this.eventSubscribed) {
            this.eventSubscribed = true;
            this.client._send(this._frame("event:sub"));
        }
        let set = this.eventListeners.get(event);
        if (!set) this.eventListeners.set(event, (set = new Set()));
        const entry = { fn };
        set.add(entry);
        this.eventCount++;
        let active = true;
        return () => {
            if (!active) return;
            active = false;
            if (this.disposed || !set.delete(entry)) return;
            if (set.size === 0 && this.eventListeners.get(event) === set) this.eventListeners.delete(event);
            if (--this.eventCount === 0 && this.eventSubscribed) {
                this.eventSubscribed = false;
                this.client._send(this._frame("event:unsub"));
            }
        };
    }

    subscribeState(listener) {
        if (typeof listener !== "function") throw new TypeError("state listener must be a function");
        if (this.disposed) return () => {};
        if (!this.stateSubscribed) {
            this.stateSubscribed = true;
            this.client._send(this._frame("state:sub"));
        }
        const unsub = this.store.subscribe(listener);
        let active = true;
        return () => {
            if (!active) return;
            active = false;
            unsub();
            if (!this.disposed && this.store.subscriberCount === 0 && this.stateSubscribed) {
                this.stateSubscribed = false;
                this.client._send(this._frame("state:unsub"));
            }
        };
    }

    /** After (re)connecting: re-sends the active subscriptions (the server sends a snapshot). */
    sync() {
        if (this.eventSubscribed) this.client._send(this._frame("event:sub"));
        if (this.stateSubscribed) this.client._send(this._frame("state:sub"));
    }

    /** An `event`, `state:snapshot` or `state:patch` frame for this instance. */
    receive(msg) {
        if (this.disposed) return;
        if (msg.type === "event") {
            const set = this.eventListeners.get(msg.event);
            if (!set) return;
            for (const entry of [...set]) {
                if (!set.has(entry)) continue;
                try {
                    entry.fn(msg.payload);
                } catch (e) {
                    this.client._reportError(e);
                }
            }
        } else if (msg.type === "state:snapshot") {
            // applied even after the last state:unsub went out (frames in flight): the copy
            // stays as of the unsubscribe, and a re-subscribe shows that until its snapshot
            this.store.setSnapshot(msg.state);
        } else if (msg.type === "state:patch") {
            try {
                this.store.applyPatches(msg.patches);
            } catch (e) {
                // The local copy would diverge: report it and ask for a fresh snapshot.
                const err = new Error(`state of ${this.name}/${this.id}: ${e.message}; re-subscribing for a fresh snapshot`);
                err.cause = e;
                this.client._reportError(err);
                if (this.stateSubscribed) {
                    this.client._send(this._frame("state:unsub"));
                    this.client._send(this._frame("state:sub"));
                }
            }
        }
    }

    dispose() {
        if (this.disposed) return;
        this.disposed = true;
        if (this.eventSubscribed) {
            this.eventSubscribed = false;
            this.client._send(this._frame("event:unsub"));
        }
        if (this.stateSubscribed) {
            this.stateSubscribed = false;
            this.client._send(this._frame("state:unsub"));
        }
        this.eventListeners.clear();
        this.eventCount = 0;
        this.store.clear();
    }
}

const RESERVED = new Set(["on", "state", "meta", "$actorName", "$actorId", "$dispose", "$call"]);

/**
 * A handle object for (name, id) on `client`. `retained`: this handle holds one reference,
 * released by the first `meta.dispose()` (later calls do nothing).
 */
export function makeHandle(client, name, id, retained) {
    let released = !retained;
    const instance = () => client._instance(name, id);
    const dispose = () => {
        if (released) return;
        released = true;
        client._release(name, id);
    };
    const call = (method, input, opts) => client._rpc(name, id, method, input, opts);
    const meta = Object.freeze({ name, id, dispose });
    const state = Object.freeze({
        subscribe: (listener) => instance().subscribeState(listener),
        getSnapshot: () => client._existing(name, id)?.store.getState(),
    });
    const on = (event, fn) => instance().on(event, fn);
    const methods = new Map(); // stable functions: room.send === room.send
    const fixed = { on, state, meta, $actorName: name, $actorId: id, $dispose: dispose, $call: call };
    return new Proxy(Object.create(null), {
        get(_t, prop) {
            if (typeof prop !== "string" || prop === "then") return undefined; // not a thenable
            if (RESERVED.has(prop)) return fixed[prop];
            let fn = methods.get(prop);
            if (!fn) methods.set(prop, (fn = (input, opts) => call(prop, input, opts)));
            return fn;
        },
        has(_t, prop) {
            return typeof prop === "string" && prop !== "then";
        },
        set() {
            return false;
        },
    });
}
