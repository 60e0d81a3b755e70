/* test_key: property tests for the order-preserving key encoding. Thousands of random values of
 * every type are compared by memcmp of their encodings against a reference comparator written
 * straight from Convex's ordering rules; decode must round-trip; tuples and prefix bounds must
 * keep order. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/base64.h"
#include "base/buf.h"
#include "store/key.h"
#include "store/value.h"
#include "test.h"

#include "base/banned.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static json_t *wrap8(const char *name, uint64_t bits)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(bits >> (8 * i));
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    base64_encode(&b, le, 8, 0);
    json_t *o = json_pack("{s:s#}", name, b.data, (int)b.len);
    buf_release(&b);
    return o;
}

static json_t *mk_double(double d)
{
    if (isfinite(d) && !(d == 0 && signbit(d)))
        return json_real(d);
    uint64_t u;
    memcpy(&u, &d, 8);
    return wrap8("$float", u);
}

static json_t *mk_i64(int64_t v)
{
    return wrap8("$integer", (uint64_t)v);
}

static json_t *mk_bytes(const unsigned char *p, size_t n)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    base64_encode(&b, p, n, 0);
    json_t *o = json_pack("{s:s#}", "$bytes", b.data, (int)b.len);
    buf_release(&b);
    return o;
}

static const char *const pieces[] = { "", "a", "b", "\0", "\0\0", "z", "\xc3\xa9", "\xe2\x82\xac",
                                      "\xf0\x9f\x98\x80", "\x7f", "A", "ab" };
static const size_t piece_len[] = { 0, 1, 1, 1, 2, 1, 2, 3, 4, 1, 1, 2 };

static void rand_str(struct buf *b)
{
    buf_reset(b);
    unsigned n = rn(4);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = rn(12);
        buf_append(b, pieces[k], piece_len[k]);
    }
}

static double rand_double(void)
{
    static const double special[] = { 0.0, 1.0, -1.0, 1.5, -1.5, DBL_MAX, -DBL_MAX, DBL_MIN,
                                      -DBL_MIN, 5e-324, -5e-324, 1e-310, -1e-310 };
    switch (rn(6)) {
    case 0:
        return special[rn(sizeof(special) / sizeof(special[0]))];
    case 1:
        return -0.0;
    case 2:
        return rn(2) ? INFINITY : -INFINITY;
    case 3:
        return rn(2) ? NAN : -NAN;
    case 4: {
        uint64_t u = rnd();
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    default:
        return (double)(int)rn(7) - 3.0;
    }
}

static int64_t rand_i64(void)
{
    static const int64_t special[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1,
                                        INT64_MAX, 255, 256, -256 };
    if (rn(2))
        return special[rn(10)];
    return (int64_t)rnd() >> rn(64);
}

static json_t *rand_value(int depth)
{
    struct buf s = BUF_INIT(BUF_NOLIMIT);
    json_t *v = NULL;
    unsigned kind = rn(depth > 3 ? 7 : 9);
    switch (kind) {
    case 0:
        v = json_null();
        break;
    case 1:
        v = mk_i64(rand_i64());
        break;
    case 2:
        v = mk_double(rand_double());
        break;
    case 3:
        v = rn(2) ? json_true() : json_false();
        break;
    case 4:
    case 5:
        rand_str(&s);
        v = json_stringn(s.data, s.len);
        break;
    case 6: {
        unsigned char b[4];
        unsigned n = rn(5);
        for (unsigned i = 0; i < n; i++)
            b[i] = (unsigned char)(rn(3) == 0 ? 0 : rn(3) == 0 ? 0xff : rn(256));
        v = mk_bytes(b, n);
        break;
    }
    case 7: {
        v = json_array();
        unsigned n = rn(4);
        for (unsigned i = 0; i < n; i++)
            json_array_append_new(v, rand_value(depth + 1));
        break;
    }
    default: {
        v = json_object();
        unsigned n = rn(4);
        for (unsigned i = 0; i < n; i++) {
            rand_str(&s);
            /* jansson keys: no NUL, and '$' names are reserved */
            if (memchr(s.data, 0, s.len) || (s.len && s.data[0] == '$'))
                continue;
            json_object_setn_new(v, s.data, s.len, rand_value(depth + 1));
        }
        break;
    }
    }
    buf_release(&s);
    return v;
}

/* ---- reference comparator, straight from Convex's rules ---- */

static int sign(long long x)
{
    return (x > 0) - (x < 0);
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return sign(c);
    return sign((long long)an - (long long)bn);
}

static int double_cmp(double a, double b)
{
    /* class: -NaN (0) < numbers (1) < NaN (2) */
    int ca = isnan(a) ? (signbit(a) ? 0 : 2) : 1, cb = isnan(b) ? (signbit(b) ? 0 : 2) : 1;
    if (ca != cb)
        return ca < cb ? -1 : 1;
    if (ca != 1) {
        uint64_t ua, ub;
        memcpy(&ua, &a, 8);
        memcpy(&ub, &b, 8);
        ua &= ~(1ull << 63);
        ub &= ~(1ull << 63);
        int c = ua < ub ? -1 : ua > ub;
        return ca == 0 ? -c : c;
    }
    if (a < b)
        return -1;
    if (a > b)
        return 1;
    if (a == 0 && signbit(a) != signbit(b))
        return signbit(a) ? -1 : 1;
    return 0;
}

static int obj_field_cmp(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    return bytes_cmp(*a, strlen(*a), *b, strlen(*b));
}

static int ref_cmp(const json_t *a, const json_t *b)
{
    int64_t ia = 0, ib = 0;
    double da = 0, db = 0;
    enum value_type ta = value_type_of(a, &ia, &da), tb = value_type_of(b, &ib, &db);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    switch (ta) {
    case VT_INT64:
        return ia < ib ? -1 : ia > ib;
    case VT_NUMBER:
        return double_cmp(da, db);
    case VT_BOOLEAN:
        return (int)json_is_true(a) - (int)json_is_true(b);
    case VT_STRING:
        return bytes_cmp(json_string_value(a), json_string_length(a), json_string_value(b),
                         json_string_length(b));
    case VT_BYTES: {
        struct buf x = BUF_INIT(BUF_NOLIMIT), y = BUF_INIT(BUF_NOLIMIT);
        value_bytes(a, &x);
        value_bytes(b, &y);
        int c = bytes_cmp(x.data, x.len, y.data, y.len);
        buf_release(&x);
        buf_release(&y);
        return c;
    }
    case VT_ARRAY: {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int c = ref_cmp(json_array_get(a, i), json_array_get(b, i));
            if (c)
                return c;
        }
        return sign((long long)na - (long long)nb);
    }
    case VT_OBJECT: {
        size_t na = json_object_size(a), nb = json_object_size(b), i = 0, j = 0;
        const char *ka[8], *kb[8], *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) ka[i++] = k;
        json_object_foreach((json_t *)b, k, v) kb[j++] = k;
        qsort(ka, na, sizeof(char *), obj_field_cmp);
        qsort(kb, nb, sizeof(char *), obj_field_cmp);
        for (i = 0; i < na && i < nb; i++) {
            int c = bytes_cmp(ka[i], strlen(ka[i]), kb[i], strlen(kb[i]));
            if (c)
                return c;
            c = ref_cmp(json_object_get(a, ka[i]), json_object_get(b, kb[i]));
            if (c)
                return c;
        }
        return sign((long long)na - (long long)nb);
    }
    default:
        return 0;
    }
}

#define NVAL 3000

static json_t *vals[NVAL];
static struct buf encs[NVAL];

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (int i = 0; i < NVAL; i++) {
        vals[i] = i == 0 ? NULL : rand_value(0); /* index 0: undefined */
        buf_init(&encs[i], BUF_NOLIMIT);
        if (key_encode_value(&encs[i], vals[i]) != 0) {
            char *s = json_dumps(vals[i], JSON_ENCODE_ANY);
            fprintf(stderr, "encode failed: %s\n", s);
            free(s);
        }
    }
}

TEST(order_matches_reference)
{
    setup();
    int bad = 0;
    for (int n = 0; n < 300000 && bad < 5; n++) {
        int i = (int)rn(NVAL), j = (int)rn(NVAL);
        if (n < NVAL)
            j = (i + 1) % NVAL;
        int want = ref_cmp(vals[i], vals[j]);
        int got = bytes_cmp(encs[i].data, encs[i].len, encs[j].data, encs[j].len);
        if (want != got) {
            char *a = json_dumps(vals[i], JSON_ENCODE_ANY), *b = json_dumps(vals[j], JSON_ENCODE_ANY);
            fprintf(stderr, "order mismatch: %s vs %s: want %d got %d\n", a ? a : "undefined",
                    b ? b : "undefined", want, got);
            free(a);
            free(b);
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(round_trip)
{
    setup();
    int bad = 0;
    for (int i = 0; i < NVAL; i++) {
        json_t *out = NULL;
        int undef = 0;
        long m = key_decode_value((const unsigned char *)encs[i].data, encs[i].len, &out, &undef);
        struct buf re = BUF_INIT(BUF_NOLIMIT);
        if (m != (long)encs[i].len || key_encode_value(&re, out) != 0 || re.len != encs[i].len ||
            memcmp(re.data, encs[i].data, re.len) != 0 || (undef != (vals[i] == NULL)) ||
            ref_cmp(out, vals[i]) != 0)
            bad++;
        buf_release(&re);
        json_decref(out);
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(tuples_keep_order)
{
    setup();
    int bad = 0;
    for (int n = 0; n < 100000; n++) {
        int a1 = (int)rn(NVAL), a2 = (int)rn(NVAL), b1 = rn(4) ? a1 : (int)rn(NVAL),
            b2 = (int)rn(NVAL);
        int want = ref_cmp(vals[a1], vals[b1]);
        if (!want)
            want = ref_cmp(vals[a2], vals[b2]);
        struct buf x = BUF_INIT(BUF_NOLIMIT), y = BUF_INIT(BUF_NOLIMIT);
        buf_append(&x, encs[a1].data, encs[a1].len);
        buf_append(&x, encs[a2].data, encs[a2].len);
        buf_append(&y, encs[b1].data, encs[b1].len);
        buf_append(&y, encs[b2].data, encs[b2].len);
        if (bytes_cmp(x.data, x.len, y.data, y.len) != want)
            bad++;
        buf_release(&x);
        buf_release(&y);
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(prefix_bound)
{
    setup();
    int bad = 0;
    for (int n = 0; n < 100000; n++) {
        int p = (int)rn(NVAL), q = rn(3) ? p : (int)rn(NVAL), x = (int)rn(NVAL);
        /* upper = enc(p) + 0xff; key = enc(q) + enc(x) */
        struct buf up = BUF_INIT(BUF_NOLIMIT), k = BUF_INIT(BUF_NOLIMIT);
        buf_append(&up, encs[p].data, encs[p].len);
        buf_append_byte(&up, KEY_PREFIX_END);
        buf_append(&k, encs[q].data, encs[q].len);
        buf_append(&k, encs[x].data, encs[x].len);
        int c = ref_cmp(vals[q], vals[p]);
        int below = bytes_cmp(k.data, k.len, up.data, up.len) < 0;
        int above_lo = bytes_cmp(k.data, k.len, encs[p].data, encs[p].len) >= 0;
        /* within [enc(p), enc(p)+0xff) exactly when q == p */
        if ((c == 0) != (below && above_lo))
            bad++;
        /* gt p: lo = enc(p)+0xff admits exactly q > p */
        if ((c > 0) != !below)
            bad++;
        buf_release(&up);
        buf_release(&k);
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(classify)
{
    json_error_t je;
    json_t *v = json_loads("{\"$integer\":\"AQAAAAAAAAA=\"}", 0, &je);
    int64_t i = 0;
    CHECK_EQ_INT(value_type_of(v, &i, NULL), VT_INT64);
    CHECK_EQ_INT(i, 1);
    json_decref(v);
    v = json_loads("{\"$integer\":\"AQAA\"}", 0, &je);
    CHECK_EQ_INT(value_type_of(v, NULL, NULL), VT_INVALID);
    json_decref(v);
    v = json_loads("{\"$bytes\":\"AQAA\",\"x\":1}", 0, &je);
    CHECK_EQ_INT(value_type_of(v, NULL, NULL), VT_INVALID);
    json_decref(v);
    v = json_loads("{\"$foo\":\"x\"}", 0, &je);
    CHECK_EQ_INT(value_type_of(v, NULL, NULL), VT_INVALID);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    CHECK(key_encode_value(&b, v) == -EINVAL);
    CHECK_EQ_INT(b.len, 0);
    json_decref(v);
    v = json_loads("[{\"a\":{\"$x\":1}}]", 0, &je);
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    CHECK(value_check(v, "field", &err) < 0);
    CHECK(strstr(err.data, "field `[0].a`") != NULL);
    json_decref(v);
    CHECK_EQ_INT(value_type_of(NULL, NULL, NULL), VT_UNDEFINED);
    CHECK_EQ_STR(value_type_name(VT_INT64), "int64");
    /* depth limit */
    json_t *deep = json_array();
    for (int d = 0; d < 70; d++) {
        json_t *outer = json_array();
        json_array_append_new(outer, deep);
        deep = outer;
    }
    CHECK(key_encode_value(&b, deep) == -EINVAL);
    json_decref(deep);
    buf_release(&b);
    buf_release(&err);
}

TEST(decode_rejects_garbage)
{
    static const unsigned char bad1[] = { 0x60, 'a' };              /* no terminator */
    static const unsigned char bad2[] = { 0x60, 'a', 0, 0x01 };     /* ok: consumes 3 */
    static const unsigned char bad3[] = { 0x90, 0x60, 'b', 0, 0x20, 0x60, 'a', 0, 0x20, 0 };
    static const unsigned char bad4[] = { 0x30, 1, 2 };
    static const unsigned char bad5[] = { 0x80, 0x10, 0 };          /* undefined in array */
    json_t *o = NULL;
    int u;
    CHECK_EQ_INT(key_decode_value(bad1, sizeof(bad1), &o, &u), -1);
    CHECK_EQ_INT(key_decode_value(bad2, sizeof(bad2), &o, &u), 3);
    json_decref(o);
    CHECK_EQ_INT(key_decode_value(bad3, sizeof(bad3), &o, &u), -1); /* keys out of order */
    CHECK_EQ_INT(key_decode_value(bad4, sizeof(bad4), &o, &u), -1);
    CHECK_EQ_INT(key_decode_value(bad5, sizeof(bad5), &o, &u), -1);
    CHECK_EQ_INT(key_decode_value(bad5, 0, &o, &u), -1);
}

TEST(specific_order)
{
    /* a few hand-checked facts */
    const char *order[] = { "null", "{\"$integer\":\"AAAAAAAAAIA=\"}", "{\"$float\":\"AAAAAAAA8P8=\"}",
                            "-1.5", "{\"$float\":\"AAAAAAAAAIA=\"}", "0", "5e-324", "1",
                            "{\"$float\":\"AAAAAAAA8H8=\"}", "false", "true", "\"\"", "\"a\"",
                            "\"a\\u0000\"", "\"ab\"", "{\"$bytes\":\"\"}", "[]", "[null]", "{}",
                            "{\"a\":1}", "{\"a\":1,\"b\":0}", "{\"b\":0}" };
    size_t n = sizeof(order) / sizeof(order[0]);
    struct buf prev = BUF_INIT(BUF_NOLIMIT), cur = BUF_INIT(BUF_NOLIMIT);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *v = json_loads(order[i], JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                               &je);
        CHECK(v != NULL);
        buf_reset(&cur);
        CHECK_EQ_INT(key_encode_value(&cur, v), 0);
        if (i > 0 && bytes_cmp(prev.data, prev.len, cur.data, cur.len) >= 0) {
            fprintf(stderr, "not ordered: %s before %s\n", order[i - 1], order[i]);
            CHECK(0);
        }
        buf_reset(&prev);
        buf_append(&prev, cur.data, cur.len);
        json_decref(v);
    }
    buf_release(&prev);
    buf_release(&cur);
}

/* A string's key made from its bytes is the key of the JSON string, and a number's that of the
 * JSON number (ids and creation times are keyed this way). */
TEST(string_and_number_keys_direct)
{
    static const char *const texts[] = { "", "abc", "x\0y", "\0", "caf\xc3\xa9" };
    static const size_t lens[] = { 0, 3, 3, 1, 5 };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct buf a = BUF_INIT(BUF_NOLIMIT), b = BUF_INIT(BUF_NOLIMIT);
        json_t *js = json_stringn(texts[i], lens[i]);
        CHECK_EQ_INT(key_encode_string(&a, texts[i], lens[i]), 0);
        CHECK_EQ_INT(key_encode_value(&b, js), 0);
        CHECK_EQ_INT((long)a.len, (long)b.len);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        json_decref(js);
        buf_release(&a);
        buf_release(&b);
    }
    static const double nums[] = { 0, 1, -1, 0.5, 1764974412345.0625, -1e300, 1e-300 };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        struct buf a = BUF_INIT(BUF_NOLIMIT), b = BUF_INIT(BUF_NOLIMIT);
        json_t *jn = json_real(nums[i]);
        CHECK_EQ_INT(key_encode_number(&a, nums[i]), 0);
        CHECK_EQ_INT(key_encode_value(&b, jn), 0);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        json_decref(jn);
        buf_release(&a);
        buf_release(&b);
    }
    struct buf small = BUF_INIT(4); /* past its limit: nothing appended */
    buf_append_str(&small, "ab");
    CHECK_EQ_INT(key_encode_string(&small, "abcdef", 6), -E2BIG);
    CHECK_EQ_INT((long)small.len, 2);
    buf_release(&small);
}

TEST_MAIN()
