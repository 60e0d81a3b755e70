// Types of state-store.js: the client's copy of an actor's state and its JSON-patch applier.

export interface JsonPatchOp {
    op: "add" | "replace" | "remove";
    /** RFC 6901 pointer: "/messages/0/text", "/players/-" (append). */
    path: string;
    value?: unknown;
}

/** "/a~1b/~0c" → ["a/b", "~c"]; "" → [] (the whole document). */
export function parsePointer(path: string): string[];
/** A new document with the patch applied (only the containers on its path are copied); `add` at an
 * array index sets it. Throws a TypeError when the path does not exist. */
export function applyPatch<T>(doc: T, patch: JsonPatchOp): T;
export function applyPatches<T>(doc: T, patches: JsonPatchOp[]): T;

export class StateStore<TState = unknown> {
    constructor(onError?: (error: unknown) => void);
    getState(): TState | undefined;
    setSnapshot(state: TState): void;
    applyPatches(patches: JsonPatchOp[]): void;
    subscribe(listener: (state: TState) => void): () => void;
    readonly subscriberCount: number;
    clear(): void;
}
