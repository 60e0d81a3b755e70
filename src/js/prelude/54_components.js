/* components: Convex's components (convex/convex.config.ts: defineApp, defineComponent,
 * app.use), loaded beside the app's functions by load() (50_functions.js).
 *
 * An instance's functions are registered under `_components/<name>/<module>:<fn>`, a child's
 * under its parent's prefix (`_components/a/_components/b/...`): no app module can have such a
 * path (the app's modules never start with '_'), and clients cannot call them (they are
 * registered as internal). Its tables are the store's `<name>/<table>` (`a/b/<table>` for a
 * child), reached only through its own ctx.db (makeDb, 40_db.js), so that neither the app nor
 * another component sees them. References: `components.<name>.<module>.<fn>` (componentsGeneric:
 * Convex's `_reference/childComponent/...` paths) names a public function of a child of the
 * caller; `api.<module>.<fn>` and "module:fn" inside a component name the component's own.
 * Its process.env holds what its parent passed (use(c, {env})), read through currentPrefix. */

const TO_REFERENCE_PATH = Symbol.for("toReferencePath");
const COMPONENT_MARK = "_components/";
const CHILD_REF = "_reference/childComponent/";
const MAX_COMPONENT_DEPTH = 8;

let componentInternal = new Set(); /* components' internal functions (a parent cannot call) */
let componentInfo = new Map();     /* prefix "_components/a/" -> {ns, path, dbs, env} */

/* `components` of _generated/api.js: components.<child>.<module...>.<fn> */
function componentsGeneric() {
    const make = (parts) => new Proxy({}, {
        get(_, prop) {
            if (prop === TO_REFERENCE_PATH) {
                if (parts.length < 1)
                    throw new Error("API path is expected to be of the form " +
                        "`components.childComponent.functionName`. Found: `components`");
                return CHILD_REF + parts.join("/");
            }
            if (typeof prop !== "string" || prop === "then") return undefined;
            return make(parts.concat([prop]));
        },
    });
    return make([]);
}

/* What app.use() returns: the instance's reference, and its functions as `.exports`. */
class InstalledComponent {
    constructor(definition, name) {
        this._definition = definition;
        this._name = name;
        this[TO_REFERENCE_PATH] = CHILD_REF + name;
    }
    get exports() { return componentsGeneric()[this._name]; }
}

/* Convex's `env` of a definition: references to the variables it declares, for a parent's
 * use(child, {env: {NAME: app.env.X}}) */
function componentEnv(owner, declared) {
    return new Proxy({}, {
        get(_, prop) {
            if (typeof prop !== "string") return undefined;
            if (!Object.prototype.hasOwnProperty.call(declared, prop))
                throw new Error(`Env var "${prop}" is not declared on ${owner}. Add it to the ` +
                    `\`env\` option of ${owner === "this app" ? "defineApp" : "defineComponent"}.`);
            return { __envVarRef: prop };
        },
    });
}

/* Convex's use(): the definition is another convex.config's default export */
function useComponent(definition, options) {
    if (definition === null || typeof definition !== "object" || definition._isRoot !== false ||
        !Array.isArray(definition._childComponents))
        throw new Error("use(): expected a component definition (the default export of a " +
            "component's convex.config, made by defineComponent())");
    if (options !== undefined && (options === null || typeof options !== "object"))
        throw new TypeError(`use(): options must be an object, got ${describeType(options)}`);
    const name = options && options.name !== undefined ? options.name : definition._name;
    if (typeof name !== "string")
        throw new Error(`Component name must be a string. Received: ${typeof name}`);
    if (name.length === 0) throw new Error("Component name cannot be empty.");
    if (!IDENT.test(name) || name.length > 64)
        throw new Error(`Component name \`${name}\` must start with a letter and contain only ` +
            "letters, digits and '_' (at most 64)");
    if (this._childComponents.some((c) => c[0] === name))
        throw new Error(`Component \`${name}\` is already used here: give another instance a ` +
            "name of its own (use(component, { name }))");
    if (options && options.httpPrefix !== undefined)
        throw notSupported("components' HTTP routes (`httpPrefix`)");
    /* the child's environment variables: values, or references to the parent's (this.env.X) */
    const env = {};
    if (options && options.env !== undefined) {
        if (options.env === null || typeof options.env !== "object")
            throw new TypeError(`use(): env must be an object, got ${describeType(options.env)}`);
        for (const [k, val] of Object.entries(options.env)) {
            if (val === undefined) continue;
            if (!Object.prototype.hasOwnProperty.call(definition._env || {}, k))
                throw new Error(`Env var "${k}" is not declared on component ` +
                    `"${definition._name}". Add it to the \`env\` option of defineComponent.`);
            if (typeof val !== "string" && !(val !== null && typeof val === "object" &&
                typeof val.__envVarRef === "string"))
                throw new Error(`Env var "${k}" must be a string or an env var reference. ` +
                    `Received: ${typeof val}`);
            env[k] = val;
        }
    }
    this._childComponents.push([name, definition, env, undefined]);
    return new InstalledComponent(definition, name);
}

/* The options of defineComponent()/defineApp(): the environment variables it declares (each a
 * validator, as Convex checks): a component's process.env holds those its parent passes */
function definitionEnv(options, what) {
    if (options === undefined) return {};
    if (options === null || typeof options !== "object")
        throw new TypeError(`${what}: options must be an object, got ${describeType(options)}`);
    if (options.httpPrefix !== undefined)
        throw notSupported("components' HTTP routes (`httpPrefix`)");
    const env = options.env === undefined ? {} : options.env;
    if (env === null || typeof env !== "object")
        throw new TypeError(`${what}: env must be an object of validators`);
    for (const [name, val] of Object.entries(env))
        if (!(val instanceof Validator))
            throw new Error(`Environment variable "${name}" must be defined with a validator ` +
                "(e.g. v.string()).");
    return Object.assign({}, env);
}

function defineComponent(name, options) {
    if (typeof name !== "string" || !IDENT.test(name))
        throw new Error(`defineComponent(): the name must start with a letter and contain only ` +
            `letters, digits and '_', got ${typeof name === "string" ? `"${name}"` :
                describeType(name)}`);
    const env = definitionEnv(options, "defineComponent()");
    return { _isRoot: false, _name: name, _env: env, _childComponents: [], _exportTree: {},
             _onInitCallbacks: {}, env: componentEnv(`component "${name}"`, env),
             export: () => ({ name, childComponents: [] }), use: useComponent };
}

function defineApp(options) {
    const env = definitionEnv(options, "defineApp()");
    return { _isRoot: true, _childComponents: [], _exportTree: {}, _env: env,
             env: componentEnv("this app", env), export: () => ({ childComponents: [] }),
             use: useComponent };
}

/* convex/server's getFunctionName: Convex's, which refuses what names no function of the
 * current component (the prelude's own getFunctionName passes a handle on) */
function publicFunctionName(ref) {
    if (typeof ref === "string" && ref.startsWith(HANDLE_PREFIX))
        throw new Error('Expected function reference like "api.file.func" or ' +
            `"internal.file.func", but received function handle ${ref}`);
    if (ref !== null && typeof ref === "object" && typeof ref[TO_REFERENCE_PATH] === "string")
        throw new Error("Expected function reference in the current component like " +
            `"api.file.func" or "internal.file.func", but received reference ` +
            `${ref[TO_REFERENCE_PATH]}`);
    return getFunctionName(ref);
}

/* The function path a `components.<child>.<module...>.<fn>` reference names, from the component
 * whose prefix is `prefix` ("" for the app). */
function childFunctionPath(prefix, ref) {
    const parts = ref.startsWith(CHILD_REF) ? ref.slice(CHILD_REF.length).split("/") : [];
    if (parts.length < 3 || parts.some((x) => x === ""))
        throw new TypeError(`\`${ref}\` is not a reference to a component's function ` +
            "(expected components.<component>.<module>.<function>)");
    const child = parts[0], fn = parts[parts.length - 1];
    const path = `${prefix}${COMPONENT_MARK}${child}/${parts.slice(1, -1).join("/")}:${fn}`;
    if (componentInternal.has(path))
        throw new Error(`\`${parts.slice(1).join(".")}\` is an internal function of component ` +
            `\`${child}\`: only its own functions can call it`);
    return path;
}

/* The prefix of a component's function path ("_components/a/_components/b/"), "" for the app's */
function componentPrefix(path) {
    let i = 0;
    while (path.startsWith(COMPONENT_MARK, i)) {
        const j = path.indexOf("/", i + COMPONENT_MARK.length);
        if (j < 0) break;
        i = j + 1;
    }
    return path.slice(0, i);
}

/* Convex's componentPath of a function ("a/b"), "" for the app's */
function componentPathOf(path) {
    const p = componentPrefix(path);
    return p === "" ? "" : componentInfo.has(p) ? componentInfo.get(p).path : "";
}

/* The path a reference names from inside the component with `prefix`: a function handle and a
 * child's reference as they are, anything else the component's own. */
function componentFunctionPath(prefix, ref) {
    if (ref !== null && typeof ref === "object") {
        const rp = ref[TO_REFERENCE_PATH];
        if (typeof rp === "string") return childFunctionPath(prefix, rp);
    }
    const n = getFunctionName(ref);
    return n.startsWith(HANDLE_PREFIX) ? n.slice(HANDLE_PREFIX.length) : prefix + n;
}

/* A validator's JSON with its ids' tables named as the store names them (v.id("t") in component
 * `a` is an id of "a/t"); copied, the original may be another instance's too. */
function namespaceIds(json, ns) {
    if (Array.isArray(json)) return json.map((x) => namespaceIds(x, ns));
    if (json === null || typeof json !== "object") return json;
    const out = {};
    for (const k of Object.keys(json)) out[k] = namespaceIds(json[k], ns);
    if (out.type === "id" && typeof out.tableName === "string" &&
        (out.tableName.charCodeAt(0) !== 95 /* _ */ || NS_SYSTEM_TABLES.includes(out.tableName)))
        out.tableName = ns + out.tableName;
    return out;
}

/* Registers the instances of the app's convex.config (app.config, its default export) and of
 * their own, depth first: their functions through add(path, info, json of args, of returns) and
 * their schemas' tables. Returns null without components, else {tables, indexes, schemaless,
 * crons, namespaces}: the tables' definitions and index fields under their store names, the
 * namespaces of the instances without a schema ("a/"), whose tables need no declaration, their
 * crons.ts jobs (named "<component path>/<job>", each running the component's function), and
 * every instance's namespace (the store gives each its own `_scheduled_functions`). */
function loadComponents(app, add) {
    componentInternal = new Set();
    componentInfo = new Map();
    let cfg = app.config;
    if (cfg === undefined || cfg === null) return null;
    if (cfg._isRoot === undefined && cfg.default !== undefined) cfg = cfg.default;
    if (cfg === null || typeof cfg !== "object" || cfg._isRoot !== true)
        throw new Error("convex.config: the default export must be defineApp()'s app");
    const defs = Array.isArray(app.componentDefs) ? app.componentDefs : [];
    const out = { tables: {}, indexes: {}, schemaless: [], crons: {}, namespaces: [] };
    const walk = (node, prefix, ns, depth, parentEnv) => {
        for (const [name, def, given] of node._childComponents) {
            const where = ns + name;
            if (depth > MAX_COMPONENT_DEPTH)
                throw new Error(`component \`${where}\`: components nest at most ` +
                    `${MAX_COMPONENT_DEPTH} deep (does a component use itself?)`);
            const entry = defs.find((d) => d.definition === def ||
                (d.definition && d.definition.default === def));
            if (!entry)
                throw new Error(`component \`${where}\`: its definition is not a convex.config ` +
                    "the bundle found (import it from the component's convex.config file)");
            const p = prefix + COMPONENT_MARK + name + "/", n = where + "/";
            /* its process.env: the values its parent passed, references read from the parent's */
            const env = {};
            for (const [k, val] of Object.entries(given || {})) {
                const x = typeof val === "string" ? val : parentEnv[val.__envVarRef];
                if (typeof x === "string") env[k] = x;
            }
            Object.freeze(env);
            componentInfo.set(p, { ns: n, path: where, dbs: null, env });
            out.namespaces.push(n);
            const modules = entry.modules || {};
            for (const mod of Object.keys(modules)) {
                const exports = modules[mod];
                if (exports === null || (typeof exports !== "object" &&
                    typeof exports !== "function"))
                    continue;
                const d = exports.default;
                if (mod === "crons" && d && d.isCrons === true) /* its cron jobs, as the app's */
                    for (const [id, job] of Object.entries(JSON.parse(d.export()))) {
                        const name = job.name.startsWith(HANDLE_PREFIX) ?
                            job.name.slice(HANDLE_PREFIX.length) : p + job.name;
                        out.crons[`${where}/${id}`] = Object.assign({}, job, { name });
                    }
                if (mod === "http" && d && d.isRouter === true)
                    throw notSupported(`component \`${where}\`'s HTTP routes (its http module)`);
                for (const fn of Object.keys(exports)) {
                    const info = registry.get(exports[fn]);
                    if (!info) continue;
                    const args = info.args ? namespaceIds(info.args.json, n) : null;
                    const returns = info.returns ? namespaceIds(info.returns.json, n) : null;
                    const paths = fn === "default" ? [`${p}${mod}:${fn}`, p + mod] :
                        [`${p}${mod}:${fn}`];
                    for (const path of paths) {
                        add(path, info, args, returns);
                        if (info.internal) componentInternal.add(path);
                    }
                }
            }
            let s = entry.schema;
            if (s !== undefined && s !== null && !(s instanceof SchemaDefinition) &&
                s.default instanceof SchemaDefinition)
                s = s.default;
            if (s instanceof SchemaDefinition) {
                const json = JSON.parse(s.export()), idx = s.indexMap();
                for (const t of Object.keys(json.tables)) {
                    const d = namespaceIds(json.tables[t], n);
                    if (!json.schemaValidation) delete d.document;
                    out.tables[n + t] = d;
                    out.indexes[n + t] = idx[t];
                }
            } else if (s !== undefined && s !== null) {
                throw new Error(`component \`${where}\`: its schema must be the default export ` +
                    "of defineSchema(...)");
            } else {
                out.schemaless.push(n);
            }
            walk(def, p, n, depth + 1, env);
        }
    };
    walk(cfg, "", "", 1, processEnv);
    return out;
}

/* process.env of the running call: the app's, or a component's own (componentInfo) */
function currentEnv() {
    if (currentPrefix === "") return processEnv;
    const c = componentInfo.get(currentPrefix);
    return c ? c.env : processEnv;
}

/* A component's ctx: its own ctx.db, references resolved from it, no identity (Convex gives
 * components none: the app passes what they need as arguments). `base` is the ctx makeCtx made
 * for the call (its execution, frame and meta). */
function componentCtx(kind, base, prefix) {
    const c = componentInfo.get(prefix);
    if (!c) throw new Error(`no component is loaded under \`${prefix}\``);
    if (c.dbs === null) c.dbs = makeDb(c.ns);
    const resolved = (f) => function (ref, ...rest) {
        let path;
        try {
            path = componentFunctionPath(prefix, ref);
        } catch (e) {
            return Promise.reject(e);
        }
        return f.call(this, path, ...rest);
    };
    const ctx = Object.assign({}, base, { auth: anonymousAuth });
    if (kind === QUERY) {
        ctx.db = c.dbs.reader;
        ctx.runQuery = resolved((p, a, o) => base.runQuery.call(ctx, p, a, o));
        return ctx;
    }
    /* a mutation's (its execution's) or an action's, writing the component's own jobs */
    const s = Object.assign({}, base.scheduler, { [SCHED_NS]: c.ns });
    ctx.scheduler = { runAfter: (d, r, a) => resolved((p) => s.runAfter(d, p, a))(r),
                      runAt: (t, r, a) => resolved((p) => s.runAt(t, p, a))(r),
                      cancel: (id) => s.cancel(id) };
    if (kind === MUTATION) {
        ctx.db = execWriter(base[EXEC], base[FRAME], c.dbs.writer);
        ctx.runQuery = resolved((p, a, o) => base.runQuery.call(ctx, p, a, o));
        ctx.runMutation = resolved((p, a, o) => base.runMutation.call(ctx, p, a, o));
        return ctx;
    }
    ctx.runQuery = resolved((p, a) => base.runQuery(p, a));
    ctx.runMutation = resolved((p, a) => base.runMutation(p, a));
    ctx.runAction = resolved((p, a) => base.runAction(p, a));
    ctx.vectorSearch = (t, i, q) => vectorSearchIn(c.ns, t, i, q);
    return ctx;
}
