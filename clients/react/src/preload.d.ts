// Types of preload.js: preloadQuery over POST /api/query and the Preloaded token.

import type { FunctionReference, Args } from "@vireo/client";

/** preloadQuery's token (Convex's Preloaded shape): JSON-serializable; values in Convex's JSON
 * encoding. `T` is the query's result type. */
export interface Preloaded<T = any> {
    readonly __type?: T;
    _name: string;
    _argsJSON: string;
    _valueJSON: string;
    /** The store version the query read at (null if the server sent none). */
    _version?: number | null;
}

export interface PreloadOptions {
    /** Sent with the request, e.g. `{ Authorization: "Bearer <jwt>" }`. */
    headers?: Record<string, string>;
    /** Replaces globalThis.fetch. */
    fetch?: typeof fetch;
}

export class PreloadError extends Error {
    /** The server's errorCode ("FunctionNotFound", "InvalidToken", …), or "PreloadFailed". */
    code: string;
    data: unknown;
    /** HTTP status of the answer. */
    status: number;
}

type ArgsOf<F> = F extends { _args: infer A } ? A : Args;
type ReturnOf<F> = F extends { _returnType: infer R } ? R : any;

/** Runs the query once on the server at `url` (http(s) base URL or the ws(s) sync URL). */
export function preloadQuery<F extends FunctionReference>(
    url: string,
    query: F,
    args?: ArgsOf<F>,
    options?: PreloadOptions,
): Promise<Preloaded<ReturnOf<F>>>;
export function preloadedQueryResult<T>(preloaded: Preloaded<T>): T;
export function preloadedQueryArgs(preloaded: Preloaded<any>): Args;
/** `<url>/api/query`. */
export function queryUrl(url: string): string;
