/* Timers and microtasks: setTimeout/clearTimeout, setInterval/clearInterval, queueMicrotask.
 * Timers exist in actions only (queries and mutations throw Convex's error). They live in this
 * queue, which belongs to the running action: the C side (src/js/timers.c) calls timersRun()
 * while the action's promise is pending, sleeping until the next one is due, within the
 * action's time limit. A new action starts with an empty queue (timers an earlier one left
 * never fire). Bounded: at most MAX_TIMERS pending at once. */

const MAX_TIMERS = 1000;
const TIMEOUT_MAX = 2147483647;
const timerQueue = new Map(); /* id -> {when, seq, fn, args, interval} */
let timerExec = -1;           /* the execution (params[4]) the queue belongs to */
let timerNextId = 1, timerSeq = 0;

function timerOwn() {
    if (timerExec !== params[4]) {
        timerQueue.clear();
        timerExec = params[4];
    }
}

function addTimer(what, fn, delay, args, repeat) {
    if (mode !== ACTION)
        throw new Error(`Can't use ${what} in queries and mutations. Please consider using an ` +
            `action.`);
    if (typeof fn !== "function") throw argTypeError("callback", "of type function", fn);
    timerOwn();
    if (timerQueue.size >= MAX_TIMERS) {
        const e = new RangeError(`${what}: too many pending timers (at most ${MAX_TIMERS} ` +
            `per action)`);
        e.code = "TooManyTimers";
        throw e;
    }
    let ms = Number(delay);
    if (!(ms >= 1 && ms <= TIMEOUT_MAX)) ms = 1; /* as Node: NaN, < 1 and > 2^31-1 mean 1 */
    const id = timerNextId++;
    timerQueue.set(id, { when: realNow() + ms, seq: timerSeq++, fn, args,
                         interval: repeat ? ms : 0 });
    return id;
}

function clearTimer(id) {
    if (timerExec === params[4]) timerQueue.delete(Number(id));
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

/* From C, two calls per step: timersRun(false) returns the ms until the next timer is due, or
 * -1 when none is left; timersRun(true) fires the timers due now, in time order. Two calls,
 * because JSC runs the microtasks a callback queued (which may set new timers) only as the
 * call returns. An exception in a callback is logged and does not stop the action (as browsers
 * and workerd report it). */
function timersRun(fire) {
    timerOwn();
    if (!fire) {
        let next = -1;
        for (const t of timerQueue.values())
            if (next < 0 || t.when < next) next = t.when;
        return next < 0 ? -1 : Math.max(0, next - realNow());
    }
    const now = realNow();
    const due = [];
    for (const [id, t] of timerQueue) if (t.when <= now) due.push([id, t]);
    due.sort((a, b) => a[1].when - b[1].when || a[1].seq - b[1].seq);
    for (const [id, t] of due) {
        if (timerQueue.get(id) !== t) continue; /* cleared by an earlier callback */
        if (t.interval) {
            t.when = realNow() + t.interval;
            t.seq = timerSeq++;
        } else {
            timerQueue.delete(id);
        }
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

globalThis.__vr_internal.timers = timersRun; /* runtime.c takes it with run and load */
