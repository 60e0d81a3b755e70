/* db: ctx.db for queries (reader) and mutations (writer). Every read goes to the store through
 * native calls inside the execution's transaction; scans fetch documents in batches and report on
 * close how many documents the JS code actually consumed, so the read set is exact. withIndex
 * ranges are checked here against the schema's index fields; filters are evaluated here in
 * Convex's value order. withSearchIndex queries run whole in the store (native.search). */

let schemaIndexes = null; /* {table: {index: [fields]}} from the loaded schema, or null */
const MAX_BATCH = 256;
const MAX_PAGE_ROWS = 16384;  /* paginate(): the most index rows one page reads */
const SOFT_MAX_PAGE_LEN = 6144; /* Convex's: a page longer than 3/4 of an array's 8192 elements
                                   is "SplitRecommended" */

const MAX_JOURNAL = 16384;     /* the longest query journal (JS_JOURNAL_MAX in runtime.h) */

/* The execution's paginate() state: Convex allows one paginate() per query or mutation. In a
 * journaled query run (Convex's sync protocol) `journal` is what an earlier run recorded (its
 * page's end cursor, or null) and `out` what this run records, for native.done. */
let pageRun = { journaled: false, journal: null, out: null, calls: 0 };

function pageRunStart(journal) {
    pageRun = { journaled: journal !== undefined, journal: journal === undefined ? null : journal,
                out: null, calls: 0 };
    return pageRun;
}

function countPaginate() {
    if (pageRun.calls++ > 0)
        throw new Error("This query or mutation function ran multiple paginated queries. " +
            "Convex only supports a single paginated query in each function.");
}

function checkPaginationOpts(opts) {
    if (opts === null || typeof opts !== "object")
        throw new TypeError(`paginate(): expected {numItems, cursor}, got ${describeType(opts)}`);
    /* Convex's checks and texts (query_impl.ts, then the backend's queryPage); a page larger
     * than the rows it may read stops there (SplitRequired) */
    const n = opts.numItems;
    if (typeof n !== "number" || !(n >= 0))
        throw new Error(`\`options.numItems\` must be a positive number. Received \`${n}\`.`);
    if (n === 0) throw new Error("Must request at least 1 document while paginating");
    if (!Number.isInteger(n))
        throw new Error(`paginate(): numItems must be an integer, got ${n}`);
    for (const k of ["cursor", "endCursor"]) {
        const c = opts[k];
        if (c !== null && c !== undefined && typeof c !== "string")
            throw new TypeError(`paginate(): ${k} must be a string or null, got ` +
                `${describeType(c)}`);
    }
    if (opts.cursor === undefined)
        throw new TypeError("paginate(): cursor is required (null for the first page)");
    if (opts.maximumRowsRead === 0 || opts.maximumBytesRead === 0)
        throw new Error("maximumRowsRead and maximumBytesRead must be greater than 0");
    for (const k of ["maximumRowsRead", "maximumBytesRead"]) {
        const m = opts[k];
        if (m !== undefined && m !== null && (typeof m !== "number" || !Number.isInteger(m) || m < 1))
            throw new Error(`paginate(): ${k} must be a positive integer, got ` +
                `${typeof m === "number" ? m : describeType(m)}`);
    }
}

/* An app mistake in building a query (withIndex, withSearchIndex, order): an error with the code
 * InvalidQuery, which the caller gets as 400 like the store's own query checks (errorResult in
 * 50_functions.js carries `code`). Convex's texts where Convex's client has them. */
function queryError(message, Ctor = Error) {
    const e = new Ctor(message);
    e.code = "InvalidQuery";
    return e;
}

/* Convex's validateArg: an argument left out. */
function requireArg(arg, idx, method, argName) {
    if (arg === undefined)
        throw queryError(`Must provide arg ${idx} \`${argName}\` to \`${method}\``, TypeError);
}

/* A value compared in withIndex or withSearchIndex, in wire form; one that cannot be stored is an
 * InvalidQuery (unless it has a code of its own, as ValueTooDeep). */
function queryValue(val, where) {
    try {
        return toWire(val, 0, where);
    } catch (e) {
        if (e instanceof Error && e.code === undefined) e.code = "InvalidQuery";
        throw e;
    }
}

function indexFields(table, index) {
    if (index === "by_id") return { declared: ["_id"], all: ["_id"] };
    if (index === "by_creation_time")
        return { declared: ["_creationTime"], all: ["_creationTime"] };
    const t = schemaIndexes && schemaIndexes[table];
    const f = t && Object.prototype.hasOwnProperty.call(t, index) ? t[index] : null;
    if (!f) throw queryError(`index \`${index}\` not found on table \`${table}\``);
    return { declared: f, all: f.concat(["_creationTime"]) };
}

class IndexRange {
    constructor(table, index, fields) {
        this.table = table;
        this.index = index;
        this.fields = fields;
        this.eqs = [];
        this.lower = null;
        this.upper = null;
        this.rangeField = null;
    }

    fail(what) {
        throw queryError(`index \`${this.index}\` of \`${this.table}\` is on ` +
            `[${this.fields.declared.join(", ")}]; ${what}`);
    }

    /* undefined (a document without the field: it sorts before every value) stays undefined */
    value(field, val) {
        return val === undefined ? undefined : queryValue(val, `withIndex value for \`${field}\``);
    }

    eq(field, val) {
        if (this.rangeField !== null)
            this.fail(`cannot use eq on \`${field}\` after a range on \`${this.rangeField}\``);
        const next = this.fields.all[this.eqs.length];
        if (next === undefined)
            this.fail(`cannot use eq on \`${field}\`: every field is already bound`);
        if (field !== next)
            this.fail(`cannot use eq on \`${field}\`; the next field is \`${next}\``);
        this.eqs.push(this.value(field, val));
        return this;
    }

    bound(op, field, val, isLower) {
        const next = this.fields.all[this.eqs.length];
        if (next === undefined || field !== next ||
            (this.rangeField !== null && field !== this.rangeField))
            this.fail(`cannot range on \`${field}\``);
        if (isLower ? this.lower : this.upper)
            this.fail(`\`${field}\` already has ${isLower ? "a lower" : "an upper"} bound`);
        this.rangeField = field;
        const b = { op, value: this.value(field, val) };
        if (isLower) this.lower = b;
        else this.upper = b;
        return this;
    }

    gt(f, x) { return this.bound("gt", f, x, true); }
    gte(f, x) { return this.bound("gte", f, x, true); }
    lt(f, x) { return this.bound("lt", f, x, false); }
    lte(f, x) { return this.bound("lte", f, x, false); }

    /* {eq, eqUndefined: positions in eq that are undefined, lower, upper}; a bound's undefined
     * value is left out of its JSON (store_scan.c reads a missing value as undefined) */
    export() {
        const r = {};
        if (this.eqs.length) {
            r.eq = this.eqs.map((v) => (v === undefined ? null : v));
            const u = [];
            this.eqs.forEach((v, i) => v === undefined && u.push(i));
            if (u.length) r.eqUndefined = u;
        }
        if (this.lower) r.lower = this.lower;
        if (this.upper) r.upper = this.upper;
        return JSON.stringify(r);
    }
}

/* Convex's SearchFilter (exported by convex/server): the type of what a search filter
 * function returns. */
class SearchFilter {}

/* The builder withSearchIndex hands its function: search(field, text) once, then eq(field,
 * value) per filter field; the store checks the fields against the index. */
class SearchFilterBuilder extends SearchFilter {
    constructor(index) {
        super();
        this.index = index;
        this.field = null;
        this.text = null;
        this.eqs = [];
    }

    search(field, text) {
        requireArg(field, 1, "search", "fieldName");
        requireArg(text, 2, "search", "query");
        if (this.field !== null)
            throw queryError(`withSearchIndex(\`${this.index}\`): search() may only be called once`);
        if (typeof field !== "string")
            throw queryError(`search(): expected the search field's name, got ${describeType(field)}`,
                TypeError);
        if (typeof text !== "string")
            throw queryError(`search(): expected the search text, got ${describeType(text)}`,
                TypeError);
        this.field = field;
        this.text = text;
        return this;
    }

    eq(field, val) {
        requireArg(field, 1, "eq", "fieldName");
        if (this.field === null)
            throw queryError(`withSearchIndex(\`${this.index}\`): call search() before eq()`);
        if (typeof field !== "string")
            throw queryError(`eq(): expected a filter field's name, got ${describeType(field)}`,
                TypeError);
        this.eqs.push(val === undefined ? [field]
            : [field, queryValue(val, `withSearchIndex value for \`${field}\``)]);
        return this;
    }
}

/* Filter expressions: each builder call returns an Expr; evaluation walks them per document. */
class Expr {
    constructor(fn) { this.fn = fn; }
}
const ev = (x, d) => (x instanceof Expr ? x.fn(d) : x);
const hasOwn = Object.prototype.hasOwnProperty;

function arith(name, a, b, op) {
    return new Expr((d) => {
        const x = ev(a, d), y = ev(b, d);
        if (typeof x !== typeof y || (typeof x !== "number" && typeof x !== "bigint"))
            throw new Error(`q.${name}(): operands must both be numbers or both be bigints, got ` +
                `${describeType(x)} and ${describeType(y)}`);
        return op(x, y);
    });
}

const filterBuilder = Object.freeze({
    field(path) {
        if (typeof path !== "string")
            throw new TypeError("q.field(): expected a field path string");
        const parts = path.split(".");
        return new Expr((d) => {
            let x = d;
            for (let i = 0; i < parts.length; i++) {
                if (x === null || typeof x !== "object" || Array.isArray(x) ||
                    !hasOwn.call(x, parts[i]))
                    return undefined;
                x = x[parts[i]];
            }
            return x;
        });
    },
    eq: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) === 0),
    neq: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) !== 0),
    lt: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) < 0),
    lte: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) <= 0),
    gt: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) > 0),
    gte: (a, b) => new Expr((d) => compareValues(ev(a, d), ev(b, d)) >= 0),
    and: (...xs) => new Expr((d) => xs.every((x) => ev(x, d) === true)),
    or: (...xs) => new Expr((d) => xs.some((x) => ev(x, d) === true)),
    not: (x) => new Expr((d) => ev(x, d) !== true),
    add: (a, b) => arith("add", a, b, (x, y) => x + y),
    sub: (a, b) => arith("sub", a, b, (x, y) => x - y),
    mul: (a, b) => arith("mul", a, b, (x, y) => x * y),
    div: (a, b) => arith("div", a, b, (x, y) => x / y),
    mod: (a, b) => arith("mod", a, b, (x, y) => x % y),
    neg: (a) => new Expr((d) => {
        const x = ev(a, d);
        if (typeof x !== "number" && typeof x !== "bigint")
            throw new Error(`q.neg(): expected a number or bigint, got ${describeType(x)}`);
        return -x;
    }),
});

class Query {
    constructor(table) {
        this.table = table;
        this.index = "by_creation_time";
        this.range = "{}";
        this.desc = false;
        this.filters = [];
        this.indexed = false;
        this.ordered = false;
    }

    withIndex(name, rangeFn) {
        requireArg(name, 1, "withIndex", "indexName");
        if (this.indexed)
            throw queryError("withIndex() may only be called once, right after query()");
        if (this.ordered || this.filters.length)
            throw queryError("withIndex() must come before order() and filter()");
        this.indexed = true;
        const r = new IndexRange(this.table, name, indexFields(this.table, name));
        if (rangeFn !== undefined) rangeFn(r);
        this.index = name;
        this.range = r.export();
        return this;
    }

    fullTableScan() {
        if (this.indexed)
            throw queryError("fullTableScan() may only be called once, right after query()");
        this.indexed = true;
        return this;
    }

    /* Convex's full-text search: q => q.search(field, text).eq(filterField, value)...; the
     * store returns the matches by relevance then newest, at most 1,024 (store_search). */
    withSearchIndex(name, searchFn) {
        requireArg(name, 1, "withSearchIndex", "indexName");
        requireArg(searchFn, 2, "withSearchIndex", "searchFilter");
        if (this.indexed)
            throw queryError("withSearchIndex() may only be called once, right after query()");
        if (this.ordered || this.filters.length)
            throw queryError("withSearchIndex() must come before order() and filter()");
        if (typeof name !== "string")
            throw queryError(`withSearchIndex(): expected a search index name, got ` +
                `${describeType(name)}`, TypeError);
        if (typeof searchFn !== "function")
            throw queryError(`withSearchIndex(): expected a function q => q.search(...), got ` +
                `${describeType(searchFn)}`, TypeError);
        this.indexed = true;
        const f = new SearchFilterBuilder(name);
        if (searchFn(f) !== f || f.field === null)
            throw queryError(`withSearchIndex(\`${name}\`): the search filter must call ` +
                `q.search(field, text) and return it`);
        this.searchIndex = name;
        this.searchQuery = { field: f.field, search: f.text, eq: f.eqs };
        return this;
    }

    order(order) {
        requireArg(order, 1, "order", "order");
        if (this.searchIndex !== undefined)
            throw queryError("Search queries must always be in relevance order. Can not set " +
                "order manually.");
        if (order !== "asc" && order !== "desc")
            throw queryError(`order(): expected "asc" or "desc", got ${String(order)}`);
        if (this.ordered) throw queryError("Queries may only specify order at most once");
        this.ordered = true;
        this.desc = order === "desc";
        return this;
    }

    filter(fn) {
        if (typeof fn !== "function")
            throw new TypeError("filter(): expected a function q => expression");
        this.filters.push(fn(filterBuilder));
        return this;
    }

    matches(d) {
        const f = this.filters;
        for (let i = 0; i < f.length; i++) if (ev(f[i], d) !== true) return false;
        return true;
    }

    /* Up to `limit` matching documents; consumed counts what the scan handed to us and we used. */
    run(limit) {
        const out = [];
        if (limit <= 0) return out;
        if (this.searchIndex !== undefined) {
            /* without filter() the store stops at `limit`; the read set is the same */
            const q = this.filters.length === 0 && limit < 1024
                ? Object.assign({ limit }, this.searchQuery) : this.searchQuery;
            const docs = decode(native.search(this.table, this.searchIndex, JSON.stringify(q)));
            for (let i = 0; i < docs.length && out.length < limit; i++)
                if (this.matches(docs[i])) out.push(docs[i]);
            return out;
        }
        const filtered = this.filters.length > 0;
        /* first() and take(1): one native call opens, reads and closes (the same read set) */
        if (limit === 1 && !filtered)
            return decode(native.scanFirst(this.table, this.index, this.range, this.desc));
        const h = native.scanOpen(this.table, this.index, this.range, this.desc);
        let batch = filtered ? 16 : Math.min(limit, MAX_BATCH);
        let consumed = 0;
        try {
            for (;;) {
                const docs = scanBatch(h, batch);
                const ended = scanEnded;
                let i = 0;
                for (; i < docs.length && out.length < limit; i++) {
                    consumed++;
                    if (!filtered || this.matches(docs[i])) out.push(docs[i]);
                }
                if (out.length >= limit || ended) break;
                batch = filtered ? Math.min(batch * 2, MAX_BATCH)
                    : Math.min(limit - out.length, MAX_BATCH);
            }
        } finally {
            native.scanClose(h, consumed);
        }
        return out;
    }

    async collect() { return this.run(Infinity); }

    async take(n) {
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
            throw new Error(`take(): expected a non-negative integer, got ${String(n)}`);
        return this.run(n);
    }

    async first() {
        const r = this.run(1);
        return r.length ? r[0] : null;
    }

    async unique() {
        const r = this.run(2);
        if (r.length > 1)
            throw new Error(`unique() query returned more than one result from table ${this.table}:` +
                `\n [${r[0]._id}, ${r[1]._id}, ...]`); /* Convex's text */
        return r.length ? r[0] : null;
    }

    /* One page of the query: the documents after `cursor` (null: from the start), numItems of
     * them, or, with endCursor, every one up to and including endCursor's position, so a page
     * re-run keeps its boundaries while rows come and go. The read set is the page's key range:
     * from cursor to the last row read (continueCursor), or to endCursor. Without endCursor, a
     * journaled run ends where the run that made its journal ended (Convex's query journal),
     * and records its own end. */
    async paginate(opts) {
        checkPaginationOpts(opts);
        countPaginate();
        const numItems = opts.numItems;
        const cursor = opts.cursor;
        let endCursor = opts.endCursor === undefined ? null : opts.endCursor;
        const fromJournal = endCursor === null && pageRun.journal !== null;
        if (fromJournal) endCursor = pageRun.journal;
        const maxRows = typeof opts.maximumRowsRead === "number"
            ? Math.min(opts.maximumRowsRead, MAX_PAGE_ROWS) : MAX_PAGE_ROWS;
        const bounded = endCursor === null; /* stops at numItems; else reads to endCursor */
        const h = native.scanOpen(this.table, this.index, this.range, this.desc, cursor,
            endCursor, fromJournal);
        const filtered = this.filters.length > 0;
        const page = [];
        let consumed = 0, ended = false, cut = false;
        let batch = bounded && !filtered ? Math.min(numItems, MAX_BATCH) : 16;
        try {
            for (;;) {
                const want = Math.min(batch, maxRows - consumed);
                const docs = scanBatch(h, want);
                /* the range ended only if the page took every row of the batch that reached its
                 * end (a filtered page may fill before it) */
                let batchEnded = scanEnded;
                for (let i = 0; i < docs.length; i++) {
                    if (bounded && page.length >= numItems) {
                        batchEnded = false;
                        break;
                    }
                    consumed++;
                    if (!filtered || this.matches(docs[i])) page.push(docs[i]);
                }
                if (batchEnded) {
                    ended = true;
                    break;
                }
                if (bounded && page.length >= numItems) break;
                if (consumed >= maxRows) {
                    cut = true;
                    break;
                }
                batch = bounded && !filtered ? Math.min(numItems - page.length, MAX_BATCH)
                    : Math.min(batch * 2, MAX_BATCH);
            }
            const here = native.scanCursor(h, consumed);
            /* Convex's result, every member present: splitCursor the middle of the rows read;
             * pageStatus SplitRequired when the rows limit stopped the page, SplitRecommended
             * past 3/4 of it or past SOFT_MAX_PAGE_LEN documents */
            const r = {
                page,
                isDone: bounded ? ended : ended && here === endCursor,
                continueCursor: bounded ? here : endCursor,
                splitCursor: consumed >= 2 ? native.scanCursor(h, Math.ceil(consumed / 2)) : null,
                pageStatus: cut ? "SplitRequired"
                    : consumed > maxRows * 3 / 4 || page.length > SOFT_MAX_PAGE_LEN
                        ? "SplitRecommended" : null,
            };
            if (pageRun.journaled) {
                if (r.continueCursor.length > MAX_JOURNAL) {
                    const e = new Error(`paginate(): this page's end cursor is ` +
                        `${r.continueCursor.length} bytes, more than the ${MAX_JOURNAL} a query ` +
                        `journal holds (the index key of the page's last row is too large to ` +
                        `keep the page's end fixed); index smaller values`);
                    e.code = "JournalTooLarge";
                    throw e;
                }
                pageRun.out = r.continueCursor;
            }
            return r;
        } finally {
            native.scanClose(h, consumed);
        }
    }

    /* The number of documents collect() would return, without keeping them; its read set is the
     * whole range it counted, as collect()'s is, so a live count re-runs on any change there. */
    async count() {
        if (this.searchIndex !== undefined) return this.run(Infinity).length;
        const h = native.scanOpen(this.table, this.index, this.range, this.desc);
        const filtered = this.filters.length > 0;
        let n = 0, consumed = 0;
        try {
            for (;;) {
                const docs = scanBatch(h, MAX_BATCH);
                const ended = scanEnded;
                for (let i = 0; i < docs.length; i++) {
                    consumed++;
                    if (!filtered || this.matches(docs[i])) n++;
                }
                if (ended) break;
            }
        } finally {
            native.scanClose(h, consumed);
        }
        return n;
    }

    [Symbol.asyncIterator]() {
        const q = this;
        if (q.searchIndex !== undefined) {
            let docs = null, pos = 0;
            return {
                next() {
                    try {
                        if (docs === null) docs = q.run(Infinity);
                    } catch (e) {
                        return Promise.reject(e);
                    }
                    return Promise.resolve(pos < docs.length
                        ? { value: docs[pos++], done: false } : { value: undefined, done: true });
                },
                return() { return Promise.resolve({ value: undefined, done: true }); },
            };
        }
        let h = null, docs = [], pos = 0, consumed = 0, ended = false;
        const close = () => {
            if (h !== null) {
                const x = h;
                h = null;
                native.scanClose(x, consumed);
            }
        };
        return {
            next() {
                try {
                    for (;;) {
                        if (pos < docs.length) {
                            const d = docs[pos++];
                            consumed++;
                            if (q.matches(d)) return Promise.resolve({ value: d, done: false });
                            continue;
                        }
                        if (ended) {
                            close();
                            return Promise.resolve({ value: undefined, done: true });
                        }
                        if (h === null) h = native.scanOpen(q.table, q.index, q.range, q.desc);
                        docs = scanBatch(h, 64);
                        pos = 0;
                        ended = scanEnded;
                    }
                } catch (e) {
                    close();
                    return Promise.reject(e);
                }
            },
            return() {
                close();
                return Promise.resolve({ value: undefined, done: true });
            },
        };
    }
}

function checkTable(table, what) {
    if (typeof table !== "string" || table === "")
        throw new TypeError(`${what}: expected a table name, got ${describeType(table)}`);
}

/* System tables (Convex's): read through ctx.db.system only, never written by app code.
 * `_scheduled_functions` holds the scheduler's jobs (45_scheduler.js, store_sched.c), one table
 * per namespace as Convex has one per component (NS_SYSTEM_TABLES: component `a`'s is the store's
 * `a/_scheduled_functions`); `_storage` the stored files (46_storage.js, store_storage.c). */
const SYSTEM_TABLES = ["_scheduled_functions", "_storage"];
const NS_SYSTEM_TABLES = ["_scheduled_functions"];
const EMPTY_SYSTEM_TABLES = [];

function refuseSystemWrite(table, what) {
    if (typeof table === "string" && table.charCodeAt(0) === 95 /* _ */)
        throw new Error(`${what}: \`${table}\` is a system table; system tables are read-only ` +
            `(read them with ctx.db.system)`);
}

/* A query over a system table that has no documents yet: every read returns nothing. */
class EmptySystemQuery extends Query {
    run() { return []; }
    async paginate(opts) {
        checkPaginationOpts(opts);
        countPaginate(); /* records no journal: its cursor is not a real one */
        return { page: [], isDone: true, continueCursor: "_end_cursor", splitCursor: null,
                 pageStatus: null };
    }
    async count() { return 0; }
    [Symbol.asyncIterator]() {
        return { next: () => Promise.resolve({ value: undefined, done: true }),
                 return: () => Promise.resolve({ value: undefined, done: true }) };
    }
}

/* The last part of a store's table name: the name its own namespace gives it */
const ownTableName = (t) => (typeof t === "string" ? t.slice(t.lastIndexOf("/") + 1) : t);

/* ctx.db.system of namespace ns ("" the app's): its own `_scheduled_functions`, the shared rest.
 * A system document of another namespace is none of its own: get() answers null. */
function makeSystem(ns) {
    const store = (t) => (ns !== "" && NS_SYSTEM_TABLES.includes(t) ? ns + t : t);
    const sys = Object.freeze({
        async get(a, b) {
            const id = b === undefined ? idIn(undefined, a, "db.system.get()") :
                idIn(a, b, "db.system.get()", true, store);
            const table = native.idTable(id);
            const own = ownTableName(table);
            if (typeof table === "string" && own.charCodeAt(0) !== 95)
                throw new Error(`db.system.get(): \`${id}\` is a document of \`${own}\`, not of ` +
                    `a system table; use db.get()`);
            if (table === null || EMPTY_SYSTEM_TABLES.includes(table) || table !== store(own))
                return null;
            const t = native.get(id, null);
            return t === null ? null : decode(t);
        },
        query(table) {
            checkTable(table, "db.system.query()");
            if (!SYSTEM_TABLES.includes(table))
                throw new Error(`db.system.query(): \`${table}\` is not a system table (system ` +
                    `tables: ${SYSTEM_TABLES.join(", ")}); use db.query()`);
            return EMPTY_SYSTEM_TABLES.includes(table) ? new EmptySystemQuery(table) :
                new Query(store(table));
        },
        normalizeId(table, id) {
            return SYSTEM_TABLES.includes(table) && typeof id === "string" &&
                native.idTable(id) === store(table) ? id : null;
        },
        table(table) { return new TableReader(table, sys); },
    });
    return sys;
}
const system = makeSystem("");

function checkId(id, what) {
    if (typeof id !== "string")
        throw new TypeError(`${what}: expected a document id, got ${describeType(id)}`);
}

/* The id of a call in either of Convex's forms: (id), or (table, id) since convex 1.31. With a
 * table the id must be one of that table's documents, so that an id of the wrong table never
 * reaches another table's document (Convex's check and texts, as convex-test has them). An id
 * that names no table is the call's to answer, as without one. */
function idIn(table, id, what, system = false, store = (t) => t) {
    checkId(id, what);
    if (table === undefined) return id;
    if (typeof table !== "string")
        throw invalidArgument("Invalid argument `tableName`, expected string but got " +
            `'${typeof table}': ${String(table)}`);
    if ((table.charCodeAt(0) === 95 /* _ */) !== system)
        throw invalidArgument(system ? "User tables cannot be accessed with db.system." :
            "System tables can only be accessed with db.system.");
    const actual = native.idTable(id);
    if (actual !== null && actual !== store(table))
        throw invalidArgument(`Invalid argument \`id\`, expected ID in table '${table}' but got ` +
            `ID in table '${system ? ownTableName(actual) : actual}'`);
    return id;
}
function invalidArgument(message) {
    const e = new Error(message);
    e.code = "InvalidArgument";
    return e;
}

/* Up to n documents of scan h; scanEnded says whether the scan has no more. Fewer than n means
 * the end, unless native.scanNext ended the batch with null: the next document did not fit in
 * the batch's text (large system documents), and comes in the next batch. */
let scanEnded = false;
function scanBatch(h, n) {
    const docs = decode(native.scanNext(h, n));
    const last = docs.length - 1;
    if (last >= 0 && docs[last] === null) {
        docs.pop();
        scanEnded = false;
    } else {
        scanEnded = docs.length < n;
    }
    return docs;
}

function checkDoc(doc, what) {
    const proto = doc !== null && typeof doc === "object" ? Object.getPrototypeOf(doc) : undefined;
    if (doc === null || typeof doc !== "object" || Array.isArray(doc) ||
        (proto !== Object.prototype && proto !== null))
        throw new TypeError(`${what}: expected a plain object, got ${describeType(doc)}`);
}

/* The store's name of table `table` of namespace ns (below); system tables are everyone's. */
const nsTable = (ns, table) => (ns === "" || table.charCodeAt(0) === 95 /* _ */ ? table :
    ns + table);
/* The same for a table named by code (ctx.db, ctx.vectorSearch): a name with '/', another
 * namespace's table, is refused. */
function storeTableName(ns, table, where) {
    checkTable(table, where);
    if (table.indexOf("/") >= 0)
        throw new Error(`${where}: \`${table}\` is not a table name (a table of another ` +
            "component, reached through its functions)");
    return nsTable(ns, table);
}

/* The app's ctx.db, and each component's (54_components.js): one reader and one writer per
 * namespace, the prefix of the store's names of its tables ("" for the app, "a/" for component
 * `a`, "a/b/" for its child `b`). A table name given by code is the namespace's own: the store's
 * name is the prefix and it, and names with '/' (another namespace's tables) are refused. An id
 * given alone must name a document of the namespace, which native.c and the store check where
 * they find the id's table anyway (a component passes its prefix): writes of another's are
 * refused, reads of another's find nothing. Convex's newer API takes the table name first
 * (db.get("t", id)); both forms are accepted. */
function makeDb(ns) {
    const app = ns === ""; /* the app's calls pass no namespace to native (one argument less) */
    const sys = app ? system : makeSystem(ns);
    /* the id of a call in either form: (id), or (table, id) with the table named by code; idIn
     * answers a table name that is not a string */
    const idOf = (a, b, where) => (b === undefined ? idIn(undefined, a, where) :
        idIn(typeof a === "string" ? storeTableName(ns, a, where) : a, b, where));
    /* the document and value of a patch or replace, in either form */
    const target = (a, b, c, where) => {
        const id = c === undefined ? idOf(a, undefined, where) : idOf(a, b, where);
        const value = c === undefined ? b : c;
        checkDoc(value, where);
        return [id, value];
    };
    const reader = Object.freeze({
        async get(a, b) {
            const id = idOf(a, b, "db.get()");
            /* another namespace's document is null, a system table's refused (native.c) */
            const t = app ? native.get(id) : native.get(id, ns);
            return t === null ? null : decode(t);
        },
        query(table) {
            const t = storeTableName(ns, table, "db.query()");
            if (SYSTEM_TABLES.includes(t))
                throw new Error(`db.query(): \`${t}\` is a system table; read it with ` +
                    `db.system.query()`);
            return new Query(t);
        },
        normalizeId(table, id) {
            return typeof id === "string" && typeof table === "string" && table !== "" &&
                table.indexOf("/") < 0 && native.idTable(id) === nsTable(ns, table) ? id : null;
        },
        system: sys,
        table(table) { return new TableReader(table, reader); },
    });
    const writer = Object.freeze({
        get: reader.get,
        query: reader.query,
        normalizeId: reader.normalizeId,
        system: sys,
        async insert(table, doc) {
            const t = storeTableName(ns, table, "db.insert()");
            refuseSystemWrite(t, "db.insert()");
            checkDoc(doc, "db.insert()");
            return native.insert(t, encode(doc, "db.insert()"));
        },
        async patch(a, b, c) {
            const [id, given] = target(a, b, c, "db.patch()");
            const value = stripSystem(given, id, "db.patch()");
            let set = value, remove = null;
            for (const k of Object.keys(value)) {
                if (value[k] === undefined) {
                    if (remove === null) {
                        remove = [];
                        set = Object.assign({}, value);
                    }
                    remove.push(k);
                    delete set[k];
                }
            }
            const text = encode(set, "db.patch()");
            if (app) native.patch(id, text, remove);
            else native.patch(id, text, remove, ns);
        },
        async replace(a, b, c) {
            const [id, value] = target(a, b, c, "db.replace()");
            const text = encode(stripSystem(value, id, "db.replace()"), "db.replace()");
            if (app) native.replace(id, text);
            else native.replace(id, text, ns);
        },
        async delete(a, b) {
            const id = idOf(a, b, "db.delete()");
            if (app) native.del(id);
            else native.del(id, ns);
        },
        table(table) { return new TableWriter(table, writer); },
        vars: Object.freeze({ commitTs: commitTsPlaceholder }),
    });
    return { reader, writer };
}

/* A patch's or replacement's value without the system fields, which Convex lets code pass back
 * unchanged (a document read, changed and written whole, as @convex-dev/migrations does): an
 * `_id` that is not the document's is an error, `_creationTime` is the document's own anyway. */
function stripSystem(doc, id, what) {
    if (!hasOwn.call(doc, "_id") && !hasOwn.call(doc, "_creationTime")) return doc;
    if (doc._id !== undefined && doc._id !== id)
        throw invalidArgument(`${what}: the value's _id (${typeof doc._id === "string" ?
            doc._id : describeType(doc._id)}) is not the id of the document it writes (${id})`);
    const c = Object.assign({}, doc);
    delete c._id;
    delete c._creationTime;
    return c;
}

const { reader, writer } = makeDb("");

/* db.table(name) (convex 1.48): the table's own view of ctx.db (or of db.system), whose methods
 * take no table name and pass this one, so that every id is checked against it. `db` is the one
 * the view came from (a mutation's carries its execution: 50_functions.js execWriter). */
class TableReader {
    constructor(table, db) {
        this.tableName = table;
        this.db = db;
    }
    get(id) { return this.db.get(this.tableName, id); }
    query() { return this.db.query(this.tableName); }
}
class TableWriter extends TableReader {
    insert(value) { return this.db.insert(this.tableName, value); }
    patch(id, value) { return this.db.patch(this.tableName, id, value); }
    replace(id, value) { return this.db.replace(this.tableName, id, value); }
    delete(id) { return this.db.delete(this.tableName, id); }
}
