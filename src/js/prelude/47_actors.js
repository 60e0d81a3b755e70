/* actors: Zocket's live actors (docs/actors.md). The definition API (`actor`, `middleware`,
 * `createApp`, `setup`, exported to apps as `@zocket/core`), and the runtime the server drives
 * (src/proto/actors.c) through the internal mutation `_system/actors:run`, one operation per
 * call: an rpc, a connection's first touch (onConnect) or its end (onDisconnect), a snapshot,
 * a deactivation. An instance's state stays in this runtime between calls (it is "hot"); each
 * change is a draft with Immer's semantics finished into Immer's patches (46_draft.js: Immer's
 * bookkeeping in a fast mode for plain objects and arrays, Immer itself past it), and the new
 * state is stored as JSON text in the system table `_actors` in the same transaction as the
 * method's ctx.db writes. A call returns what the server sends once that transaction's batch is
 * on disk: the state patch to every state subscriber, then the events, then the rpc's result.
 * A call that throws changes nothing: its transaction rolls back and every instance it touched
 * gets its state from before the call back. A method that awaits timers or fetch runs in turns,
 * one transaction each ("suspended calls" below; operations "resume" and "end"). */

const ACTORS_RUN_PATH = "_system/actors:run";
const ACTORS_TIMER_PATH = "_system/actors:timer";
const TIMER_MIN_EVERY_MS = 10, TIMERS_MAX = 1000, TIMER_BUSY_RETRY_MS = 50;
const ACTOR_TAG = "ActorDef", APP_TAG = "AppDef";
const ACTOR_NAME_MAX = 128, ACTOR_ID_MAX = 512;
const ACTOR_CONFIG_KEYS = ["state", "methods", "events", "cron", "onActivate", "onDeactivate",
    "onConnect", "onDisconnect", "_middlewares"];

/* An error whose message is Zocket's exact text ("Unknown actor: chat"): the rpc:result's error
 * is the message alone. */
function actorError(message, code) {
    const e = new Error(message);
    e.code = code;
    return e;
}

function isSchema(x) {
    return x instanceof Validator || (x !== null && (typeof x === "object" ||
        typeof x === "function") && x["~standard"] !== undefined &&
        typeof x["~standard"].validate === "function");
}

function checkActorConfig(config, where) {
    if (config === null || typeof config !== "object")
        throw new TypeError(`${where}: expected an object {state, methods, ...}`);
    for (const k of Object.keys(config))
        if (!ACTOR_CONFIG_KEYS.includes(k))
            throw new TypeError(`${where}: unknown option \`${k}\` (options: ` +
                `${ACTOR_CONFIG_KEYS.slice(0, -1).join(", ")})`);
    if (!isSchema(config.state))
        throw new TypeError(`${where}: \`state\` must be a schema (a Standard Schema such as ` +
            "z.object({...}), or a v.* validator)");
    if (config.methods === null || typeof config.methods !== "object")
        throw new TypeError(`${where}: \`methods\` must be an object of {handler, input?}`);
    for (const m of Object.keys(config.methods)) {
        const d = config.methods[m];
        if (d === null || typeof d !== "object" || typeof d.handler !== "function")
            throw new TypeError(`${where}: method \`${m}\` needs a \`handler\` function`);
        if (d.input !== undefined && !isSchema(d.input))
            throw new TypeError(`${where}: method \`${m}\`'s \`input\` must be a schema`);
        if (d.stream !== undefined && d.stream !== true && d.stream !== false &&
            (d.stream === null || typeof d.stream !== "object" ||
             !(Number.isFinite(d.stream.interval) && d.stream.interval >= 1)))
            throw new TypeError(`${where}: method \`${m}\`'s \`stream\` must be true or ` +
                "{interval: ms} (at least 1)");
    }
    if (config.events !== undefined) {
        if (config.events === null || typeof config.events !== "object")
            throw new TypeError(`${where}: \`events\` must be an object of schemas`);
        for (const ev of Object.keys(config.events))
            if (!isSchema(config.events[ev]))
                throw new TypeError(`${where}: event \`${ev}\` must be a schema`);
    }
    if (config.cron !== undefined) {
        if (config.cron === null || typeof config.cron !== "object")
            throw new TypeError(`${where}: \`cron\` must be an object {method: {every: ms}}`);
        for (const m of Object.keys(config.cron)) {
            const c = config.cron[m];
            if (!Object.prototype.hasOwnProperty.call(config.methods, m))
                throw new TypeError(`${where}: cron names \`${m}\`, which is not a method`);
            if (c === null || typeof c !== "object" || !Number.isFinite(c.every) ||
                c.every < TIMER_MIN_EVERY_MS)
                throw new TypeError(`${where}: cron \`${m}\` needs {every: ms} of at least ` +
                    `${TIMER_MIN_EVERY_MS}`);
        }
    }
    for (const h of ["onActivate", "onDeactivate", "onConnect", "onDisconnect"])
        if (config[h] !== undefined && typeof config[h] !== "function")
            throw new TypeError(`${where}: \`${h}\` must be a function`);
}

function actor(config) {
    checkActorConfig(config, "actor()");
    return Object.freeze({ _tag: ACTOR_TAG, config });
}

class MiddlewareBuilder {
    constructor(middlewares) {
        this._middlewares = Object.freeze(middlewares || []);
        Object.freeze(this);
    }

    use(fn) {
        if (typeof fn !== "function")
            throw new TypeError("middleware().use(): expected a function");
        return new MiddlewareBuilder([...this._middlewares, fn]);
    }

    actor(config) {
        checkActorConfig(config, "middleware().actor()");
        return Object.freeze({ _tag: ACTOR_TAG,
                               config: { ...config, _middlewares: this._middlewares } });
    }
}

function middleware() { return new MiddlewareBuilder([]); }

function createApp(opts) {
    const actors = opts && opts.actors;
    if (actors === null || typeof actors !== "object")
        throw new TypeError("createApp(): expected {actors: {name: actor(...), ...}}");
    for (const name of Object.keys(actors)) {
        const d = actors[name];
        if (d === null || typeof d !== "object" || d._tag !== ACTOR_TAG)
            throw new TypeError(`createApp(): \`${name}\` is not an actor (made with actor() ` +
                "or middleware().actor())");
        if (name === "" || name.length > ACTOR_NAME_MAX || name.includes("\u0000"))
            throw new TypeError(`createApp(): actor name \`${name}\` must have 1 to ` +
                `${ACTOR_NAME_MAX} characters`);
    }
    return Object.freeze({ _tag: APP_TAG, actors: Object.freeze({ ...actors }) });
}

function setup(opts) {
    if (opts === null || typeof opts !== "object")
        throw new TypeError("setup(): expected {use: {name: actor(...), ...}}");
    return createApp({ actors: opts.use });
}

/* ---- loading: every exported AppDef of every module ---- */

let actorDefs = new Map(); /* name -> ActorDef of the running version */
const hotActors = new Map(); /* name + "\0" + id -> instance */
let immer = null;
/* Immer, evaluated on first use (46_draft.js switches a draft to it when its fast mode does not
 * serve an operation; array roots use it from the start) */
function actorImmer() {
    if (immer === null)
        immer = new (native.polyfill("immer")(Object.create(globalThis)).Immer)(
            { autoFreeze: false });
    return immer;
}

function actorsLoadBegin() { actorDefs = new Map(); }

function actorsLoadAdd(value, where) {
    if (value === null || typeof value !== "object" || value._tag !== APP_TAG) return;
    for (const name of Object.keys(value.actors)) {
        const prev = actorDefs.get(name);
        if (prev !== undefined && prev.def !== value.actors[name])
            throw new Error(`actors: two different actors are named \`${name}\` (${prev.where} ` +
                `and ${where})`);
        actorDefs.set(name, { def: value.actors[name], where });
    }
}

/* The running version's actors for the server, as JSON {name: {methods: [...]}}; null: none. */
function actorsLoadEnd() {
    hotActors.clear();
    if (actorDefs.size === 0) return null;
    const out = {};
    for (const [name, { def }] of actorDefs)
        out[name] = { methods: Object.keys(def.config.methods),
                      events: Object.keys(def.config.events || {}) };
    return JSON.stringify(out);
}

/* ---- schemas ---- */

async function checkSchema(schema, value) {
    if (schema instanceof Validator) {
        let text;
        try {
            text = encode(value, "value");
        } catch (e) {
            return { issues: [{ message: e.message }] };
        }
        const m = native.validate(JSON.stringify(schema.json), text);
        return m === null ? { value } : { issues: [{ message: m }] };
    }
    let r = schema["~standard"].validate(value);
    if (r !== null && typeof r === "object" && typeof r.then === "function") r = await r;
    if (r === null || typeof r !== "object")
        throw new TypeError("a Standard Schema's validate() returned no result");
    return r;
}

async function initialState(def) {
    for (const probe of [{}, undefined]) {
        const r = await checkSchema(def.config.state, probe);
        if (!r.issues) return r.value;
    }
    return {};
}

/* ---- instances ---- */

function actorKey(name, id) { return name + "\u0000" + id; }

function pointer(path) {
    let s = "";
    for (const p of path) {
        const k = String(p);
        s += "/" + (k.indexOf("~") < 0 && k.indexOf("/") < 0 ? k
            : k.replace(/~/g, "~0").replace(/\//g, "~1"));
    }
    return s;
}

function patchOp(p) {
    return p.op === "remove" ? { op: "remove", path: pointer(p.path) }
        : { op: p.op, path: pointer(p.path), value: p.value };
}

/* JSON.stringify({type: "state:patch", actor, actorId, patches}), its head built once */
function patchText(inst, patches) {
    if (inst.patchHead === "")
        inst.patchHead = `{"type":"state:patch","actor":${JSON.stringify(inst.name)},` +
            `"actorId":${JSON.stringify(inst.id)},"patches":`;
    return inst.patchHead + stateJson(patches.map(patchOp)) + "}";
}

/* JSON text of a state, or of patches holding parts of one: an object inside itself fails the
 * call as the other values JSON cannot hold do (jsonLoss stops looking at MAX_DEPTH levels). */
function stateJson(v) {
    try {
        return JSON.stringify(v);
    } catch (e) {
        if (e instanceof TypeError && /cyclic|circular/i.test(String(e.message)))
            throw actorError("Invalid actor state: it holds an object inside itself (a cycle), " +
                             "which JSON cannot hold (actor state is stored and sent as JSON)",
                             "InvalidState");
        throw e;
    }
}

/* an ActorRun's list that is empty until something is added (most calls add nothing) */
const NONE = Object.freeze([]);

/* The run whose operation is in progress. When its VM entry ended before it settled or rolled
 * back (the watchdog stopped it, or it awaited a promise that never settled), the server rolled
 * its transaction back and failed it; its instances' states go back too, before the next run
 * (what ran of a method before it was stopped must not stay in memory, to be stored by the next
 * call). */
let openRun = null;

/* One top-level operation's bookkeeping: what to send, what to undo if it throws. */
class ActorRun {
    constructor(mctx) {
        if (openRun !== null && openRun.exec !== params[4]) openRun.rollback();
        openRun = this;
        this.mctx = mctx;
        this.out = [];
        this.undo = [];      /* [inst, state before] or [key] for an instance activated here */
        this.stack = [];     /* instances whose method is running, outermost first */
        this.deferred = NONE; /* fire-and-forget calls to an instance on the stack */
        this.chunks = NONE;   /* rpc:stream chunks (JSON texts) for the caller */
        this.quiet = false;  /* the server says the rpc's instance has no state subscriber... */
        this.quietInst = null; /* ... which is this one (invoke): its patches are not built */
        this.exec = params[4]; /* the operation (VM entry) it runs in */
    }

    /* After an await: a promise the server gave up on (its operation ended) may settle in a
     * later operation; what follows it must not touch that operation's transaction. */
    live() {
        if (params[4] !== this.exec)
            throw actorError("this actor call's operation has already ended (a promise it " +
                "awaited settled in a later call)", "FunctionFailed");
    }

    remember(inst) {
        if (!inst.touched) {
            inst.touched = true;
            this.undo.push([inst, inst.state, inst.docId, inst.timers]);
        }
    }

    rollback() {
        if (openRun === this) openRun = null;
        for (let i = this.undo.length - 1; i >= 0; i--) {
            const u = this.undo[i];
            if (u.length === 1) {
                hotActors.delete(u[0]);
            } else {
                u[0].state = u[1];
                u[0].docId = u[2];
                u[0].timers = u[3];
                u[0].touched = false;
            }
        }
        this.undo = [];
    }

    settle() {
        if (openRun === this) openRun = null;
        for (const u of this.undo) if (u.length > 1) u[0].touched = false;
    }
}

async function activate(run, name, id, conns) {
    const key = actorKey(name, id);
    let inst = hotActors.get(key);
    if (inst !== undefined) return inst;
    const entry = actorDefs.get(name);
    if (entry === undefined) throw actorError(`Unknown actor: ${name}`, "UnknownActor");
    if (typeof id !== "string" || id.length > ACTOR_ID_MAX)
        throw actorError(`actorId must be a string of at most ${ACTOR_ID_MAX} characters`,
                         "InvalidActorId");
    const def = entry.def;
    const stored = readActorDoc(name, id);
    let state, docId = null;
    if (stored !== null) {
        docId = stored._id;
        state = JSON.parse(stored.state);
        const r = await checkSchema(def.config.state, state);
        if (!r.issues) state = r.value; /* new fields get their defaults */
        else console.warn(`actor ${name}/${id}: its stored state does not match the state ` +
            `schema (${JSON.stringify(r.issues)}); kept as stored`);
    } else {
        state = await initialState(def);
        const loss = jsonLoss(state, false, 0);
        if (loss !== null) {
            const e = stateLossError([], loss);
            e.message = `actor ${name}: its initial state: ${e.message}`;
            throw e;
        }
    }
    run.live();
    const timers = stored !== null && stored.timers !== null && typeof stored.timers === "object"
        ? stored.timers : {};
    inst = { name, id, key, def, state, docId, timers, conns: new Set(conns || []), touched: false,
             busy: null, timersOf: null, timersText: "", patchHead: "", kit: null,
             docHead: `{"name":${JSON.stringify(name)},"actorId":${JSON.stringify(id)},"state":` };
    hotActors.set(key, inst);
    run.undo.push([key]);
    if (def.config.onActivate) await change(run, inst, def.config.onActivate, {}, null);
    syncCron(run, inst);
    return inst;
}

function readActorDoc(name, id) {
    const h = native.scanOpen(STORE_ACTOR_TABLE, "by_actor", JSON.stringify({ eq: [name, id] }),
                              false);
    let docs;
    try {
        docs = decode(native.scanNext(h, 1));
    } finally {
        native.scanClose(h, 1);
    }
    return docs.length > 0 ? docs[0] : null;
}
const STORE_ACTOR_TABLE = "_actors";

/* The document is built as text: its head (name, actorId) once per instance, `timers` encoded
 * again only when the object changed (every change replaces it), so a call that changes only
 * the state stringifies nothing but the state. */
function saveActor(inst) {
    const st = stateJson(inst.state);
    let doc;
    if (st === undefined) {
        doc = encode({ name: inst.name, actorId: inst.id, state: st, timers: inst.timers },
                     "actor state");
    } else {
        if (inst.timersOf !== inst.timers) {
            inst.timersText = encode(inst.timers, "actor state");
            inst.timersOf = inst.timers;
        }
        if (inst.docId !== null) { /* the server builds the text (native.actorSave) */
            native.actorSave(inst.docId, inst.docHead, st, inst.timersText);
            return;
        }
        doc = inst.docHead + JSON.stringify(st) + ",\"timers\":" + inst.timersText + "}";
    }
    inst.docId = native.actorSave(inst.docId, doc);
}

/* finishDraft's patch listener: one function for every call, not a closure per call (JIT code
 * that saw a per-call closure at a call site keeps a weak reference to it and is thrown away
 * and compiled again each time the garbage collector frees it). */
let takenPatches = null;
/* ---- a state JSON can hold ---- */

/* Objects whose data JSON text does not hold (it writes {} or their indices as keys). */
const JSON_LOSES = new Set(["Map", "Set", "WeakMap", "WeakSet", "WeakRef", "ArrayBuffer",
                            "SharedArrayBuffer", "RegExp", "Promise", "Error"]);

/* What JSON text would lose of v, a value a call wrote into an actor's state (stored and sent as
 * JSON): null, or [description, key, ..., key] with the keys from v down to the value, deepest
 * first. Dates (toJSON) and class instances (their fields) are kept as JSON writes them, so a
 * state schema may revive them; deeper than MAX_DEPTH is left to JSON.stringify. */
function jsonLoss(v, inArray, depth) {
    switch (typeof v) {
    case "string":
    case "boolean":
        return null;
    case "number":
        return Number.isFinite(v) ? null : [`${v}, which JSON stores as null`];
    case "undefined":
        return inArray ? ["undefined in an array, which JSON stores as null"] : null;
    case "object":
        if (v === null || depth >= MAX_DEPTH) return null;
        break;
    default:
        return [`a ${typeof v === "bigint" ? "BigInt" : typeof v}, which JSON does not hold`];
    }
    if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
            const r = i in v ? jsonLoss(v[i], true, depth + 1)
                : ["an empty array slot, which JSON stores as null"];
            if (r !== null) {
                r.push(i);
                return r;
            }
        }
        return null;
    }
    if (typeof v.toJSON === "function") return null;
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    if (JSON_LOSES.has(tag) || ArrayBuffer.isView(v))
        return [`${/^[AEIO]/.test(tag) ? "an" : "a"} ${tag}, which JSON does not hold`];
    for (const k of Object.keys(v)) {
        const r = jsonLoss(v[k], false, depth + 1);
        if (r !== null) {
            r.push(k);
            return r;
        }
    }
    return null;
}

function statePath(keys) {
    let s = "state";
    for (const k of keys) {
        const t = String(k);
        s += /^(0|[1-9][0-9]*)$/.test(t) ? `[${t}]`
            : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(t) ? `.${t}` : `[${JSON.stringify(t)}]`;
    }
    return s;
}

function stateLossError(path, loss) {
    for (let i = loss.length - 1; i >= 1; i--) path.push(loss[i]);
    return actorError(`Invalid actor state: ${statePath(path)} is ${loss[0]} (actor state is ` +
                      "stored and sent as JSON)", "InvalidState");
}

let stateLoss = null; /* what stateWriteLoss found: [path (its own array), loss] */
function stateWriteLoss(v, n, k) {
    const loss = jsonLoss(v, n.isArray, 0);
    if (loss === null) return true;
    const path = draftWritePath(n, k);
    if (path === null) return true; /* written into an object the next state no longer holds */
    stateLoss = [path, loss];
    return false;
}

/* Throws InvalidState when a call left in the state something JSON would lose: the values its
 * writes left (the fast draft's), or its patches' values (a draft Immer finished). */
function checkStateJson(draft, patches, next) {
    stateLoss = null;
    if (draftEachWrite(draft, stateWriteLoss)) {
        if (stateLoss !== null) throw stateLossError(stateLoss[0], stateLoss[1]);
        return;
    }
    for (const p of patches) {
        if (p.op === "remove") continue;
        let parent = next;
        for (let i = 0; i < p.path.length - 1 && parent !== null && typeof parent === "object"; i++)
            parent = parent[p.path[i]];
        const loss = jsonLoss(p.value, Array.isArray(parent), 0);
        if (loss !== null) throw stateLossError(p.path.slice(), loss);
    }
}

function takePatches(p) { takenPatches = p; }
function finishedPatches() {
    const p = takenPatches === null ? [] : takenPatches;
    takenPatches = null;
    return p;
}

/* Runs fn on a draft of inst's state with the context a handler sees; the state, its patch and
 * the events it emitted take effect only if fn (and the events' validation) succeeds. Returns
 * fn's result as JSON text (undefined: none), or a promise of it when something must be awaited
 * (fn's promise, an event's schema, a call that may wait): a plain handler runs without a
 * microtask turn. It throws (rather than rejects) what fails before any await; its callers
 * await it inside async functions or a try. */
function change(run, inst, fn, extra, connectionId, md, method) {
    run.live();
    if (run.stack.includes(inst))
        throw actorError(`actor ${inst.name}/${inst.id} is already running a method`,
                         "ActorCallCycle");
    if (md && run.sid !== undefined && run.stack.length === 0 &&
        (fn instanceof AsyncFunction || fn instanceof AsyncGeneratorFunction)) {
        if (run.batch) throw BATCH_BREAK; /* a call that may wait runs on its own */
        return callStart(run, inst, fn, extra, connectionId, md, method);
    }
    if (inst.busy) flushHeld(run, inst.busy); /* a hook between a suspended call's turns */
    const events = [];
    const timersBefore = inst.timers;
    const draft = draftCreate(inst.state);
    /* the instance's own kit: it runs one call at a time (the cycle check above) */
    if (inst.kit === null) inst.kit = contextKit({ run: null, events: null }, inst);
    const box = inst.kit.box;
    box.run = run;
    box.events = events;
    const c = handlerContext(inst.kit, inst, draft.proxy, connectionId);
    Object.assign(c, extra);
    run.stack.push(inst);
    let result, text;
    try {
        result = fn(c);
        if (fn instanceof AsyncGeneratorFunction) /* not the caller's call: no chunks */
            result = driveGen(null, result);
    } catch (e) {
        unwind(run, inst);
        throw e;
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function")
        return changeAwait(run, inst, draft, events, timersBefore, result);
    try { /* the result may be (part of) the draft: serialize it while the draft lives */
        text = result === undefined ? undefined : JSON.stringify(result);
    } finally {
        unwind(run, inst);
    }
    return changeRest(run, inst, draft, events, timersBefore, text);
}

/* The call's frame is off the stack and its kit free for the next call. */
function unwind(run, inst) {
    run.stack.pop();
    const box = inst.kit.box;
    if (box.run === run) { /* the run (and the states it remembers) can go */
        box.run = null;
        box.events = null;
    }
}

async function changeAwait(run, inst, draft, events, timersBefore, promise) {
    let text;
    try {
        const result = await promise;
        run.live();
        text = result === undefined ? undefined : JSON.stringify(result);
    } finally {
        unwind(run, inst);
    }
    return changeRest(run, inst, draft, events, timersBefore, text);
}

/* What follows the handler: its events' schemas (which may be async), then changeEnd. */
function changeRest(run, inst, draft, events, timersBefore, text) {
    if (events.length > 0) return changeEvents(run, inst, draft, events, timersBefore, text);
    return changeEnd(run, inst, draft, [], timersBefore, text);
}

async function changeEvents(run, inst, draft, events, timersBefore, text) {
    const checked = [];
    for (const ev of events) checked.push(await checkEvent(inst, ev));
    run.live();
    return changeEnd(run, inst, draft, checked, timersBefore, text);
}

function changeEnd(run, inst, draft, checked, timersBefore, text) {
    /* nobody would get this instance's patch: the draft builds none, and a new state object says
     * that the draft was written (perhaps with equal values: then it is stored unchanged) */
    const quiet = inst === run.quietInst;
    draftSettle(draft);
    const patched = !quiet || draft.switched; /* Immer's writes are checked in its patches */
    const next = draftFinish(draft, patched ? takePatches : undefined);
    const patches = patched ? finishedPatches() : null;
    const changed = quiet ? next !== inst.state : patches.length > 0;
    if (changed) checkStateJson(draft, patches, next);
    run.remember(inst);
    if (changed) inst.state = next;
    if (changed || inst.timers !== timersBefore) saveActor(inst);
    if (!quiet && changed)
        run.out.push(["p", inst.key, patchText(inst, patches)]);
    for (const e of checked) run.out.push(e);
    return text;
}

async function checkEvent(inst, ev) {
    const schemas = inst.def.config.events || {};
    if (!Object.prototype.hasOwnProperty.call(schemas, ev.event))
        throw actorError(`Unknown event: ${ev.event}`, "UnknownEvent");
    const r = await checkSchema(schemas[ev.event], ev.payload);
    if (r.issues)
        throw actorError(`Validation failed for event ${ev.event}: ${JSON.stringify(r.issues)}`,
                         "EventValidationFailed");
    const text = JSON.stringify({ type: "event", actor: inst.name, actorId: inst.id,
                                  event: ev.event, payload: r.value });
    return ["e", inst.key, text, ev.to, ev.except];
}

/* ---- suspended calls: methods that await timers or the network (docs/actors.md "Methods
 * that wait") ----
 * A method called by a client or a timer whose handler is an async function (or an async
 * generator function) runs as an ActorCall. When its promise is still pending once the
 * operation's microtasks have drained (runtime.c calls actorsUndone), the call is suspended: the
 * turn so far is finished like a whole call (the draft's patches, the state stored, the
 * transaction committed) and the instance stays busy (the server queues its later rpcs). What
 * it awaited (its own setTimeout timers; the server wakes it with op "resume" when the next is
 * due) continues it in a new operation, one transaction per turn, with a fresh draft behind the
 * same `state` proxy. A turn that throws rolls back only itself; the server then ends the call
 * (op "end"). Patches of a plain method are held until it ends (one state:patch), those of a
 * `stream` method go out at most every interval; held patches are sent before anything else
 * changes the instance or a snapshot of it is taken. An async generator's yields go to the
 * caller as rpc:stream chunks. */

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;
const ACTOR_SUSPENDED = Symbol("suspended");
const CALL_TIMERS_MAX = 1000, TURN_CHUNKS_MAX = 10000, STREAM_INTERVAL_MS = 50;
const suspendedCalls = new Map(); /* sid -> ActorCall */
let opCall = null; /* the call whose turn the running operation runs */

class ActorCall {
    constructor(sid, inst, md, method, isGen) {
        this.sid = sid;
        this.inst = inst;
        this.method = method;
        this.isGen = isGen;
        this.gen = null;
        this.stream = md.stream === true ? STREAM_INTERVAL_MS
            : md.stream && typeof md.stream === "object" ? md.stream.interval : 0;
        this.events = [];
        this.box = { run: null, draft: null, events: this.events };
        this.heldOps = [];
        this.heldEvents = [];
        this.chunks = [];
        this.timers = new Map(); /* id -> {when, seq, fn, args, interval} */
        this.fetches = new Set(); /* tokens of its fetches in flight (59_fetch.js) */
        this.timerSeq = 0;
        this.done = null;   /* {ok, v} once the handler settled */
        this.waiter = null; /* the running turn's resolve */
        this.timersBefore = null;
        this.abort = new AbortController();
        this.canceled = false;
        this.ended = false;
        this.lastFlush = realNow();
    }

    watch(p) {
        p.then((v) => this.settle({ ok: true, v }), (v) => this.settle({ ok: false, v }));
    }

    settle(o) {
        this.done = o;
        if (this.waiter !== null) {
            const w = this.waiter;
            this.waiter = null;
            w(o);
        }
    }

    turnWait() {
        if (this.done !== null) return Promise.resolve(this.done);
        return new Promise((resolve) => { this.waiter = resolve; });
    }

    suspendNow() {
        if (this.waiter === null) return;
        const w = this.waiter;
        this.waiter = null;
        w(ACTOR_SUSPENDED);
    }

    addTimer(what, fn, delay, args, repeat) {
        if (typeof fn !== "function") throw argTypeError("callback", "of type function", fn);
        if (this.timers.size >= CALL_TIMERS_MAX) {
            const e = new RangeError(`${what}: too many pending timers (at most ` +
                `${CALL_TIMERS_MAX} per actor method call)`);
            e.code = "TooManyTimers";
            throw e;
        }
        let ms = Number(delay);
        if (!(ms >= 1 && ms <= 2147483647)) ms = 1;
        const id = ++this.timerSeq;
        this.timers.set(id, { when: realNow() + ms, seq: id, fn, args,
                              interval: repeat ? ms : 0 });
        return id;
    }

    fireDue() {
        const now = realNow();
        const due = [];
        for (const [id, t] of this.timers) if (t.when <= now) due.push([id, t]);
        due.sort((x, y) => x[1].when - y[1].when || x[1].seq - y[1].seq);
        for (const [id, t] of due) {
            if (this.timers.get(id) !== t) continue;
            if (t.interval) t.when = realNow() + t.interval;
            else this.timers.delete(id);
            try {
                t.fn.apply(undefined, t.args);
            } catch (e) {
                reportUncaught(e, t.interval ? "setInterval callback" : "setTimeout callback");
            }
        }
    }

    /* ms until the call must run again (its next timer, a stream's next flush), -1: never */
    nextWake() {
        const now = realNow();
        let next = -1;
        for (const t of this.timers.values())
            if (next < 0 || t.when < next) next = t.when;
        if (this.stream > 0 && (this.heldOps.length > 0 || this.heldEvents.length > 0)) {
            const f = this.lastFlush + this.stream;
            if (next < 0 || f < next) next = f;
        }
        return next < 0 ? -1 : Math.max(0, Math.ceil(next - now));
    }

    cancel() {
        if (this.canceled) return;
        this.canceled = true;
        const reason = new DOMException("The call was canceled", "AbortError");
        try {
            this.abort.abort(reason);
        } catch (e) {
            reportUncaught(e, "an abort listener");
        }
        if (this.gen !== null) {
            /* its fetches in flight reject with the reason; the generator ends at its next
             * yield */
            for (const t of Array.from(this.fetches)) opCancel(t, reason);
            this.gen.return(undefined).then(() => {}, () => {});
        }
    }

    /* fetch answers the server holds for it (op "resume" f: [tokens]) settle their promises */
    takeFetches(tokens) {
        for (const t of tokens || []) {
            this.fetches.delete(t);
            const ans = native.opTake(t);
            if (ans === undefined) continue;
            const saved = [mode, currentPath];
            settle(t, ans[0], ans[1], ans[2]);
            [mode, currentPath] = saved;
        }
    }

    waiting() {
        for (const t of this.fetches) if (!opPending.has(t)) this.fetches.delete(t);
        return this.timers.size > 0 || this.fetches.size > 0;
    }

    finish() {
        this.ended = true;
        this.waiter = null; /* a turn cut short (a CPU limit) is never resumed */
        if (opCall === this) opCall = null;
        this.timers.clear();
        for (const t of this.fetches) { /* dropped unanswered: nothing runs for them */
            opPending.delete(t);
            native.opCancel(t);
        }
        this.fetches.clear();
        this.box.draft = null;
        if (this.inst.busy === this) this.inst.busy = null;
        suspendedCalls.delete(this.sid);
    }
}

/* setTimeout/clearTimeout in an actor method (59_timers.js): the running call, or null when no
 * actor method that may wait is running (queries, mutations, hooks, actor-to-actor calls). */
function actorTimerOwner() {
    if (opCall === null || opCall.ended || opCall.box.draft === null) return null;
    if (currentPath !== ACTORS_RUN_PATH && currentPath !== ACTORS_TIMER_PATH) return null;
    return opCall;
}

/* runtime.c: the operation's promise is pending and its microtasks have drained. */
function actorsUndone() {
    if (opCall !== null && !opCall.ended &&
        (currentPath === ACTORS_RUN_PATH || currentPath === ACTORS_TIMER_PATH))
        opCall.suspendNow();
}

/* `state` of a call that may wait: the same object in every turn, forwarding to the running
 * turn's draft (objects read from it before an `await` belong to the finished draft). */
function stableState(box) {
    const t = () => {
        if (box.draft === null)
            throw new TypeError("this actor call's state is gone: the call has ended");
        return box.draft.proxy;
    };
    return new Proxy({}, {
        get: (_, k) => Reflect.get(t(), k),
        set: (_, k, v) => Reflect.set(t(), k, v),
        deleteProperty: (_, k) => Reflect.deleteProperty(t(), k),
        has: (_, k) => Reflect.has(t(), k),
        ownKeys: () => Reflect.ownKeys(t()),
        getOwnPropertyDescriptor: (_, k) => {
            const d = Reflect.getOwnPropertyDescriptor(t(), k);
            if (d !== undefined) d.configurable = true;
            return d;
        },
        defineProperty: (_, k, d) => Reflect.defineProperty(t(), k, d),
        getPrototypeOf: () => Reflect.getPrototypeOf(t()),
    });
}

/* Runs an async generator to its end: each yielded value becomes a chunk of `call` (null: a
 * call no client waits for; the values are dropped); its return value is the result. */
async function driveGen(call, gen) {
    if (call !== null) call.gen = gen;
    for (;;) {
        const r = await gen.next();
        if (r.done) return r.value;
        if (call === null || call.canceled) continue;
        if (call.chunks.length >= TURN_CHUNKS_MAX)
            throw actorError(`a turn of ${call.method} yielded more than ${TURN_CHUNKS_MAX} ` +
                "chunks without awaiting anything", "TooManyChunks");
        call.chunks.push(JSON.stringify(r.value === undefined ? null : r.value));
    }
}

/* Sends what a call holds: its patches (one state:patch) and events. */
function flushHeld(run, call) {
    const inst = call.inst;
    if (call.heldOps.length > 0)
        run.out.push(["p", inst.key,
                      JSON.stringify({ type: "state:patch", actor: inst.name, actorId: inst.id,
                                       patches: call.heldOps })]);
    for (const e of call.heldEvents) run.out.push(e);
    call.heldOps = [];
    call.heldEvents = [];
    call.lastFlush = realNow();
}

function turnBegin(run, call) {
    opCall = call;
    call.box.run = run;
    call.box.draft = draftCreate(call.inst.state);
    call.timersBefore = call.inst.timers;
}

/* Finishes the running turn as a call: events checked, the draft's patches kept (or sent), the
 * state stored. */
async function turnFinish(run, call, final) {
    const inst = call.inst;
    const checked = [];
    for (const ev of call.events) checked.push(await checkEvent(inst, ev));
    if (checked.length > 0) run.live();
    call.events.length = 0;
    const draft = call.box.draft;
    const next = draftFinish(draft, takePatches);
    const patches = finishedPatches();
    call.box.draft = null;
    if (patches.length > 0) checkStateJson(draft, patches, next);
    run.remember(inst);
    if (patches.length > 0) inst.state = next;
    if (patches.length > 0 || inst.timers !== call.timersBefore) saveActor(inst);
    for (const p of patches) call.heldOps.push(patchOp(p));
    for (const e of checked) call.heldEvents.push(e);
    if (final || (call.stream > 0 && realNow() - call.lastFlush >= call.stream))
        flushHeld(run, call);
    if (call.chunks.length > 0 && run.chunks === NONE) run.chunks = [];
    for (const ch of call.chunks) run.chunks.push(ch);
    call.chunks = [];
}

async function callStart(run, inst, fn, extra, connectionId, md, method) {
    const call = new ActorCall(run.sid, inst, md, method, fn instanceof AsyncGeneratorFunction);
    turnBegin(run, call);
    const c = handlerContext(contextKit(call.box, inst), inst, stableState(call.box), connectionId);
    c.db = turnForward(call.box, "db");
    c.storage = turnForward(call.box, "storage");
    c.scheduler = turnForward(call.box, "scheduler");
    Object.assign(c, extra);
    c.signal = call.abort.signal;
    run.call = call;
    run.stack.push(inst);
    let o;
    try {
        let p = fn(c);
        if (call.isGen) p = driveGen(call, p);
        call.watch(Promise.resolve(p));
        o = await call.turnWait();
    } finally { /* what remains on the stack: an actor call that is still running */
        run.stack.splice(run.stack.lastIndexOf(call.inst), 1);
    }
    return turnEnd(run, call, o);
}

/* ctx.db, ctx.storage and ctx.scheduler of a call that may wait: each turn is an operation of
 * its own, whose writes only its own ctx may make (makeCtx), so these forward to the running
 * turn's; a handler that kept them from its first turn writes in the turn it is in. */
function turnForward(box, key) {
    const first = box.run.mctx[key], o = {};
    for (const k of Object.keys(first))
        o[k] = typeof first[k] !== "function" ? first[k] : (...a) => box.run.mctx[key][k](...a);
    return Object.freeze(o);
}

async function turnEnd(run, call, o) {
    if (o === ACTOR_SUSPENDED) {
        const inst = call.inst;
        if (run.stack.length > 0) {
            const inner = run.stack[run.stack.length - 1];
            throw actorError(`actor method ${inst.name}.${call.method} waited inside an ` +
                `actor-to-actor call (to ${inner.name}/${inner.id}): only the method a client ` +
                "or a timer called can await timers or fetch", "FunctionFailed");
        }
        if (!call.waiting())
            throw actorError(`actor method ${inst.name}.${call.method} did not finish: it ` +
                "awaited a promise that never settled (an actor method can await timers, fetch " +
                "and other actors' methods)", "FunctionFailed");
        if (run.noSuspend)
            throw actorError(`TooManySuspendedCalls: ${run.noSuspend} actor calls are ` +
                "waiting on this shard (--max-suspended-actor-calls), the limit", "ActorBusy");
        await turnFinish(run, call, false);
        inst.busy = call;
        suspendedCalls.set(call.sid, call);
        run.susp = { sid: call.sid, wake: call.nextWake(), g: call.isGen ? 1 : 0 };
        return undefined;
    }
    if (!o.ok) throw o.v;
    /* the result may be (part of) the draft: serialize it while the draft lives */
    const text = o.v === undefined ? undefined : JSON.stringify(o.v);
    await turnFinish(run, call, true);
    if (call.canceled && call.isGen) run.canceled = true;
    call.finish();
    return text;
}

/* op "resume" {sid, cancel}: the next turn of a suspended call. */
async function resumeCall(run, a) {
    const call = suspendedCalls.get(a.sid);
    if (call === undefined) throw new Error(`actors: no suspended call ${a.sid}`);
    turnBegin(run, call);
    run.call = call;
    if (a.cancel) call.cancel();
    run.stack.push(call.inst);
    let o;
    try {
        call.takeFetches(a.f);
        call.fireDue();
        o = await call.turnWait();
    } finally { /* what remains on the stack: an actor call that is still running */
        run.stack.splice(run.stack.lastIndexOf(call.inst), 1);
    }
    return turnEnd(run, call, o);
}

function connList(ids, where) {
    const list = typeof ids === "string" ? [ids] : ids;
    if (!Array.isArray(list) || list.some((x) => typeof x !== "string"))
        throw new TypeError(`${where}: expected a connection id or an array of them`);
    return list;
}

/* The parts of a handler's context that depend only on the instance and on box, whose `run` is
 * the operation running the handler: made once per instance for plain calls (change), once per
 * call for a call that may wait (its box lives across its turns). */
function contextKit(box, inst) {
    return { box, connections: Object.freeze({ list: () => Array.from(inst.conns) }),
             actors: actorCaller(box), timer: timerApi(box, inst), emit: eventEmitter(box) };
}

/* ctx.emit, pushing to the running call's events (box.events; a call that has ended emits
 * nothing). */
function eventEmitter(box) {
    const push = (ev) => { if (box.events !== null) box.events.push(ev); };
    const emit = (event, payload) => { push({ event, payload, to: null, except: null }); };
    emit.to = (ids, event, payload) => {
        push({ event, payload, to: connList(ids, "emit.to()"), except: null });
    };
    emit.except = (ids, event, payload) => {
        push({ event, payload, to: null, except: connList(ids, "emit.except()") });
    };
    emit.broadcast = emit;
    return emit;
}

function handlerContext(kit, inst, draft, connectionId) {
    const m = kit.box.run.mctx;
    return {
        state: draft,
        emit: kit.emit,
        connectionId,
        actorId: inst.id,
        connections: kit.connections,
        actors: kit.actors,
        timer: kit.timer,
        db: m.db,
        auth: m.auth,
        storage: m.storage,
        scheduler: m.scheduler,
    };
}

/* ---- durable timers: ctx.timer.after(ms).method(input), .every(ms), .cancel(id) ----
 * A timer is a `_scheduled_functions` job of ACTORS_TIMER_PATH (the scheduler runs it, proto/
 * actors.c delivers what it sends) and an entry of the instance's `timers` {id: [job id, every
 * ms or 0]}, stored with its state: both change in the caller's transaction, so a timer set by a
 * method that throws never fires. Timers outlive deactivation and restarts; one that fires
 * activates its instance. */

function scheduleTimer(run, inst, tid, ms, every, method, input) {
    if (!Object.prototype.hasOwnProperty.call(inst.def.config.methods, method))
        throw actorError(`Unknown method: ${method}`, "UnknownMethod");
    if (!Number.isFinite(ms) || ms < (every ? TIMER_MIN_EVERY_MS : 0))
        throw new TypeError(`timer.${every ? "every" : "after"}(ms): expected a number of ` +
            `milliseconds${every ? ` of at least ${TIMER_MIN_EVERY_MS}` : ""}`);
    if (!(tid in inst.timers) && Object.keys(inst.timers).length >= TIMERS_MAX)
        throw actorError(`actor ${inst.name}/${inst.id} has ${TIMERS_MAX} timers, the limit`,
                         "TooManyTimers");
    const args = { op: "timer", a: inst.name, i: inst.id, m: method, tid,
                   in: input === undefined ? null : JSON.stringify(input),
                   every: every ? ms : 0 };
    const job = native.schedule(ACTORS_TIMER_PATH, encode(args, "timer arguments"),
                                Date.now() + ms);
    run.remember(inst);
    inst.timers = Object.assign({}, inst.timers, { [tid]: [job, every ? ms : 0] });
}

function cancelTimer(run, inst, tid) {
    const t = inst.timers[tid];
    if (t === undefined) return false;
    native.cancelJob(t[0]);
    run.remember(inst);
    const rest = Object.assign({}, inst.timers);
    delete rest[tid];
    inst.timers = rest;
    return true;
}

function timerApi(box, inst) {
    const proxy = (ms, every) => new Proxy({}, {
        get(_, method) {
            if (typeof method !== "string" || method === "then") return undefined;
            return (input) => {
                const tid = "t" + Math.random().toString(36).slice(2, 12) +
                    Date.now().toString(36);
                scheduleTimer(box.run, inst, tid, ms, every, method, input);
                return tid;
            };
        },
    });
    return Object.freeze({
        after: (ms) => proxy(ms, false),
        every: (ms) => proxy(ms, true),
        cancel: (id) => cancelTimer(box.run, inst, id),
    });
}

/* The actor's `cron` as `every` timers named "cron:<method>": started when missing, restarted
 * when the interval changed, canceled when the method left the cron. */
function syncCron(run, inst) {
    const cron = inst.def.config.cron || {};
    const before = inst.timers;
    for (const tid of Object.keys(inst.timers))
        if (tid.startsWith("cron:") && !(tid.slice(5) in cron)) cancelTimer(run, inst, tid);
    for (const m of Object.keys(cron)) {
        const t = inst.timers["cron:" + m];
        if (t !== undefined && t[1] === cron[m].every) continue;
        if (t !== undefined) cancelTimer(run, inst, "cron:" + m);
        scheduleTimer(run, inst, "cron:" + m, cron[m].every, true, m, undefined);
    }
    if (inst.timers !== before) saveActor(inst);
}

/* A timer fired (op "timer"): a one-shot one leaves `timers`, a recurring one is scheduled
 * again from now; then its method runs. A timer no longer listed (canceled) does nothing. */
async function fireTimer(run, a) {
    const inst = await activate(run, a.a, a.i, a.cs);
    const t = inst.timers[a.tid];
    if (t === undefined) return undefined;
    if (inst.busy) { /* a suspended call holds the instance: try again in a moment */
        const args = { op: "timer", a: a.a, i: a.i, m: a.m, tid: a.tid, in: a.in,
                       every: a.every };
        const job = native.schedule(ACTORS_TIMER_PATH, encode(args, "timer arguments"),
                                    Date.now() + TIMER_BUSY_RETRY_MS);
        run.remember(inst);
        inst.timers = Object.assign({}, inst.timers, { [a.tid]: [job, t[1]] });
        saveActor(inst);
        return undefined;
    }
    reschedule(run, inst, a);
    const input = typeof a.in === "string" ? JSON.parse(a.in) : undefined;
    return invoke(run, a.a, a.i, a.m, input, null, null);
}

function reschedule(run, inst, a) {
    if (!(a.tid in inst.timers)) return;
    if (a.every > 0) {
        scheduleTimer(run, inst, a.tid, a.every, true, a.m,
                      typeof a.in === "string" ? JSON.parse(a.in) : undefined);
    } else {
        run.remember(inst);
        const rest = Object.assign({}, inst.timers);
        delete rest[a.tid];
        inst.timers = rest;
    }
    saveActor(inst);
}

/* ctx.actors: actors.<name>(id).<method>(input), as the client's handles. A call runs at once,
 * inside the caller's transaction; a call to an instance whose method is running (a cycle) is
 * deferred until the outermost call ends when nobody awaits it (fire-and-forget), and fails
 * with a cycle error when the caller awaits it (it could never finish). */
function actorCaller(box) {
    return new Proxy({}, {
        get(_, name) {
            if (typeof name !== "string") return undefined;
            return (id) => new Proxy({}, {
                get(__, method) {
                    if (typeof method !== "string" || method === "then") return undefined;
                    return (input) => callActor(box.run, name, id, method, input);
                },
            });
        },
    });
}

function callActor(run, name, id, method, input) {
    const onStack = run.stack.find((i) => i.name === name && i.id === id);
    if (onStack === undefined) {
        let t;
        try {
            t = invoke(run, name, id, method, input, null, null);
        } catch (e) {
            return Promise.reject(e);
        }
        return Promise.resolve(t).then((x) => x === undefined ? undefined : JSON.parse(x));
    }
    const chain = run.stack.map((i) => `${i.name}/${i.id}`).concat(`${name}/${id}`);
    const call = { name, id, method, input, canceled: false };
    if (run.deferred === NONE) run.deferred = [];
    run.deferred.push(call);
    /* a thenable: awaiting it calls then(), which is how the cycle is told from a fire-and-
     * forget call */
    return {
        then(resolve, reject) {
            call.canceled = true;
            const e = actorError(`Actor call cycle: ${chain.join(" → ")} (${name}/${id} is ` +
                "waiting for this call to finish; call it without awaiting to run it after)",
                "ActorCallCycle");
            return Promise.reject(e).then(resolve, reject);
        },
    };
}

/* Calls method on actor name/id: its result's JSON text, or a promise of it (change). A hot
 * instance's method without an input schema or middleware runs at once; throws what fails
 * before any await. */
/* key: actorKey(name, id), when the caller has it (a group's calls share one) */
function invoke(run, name, id, method, input, connectionId, conns, key) {
    /* a hot instance: no activate() promise */
    const hot = hotActors.get(key !== undefined ? key : actorKey(name, id));
    if (hot === undefined)
        return activate(run, name, id, conns).then(
            (inst) => invokeOn(run, inst, method, input, connectionId));
    return invokeOn(run, hot, method, input, connectionId);
}

function invokeOn(run, inst, method, input, connectionId) {
    if (run.quiet && run.quietInst === null) run.quietInst = inst; /* the rpc's own instance */
    const md = Object.prototype.hasOwnProperty.call(inst.def.config.methods, method)
        ? inst.def.config.methods[method] : undefined;
    if (md === undefined) throw actorError(`Unknown method: ${method}`, "UnknownMethod");
    if (inst.busy)
        throw actorError(`actor ${inst.name}/${inst.id} is busy: its method ` +
            `${inst.busy.method} is suspended (awaiting a timer or the network); call it again ` +
            "once that call ended", "ActorBusy");
    const mws = inst.def.config._middlewares;
    if (md.input === undefined && (mws === undefined || mws.length === 0))
        return change(run, inst, md.handler, { input: undefined, ctx: {} }, connectionId, md,
                      method);
    return invokeChecked(run, inst, md, method, input, connectionId);
}

/* The method's input schema and the actor's middleware, which may be async. */
async function invokeChecked(run, inst, md, method, input, connectionId) {
    let value;
    if (md.input !== undefined) {
        const r = await checkSchema(md.input, input);
        if (r.issues)
            throw actorError(`Validation failed for ${method}: ${JSON.stringify(r.issues)}`,
                             "ValidationFailed");
        value = r.value;
    }
    let mwCtx = {};
    for (const mw of inst.def.config._middlewares || []) {
        let added = mw({ ctx: mwCtx, connectionId, actor: inst.name, actorId: inst.id, method,
                         auth: run.mctx.auth });
        if (added !== null && typeof added === "object" && typeof added.then === "function")
            added = await added;
        if (added !== null && typeof added === "object") mwCtx = Object.assign(mwCtx, added);
    }
    return await change(run, inst, md.handler, { input: value, ctx: mwCtx }, connectionId, md,
                        method);
}

async function runDeferred(run) {
    while (run.deferred.length > 0) {
        const call = run.deferred.shift();
        if (call.canceled) continue;
        try {
            await invoke(run, call.name, call.id, call.method, call.input, null, null);
        } catch (e) {
            if (e === BATCH_BREAK) throw e;
            /* nobody awaits it: as a failed method it changed no state; the failure is logged */
            console.error(`actor ${call.name}/${call.id}: ${call.method} (called without ` +
                `awaiting) failed: ${e && e.message}`);
        }
    }
}

/* op "rpcs" {calls: [{sid, c, m, a, i, in, cs, q, u: identity JSON text (null: anonymous)}]}:
 * c, m, a, i and u are absent when they are the previous call's (the first call's u: absent is
 * anonymous);
 * clients' rpcs that arrived together, run in one VM entry, each as the op "rpc" would run it,
 * in a transaction of its own (native.actorEnd ends it and reports the call's outcome: its
 * result, or its error after it rolled back alone). A call to a method that may wait (an async
 * function or generator, at the top or called without awaiting) must be able to end its turn
 * when the microtask queue drains, which only a VM entry of its own can tell: the batch stops
 * before it (BATCH_BREAK, the call rolled back) and the server runs it and the rest one by one.
 * -> {n: the calls that ran}. */
const BATCH_BREAK = Symbol("batch break");
async function runBatch(mctx, a) {
    const calls = a.calls, ctxs = new Map(), entry = params[4];
    let conn, method, name, id, key, m = mctx;
    for (let k = 0; k < calls.length; k++) {
        const q = calls[k];
        if (q.c !== undefined) conn = q.c;
        if (q.m !== undefined) method = q.m;
        if (q.a !== undefined) { name = q.a; id = q.i; key = actorKey(name, id); }
        if (typeof q.u === "string") {
            m = ctxs.get(q.u);
            if (m === undefined) ctxs.set(q.u, m = makeCtx(MUTATION, q.u));
        } else if (q.u === null) {
            m = mctx;
        }
        const run = new ActorRun(m);
        run.batch = true;
        run.sid = q.sid;
        run.quiet = q.q === 1;
        opCall = null;
        let t, failed = null;
        try {
            const input = typeof q.in === "string" ? JSON.parse(q.in) : undefined;
            t = invoke(run, name, id, method, input, conn, q.cs, key);
            if (t !== undefined && typeof t !== "string") t = await t; /* it had to wait */
            if (run.deferred.length > 0) await runDeferred(run);
        } catch (e) {
            failed = e;
        }
        /* a promise the server gave up on (its entry ended) settled in a later entry: the
         * server answered this call and ran the rest on their own */
        if (params[4] !== entry) return { n: k };
        if (failed === BATCH_BREAK) {
            run.rollback();
            actorEnd(4 * k, undefined, undefined, null); /* it did not run */
            return { n: k };
        }
        let r;
        if (failed === null) {
            sendOut(run);
            const act = actorsActivated(run);
            r = actorEnd(4 * k + 2, t, undefined, act.length > 0 ? JSON.stringify(act) : null);
            if (r & 1) run.rollback();
            else run.settle();
        } else {
            run.rollback();
            const [message, code] = errorResult(actorThrown(failed));
            r = actorEnd(4 * k + 1, message, code, null);
        }
        if (r & 2) return { n: k + 1 };
    }
    return { n: calls.length };
}

/* native.actorEnd with its numbers in native.params (in C each JSC API call takes the VM's lock):
 * ks = 4 * k + status + 1, then the strings given among text, code and act -> its answer */
function actorEnd(ks, text, code, act) {
    params[10] = ks;
    params[11] = (typeof text === "string" ? 1 : 0) | (typeof code === "string" ? 2 : 0) |
        (typeof act === "string" ? 4 : 0);
    native.actorEnd(text, code, act);
    return params[10];
}

/* the frames go to the server one by one (it holds them until the commit, and drops them if
 * the operation fails after all), not as escaped text inside the answer */
function sendOut(run) {
    for (const m of run.out)
        native.actorOut(m[0] === "e", m[1], m[2],
                        m[0] === "e" && (m[3] !== null || m[4] !== null)
                            ? JSON.stringify([m[3], m[4]]) : null);
}

/* `_system/actors:run` {op, a: actor, i: actorId, c: connectionId, cs: [connection ids] (when
 * the server has no hot copy of the instance), m: method, in: input JSON text, q: 1 when no
 * connection would get the instance's state patches (the rpc builds none for it)}
 * -> {r: result JSON text (rpc; null: none) or the state's JSON text (snapshot), act, ...}
 * The messages it sends go to the server through native.actorOut, in order, as it finishes:
 * run.out's ["p", instance key, text] a state patch, ["e", instance key, text, to, except] an
 * event (to/except: connection ids or null). */
async function actorsRun(mctx, a) {
    if (a.op === "rpcs") return runBatch(mctx, a);
    const run = new ActorRun(mctx);
    opCall = null;
    if (typeof a.sid === "number") run.sid = a.sid;
    if (a.ns) run.noSuspend = a.ns;
    try {
        let r = null;
        const name = a.a, id = a.i;
        switch (a.op) {
        case "resume": {
            const t = await resumeCall(run, a);
            r = t === undefined ? null : t;
            break;
        }
        case "end": { /* the server ends a suspended call (a turn failed, a limit, a deploy) */
            const call = suspendedCalls.get(a.sid);
            if (call !== undefined) {
                flushHeld(run, call);
                call.finish();
            }
            break;
        }
        case "rpc": {
            run.quiet = a.q === 1;
            const input = typeof a.in === "string" ? JSON.parse(a.in) : undefined;
            const t = await invoke(run, name, id, a.m, input, a.c, a.cs);
            r = t === undefined ? null : t;
            break;
        }
        case "snapshot": {
            const inst = await activate(run, name, id, a.cs);
            if (inst.busy) flushHeld(run, inst.busy); /* no subscriber diverges */
            r = JSON.stringify(inst.state);
            break;
        }
        case "connect": case "disconnect": {
            const inst = await activate(run, name, id, a.cs);
            if (a.op === "connect") inst.conns.add(a.c);
            else inst.conns.delete(a.c);
            const hook = inst.def.config[a.op === "connect" ? "onConnect" : "onDisconnect"];
            if (hook) await change(run, inst, hook, {}, a.c);
            break;
        }
        case "timer": {
            const t = await fireTimer(run, a);
            r = t === undefined ? null : t;
            break;
        }
        case "timerFailed": { /* its method threw: the timer still ends or recurs */
            const inst = await activate(run, name, id, a.cs);
            reschedule(run, inst, a);
            break;
        }
        case "deactivate": {
            const key = actorKey(name, id);
            const inst = hotActors.get(key);
            if (inst !== undefined) {
                if (inst.def.config.onDeactivate)
                    await change(run, inst, inst.def.config.onDeactivate, {}, null);
                hotActors.delete(key);
            }
            break;
        }
        case "forget": /* the batch these instances' states were written in was lost */
            hotActors.clear();
            for (const call of Array.from(suspendedCalls.values())) call.finish();
            break;
        case "admin": /* the admin API's list, inspect, destroy, destroyAll (actorsAdmin) */
            r = await actorsAdmin(run, a);
            break;
        default:
            throw new Error(`actors: unknown operation ${a.op}`);
        }
        if (run.deferred.length > 0) await runDeferred(run);
        run.settle();
        sendOut(run);
        const res = { r, act: actorsActivated(run) };
        if (run.susp !== undefined) res.s = run.susp;
        if (run.chunks.length > 0) res.ch = run.chunks;
        if (run.canceled) res.x = 1;
        return res;
    } catch (e) {
        run.rollback();
        throw actorThrown(e);
    }
}

/* What a method threw, as its caller is told: an Error as it is; anything else as Zocket's
 * server words it (packages/server/src/handler.ts: `err?.message ?? "Unknown error"`), so that
 * `throw {code: 409, message: "conflict"}` reaches the caller as "conflict", not as an inspection
 * of the object. The runtime's own signals (symbols) pass through. */
function actorThrown(e) {
    if (e instanceof Error || typeof e === "symbol") return e;
    let message;
    try {
        message = e !== null && e !== undefined ? e.message : undefined;
    } catch (x) {
        message = undefined;
    }
    return new Error(message === undefined || message === null ? "Unknown error" : String(message));
}

/* ctx.actors in queries and mutations: the state an instance has stored (its schema's initial
 * state when it has none), read from `_actors` so that the query is re-run when it changes. */
const actorReader = Object.freeze({
    async get(name, id) {
        if (typeof name !== "string" || typeof id !== "string")
            throw new TypeError("ctx.actors.get(name, id): expected two strings");
        const entry = actorDefs.get(name);
        if (entry === undefined) throw actorError(`Unknown actor: ${name}`, "UnknownActor");
        const doc = readActorDoc(name, id);
        return doc !== null ? JSON.parse(doc.state) : initialState(entry.def);
    },
});

SYSTEM_FUNCTIONS.push({ path: ACTORS_RUN_PATH, handler: actorsRun },
                      { path: ACTORS_TIMER_PATH, handler: actorsRun });

/* ---- the admin API (src/proto/http_admin_actors.c; docs/actors.md "Admin"): seed 001's
 * ActorManager size, list, destroy and destroyAll ---- */

const ADMIN_DESTROY_MAX = 500; /* instances one destroyAll call destroys at most */
const ADMIN_HOOKED_MAX = 100;  /* hot instances with onDeactivate one destroyAll call lists */

/* The keys of the instances this run activated (each left an undo entry of one key): the server
 * tracks them (an instance activated by another actor's call or a timer is deactivated when
 * idle like any other) and counts them for /api/metrics. */
function actorsActivated(run) {
    const keys = [];
    for (const u of run.undo) if (u.length === 1) keys.push(u[0]);
    return keys;
}

/* Strings in code point order (UTF-8 byte order: the order of `_actors`' index and of the
 * server's strcmp), then pairs [name, id] by name, then id. */
function cmpCodePoints(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
        const x = a.codePointAt(i), y = b.codePointAt(i);
        if (x !== y) return x < y ? -1 : 1;
        if (x > 0xffff) i++;
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function cmpPair(p, q) { return cmpCodePoints(p[0], q[0]) || cmpCodePoints(p[1], q[1]); }

/* The index ranges of `_actors` holding the instances after `after` ([name, id] or null) of
 * actor `only` (null: every actor), in order. */
function storedRanges(only, after) {
    const gt = (value) => ({ op: "gt", value });
    if (only !== null) {
        if (after === null || cmpCodePoints(after[0], only) < 0) return [{ eq: [only] }];
        return after[0] === only ? [{ eq: [only], lower: gt(after[1]) }] : [];
    }
    if (after === null) return [{}];
    return [{ eq: [after[0]], lower: gt(after[1]) }, { lower: gt(after[0]) }];
}

/* Up to `limit` stored instances after `after`, in order: [[name, id, docId], ...]. */
function storedActors(only, after, limit) {
    const out = [];
    for (const range of storedRanges(only, after)) {
        const h = native.scanOpen(STORE_ACTOR_TABLE, "by_actor", JSON.stringify(range), false);
        let consumed = 0;
        try {
            while (out.length < limit) {
                const docs = scanBatch(h, Math.min(32, limit - out.length));
                for (const d of docs) out.push([d.name, d.actorId, d._id]);
                consumed += docs.length;
                if (scanEnded) break;
            }
        } finally {
            native.scanClose(h, consumed);
        }
        if (out.length >= limit) break;
    }
    return out;
}

/* Up to `limit` instances, hot or stored, after `after`, in order: [[name, id, hot, stored]]. */
function listActors(only, after, limit) {
    const hot = [];
    for (const inst of hotActors.values()) {
        if (only !== null && inst.name !== only) continue;
        if (after !== null && cmpPair([inst.name, inst.id], after) <= 0) continue;
        hot.push([inst.name, inst.id]);
    }
    hot.sort(cmpPair);
    const stored = storedActors(only, after, limit);
    const out = [];
    let i = 0, j = 0;
    while (out.length < limit && (i < hot.length || j < stored.length)) {
        const c = i >= hot.length ? 1 : j >= stored.length ? -1 : cmpPair(hot[i], stored[j]);
        if (c < 0) out.push([hot[i][0], hot[i++][1], true, false]);
        else if (c > 0) out.push([stored[j][0], stored[j++][1], false, true]);
        else out.push([hot[i][0], hot[i++][1], true, (j++, true)]);
    }
    return out;
}

async function initialStateText(name, cache) {
    if (cache.has(name)) return cache.get(name);
    const entry = actorDefs.get(name);
    const t = entry === undefined ? null : JSON.stringify(await initialState(entry.def));
    cache.set(name, t);
    return t;
}

/* Destroys one instance: onDeactivate if it is hot (a throw fails the whole operation: nothing
 * is destroyed), then its stored document. The caller drops it from hotActors once nothing
 * can fail any more (`drop`). Returns whether there was anything to destroy. */
async function destroyActor(run, name, id, drop) {
    const inst = hotActors.get(actorKey(name, id));
    if (inst !== undefined && inst.busy)
        throw actorError(`actor ${name}/${id} is busy: its method ${inst.busy.method} is ` +
            "suspended; nothing was destroyed", "ActorBusy");
    if (inst !== undefined && inst.def.config.onDeactivate) {
        try {
            await change(run, inst, inst.def.config.onDeactivate, {}, null);
        } catch (e) {
            throw actorError(`onDeactivate of ${name}/${id} failed: ${e && e.message}; nothing ` +
                "was destroyed", "ActorFailed");
        }
    }
    const doc = readActorDoc(name, id); /* after onDeactivate, which may have stored it */
    /* its timers go with it (seed 001: "cleared when an actor is destroyed") */
    const timers = inst !== undefined ? inst.timers : doc !== null && doc.timers ? doc.timers : {};
    for (const tid of Object.keys(timers)) native.cancelJob(timers[tid][0]);
    if (doc !== null) native.actorDelete(doc._id);
    if (inst !== undefined) drop.push(actorKey(name, id));
    return inst !== undefined || doc !== null;
}

/* `_system/actors:run` {op: "admin", what, ...}; r is JSON text:
 * - list {actor|null, after: [name, id]|null, limit} -> {size, items: [[name, id, hot, stored]]}
 * - inspect {a, i, tracked} -> {hot, stored, state: JSON text} or null (no such instance)
 * - destroy {a, i} -> {destroyed, initial: the initial state's JSON text or null}
 * - destroyAll {actor|null, skip: [[name, id]]} -> {items: [[name, id, initial JSON text|null]],
 *   more, hooked: [[name, id]] (hot, with onDeactivate: destroy them one by one), hookedMore} */
async function actorsAdmin(run, a) {
    const only = typeof a.actor === "string" ? a.actor : null;
    switch (a.what) {
    case "list": {
        const after = Array.isArray(a.after) ? a.after : null;
        const limit = Math.max(1, Math.min(Number(a.limit) || 100, 1001));
        return JSON.stringify({ size: hotActors.size, items: listActors(only, after, limit) });
    }
    case "inspect": {
        const inst = hotActors.get(actorKey(a.a, a.i));
        const doc = readActorDoc(a.a, a.i);
        let state = inst !== undefined ? inst.state : doc !== null ? JSON.parse(doc.state) : null;
        if (inst === undefined && doc === null) {
            const entry = a.tracked ? actorDefs.get(a.a) : undefined;
            if (entry === undefined) return JSON.stringify(null);
            state = await initialState(entry.def);
        }
        return JSON.stringify({ hot: inst !== undefined, stored: doc !== null,
                                state: JSON.stringify(state) });
    }
    case "destroy": {
        const drop = [];
        const destroyed = await destroyActor(run, a.a, a.i, drop);
        const initial = await initialStateText(a.a, new Map());
        for (const k of drop) hotActors.delete(k);
        return JSON.stringify({ destroyed, initial });
    }
    case "destroyAll": {
        /* hot instances with an onDeactivate hook are left to one "destroy" call each (a hook
         * that throws fails only its own call); `skip`: those that failed */
        const failed = new Set((Array.isArray(a.skip) ? a.skip : [])
            .map((p) => actorKey(p[0], p[1])));
        const hooked = [], hookedKeys = new Set();
        for (const inst of hotActors.values()) {
            /* a busy one (a call waits) fails alone, as a hook that throws does */
            if ((only === null || inst.name === only) && (inst.def.config.onDeactivate ||
                                                          inst.busy)) {
                hookedKeys.add(actorKey(inst.name, inst.id));
                if (!failed.has(actorKey(inst.name, inst.id))) hooked.push([inst.name, inst.id]);
            }
        }
        const list = listActors(only, null, ADMIN_DESTROY_MAX + hookedKeys.size + 1)
            .filter((x) => !hookedKeys.has(actorKey(x[0], x[1])));
        const drop = [], items = [], cache = new Map();
        for (const [name, id] of list.slice(0, ADMIN_DESTROY_MAX)) {
            await destroyActor(run, name, id, drop); /* runs no hook: only the store can fail */
            items.push([name, id, await initialStateText(name, cache)]);
        }
        for (const k of drop) hotActors.delete(k);
        hooked.sort(cmpPair);
        return JSON.stringify({ items, more: list.length > ADMIN_DESTROY_MAX,
                                hooked: hooked.slice(0, ADMIN_HOOKED_MAX),
                                hookedMore: hooked.length > ADMIN_HOOKED_MAX });
    }
    default:
        throw new Error(`actors: unknown admin operation ${a.what}`);
    }
}
