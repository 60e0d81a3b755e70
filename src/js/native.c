/* native: the C functions the prelude reaches as `native.*` — document reads and writes inside
 * the execution's transaction, index scans (batched: one call returns up to n documents as a JSON
 * array), logging, completion reports and nested calls from actions. Each function checks its
 * arguments (the prelude is trusted but app code may reach a leaked reference) and turns store
 * errors into thrown Errors carrying a `code`. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_parse.h"
#include "base/log.h"
#include "base/mem.h"
#include "js/js_int.h"
#include "js/jsc_clock.h"
#include "store/store.h"
#include "store/validator.h"

#include "base/banned.h"

/* The runtime is the private data of the `native` object; the prelude always calls natives as
 * its methods. (A classed global object would make every global lookup slow.) */
static JSClassRef native_class; /* created once per process, never released */
static pthread_once_t native_class_once = PTHREAD_ONCE_INIT;

static void native_class_create(void)
{
    JSClassDefinition def = kJSClassDefinitionEmpty;
    def.className = "VireoNative";
    native_class = JSClassCreate(&def);
}

/* native_class is the only class whose objects carry private data, so JSObjectGetPrivate (NULL
 * for every other object) identifies `native` without JSValueIsObjectOfClass's lock and class
 * walk (~2 % of the loop thread under a stream of mutations: several native calls each). */
static struct js_runtime *rt_of(JSContextRef ctx, JSObjectRef self)
{
    (void)ctx;
    return self ? JSObjectGetPrivate(self) : NULL;
}

#define RT_OR_THROW(rt)                                                                           \
    if (!(rt))                                                                                    \
        return throwf(ctx, exc, "InternalError", "native functions must be called on `native`")

JSObjectRef js_make_error(JSContextRef ctx, const char *code, const char *message)
{
    JSStringRef m = JSStringCreateWithUTF8CString(message);
    JSValueRef arg = JSValueMakeString(ctx, m);
    JSStringRelease(m);
    JSObjectRef err = JSObjectMakeError(ctx, 1, &arg, NULL);
    if (err && code) {
        JSStringRef k = JSStringCreateWithUTF8CString("code");
        JSStringRef c = JSStringCreateWithUTF8CString(code);
        JSObjectSetProperty(ctx, err, k, JSValueMakeString(ctx, c), kJSPropertyAttributeNone, NULL);
        JSStringRelease(c);
        JSStringRelease(k);
    }
    return err;
}

static JSValueRef throwf(JSContextRef ctx, JSValueRef *exc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static JSValueRef throwf(JSContextRef ctx, JSValueRef *exc, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    *exc = js_make_error(ctx, code, msg);
    return JSValueMakeUndefined(ctx);
}

const unsigned char *js_u8_bytes(JSContextRef ctx, JSValueRef v, size_t *len)
{
    static const unsigned char empty[1];
    *len = 0;
    if (JSValueGetTypedArrayType(ctx, v, NULL) != kJSTypedArrayTypeUint8Array)
        return NULL;
    JSObjectRef o = (JSObjectRef)v;
    *len = JSObjectGetTypedArrayByteLength(ctx, o, NULL);
    const unsigned char *p = JSObjectGetTypedArrayBytesPtr(ctx, o, NULL);
    return p ? p + JSObjectGetTypedArrayByteOffset(ctx, o, NULL) : empty;
}

static void free_bytes(void *bytes, void *unused)
{
    (void)unused;
    vr_free(bytes);
}

JSValueRef js_buffer_take(JSContextRef ctx, void *bytes, size_t len, JSValueRef *exc)
{
    JSObjectRef ab = JSObjectMakeArrayBufferWithBytesNoCopy(ctx, bytes, len, free_bytes, NULL, exc);
    if (!ab) {
        vr_free(bytes);
        return JSValueMakeUndefined(ctx);
    }
    return ab;
}

JSValueRef js_buffer_copy(JSContextRef ctx, const void *p, size_t len, JSValueRef *exc)
{
    void *copy = vr_malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    return js_buffer_take(ctx, copy, len, exc);
}

void js_op_answer(JSContextRef ctx, int ok, const char *const *strs, size_t n, const void *bytes,
                  size_t nbytes, JSValueRef out[3])
{
    JSValueRef sv[JS_OP_MAX_STRINGS];
    if (n > JS_OP_MAX_STRINGS)
        n = JS_OP_MAX_STRINGS;
    for (size_t i = 0; i < n; i++) {
        JSStringRef js = JSStringCreateWithUTF8CString(strs[i] ? strs[i] : "");
        sv[i] = JSValueMakeString(ctx, js);
        JSStringRelease(js);
    }
    out[0] = JSValueMakeBoolean(ctx, ok);
    out[1] = JSObjectMakeArray(ctx, n, sv, NULL);
    out[2] = bytes ? js_buffer_copy(ctx, bytes, nbytes, NULL) : JSValueMakeUndefined(ctx);
}

int js_to_buf(JSContextRef ctx, JSValueRef v, struct buf *out, JSValueRef *exc)
{
    buf_reset(out);
    JSStringRef s = JSValueToStringCopy(ctx, v, exc);
    if (!s)
        return -EINVAL;
    int rc = 0;
    size_t max = JSStringGetMaximumUTF8CStringSize(s) - 1; /* 3 bytes per UTF-16 unit */
    size_t need = max < out->max ? max : out->max;
    if (JSStringGetLength(s) > out->max || buf_grow(out, need) < 0) {
        rc = -E2BIG;
        goto out;
    }
    size_t n = JSStringGetUTF8CString(s, out->data, need + 1);
    out->len = n ? n - 1 : 0;
    out->data[out->len] = '\0';
    if (need < max && out->len + 4 > need)
        rc = -E2BIG; /* may have been cut short */
out:
    JSStringRelease(s);
    return rc;
}

static JSValueRef make_str(JSContextRef ctx, const char *s)
{
    JSStringRef js = JSStringCreateWithUTF8CString(s);
    JSValueRef v = JSValueMakeString(ctx, js);
    JSStringRelease(js);
    return v;
}

/* Fetches string argument i into b, throwing on a missing or oversized one. */
static int str_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, struct buf *b,
                   const char *what, JSValueRef *exc)
{
    if (i >= argc || !JSValueIsString(ctx, argv[i])) {
        throwf(ctx, exc, "InvalidArgument", "%s: expected a string", what);
        return -1;
    }
    if (js_to_buf(ctx, argv[i], b, exc) < 0) {
        if (!*exc)
            throwf(ctx, exc, "ValueTooLarge", "%s: value is larger than %u bytes", what,
                   JS_VALUE_MAX);
        return -1;
    }
    return 0;
}

/* str_arg for an argument the prelude says is a string (hot paths: JSValueIsString would take
 * the VM's lock once more; were it not one, it would be converted, never misread). */
static int given_str(JSContextRef ctx, JSValueRef v, struct buf *b, const char *what,
                     JSValueRef *exc)
{
    if (js_to_buf(ctx, v, b, exc) < 0) {
        if (!*exc)
            throwf(ctx, exc, "ValueTooLarge", "%s: value is larger than %u bytes", what,
                   JS_VALUE_MAX);
        return -1;
    }
    return 0;
}

/* str_arg for a name (table, index, function path, field) that C handles as a C string: one
 * holding U+0000 would be cut there and name another thing, so it is refused. */
static int name_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, struct buf *b,
                    const char *what, JSValueRef *exc)
{
    if (str_arg(ctx, argc, argv, i, b, what, exc) < 0)
        return -1;
    if (strlen(b->data) != b->len) {
        throwf(ctx, exc, "InvalidArgument", "%s: `%s\\u0000...` contains U+0000", what, b->data);
        return -1;
    }
    return 0;
}

static struct store_txn *need_txn(JSContextRef ctx, struct js_runtime *rt, const char *what,
                                  JSValueRef *exc)
{
    if (!rt || !rt->txn) {
        throwf(ctx, exc, "NoTransaction",
               "%s: ctx.db is only usable while its query or mutation is running", what);
        return NULL;
    }
    return rt->txn;
}

/* The code app code sees for the store's last failure: the store says its kind (never guess
 * from the message, which names user fields and tables); dflt for the rest. */
static const char *store_code(const struct store *s, const char *dflt)
{
    switch (s ? store_last_error(s) : STORE_ERR_OTHER) {
    case STORE_ERR_TOO_DEEP:
        return "ValueTooDeep";
    case STORE_ERR_SCHEMA:
        return "SchemaValidationError";
    case STORE_ERR_NOT_FOUND:
        return "DocumentNotFound";
    case STORE_ERR_INVALID_ID:
        return "InvalidId";
    case STORE_ERR_TOO_LARGE:
        return "ValueTooLarge";
    case STORE_ERR_RESERVED:
    case STORE_ERR_INVALID_CT: /* imports only */
        return "InvalidArgument";
    case STORE_ERR_CURSOR:
        return "InvalidCursor";
    case STORE_ERR_QUERY:
        return "InvalidQuery";
    case STORE_ERR_FULL:
        return "StorageLimitExceeded";
    case STORE_ERR_DOCS_READ:
        return "TooManyDocumentsRead";
    case STORE_ERR_BYTES_READ:
        return "TooManyBytesRead";
    case STORE_ERR_WRITES:
        return "TooManyWrites";
    case STORE_ERR_BYTES_WRITTEN:
        return "TooManyBytesWritten";
    case STORE_ERR_RANGES:
        return "TooManyReads";
    case STORE_ERR_OTHER:
    case STORE_ERR_CHANGED:
        break;
    }
    return dflt;
}

static JSValueRef store_throw(JSContextRef ctx, struct js_runtime *rt, JSValueRef *exc,
                              struct buf *err, const char *dflt)
{
    const char *msg = err->len ? err->data : "storage error";
    *exc = js_make_error(ctx, store_code(rt->store, dflt), msg);
    return JSValueMakeUndefined(ctx);
}

/* The namespace a call's ids must belong to (54_components.js): argument i, a component's
 * prefix of its tables' names ("a/", "a/b/"), or absent for the app's (""). 0, or -1 with an
 * exception. */
static int ns_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i,
                  char ns[STORE_TABLE_NAME_MAX + 2], JSValueRef *exc)
{
    ns[0] = '\0';
    if (i >= argc || JSValueIsUndefined(ctx, argv[i]))
        return 0;
    JSStringRef s = JSValueToStringCopy(ctx, argv[i], exc);
    if (!s)
        return -1;
    JSStringGetUTF8CString(s, ns, STORE_TABLE_NAME_MAX + 2);
    JSStringRelease(s);
    return 0;
}

/* native.get(id[, namespace | null]) -> JSON text or null */
static JSValueRef n_get(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                        const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char ns[STORE_TABLE_NAME_MAX + 2];
    struct store_txn *t = need_txn(ctx, rt, "db.get()", exc);
    if (!t || str_arg(ctx, argc, argv, 0, &rt->s1, "db.get() id", exc) < 0)
        return JSValueMakeUndefined(ctx);
    /* the app's ctx.db passes no namespace (its hot path: no more arguments to look at), a
     * component's its own, db.system and the prelude's own reads null: any table */
    int user = argc < 2 || !JSValueIsNull(ctx, argv[1]);
    if (user && ns_arg(ctx, argc, argv, 1, ns, exc) < 0)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s2);
    buf_reset(&rt->s3);
    int found = 0; /* another namespace's document is none of the caller's */
    const char *table = NULL;
    if (store_get_in(t, rt->s1.data, rt->s1.len, user ? ns : NULL, &table, &rt->s2, &found,
                     &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "InvalidId");
    /* a system table's document through ctx.db is refused, as in Convex */
    if (user && table && store_table_is_system(table))
        return throwf(ctx, exc, "InvalidArgument",
                      "System tables can only be accessed with db.system.");
    if (!found)
        return JSValueMakeNull(ctx);
    return make_str(ctx, rt->s2.data);
}

static struct js_cursor *find_cursor(struct js_runtime *rt, JSContextRef ctx, JSValueRef v)
{
    double d = JSValueToNumber(ctx, v, NULL);
    for (int i = 0; i < JS_MAX_CURSORS; i++)
        if (rt->cursors[i].c && (double)rt->cursors[i].id == d)
            return &rt->cursors[i];
    return NULL;
}

/* The optional cursor argument i of native.scanOpen: NULL when absent or null. */
static int cursor_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i,
                      struct buf *b, const char **out, const char *what, JSValueRef *exc)
{
    *out = NULL;
    if (i >= argc || JSValueIsNull(ctx, argv[i]) || JSValueIsUndefined(ctx, argv[i]))
        return 0;
    if (str_arg(ctx, argc, argv, i, b, what, exc) < 0)
        return -1;
    *out = b->data;
    return 0;
}

/* The (table, index, spec) arguments of native.scanOpen and native.search, in the open query's
 * transaction: the names into table and index, the spec (a range or a search query: JSON text)
 * left in rt->s1. Returns the transaction, or NULL with an exception thrown; `index_what` and
 * `spec_what` name the arguments in it ("withIndex() index", "withIndex() range"). */
static struct store_txn *query_args(JSContextRef ctx, struct js_runtime *rt, size_t argc,
                                    const JSValueRef argv[], const char *index_what,
                                    const char *spec_what, char table[256], char index[256],
                                    JSValueRef *exc)
{
    struct store_txn *t = need_txn(ctx, rt, "db.query()", exc);
    if (!t || name_arg(ctx, argc, argv, 0, &rt->s1, "db.query() table", exc) < 0)
        return NULL;
    snprintf(table, 256, "%s", rt->s1.data);
    if (name_arg(ctx, argc, argv, 1, &rt->s1, index_what, exc) < 0)
        return NULL;
    snprintf(index, 256, "%s", rt->s1.data);
    if (str_arg(ctx, argc, argv, 2, &rt->s1, spec_what, exc) < 0)
        return NULL;
    return t;
}

/* native.scanOpen(table, index, rangeJson, descending[, cursor, endCursor, endIsJournal]) ->
 * handle. With the cursors (strings, or null for the range's start / end) it opens a page scan
 * (store_page_open_ex); endIsJournal: endCursor is the run's query journal. */
static JSValueRef n_scan_open(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char table[256], index[256];
    struct store_txn *t = query_args(ctx, rt, argc, argv, "withIndex() index",
                                     "withIndex() range", table, index, exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    int desc = argc > 3 && JSValueToBoolean(ctx, argv[3]);
    struct js_cursor *slot = NULL;
    for (int i = 0; i < JS_MAX_CURSORS && !slot; i++)
        if (!rt->cursors[i].c)
            slot = &rt->cursors[i];
    if (!slot)
        return throwf(ctx, exc, "TooManyQueries", "more than %d queries are open at once",
                      JS_MAX_CURSORS);
    buf_reset(&rt->s3);
    struct store_cursor *c = NULL;
    int rc;
    if (argc > 4) {
        if (rt->res)
            rt->res->paginated = 1;
        struct buf cb = BUF_INIT(BUF_NOLIMIT), eb = BUF_INIT(BUF_NOLIMIT);
        const char *cur = NULL, *end = NULL;
        rc = cursor_arg(ctx, argc, argv, 4, &cb, &cur, "paginate() cursor", exc) < 0 ||
                     cursor_arg(ctx, argc, argv, 5, &eb, &end, "paginate() endCursor", exc) < 0
                 ? -2
                 : store_page_open_ex(
                       t, table, index, rt->s1.data, rt->s1.len, desc, cur, cb.len, end, eb.len,
                       argc > 6 && JSValueToBoolean(ctx, argv[6]) ? STORE_PAGE_END_JOURNAL : 0, &c,
                       &rt->s3);
        buf_release(&cb);
        buf_release(&eb);
        if (rc == -2)
            return JSValueMakeUndefined(ctx);
    } else {
        rc = store_scan_open(t, table, index, rt->s1.data, rt->s1.len, desc, &c, &rt->s3);
    }
    if (rc < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "InvalidQuery");
    slot->c = c;
    slot->depth = rt->sub_depth;
    slot->id = ++rt->next_cursor_id;
    slot->returned = 0;
    return JSValueMakeNumber(ctx, slot->id);
}

/* A store search with the (table, index, queryJson) arguments: JSON text of its answer. */
typedef int (*search_fn)(struct store_txn *t, const char *table, const char *index,
                         const char *query_json, size_t len, struct buf *out, struct buf *err);
static JSValueRef run_search(JSContextRef ctx, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc, const char *index_what,
                             const char *query_what, search_fn search)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char table[256], index[256];
    struct store_txn *t =
        query_args(ctx, rt, argc, argv, index_what, query_what, table, index, exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s2);
    buf_reset(&rt->s3);
    if (search(t, table, index, rt->s1.data, rt->s1.len, &rt->s2, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError"); /* the app's mistakes: QUERY */
    return make_str(ctx, rt->s2.data);
}

/* native.search(table, index, queryJson) -> JSON array text of the matching documents
 * (store_search) */
static JSValueRef n_search(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    return run_search(ctx, self, argc, argv, exc, "withSearchIndex() index",
                      "withSearchIndex() query", store_search);
}

/* native.vectorSearch(table, index, queryJson) -> JSON array text of {_id, _score}
 * (store_vector_search; the built-in query `_system/vector:search`) */
static JSValueRef n_vector_search(JSContextRef ctx, JSObjectRef fn, JSObjectRef self,
                                  size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    return run_search(ctx, self, argc, argv, exc, "vectorSearch() index",
                      "vectorSearch() query", store_vector_search);
}

/* The (handle, n) arguments of native.scanCursor and native.scanNext: the open scan, with n in
 * *n; NULL after throwing "query is closed". */
static struct js_cursor *scan_args(JSContextRef ctx, struct js_runtime *rt, size_t argc,
                                   const JSValueRef argv[], double *n, JSValueRef *exc)
{
    struct js_cursor *cur = argc >= 2 ? find_cursor(rt, ctx, argv[0]) : NULL;
    if (!cur) {
        throwf(ctx, exc, "InvalidQuery", "query is closed");
        return NULL;
    }
    *n = JSValueToNumber(ctx, argv[1], NULL);
    return cur;
}

/* native.scanCursor(handle, n) -> the cursor after the n-th document returned by a page scan (the
 * range's end once the scan has ended and n counts every document) */
static JSValueRef n_scan_cursor(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    double d;
    struct js_cursor *cur = scan_args(ctx, rt, argc, argv, &d, exc);
    if (!cur)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s2);
    if (!(d >= 0 && d <= (double)cur->returned) ||
        store_page_cursor(cur->c, (size_t)d, &rt->s2) < 0)
        return throwf(ctx, exc, "InvalidQuery", "no cursor for position %g of this scan", d);
    return make_str(ctx, rt->s2.data);
}

/* Up to n more documents of cur's scan as JSON array text in rt->s2; fewer means the scan ended,
 * unless the array ends with null: the next document did not fit in the text's 16 MiB (large
 * system documents; user tables reach their 16 MiB read limit first), and comes next time.
 * 0, or -1 after throwing. */
static int scan_batch(JSContextRef ctx, struct js_runtime *rt, struct js_cursor *cur, size_t n,
                      JSValueRef *exc)
{
    struct buf *out = &rt->s2;
    buf_reset(out);
    buf_reset(&rt->s3);
    const size_t max = out->max;
    out->max = max - 8; /* room for the closing ",null]" */
    buf_append_byte(out, '[');
    int got = 0; /* the last store_scan_next's: -1 failed, 1 its document did not fit */
    for (size_t i = 0; i < n && got == 0; i++) {
        size_t mark = out->len;
        int done = 0;
        /* a comma that does not fit is a document that does not */
        got = i && buf_append_byte(out, ',') < 0 ? 1
                                                 : store_scan_next(cur->c, out, &done, &rt->s3);
        if (got != 0 || done) {
            out->len = mark;
            out->data[mark] = '\0';
            if (done)
                break;
        } else {
            cur->returned++;
        }
    }
    out->max = max;
    if (got < 0) {
        store_throw(ctx, rt, exc, &rt->s3, "StoreError");
        return -1;
    }
    if (got > 0 && out->len == 1) { /* not even one: "[" */
        throwf(ctx, exc, "ValueTooLarge", "a document of this scan is larger than a result may "
               "be (%zu bytes)", max - 8);
        return -1;
    }
    if (got > 0)
        buf_append_str(out, ",null");
    buf_append_byte(out, ']');
    return 0;
}

/* native.scanNext(handle, n) -> JSON array text of up to n documents (scan_batch) */
static JSValueRef n_scan_next(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    double want;
    struct js_cursor *cur = scan_args(ctx, rt, argc, argv, &want, exc);
    if (!cur)
        return JSValueMakeUndefined(ctx);
    size_t n = want >= 1 && want <= 4096 ? (size_t)want : 1;
    if (scan_batch(ctx, rt, cur, n, exc) < 0)
        return JSValueMakeUndefined(ctx);
    return make_str(ctx, rt->s2.data);
}

/* native.scanFirst(table, index, rangeJson, descending) -> JSON array text of the range's first
 * document, or of none: scanOpen, scanNext(handle, 1) and scanClose(handle, returned) in one
 * call, for first() and take(1) (each native call and each value it converts takes the VM's
 * lock). The scan holds no cursor slot: it is closed before the call returns. */
static JSValueRef n_scan_first(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char table[256], index[256];
    struct store_txn *t = query_args(ctx, rt, argc, argv, "withIndex() index",
                                     "withIndex() range", table, index, exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    int desc = argc > 3 && JSValueToBoolean(ctx, argv[3]);
    struct js_cursor one = { 0 };
    buf_reset(&rt->s3);
    if (store_scan_open(t, table, index, rt->s1.data, rt->s1.len, desc, &one.c, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "InvalidQuery");
    int r = scan_batch(ctx, rt, &one, 1, exc);
    store_scan_close(one.c, one.returned);
    return r < 0 ? JSValueMakeUndefined(ctx) : make_str(ctx, rt->s2.data);
}

/* native.scanClose(handle, consumed) */
static JSValueRef n_scan_close(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct js_cursor *cur = argc >= 2 ? find_cursor(rt, ctx, argv[0]) : NULL;
    if (cur) {
        double d = JSValueToNumber(ctx, argv[1], NULL);
        size_t consumed = d >= 0 && d <= (double)cur->returned ? (size_t)d : cur->returned;
        store_scan_close(cur->c, consumed);
        cur->c = NULL;
    }
    return JSValueMakeUndefined(ctx);
}

/* Closes the open queries of the nested calls deeper than `depth` (-1: every one). */
static void close_cursors_above(struct js_runtime *rt, int depth)
{
    for (int i = 0; i < JS_MAX_CURSORS; i++) {
        struct js_cursor *c = &rt->cursors[i];
        if (c->c && c->depth > depth) {
            store_scan_close(c->c, c->returned);
            c->c = NULL;
        }
    }
}

void js_native_close_cursors(struct js_runtime *rt)
{
    close_cursors_above(rt, -1);
}

/* App code never writes a system table (`_scheduled_functions`): the scheduler does. */
/* 1 (with an exception) when a write may not go to the table of id (len > 0; with len 0, id is
 * the table name): a system table, or a document of another namespace than ns. */
static int write_refused(JSContextRef ctx, struct js_runtime *rt, const char *what, const char *id,
                         size_t len, const char *ns, JSValueRef *exc)
{
    const char *t = len ? store_id_table(rt->store, id, len) : id;
    if (!t)
        return 0;
    if (store_table_is_system(t)) {
        throwf(ctx, exc, "InvalidArgument",
               "%s: `%s` is a system table; system tables are read-only (read them with "
               "ctx.db.system)",
               what, strrchr(t, '/') ? strrchr(t, '/') + 1 : t); /* a component's, as it names it */
        return 1;
    }
    if (!len || store_table_in_namespace(t, ns))
        return 0;
    if (ns[0])
        throwf(ctx, exc, "InvalidArgument", "%s: `%.*s` is not a document of component `%.*s`'s "
               "tables", what, (int)len, id, (int)strlen(ns) - 1, ns);
    else
        throwf(ctx, exc, "InvalidArgument", "%s: `%.*s` is not a document of the app's tables",
               what, (int)len, id);
    return 1;
}

/* native.insert(table, json) -> id */
static JSValueRef n_insert(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "db.insert()", exc);
    if (!t || name_arg(ctx, argc, argv, 0, &rt->s1, "db.insert() table", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "db.insert() document", exc) < 0 ||
        write_refused(ctx, rt, "db.insert()", rt->s1.data, 0, "", exc))
        return JSValueMakeUndefined(ctx);
    char id[STORE_ID_LEN + 1];
    buf_reset(&rt->s3);
    if (store_insert(t, rt->s1.data, rt->s2.data, rt->s2.len, id, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return make_str(ctx, id);
}

/* native.patch(id, json, removeFields|null[, namespace]) */
static JSValueRef n_patch(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                          const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char ns[STORE_TABLE_NAME_MAX + 2];
    struct store_txn *t = need_txn(ctx, rt, "db.patch()", exc);
    if (!t || str_arg(ctx, argc, argv, 0, &rt->s1, "db.patch() id", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "db.patch() value", exc) < 0 ||
        ns_arg(ctx, argc, argv, 3, ns, exc) < 0 ||
        write_refused(ctx, rt, "db.patch()", rt->s1.data, rt->s1.len, ns, exc))
        return JSValueMakeUndefined(ctx);
    char **names = NULL;
    size_t n = 0;
    JSValueRef ret = JSValueMakeUndefined(ctx);
    if (argc > 2 && JSValueIsObject(ctx, argv[2])) {
        JSObjectRef arr = (JSObjectRef)argv[2];
        JSStringRef lk = JSStringCreateWithUTF8CString("length");
        double len = JSValueToNumber(ctx, JSObjectGetProperty(ctx, arr, lk, NULL), NULL);
        JSStringRelease(lk);
        if (!(len >= 0 && len <= 4096)) {
            ret = throwf(ctx, exc, "InvalidArgument", "db.patch(): too many removed fields");
            goto out;
        }
        names = vr_calloc((size_t)len + 1, sizeof(*names));
        for (; n < (size_t)len; n++) {
            JSValueRef e = JSObjectGetPropertyAtIndex(ctx, arr, (unsigned)n, NULL);
            if (js_to_buf(ctx, e, &rt->s3, exc) < 0) {
                ret = JSValueMakeUndefined(ctx);
                goto out;
            }
            if (strlen(rt->s3.data) != rt->s3.len) {
                ret = throwf(ctx, exc, "InvalidArgument",
                             "db.patch(): field name `%s\\u0000...` contains U+0000", rt->s3.data);
                goto out;
            }
            names[n] = vr_strndup(rt->s3.data, rt->s3.len);
        }
    }
    buf_reset(&rt->s3);
    if (store_patch(t, rt->s1.data, rt->s1.len, rt->s2.data, rt->s2.len,
                    (const char *const *)names, n, &rt->s3) < 0)
        ret = store_throw(ctx, rt, exc, &rt->s3, "StoreError");
out:
    for (size_t i = 0; i < n; i++)
        vr_free(names[i]);
    vr_free(names);
    return ret;
}

/* native.replace(id, json[, namespace]) */
static JSValueRef n_replace(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                            const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char ns[STORE_TABLE_NAME_MAX + 2];
    struct store_txn *t = need_txn(ctx, rt, "db.replace()", exc);
    if (!t || str_arg(ctx, argc, argv, 0, &rt->s1, "db.replace() id", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "db.replace() value", exc) < 0 ||
        ns_arg(ctx, argc, argv, 2, ns, exc) < 0 ||
        write_refused(ctx, rt, "db.replace()", rt->s1.data, rt->s1.len, ns, exc))
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s3);
    if (store_replace(t, rt->s1.data, rt->s1.len, rt->s2.data, rt->s2.len, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return JSValueMakeUndefined(ctx);
}

/* native.del(id[, namespace]) */
static JSValueRef n_del(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                        const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char ns[STORE_TABLE_NAME_MAX + 2];
    struct store_txn *t = need_txn(ctx, rt, "db.delete()", exc);
    if (!t || str_arg(ctx, argc, argv, 0, &rt->s1, "db.delete() id", exc) < 0 ||
        ns_arg(ctx, argc, argv, 1, ns, exc) < 0 ||
        write_refused(ctx, rt, "db.delete()", rt->s1.data, rt->s1.len, ns, exc))
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s3);
    if (store_delete(t, rt->s1.data, rt->s1.len, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return JSValueMakeUndefined(ctx);
}

/* rt->s1 holds the id of an `_actors` document */
static int is_actor_doc(struct js_runtime *rt)
{
    const char *tb = store_id_table(rt->store, rt->s1.data, rt->s1.len);
    return tb && !strcmp(tb, STORE_ACTOR_TABLE);
}

/* str_arg through a memo (js_runtime.save_memo): the same string value as last time is not
 * converted again. */
static int memo_str_arg(JSContextRef ctx, struct js_str_memo *m, size_t argc,
                        const JSValueRef argv[], size_t i, const char *what, JSValueRef *exc)
{
    if (i < argc && m->v && argv[i] == m->v)
        return 0;
    if (m->v) {
        JSValueUnprotect(ctx, m->v);
        m->v = NULL;
    }
    if (str_arg(ctx, argc, argv, i, &m->text, what, exc) < 0)
        return -1;
    JSValueProtect(ctx, argv[i]);
    m->v = argv[i];
    return 0;
}

/* native.actorSave(docId|null, json) or native.actorSave(docId, head, stateJson, timersJson)
 * -> id: stores an actor instance's document (47_actors.js) in the system table `_actors`,
 * which app code cannot write; a docId must be one of its own. The second form, for an instance
 * stored before, is the document head + stateJson as a JSON string + `,"timers":` + timersJson
 * + `}`, built here (no concatenated string to flatten, no second escape in JS); its head holds
 * the indexed fields (name, actorId), the same for every save of the instance. */
static JSValueRef n_actor_save(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "actor state", exc);
    if (!t)
        return NULL;
    if (argc >= 4) { /* the second form: four strings (47_actors.js saveActor) */
        struct js_str_memo *id = &rt->save_memo[0], *head = &rt->save_memo[1],
                           *timers = &rt->save_memo[2];
        struct buf *st = &rt->save_state;
        buf_reset(&rt->s2);
        int bad = memo_str_arg(ctx, id, argc, argv, 0, "actor document id", exc) < 0 ||
                  memo_str_arg(ctx, head, argc, argv, 1, "actor document head", exc) < 0 ||
                  given_str(ctx, argv[2], st, "actor document", exc) < 0 ||
                  memo_str_arg(ctx, timers, argc, argv, 3, "actor document", exc) < 0 ||
                  buf_append(&rt->s2, head->text.data, head->text.len) < 0 ||
                  buf_append_json_str(&rt->s2, st->data, st->len) < 0 ||
                  buf_append_str(&rt->s2, ",\"timers\":") < 0 ||
                  buf_append(&rt->s2, timers->text.data, timers->text.len) < 0 ||
                  buf_append_byte(&rt->s2, '}') < 0;
        if (bad) {
            if (!*exc)
                throwf(ctx, exc, "ValueTooLarge", "actor document: value is larger than %u bytes",
                       JS_VALUE_MAX);
            return NULL;
        }
        if (js_actor_save_defer(rt, id->text.data, id->text.len, &rt->s2))
            return argv[0]; /* stored when the batch's VM entry ends */
        buf_reset(&rt->s3); /* the store checks that it is an actor document */
        if (store_replace_same_keys(t, STORE_ACTOR_TABLE, id->text.data, id->text.len,
                                    rt->s2.data, rt->s2.len, &rt->s3) < 0)
            return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
        js_actor_save_written(rt, id->text.data, id->text.len, rt->s2.len, 0);
        return argv[0];
    }
    int has_id = argc > 0 && JSValueIsString(ctx, argv[0]);
    if ((has_id && str_arg(ctx, argc, argv, 0, &rt->s1, "actor document id", exc) < 0) ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "actor document", exc) < 0)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s3);
    if (!has_id) {
        char id[STORE_ID_LEN + 1];
        if (store_insert(t, STORE_ACTOR_TABLE, rt->s2.data, rt->s2.len, id, &rt->s3) < 0)
            return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
        return make_str(ctx, id);
    }
    if (!is_actor_doc(rt))
        return throwf(ctx, exc, "InternalError", "actorSave: `%s` is not an actor document",
                      rt->s1.data);
    if (store_replace(t, rt->s1.data, rt->s1.len, rt->s2.data, rt->s2.len, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    js_actor_save_written(rt, rt->s1.data, rt->s1.len, rt->s2.len, 0);
    return argv[0];
}

/* native.actorOut(event, key, text, lists|null): a frame of the running actor operation
 * (js_actor_host.out); nothing when no actor host is set (no server delivers it). */
static JSValueRef n_actor_out(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (!rt->actor_host || !rt->actor_host->out)
        return JSValueMakeUndefined(ctx);
    int event = argc > 0 && JSValueToBoolean(ctx, argv[0]);
    int has_lists = argc > 3 && JSValueIsString(ctx, argv[3]);
    if (str_arg(ctx, argc, argv, 1, &rt->s1, "actor frame key", exc) < 0 ||
        str_arg(ctx, argc, argv, 2, &rt->s2, "actor frame", exc) < 0 ||
        (has_lists && str_arg(ctx, argc, argv, 3, &rt->s3, "actor frame lists", exc) < 0))
        return JSValueMakeUndefined(ctx);
    rt->actor_host->out(rt->actor_host_arg, event, rt->s1.data, rt->s1.len, rt->s2.data,
                        rt->s2.len, has_lists ? rt->s3.data : NULL, has_lists ? rt->s3.len : 0);
    return JSValueMakeUndefined(ctx);
}

/* Ends a call's own transaction t (not the top-level call's): commits it (commit; with hook, the
 * commit hook runs) or rolls it back, settles the files it stored or deleted, and frees it.
 * 0, or -1 with err when the commit failed (t rolled back). */
static int end_call_txn(struct js_runtime *rt, struct store_txn *t, int commit, int hook,
                        struct buf *err)
{
    int r = 0;
    if (commit) {
        uint64_t version = 0;
        if (store_txn_commit(t, &version, err) < 0) {
            r = -1;
        } else {
            if (hook && rt->commit_fn)
                rt->commit_fn(rt->commit_arg, t, version);
            js_storage_settled(rt, 1);
        }
    } else {
        store_txn_abort(t);
    }
    js_storage_settled(rt, 0);
    store_txn_free(t);
    return r;
}

/* native.actorEnd(text, code, act) with native.params[JS_PARAM_ACTOR_END] = 4 * k + status + 1
 * and [JS_PARAM_ACTOR_ARGS] the strings given (1 text, 2 code, 4 act) -> in
 * params[JS_PARAM_ACTOR_END]: 0, or 1 when the commit failed (the call failed) + 2 when the next
 * transaction did not open (the batch stops): ends call k of a batch
 * of actor calls (js_call_opts.txn_steps; 47_actors.js runBatch). Its transaction commits
 * (status 1; the commit hook runs) or rolls back (0: it failed; -1: it did not run), the actor
 * host learns the outcome (js_actor_host.end: 1 with text the result's JSON or undefined and act
 * the activated keys' JSON or null; 0 with text the message and code; -1), and the next call's
 * transaction opens with its own CPU time limit and scheduling budget (a committed one that
 * changed nothing carries on as the next one: store_txn_renew). */
static JSValueRef n_actor_end(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (!rt->txn_steps || !rt->top_txn || rt->txn != rt->top_txn || !rt->actor_host ||
        !rt->actor_host->end)
        return throwf(ctx, exc, "InternalError", "actorEnd: no batch of actor calls is running");
    /* k, the status and which strings are given come in native.params, the answer goes back
     * there: each JSC API call takes the VM's lock */
    double ks = rt->params[JS_PARAM_ACTOR_END];
    if (!(ks >= 0 && ks < 4.0 * UINT32_MAX))
        return throwf(ctx, exc, "InternalError", "actorEnd: bad call number");
    uint32_t k = (uint32_t)(ks / 4);
    int status = (int)fmod(ks, 4) - 1;
    int ok = status == 1;
    unsigned given = (unsigned)rt->params[JS_PARAM_ACTOR_ARGS];
    int has_text = argc > 0 && (given & 1);
    int has_code = argc > 1 && (given & 2);
    int has_act = argc > 2 && (given & 4);
    buf_reset(&rt->s1);
    buf_reset(&rt->s2);
    buf_reset(&rt->s3);
    if ((has_text && given_str(ctx, argv[0], &rt->s1, "actor call result", exc) < 0) ||
        (has_code && given_str(ctx, argv[1], &rt->s2, "actor call error code", exc) < 0) ||
        (has_act && given_str(ctx, argv[2], &rt->s3, "activated instances", exc) < 0))
        return NULL;
    js_native_close_cursors(rt);
    struct store_txn *t = rt->top_txn;
    struct buf cerr = BUF_INIT(4096);
    int r = 0;
    /* a call that changed nothing (a hot instance's state is stored at the batch's end) leaves
     * its transaction, savepoint and all, to the next call: no RELEASE, no SAVEPOINT */
    int renewed = ok && store_txn_renew(t);
    if (!renewed) {
        rt->txn = rt->top_txn = NULL;
        if (end_call_txn(rt, t, ok, 1, &cerr) < 0) {
            ok = 0;
            r |= 1;
        }
    }
    js_actor_saves_call_end(rt, ok);
    if (r & 1)
        rt->actor_host->end(rt->actor_host_arg, k, 0, cerr.data, cerr.len, "StoreError", NULL, 0);
    else if (ok)
        rt->actor_host->end(rt->actor_host_arg, k, 1, has_text ? rt->s1.data : NULL, rt->s1.len,
                            NULL, has_act ? rt->s3.data : NULL, rt->s3.len);
    else if (status == -1)
        rt->actor_host->end(rt->actor_host_arg, k, -1, NULL, 0, NULL, NULL, 0);
    else
        rt->actor_host->end(rt->actor_host_arg, k, 0, has_text ? rt->s1.data : "", rt->s1.len,
                            has_code ? rt->s2.data : "FunctionFailed", NULL, 0);
    buf_reset(&cerr);
    if (!renewed) {
        rt->txn = rt->top_txn = store_txn_begin(rt->store, 1, &cerr);
        if (!rt->txn)
            r |= 2;
    }
    buf_release(&cerr);
    js_set_limit_ms(rt, rt->limit_ms);
    rt->sched_count = 0;
    rt->sched_bytes = 0;
    rt->params[JS_PARAM_ACTOR_END] = r;
    return NULL;
}

/* native.actorDelete(docId): removes an actor instance's stored state (ActorManager.destroy). */
static JSValueRef n_actor_delete(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                 const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "actor state", exc);
    if (!t || str_arg(ctx, argc, argv, 0, &rt->s1, "actor document id", exc) < 0)
        return JSValueMakeUndefined(ctx);
    if (!is_actor_doc(rt))
        return throwf(ctx, exc, "InternalError", "actorDelete: `%s` is not an actor document",
                      rt->s1.data);
    buf_reset(&rt->s3);
    if (store_delete(t, rt->s1.data, rt->s1.len, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    js_actor_save_written(rt, rt->s1.data, rt->s1.len, 0, 1);
    return JSValueMakeUndefined(ctx);
}

static const char *validate_id_table(void *arg, const char *id, size_t len)
{
    return store_id_table(arg, id, len);
}

/* native.validate(validatorJson, valueJson) -> null, or the message of the first mismatch: the
 * Standard Schema face of v.* validators (20_validators.js), checked by the one C validator. */
static JSValueRef n_validate(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (str_arg(ctx, argc, argv, 0, &rt->s1, "validator", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "value", exc) < 0)
        return JSValueMakeUndefined(ctx);
    json_t *vd = json_parse(rt->s1.data, rt->s1.len, 0, NULL);
    json_t *val = json_parse(rt->s2.data, rt->s2.len,
                             JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    JSValueRef ret;
    if (!vd || !val) {
        ret = throwf(ctx, exc, "InternalError", "validate: malformed %s",
                     vd ? "value" : "validator");
    } else {
        struct validator_ctx vctx = { .what = "value",
                                      .id_table = rt->store ? validate_id_table : NULL,
                                      .id_table_arg = rt->store };
        buf_reset(&rt->s3);
        ret = validator_check(&vctx, vd, val, &rt->s3) == 0 ? JSValueMakeNull(ctx)
                                                             : make_str(ctx, rt->s3.data);
    }
    json_decref(vd);
    json_decref(val);
    return ret;
}

/* native.idTable(id) -> table name or null */
static JSValueRef n_id_table(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (str_arg(ctx, argc, argv, 0, &rt->s1, "id", exc) < 0)
        return JSValueMakeUndefined(ctx);
    const char *t = rt->store ? store_id_table(rt->store, rt->s1.data, rt->s1.len) : NULL;
    return t ? make_str(ctx, t) : JSValueMakeNull(ctx);
}

static enum log_level level_of(const char *s)
{
    if (!strcmp(s, "debug"))
        return LOG_DEBUG;
    if (!strcmp(s, "warn"))
        return LOG_WARN;
    if (!strcmp(s, "error"))
        return LOG_ERROR;
    return LOG_INFO;
}

/* native.log(level, path, message[, convexLine]): message to the server log; during a call,
 * convexLine (Convex's form, "[LOG] 'hi'") to the call's log lines as well. */
static JSValueRef n_log(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                        const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    char level[16], path[256];
    if (argc < 3)
        return JSValueMakeUndefined(ctx);
    if (js_to_buf(ctx, argv[0], &rt->s1, exc) < 0)
        return JSValueMakeUndefined(ctx);
    snprintf(level, sizeof(level), "%s", rt->s1.data);
    if (js_to_buf(ctx, argv[1], &rt->s1, exc) < 0)
        return JSValueMakeUndefined(ctx);
    snprintf(path, sizeof(path), "%s", rt->s1.data);
    /* an oversized message is cut rather than dropped */
    int rc = js_to_buf(ctx, argv[2], &rt->s1, exc);
    if (rc < 0 && rc != -E2BIG)
        return JSValueMakeUndefined(ctx);
    /* an Error's stack names bundle positions: name the source file and line instead */
    struct buf mapped = BUF_INIT(BUF_NOLIMIT);
    const struct buf *m =
        js_map_positions(rt, rt->s1.data, rt->s1.len, &mapped) ? &mapped : &rt->s1;
    if (rt->log_fn)
        rt->log_fn(rt->log_arg, level, path, m->data, m->len);
    else
        vr_log(level_of(level), "fn", "%s: %.*s", path, (int)m->len, m->data);
    buf_release(&mapped);
    if (argc > 3 && rt->res) {
        /* the prelude cuts a line to JS_LOG_MAX_LINE_BYTES + 1 UTF-16 units: 3 bytes each */
        struct buf line = BUF_INIT(3 * (JS_LOG_MAX_LINE_BYTES + 1) + 64);
        rc = js_to_buf(ctx, argv[3], &line, exc);
        if (rc == 0 || rc == -E2BIG) {
            struct buf lmapped = BUF_INIT(BUF_NOLIMIT);
            const struct buf *l =
                js_map_positions(rt, line.data, line.len, &lmapped) ? &lmapped : &line;
            js_result_add_log(rt->res, l->data, l->len);
            buf_release(&lmapped);
        }
        buf_release(&line);
    }
    return JSValueMakeUndefined(ctx);
}

/* native.done(text[, journal]) after a success, native.done(message[, code, data, name])
 * after a failure (name: js_result.error_name); native.params carries the execution's id and which
 * of the two it is (JS_PARAM_DONE_ID, JS_PARAM_DONE_OK). journal, a string, is the query journal
 * the execution recorded (its paginate()'s end cursor), passed only when there is one. */
static JSValueRef n_done(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                         const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    /* NULL answers undefined (JSC's APICallbackFunction) without taking the VM lock */
    if (argc < 1)
        return NULL;
    uint32_t id = (uint32_t)rt->params[JS_PARAM_DONE_ID];
    int ok = rt->params[JS_PARAM_DONE_OK] != 0;
    int *done = NULL;
    struct js_result *res = js_exec_result_for(rt, id, &done); /* an async action's */
    if (res) {
        if (*done)
            return NULL;
    } else {
        if (!rt->res || rt->done || id != rt->exec_id)
            return NULL; /* a stale report from an earlier execution */
        res = rt->res;
        done = &rt->done;
    }
    JSValueRef ignored = NULL;
    *done = 1;
    if (ok) {
        /* the prelude refuses a journal past JS_JOURNAL_MAX (paginate() throws); this is a
         * backstop */
        if (argc > 1 && js_to_buf(ctx, argv[1], &res->journal, &ignored) < 0)
            buf_reset(&res->journal);
        res->status = JS_OK;
        if (js_to_buf(ctx, argv[0], &res->value, &ignored) < 0) {
            res->status = JS_ERR_THROWN;
            buf_reset(&res->value);
            buf_appendf(&res->error, "return value is larger than %zu bytes", res->value.max);
            buf_append_str(&res->error_code, "ValueTooLarge");
        }
        return NULL;
    }
    res->status = JS_ERR_THROWN;
    if (js_to_buf(ctx, argv[0], &res->error, &ignored) == -E2BIG) {
        buf_reset(&res->error);
        buf_append_str(&res->error, "error message too large");
    }
    /* a message holding bundle positions (a stack) gets the source files' instead */
    struct buf mapped = BUF_INIT(BUF_NOLIMIT);
    if (js_map_positions(rt, res->error.data, res->error.len, &mapped) &&
        mapped.len <= res->error.max) {
        buf_reset(&res->error);
        buf_append(&res->error, mapped.data, mapped.len);
    }
    buf_release(&mapped);
    if (argc > 1)
        js_to_buf(ctx, argv[1], &res->error_code, &ignored);
    if (argc > 2 && js_to_buf(ctx, argv[2], &res->error_data, &ignored) < 0)
        buf_reset(&res->error_data);
    if (argc > 3 && js_to_buf(ctx, argv[3], &res->error_name, &ignored) < 0)
        buf_reset(&res->error_name); /* a name over 256 bytes: none */
    return NULL;
}

/* 1 when the running call is a scheduled function's run (or a call it made) whose job was
 * canceled while it ran: what it schedules is created canceled, as in Convex. 0, or -1 with err. */
static int scheduled_by_canceled(struct js_runtime *rt, struct store_txn *t, struct buf *err)
{
    const struct js_request *req = js_running_request(rt);
    if (!req || !req->scheduled_function_id)
        return 0;
    json_t *doc = NULL;
    if (store_sched_get(t, req->scheduled_function_id, NULL, &doc, err) < 0)
        return -1;
    const char *kind = json_string_value(json_object_get(json_object_get(doc, "state"), "kind"));
    int canceled = kind && !strcmp(kind, "canceled");
    json_decref(doc);
    return canceled;
}

/* native.schedule(path, argsJson, tsMs[, namespace]) -> id: a pending job in the namespace's
 * `_scheduled_functions` (the app's without one), written in the running mutation's
 * transaction (ctx.scheduler.runAfter / runAt). */
static JSValueRef n_schedule(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "ctx.scheduler", exc);
    if (!t || name_arg(ctx, argc, argv, 0, &rt->s1, "scheduled function name", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "scheduled function arguments", exc) < 0)
        return JSValueMakeUndefined(ctx);
    double ts = argc > 2 ? JSValueToNumber(ctx, argv[2], NULL) : NAN;
    if (!isfinite(ts))
        return throwf(ctx, exc, "InvalidArgument", "ctx.scheduler: the time is not a number");
    const struct js_fn_entry *e = js_find_entry(rt, rt->s1.data);
    if (!e || (!strncmp(rt->s1.data, "_system/", 8) && strcmp(rt->s1.data, JS_ACTORS_TIMER_PATH)))
        return throwf(ctx, exc, "FunctionNotFound",
                      "Attempted to schedule function at nonexistent path: %s", rt->s1.data);
    if (e->pub.kind == JS_QUERY)
        return throwf(ctx, exc, "InvalidArgument",
                      "ctx.scheduler: `%s` is a query; only mutations and actions can be "
                      "scheduled", e->pub.path);
    /* the call's limits, and the lower ones of the nested calls running (transactionLimits) */
    uint64_t count_lim = JS_SCHED_MAX_PER_CALL, bytes_lim = JS_SCHED_MAX_ARGS;
    int count_over = rt->sched_count >= JS_SCHED_MAX_PER_CALL;
    int bytes_over = rt->sched_bytes + rt->s2.len > JS_SCHED_MAX_ARGS;
    for (int i = 0; i < rt->sub_depth && !count_over && !bytes_over; i++) {
        const struct js_sub *sub = &rt->subs[i];
        if (sub->sched_lim != STORE_TXN_NO_LIMIT &&
            rt->sched_count - sub->sched_at >= sub->sched_lim) {
            count_lim = sub->sched_lim;
            count_over = 1;
        }
        if (sub->sched_bytes_lim != STORE_TXN_NO_LIMIT &&
            rt->sched_bytes - sub->sched_bytes_at + rt->s2.len > sub->sched_bytes_lim) {
            bytes_lim = sub->sched_bytes_lim;
            bytes_over = 1;
        }
    }
    if (count_over)
        return throwf(ctx, exc, "TooManyScheduledFunctions",
                      "Too many functions scheduled by this function (limit: %llu)",
                      (unsigned long long)count_lim);
    if (bytes_over)
        return throwf(ctx, exc, "ScheduledFunctionsArgumentsTooLarge",
                      "Too large total size of the arguments of functions scheduled by this "
                      "function (limit: %llu bytes)",
                      (unsigned long long)bytes_lim);
    if (rt->opts.max_scheduled && rt->opts.scheduled &&
        *rt->opts.scheduled + rt->sched_count >= rt->opts.max_scheduled)
        return throwf(ctx, exc, "TooManyScheduledFunctions",
                      "Too many scheduled functions are pending (limit: %u); retry later",
                      rt->opts.max_scheduled);
    char id[STORE_ID_LEN + 1], ns[STORE_TABLE_NAME_MAX + 2];
    if (ns_arg(ctx, argc, argv, 3, ns, exc) < 0)
        return JSValueMakeUndefined(ctx);
    struct buf name = BUF_INIT(BUF_NOLIMIT); /* as long as the path, and its handle prefix */
    buf_reset(&rt->s3);
    js_job_name(ns, rt->s1.data, &name);
    int r = store_sched_insert(t, ns, name.data, rt->s2.data, rt->s2.len, ts, id, &rt->s3);
    buf_release(&name);
    int canceled = r < 0 ? 0 : scheduled_by_canceled(rt, t, &rt->s3);
    if (r < 0 || canceled < 0 ||
        (canceled && store_sched_set_state(t, id, "canceled", NULL, clock_wall_ms(), &rt->s3) < 0))
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    rt->sched_count++;
    rt->sched_bytes += rt->s2.len;
    return make_str(ctx, id);
}

/* native.cancelJob(id[, namespace]): a pending job of the namespace (the app's without one), or
 * an action running now, becomes canceled, as in Convex (a running action goes on, but what it
 * schedules from then on is created canceled and its end does not change the state); one that
 * finished is left as it is. A cron job's run is left too: crons.ts owns it (Convex keeps those
 * out of `_scheduled_functions`). Another namespace's job is none of the caller's. */
static JSValueRef n_cancel_job(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "ctx.scheduler.cancel()", exc);
    if (!t || name_arg(ctx, argc, argv, 0, &rt->s1, "ctx.scheduler.cancel() id", exc) < 0)
        return JSValueMakeUndefined(ctx);
    json_t *doc = NULL;
    char ns[STORE_TABLE_NAME_MAX + 2];
    if (ns_arg(ctx, argc, argv, 1, ns, exc) < 0)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s3);
    if (store_sched_get(t, rt->s1.data, ns, &doc, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    if (!doc)
        return throwf(ctx, exc, "InvalidArgument",
                      "ctx.scheduler.cancel(): `%s` is not the id of a scheduled function",
                      rt->s1.data);
    const char *kind = json_string_value(json_object_get(json_object_get(doc, "state"), "kind"));
    int live = kind && (!strcmp(kind, "pending") || !strcmp(kind, "inProgress"));
    json_decref(doc);
    int cron = live ? store_cron_has_job(rt->store, rt->s1.data, &rt->s3) : 0;
    if (cron < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    if (cron)
        log_warn("sched",
                 "ctx.scheduler.cancel(\"%s\"): a cron job's run, not canceled (remove the "
                 "job from crons.ts to stop it)",
                 rt->s1.data);
    else if (live &&
             store_sched_set_state(t, rt->s1.data, "canceled", NULL, clock_wall_ms(), &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return JSValueMakeUndefined(ctx);
}

/* The function a nested call (kind, path, argsJson) runs, its arguments checked; NULL with *exc
 * set when there is none of that kind or they do not match its validator. */
static const struct js_fn_entry *nested_entry(JSContextRef ctx, struct js_runtime *rt, size_t argc,
                                              const JSValueRef argv[], JSValueRef *exc)
{
    if (argc < 3) {
        throwf(ctx, exc, "InvalidArgument", "nestedBegin: missing arguments");
        return NULL;
    }
    int kind = (int)JSValueToNumber(ctx, argv[0], NULL);
    if (name_arg(ctx, argc, argv, 1, &rt->s1, "function path", exc) < 0)
        return NULL;
    const struct js_fn_entry *e = js_find_entry(rt, rt->s1.data);
    if (!e) {
        throwf(ctx, exc, "FunctionNotFound", "function `%s` not found", rt->s1.data);
        return NULL;
    }
    if ((int)e->pub.kind != kind) {
        /* Convex's text (ValidatedPathAndArgs) */
        char canon[700]; /* Convex's CanonicalizedUdfPath: "m.js:add" */
        js_udf_path(canon, sizeof canon, e->pub.path, 1);
        throwf(ctx, exc, "InvalidArgument", "Trying to execute %s as %s, but it is defined as %s.",
               canon, js_kind_title(kind), js_kind_title((int)e->pub.kind));
        return NULL;
    }
    if (str_arg(ctx, argc, argv, 2, &rt->s2, "arguments", exc) < 0)
        return NULL;
    buf_reset(&rt->s3);
    if (js_validate_args(rt, &e->pub, rt->s2.data, rt->s2.len, NULL, &rt->s3) < 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "`%s`: %s", e->pub.path, rt->s3.data);
        *exc = js_make_error(ctx, "ArgumentValidationError", msg);
        return NULL;
    }
    return e;
}

/* native.nestedBegin(kind, path, argsJson) -> handler; opens the transaction of a query or
 * mutation started by an action's ctx.runQuery / ctx.runMutation (actions run without one). */
static JSValueRef n_nested_begin(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                 const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    const struct js_fn_entry *e = nested_entry(ctx, rt, argc, argv, exc);
    if (!e)
        return JSValueMakeUndefined(ctx);
    int kind = (int)e->pub.kind;
    if (kind != JS_ACTION) {
        if (rt->txn)
            return throwf(ctx, exc, "InternalError", "another transaction is already open");
        buf_reset(&rt->s3);
        rt->txn = store_txn_begin(rt->store, kind == JS_MUTATION, &rt->s3);
        if (!rt->txn)
            return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    }
    return e->handler;
}

/* native.nestedEnd(kind, ok): commits (ok) or rolls back the nested transaction. */
static JSValueRef n_nested_end(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    int kind = argc > 0 ? (int)JSValueToNumber(ctx, argv[0], NULL) : JS_ACTION;
    int ok = argc > 1 && JSValueToBoolean(ctx, argv[1]);
    if (kind == JS_ACTION || !rt->txn || rt->txn == rt->top_txn)
        return JSValueMakeUndefined(ctx);
    js_native_subs_end(rt);
    js_native_close_cursors(rt);
    struct store_txn *t = rt->txn;
    rt->txn = NULL;
    buf_reset(&rt->s3);
    if (end_call_txn(rt, t, ok, kind == JS_MUTATION, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return JSValueMakeUndefined(ctx);
}

/* native.subBegin(kind, path, argsJson, callerKind, execId) -> handler: ctx.runQuery /
 * ctx.runMutation inside a query or mutation (Convex's 1.0/runUdf). The function runs in the
 * caller's transaction; a mutation in a sub-transaction (store_txn_sub_begin), which
 * native.subEnd(ok) keeps or rolls back. At most JS_SUB_DEPTH_MAX deep. */
static JSValueRef n_sub_begin(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    struct store_txn *t = need_txn(ctx, rt, "ctx.runQuery()", exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    int kind = argc > 0 ? (int)JSValueToNumber(ctx, argv[0], NULL) : JS_ACTION;
    int caller = argc > 3 ? (int)JSValueToNumber(ctx, argv[3], NULL) : JS_QUERY;
    if (kind != JS_QUERY && !(kind == JS_MUTATION && caller == JS_MUTATION))
        return throwf(ctx, exc, "InvalidFunctionCall",
                      "Cannot call a%s %s function from a %s function",
                      kind == JS_ACTION ? "n" : "", js_kind_name(kind), js_kind_name(caller));
    if (rt->sub_depth >= JS_SUB_DEPTH_MAX)
        return throwf(ctx, exc, "MaximumCallDepthExceeded",
                      "Cross component call depth limit exceeded. Do you have an infinite loop "
                      "in your app?");
    const struct js_fn_entry *e = nested_entry(ctx, rt, argc, argv, exc);
    if (!e)
        return JSValueMakeUndefined(ctx);
    struct js_sub *sub = &rt->subs[rt->sub_depth];
    sub->kind = kind;
    sub->exec = argc > 4 ? JSValueToNumber(ctx, argv[4], NULL) : -1;
    sub->n_unlink = rt->n_unlink;
    sub->capped = 0;
    sub->sched_lim = sub->sched_bytes_lim = STORE_TXN_NO_LIMIT;
    sub->sched_at = rt->sched_count;
    sub->sched_bytes_at = rt->sched_bytes;
    /* its transactionLimits (50_functions.js checked them): [documentsRead, bytesRead,
     * databaseQueries, documentsWritten, bytesWritten, functionsScheduled,
     * scheduledFunctionArgsBytes], -1 for none */
    double lim[7];
    int has_lim = argc > 5 && JSValueIsObject(ctx, argv[5]);
    for (int i = 0; has_lim && i < 7; i++) {
        JSValueRef v = JSObjectGetPropertyAtIndex(ctx, (JSObjectRef)argv[5], (unsigned)i, NULL);
        lim[i] = v ? JSValueToNumber(ctx, v, NULL) : -1;
    }
#define LIM(i) (lim[i] >= 0 ? (uint64_t)lim[i] : STORE_TXN_NO_LIMIT)
    buf_reset(&rt->s3);
    if (kind == JS_MUTATION && store_txn_sub_begin(t, &sub->st, &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    if (has_lim) {
        struct store_txn_limits l = {.docs_read = LIM(0),
                                     .bytes_read = LIM(1),
                                     .ranges_read = LIM(2),
                                     .writes = LIM(3),
                                     .bytes_written = LIM(4)};
        sub->sched_lim = LIM(5);
        sub->sched_bytes_lim = LIM(6);
        if (store_txn_caps_push(t, &l) == 0)
            sub->capped = 1;
    }
#undef LIM
    rt->sub_depth++;
    return e->handler;
}

/* Ends the innermost nested call: closes the queries it left open, keeps or rolls back a
 * mutation's sub-transaction (and forgets the storage deletes of one rolled back). */
static int sub_end(struct js_runtime *rt, int ok, struct buf *err)
{
    struct js_sub *sub = &rt->subs[--rt->sub_depth];
    close_cursors_above(rt, rt->sub_depth);
    if (sub->capped && rt->txn)
        store_txn_caps_pop(rt->txn);
    if (sub->kind != JS_MUTATION || !rt->txn)
        return 0;
    if (!ok)
        rt->n_unlink = sub->n_unlink;
    return store_txn_sub_end(rt->txn, &sub->st, ok, err);
}

/* native.subEnd(ok, execId): the innermost nested call (native.subBegin) ended; nothing when it is
 * not one of execId's (a continuation of a call that ended: js_native_subs_end ended it). */
static JSValueRef n_sub_end(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                            const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    double exec = argc > 1 ? JSValueToNumber(ctx, argv[1], NULL) : -2;
    if (rt->sub_depth == 0 || rt->subs[rt->sub_depth - 1].exec != exec)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s3);
    if (sub_end(rt, argc > 0 && JSValueToBoolean(ctx, argv[0]), &rt->s3) < 0)
        return store_throw(ctx, rt, exc, &rt->s3, "StoreError");
    return JSValueMakeUndefined(ctx);
}

void js_native_subs_end(struct js_runtime *rt)
{
    struct buf err = BUF_INIT(4096);
    while (rt->sub_depth > 0)
        if (sub_end(rt, 0, &err) < 0) /* the transaction is poisoned: it cannot commit */
            buf_reset(&err);
    buf_release(&err);
}

/* native.checkReturns(path, resultJson): throws ReturnsValidationError when the result of the
 * nested call `path` does not match its `returns` validator. */
static JSValueRef n_check_returns(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                  const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (name_arg(ctx, argc, argv, 0, &rt->s1, "function path", exc) < 0 ||
        str_arg(ctx, argc, argv, 1, &rt->s2, "result", exc) < 0)
        return JSValueMakeUndefined(ctx);
    const struct js_fn_entry *e = js_find_entry(rt, rt->s1.data);
    buf_reset(&rt->s3);
    if (e && js_check_returns(rt, &e->pub, rt->s2.data, rt->s2.len, &rt->s3) < 0)
        *exc = js_make_error(ctx, "ReturnsValidationError", rt->s3.data);
    return JSValueMakeUndefined(ctx);
}

/* native.opStart(token, JS_OP_REMOTE, kind, path, argsJson[, identityJson]) or
 * native.opStart(token, JS_OP_FETCH, method, url, headersJson, body, redirect, timeoutMs) or
 * native.opStart(token, JS_OP_STREAM, kind, headJson | Uint8Array | undefined) or
 * native.opStart(token, JS_OP_FETCH_BODY, bodyId, close):
 * hands an operation of the running async action to the host (exec.c); its answer comes back
 * through the prelude's settle(token, ...). Throws when the host refuses it. */
static JSValueRef n_op_start(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (argc < 4)
        return throwf(ctx, exc, "InvalidArgument", "opStart: missing arguments");
    uint32_t token = (uint32_t)JSValueToNumber(ctx, argv[0], NULL);
    struct js_op op = { .type = (enum js_op_type)(int)JSValueToNumber(ctx, argv[1], NULL) };
    struct buf b1 = BUF_INIT(JS_VALUE_MAX), b2 = BUF_INIT(JS_VALUE_MAX),
               b3 = BUF_INIT(JS_VALUE_MAX), err = BUF_INIT(4096);
    if (op.type == JS_OP_REMOTE && argc >= 5) {
        op.kind = (enum js_fn_kind)(int)JSValueToNumber(ctx, argv[2], NULL);
        if (str_arg(ctx, argc, argv, 3, &b1, "function path", exc) < 0 ||
            str_arg(ctx, argc, argv, 4, &b2, "arguments", exc) < 0)
            goto out;
        op.path = b1.data;
        op.args = b2.data;
        op.len = b2.len;
        if (argc > 5 && JSValueIsString(ctx, argv[5])) { /* the action's identity */
            if (str_arg(ctx, argc, argv, 5, &b3, "identity", exc) < 0)
                goto out;
            op.identity = b3.data;
        }
        op.request = rt->turn ? js_exec_request(rt->turn) : NULL; /* the action's, passed on */
    } else if (op.type == JS_OP_FETCH && argc >= 8) {
        if (str_arg(ctx, argc, argv, 2, &b1, "method", exc) < 0 ||
            str_arg(ctx, argc, argv, 3, &b2, "url", exc) < 0 ||
            str_arg(ctx, argc, argv, 4, &b3, "headers", exc) < 0)
            goto out;
        op.method = b1.data;
        op.url = b2.data;
        op.headers = b3.data;
        if (JSValueIsObject(ctx, argv[5]) &&
            !(op.body = (const char *)js_u8_bytes(ctx, argv[5], &op.body_len)))
            op.body = "";
        op.redirect = (int)JSValueToNumber(ctx, argv[6], NULL);
        double t = JSValueToNumber(ctx, argv[7], NULL);
        op.timeout_ms = t > 0 && t < 4294967295.0 ? (uint32_t)t : 0;
    } else if (op.type == JS_OP_STREAM && argc >= 4) {
        op.stream_kind = (enum js_stream_kind)(int)JSValueToNumber(ctx, argv[2], NULL);
        if (op.stream_kind == JS_STREAM_HEAD) {
            if (str_arg(ctx, argc, argv, 3, &b1, "response head", exc) < 0)
                goto out;
            op.body = b1.data;
            op.body_len = b1.len;
        } else if (op.stream_kind == JS_STREAM_CHUNK && JSValueIsObject(ctx, argv[3])) {
            if (!(op.body = (const char *)js_u8_bytes(ctx, argv[3], &op.body_len)))
                op.body = "";
        } else if (op.stream_kind != JS_STREAM_WATCH) {
            throwf(ctx, exc, "InvalidArgument", "opStart: malformed stream operation");
            goto out;
        }
    } else if (op.type == JS_OP_FETCH_BODY) {
        double id = JSValueToNumber(ctx, argv[2], NULL);
        if (!(id >= 1 && id <= UINT32_MAX)) {
            throwf(ctx, exc, "InvalidArgument", "opStart: malformed body operation");
            goto out;
        }
        op.body_id = (uint32_t)id;
        op.body_close = JSValueToBoolean(ctx, argv[3]);
    } else {
        throwf(ctx, exc, "InvalidArgument", "opStart: unknown operation");
        goto out;
    }
    if (!rt->turn && rt->actor_host && op.type == JS_OP_FETCH) { /* an actor method's */
        if (rt->actor_host->op(rt->actor_host_arg, token, &op, &err) < 0)
            *exc = js_make_error(ctx, "OperationRefused", err.data ? err.data : "refused");
    } else if (js_exec_op(rt, token, &op, &err) < 0) {
        *exc = js_make_error(ctx, "OperationRefused", err.data ? err.data : "refused");
    }
out:
    buf_release(&b1);
    buf_release(&b2);
    buf_release(&b3);
    buf_release(&err);
    return JSValueMakeUndefined(ctx);
}

/* native.overLimit(): whether the running call has used its CPU limit, or is asked to stop (the
 * server shutting down), asked by the prelude's roundsWatch (50_functions.js) every so many
 * rounds of the microtask queue. CPU is counted from the first ask (one system call per ask; a
 * call that is asked at all has already run many rounds); past the limit the next watchdog tick
 * stops the call (runtime.c on_time_limit). */
static JSValueRef n_over_limit(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    double now = js_thread_cpu_ms();
    if (!rt->rounds_cpu0)
        rt->rounds_cpu0 = now;
    else if (rt->limit_ms && now - rt->rounds_cpu0 >= rt->limit_ms)
        rt->rounds_over = 1;
    if (js_stop_requested(rt))
        rt->rounds_over = 1; /* on_time_limit then reports the stop */
    return JSValueMakeBoolean(ctx, rt->rounds_over);
}

/* native.vmReads(): JSC's VM entries on this thread so far (jsc_clock.h), or -1 when they cannot
 * be counted; roundsWatch compares two answers to see whether any job but itself ran. */
static JSValueRef n_vm_reads(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    /* the count goes back in native.params (JSValueMakeNumber would take the VM lock) */
    rt->params[JS_PARAM_VM_READS] = rt->entries_counted ? (double)jsc_clock_reads() : -1;
    return NULL;
}

/* native.opCancel(token): the operation is no longer awaited. */
static JSValueRef n_op_cancel(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    if (argc > 0 && !rt->turn && rt->actor_host)
        rt->actor_host->cancel(rt->actor_host_arg, (uint32_t)JSValueToNumber(ctx, argv[0], NULL));
    else if (argc > 0)
        js_exec_op_cancel(rt, (uint32_t)JSValueToNumber(ctx, argv[0], NULL));
    return JSValueMakeUndefined(ctx);
}

/* native.opTake(token): the answer of an actor method's fetch, [ok, [strings], ArrayBuffer or
 * undefined], or undefined when it has none (js_actor_host.take). */
static JSValueRef n_op_take(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                            const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_of(ctx, self);
    RT_OR_THROW(rt);
    int ok = 0;
    const char *const *strs = NULL;
    size_t n = 0, len = 0;
    const void *body = NULL;
    if (argc < 1 || !rt->actor_host ||
        rt->actor_host->take(rt->actor_host_arg, (uint32_t)JSValueToNumber(ctx, argv[0], NULL),
                             &ok, &strs, &n, &body, &len) < 0)
        return JSValueMakeUndefined(ctx);
    JSValueRef out[3];
    js_op_answer(ctx, ok, strs, n, body, len, out);
    return JSObjectMakeArray(ctx, 3, out, NULL);
}

void js_native_add_fns(JSContextRef ctx, JSObjectRef native, const struct js_native_fn *fns,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JSStringRef name = JSStringCreateWithUTF8CString(fns[i].name);
        JSObjectRef f = JSObjectMakeFunctionWithCallback(ctx, name, fns[i].fn);
        JSObjectSetProperty(ctx, native, name, f, kJSPropertyAttributeReadOnly, NULL);
        JSStringRelease(name);
    }
}

JSObjectRef js_native_make(struct js_runtime *rt)
{
    static const struct js_native_fn fns[] = {
        {"get", n_get},
        {"scanOpen", n_scan_open},
        {"scanNext", n_scan_next},
        {"scanFirst", n_scan_first},
        {"scanClose", n_scan_close},
        {"search", n_search},
        {"vectorSearch", n_vector_search},
        {"scanCursor", n_scan_cursor},
        {"insert", n_insert},
        {"patch", n_patch},
        {"replace", n_replace},
        {"del", n_del},
        {"idTable", n_id_table},
        {"log", n_log},
        {"done", n_done},
        {"nestedBegin", n_nested_begin},
        {"nestedEnd", n_nested_end},
        {"subBegin", n_sub_begin},
        {"subEnd", n_sub_end},
        {"opStart", n_op_start},
        {"opCancel", n_op_cancel},
        {"overLimit", n_over_limit},
        {"vmReads", n_vm_reads},
        {"opTake", n_op_take},
        {"checkReturns", n_check_returns},
        {"schedule", n_schedule},
        {"actorSave", n_actor_save},
        {"actorOut", n_actor_out},
        {"actorEnd", n_actor_end},
        {"actorDelete", n_actor_delete},
        {"validate", n_validate},
        {"cancelJob", n_cancel_job},
    };
    pthread_once(&native_class_once, native_class_create);
    JSObjectRef obj = JSObjectMake(rt->ctx, native_class, rt);
    js_native_add_fns(rt->ctx, obj, fns, sizeof fns / sizeof fns[0]);
    JSObjectRef params = JSObjectMakeTypedArrayWithBytesNoCopy(
        rt->ctx, kJSTypedArrayTypeFloat64Array, rt->params, sizeof(rt->params), NULL, NULL, NULL);
    JSStringRef pn = JSStringCreateWithUTF8CString("params");
    JSObjectSetProperty(rt->ctx, obj, pn, params, kJSPropertyAttributeReadOnly, NULL);
    JSStringRelease(pn);
    js_native_crypto_add(rt->ctx, obj);
    js_native_pkey_add(rt->ctx, obj);
    js_native_polyfill_add(rt->ctx, obj);
    js_native_storage_add(rt->ctx, obj);
    js_native_meta_add(rt->ctx, obj);
    JSStringRef rn = JSStringCreateWithUTF8CString("remote"); /* an action worker's runtime */
    JSObjectSetProperty(rt->ctx, obj, rn, JSValueMakeBoolean(rt->ctx, rt->store == NULL),
                        kJSPropertyAttributeReadOnly, NULL);
    JSStringRelease(rn);
    return obj;
}
