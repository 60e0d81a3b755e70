/* validators: the v.* builders, shaped as Convex's (`kind`, `isOptional` "optional"/"required",
 * `isConvexValidator`, `json`, `.optional()`, and per kind `tableName`, `fields`, `value`,
 * `element`, `key`, `members`; v.object's omit/pick/partial/extend). A Validator only
 * describes; it exports Convex's JSON form (src/store/validator.h), and the C side
 * (validator_check) does the checking, so arguments and documents are checked by one
 * implementation. */

class Validator {
    /* json: the validator's JSON; optional: true/"optional" for an optional object field */
    constructor(json, optional) {
        this.json = json;
        this.isOptional = optional === true || optional === "optional" ? "optional" : "required";
        this.isConvexValidator = true;
        this.kind = json.type === "number" ? "float64" : json.type;
    }

    /* this validator, as an optional object field */
    optional() {
        const x = Object.create(Object.getPrototypeOf(this));
        Object.assign(x, this);
        x.isOptional = "optional";
        return x;
    }

    asOptional() {
        return this.optional();
    }
}

class VObject extends Validator {
    omit(...names) {
        const fields = Object.assign({}, this.fields);
        for (const n of names) delete fields[n];
        return withOptional(v.object(fields), this);
    }

    pick(...names) {
        const fields = {};
        for (const n of names) fields[n] = this.fields[n];
        return withOptional(v.object(fields), this);
    }

    partial() {
        const fields = {};
        for (const k of Object.keys(this.fields)) fields[k] = this.fields[k].asOptional();
        return withOptional(v.object(fields), this);
    }

    extend(more) {
        return withOptional(v.object(Object.assign({}, this.fields, more)), this);
    }
}

const isOptionalField = (x) => x.isOptional === "optional";
const withOptional = (x, like) => (isOptionalField(like) ? x.optional() : x);

function requireValidator(x, where) {
    if (x === undefined)
        throw new TypeError(`${where}: a validator is undefined (often a circular import)`);
    if (!(x instanceof Validator))
        throw new TypeError(`${where}: expected a validator (v.*), got ${describeType(x)}`);
    if (isOptionalField(x))
        throw new TypeError(`${where}: v.optional() is only allowed as an object field`);
    return x;
}

function objectJson(fields, where) {
    if (fields === null || typeof fields !== "object" || Array.isArray(fields) ||
        fields instanceof Validator)
        throw new TypeError(`${where}: expected an object of validators, got ` +
            `${describeType(fields)}`);
    const value = {};
    for (const k of Object.keys(fields)) {
        const f = fields[k];
        if (f === undefined)
            throw new TypeError(`${where}: the validator of field \`${k}\` is undefined ` +
                `(often a circular import)`);
        if (!(f instanceof Validator))
            throw new TypeError(`${where}: field \`${k}\` is not a validator (v.*), got ` +
                `${describeType(f)}`);
        if (k.charCodeAt(0) === 36)
            throw new TypeError(`${where}: field name \`${k}\` may not start with '$'`);
        value[k] = { fieldType: f.json, optional: isOptionalField(f) };
    }
    return { type: "object", value };
}

const simple = (type) => () => new Validator({ type });

const v = Object.freeze({
    string: simple("string"),
    number: simple("number"),
    float64: simple("number"),
    boolean: simple("boolean"),
    null: simple("null"),
    int64: simple("int64"),
    bigint: simple("int64"),
    bytes: simple("bytes"),
    any: simple("any"),
    id(tableName) {
        if (typeof tableName !== "string" || tableName === "")
            throw new TypeError("v.id(table): expected a table name");
        const x = new Validator({ type: "id", tableName });
        x.tableName = tableName;
        return x;
    },
    literal(value) {
        const t = typeof value;
        if (t !== "string" && t !== "number" && t !== "boolean" && t !== "bigint" && value !== null)
            throw new TypeError(`v.literal(): expected a string, number, boolean or bigint, got ` +
                `${describeType(value)}`);
        const x = new Validator({ type: "literal", value: toWire(value, 0, "v.literal()") });
        x.value = value;
        return x;
    },
    array(element) {
        const x = new Validator({ type: "array",
                                  value: requireValidator(element, "v.array()").json });
        x.element = element;
        return x;
    },
    object(fields) {
        const x = new VObject(objectJson(fields, "v.object()"));
        x.fields = Object.freeze(Object.assign({}, fields)); /* as Convex: v.object(f).fields */
        return x;
    },
    record(keys, values) {
        requireValidator(keys, "v.record() keys");
        requireValidator(values, "v.record() values");
        const values_ = { fieldType: values.json, optional: false };
        const x = new Validator({ type: "record", keys: keys.json, values: values_ });
        x.key = keys;
        x.value = values;
        return x;
    },
    union(...members) {
        const x = new Validator({
            type: "union",
            value: members.map((m, i) => requireValidator(m, `v.union() member ${i}`).json),
        });
        x.members = members;
        return x;
    },
    optional(inner) {
        if (inner === undefined)
            throw new TypeError("v.optional(): a validator is undefined (often a circular import)");
        if (!(inner instanceof Validator))
            throw new TypeError(`v.optional(): expected a validator (v.*), got ` +
                `${describeType(inner)}`);
        return inner.optional();
    },
    nullable(inner) {
        return v.union(requireValidator(inner, "v.nullable()"), v.null());
    },
    /* an int64 that a mutation sets to its commit timestamp by writing db.vars.commitTs */
    commitTs: simple("commitTs"),
});

/* Convex's asObjectValidator: a validator as is, an object of validators as v.object(). */
function asObjectValidator(x) {
    return x instanceof Validator ? x : v.object(x);
}
