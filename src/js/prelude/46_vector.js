/* vector: Convex's ctx.vectorSearch, in actions only (as Convex). The search runs on the shard
 * as the built-in internal query `_system/vector:search` (store_vector_search), sent like the
 * action's ctx.runQuery calls: the query's text is made here, checked and run there. Filters are
 * Convex's: q.eq(field, value) on the index's filter fields, combined with q.or. */

const VECTOR_SEARCH_PATH = "_system/vector:search";

class VectorFilter {
    constructor(eqs) { this.eqs = eqs; }
}

const vectorFilterBuilder = Object.freeze({
    eq(fieldName, value) {
        if (typeof fieldName !== "string")
            throw new Error("The first argument to `q.eq` must be a field name.");
        return new VectorFilter([value === undefined ? [fieldName]
            : [fieldName, queryValue(value, `vectorSearch value for \`${fieldName}\``)]]);
    },
    or(...exprs) {
        const eqs = [];
        for (const e of exprs) {
            if (!(e instanceof VectorFilter))
                throw new Error("Filters should be a combination of `q.eq` and `q.or`.");
            for (const x of e.eqs) eqs.push(x);
        }
        return new VectorFilter(eqs);
    },
});

function vectorSearchQuery(query) {
    const vector = query.vector;
    if (!Array.isArray(vector) || vector.length === 0)
        throw new Error("`vector` must be a non-empty Array in vectorSearch");
    const q = { vector };
    if (query.limit !== undefined) {
        if (typeof query.limit !== "number")
            throw new TypeError(`vectorSearch: \`limit\` must be a number, got ` +
                `${describeType(query.limit)}`);
        q.limit = query.limit;
    }
    if (query.filter !== undefined) {
        if (typeof query.filter !== "function")
            throw new TypeError("vectorSearch: `filter` must be a function q => q.eq(...) or " +
                "q.or(...)");
        const f = query.filter(vectorFilterBuilder);
        if (!(f instanceof VectorFilter))
            throw new Error("Filters should be a combination of `q.eq` and `q.or`.");
        q.eq = f.eqs;
    }
    return JSON.stringify(q);
}

/* ctx.vectorSearch(table, index, {vector, limit?, filter?}) -> [{_id, _score}], best first */
function actionVectorSearch(tableName, indexName, query) {
    return vectorSearchIn("", tableName, indexName, query);
}
/* ... over a table of namespace ns (40_db.js: the app's "", a component's its own) */
async function vectorSearchIn(ns, tableName, indexName, query) {
    requireArg(tableName, 1, "vectorSearch", "tableName");
    requireArg(indexName, 2, "vectorSearch", "indexName");
    requireArg(query, 3, "vectorSearch", "query");
    if (typeof tableName !== "string" || typeof indexName !== "string")
        throw new TypeError("vectorSearch: the table and index names must be strings");
    if (query === null || typeof query !== "object")
        throw new TypeError(`vectorSearch: expected a query object {vector, limit?, filter?}, ` +
            `got ${describeType(query)}`);
    if (Array.isArray(query.vector) && query.vector.some((x) => typeof x !== "number"))
        throw new Error(`Vector query against ${tableName}.${indexName}: \`vector\` must be an ` +
            "array of finite numbers"); /* a bigint would not even serialize */
    const table = storeTableName(ns, tableName, "vectorSearch");
    const text = vectorSearchQuery(query);
    return runNested(QUERY, VECTOR_SEARCH_PATH, { table, index: indexName, query: text });
}

SYSTEM_FUNCTIONS.push({
    path: VECTOR_SEARCH_PATH, query: true,
    handler: (ctx, a) => decode(native.vectorSearch(a.table, a.index, a.query)),
});
