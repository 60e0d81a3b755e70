/* test_validator: every validator type, accepted and rejected, with the exact messages a person
 * reads; and the schema checks of malformed validators. */
#include <string.h>

#include "base/buf.h"
#include "store/validator.h"
#include "test.h"

#include "base/banned.h"

static const char *fake_id_table(void *arg, const char *id, size_t len)
{
    (void)arg;
    if (len > 4 && !memcmp(id, "msg_", 4))
        return "messages";
    if (len > 5 && !memcmp(id, "user_", 5))
        return "users";
    return NULL;
}

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!v)
        fprintf(stderr, "bad test json: %s: %s\n", s, je.text);
    return v;
}

/* Returns the message ("" when the value passes). */
static const char *run(const char *what, const char *validator, const char *value)
{
    static struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct validator_ctx ctx = { what, fake_id_table, NULL };
    json_t *v = J(validator), *x = value ? J(value) : NULL;
    struct buf serr = BUF_INIT(BUF_NOLIMIT);
    if (validator_check_schema(v, &serr) < 0)
        fprintf(stderr, "schema rejected: %s: %s\n", validator, serr.data);
    buf_release(&serr);
    buf_reset(&err);
    int r = validator_check(&ctx, v, x, &err);
    if (r == 0 && err.len == 0)
        buf_reset(&err);
    if (r == 0)
        buf_reset(&err);
    else if (err.len == 0)
        buf_append_str(&err, "(failed without a message)");
    json_decref(v);
    json_decref(x);
    return err.data;
}

#define OK(val, value) CHECK_EQ_STR(run("field", val, value), "")
#define BAD(val, value, msg) CHECK_EQ_STR(run("field", val, value), msg)

TEST(scalars)
{
    OK("{\"type\":\"string\"}", "\"x\"");
    OK("\"string\"", "\"x\"");
    BAD("{\"type\":\"string\"}", "1", "expected string, got number");
    OK("{\"type\":\"number\"}", "1.5");
    OK("{\"type\":\"float64\"}", "{\"$float\":\"AAAAAAAA+H8=\"}");
    BAD("{\"type\":\"number\"}", "{\"$integer\":\"AQAAAAAAAAA=\"}", "expected number, got int64");
    OK("{\"type\":\"int64\"}", "{\"$integer\":\"AQAAAAAAAAA=\"}");
    BAD("{\"type\":\"int64\"}", "1", "expected int64, got number");
    OK("{\"type\":\"boolean\"}", "false");
    BAD("{\"type\":\"boolean\"}", "null", "expected boolean, got null");
    OK("{\"type\":\"null\"}", "null");
    BAD("{\"type\":\"null\"}", "\"null\"", "expected null, got string");
    OK("{\"type\":\"bytes\"}", "{\"$bytes\":\"AAEC\"}");
    BAD("{\"type\":\"bytes\"}", "\"AAEC\"", "expected bytes, got string");
    OK("{\"type\":\"any\"}", "{\"a\":[1,2,{\"b\":null}]}");
    BAD("{\"type\":\"any\"}", "{\"$nope\":1}",
        "malformed '$' object (field names may not start with '$')");
    BAD("{\"type\":\"string\"}", NULL, "expected string, got undefined");
}

TEST(objects)
{
    const char *v = "{\"type\":\"object\",\"value\":{"
                    "\"title\":{\"fieldType\":{\"type\":\"string\"},\"optional\":false},"
                    "\"n\":{\"fieldType\":{\"type\":\"number\"},\"optional\":true},"
                    "\"author\":{\"fieldType\":{\"type\":\"object\",\"value\":{"
                    "  \"name\":{\"fieldType\":{\"type\":\"string\"},\"optional\":false}}},"
                    "  \"optional\":true}}}";
    OK(v, "{\"title\":\"a\"}");
    OK(v, "{\"title\":\"a\",\"n\":2,\"author\":{\"name\":\"x\"}}");
    BAD(v, "{\"title\":\"a\",\"author\":{\"name\":3}}",
        "field `author.name`: expected string, got number");
    BAD(v, "{}", "field `title` is required");
    CHECK_EQ_STR(run("argument", v, "{}"), "argument `title` is required");
    BAD(v, "{\"title\":\"a\",\"y\":1}", "unexpected extra field `y`");
    CHECK_EQ_STR(run("argument", v, "{\"title\":\"a\",\"y\":1}"), "unexpected extra argument `y`");
    BAD(v, "{\"title\":\"a\",\"author\":{\"name\":\"x\",\"y\":1}}",
        "field `author`: unexpected extra field `y`");
    { /* a caller's 70,000-byte name is cut, at a character boundary (é is 2 bytes) */
        struct buf big = BUF_INIT(BUF_NOLIMIT);
        buf_append_str(&big, "{\"title\":\"a\",\"k");
        for (int i = 0; i < 35000; i++)
            buf_append_str(&big, "é");
        buf_append_str(&big, "\":1}");
        const char *m = run("argument", v, big.data);
        CHECK(strlen(m) < 300);
        CHECK(!strncmp(m, "unexpected extra argument `ké", 29));
        CHECK(strstr(m, "é…`") != NULL);
        buf_release(&big);
    }
    BAD(v, "{\"title\":\"a\",\"author\":{}}", "field `author.name` is required");
    BAD(v, "[]", "expected object, got array");
}

TEST(arrays_and_records)
{
    const char *v = "{\"type\":\"object\",\"value\":{\"tags\":{\"fieldType\":"
                    "{\"type\":\"array\",\"value\":{\"type\":\"string\"}},\"optional\":false}}}";
    OK(v, "{\"tags\":[]}");
    OK(v, "{\"tags\":[\"a\",\"b\"]}");
    BAD(v, "{\"tags\":[\"a\",\"b\",3]}", "field `tags[2]`: expected string, got number");
    BAD(v, "{\"tags\":\"a\"}", "field `tags`: expected array, got string");
    const char *r = "{\"type\":\"record\",\"keys\":{\"type\":\"string\"},"
                    "\"values\":{\"fieldType\":{\"type\":\"number\"},\"optional\":false}}";
    OK(r, "{}");
    OK(r, "{\"a\":1,\"b\":2}");
    BAD(r, "{\"a\":1,\"b\":\"x\"}", "field `b`: expected number, got string");
    BAD(r, "[1]", "expected record, got array");
    const char *rl = "{\"type\":\"record\",\"keys\":{\"type\":\"union\",\"value\":["
                     "{\"type\":\"literal\",\"value\":\"a\"},{\"type\":\"literal\",\"value\":\"b\"}]},"
                     "\"values\":{\"fieldType\":{\"type\":\"any\"},\"optional\":false}}";
    OK(rl, "{\"a\":1}");
    BAD(rl, "{\"c\":1}", "record key `c` does not match \"a\" | \"b\"");
}

TEST(unions_and_literals)
{
    const char *u = "{\"type\":\"union\",\"value\":[{\"type\":\"string\"},{\"type\":\"number\"}]}";
    OK(u, "\"x\"");
    OK(u, "2");
    BAD(u, "true", "expected one of string | number, got boolean");
    const char *l = "{\"type\":\"union\",\"value\":[{\"type\":\"literal\",\"value\":\"todo\"},"
                    "{\"type\":\"literal\",\"value\":\"done\"}]}";
    OK(l, "\"done\"");
    BAD(l, "\"doing\"", "expected one of \"todo\" | \"done\", got \"doing\"");
    OK("{\"type\":\"literal\",\"value\":3}", "3");
    BAD("{\"type\":\"literal\",\"value\":3}", "4", "expected 3, got 4");
    BAD("{\"type\":\"literal\",\"value\":\"a\"}", "[1]", "expected \"a\", got array");
    OK("{\"type\":\"literal\",\"value\":{\"$integer\":\"AQAAAAAAAAA=\"}}",
       "{\"$integer\":\"AQAAAAAAAAA=\"}");
    BAD("{\"type\":\"literal\",\"value\":{\"$integer\":\"AQAAAAAAAAA=\"}}", "1",
        "expected 1n, got 1");
    /* a union of objects explains the one member of the value's kind */
    const char *uo = "{\"type\":\"object\",\"value\":{\"x\":{\"fieldType\":{\"type\":\"union\","
                     "\"value\":[{\"type\":\"null\"},{\"type\":\"object\",\"value\":{\"k\":"
                     "{\"fieldType\":{\"type\":\"string\"},\"optional\":false}}}]},"
                     "\"optional\":false}}}";
    OK(uo, "{\"x\":null}");
    OK(uo, "{\"x\":{\"k\":\"v\"}}");
    BAD(uo, "{\"x\":{\"k\":1}}", "field `x.k`: expected string, got number");
    BAD(uo, "{\"x\":1}", "field `x`: expected one of null | object, got number");
}

TEST(ids)
{
    const char *v = "{\"type\":\"id\",\"tableName\":\"messages\"}";
    OK(v, "\"msg_1\"");
    BAD(v, "\"user_1\"", "expected id of table `messages`, got id of table `users`");
    BAD(v, "\"zzz\"", "expected id of table `messages`, got a string that is not an id");
    BAD(v, "1", "expected id of table `messages`, got number");
    const char *o = "{\"type\":\"object\",\"value\":{\"author\":{\"fieldType\":"
                    "{\"type\":\"id\",\"tableName\":\"users\"},\"optional\":false}}}";
    BAD(o, "{\"author\":\"msg_1\"}",
        "field `author`: expected id of table `users`, got id of table `messages`");
}

static const char *schema_err(const char *validator)
{
    static struct buf err = BUF_INIT(BUF_NOLIMIT);
    json_t *v = J(validator);
    buf_reset(&err);
    int r = validator_check_schema(v, &err);
    json_decref(v);
    return r == 0 ? "" : err.data;
}

TEST(schema_shapes)
{
    CHECK_EQ_STR(schema_err("{\"type\":\"string\"}"), "");
    CHECK_EQ_STR(schema_err("{\"type\":\"object\",\"value\":{\"a\":{\"fieldType\":\"number\","
                            "\"optional\":true}}}"),
                 "");
    CHECK(strlen(schema_err("{\"type\":\"strin\"}")) > 0);
    CHECK_EQ_STR(schema_err("{\"type\":\"strin\"}"), "validator at `(root)` has unknown type `strin`");
    CHECK(strlen(schema_err("{\"type\":\"id\"}")) > 0);
    CHECK(strlen(schema_err("{\"type\":\"array\"}")) > 0);
    CHECK(strlen(schema_err("{\"type\":\"union\",\"value\":{}}")) > 0);
    CHECK(strlen(schema_err("{\"type\":\"literal\",\"value\":[1]}")) > 0);
    CHECK(strlen(schema_err("{\"type\":\"object\",\"value\":{\"$a\":\"string\"}}")) > 0);
    CHECK_EQ_STR(schema_err("{\"type\":\"object\",\"value\":{\"a\":{\"fieldType\":"
                            "{\"type\":\"array\",\"value\":{\"type\":\"nope\"}}}}}"),
                 "validator at `a[]` has unknown type `nope`");
    CHECK(strlen(schema_err("42")) > 0);
    CHECK(strlen(schema_err("{\"type\":\"record\",\"keys\":\"string\"}")) > 0);
}

/* validator_check_convex: Convex's texts, its value and validator printing. */
static const char *convex(const char *validator, const char *value)
{
    static struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct validator_ctx ctx = { "field", fake_id_table, NULL };
    json_t *v = J(validator), *x = J(value);
    buf_reset(&err);
    if (validator_check_convex(&ctx, v, x, &err) == 0)
        buf_reset(&err);
    json_decref(v);
    json_decref(x);
    return err.data ? err.data : "";
}

TEST(convex_texts)
{
    const char *num = "{\"type\":\"number\"}";
    CHECK_EQ_STR(convex(num, "3"), "");
    CHECK_EQ_STR(convex(num, "\"3\""),
                 "Value does not match validator.\n\nValue: \"3\"\nValidator: v.float64()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "3"),
                 "Value does not match validator.\n\nValue: 3.0\nValidator: v.string()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "0.1"),
                 "Value does not match validator.\n\nValue: 0.1\nValidator: v.string()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "1e16"),
                 "Value does not match validator.\n\nValue: 1e16\nValidator: v.string()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "123456789012345"),
                 "Value does not match validator.\n\nValue: 123456789012345.0\n"
                 "Validator: v.string()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "{\"$integer\":\"BwAAAAAAAAA=\"}"),
                 "Value does not match validator.\n\nValue: 7\nValidator: v.string()");
    CHECK_EQ_STR(convex("{\"type\":\"string\"}", "[true, null, {\"b\": \"q\\\"\", \"a\": 1}]"),
                 "Value does not match validator.\n\nValue: [true, null, {a: 1.0, b: \"q\\\"\"}]\n"
                 "Validator: v.string()");
    const char *rec = "{\"type\":\"record\",\"keys\":{\"type\":\"id\",\"tableName\":\"users\"},"
                      "\"values\":{\"fieldType\":{\"type\":\"boolean\"},\"optional\":false}}";
    CHECK_EQ_STR(convex(rec, "{\"user_1\": true}"), "");
    CHECK_EQ_STR(convex(rec, "{\"user_1\": 1}"),
                 "Value does not match validator.\nPath: .values()\nValue: 1.0\n"
                 "Validator: v.boolean()");
    CHECK_EQ_STR(convex(rec, "{\"msg_1\": true}"),
                 "Found ID \"msg_1\" from table `messages`, which does not match the table name "
                 "in validator `v.id(\"users\")`.Path: .keys()");
    CHECK_EQ_STR(convex("{\"type\":\"literal\",\"value\":\"a\"}", "\"b\""),
                 "`\"b\"` does not match literal validator `v.literal(\"a\")`.");
    const char *obj = "{\"type\":\"object\",\"value\":{\"b\":{\"fieldType\":{\"type\":\"any\"},"
                      "\"optional\":true},\"a\":{\"fieldType\":{\"type\":\"array\",\"value\":"
                      "{\"type\":\"int64\"}},\"optional\":false}}}";
    CHECK_EQ_STR(convex(obj, "{}"),
                 "Object is missing the required field `a`. Consider wrapping the field validator "
                 "in `v.optional(...)` if this is expected.\n\nObject: {}\n"
                 "Validator: v.object({a: v.array(v.int64()), b: v.optional(v.any())})");
    CHECK_EQ_STR(convex("{\"type\":\"array\",\"value\":" "{\"type\":\"object\",\"value\":{}}}",
                        "[{}, {\"x\": null}]"),
                 "Object contains extra field `x` that is not in the validator.\nPath: [1]\n"
                 "Object: {x: null}\nValidator: v.object({})");
}

/* One compiled tree checks value after value (as a function's args and a table's documents
 * are checked), with the same answers and messages as a check from the JSON. */
TEST(compiled_reused)
{
    json_t *v = J("{\"type\":\"object\",\"value\":{"
                  "\"b\":{\"fieldType\":{\"type\":\"string\"},\"optional\":false},"
                  "\"a\":{\"fieldType\":{\"type\":\"union\",\"value\":["
                  "{\"type\":\"literal\",\"value\":\"x\"},{\"type\":\"array\",\"value\":"
                  "{\"type\":\"id\",\"tableName\":\"users\"}}]},\"optional\":true}}}");
    struct validator *c = validator_compile(v);
    struct validator_ctx ctx = { "argument", fake_id_table, NULL };
    static const char *const values[] = {
        "{\"b\":\"s\"}", "{\"b\":\"s\",\"a\":\"x\"}", "{\"b\":\"s\",\"a\":[\"user_1\"]}",
        "{}", "{\"a\":\"y\"}", "{\"b\":1}", "{\"b\":\"s\",\"a\":[\"msg_1\"]}",
        "{\"b\":\"s\",\"c\":1}", "[]",
    };
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            json_t *x = J(values[i]);
            struct buf a = BUF_INIT(BUF_NOLIMIT), b = BUF_INIT(BUF_NOLIMIT);
            CHECK_EQ_INT(validator_check_compiled(&ctx, c, x, &a), validator_check(&ctx, v, x, &b));
            CHECK_EQ_STR(a.data, b.data);
            buf_reset(&a);
            buf_reset(&b);
            CHECK_EQ_INT(validator_check_convex_compiled(&ctx, c, x, &a),
                         validator_check_convex(&ctx, v, x, &b));
            CHECK_EQ_STR(a.data, b.data);
            buf_release(&a);
            buf_release(&b);
            json_decref(x);
        }
    }
    /* Vireo names the first missing field in the validator's order, Convex in key order */
    json_t *none = J("{}");
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(validator_check_compiled(&ctx, c, none, &e), -1);
    CHECK_EQ_STR(e.data, "argument `b` is required");
    buf_reset(&e);
    json_t *two = J("{\"type\":\"object\",\"value\":{"
                    "\"z\":{\"fieldType\":{\"type\":\"null\"},\"optional\":false},"
                    "\"y\":{\"fieldType\":{\"type\":\"null\"},\"optional\":false}}}");
    struct validator *tc = validator_compile(two);
    CHECK_EQ_INT(validator_check_compiled(&ctx, tc, none, &e), -1);
    CHECK(strstr(e.data, "`z`") != NULL);
    buf_reset(&e);
    CHECK_EQ_INT(validator_check_convex_compiled(&ctx, tc, none, &e), -1);
    CHECK(strstr(e.data, "field `y`") != NULL);
    buf_release(&e);
    validator_free(tc);
    json_decref(two);
    json_decref(none);
    validator_free(c);
    json_decref(v);
}

/* A validator nested past the walk's depth limit (one the schema check refuses, which reaches the
 * walk only through native.validate) fails at the limit, not below it. */
TEST(compiled_depth)
{
    struct buf vt = BUF_INIT(BUF_NOLIMIT), xt = BUF_INIT(BUF_NOLIMIT);
    for (int i = 0; i < 70; i++) {
        buf_append_str(&vt, "{\"type\":\"array\",\"value\":");
        buf_append_byte(&xt, '[');
    }
    buf_append_str(&vt, "{\"type\":\"null\"}");
    for (int i = 0; i < 70; i++) {
        buf_append_byte(&vt, '}');
        buf_append_byte(&xt, ']');
    }
    json_t *v = J(vt.data), *deep = J(xt.data), *shallow = J("[[[]]]");
    struct validator_ctx ctx = { "field", fake_id_table, NULL };
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(validator_check(&ctx, v, shallow, &e), 0);
    CHECK_EQ_INT(validator_check(&ctx, v, deep, &e), -1);
    CHECK(strstr(e.data, "nested more than") != NULL);
    buf_release(&e);
    json_decref(v);
    json_decref(deep);
    json_decref(shallow);
    buf_release(&vt);
    buf_release(&xt);
}

TEST_MAIN()
