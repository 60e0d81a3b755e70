/* scheduler: ctx.scheduler (Convex's runAfter, runAt, cancel). In a mutation a scheduled job is a
 * document of `_scheduled_functions` written in the mutation's own transaction
 * (native.schedule), so a mutation that fails schedules nothing. An action schedules through the
 * built-in internal mutations `_system/scheduler:schedule` and `:cancel` (SYSTEM_FUNCTIONS),
 * run like its ctx.runMutation calls. Argument checks and their texts are Convex's. */

const SCHEDULE_PATH = "_system/scheduler:schedule";
const CANCEL_PATH = "_system/scheduler:cancel";

function schedulerArgs(args) {
    if (args === undefined) return {};
    const proto = args !== null && typeof args === "object" ? Object.getPrototypeOf(args) : 0;
    if (proto !== Object.prototype && proto !== null)
        throw new Error(`The arguments to a Convex function must be an object. Received: ${args}`);
    return args;
}

function runAfterTime(delayMs) {
    if (typeof delayMs !== "number") throw new Error("`delayMs` must be a number");
    if (!isFinite(delayMs)) throw new Error("`delayMs` must be a finite number");
    if (delayMs < 0) throw new Error("`delayMs` must be non-negative");
    return Date.now() + delayMs;
}

function runAtTime(t) {
    let ts;
    if (t instanceof RealDate) ts = t.valueOf();
    else if (typeof t === "number") ts = t;
    else throw new Error("The invoke time must a Date or a timestamp");
    if (!isFinite(ts)) throw new Error("The invoke time must be a finite timestamp");
    return ts;
}

function checkJobId(id) {
    if (typeof id !== "string")
        throw new Error(`Invalid argument \`id\` for \`cancel\`: expected an Id<"_scheduled_` +
            `functions">, got ${describeType(id)}`);
    return id;
}

/* The namespace whose `_scheduled_functions` a scheduler writes: a component's ctx.scheduler
 * calls the shared methods on an object carrying its own (54_components.js); "" the app's.
 * A symbol no app code has, so no code can name another namespace's table. */
const SCHED_NS = Symbol("scheduler namespace");
const schedNs = (self) => (self !== null && typeof self === "object" &&
    typeof self[SCHED_NS] === "string" ? self[SCHED_NS] : "");

/* Schedules in the running mutation's transaction: returns the job's id. */
function scheduleHere(ts, ref, args, ns) {
    const name = functionPath(ref);
    const text = encode(schedulerArgs(args), "scheduled function arguments");
    return ns === "" ? native.schedule(name, text, ts) : native.schedule(name, text, ts, ns);
}

const mutationScheduler = Object.freeze({
    async runAfter(delayMs, ref, args, ns = "") {
        return scheduleHere(runAfterTime(delayMs), ref, args, ns);
    },
    async runAt(t, ref, args, ns = "") { return scheduleHere(runAtTime(t), ref, args, ns); },
    async cancel(id, ns = "") { native.cancelJob(checkJobId(id), ns); },
});

function scheduleFromAction(ts, ref, args, ns) {
    let name, a;
    try {
        name = functionPath(ref);
        a = schedulerArgs(args);
    } catch (e) {
        return Promise.reject(e);
    }
    return runNested(MUTATION, SCHEDULE_PATH, { name, args: a, ts, ns });
}

const actionScheduler = Object.freeze({
    async runAfter(delayMs, ref, args) {
        return scheduleFromAction(runAfterTime(delayMs), ref, args, schedNs(this));
    },
    async runAt(t, ref, args) {
        return scheduleFromAction(runAtTime(t), ref, args, schedNs(this));
    },
    async cancel(id) {
        await runNested(MUTATION, CANCEL_PATH, { id: checkJobId(id), ns: schedNs(this) });
    },
});

/* Registered by load() beside the app's functions (internal: clients cannot call them). */
const SYSTEM_FUNCTIONS = [
    {
        path: SCHEDULE_PATH,
        handler: (ctx, a) => native.schedule(a.name, encode(a.args, "scheduled function " +
                                                            "arguments"), a.ts, a.ns),
    },
    { path: CANCEL_PATH, handler: (ctx, a) => { native.cancelJob(a.id, a.ns); return null; } },
];
