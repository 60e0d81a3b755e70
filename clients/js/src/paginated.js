// PaginatedQuery: a growing live list over a paginated query (Convex's usePaginatedQuery, without a
// framework). Each page is a live subscription of the client with args
// {...args, paginationOpts: {numItems, cursor, endCursor?}}; page i+1 starts at page i's
// continueCursor, and a page's end is fixed (endCursor = the continueCursor of its first result)
// as soon as that result arrives, so pages neither overlap nor leave gaps while rows come and go.
// A page is swapped for its replacement (the fixed page, or the two halves of a split) only once
// every replacement has a result, so the list never flashes.

import { ClientError } from "./errors.js";

const LOADING_FIRST = "LoadingFirstPage";
const MAX_RESTARTS = 5; // InvalidCursor restarts in a row before the error is reported instead

function invalidCursor(err) {
    return err?.code === "InvalidCursor" || /InvalidCursor/.test(String(err?.message));
}

function isPaginationResult(v) {
    return v !== null && typeof v === "object" && Array.isArray(v.page) &&
        typeof v.isDone === "boolean" && typeof v.continueCursor === "string";
}

/** Structural equality of decoded values (plain objects, arrays, ArrayBuffers, primitives). */
function same(a, b) {
    if (a === b) return true;
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a)) {
        if (!Array.isArray(b) || a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
        return true;
    }
    if (a instanceof ArrayBuffer || b instanceof ArrayBuffer) {
        if (!(a instanceof ArrayBuffer && b instanceof ArrayBuffer) || a.byteLength !== b.byteLength)
            return false;
        const x = new Uint8Array(a), y = new Uint8Array(b);
        return x.every((v, i) => v === y[i]);
    }
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}

export class PaginatedQuery {
    /** Use client.paginatedQuery(); `args` without paginationOpts (added here). */
    constructor(client, path, args, options) {
        const n = options?.initialNumItems;
        if (typeof n !== "number" || !(n > 0))
            throw new TypeError(
                `\`options.initialNumItems\` must be a positive number. Received \`${n}\`.`);
        this._client = client;
        this._path = path;
        const { paginationOpts: _, ...rest } = args ?? {};
        this._args = rest;
        this._initialNumItems = n;
        this._listeners = new Set();
        this._slots = []; // the pages shown, in order: {q, next: [q] | [q, q] | null}
        this._restarting = false; // a restart's first page has no result yet: keep the old state
        this._restarts = 0;
        this._queued = false;
        this._reported = null; // the last error given to onError
        this._shown = []; // page values of the current state (to skip unchanged states)
        this._state = this._snapshot([], LOADING_FIRST, null);
    }

    /** The current {results, status, isLoading, loadMore, error}. */
    get current() {
        return this._state;
    }

    /**
     * Calls `callback(state)` on every change (with the current state in a microtask if pages are
     * already loaded). The first subscriber starts the page subscriptions, the last one's
     * unsubscribe releases them all (and a later subscribe starts again from the first page).
     */
    subscribe(callback, onError) {
        this._client._checkOpen();
        const sub = { callback, onError, active: true };
        this._listeners.add(sub);
        if (this._listeners.size === 1 && this._slots.length === 0) this._start();
        else if (this._state.status !== LOADING_FIRST || this._state.error)
            queueMicrotask(() => sub.active && this._deliver(sub, this._state, this._state.error));
        return () => {
            if (!sub.active) return;
            sub.active = false;
            this._listeners.delete(sub);
            if (this._listeners.size === 0) this._stop();
        };
    }

    /** Loads `numItems` more items after the last page; only when the status is CanLoadMore. */
    loadMore(numItems) {
        if (this._state.status !== "CanLoadMore" || this._restarting) return false;
        const last = this._slots.at(-1);
        const v = this._value(last.q);
        this._slots.push({ q: this._open({ numItems, cursor: v.continueCursor }), next: null });
        this._update();
        return true;
    }

    // ---- pages --------------------------------------------------------------------------------

    _start() {
        this._slots = [{ q: this._open({ numItems: this._initialNumItems, cursor: null }), next: null }];
    }

    _stop() {
        for (const s of this._slots) this._closeSlot(s);
        this._slots = [];
        this._restarting = false;
        this._restarts = 0;
        this._reported = null;
        this._shown = [];
        this._state = this._snapshot([], LOADING_FIRST, null);
    }

    _open(opts) {
        const q = { opts, fixed: opts.endCursor !== undefined, first: undefined, good: undefined,
                    value: undefined, error: null, closed: false, unsub: null };
        const args = { ...this._args, paginationOpts: opts };
        q.unsub = this._client.subscribe(this._path, args, (v) => {
            if (q.closed) return;
            if (!isPaginationResult(v)) {
                q.error = new ClientError(`paginatedQuery: ${this._path} did not return a ` +
                                          "pagination result ({page, isDone, continueCursor})",
                                          "NotPaginated");
            } else {
                q.value = v;
                q.error = null;
                if (q.first === undefined) q.first = v;
                if (v.pageStatus !== "SplitRequired") q.good = v;
            }
            this._changed();
        }, (err) => {
            if (q.closed) return;
            q.error = err;
            this._changed();
        });
        return q;
    }

    _close(q) {
        if (q.closed) return;
        q.closed = true;
        q.unsub();
    }

    _closeSlot(s) {
        this._close(s.q);
        for (const q of s.next ?? []) this._close(q);
    }

    /** What a page shows: an unfixed page keeps its first result until its fixed replacement
     * arrives (a later result may have moved its end, which the next page starts at); a page
     * that became SplitRequired (cut short) keeps its last whole result until its halves arrive. */
    _value(q) {
        return q.fixed ? q.good : q.first;
    }

    // Changes of one transition arrive as several callbacks: handle them once, after them all
    // (and before a mutation waiting for that transition resolves).
    _changed() {
        if (this._queued) return;
        this._queued = true;
        queueMicrotask(() => {
            this._queued = false;
            if (this._slots.length) this._update();
        });
    }

    _restart() {
        for (const s of this._slots) this._closeSlot(s);
        this._restarts++;
        this._restarting = true;
        this._start();
    }

    _update() {
        const all = this._slots.flatMap((s) => [s.q, ...(s.next ?? [])]);
        const bad = all.find((q) => q.error && invalidCursor(q.error));
        if (bad && (bad.opts.cursor !== null || bad.opts.endCursor !== undefined) &&
            this._restarts < MAX_RESTARTS) {
            this._restart();
            return;
        }
        // A replacement cut short (SplitRequired) is split in turn before it is shown; the
        // replacements are swapped in once they all have a whole result.
        for (const s of this._slots) {
            if (!s.next) continue;
            s.next = s.next.flatMap((q) => {
                if (q.value?.pageStatus !== "SplitRequired") return [q];
                const halves = this._halves(q);
                if (!halves) return [q];
                this._close(q);
                return halves.map((o) => this._open(o));
            });
        }
        const slots = [];
        for (const s of this._slots) {
            if (s.next && s.next.every((q) => q.value !== undefined && !q.error &&
                                             (q.good !== undefined || !this._halves(q)))) {
                this._close(s.q);
                for (const q of s.next) slots.push({ q, next: null });
            } else {
                slots.push(s);
            }
        }
        this._slots = slots;
        // Fix the end of each page that has its first result; split pages that grew too big.
        for (const s of slots) {
            const v = s.q.value;
            if (s.next || v === undefined || s.q.error) continue;
            const o = s.q.opts;
            if (!s.q.fixed) {
                s.next = [this._open({ ...o, endCursor: s.q.first.continueCursor })];
            } else if (v.pageStatus === "SplitRecommended" || v.pageStatus === "SplitRequired" ||
                       v.page.length > 2 * o.numItems) {
                const halves = this._halves(s.q);
                if (halves) s.next = halves.map((h) => this._open(h));
            }
        }
        if (slots[0].q.fixed && slots[0].q.value !== undefined) this._restarts = 0;
        this._publish(all);
    }

    /** The opts of a fixed page's two halves at its splitCursor, or null if it has none. */
    _halves(q) {
        const o = q.opts, v = q.value;
        const at = v?.splitCursor;
        if (typeof at !== "string" || at === o.cursor || at === v.continueCursor) return null;
        return [{ ...o, endCursor: at }, { ...o, cursor: at, endCursor: v.continueCursor }];
    }

    _publish(all) {
        const results = [];
        const shown = [];
        let last, error = null, loaded = 0;
        for (const s of this._slots) {
            const v = this._value(s.q);
            if (s.q.error) {
                error = s.q.error;
                last = undefined;
                break;
            }
            if (v === undefined) { // not loaded yet, or cut short (SplitRequired) from the start
                last = undefined;
                break;
            }
            results.push(...v.page);
            shown.push(v.page);
            last = v;
            loaded++;
        }
        error ??= all.find((q) => q.error && !q.closed)?.error ?? null;
        if (this._restarting) {
            if (loaded === 0 && !error) return; // keep showing the old pages meanwhile
            this._restarting = false;
        }
        const status = last === undefined ? (loaded === 0 ? LOADING_FIRST : "LoadingMore")
            : last.isDone ? "Exhausted" : "CanLoadMore";
        const prev = this._state;
        if (status === prev.status && error === prev.error && shown.length === this._shown.length &&
            shown.every((p, i) => same(p, this._shown[i])))
            return;
        this._shown = shown;
        this._state = this._snapshot(results, status, error);
        const report = error && error !== this._reported ? error : null;
        if (report) this._reported = error;
        for (const sub of [...this._listeners]) if (sub.active) this._deliver(sub, this._state, report);
    }

    _snapshot(results, status, error) {
        return Object.freeze({
            results, status, error,
            isLoading: status === LOADING_FIRST || status === "LoadingMore",
            loadMore: (numItems) => this.loadMore(numItems),
        });
    }

    _deliver(sub, state, error) {
        try {
            if (error) {
                if (sub.onError) sub.onError(error);
                else console.error(`vireo: paginated query ${this._path} failed:`, error);
            }
            sub.callback?.(state);
        } catch (e) {
            console.error("vireo: paginated query callback threw", e);
        }
    }
}
