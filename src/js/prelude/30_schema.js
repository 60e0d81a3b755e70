/* schema: defineSchema / defineTable(...).index(...). Checks names the way Convex does and
 * exports the JSON that store_apply_schema takes:
 *   {"tables":{"<name>":{"document":<validator>,"indexes":[{"name","fields"}],
 *               "searchIndexes":[{"name","searchField","filterFields"}],
 *               "vectorIndexes"?:[{"name","vectorField","dimensions","filterFields"}]}},
 *    "schemaValidation":b}
 * `by_id` and `by_creation_time` are implicit on every table and reserved. */

const IDENT = /^[a-zA-Z][a-zA-Z0-9_]*$/;
const RESERVED_INDEXES = ["by_id", "by_creation_time"];

/* Its fields are Convex's TableDefinition's as well (each index with its `indexDescriptor`, the
 * staged lists, " indexes"()), which libraries read to learn a schema's indexes
 * (convex-helpers' stream.js, used by @convex-dev/agent). */
class TableDefinition {
    constructor(document) {
        this.document = document;
        this.validator = document; /* Convex's name for it */
        this.indexes = [];
        this.searchIndexes = [];
        this.vectorIndexes = [];
        this.stagedDbIndexes = [];      /* Convex's; a staged index is built as any other here */
        this.stagedSearchIndexes = [];
        this.stagedVectorIndexes = [];
    }

    " indexes"() { return this.indexes; }

    checkIndexName(name) {
        if (typeof name !== "string" || !IDENT.test(name))
            throw new Error(`index name \`${name}\` must start with a letter and contain only ` +
                `letters, digits and '_'`);
        if (RESERVED_INDEXES.includes(name)) throw new Error(`index name \`${name}\` is reserved`);
        const taken = this.indexes.concat(this.searchIndexes, this.vectorIndexes);
        if (taken.some((i) => i.name === name)) throw new Error(`duplicate index name \`${name}\``);
    }

    index(name, fieldsOrConfig) {
        this.checkIndexName(name);
        const fields = Array.isArray(fieldsOrConfig)
            ? fieldsOrConfig : fieldsOrConfig && fieldsOrConfig.fields;
        if (!Array.isArray(fields) || fields.length === 0)
            throw new Error(`index \`${name}\` must have at least one field`);
        const seen = new Set();
        for (const f of fields) {
            if (typeof f !== "string" || f === "")
                throw new Error(`index \`${name}\`: fields must be non-empty strings`);
            if (f === "_id")
                throw new Error(`index \`${name}\`: \`_id\` may not be an index field`);
            if (f === "_creationTime")
                throw new Error(`index \`${name}\`: \`_creationTime\` is added to the end of ` +
                    `every index automatically; do not list it`);
            if (seen.has(f)) throw new Error(`index \`${name}\`: duplicate field \`${f}\``);
            seen.add(f);
        }
        this.indexes.push({ name, indexDescriptor: name, fields: fields.slice() });
        return this;
    }

    searchIndex(name, config) {
        this.checkIndexName(name);
        const sf = config && config.searchField;
        if (typeof sf !== "string" || sf === "")
            throw new Error(`search index \`${name}\` must have a \`searchField\``);
        const filterFields = config.filterFields === undefined ? [] : config.filterFields;
        if (!Array.isArray(filterFields) ||
            filterFields.some((f) => typeof f !== "string" || f === ""))
            throw new Error(`search index \`${name}\`: \`filterFields\` must be an array of ` +
                `field names`);
        if (new Set(filterFields).size !== filterFields.length)
            throw new Error(`search index \`${name}\`: duplicate filter field`);
        this.searchIndexes.push({ name, indexDescriptor: name, searchField: sf,
                                  filterFields: filterFields.slice() });
        return this;
    }

    vectorIndex(name, config) {
        this.checkIndexName(name);
        const vf = config && config.vectorField;
        if (typeof vf !== "string" || vf === "")
            throw new Error(`vector index \`${name}\` must have a \`vectorField\``);
        const dims = config.dimensions;
        if (!Number.isInteger(dims) || dims < 2 || dims > 4096)
            throw new Error(`vector index \`${name}\`: \`dimensions\` must be an integer ` +
                `between 2 and 4096, got ${String(dims)}`);
        const filterFields = config.filterFields === undefined ? [] : config.filterFields;
        if (!Array.isArray(filterFields) ||
            filterFields.some((f) => typeof f !== "string" || f === ""))
            throw new Error(`vector index \`${name}\`: \`filterFields\` must be an array of ` +
                `field names`);
        if (new Set(filterFields).size !== filterFields.length)
            throw new Error(`vector index \`${name}\`: duplicate filter field`);
        this.vectorIndexes.push({ name, indexDescriptor: name, vectorField: vf, dimensions: dims,
                                  filterFields: filterFields.slice() });
        return this;
    }

    /* Convex's staged validator (checked in the background there): Vireo keeps enforcing the
     * current one and ignores the staged one */
    staged(documentSchema) {
        if (this.stagedValidator !== undefined)
            throw new Error("Table cannot have more than one staged validator.");
        this.stagedValidator = documentSchema instanceof Validator
            ? documentSchema : v.object(documentSchema);
        loadNotice("schema", "staged validators are not supported; ignored");
        return this;
    }

    self() {
        return this;
    }

    export() {
        const indexes = this.indexes.map((i) => ({ name: i.name, fields: i.fields }));
        const searchIndexes = this.searchIndexes.map((i) =>
            ({ name: i.name, searchField: i.searchField, filterFields: i.filterFields }));
        const t = { document: this.document.json, indexes, searchIndexes };
        if (this.vectorIndexes.length) /* absent otherwise: the stored schema text is as before */
            t.vectorIndexes = this.vectorIndexes.map((i) => ({ name: i.name,
                vectorField: i.vectorField, dimensions: i.dimensions,
                filterFields: i.filterFields }));
        return t;
    }
}

function defineTable(documentSchema) {
    let doc;
    if (documentSchema instanceof Validator) {
        const k = documentSchema.kind;
        if (isOptionalField(documentSchema) || (k !== "object" && k !== "union" &&
                                          documentSchema.kind !== "any"))
            throw new Error("defineTable(): expected an object of validators or a v.object / " +
                "v.union validator");
        doc = documentSchema;
    } else {
        doc = v.object(documentSchema);
    }
    return new TableDefinition(doc);
}

/* The validator of a table's documents with their system fields, as Convex's docValidator. */
function addSystemFields(tableName, x) {
    switch (x.kind) {
    case "object":
        return x.extend({ _id: v.id(tableName), _creationTime: v.number() });
    case "union":
        return v.union(...x.members.map((m) => addSystemFields(tableName, m)));
    case "any":
        return x;
    default:
        throw new Error(`Invalid validator for table "${tableName}": a table's documents must ` +
            `be objects, or a union of objects`);
    }
}

function docValidator(tableName, table) {
    return addSystemFields(tableName, table.validator);
}

class SchemaDefinition {
    constructor(tables, options) {
        this.tables = tables;
        this.schemaValidation = !(options && options.schemaValidation === false);
    }

    tableOf(tableName) {
        const t = this.tables[tableName];
        if (t === undefined)
            throw new Error(`Table "${tableName}" is not in this schema. Tables in this schema: ` +
                `${Object.keys(this.tables).join(", ")}`);
        return t;
    }

    /* Convex's schema.doc(table) and schema.id(table) */
    doc(tableName) {
        return docValidator(tableName, this.tableOf(tableName));
    }

    id(tableName) {
        this.tableOf(tableName);
        return v.id(tableName);
    }

    /* Index fields per table, for withIndex checks: {table: {index: [fields]}}. */
    indexMap() {
        const m = {};
        for (const name of Object.keys(this.tables)) {
            const t = {};
            for (const i of this.tables[name].indexes) t[i.name] = i.fields;
            m[name] = t;
        }
        return m;
    }

    export() {
        const tables = {};
        for (const name of Object.keys(this.tables)) tables[name] = this.tables[name].export();
        return JSON.stringify({ tables, schemaValidation: this.schemaValidation });
    }
}

function defineSchema(tables, options) {
    if (tables === null || typeof tables !== "object" || Array.isArray(tables))
        throw new Error("defineSchema(): expected an object of tables");
    for (const name of Object.keys(tables)) {
        if (!IDENT.test(name))
            throw new Error(`table name \`${name}\` must start with a letter and contain only ` +
                `letters, digits and '_'`);
        if (!(tables[name] instanceof TableDefinition))
            throw new Error(`table \`${name}\`: expected defineTable(...)`);
    }
    return new SchemaDefinition(tables, options);
}
