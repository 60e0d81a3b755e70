/* validators: the v.* builders. A Validator only describes; it exports Convex's JSON form
 * (src/store/validator.h), and the C side (validator_check) does the checking, so arguments and
 * documents are checked by one implementation. */

class Validator {
    constructor(json, isOptional) {
        this.json = json;
        this.isOptional = isOptional === true;
        this.kind = json.type;
    }
}

function requireValidator(x, where) {
    if (!(x instanceof Validator))
        throw new TypeError(`${where}: expected a validator (v.*), got ${describeType(x)}`);
    if (x.isOptional)
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
        if (!(f instanceof Validator))
            throw new TypeError(`${where}: field \`${k}\` is not a validator (v.*), got ` +
                `${describeType(f)}`);
        if (k.charCodeAt(0) === 36)
            throw new TypeError(`${where}: field name \`${k}\` may not start with '$'`);
        value[k] = { fieldType: f.json, optional: f.isOptional };
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
        return new Validator({ type: "id", tableName });
    },
    literal(value) {
        const t = typeof value;
        if (t !== "string" && t !== "number" && t !== "boolean" && t !== "bigint" && value !== null)
            throw new TypeError(`v.literal(): expected a string, number, boolean or bigint, got ` +
                `${describeType(value)}`);
        return new Validator({ type: "literal", value: toWire(value, 0, "v.literal()") });
    },
    array(element) {
        return new Validator({ type: "array", value: requireValidator(element, "v.array()").json });
    },
    object(fields) {
        const x = new Validator(objectJson(fields, "v.object()"));
        x.fields = Object.freeze(Object.assign({}, fields)); /* as Convex: v.object(f).fields */
        return x;
    },
    record(keys, values) {
        requireValidator(keys, "v.record() keys");
        requireValidator(values, "v.record() values");
        const values_ = { fieldType: values.json, optional: false };
        return new Validator({ type: "record", keys: keys.json, values: values_ });
    },
    union(...members) {
        return new Validator({
            type: "union",
            value: members.map((m, i) => requireValidator(m, `v.union() member ${i}`).json),
        });
    },
    optional(inner) {
        const x = requireValidator(inner, "v.optional()");
        return new Validator(x.json, true);
    },
    nullable(inner) {
        return v.union(requireValidator(inner, "v.nullable()"), v.null());
    },
});
