/* json_parse against jansson's json_loadb: the same values for what the fast parser takes, the
 * same verdict and error for what it leaves to jansson, and what it takes and leaves. */
#include "test.h"

#include <math.h>

#include "base/json_parse.h"
#include "base/json_write.h"

#define SYNC_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* Parses text both ways under flags; 1 when json_parse and json_loadb agree. */
static int agree(const char *text, size_t flags)
{
    json_error_t e1, e2;
    json_t *a = json_parse(text, strlen(text), flags, &e1);
    json_t *b = json_loadb(text, strlen(text), flags, &e2);
    int ok;
    if (!a || !b) {
        ok = !a && !b && strcmp(e1.text, e2.text) == 0 && e1.column == e2.column;
    } else {
        char *da = dump(a), *db = dump(b);
        ok = da && db && strcmp(da, db) == 0 && json_equal(a, b);
        free(da);
        free(db);
    }
    if (!ok)
        fprintf(stderr, "json_parse: disagrees with jansson on %s (flags %zx)\n", text, flags);
    json_decref(a);
    json_decref(b);
    return ok;
}

static int fast_takes(const char *text, size_t flags)
{
    json_t *v = json_parse_fast(text, strlen(text), flags);
    json_decref(v);
    return v != NULL;
}

TEST(json_parse_takes_the_common_subset)
{
    static const char *const texts[] = {
        "{\"type\":\"mutation\",\"requestId\":12345,\"path\":\"bench:insert\",\"args\":"
        "{\"n\":12345,\"body\":\"hello\"}}",
        " { \"a\" : [ 1 , -0 , 0.5 , 1e300 , -2.5E-3 , true , false , null ] } ",
        "{\"s\":\"line\\nbreak \\\"quoted\\\" back\\\\slash \\/ \\b\\f\\r\\t\"}",
        "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "[[[[]]],{},{\"\":\"\"}]",
        "{\"big\":123456789012345678901234567890,\"tiny\":1e-400,\"max\":9007199254740993}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        CHECK(fast_takes(texts[i], SYNC_FLAGS));
        CHECK(agree(texts[i], SYNC_FLAGS));
        CHECK(agree(texts[i], JSON_REJECT_DUPLICATES));
        CHECK(agree(texts[i], 0));
    }
    /* integers stay integers without JSON_DECODE_INT_AS_REAL */
    json_t *v = json_parse("[7,-0,1.0]", 10, 0, NULL);
    CHECK(json_is_integer(json_array_get(v, 0)) && json_integer_value(json_array_get(v, 0)) == 7);
    CHECK(json_is_integer(json_array_get(v, 1)) && json_is_real(json_array_get(v, 2)));
    json_decref(v);
    v = json_parse("[-0]", 4, SYNC_FLAGS, NULL);
    CHECK(json_is_real(json_array_get(v, 0)) && signbit(json_real_value(json_array_get(v, 0))));
    json_decref(v);
}

TEST(json_parse_leaves_the_rest_to_jansson)
{
    static const char *const texts[] = {
        "{\"a\":1,\"a\":2}",        /* duplicate key */
        "{\"u\":\"\\u00e9\\ud83d\\ude00\"}", /* \u escapes */
        "{\"nul\":\"\\u0000\"}",
        "{\"a\":1,}", "[1,]", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]", "{\"a\" 1}",
        "{'a':1}", "[tru]", "[nulls]", "{\"a\":1} x", "", "   ", "1", "\"s\"",
        "[\"ctl\x01\"]", "[\"bad\\q\"]", "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
        "[\"\xe2\x82\"]", "[1e400]", "[-1e400]",
        "[\"unterminated]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        CHECK(!fast_takes(texts[i], SYNC_FLAGS));
        CHECK(agree(texts[i], SYNC_FLAGS));
        CHECK(agree(texts[i], 0));
        CHECK(agree(texts[i], SYNC_FLAGS | JSON_DECODE_ANY));
    }
    /* with JSON_DECODE_ANY a scalar is a value; flags it does not know go to jansson */
    CHECK(fast_takes("\"s\"", JSON_DECODE_ANY) && fast_takes(" -12.5 ", JSON_DECODE_ANY));
    CHECK(!fast_takes("[1] x", JSON_DISABLE_EOF_CHECK));
    CHECK(agree("[1] x", JSON_DISABLE_EOF_CHECK));
    /* deeper than 64 levels: jansson's (it allows 2048) */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK(json_parse_fast(deep, 200, 0) == NULL);
    json_t *v = json_parse(deep, 200, 0, NULL);
    CHECK(json_is_array(v));
    json_decref(v);
}

/* json_write: compact text, the shortest numbers that read back, ".0" on request, escapes, and
 * what it writes parses back to the same value. */
TEST(json_write_short_numbers)
{
    const char *in =
        "{\"a\":0.1,\"b\":[1,2.5,-0.0,1e300,null,true,false],\"c\":\"q\\\"\\n\\u0001\"}";
    json_t *v = json_loads(in, JSON_DECODE_INT_AS_REAL, NULL);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(json_write(&out, v, 0), 0);
    CHECK_EQ_STR(out.data,
                 "{\"a\":0.1,\"b\":[1,2.5,-0,1e+300,null,true,false],\"c\":\"q\\\"\\n\\u0001\"}");
    json_t *back = json_loadb(out.data, out.len, JSON_DECODE_INT_AS_REAL, NULL);
    CHECK(json_equal(v, back));
    buf_reset(&out);
    CHECK_EQ_INT(json_write(&out, v, JSON_WRITE_REAL_DOT), 0);
    CHECK_EQ_STR(
        out.data,
        "{\"a\":0.1,\"b\":[1.0,2.5,-0.0,1e+300,null,true,false],\"c\":\"q\\\"\\n\\u0001\"}");
    json_t *i = json_integer(-42);
    buf_reset(&out);
    CHECK_EQ_INT(json_write(&out, i, JSON_WRITE_REAL_DOT), 0);
    CHECK_EQ_STR(out.data, "-42");
    struct buf small = BUF_INIT(8);
    CHECK(json_write(&small, v, 0) < 0); /* past the buffer's limit */
    json_decref(i);
    json_decref(back);
    json_decref(v);
    buf_release(&out);
    buf_release(&small);
}

/* Convex's widths: fields of an object and elements of an array, counted without parsing */
static int widths(const char *t, size_t fields, size_t items)
{
    char why[160];
    return json_check_widths(t, strlen(t), fields, items, why, sizeof why);
}

TEST(json_check_widths_counts_each_container)
{
    CHECK_EQ_INT(widths("{\"a\":1,\"b\":2}", 2, 2), 0);
    CHECK_EQ_INT(widths("{\"a\":1,\"b\":2,\"c\":3}", 2, 9), -1);
    CHECK_EQ_INT(widths("[1,2,3]", 9, 3), 0);
    CHECK_EQ_INT(widths("[1,2,3,4]", 9, 3), -1);
    /* each container counts its own: nested ones and strings' commas and brackets do not add */
    CHECK_EQ_INT(widths("[[1,2],[3,4],\"a,b,c,]\\\",[\"]", 9, 3), 0);
    CHECK_EQ_INT(widths("{\"a\":[1,2,3],\"b\":{\"x\":1,\"y\":2,\"z\":3}}", 3, 3), 0);
    CHECK_EQ_INT(widths("{\"a\":[1,2,3],\"b\":{\"x\":1,\"y\":2,\"z\":3,\"w\":4}}", 3, 3), -1);
    CHECK_EQ_INT(widths("[], {}, [[[]]]", 1, 1), 0);
    /* not JSON: no answer the parser could not give, and no reading past the text */
    CHECK_EQ_INT(widths("]]]}}},,,,", 1, 1), 0);
    CHECK_EQ_INT(widths("[\"unterminated,,,,", 1, 1), 0);
    CHECK_EQ_INT(widths("[\"\\", 1, 1), 0);
    char why[160];
    const char *t = "[0,1,2]";
    CHECK_EQ_INT(json_check_widths(t, strlen(t), 1024, 2, why, sizeof why), -1);
    CHECK_EQ_STR(why, "an array has more than 2 elements");
}

TEST_MAIN()
