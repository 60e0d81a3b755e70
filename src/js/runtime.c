/* runtime: one JavaScriptCore context per app. Loading evaluates the prelude and the bundle, then
 * asks the prelude for the registered functions and the schema; calls hand a protected handler
 * to the prelude's `run` entry point inside a store transaction and collect the outcome that
 * `native.done` reports. Invariant: outside js_call no transaction or cursor is open, and every
 * JS value kept in C is protected until js_runtime_free. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "js/js_int.h"
#include "js/jsc_clock.h"
#include "js/jsc_heap.h"
#include "store/validator.h"
#include "store/value.h"

#include "base/banned.h"

extern const char vr_prelude_js[];
extern const size_t vr_prelude_js_len;

#define PRELUDE_URL "vireo:prelude"
#ifndef JS_LOAD_LIMIT_S
#define JS_LOAD_LIMIT_S 10.0 /* CPU limit for the bundle's top-level code */
#endif
/* The watchdog fires every JS_TICK_MS of a call's time in one VM entry (wall time: jsc_clock.h),
 * or at the limit if sooner; each tick compares the call's CPU time with its limit and checks the
 * heap against the memory limit. (A later first tick would save CPU — every firing of JSC's
 * watchdog timer is a VM trap that sends the running functions back to the JIT: 250 ms gave -9 %
 * server CPU per mutation — but it checked the memory limit too late: a query allocating fast
 * under a 300 ms limit reached the time limit first; docs/benchmarks.md "Mutation path".) */
#define JS_TICK_MS 50u
/* After a call that left the heap this much larger than before, collect and trim at once. */
#define JS_RECLAIM_BYTES (64.0 * 1024 * 1024)

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

/* Process-wide JavaScriptCore options, set once before the first VM exists. Polling traps: by
 * default JSC stops running code with signals (a thread suspends the mutator and patches the
 * optimized code's invalidation points), but DFG/FTL code of a tight loop keeps no invalidation
 * point inside the loop, so once the top tier compiles `while (true) {}` the time limit never
 * fires again. With polling traps every loop back-edge tests a flag (one load and branch).
 * No FTL, JSC's top tier (`JSC_useFTLJIT=true` in the environment brings it back): every firing
 * of the watchdog's timer is a trap, and handling a trap throws away the optimized code on the
 * stack, so under a stream of calls the hot functions were compiled again ~20 times a second —
 * 20-35 % of the server's CPU went to the JIT thread, most of it FTL compiles. Without FTL:
 * 12-19 % less server CPU per mutation or actor call, and long CPU-bound loops ~4 % slower
 * (docs/benchmarks.md, "The watchdog's JIT churn"). */
static void engine_init(void)
{
    if (!jsc_options_set_boolean("usePollingTraps", 1))
        vr_log(LOG_WARN, "js",
               "cannot enable JavaScriptCore polling traps: runaway loops in "
               "optimized code may ignore the time limit");
    if (!getenv("JSC_useFTLJIT") && !jsc_options_set_boolean("useFTLJIT", 0))
        vr_log(LOG_WARN, "js", "cannot turn JavaScriptCore's FTL tier off");
    jsc_clock_init();
}

static JSValueRef eval(struct js_runtime *rt, const char *src, const char *url);

/* Whether this runtime's VM entries are counted (jsc_clock.h): three microtask jobs must show as
 * three more reads of the CPU clock by the watchdog (a time limit is set). Without the count the
 * prelude's watch keeps its narrower rule (50_functions.js roundsWatch). */
static int probe_entries(struct js_runtime *rt)
{
    static int warned;
    uint64_t before = jsc_clock_reads();
    int ok = jsc_clock_active() &&
             !eval(rt, "Promise.resolve().then(() => 0).then(() => 0).then(() => 0);",
                   "vireo:probe") &&
             jsc_clock_reads() - before >= 3;
    if (!ok && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        vr_log(LOG_WARN, "js",
               "JavaScriptCore's VM entries cannot be counted (its CPU clock reader was not "
               "found): an action, or an actor method waiting for a timer, that loops over "
               "awaits is not stopped by its time limit");
    return ok;
}

static JSStringRef str_new(const char *s)
{
    return JSStringCreateWithUTF8CString(s);
}

static JSValueRef get_prop(JSContextRef ctx, JSObjectRef obj, const char *name)
{
    JSStringRef k = str_new(name);
    JSValueRef v = JSObjectGetProperty(ctx, obj, k, NULL);
    JSStringRelease(k);
    return v;
}

static void set_prop(JSContextRef ctx, JSObjectRef obj, const char *name, JSValueRef v)
{
    JSStringRef k = str_new(name);
    JSObjectSetProperty(ctx, obj, k, v, kJSPropertyAttributeNone, NULL);
    JSStringRelease(k);
}

static void del_prop(JSContextRef ctx, JSObjectRef obj, const char *name)
{
    JSStringRef k = str_new(name);
    JSObjectDeleteProperty(ctx, obj, k, NULL);
    JSStringRelease(k);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

const struct js_fn_entry *js_find_entry(const struct js_runtime *rt, const char *path)
{
    if (!rt->nslots)
        return NULL;
    size_t mask = rt->nslots - 1;
    for (size_t i = hash_str(path) & mask;; i = (i + 1) & mask) {
        uint32_t s = rt->slots[i];
        if (!s)
            return NULL;
        if (!strcmp(rt->fns[s - 1].pub.path, path))
            return &rt->fns[s - 1];
    }
}

const struct js_function *js_runtime_find(const struct js_runtime *rt, const char *path)
{
    const struct js_fn_entry *e = js_find_entry(rt, path);
    return e ? &e->pub : NULL;
}

size_t js_runtime_function_count(const struct js_runtime *rt)
{
    return rt->nfns;
}

size_t js_runtime_app_function_count(const struct js_runtime *rt)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->nfns; i++)
        n += strncmp(rt->fns[i].pub.path, "_system/", 8) != 0;
    return n;
}

const json_t *js_runtime_http_routes(const struct js_runtime *rt)
{
    return rt->http_routes;
}

const struct js_function *js_runtime_function_at(const struct js_runtime *rt, size_t i)
{
    return i < rt->nfns ? &rt->fns[i].pub : NULL;
}

void js_runtime_set_log(struct js_runtime *rt, js_log_fn fn, void *arg)
{
    rt->log_fn = fn;
    rt->log_arg = arg;
}

static const char *id_table(void *arg, const char *id, size_t len)
{
    return store_id_table(arg, id, len);
}

/* How deeply arrays and objects nest in JSON text (strings skipped). Without any "$ wrapper in
 * the text this is the value's depth as value_check counts it; a wrapper can only add one. */
static int json_text_depth(const char *p, size_t len)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max)
                max = depth;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return max;
}

int js_validate_args(struct js_runtime *rt, const struct js_function *fn, const char *args,
                     size_t len, const json_t *parsed, struct buf *err)
{
    size_t i = 0;
    while (i < len && (args[i] == ' ' || args[i] == '\t' || args[i] == '\n' || args[i] == '\r'))
        i++;
    if (i == len || args[i] != '{') {
        buf_append_str(err, "arguments must be an object");
        return -1;
    }
    /* without a validator, still refuse malformed "$integer"/"$float"/"$bytes" wrappers here
     * (a 400), not when the prelude decodes them, nor values nested too deeply; only text
     * holding "$ or nested that deep needs a look */
    if (!fn->args && !parsed && !memmem(args, len, "\"$", 2) &&
        json_text_depth(args, len) <= VALUE_MAX_DEPTH)
        return 0;
    json_t *v = (json_t *)parsed;
    if (!v) {
        json_error_t jerr;
        v = json_loadb(args, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
        if (!v) {
            buf_appendf(err, "arguments are not valid JSON: %s", jerr.text);
            return -1;
        }
    }
    /* without a store (an action worker) ids are checked as strings only */
    struct validator_ctx vctx = { .what = "argument", .id_table = rt->store ? id_table : NULL,
                                  .id_table_arg = rt->store };
    /* a validator does not look inside v.any(): the value check runs after it too. Worded as
     * Convex's backend words it ("Object is missing the required field `x`. ...") */
    const struct validator *av = ((const struct js_fn_entry *)fn)->args_v;
    int rc = av ? validator_check_convex_compiled(&vctx, av, v, err) : 0;
    if (rc >= 0)
        rc = value_check(v, "argument", err);
    if (v != parsed)
        json_decref(v);
    return rc < 0 ? -1 : 0;
}

int js_check_returns(struct js_runtime *rt, const struct js_function *fn, const char *value,
                     size_t len, struct buf *err)
{
    if (!fn->returns)
        return 0;
    json_error_t jerr;
    json_t *v = json_loadb(value, len, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                          &jerr);
    if (!v) {
        buf_appendf(err, "ReturnsValidationError: the result is not valid JSON: %s\nFunction: %s",
                    jerr.text, fn->path);
        return -1;
    }
    struct validator_ctx vctx = { .what = "field", .id_table = rt->store ? id_table : NULL,
                                  .id_table_arg = rt->store };
    struct buf msg = BUF_INIT(64 * 1024);
    int rc = validator_check_convex_compiled(&vctx, ((const struct js_fn_entry *)fn)->returns_v,
                                             v, &msg);
    if (rc < 0)
        buf_appendf(err, "ReturnsValidationError: %s\nFunction: %s", msg.data, fn->path);
    buf_release(&msg);
    json_decref(v);
    return rc < 0 ? -1 : 0;
}

void js_result_init(struct js_result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->value, JS_VALUE_MAX);
    buf_init(&r->error, 64 * 1024);
    buf_init(&r->error_code, 256);
    buf_init(&r->error_data, JS_VALUE_MAX);
    buf_init(&r->error_name, 256);
    buf_init(&r->log_lines, JS_LOG_MAX_BYTES + 1024);
    buf_init(&r->journal, JS_JOURNAL_MAX);
}

static void log_put(struct js_result *r, const char *p, size_t n, const char *tail)
{
    size_t tn = tail ? strlen(tail) : 0;
    uint32_t len = (uint32_t)(n + tn);
    /* log_lines' max leaves room for the notice past JS_LOG_MAX_BYTES: this cannot fail */
    buf_append(&r->log_lines, &len, sizeof len);
    buf_append(&r->log_lines, p, n);
    if (tn)
        buf_append(&r->log_lines, tail, tn);
    r->log_count++;
}

void js_result_add_log(struct js_result *r, const char *line, size_t len)
{
    if (r->log_full)
        return;
    const char *tail = NULL;
    if (len > JS_LOG_MAX_LINE_BYTES) {
        len = JS_LOG_MAX_LINE_BYTES;
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80)
            len--; /* cut before a continuation byte: on a character boundary */
        tail = " (truncated due to length)";
    }
    size_t need = sizeof(uint32_t) + len + (tail ? strlen(tail) : 0);
    if (r->log_count + 1 >= JS_LOG_MAX_LINES || r->log_lines.len + need > JS_LOG_MAX_BYTES) {
        char notice[128];
        int n = r->log_count + 1 >= JS_LOG_MAX_LINES
                    ? snprintf(notice, sizeof notice,
                               "[ERROR] Log overflow (maximum %d). Remaining log lines omitted.",
                               JS_LOG_MAX_LINES)
                    : snprintf(notice, sizeof notice,
                               "[ERROR] Log overflow (maximum %u bytes). Remaining log lines "
                               "omitted.",
                               JS_LOG_MAX_BYTES);
        log_put(r, notice, (size_t)n, NULL);
        r->log_full = 1;
        return;
    }
    log_put(r, line, len, tail);
}

void js_result_log_json(const struct js_result *r, struct buf *out)
{
    buf_append_byte(out, '[');
    size_t off = 0;
    for (uint32_t i = 0; i < r->log_count && off + sizeof(uint32_t) <= r->log_lines.len; i++) {
        uint32_t len;
        memcpy(&len, r->log_lines.data + off, sizeof len);
        off += sizeof len;
        if (i)
            buf_append_byte(out, ',');
        buf_append_json_str(out, r->log_lines.data + off, len);
        off += len;
    }
    buf_append_byte(out, ']');
}

void js_result_reset(struct js_result *res)
{
    buf_reset(&res->value);
    buf_reset(&res->error);
    buf_reset(&res->error_code);
    buf_reset(&res->error_data);
    buf_reset(&res->error_name);
    buf_reset(&res->log_lines);
    buf_reset(&res->journal);
    res->log_count = 0;
    res->log_full = 0;
    res->not_run = 0;
    if (res->txn)
        store_txn_free(res->txn);
    res->txn = NULL;
    res->status = JS_ERR_INTERNAL;
    res->version = 0;
    res->paginated = 0;
}

void js_result_release(struct js_result *r)
{
    buf_release(&r->value);
    buf_release(&r->error);
    buf_release(&r->error_code);
    buf_release(&r->error_data);
    buf_release(&r->error_name);
    buf_release(&r->log_lines);
    buf_release(&r->journal);
    r->log_count = 0;
    r->log_full = 0;
    if (r->txn)
        store_txn_free(r->txn);
    r->txn = NULL;
}

static int vlq_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* One base64 VLQ number of a source map's "mappings"; advances *p. */
static int vlq_next(const char **p, const char *end, long *out)
{
    unsigned long v = 0;
    for (int shift = 0; *p < end && shift < 60; shift += 5) {
        int d = vlq_digit(*(*p)++);
        if (d < 0)
            return -1;
        v |= (unsigned long)(d & 31) << shift;
        if (!(d & 32)) {
            *out = (v & 1) ? -(long)(v >> 1) : (long)(v >> 1);
            return 0;
        }
    }
    return -1;
}

/* The bundle's inline source map (esbuild --sourcemap=inline: a last line
 * "//# sourceMappingURL=data:application/json;base64,..."), without its sourcesContent; NULL if
 * there is none. */
static json_t *source_map_load(const char *bundle, size_t len)
{
    static const char tag[] = "//# sourceMappingURL=data:application/json;base64,";
    const char *m = NULL;
    for (const char *p = bundle; (p = memmem(p, len - (size_t)(p - bundle), tag, sizeof tag - 1));
         p++)
        m = p;
    if (!m)
        return NULL;
    m += sizeof tag - 1;
    size_t n = 0;
    while (m + n < bundle + len && (vlq_digit(m[n]) >= 0 || m[n] == '='))
        n++;
    unsigned char *raw = vr_malloc(n / 4 * 3 + 4);
    json_t *map = NULL;
    long dn = base64_decode(raw, m, n);
    if (dn > 0 && (map = json_loadb((char *)raw, (size_t)dn, 0, NULL))) {
        json_object_del(map, "sourcesContent");
        json_object_del(map, "names");
        if (!json_is_array(json_object_get(map, "sources")) ||
            !json_is_string(json_object_get(map, "mappings"))) {
            json_decref(map);
            map = NULL;
        }
    }
    vr_free(raw);
    return map;
}

/* Maps bundle line:col (1-based) to "file:line" through a map from source_map_load. Sources are
 * relative to the bundle's folder (.vireo/): leading "../" are dropped. 0 when mapped. */
static int source_map_find(const json_t *map, long line, long col, struct buf *out)
{
    json_t *sources = json_object_get(map, "sources");
    const char *mp = json_string_value(json_object_get(map, "mappings"));
    if (!json_is_array(sources) || !mp || line < 1)
        return -1;
    const char *end = mp + strlen(mp);
    long src = 0, sline = 0, scol = 0, name = 0, best_src = -1, best_line = -1;
    for (long l = 1; mp < end && l <= line; l++) {
        long gcol = 0, first_src = -1, first_line = -1;
        while (mp < end && *mp != ';') {
            long d;
            int fields = 0;
            if (vlq_next(&mp, end, &d) < 0)
                return -1;
            gcol += d;
            fields = 1;
            while (mp < end && *mp != ',' && *mp != ';') {
                if (vlq_next(&mp, end, &d) < 0)
                    return -1;
                if (fields == 1)
                    src += d;
                else if (fields == 2)
                    sline += d;
                else if (fields == 3)
                    scol += d;
                else
                    name += d;
                fields++;
            }
            if (l == line && fields >= 4) {
                if (first_src < 0)
                    first_src = src, first_line = sline;
                if (gcol <= col - 1 || best_src < 0)
                    best_src = src, best_line = sline;
            }
            if (mp < end && *mp == ',')
                mp++;
        }
        if (l == line && best_src < 0)
            best_src = first_src, best_line = first_line;
        if (mp < end)
            mp++; /* ';' */
    }
    const char *file = json_string_value(json_array_get(sources, (size_t)best_src));
    if (best_src < 0 || !file)
        return -1;
    while (!strncmp(file, "../", 3))
        file += 3;
    buf_appendf(out, "%s:%ld", file, best_line + 1);
    return 0;
}

static int source_map_lookup(const char *bundle, size_t len, long line, long col, struct buf *out)
{
    json_t *map = source_map_load(bundle, len);
    int rc = map ? source_map_find(map, line, col, out) : -1;
    json_decref(map);
    return rc;
}

int js_map_positions(const struct js_runtime *rt, const char *in, size_t len, struct buf *out)
{
    size_t nl = rt->bundle_name ? strlen(rt->bundle_name) : 0;
    if (!rt->srcmap || !nl || !memmem(in, len, rt->bundle_name, nl))
        return 0;
    struct buf pos = BUF_INIT(4096);
    const char *p = in, *end = in + len;
    int mapped = 0;
    buf_reset(out);
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), rt->bundle_name, nl);
        if (!hit) {
            buf_append(out, p, (size_t)(end - p));
            break;
        }
        const char *q = hit + nl;
        long line = -1, col = 0;
        if (q + 1 < end && *q == ':' && q[1] >= '0' && q[1] <= '9') {
            line = 0;
            for (q++; q < end && *q >= '0' && *q <= '9' && line < 100000000; q++)
                line = line * 10 + (*q - '0');
            if (q + 1 < end && *q == ':' && q[1] >= '0' && q[1] <= '9')
                for (q++; q < end && *q >= '0' && *q <= '9' && col < 100000000; q++)
                    col = col * 10 + (*q - '0');
        }
        buf_reset(&pos);
        if (line > 0 && source_map_find(rt->srcmap, line, col, &pos) == 0) {
            buf_append(out, p, (size_t)(hit - p));
            buf_append(out, pos.data, pos.len);
            mapped = 1;
            p = q;
        } else {
            buf_append(out, p, (size_t)(hit + nl - p));
            p = hit + nl;
        }
    }
    buf_release(&pos);
    return mapped;
}

/* "Name: message" of an exception, plus where it happened in the bundle. */
static void describe_exception(struct js_runtime *rt, JSValueRef exc, const char *bundle,
                               size_t len, const char *bundle_name, struct buf *err)
{
    JSContextRef ctx = rt->ctx;
    struct buf msg = BUF_INIT(64 * 1024), tmp = BUF_INIT(1 << 20);
    JSValueRef ignored = NULL;
    long line = -1, col = 0;
    js_to_buf(ctx, exc, &msg, &ignored);
    if (JSValueIsObject(ctx, exc)) {
        JSObjectRef o = (JSObjectRef)exc;
        JSValueRef url = get_prop(ctx, o, "sourceURL");
        JSValueRef ln = get_prop(ctx, o, "line");
        JSValueRef cn = get_prop(ctx, o, "column");
        if (JSValueIsString(ctx, url) && js_to_buf(ctx, url, &tmp, &ignored) == 0 &&
            !strcmp(tmp.data, bundle_name) && JSValueIsNumber(ctx, ln)) {
            line = (long)JSValueToNumber(ctx, ln, NULL);
            col = JSValueIsNumber(ctx, cn) ? (long)JSValueToNumber(ctx, cn, NULL) : 0;
        }
        /* thrown from inside the prelude (e.g. defineTable): find the bundle's frame */
        JSValueRef st = get_prop(ctx, o, "stack");
        if (line < 0 && JSValueIsString(ctx, st) && js_to_buf(ctx, st, &tmp, &ignored) == 0) {
            size_t nl = strlen(bundle_name);
            for (const char *p = tmp.data; (p = strstr(p, bundle_name)); p += nl) {
                if (p[nl] == ':' && p[nl + 1] >= '0' && p[nl + 1] <= '9') {
                    char *e;
                    line = strtol(p + nl + 1, &e, 10);
                    col = *e == ':' ? strtol(e + 1, NULL, 10) : 0;
                    break;
                }
            }
        }
    }
    if (line < 0) {
        buf_appendf(err, "%s: %s", bundle_name, msg.data);
        goto out;
    }
    buf_reset(&tmp);
    if (source_map_lookup(bundle, len, line, col, &tmp) == 0) {
        buf_appendf(err, "%s: %s", tmp.data, msg.data);
        goto out;
    }
    /* esbuild writes "// path/to/file.ts" before each module's code */
    const char *file = NULL;
    size_t file_len = 0;
    long cur = 1;
    for (size_t i = 0; i < len && cur < line; cur++) {
        size_t j = i;
        while (j < len && bundle[j] != '\n')
            j++;
        size_t k = i;
        while (k < j && (bundle[k] == ' ' || bundle[k] == '\t'))
            k++;
        if (j - k > 3 && bundle[k] == '/' && bundle[k + 1] == '/' && bundle[k + 2] == ' ') {
            const char *p = bundle + k + 3;
            size_t n = j - k - 3;
            while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
                n--;
            const char *dot = memrchr(p, '.', n);
            if (n && !memchr(p, ' ', n) && dot && dot > p && n - (size_t)(dot - p) <= 5)
                file = p, file_len = n;
        }
        i = j + 1;
    }
    if (file)
        buf_appendf(err, "%.*s (bundle line %ld): %s", (int)file_len, file, line, msg.data);
    else
        buf_appendf(err, "%s:%ld: %s", bundle_name, line, msg.data);
out:
    buf_release(&msg);
    buf_release(&tmp);
}

/* splitmix64 over a random start: a fresh Math.random seed per execution without a syscall */
static uint64_t next_seed(struct js_runtime *rt)
{
    uint64_t z = (rt->seed_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double js_thread_cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int js_time_nearly_up(const struct js_runtime *rt)
{
    return rt->limit_ms &&
           js_thread_cpu_ms() - rt->cpu_start >= (double)rt->limit_ms - (double)JS_TICK_MS;
}

/* One watchdog tick: stop the execution past its CPU or memory limit, else re-arm. The heap is
 * measured at most every so many ticks that measuring costs under a tenth of the CPU time
 * (JSGetMemoryUsageStatistics walks the heap: ~30 ns per object). */
static bool on_time_limit(JSContextRef ctx, void *arg)
{
    struct js_runtime *rt = arg;
    if (js_stop_requested(rt)) {
        rt->timed_out = rt->stopped = 1; /* the action pool is shutting down */
        return true;
    }
    if (rt->rounds_over) { /* an await-sliced runaway, spinning in the prelude's roundsWatch */
        rt->timed_out = 1;
        return true;
    }
    double now = js_thread_cpu_ms();
    if (rt->ticks++ == 0)
        rt->next_heap_tick = 1 + (uint32_t)(rt->heap_cost_ms * 10 / (rt->limit_s * 1000));
    double tick_ms = rt->limit_s * 1000;
    if (now - rt->cpu_start >= rt->limit_ms - 0.5) {
        rt->timed_out = 1;
        return true;
    }
    if (rt->opts.memory_limit_mb && rt->ticks >= rt->next_heap_tick) {
        double limit = (double)rt->opts.memory_limit_mb * 1024 * 1024;
        /* JSC's heap size moves only when it collects, after the heap has about doubled: a
         * young collection brings it up to date with what the call holds */
        JSSynchronousEdenCollectForDebugging(ctx);
        rt->last_heap = jsc_heap_bytes(ctx);
        /* what the regular check costs (the full collection below happens once, at the end) */
        rt->heap_cost_ms = js_thread_cpu_ms() - now;
        if (rt->last_heap > limit) { /* not what earlier calls left behind */
            JSSynchronousGarbageCollectForDebugging(ctx);
            rt->last_heap = jsc_heap_bytes(ctx);
        }
        rt->next_heap_tick = rt->ticks + 1 + (uint32_t)(rt->heap_cost_ms * 10 / tick_ms);
        if (rt->last_heap > limit) {
            rt->timed_out = rt->over_memory = 1;
            return true;
        }
    }
    JSContextGroupSetExecutionTimeLimit(rt->group, rt->limit_s, on_time_limit, rt);
    return false;
}

/* The thread CPU time a call starts from. Reading it is a system call (~7 % of the loop thread's
 * CPU under a stream of mutations in this VM), so a reading less than JS_CPU_REF_MS of wall time
 * old, or a sixteenth of the limit, stands in for it: the call's CPU time is then overstated by at
 * most that much (a call is stopped that much early, never late). */
#define JS_CPU_REF_MS 1.0
static double call_cpu_start(uint32_t limit_ms)
{
    static __thread double ref_cpu, ref_wall;
    double wall = (double)clock_mono_ns() / 1e6;
    double age = limit_ms / 16.0 < JS_CPU_REF_MS ? limit_ms / 16.0 : JS_CPU_REF_MS;
    if (!ref_wall || wall - ref_wall > age) {
        ref_cpu = js_thread_cpu_ms();
        ref_wall = wall;
    }
    return ref_cpu;
}

void js_set_limit_ms(struct js_runtime *rt, uint32_t ms)
{
    double s = (ms < JS_TICK_MS ? ms : JS_TICK_MS) / 1000.0;
    rt->limit_ms = ms;
    rt->cpu_start = call_cpu_start(ms); /* on the thread about to run the call */
    rt->ticks = 0;
    rt->rounds_cpu0 = 0;
    rt->rounds_over = 0;
    if (s != rt->limit_s) {
        JSContextGroupSetExecutionTimeLimit(rt->group, s, on_time_limit, rt);
        rt->limit_s = s;
    }
}

static void set_limit(struct js_runtime *rt, enum js_fn_kind kind)
{
    js_set_limit_ms(rt, kind == JS_ACTION ? rt->opts.action_timeout_ms : rt->opts.timeout_ms);
}

static JSValueRef eval(struct js_runtime *rt, const char *src, const char *url)
{
    JSStringRef s = str_new(src);
    JSStringRef u = str_new(url);
    JSValueRef exc = NULL;
    JSEvaluateScript(rt->ctx, s, NULL, u, 1, &exc);
    JSStringRelease(s);
    JSStringRelease(u);
    return exc;
}

/* A string property of load()'s answer, copied into *out (NULL when absent). 0, or -1 with
 * too_large in err. */
static int take_text(struct js_runtime *rt, JSObjectRef info, const char *name, char **out,
                     const char *too_large, struct buf *err)
{
    JSValueRef v = get_prop(rt->ctx, info, name);
    if (!JSValueIsString(rt->ctx, v))
        return 0;
    JSValueRef ignored = NULL;
    struct buf t = BUF_INIT(JS_VALUE_MAX);
    int r = js_to_buf(rt->ctx, v, &t, &ignored);
    if (r == 0)
        *out = vr_strndup(t.data, t.len);
    else
        buf_append_str(err, too_large);
    buf_release(&t);
    return r < 0 ? -1 : 0;
}

static int register_functions(struct js_runtime *rt, JSObjectRef info, struct buf *err)
{
    JSContextRef ctx = rt->ctx;
    JSValueRef ignored = NULL;
    int rc = -1;
    json_t *list = NULL;
    struct buf text = BUF_INIT(JS_VALUE_MAX);
    if (js_to_buf(ctx, get_prop(ctx, info, "functions"), &text, &ignored) < 0) {
        buf_append_str(err, "cannot read the function list");
        goto out;
    }
    json_error_t jerr;
    list = json_loadb(text.data, text.len, JSON_DECODE_INT_AS_REAL, &jerr);
    JSValueRef hv = get_prop(ctx, info, "handlers");
    if (!json_is_array(list) || !JSValueIsObject(ctx, hv)) {
        buf_append_str(err, "malformed function list from the prelude");
        goto out;
    }
    JSObjectRef handlers = (JSObjectRef)hv;
    size_t n = json_array_size(list);
    rt->fns = vr_calloc(n ? n : 1, sizeof(*rt->fns));
    rt->nslots = 16;
    while (rt->nslots < 2 * n)
        rt->nslots *= 2;
    rt->slots = vr_calloc(rt->nslots, sizeof(*rt->slots));
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(list, i);
        const char *path = json_string_value(json_object_get(f, "path"));
        JSValueRef h = JSObjectGetPropertyAtIndex(ctx, handlers, (unsigned)i, NULL);
        if (!path || !JSValueIsObject(ctx, h) || !JSObjectIsFunction(ctx, (JSObjectRef)h)) {
            buf_append_str(err, "malformed function list from the prelude");
            goto out;
        }
        if (js_find_entry(rt, path)) {
            buf_appendf(err, "function `%s` is defined twice", path);
            goto out;
        }
        struct js_fn_entry *e = &rt->fns[rt->nfns];
        e->pub.path = vr_strdup(path);
        e->pub.kind = (enum js_fn_kind)json_number_value(json_object_get(f, "kind"));
        e->pub.internal = json_is_true(json_object_get(f, "internal"));
        json_t *args = json_object_get(f, "args");
        e->pub.args = json_is_object(args) ? json_incref(args) : NULL;
        json_t *returns = json_object_get(f, "returns");
        e->pub.returns = json_is_object(returns) ? json_incref(returns) : NULL;
        e->handler = (JSObjectRef)h;
        JSValueProtect(ctx, h);
        JSStringRef ps = str_new(path);
        e->path_val = JSValueMakeString(ctx, ps);
        JSStringRelease(ps);
        JSValueProtect(ctx, e->path_val);
        rt->nfns++;
        size_t mask = rt->nslots - 1, j = hash_str(path) & mask;
        while (rt->slots[j])
            j = (j + 1) & mask;
        rt->slots[j] = (uint32_t)rt->nfns;
        if (e->pub.args) {
            struct buf verr = BUF_INIT(4096);
            if (validator_check_schema(e->pub.args, &verr) < 0) {
                buf_appendf(err, "function `%s`: bad args validator: %s", path, verr.data);
                buf_release(&verr);
                goto out;
            }
            buf_release(&verr);
        }
        if (e->pub.returns) {
            struct buf verr = BUF_INIT(4096);
            if (validator_check_schema(e->pub.returns, &verr) < 0) {
                buf_appendf(err, "function `%s`: bad returns validator: %s", path, verr.data);
                buf_release(&verr);
                goto out;
            }
            buf_release(&verr);
        }
        e->args_v = e->pub.args ? validator_compile(e->pub.args) : NULL;
        e->returns_v = e->pub.returns ? validator_compile(e->pub.returns) : NULL;
    }
    rc = 0;
out:
    json_decref(list);
    buf_release(&text);
    return rc;
}

int js_runtime_new(struct store *store, const struct js_options *opts, const char *bundle,
                   size_t len, const char *bundle_name, struct js_runtime **out, struct buf *err)
{
    struct js_runtime *rt = vr_calloc(1, sizeof(*rt));
    char *src = NULL;
    int rc = -1;
    JSValueRef exc, ignored = NULL;

    *out = NULL;
    if (!bundle_name)
        bundle_name = "bundle.js";
    rt->store = store;
    rt->seed_state = rand_u64();
    if (opts)
        rt->opts = *opts;
    if (!rt->opts.timeout_ms)
        rt->opts.timeout_ms = 1000;
    if (!rt->opts.action_timeout_ms)
        rt->opts.action_timeout_ms = 600000;
    if (!rt->opts.memory_limit_mb)
        rt->opts.memory_limit_mb = 256;
    buf_init(&rt->s1, JS_VALUE_MAX);
    for (size_t i = 0; i < sizeof rt->save_memo / sizeof rt->save_memo[0]; i++)
        buf_init(&rt->save_memo[i].text, JS_VALUE_MAX);
    buf_init(&rt->save_state, JS_VALUE_MAX);
    buf_init(&rt->s2, JS_VALUE_MAX);
    buf_init(&rt->s3, 64 * 1024);
    buf_init(&rt->schema_text, JS_VALUE_MAX);

    pthread_once(&engine_once, engine_init);
    rt->group = JSContextGroupCreate();
    rt->ctx = JSGlobalContextCreateInGroup(rt->group, NULL);
    rt->undefined_v = JSValueMakeUndefined(rt->ctx);
    rt->null_v = JSValueMakeNull(rt->ctx);
    JSObjectRef global = JSContextGetGlobalObject(rt->ctx);
    js_set_limit_ms(rt, (uint32_t)(JS_LOAD_LIMIT_S * 1000));
    rt->entries_counted = probe_entries(rt);
    jsc_heap_check(rt->ctx); /* before any watchdog tick reads the heap */
    /* the watch's mode (50_functions.js roundsWatch) before any call sets it */
    rt->params[JS_PARAM_VM_READS] = rt->entries_counted ? (double)jsc_clock_reads() : -1;
    rt->params[5] = (double)rt->opts.memory_limit_mb * 1024 * 1024; /* for the prelude's caps */
    /* a worker's or query reader's copy leaves load notices to the shard's */
    rt->params[6] = store && !store_is_reader(store) ? 0 : 1;
    JSObjectRef native = js_native_make(rt);
    if (rt->opts.env_json) {
        JSStringRef es = str_new(rt->opts.env_json);
        set_prop(rt->ctx, native, "env", JSValueMakeString(rt->ctx, es));
        JSStringRelease(es);
    }
    rt->opts.env_json = NULL; /* borrowed for this call only */
    set_prop(rt->ctx, global, "__vr_native", native);
    if ((exc = eval(rt, vr_prelude_js, PRELUDE_URL))) {
        buf_append_str(err, "prelude: ");
        describe_exception(rt, exc, vr_prelude_js, vr_prelude_js_len, PRELUDE_URL, err);
        goto out;
    }
    del_prop(rt->ctx, global, "__vr_native");
    JSValueRef internal = get_prop(rt->ctx, global, "__vr_internal");
    del_prop(rt->ctx, global, "__vr_internal");
    JSValueRef load = JSValueIsObject(rt->ctx, internal)
                          ? get_prop(rt->ctx, (JSObjectRef)internal, "load") : NULL;
    JSValueRef run = JSValueIsObject(rt->ctx, internal)
                         ? get_prop(rt->ctx, (JSObjectRef)internal, "run") : NULL;
    if (!load || !run || !JSValueIsObject(rt->ctx, load) || !JSValueIsObject(rt->ctx, run)) {
        buf_append_str(err, "prelude: entry points missing");
        goto out;
    }
    rt->run_fn = (JSObjectRef)run;
    JSValueProtect(rt->ctx, run);
    JSValueRef timers = get_prop(rt->ctx, (JSObjectRef)internal, "timers");
    if (!JSValueIsObject(rt->ctx, timers)) {
        buf_append_str(err, "prelude: entry points missing");
        goto out;
    }
    rt->timers_fn = (JSObjectRef)timers;
    JSValueProtect(rt->ctx, timers);
    JSValueRef settle = get_prop(rt->ctx, (JSObjectRef)internal, "settle");
    JSValueRef abandon = get_prop(rt->ctx, (JSObjectRef)internal, "abandon");
    if (!JSValueIsObject(rt->ctx, settle) || !JSValueIsObject(rt->ctx, abandon)) {
        buf_append_str(err, "prelude: entry points missing");
        goto out;
    }
    rt->settle_fn = (JSObjectRef)settle;
    JSValueProtect(rt->ctx, settle);
    rt->abandon_fn = (JSObjectRef)abandon;
    JSValueProtect(rt->ctx, abandon);
    JSValueRef undone = get_prop(rt->ctx, (JSObjectRef)internal, "undone");
    if (JSValueIsObject(rt->ctx, undone)) {
        rt->undone_fn = (JSObjectRef)undone;
        JSValueProtect(rt->ctx, undone);
    }

    /* the watch over the jobs the top-level code queued (50_functions.js __vr_watch_load), on
     * lines of its own after the bundle's, which keep their numbers */
    static const char watch_load[] =
        "\n;typeof __vr_watch_load === \"function\" && __vr_watch_load();\n";
    src = vr_malloc(len + sizeof watch_load);
    memcpy(src, bundle, len);
    memcpy(src + len, watch_load, sizeof watch_load);
    rt->bundle_name = vr_strdup(bundle_name);
    rt->srcmap = source_map_load(bundle, len);
    exc = eval(rt, src, bundle_name);
    if (rt->timed_out) /* also stopped in the jobs it left, after the script's own end */
        js_absorb_termination(rt);
    del_prop(rt->ctx, global, "__vr_watch_load");
    if (exc || rt->timed_out) {
        if (rt->over_memory)
            buf_appendf(err, "%s: top-level code exceeded the memory limit of %u MiB",
                        bundle_name, rt->opts.memory_limit_mb);
        else if (rt->timed_out)
            buf_appendf(err, "%s: top-level code ran past the %g s load time limit%s",
                        bundle_name, JS_LOAD_LIMIT_S, rt->rounds_over ? JS_ROUNDS_OVER_TEXT : "");
        else
            describe_exception(rt, exc, bundle, len, bundle_name, err);
        goto out;
    }
    exc = NULL;
    JSValueRef info = JSObjectCallAsFunction(rt->ctx, (JSObjectRef)load, NULL, 0, NULL, &exc);
    if (exc || !info || !JSValueIsObject(rt->ctx, info)) {
        describe_exception(rt, exc ? exc : JSValueMakeUndefined(rt->ctx), bundle, len,
                           bundle_name, err);
        goto out;
    }
    if (register_functions(rt, (JSObjectRef)info, err) < 0)
        goto out;
    JSValueRef hr = get_prop(rt->ctx, (JSObjectRef)info, "httpRoutes");
    if (JSValueIsString(rt->ctx, hr)) { /* http.ts's routes (56_http.js) */
        struct buf t = BUF_INIT(JS_VALUE_MAX);
        json_error_t jerr;
        if (js_to_buf(rt->ctx, hr, &t, &ignored) == 0)
            rt->http_routes = json_loadb(t.data, t.len, 0, &jerr);
        buf_release(&t);
        if (!json_is_array(rt->http_routes)) {
            buf_append_str(err, "malformed HTTP route list from the prelude");
            goto out;
        }
    }
    if (take_text(rt, (JSObjectRef)info, "crons", &rt->crons,
                  "crons.ts: the cron jobs are too large", err) < 0 ||
        take_text(rt, (JSObjectRef)info, "authConfig", &rt->auth_config,
                  "auth.config: the configuration is too large", err) < 0 ||
        take_text(rt, (JSObjectRef)info, "actors", &rt->actors,
                  "actors: the list of actors is too large", err) < 0)
        goto out;
    JSValueRef sv = get_prop(rt->ctx, (JSObjectRef)info, "schema");
    if (JSValueIsString(rt->ctx, sv) &&
        js_to_buf(rt->ctx, sv, &rt->schema_text, &ignored) < 0) {
        buf_append_str(err, "schema is too large");
        goto out;
    }
    if (!store || store_is_reader(store)) {
        buf_release(&rt->schema_text); /* a worker or reader: the shard applied it */
    } else {
        rt->schema_pending = JSValueIsString(rt->ctx, sv) ? 2 : 1;
        if (!rt->opts.defer_schema && js_runtime_apply_schema(rt, err) < 0)
            goto out;
    }
    rc = 0;
out:
    vr_free(src);
    if (rc < 0)
        js_runtime_free(rt);
    else
        *out = rt;
    return rc;
}

int js_runtime_apply_schema(struct js_runtime *rt, struct buf *err)
{
    if (!rt->schema_pending)
        return 0;
    struct buf serr = BUF_INIT(64 * 1024);
    struct buf *t = &rt->schema_text;
    int r = rt->schema_pending == 2 ? store_apply_schema(rt->store, t->data, t->len, &serr)
                                    : store_apply_schema(rt->store, NULL, 0, &serr);
    if (r < 0)
        buf_appendf(err, "schema: %s", serr.data);
    buf_release(&serr);
    buf_release(t);
    rt->schema_pending = 0;
    return r < 0 ? -1 : 0;
}

void js_runtime_free(struct js_runtime *rt)
{
    if (!rt)
        return;
    buf_release(&rt->schema_text);
    for (size_t i = 0; i < rt->nfns; i++) {
        struct js_fn_entry *e = &rt->fns[i];
        JSValueUnprotect(rt->ctx, e->handler);
        JSValueUnprotect(rt->ctx, e->path_val);
        validator_free(e->args_v);
        validator_free(e->returns_v);
        json_decref(e->pub.args);
        json_decref(e->pub.returns);
        vr_free((char *)e->pub.path);
    }
    if (rt->run_fn)
        JSValueUnprotect(rt->ctx, rt->run_fn);
    if (rt->timers_fn)
        JSValueUnprotect(rt->ctx, rt->timers_fn);
    if (rt->settle_fn)
        JSValueUnprotect(rt->ctx, rt->settle_fn);
    if (rt->abandon_fn)
        JSValueUnprotect(rt->ctx, rt->abandon_fn);
    if (rt->undone_fn)
        JSValueUnprotect(rt->ctx, rt->undone_fn);
    for (size_t i = 0; i < sizeof rt->save_memo / sizeof rt->save_memo[0]; i++) {
        if (rt->save_memo[i].v)
            JSValueUnprotect(rt->ctx, rt->save_memo[i].v);
        buf_release(&rt->save_memo[i].text);
    }
    buf_release(&rt->save_state);
    js_actor_saves_release(rt);
    js_exec_free_all(rt);
    vr_free(rt->crons);
    vr_free(rt->auth_config);
    vr_free(rt->actors);
    if (rt->ctx)
        JSGlobalContextRelease(rt->ctx);
    if (rt->group)
        JSContextGroupRelease(rt->group);
    vr_free(rt->fns);
    vr_free(rt->slots);
    buf_release(&rt->s1);
    buf_release(&rt->s2);
    buf_release(&rt->s3);
    vr_free(rt->unlink_ids);
    vr_free(rt->new_files);
    vr_free(rt->batch_unlink);
    vr_free(rt->batch_new);
    json_decref(rt->srcmap);
    json_decref(rt->http_routes);
    vr_free(rt->bundle_name);
    vr_free(rt);
}

static void fail(struct js_result *res, enum js_status st, const char *code, const char *msg)
{
    res->status = st;
    buf_reset(&res->error);
    buf_append_str(&res->error, msg);
    buf_reset(&res->error_code);
    buf_append_str(&res->error_code, code);
    buf_reset(&res->error_name);
}

void js_runtime_set_commit_hook(struct js_runtime *rt, js_commit_fn fn, void *arg)
{
    rt->commit_fn = fn;
    rt->commit_arg = arg;
}

void js_runtime_set_stop_check(struct js_runtime *rt, js_stop_fn fn, void *arg)
{
    rt->stop_fn = fn;
    rt->stop_arg = arg;
    rt->limit_s = -1; /* the next call sets its limit afresh */
}

int js_runtime_check_args(struct js_runtime *rt, const struct js_function *fn, const char *args,
                          size_t len, const json_t *parsed, struct buf *err)
{
    if (!args || !len)
        args = "{}", len = 2;
    return js_validate_args(rt, fn, args, len, parsed, err);
}

void js_absorb_termination(struct js_runtime *rt)
{
    /* a termination that hit during the microtask drain stays pending and would kill the
     * next call: absorb it with no-op evaluations */
    JSStringRef nop = str_new("0");
    for (int i = 0; i < 4; i++) {
        JSValueRef x = NULL;
        JSEvaluateScript(rt->ctx, nop, NULL, NULL, 1, &x);
        if (!x)
            break;
    }
    JSStringRelease(nop);
}

static uint64_t cur_version(const struct js_runtime *rt)
{
    return rt->store ? store_version(rt->store) : 0;
}

const char *js_kind_name(int kind)
{
    return kind == JS_QUERY ? "query" : kind == JS_MUTATION ? "mutation" : "action";
}

void js_udf_path(char *out, size_t n, const char *path, int ext)
{
    const char *colon = strrchr(path, ':');
    size_t mlen = colon ? (size_t)(colon - path) : strlen(path);
    if (mlen > 3 && !memcmp(path + mlen - 3, ".js", 3))
        mlen -= 3;
    snprintf(out, n, "%.*s%s:%s", (int)mlen, path, ext ? ".js" : "", colon ? colon + 1 : "default");
}

void js_not_found_text(struct buf *out, const char *path)
{
    char canon[700];
    js_udf_path(canon, sizeof canon, path, 0);
    buf_appendf(out,
                "Could not find public function for '%s'. Did you forget to run `npx convex dev` "
                "or `npx convex deploy`?",
                canon);
}

void js_wrong_kind_text(struct buf *out, const char *fn_path, int want, int have)
{
    char canon[700];
    js_udf_path(canon, sizeof canon, fn_path, 1);
    buf_appendf(out, "Trying to execute %s as %s, but it is defined as %s.", canon,
                js_kind_title(want), js_kind_title(have));
}

const char *js_kind_title(int kind)
{
    return kind == JS_QUERY ? "Query" : kind == JS_MUTATION ? "Mutation" : "Action";
}

int js_call(struct js_runtime *rt, const struct js_function *fn, const char *args_json,
            size_t len, struct js_result *res)
{
    return js_call_ex(rt, fn, args_json, len, NULL, res);
}

int js_call_ex(struct js_runtime *rt, const struct js_function *fn, const char *args_json,
               size_t len, const struct js_call_opts *opts, struct js_result *res)
{
    const char *idem = (opts && fn->kind == JS_MUTATION) ? opts->idempotency_key : NULL;
    const struct js_fn_entry *e = (const struct js_fn_entry *)fn;
    JSContextRef ctx = rt->ctx;
    struct store_txn *txn = NULL;

    js_result_reset(res);
    if (rt->in_call) {
        fail(res, JS_ERR_INTERNAL, "InternalError", "js_call is not reentrant");
        return -1;
    }
    if (!args_json || !len)
        args_json = "{}", len = 2;
    buf_reset(&rt->s1);
    /* a group of actor calls' text is the server's own (actors.c run_batch: names, numbers and
     * each input as a JSON string, which is all a scan for "$ or for depth could look at) */
    if (!(opts && opts->txn_steps) &&
        js_validate_args(rt, fn, args_json, len, opts ? opts->args_value : NULL, &rt->s1) < 0) {
        res->status = JS_ERR_ARGS;
        buf_append(&res->error, rt->s1.data, rt->s1.len);
        buf_append_str(&res->error_code, "ArgumentValidationError");
        res->version = cur_version(rt);
        return -1;
    }
    if (fn->kind != JS_ACTION && !rt->store) {
        fail(res, JS_ERR_INTERNAL, "InternalError",
             "queries and mutations cannot run on an action worker");
        return -1;
    }
    int journaled = opts && opts->journaled && fn->kind == JS_QUERY;
    const char *journal = journaled && opts->journal && opts->journal_len ? opts->journal : NULL;
    if (journal) {
        /* refused before the run, whether or not this run would paginate */
        buf_reset(&rt->s1);
        if (opts->journal_len > JS_JOURNAL_MAX)
            buf_appendf(&rt->s1,
                        "InvalidCursor: the query journal is %zu bytes, more than the %d a "
                        "journal may hold (it is not one this server issued)",
                        opts->journal_len, JS_JOURNAL_MAX);
        else if (memchr(journal, '\0', opts->journal_len))
            buf_append_str(&rt->s1, "InvalidCursor: the query journal holds U+0000 (it is not "
                                    "one this server issued)");
        if (rt->s1.len ||
            store_page_journal_check(rt->store, journal, opts->journal_len, &rt->s1) < 0) {
            fail(res, JS_ERR_THROWN, "InvalidCursor", rt->s1.data);
            res->version = cur_version(rt);
            return -1;
        }
    }
    if (fn->kind != JS_ACTION) {
        txn = store_txn_begin(rt->store, fn->kind == JS_MUTATION, &res->error);
        if (!txn) {
            res->status = JS_ERR_INTERNAL;
            buf_append_str(&res->error_code, "StoreError");
            return -1;
        }
    }
    if (idem) {
        uint64_t version = 0;
        int found = store_idem_get(txn, idem, strlen(idem), &res->value, &version, &res->error);
        if (found != 0) {
            /* a replay: answer with the first execution's result, run nothing */
            store_txn_abort(txn);
            res->txn = txn;
            res->status = found > 0 ? JS_OK : JS_ERR_INTERNAL;
            res->version = found > 0 ? version : store_version(rt->store);
            if (found < 0)
                buf_append_str(&res->error_code, "StoreError");
            return found > 0 ? 0 : -1;
        }
    }
    buf_reset(&rt->s1);
    if (buf_append(&rt->s1, args_json, len) < 0) {
        fail(res, JS_ERR_ARGS, "ArgumentValidationError", "arguments are too large");
        if (txn) {
            store_txn_abort(txn);
            store_txn_free(txn);
        }
        return -1;
    }
    rt->in_call = 1;
    rt->sched_count = 0;
    rt->sched_bytes = 0;
    rt->n_unlink = 0;
    rt->n_new = 0;
    rt->exec_id++;
    rt->done = 0;
    rt->timed_out = 0;
    rt->stopped = 0;
    rt->over_memory = 0;
    rt->res = res;
    rt->txn = txn;
    rt->top_txn = txn;
    rt->txn_steps = opts && opts->txn_steps && fn->kind == JS_MUTATION;
    rt->request = opts ? opts->request : NULL;
    rt->request_id[0] = '\0';
    set_limit(rt, fn->kind);

    uint64_t seed = next_seed(rt);
    /* numbers travel through the shared Float64Array `native.params`: every JSValueMake* call
     * takes the VM lock, which is costly */
    rt->params[0] = fn->kind;
    rt->params[1] = (uint32_t)seed;
    rt->params[2] = (uint32_t)(seed >> 32);
    rt->params[3] = floor(clock_wall_ms());
    rt->params[4] = rt->exec_id;
    /* run() arms its watch with this count, and the count follows each entry while this call
     * runs (jsc_clock_mirror): the watch reads it without a native call */
    rt->params[JS_PARAM_VM_READS] = rt->entries_counted ? (double)jsc_clock_reads() : -1;
    JSStringRef as = str_new(rt->s1.data);
    /* the journal: undefined when the run is not journaled, null when it has none */
    JSValueRef jv = rt->undefined_v;
    if (journal) {
        buf_reset(&rt->s2);
        buf_append(&rt->s2, journal, opts->journal_len);
        JSStringRef js = str_new(rt->s2.data);
        jv = JSValueMakeString(ctx, js);
        JSStringRelease(js);
    } else if (journaled) {
        jv = rt->null_v;
    }
    /* the identity: its JSON text, or null */
    JSValueRef iv = rt->null_v;
    if (opts && opts->identity) {
        JSStringRef is = str_new(opts->identity);
        iv = JSValueMakeString(ctx, is);
        JSStringRelease(is);
    }
    JSValueRef argv[5] = { e->handler, e->path_val, JSValueMakeString(ctx, as), jv, iv };
    JSStringRelease(as);
    JSValueRef exc = NULL;
    uint64_t start_ms = clock_mono_ms();
    double *mirror_was =
        jsc_clock_mirror(rt->entries_counted ? &rt->params[JS_PARAM_VM_READS] : NULL);
    JSObjectCallAsFunction(ctx, rt->run_fn, NULL, 5, argv, &exc);
    /* JSC has drained the microtask queue: an async handler that only awaited ctx.db is done */
    if (fn->kind == JS_MUTATION && !rt->done && !exc && !rt->timed_out && rt->undone_fn) {
        /* an actor method waiting for a timer ends its turn here (47_actors.js actorsUndone) */
        JSValueRef uexc = NULL;
        JSObjectCallAsFunction(ctx, rt->undone_fn, NULL, 0, NULL, &uexc);
    }
    if (fn->kind == JS_ACTION && !rt->done && !exc)
        js_timers_drain(rt, start_ms); /* one that awaits a timer runs until it settles */
    if (fn->kind == JS_ACTION) { /* the timers it left never fire */
        if (rt->timed_out) /* a pending termination would abort JSC on the next call in */
            js_absorb_termination(rt);
        JSValueRef targs[2] = { JSValueMakeNumber(ctx, 3), JSValueMakeNumber(ctx, rt->exec_id) };
        JSValueRef texc = NULL;
        JSObjectCallAsFunction(ctx, rt->timers_fn, NULL, 2, targs, &texc);
    }
    jsc_clock_mirror(mirror_was);

    js_native_subs_end(rt);
    js_native_close_cursors(rt);
    int steps = rt->txn_steps;
    if (steps) { /* native.actorEnd replaced it (NULL: the next did not open) */
        txn = rt->top_txn;
        rt->txn_steps = 0;
    }
    if (rt->txn && rt->txn != txn) { /* a nested call from an action was cut short */
        store_txn_abort(rt->txn);
        store_txn_free(rt->txn);
    }
    rt->txn = NULL;
    rt->top_txn = NULL;
    rt->res = NULL;
    rt->request = NULL;
    rt->in_call = 0;

    if (rt->timed_out)
        js_absorb_termination(rt);
    if (rt->ticks && rt->last_heap > rt->settled_heap + JS_RECLAIM_BYTES) {
        /* a greedy call: give its garbage back now rather than at some later GC */
        JSSynchronousGarbageCollectForDebugging(ctx);
        malloc_trim(0);
        rt->settled_heap = jsc_heap_bytes(ctx);
    }
    rt->last_heap = 0;
    if (!rt->done) {
        char msg[512];
        if (rt->stopped) {
            snprintf(msg, sizeof(msg), "function `%s` was stopped: the server is shutting down",
                     fn->path);
            fail(res, JS_ERR_INTERNAL, "ServerShuttingDown", msg);
        } else if (rt->over_memory) {
            snprintf(msg, sizeof(msg), "function `%s` exceeded the memory limit of %u MiB",
                     fn->path, rt->opts.memory_limit_mb);
            fail(res, JS_ERR_TIMEOUT, "MemoryLimit", msg);
        } else if (rt->timed_out) {
            snprintf(msg, sizeof(msg), "function `%s` exceeded its %u ms time limit%s", fn->path,
                     fn->kind == JS_ACTION ? rt->opts.action_timeout_ms : rt->opts.timeout_ms,
                     rt->rounds_over ? JS_ROUNDS_OVER_TEXT : "");
            fail(res, JS_ERR_TIMEOUT, "ExecutionTimeout", msg);
        } else if (exc) {
            struct buf m = BUF_INIT(4096);
            JSValueRef ignored = NULL;
            js_to_buf(ctx, exc, &m, &ignored);
            snprintf(msg, sizeof(msg), "function `%s`: internal error: %s", fn->path, m.data);
            buf_release(&m);
            fail(res, JS_ERR_INTERNAL, "InternalError", msg);
        } else {
            snprintf(msg, sizeof(msg),
                     "function `%s` did not finish: it awaited a promise that never settled",
                     fn->path);
            fail(res, JS_ERR_THROWN, "FunctionFailed", msg);
        }
    }
    if (res->status == JS_ERR_THROWN && !res->error_code.len)
        buf_append_str(&res->error_code, "FunctionFailed");
    if (res->status == JS_OK && fn->returns) {
        /* a result that breaks its `returns` validator fails the call: a mutation's writes
         * roll back below with everything else it did */
        buf_reset(&rt->s3);
        if (js_check_returns(rt, fn, res->value.data, res->value.len, &rt->s3) < 0) {
            buf_reset(&res->value);
            fail(res, JS_ERR_THROWN, "ReturnsValidationError", rt->s3.data);
        }
    }

    if (res->status != JS_OK || !journaled)
        buf_reset(&res->journal); /* a failed run keeps the journal it was given */
    if (txn) {
        if (res->status == JS_OK) {
            uint64_t version = 0;
            struct buf cerr = BUF_INIT(4096);
            const struct store_sched_job *job =
                opts && fn->kind == JS_MUTATION ? opts->sched_job : NULL;
            int changed = 0, full = 0;
            if ((idem && store_idem_put(txn, idem, strlen(idem), res->value.data, res->value.len,
                                        &cerr) < 0 &&
                 (full = store_last_error(rt->store) == STORE_ERR_FULL, 1)) ||
                (job && store_sched_finish(txn, job, "success", NULL, clock_wall_ms(), &cerr) < 0 &&
                 (changed = store_last_error(rt->store) == STORE_ERR_CHANGED, 1)) ||
                store_txn_commit(txn, &version, &cerr) < 0) {
                store_txn_abort(txn);
                buf_reset(&res->value);
                if (full) /* its result's idempotency record does not fit: the caller's to fix */
                    fail(res, JS_ERR_THROWN, "StorageLimitExceeded", cerr.data);
                else
                    fail(res, JS_ERR_INTERNAL, changed ? "JobChanged" : "StoreError", cerr.data);
                version = store_version(rt->store);
            } else {
                if (fn->kind == JS_MUTATION && rt->commit_fn)
                    rt->commit_fn(rt->commit_arg, txn, version);
                js_storage_settled(rt, 1);
            }
            js_storage_settled(rt, 0);
            buf_release(&cerr);
            res->version = version;
        } else {
            store_txn_abort(txn);
            js_storage_settled(rt, 0);
            res->version = store_version(rt->store);
        }
        res->txn = txn;
    } else {
        res->version = cur_version(rt);
    }
    if (steps) /* after the last call's transaction, whatever became of it */
        js_actor_saves_flush(rt);
    return res->status == JS_OK ? 0 : -1;
}

const char *js_runtime_actors(const struct js_runtime *rt)
{
    return rt->actors;
}

const char *js_runtime_auth_config(const struct js_runtime *rt)
{
    return rt->auth_config;
}

const char *js_runtime_crons(const struct js_runtime *rt)
{
    return rt->crons;
}

void js_runtime_set_actor_host(struct js_runtime *rt, const struct js_actor_host *host, void *arg)
{
    rt->actor_host = host;
    rt->actor_host_arg = arg;
}
