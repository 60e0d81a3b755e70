/* Timers and microtasks: setTimeout/clearTimeout, setInterval/clearInterval, queueMicrotask.
 * Timers exist in actions and in actor methods (47_actors.js keeps those of a suspended actor
 * call); queries and mutations throw Convex's error. They live in this
 * queue, each owned by the action execution (params[4]) that set it: an action worker's event
 * loop (src/js/exec.c, js_exec_check) asks when the next one is due and fires them in the
 * owner's turn; when an execution finishes its timers are dropped (timers an earlier action left
 * never fire). The blocking path (src/js/timers.c, an action run by js_call) uses the same
 * queue. Bounded: at most MAX_TIMERS pending per action. */

const MAX_TIMERS = 1000;
const TIMEOUT_MAX = 2147483647;
const timerQueue = new Map(); /* id -> {when, seq, fn, args, interval, owner} */
const timerCounts = new Map(); /* owner -> timers pending */
let timerNextId = 1, timerSeq = 0;

function timerDelete(id) {
    const t = timerQueue.get(id);
    if (!t) return;
    timerQueue.delete(id);
    const n = timerCounts.get(t.owner) - 1;
    if (n > 0) timerCounts.set(t.owner, n);
    else timerCounts.delete(t.owner);
}

function addTimer(what, fn, delay, args, repeat) {
    if (mode !== ACTION && actorTimerOwner() !== null) /* an actor method (47_actors.js) */
        return actorTimerOwner().addTimer(what, fn, delay, args, repeat);
    if (mode !== ACTION)
        throw new Error(`Can't use ${what} in queries and mutations. Please consider using an ` +
            `action.`);
    if (typeof fn !== "function") throw argTypeError("callback", "of type function", fn);
    const owner = params[4];
    if ((timerCounts.get(owner) || 0) >= MAX_TIMERS) {
        const e = new RangeError(`${what}: too many pending timers (at most ${MAX_TIMERS} ` +
            `per action)`);
        e.code = "TooManyTimers";
        throw e;
    }
    let ms = Number(delay);
    if (!(ms >= 1 && ms <= TIMEOUT_MAX)) ms = 1; /* as Node: NaN, < 1 and > 2^31-1 mean 1 */
    const id = timerNextId++;
    timerQueue.set(id, { when: realNow() + ms, seq: timerSeq++, fn, args,
                         interval: repeat ? ms : 0, owner });
    timerCounts.set(owner, (timerCounts.get(owner) || 0) + 1);
    return id;
}

function clearTimer(id) {
    if (mode !== ACTION && actorTimerOwner() !== null) {
        actorTimerOwner().timers.delete(Number(id));
        return;
    }
    const t = timerQueue.get(Number(id));
    if (t && t.owner === params[4]) timerDelete(Number(id));
}

globalThis.setTimeout = function setTimeout(callback, delay, ...args) {
    return addTimer("setTimeout", callback, delay, args, false);
};
globalThis.setInterval = function setInterval(callback, delay, ...args) {
    return addTimer("setInterval", callback, delay, args, true);
};
globalThis.clearTimeout = function clearTimeout(id) { clearTimer(id); };
globalThis.clearInterval = function clearInterval(id) { clearTimer(id); };

function reportUncaught(e, where) {
    try {
        console.error(`Uncaught exception in ${where}:`, e);
    } catch (x) {
        /* the log is best effort */
    }
}

/* From C. cmd 0 (or false): the ms until the next timer is due, or -1 when none is left;
 * cmd 1 (or true): fires the timers due now, in time order (only those of execution `owner` when
 * it is given); cmd 2: the owner of the earliest due timer, or -1; cmd 3: drops the timers of
 * `owner`; cmd 4: how many `owner` has; cmd 5: the ms until `owner`'s next timer, or -1. Firing is its own call because JSC runs the microtasks a
 * callback queued (which may set new timers) only as the call returns. An exception in a
 * callback is logged and does not stop the action (as browsers and workerd report it). */
function timersRun(cmd, owner) {
    cmd = Number(cmd);
    if (cmd === 0) {
        let next = -1;
        for (const t of timerQueue.values())
            if (next < 0 || t.when < next) next = t.when;
        return next < 0 ? -1 : Math.max(0, next - realNow());
    }
    if (cmd === 2) {
        const now = realNow();
        let best = null;
        for (const t of timerQueue.values())
            if (t.when <= now && (best === null || t.when < best.when ||
                                  (t.when === best.when && t.seq < best.seq))) best = t;
        return best === null ? -1 : best.owner;
    }
    if (cmd === 3) {
        for (const [id, t] of timerQueue) if (t.owner === owner) timerDelete(id);
        return undefined;
    }
    if (cmd === 4) return timerCounts.get(owner) || 0;
    if (cmd === 5) {
        let next = -1;
        for (const t of timerQueue.values())
            if (t.owner === owner && (next < 0 || t.when < next)) next = t.when;
        return next < 0 ? -1 : Math.max(0, next - realNow());
    }
    const now = realNow();
    const due = [];
    for (const [id, t] of timerQueue)
        if (t.when <= now && (owner === undefined || t.owner === owner)) due.push([id, t]);
    due.sort((a, b) => a[1].when - b[1].when || a[1].seq - b[1].seq);
    if (owner !== undefined) execEnter(owner);
    for (const [id, t] of due) {
        if (timerQueue.get(id) !== t) continue; /* cleared by an earlier callback */
        if (t.interval) {
            t.when = realNow() + t.interval;
            t.seq = timerSeq++;
        } else {
            timerDelete(id);
        }
        params[4] = t.owner;
        try {
            t.fn.apply(undefined, t.args);
        } catch (e) {
            reportUncaught(e, t.interval ? "setInterval callback" : "setTimeout callback");
        }
    }
    return undefined;
}

if (typeof globalThis.queueMicrotask !== "function") {
    globalThis.queueMicrotask = function queueMicrotask(callback) {
        if (typeof callback !== "function") throw argTypeError("callback", "of type function",
                                                                callback);
        Promise.resolve().then(() => {
            try {
                callback();
            } catch (e) {
                reportUncaught(e, "queueMicrotask callback");
            }
        });
    };
}

/* runtime.c takes it with run and load; firing (cmd 1) runs app code: watched (50_functions.js) */
globalThis.__vr_internal.timers = watched(timersRun, (cmd) => Number(cmd) === 1);
