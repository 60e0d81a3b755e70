/* test_js: the JavaScript runtime end to end against a real store in a temp dir, with a
 * hand-written bundle shaped like esbuild's IIFE output ("// vireo/<file>.ts" before each
 * module). Covers loading, calls, validation, ctx.db reads and writes, errors, limits,
 * determinism, values across the boundary, logging and actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "js/js_int.h" /* the seed, to replay an execution */
#include "js/runtime.h"
#include "store/store.h"
#include "test.h"

#include "base/banned.h"

static const char *BUNDLE =
    "(() => {\n"
    "  // vireo/schema.ts\n"
    "  var { defineSchema, defineTable, v } = globalThis.__vireo;\n"
    "  var schema_default = defineSchema({\n"
    "    messages: defineTable({ channel: v.string(), author: v.string(), body: v.string(),\n"
    "                            n: v.optional(v.number()) })\n"
    "      .index(\"by_channel\", [\"channel\"]).index(\"by_channel_n\", [\"channel\", \"n\"]),\n"
    "    blobs: defineTable({ data: v.bytes(), big: v.int64() }),\n"
    "  });\n"
    "\n"
    "  // vireo/messages.ts\n"
    "  var messages_exports = {};\n"
    "  var { query, mutation, internalQuery, VireoError, ConvexError } = globalThis.__vireo;\n"
    "  messages_exports.send = mutation({\n"
    "    args: { channel: v.string(), author: v.string(), body: v.string(), n: v.optional(v.number"
        "()) },\n"
    "    handler: async (ctx, args) => await ctx.db.insert(\"messages\", args),\n"
    "  });\n"
    "  messages_exports.list = query({ args: { channel: v.string() }, handler: async (ctx, { chann"
        "el }) =>\n"
    "    ctx.db.query(\"messages\").withIndex(\"by_channel\", (q) => q.eq(\"channel\", channel)).c"
        "ollect() });\n"
    "  messages_exports.range = query({ args: { channel: v.string(), lo: v.number(), hi: v.number("
        "),\n"
    "      desc: v.boolean() },\n"
    "    handler: async (ctx, a) => (await ctx.db.query(\"messages\").withIndex(\"by_channel_n\",\n"
    "      (q) => q.eq(\"channel\", a.channel).gte(\"n\", a.lo).lt(\"n\", a.hi)).order(a.desc ? \""
        "desc\" : \"asc\")\n"
    "      .collect()).map((d) => d.n) });\n"
    "  messages_exports.takeN = query({ args: { k: v.number() }, handler: async (ctx, { k }) =>\n"
    "    (await ctx.db.query(\"messages\").take(k)).length });\n"
    "  messages_exports.firstOf = query({ args: { channel: v.string() }, handler: async (ctx, { ch"
        "annel }) =>\n"
    "    ctx.db.query(\"messages\").withIndex(\"by_channel\", (q) => q.eq(\"channel\", channel)).f"
        "irst() });\n"
    "  messages_exports.uniqueOf = query({ args: { channel: v.string() }, handler: async (ctx, { c"
        "hannel }) => {\n"
    "    const d = await ctx.db.query(\"messages\").withIndex(\"by_channel\", (q) => q.eq(\"channe"
        "l\", channel)).unique();\n"
    "    return d && d.body; } });\n"
    "  messages_exports.byAuthor = query({ args: { author: v.string() }, handler: async (ctx, { au"
        "thor }) =>\n"
    "    (await ctx.db.query(\"messages\").filter((q) => q.and(q.eq(q.field(\"author\"), author),\n"
    "      q.not(q.lt(q.field(\"n\"), q.sub(3, 1))))).collect()).map((d) => d.n) });\n"
    "  messages_exports.badRange = query(async (ctx) =>\n"
    "    ctx.db.query(\"messages\").withIndex(\"by_channel\", (q) => q.gt(\"author\", \"a\")).coll"
        "ect());\n"
    "  messages_exports.iter = query(async (ctx) => { let n = 0;\n"
    "    for await (const d of ctx.db.query(\"messages\")) { if (++n === 2) break; } return n; });"
        "\n"
    "  messages_exports.get = query({ args: { id: v.id(\"messages\") }, handler: (ctx, { id }) =>"
        " ctx.db.get(id) });\n"
    "  messages_exports.edit = mutation({ args: { id: v.id(\"messages\"), body: v.string() },\n"
    "    handler: async (ctx, { id, body }) => { await ctx.db.patch(id, { body, n: undefined }); }"
        " });\n"
    "  messages_exports.swap = mutation({ args: { id: v.id(\"messages\") }, handler: async (ctx, {"
        " id }) => {\n"
    "    const d = await ctx.db.get(id);\n"
    "    await ctx.db.replace(id, { ...d, body: \"replaced\", author: \"r\" }); } });\n"
    "  messages_exports.remove = mutation({ args: { id: v.id(\"messages\") },\n"
    "    handler: async (ctx, { id }) => { await ctx.db.delete(id); } });\n"
    "  messages_exports.failAfterInsert = mutation(async (ctx) => {\n"
    "    await ctx.db.insert(\"messages\", { channel: \"f\", author: \"a\", body: \"b\" });\n"
    "    throw new Error(\"boom\"); });\n"
    "  messages_exports.badDoc = mutation(async (ctx) => {\n"
    "    try { await ctx.db.insert(\"messages\", { channel: 1, author: \"a\", body: \"b\" }); }\n"
    "    catch (e) { return e.code; } return \"no error\"; });\n"
    "  messages_exports.badDocUncaught = mutation(async (ctx) => {\n"
    "    await ctx.db.insert(\"messages\", { channel: 1, author: \"a\", body: \"b\" }); });\n"
    "  messages_exports.spin = query(() => { for (;;) {} });\n"
    "  messages_exports.bigBuf = query(() => new Uint8Array(2 ** 32).fill(7).length);\n"
    "  messages_exports.pushLoop = query(() => { const a = []; for (let i = 0; ; i++) a.push(i"
        " + 0.5); });\n"
    "  messages_exports.pollute = mutation(() => { Object.prototype.polluted = 1; });\n"
    "  messages_exports.polluted = query(() => ({}).polluted === undefined && Object.isFrozen("
        "Array.prototype));\n"
    "  messages_exports.spinAsync = mutation(async (ctx) => {\n"
    "    await ctx.db.insert(\"messages\", { channel: \"spin\", author: \"a\", body: \"b\" }); for"
        " (;;) {} });\n"
    "  messages_exports.rand = query(async () => [Math.random(), crypto.randomUUID(),\n"
    "    Array.from(crypto.getRandomValues(new Uint16Array(4)))]);\n"
    "  messages_exports.randAction = (globalThis.__vireo.action)(async () => [crypto.randomUUID()"
        "]);\n"
    "  messages_exports.env = query(async (ctx) => { const t0 = Date.now(); const r = [Math.random"
        "(), Math.random()];\n"
    "    let x = 0; for (let i = 0; i < 2e5; i++) x += i; await ctx.db.query(\"messages\").first()"
        ";\n"
    "    return { same: t0 === Date.now() && new Date().getTime() === t0, t0, r, x,\n"
    "             inst: new Date() instanceof Date }; });\n"
    "  messages_exports.fetchy = query(async () => { await fetch(\"https://example.com\"); });\n"
    "  messages_exports.echo = query({ args: { x: v.any() }, handler: (ctx, { x }) => ({ x,\n"
    "    types: [typeof x.big, x.bytes instanceof ArrayBuffer, Number.isNaN(x.nan), Object.is(x.ne"
        "gz, -0)],\n"
    "    sum: x.big + 1n, len: x.bytes.byteLength, inf: -Infinity }) });\n"
    "  messages_exports.logs = query(() => { console.log(\"hello\", { a: 1 }, 5n); console.warn(\""
        "careful\"); });\n"
    "  messages_exports.secret = internalQuery(() => 42);\n"
    "  messages_exports.fail = query(() => { throw new VireoError({ code: \"nope\", n: 1 }); });\n"
    "  messages_exports.failConvex = query(() => { throw new ConvexError(\"plain\"); });\n"
    "  messages_exports.never = query(() => new Promise(() => {}));\n"
    "  messages_exports.default = query(() => \"default!\");\n"
    "  messages_exports.order = query(() => { const c = globalThis.__vireo.compareValues;\n"
    "    const xs = [{ b: 1 }, { a: 2 }, [1, 2], [1], new ArrayBuffer(2), \"\\u{1F600}\", \"\\uFFF"
        "F\", \"a\",\n"
    "      true, false, Infinity, 0, -0, -Infinity, 5n, -5n, null, NaN];\n"
    "    return [c(undefined, null)].concat(xs.slice().reverse().sort(c).map((x) => typeof x ==="
        " \"string\" ?\n"
    "      x.codePointAt(0) : typeof x === \"number\" && Object.is(x, -0) ? \"-0\" : x instanceof"
        " ArrayBuffer ?\n"
    "      \"buf\" : typeof x === \"bigint\" ? String(x) + \"n\" : Number.isNaN(x) ? \"nan\" : x))"
        "; });\n"
    "\n"
    "  // vireo/blobs.ts\n"
    "  var blobs_exports = {};\n"
    "  blobs_exports.put = globalThis.__vireo.mutation(async (ctx) => ctx.db.insert(\"blobs\",\n"
    "    { data: new Uint8Array([1, 2, 255]).buffer, big: -(2n ** 63n) }));\n"
    "  blobs_exports.read = globalThis.__vireo.query({ args: { id: v.id(\"blobs\") }, handler: asy"
        "nc (ctx, { id }) => {\n"
    "    const d = await ctx.db.get(id); return [typeof d.big, d.big === -(2n ** 63n),\n"
    "      Array.from(new Uint8Array(d.data)).join(\",\")]; } });\n"
    "\n"
    "  // vireo/dir/act.ts\n"
    "  var act_exports = {};\n"
    "  var { action, api, internal } = globalThis.__vireo;\n"
    "  act_exports.run = action({ args: { channel: v.string() }, handler: async (ctx, { channel })"
        " => {\n"
    "    await ctx.runMutation(api.messages.send, { channel, author: \"bot\", body: \"hi\" });\n"
    "    await ctx.runMutation(\"messages:send\", { channel, author: \"bot\", body: \"hi2\" });\n"
    "    const rows = await ctx.runQuery(api.messages.list, { channel });\n"
    "    const secret = await ctx.runQuery(internal.messages.secret, {});\n"
    "    let err = null;\n"
    "    try { await ctx.runQuery(api.messages.list, { channel: 5 }); } catch (e) { err = e.messag"
        "e; }\n"
    "    let err2 = null;\n"
    "    try { await ctx.runMutation(api.messages.failAfterInsert, {}); } catch (e) { err2 = e.mes"
        "sage; }\n"
    "    const nested = await ctx.runAction(api.dir.act.inner, {});\n"
    "    return { n: rows.length, secret, err, err2, nested, t: Date.now() > 1e12, db: ctx.db ==="
        " undefined }; } });\n"
    "  act_exports.inner = action(async (ctx) => ctx.runQuery(api[\"dir/act\"].innerQ, {}));\n"
    "  act_exports.innerQ = query(() => \"inner ok\");\n"
    "\n"
    "  globalThis.__vireo_app = { schema: schema_default,\n"
    "    modules: { messages: messages_exports, blobs: blobs_exports, \"dir/act\": act_exports } }"
        ";\n"
    "})();\n";

struct fixture {
    char dir[64];
    struct store *store;
    struct js_runtime *rt;
    struct js_result res;
    char logs[4096];
};

static void log_cb(void *arg, const char *level, const char *fn_path, const char *msg, size_t len)
{
    struct fixture *f = arg;
    size_t n = strlen(f->logs);
    snprintf(f->logs + n, sizeof(f->logs) - n, "%s|%s|%.*s\n", level, fn_path, (int)len, msg);
}

static uint32_t action_ms = 2000;

static int fixture_open(struct fixture *f, const char *bundle, struct buf *err)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/vireo_test_js_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char path[128];
    snprintf(path, sizeof(path), "%s/db.sqlite", f->dir);
    if (store_open(path, NULL, &f->store, err) < 0)
        return -1;
    struct js_options o = { .timeout_ms = 200, .action_timeout_ms = action_ms };
    if (js_runtime_new(f->store, &o, bundle, strlen(bundle), "app.js", &f->rt, err) < 0)
        return -1;
    js_runtime_set_log(f->rt, log_cb, f);
    js_result_init(&f->res);
    return 0;
}

static void fixture_close(struct fixture *f)
{
    js_result_release(&f->res);
    js_runtime_free(f->rt);
    if (f->store)
        store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
}

/* Calls `path` and returns the value (or the error message) as a string. */
static const char *call(struct fixture *f, const char *path, const char *args)
{
    const struct js_function *fn = js_runtime_find(f->rt, path);
    if (!fn)
        return "(no such function)";
    js_call(f->rt, fn, args, strlen(args), &f->res);
    return f->res.status == JS_OK ? f->res.value.data : f->res.error.data;
}

static struct fixture F;
static int opened;

static struct fixture *fx(void)
{
    if (!opened) {
        struct buf err = BUF_INIT(4096);
        if (fixture_open(&F, BUNDLE, &err) < 0) {
            fprintf(stderr, "fixture: %s\n", err.data);
            exit(1);
        }
        buf_release(&err);
        opened = 1;
    }
    return &F;
}

TEST(registers_functions)
{
    struct fixture *f = fx();
    CHECK(js_runtime_function_count(f->rt) >= 30);
    const struct js_function *fn = js_runtime_find(f->rt, "messages:send");
    CHECK(fn && fn->kind == JS_MUTATION && !fn->internal && fn->args);
    fn = js_runtime_find(f->rt, "messages:secret");
    CHECK(fn && fn->kind == JS_QUERY && fn->internal);
    fn = js_runtime_find(f->rt, "dir/act:run");
    CHECK(fn && fn->kind == JS_ACTION);
    fn = js_runtime_find(f->rt, "messages:spin");
    CHECK(fn && fn->args == NULL);
    CHECK(js_runtime_find(f->rt, "messages:nope") == NULL);
    CHECK_EQ_STR(call(f, "messages", "{}"), "\"default!\"");
    CHECK_EQ_STR(call(f, "messages:default", "{}"), "\"default!\"");
}

TEST(insert_and_query)
{
    struct fixture *f = fx();
    for (int i = 0; i < 5; i++) {
        char a[160];
        snprintf(a, sizeof(a), "{\"channel\":\"%s\",\"author\":\"%s\",\"body\":\"m%d\",\"n\":%d}",
                 i < 4 ? "c1" : "c2", i % 2 ? "bob" : "ann", i, i);
        const char *id = call(f, "messages:send", a);
        CHECK_EQ_INT(f->res.status, JS_OK);
        CHECK(strlen(id) == STORE_ID_LEN + 2);
        CHECK(f->res.version > 0);
    }
    call(f, "messages:list", "{\"channel\":\"c1\"}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(strstr(f->res.value.data, "\"m0\"") && strstr(f->res.value.data, "\"m3\""));
    CHECK(!strstr(f->res.value.data, "\"m4\""));
    CHECK(f->res.txn && store_txn_read_set(f->res.txn)->len >= 1);
    CHECK_EQ_STR(call(f, "messages:range", "{\"channel\":\"c1\",\"lo\":1,\"hi\":3,\"desc\":false}"),
                 "[1,2]");
    CHECK_EQ_STR(call(f, "messages:range", "{\"channel\":\"c1\",\"lo\":0,\"hi\":9,\"desc\":true}"),
                 "[3,2,1,0]");
    CHECK_EQ_STR(call(f, "messages:takeN", "{\"k\":3}"), "3");
    CHECK_EQ_STR(call(f, "messages:takeN", "{\"k\":0}"), "0");
    /* the read set stops at the last document consumed */
    call(f, "messages:takeN", "{\"k\":2}");
    const struct read_set *rs = f->res.txn ? store_txn_read_set(f->res.txn) : NULL;
    struct buf hi2 = BUF_INIT(4096);
    if (rs && rs->len)
        buf_append(&hi2, rs->ranges[rs->len - 1].hi.data, rs->ranges[rs->len - 1].hi.len);
    call(f, "messages:takeN", "{\"k\":100}");
    rs = f->res.txn ? store_txn_read_set(f->res.txn) : NULL;
    CHECK(rs && rs->len && hi2.len);
    if (rs && rs->len && hi2.len) {
        const struct key_range *r = &rs->ranges[rs->len - 1];
        size_t n = r->hi.len < hi2.len ? r->hi.len : hi2.len;
        int c = memcmp(hi2.data, r->hi.data, n);
        CHECK(c < 0 || (c == 0 && hi2.len < r->hi.len));
    }
    buf_release(&hi2);
    CHECK(strstr(call(f, "messages:firstOf", "{\"channel\":\"c1\"}"), "\"m0\""));
    CHECK_EQ_STR(call(f, "messages:firstOf", "{\"channel\":\"zz\"}"), "null");
    CHECK_EQ_STR(call(f, "messages:uniqueOf", "{\"channel\":\"c2\"}"), "\"m4\"");
    CHECK(strstr(call(f, "messages:uniqueOf", "{\"channel\":\"c1\"}"), "more than one"));
    CHECK_EQ_INT(f->res.status, JS_ERR_THROWN);
    CHECK_EQ_STR(call(f, "messages:byAuthor", "{\"author\":\"ann\"}"), "[2,4]");
    CHECK_EQ_STR(call(f, "messages:iter", "{}"), "2");
    CHECK_EQ_STR(call(f, "messages:badRange", "{}"),
                 "index `by_channel` of `messages` is on [channel]; cannot range on `author`");
}

TEST(argument_validation)
{
    struct fixture *f = fx();
    const char *m = call(f, "messages:send", "{\"channel\":5,\"author\":\"a\",\"body\":\"b\"}");
    CHECK_EQ_INT(f->res.status, JS_ERR_ARGS);
    CHECK_EQ_STR(f->res.error_code.data, "ArgumentValidationError");
    /* Convex's wording: the path, the value, the validator */
    CHECK_EQ_STR(
        m, "Value does not match validator.\nPath: .channel\nValue: 5.0\nValidator: v.string()");
    call(f, "messages:send", "{\"channel\":\"x\",\"author\":\"a\"}");
    CHECK_EQ_INT(f->res.status, JS_ERR_ARGS);
    CHECK(strstr(f->res.error.data, "body"));
    call(f, "messages:get", "{\"id\":\"not-an-id\"}");
    CHECK_EQ_INT(f->res.status, JS_ERR_ARGS);
    call(f, "messages:spin", "[1]");
    CHECK_EQ_INT(f->res.status, JS_ERR_ARGS);
}

static void first_id(struct fixture *f, const char *channel, char *out)
{
    char a[64];
    snprintf(a, sizeof(a), "{\"channel\":\"%s\"}", channel);
    const char *v = call(f, "messages:firstOf", a);
    const char *p = strstr(v, "\"_id\":\"");
    out[0] = 0;
    if (p)
        snprintf(out, STORE_ID_LEN + 1, "%s", p + 7);
}

TEST(patch_replace_delete)
{
    struct fixture *f = fx();
    call(f, "messages:send", "{\"channel\":\"pr\",\"author\":\"a\",\"body\":\"orig\",\"n\":7}");
    char id[STORE_ID_LEN + 1], a[128];
    first_id(f, "pr", id);
    CHECK(strlen(id) == STORE_ID_LEN);
    snprintf(a, sizeof(a), "{\"id\":\"%s\",\"body\":\"edited\"}", id);
    CHECK_EQ_STR(call(f, "messages:edit", a), "null");
    snprintf(a, sizeof(a), "{\"id\":\"%s\"}", id);
    const char *d = call(f, "messages:get", a);
    CHECK(strstr(d, "\"edited\"") && !strstr(d, "\"n\""));
    call(f, "messages:swap", a);
    CHECK_EQ_INT(f->res.status, JS_OK);
    d = call(f, "messages:get", a);
    CHECK(strstr(d, "\"replaced\"") && strstr(d, id));
    call(f, "messages:remove", a);
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK_EQ_STR(call(f, "messages:get", a), "null");
}

TEST(throwing_mutation_writes_nothing)
{
    struct fixture *f = fx();
    uint64_t before = store_version(f->store);
    CHECK_EQ_STR(call(f, "messages:failAfterInsert", "{}"), "boom");
    CHECK_EQ_INT(f->res.status, JS_ERR_THROWN);
    CHECK_EQ_STR(f->res.error_code.data, "FunctionFailed");
    CHECK_EQ_STR(call(f, "messages:list", "{\"channel\":\"f\"}"), "[]");
    CHECK(store_version(f->store) == before);
    CHECK_EQ_STR(call(f, "messages:badDoc", "{}"), "\"SchemaValidationError\"");
    call(f, "messages:badDocUncaught", "{}");
    CHECK_EQ_INT(f->res.status, JS_ERR_THROWN);
    CHECK_EQ_STR(f->res.error_code.data, "SchemaValidationError");
}

TEST(time_limit)
{
    struct fixture *f = fx();
    const char *m = call(f, "messages:spin", "{}");
    CHECK_EQ_INT(f->res.status, JS_ERR_TIMEOUT);
    CHECK_EQ_STR(m, "function `messages:spin` exceeded its 200 ms time limit");
    CHECK_EQ_STR(f->res.error_code.data, "ExecutionTimeout");
    call(f, "messages:spinAsync", "{}");
    CHECK_EQ_INT(f->res.status, JS_ERR_TIMEOUT);
    CHECK_EQ_STR(call(f, "messages:list", "{\"channel\":\"spin\"}"), "[]");
    /* the runtime still works afterwards */
    CHECK_EQ_STR(call(f, "messages:takeN", "{\"k\":1}"), "1");
    call(f, "messages:send", "{\"channel\":\"after\",\"author\":\"a\",\"body\":\"b\"}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(strstr(call(f, "messages:list", "{\"channel\":\"after\"}"), "\"after\""));
}

TEST(determinism)
{
    struct fixture *f = fx();
    const char *v = call(f, "messages:env", "{}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(strstr(v, "\"same\":true"));
    CHECK(strstr(v, "\"inst\":true"));
    CHECK(!strstr(v, "\"r\":[0,0]"));
    /* crypto's randomness in a query comes from the execution's seed, as Math.random's: the
     * same seed gives the same values; the next execution gets other ones */
    uint64_t seed = f->rt->seed_state;
    char first[512];
    snprintf(first, sizeof first, "%s", call(f, "messages:rand", "{}"));
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(strlen(first) > 60);
    CHECK(strcmp(call(f, "messages:rand", "{}"), first) != 0);
    f->rt->seed_state = seed;
    CHECK_EQ_STR(call(f, "messages:rand", "{}"), first);
    /* actions draw from OpenSSL: the seed does not matter */
    seed = f->rt->seed_state;
    snprintf(first, sizeof first, "%s", call(f, "messages:randAction", "{}"));
    f->rt->seed_state = seed;
    CHECK(strcmp(call(f, "messages:randAction", "{}"), first) != 0);
    const char *m = call(f, "messages:fetchy", "{}");
    CHECK_EQ_STR(m, "Can't use fetch() in queries and mutations. Please consider using an action. "
                    "See https://docs.convex.dev/functions/actions for more details.");
    /* a query or mutation awaiting a promise that never settles, nothing else queued: refused
     * as soon as the queue drains (50_functions.js roundsWatch sees only itself run) */
    double cpu0 = js_thread_cpu_ms();
    m = call(f, "messages:never", "{}");
    CHECK_EQ_INT(f->res.status, JS_ERR_THROWN);
    CHECK(strstr(m, "did not finish: it awaited a promise that never settled"));
    CHECK(js_thread_cpu_ms() - cpu0 < 100);
}

TEST(values_round_trip)
{
    struct fixture *f = fx();
    /* big = 2^62 (LE bytes 00..00 40), bytes 01 02 03, NaN, -0 */
    const char *a = "{\"x\":{\"big\":{\"$integer\":\"AAAAAAAAAEA=\"},"
                    "\"bytes\":{\"$bytes\":\"AQID\"},"
                    "\"nan\":{\"$float\":\"AAAAAAAA+H8=\"},\"negz\":{\"$float\":\"AAAAAAAAAIA=\"}}"
                        "}";
    const char *v = call(f, "messages:echo", a);
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(strstr(v, "\"types\":[\"bigint\",true,true,true]"));
    CHECK(strstr(v, "\"big\":{\"$integer\":\"AAAAAAAAAEA=\"}"));
    CHECK(strstr(v, "\"sum\":{\"$integer\":\"AQAAAAAAAEA=\"}"));
    CHECK(strstr(v, "\"bytes\":{\"$bytes\":\"AQID\"}"));
    CHECK(strstr(v, "\"len\":3"));
    CHECK(strstr(v, "\"inf\":{\"$float\":\"AAAAAAAA8P8=\"}"));
    CHECK(strstr(v, "\"negz\":{\"$float\":\"AAAAAAAAAIA=\"}"));
    const char *id = call(f, "blobs:put", "{}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    char args[96];
    snprintf(args, sizeof(args), "{\"id\":%s}", id);
    CHECK_EQ_STR(call(f, "blobs:read", args), "[\"bigint\",true,\"1,2,255\"]");
}

TEST(value_order)
{
    struct fixture *f = fx();
    CHECK_EQ_STR(call(f, "messages:order", "{}"),
                 "[-1,null,\"-5n\",\"5n\",{\"$float\":\"AAAAAAAA8P8=\"},\"-0\",0,"
                 "{\"$float\":\"AAAAAAAA8H8=\"},\"nan\",false,true,97,65535,128512,\"buf\",[1],[1,"
                     "2],"
                 "{\"a\":2},{\"b\":1}]");
}

TEST(console_and_errors)
{
    struct fixture *f = fx();
    f->logs[0] = 0;
    call(f, "messages:logs", "{}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK_EQ_STR(f->res.value.data, "null");
    CHECK_EQ_STR(f->logs, "info|messages:logs|hello { a: 1 } 5n\nwarn|messages:logs|careful\n");
    call(f, "messages:fail", "{}");
    CHECK_EQ_INT(f->res.status, JS_ERR_THROWN);
    CHECK_EQ_STR(f->res.error_code.data, "VireoError");
    CHECK_EQ_STR(f->res.error_data.data, "{\"code\":\"nope\",\"n\":1}");
    call(f, "messages:failConvex", "{}");
    CHECK_EQ_STR(f->res.error.data, "plain");
    CHECK_EQ_STR(f->res.error_data.data, "\"plain\"");
    CHECK_EQ_STR(f->res.error_code.data, "VireoError");
}

TEST(actions)
{
    struct fixture *f = fx();
    const char *v = call(f, "dir/act:run", "{\"channel\":\"act\"}");
    CHECK_EQ_INT(f->res.status, JS_OK);
    CHECK(f->res.txn == NULL);
    CHECK(strstr(v, "\"n\":2"));
    CHECK(strstr(v, "\"secret\":42"));
    CHECK(strstr(v, "\"err\":\"`messages:list`: Value does not match validator."));
    CHECK(strstr(v, "\"err2\":\"boom\""));
    CHECK(strstr(v, "\"nested\":\"inner ok\""));
    CHECK(strstr(v, "\"t\":true"));
    CHECK(strstr(v, "\"db\":true"));
    CHECK_EQ_STR(call(f, "messages:list", "{\"channel\":\"f\"}"), "[]");
}

TEST(load_errors)
{
    struct fixture g;
    struct buf err = BUF_INIT(4096);
    const char *syntax = "(() => {\n  // vireo/a.ts\n  var x = 1;\n\n  // vireo/bad.ts\n"
                         "  var y = (;\n})();\n";
    CHECK(fixture_open(&g, syntax, &err) < 0);
    CHECK(strstr(err.data, "vireo/bad.ts (bundle line 6)"));
    CHECK(strstr(err.data, "SyntaxError"));
    fixture_close(&g);
    buf_reset(&err);
    const char *ref =
        "(() => {\n  // vireo/a.ts\n  var x = 1;\n  // vireo/b.ts\n  nope();\n})();\n";
    CHECK(fixture_open(&g, ref, &err) < 0);
    CHECK(strstr(err.data, "vireo/b.ts (bundle line 5): ReferenceError"));
    fixture_close(&g);
    buf_reset(&err);
    const char *tbl = "(() => {\n  // vireo/schema.ts\n  var { defineSchema, defineTable, v } = "
                      "globalThis.__vireo;\n  defineTable({ a: v.string() }).index(\"by_id\", "
                      "[\"a\"]);\n})();\n";
    CHECK(fixture_open(&g, tbl, &err) < 0);
    CHECK(strstr(err.data, "vireo/schema.ts (bundle line 4)") && strstr(err.data, "reserved"));
    fixture_close(&g);
    buf_release(&err);
}

/* JavaScriptCore's top tier compiles a hot loop after a few calls; with signal-based traps the
 * time limit stopped firing from the third call on */
TEST(time_limit_every_call)
{
    struct fixture *f = fx();
    for (int i = 0; i < 6; i++) {
        call(f, "messages:spin", "{}");
        CHECK_EQ_INT(f->res.status, JS_ERR_TIMEOUT);
    }
    CHECK_EQ_STR(call(f, "messages:takeN", "{\"k\":1}"), "1");
}

TEST(memory_limit)
{
    struct fixture *f = fx();
    const char *m = call(f, "messages:bigBuf", "{}");
    CHECK_EQ_STR(f->res.error_code.data, "MemoryLimit");
    CHECK(strstr(m, "Uint8Array of 4294967296 bytes exceeds the memory limit of 256 MiB"));
    /* a 200 ms limit: the push loop ends with one error or the other, and memory comes back */
    call(f, "messages:pushLoop", "{}");
    CHECK(!strcmp(f->res.error_code.data, "MemoryLimit") ||
          !strcmp(f->res.error_code.data, "ExecutionTimeout"));
    CHECK_EQ_STR(call(f, "messages:takeN", "{\"k\":1}"), "1");
}

TEST(frozen_builtins)
{
    struct fixture *f = fx();
    call(f, "messages:pollute", "{}");
    CHECK_EQ_STR(call(f, "messages:polluted", "{}"), "true");
}

TEST(action_time_limit)
{
    struct fixture g;
    struct buf err = BUF_INIT(4096);
    const char *b =
        "(() => {\n  // vireo/a.ts\n  var { action, mutation, query, api } = globalThis.__vireo;\n"
        "  var a = {};\n"
        "  a.spin = mutation(async (ctx) => { await ctx.db.insert(\"t\", { x: 1 }); for (;;) {} })"
            ";\n"
        "  a.count = query(async (ctx) => (await ctx.db.query(\"t\").collect()).length);\n"
        "  a.run = action(async (ctx) => { await ctx.runMutation(api.a.spin, {}); });\n"
        "  a.ok = action(async (ctx) => ctx.runQuery(api.a.count, {}));\n"
        "  globalThis.__vireo_app = { modules: { a } };\n})();\n";
    action_ms = 300;
    CHECK(fixture_open(&g, b, &err) == 0);
    action_ms = 2000;
    if (!g.rt) {
        fprintf(stderr, "%s\n", err.data);
        buf_release(&err);
        return;
    }
    /* the action's limit applies to what it runs */
    const char *m = call(&g, "a:run", "{}");
    CHECK_EQ_INT(g.res.status, JS_ERR_TIMEOUT);
    CHECK_EQ_STR(m, "function `a:run` exceeded its 300 ms time limit");
    CHECK_EQ_STR(call(&g, "a:ok", "{}"), "0");
    CHECK_EQ_STR(call(&g, "a:count", "{}"), "0");
    fixture_close(&g);
    buf_release(&err);
}

/* An action worker's runtime: no store; actions run as async executions (js_exec_*) whose
 * ctx.runQuery / ctx.runMutation are operations of a fake host, answered the way
 * proto/actions.c answers them: ok with {valueJson}, failed with {message, code, dataJson}. */
struct fake_op {
    struct js_exec *x;
    uint32_t token;
    enum js_op_type type;
    enum js_fn_kind kind;
    char path[64];
    char args[128];
    int cancelled;
};

struct fake_host {
    struct fake_op ops[16];
    int n;       /* operations started */
    int refuse;  /* refuse the next ones */
    int cancels;
};

static int fake_op(void *arg, struct js_exec *x, uint32_t token, const struct js_op *op,
                   struct buf *err)
{
    struct fake_host *h = arg;
    if (h->refuse || h->n == (int)(sizeof h->ops / sizeof h->ops[0])) {
        buf_append_str(err, "refused by the test");
        return -1;
    }
    struct fake_op *o = &h->ops[h->n++];
    memset(o, 0, sizeof *o);
    o->x = x;
    o->token = token;
    o->type = op->type;
    o->kind = op->kind;
    if (op->type == JS_OP_REMOTE) {
        snprintf(o->path, sizeof o->path, "%s", op->path);
        snprintf(o->args, sizeof o->args, "%.*s", (int)op->len, op->args);
    }
    return 0;
}

static void fake_cancel(void *arg, uint32_t token)
{
    struct fake_host *h = arg;
    h->cancels++;
    for (int i = 0; i < h->n; i++)
        if (h->ops[i].token == token)
            h->ops[i].cancelled = 1;
}

static const struct js_host fake_host_ops = { fake_op, fake_cancel };

struct outcome {
    struct js_result res;
    int done; /* times done() was called */
};

static void outcome_done(void *arg, const struct js_result *res)
{
    struct outcome *o = arg;
    CHECK(res == &o->res);
    o->done++;
}

static void start(struct js_runtime *rt, const char *path, const char *args, struct outcome *o)
{
    const struct js_function *fn = js_runtime_find(rt, path);
    CHECK(fn != NULL);
    o->done = 0;
    if (fn)
        CHECK(js_exec_start(rt, fn, args, strlen(args), NULL, NULL, &o->res, outcome_done, o) == 0);
}

/* Answers operation i of h: ok with the value JSON, or failed. */
static void answer_ok(struct js_runtime *rt, struct fake_host *h, int i, const char *value)
{
    const char *strs[1] = { value };
    js_exec_settle(rt, h->ops[i].x, h->ops[i].token, 1, strs, 1, NULL, 0);
}

static void answer_fail(struct js_runtime *rt, struct fake_host *h, int i, const char *msg,
                        const char *code, const char *data)
{
    const char *strs[3] = { msg, code, data };
    js_exec_settle(rt, h->ops[i].x, h->ops[i].token, 0, strs, 3, NULL, 0);
}

static int stop_now;
static int should_stop(void *arg)
{
    return stop_now;
}

TEST(storeless_runtime)
{
    struct js_runtime *rt = NULL;
    struct buf err = BUF_INIT(4096);
    struct fake_host h = { 0 };
    struct outcome o1, o2;
    js_result_init(&o1.res);
    js_result_init(&o2.res);
    struct js_options o = { .timeout_ms = 200, .action_timeout_ms = 60000 };
    CHECK(js_runtime_new(NULL, &o, BUNDLE, strlen(BUNDLE), "app.js", &rt, &err) == 0);
    if (!rt) {
        fprintf(stderr, "%s\n", err.data);
        goto out;
    }
    /* queries and mutations cannot run here, neither called nor started */
    const struct js_function *q = js_runtime_find(rt, "messages:list");
    CHECK(js_call(rt, q, "{\"channel\":\"x\"}", 15, &o1.res) < 0);
    CHECK_EQ_STR(o1.res.error_code.data, "InternalError");
    CHECK_EQ_STR(o1.res.error.data, "queries and mutations cannot run on an action worker");
    start(rt, "messages:send", "{\"channel\":\"x\",\"author\":\"a\",\"body\":\"b\"}", &o1);
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "InternalError");
    CHECK_EQ_STR(o1.res.error.data, "only actions run asynchronously");
    /* without a host an action cannot wait for a nested call */
    start(rt, "dir/act:inner", "{}", &o1);
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "OperationRefused");
    CHECK_EQ_STR(o1.res.error.data, "this runtime cannot wait for operations");

    js_runtime_set_host(rt, &fake_host_ops, &h);
    /* an action's runQuery is a host operation; the action waits, suspended, for its answer */
    start(rt, "dir/act:inner", "{}", &o1);
    CHECK_EQ_INT(o1.done, 0);
    CHECK_EQ_INT(js_exec_count(rt), 1);
    CHECK_EQ_INT(h.n, 1);
    CHECK_EQ_INT(h.ops[0].type, JS_OP_REMOTE);
    CHECK_EQ_INT(h.ops[0].kind, JS_QUERY);
    CHECK_EQ_STR(h.ops[0].path, "dir/act:innerQ");
    CHECK_EQ_STR(h.ops[0].args, "{}");
    answer_ok(rt, &h, 0, "\"remote ok\"");
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_INT(o1.res.status, JS_OK);
    CHECK_EQ_STR(o1.res.value.data, "\"remote ok\"");
    CHECK_EQ_INT(js_exec_count(rt), 0);
    CHECK_EQ_INT(h.cancels, 0);

    /* a whole action: its nested calls one after another, answers and failures alike */
    h.n = 0;
    start(rt, "dir/act:run", "{\"channel\":\"c\"}", &o1);
    static const struct {
        enum js_fn_kind kind;
        const char *path, *args;
        int ok;
        const char *value, *code; /* ok: the value JSON; failed: message and code */
    } steps[] = {
        { JS_MUTATION, "messages:send", "{\"channel\":\"c\",\"author\":\"bot\",\"body\":\"hi\"}", 1,
          "\"id1\"", NULL },
        { JS_MUTATION, "messages:send", "{\"channel\":\"c\",\"author\":\"bot\",\"body\":\"hi2\"}", 1,
          "\"id2\"", NULL },
        { JS_QUERY, "messages:list", "{\"channel\":\"c\"}", 1, "[{\"body\":\"hi\"},{\"body\":\"hi2\"}]",
          NULL },
        { JS_QUERY, "messages:secret", "{}", 1, "42", NULL },
        { JS_QUERY, "messages:list", "{\"channel\":5}", 0, "bad channel", "ArgumentValidationError" },
        { JS_MUTATION, "messages:failAfterInsert", "{}", 0, "boom", "FunctionFailed" },
        { JS_QUERY, "dir/act:innerQ", "{}", 1, "\"inner ok\"", NULL },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        CHECK_EQ_INT(o1.done, 0);
        CHECK_EQ_INT(h.n, (int)i + 1); /* one at a time: the next starts after this answer */
        if (h.n != (int)i + 1)
            break;
        CHECK_EQ_INT(h.ops[i].kind, steps[i].kind);
        CHECK_EQ_STR(h.ops[i].path, steps[i].path);
        CHECK_EQ_STR(h.ops[i].args, steps[i].args);
        if (steps[i].ok)
            answer_ok(rt, &h, (int)i, steps[i].value);
        else
            answer_fail(rt, &h, (int)i, steps[i].value, steps[i].code, "");
    }
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.value.data, "{\"n\":2,\"secret\":42,\"err\":\"bad channel\",\"err2\":\"boom"
                 "\",\"nested\":\"inner ok\",\"t\":true,\"db\":true}");

    /* a failing nested call rejects with its code and VireoError data */
    h.n = 0;
    start(rt, "dir/act:run", "{\"channel\":\"c\"}", &o1);
    CHECK_EQ_INT(h.n, 1);
    answer_fail(rt, &h, 0, "{\"why\":1}", "VireoError", "{\"why\":1}");
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_INT(o1.res.status, JS_ERR_THROWN);
    CHECK_EQ_STR(o1.res.error_code.data, "VireoError");
    CHECK_EQ_STR(o1.res.error_data.data, "{\"why\":1}");
    /* a host that refuses the operation: the promise rejects at once */
    h.n = 0;
    h.refuse = 1;
    start(rt, "dir/act:inner", "{}", &o1);
    h.refuse = 0;
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "OperationRefused");
    CHECK_EQ_STR(o1.res.error.data, "refused by the test");
    CHECK_EQ_INT(js_exec_count(rt), 0);
    js_runtime_free(rt);
    rt = NULL;

    const char *b =
        "(() => {\n  // vireo/a.ts\n  var { action, query, mutation, api, v, VireoError } = "
        "globalThis.__vireo;\n"
        "  var a = {};\n  a.spin = action(async () => { for (;;) {} });\n"
        "  a.q = query({ args: { x: v.number() }, handler: async (ctx, { x }) => x });\n"
        "  a.m = mutation(async () => 0);\n"
        "  a.echo = action({ args: { x: v.number() }, handler: async (ctx, { x }) =>\n"
        "    [x, await ctx.runQuery(api.a.q, { x })] });\n"
        "  a.catchy = action(async (ctx) => { try { await ctx.runMutation(api.a.m, {}); }\n"
        "    catch (e) { return [e.message, e.code === undefined ? null : e.code,\n"
        "      e instanceof VireoError, e.data === undefined ? null : e.data]; } return 0; });\n"
        "  globalThis.__vireo_app = { modules: { a } };\n})();\n";
    o.action_timeout_ms = 300;
    CHECK(js_runtime_new(NULL, &o, b, strlen(b), "a.js", &rt, &err) == 0);
    if (!rt) {
        fprintf(stderr, "%s\n", err.data);
        goto out;
    }
    js_runtime_set_host(rt, &fake_host_ops, &h);
    js_runtime_set_stop_check(rt, should_stop, NULL);

    /* a caught failure carries its code, and for a VireoError its data */
    h.n = 0;
    start(rt, "a:catchy", "{}", &o1);
    CHECK_EQ_INT(h.n, 1);
    CHECK_EQ_INT(h.ops[0].kind, JS_MUTATION);
    answer_fail(rt, &h, 0, "{\"why\":1}", "VireoError", "{\"why\":1}");
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.value.data, "[\"{\\\"why\\\":1}\",null,true,{\"why\":1}]");
    start(rt, "a:catchy", "{}", &o1);
    CHECK_EQ_INT(h.n, 2);
    answer_fail(rt, &h, 1, "not now", "ServerOverloaded", "");
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.value.data, "[\"not now\",\"ServerOverloaded\",false,null]");

    /* two executions suspended at once, answered in reverse order: each gets its own answer */
    h.n = 0;
    start(rt, "a:echo", "{\"x\":1}", &o1);
    start(rt, "a:echo", "{\"x\":2}", &o2);
    CHECK_EQ_INT(js_exec_count(rt), 2);
    CHECK_EQ_INT(h.n, 2);
    CHECK_EQ_STR(h.ops[0].args, "{\"x\":1}");
    CHECK_EQ_STR(h.ops[1].args, "{\"x\":2}");
    CHECK(h.ops[0].x != h.ops[1].x);
    answer_ok(rt, &h, 1, "\"second\"");
    CHECK_EQ_INT(o2.done, 1);
    CHECK_EQ_STR(o2.res.value.data, "[2,\"second\"]");
    CHECK_EQ_INT(o1.done, 0);
    CHECK_EQ_INT(js_exec_count(rt), 1);
    answer_ok(rt, &h, 0, "\"first\"");
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.value.data, "[1,\"first\"]");
    CHECK_EQ_INT(o2.done, 1);
    CHECK_EQ_INT(js_exec_count(rt), 0);
    CHECK_EQ_INT(h.cancels, 0);

    /* the wall-clock limit ends an execution still waiting; its operation is cancelled */
    h.n = 0;
    start(rt, "a:echo", "{\"x\":3}", &o1);
    CHECK_EQ_INT(h.n, 1);
    int64_t wait = js_exec_check(rt);
    CHECK(wait > 0 && wait <= 300);
    CHECK_EQ_INT(o1.done, 0);
    /* 350 ms by the clock the deadline uses: a signal (JavaScriptCore's threads use them) can
     * end one usleep early */
    for (uint64_t from = clock_mono_ms(); clock_mono_ms() - from < 350;)
        usleep(10 * 1000);
    CHECK_EQ_INT(js_exec_check(rt), -1);
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_INT(o1.res.status, JS_ERR_TIMEOUT);
    CHECK_EQ_STR(o1.res.error_code.data, "ExecutionTimeout");
    CHECK_EQ_STR(o1.res.error.data, "function `a:echo` exceeded its 300 ms time limit");
    CHECK_EQ_INT(h.cancels, 1);
    CHECK(h.ops[0].cancelled);
    CHECK_EQ_INT(js_exec_count(rt), 0);

    /* the CPU limit ends a runaway action, and the stop check ends it sooner */
    start(rt, "a:spin", "{}", &o1);
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "ExecutionTimeout");
    CHECK_EQ_STR(o1.res.error.data, "function `a:spin` exceeded its 300 ms time limit");
    stop_now = 1;
    start(rt, "a:spin", "{}", &o1);
    stop_now = 0;
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "ServerShuttingDown");
    CHECK_EQ_STR(o1.res.error.data, "function `a:spin` was stopped: the server is shutting down");
    /* the runtime still runs actions after both */
    h.n = 0;
    start(rt, "a:echo", "{\"x\":4}", &o1);
    CHECK_EQ_INT(h.n, 1);
    answer_ok(rt, &h, 0, "4");
    CHECK_EQ_STR(o1.res.value.data, "[4,4]");

    /* a shutdown fails every suspended execution and cancels what it waited for */
    h.n = 0;
    h.cancels = 0;
    start(rt, "a:echo", "{\"x\":5}", &o1);
    start(rt, "a:echo", "{\"x\":6}", &o2);
    CHECK_EQ_INT(js_exec_count(rt), 2);
    js_exec_stop_all(rt);
    CHECK_EQ_INT(o1.done, 1);
    CHECK_EQ_INT(o2.done, 1);
    CHECK_EQ_STR(o1.res.error_code.data, "ServerShuttingDown");
    CHECK_EQ_STR(o2.res.error_code.data, "ServerShuttingDown");
    CHECK_EQ_INT(h.cancels, 2);
    CHECK_EQ_INT(js_exec_count(rt), 0);
out:
    js_runtime_free(rt);
    js_result_release(&o1.res);
    js_result_release(&o2.res);
    buf_release(&err);
}

/* A component's jobs name their functions as it does, and the scheduler finds them again */
TEST(job_paths)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT), ns = BUF_INIT(BUF_NOLIMIT);
    js_job_name("", "messages:send", &b);
    CHECK_EQ_STR(b.data, "messages:send");
    js_job_name("", "_components/a/m:f", &b); /* the app keeps full paths */
    CHECK_EQ_STR(b.data, "_components/a/m:f");
    js_job_name("a/", "_components/a/m:f", &b);
    CHECK_EQ_STR(b.data, "m:f");
    js_job_name("a/b/", "_components/a/_components/b/dir/m:f", &b);
    CHECK_EQ_STR(b.data, "dir/m:f");
    js_job_name("a/", "_components/a/_components/b/m:f", &b); /* a child's, inside its prefix */
    CHECK_EQ_STR(b.data, "_components/b/m:f");
    js_job_name("a/", "messages:send", &b); /* outside: a handle */
    CHECK_EQ_STR(b.data, "function://messages:send");
    js_job_name("ab/", "_components/a/m:f", &b); /* a prefix of the name is not the namespace */
    CHECK_EQ_STR(b.data, "function://_components/a/m:f");
    js_job_function_path("a/b/", "dir/m:f", &b);
    CHECK_EQ_STR(b.data, "_components/a/_components/b/dir/m:f");
    js_job_function_path("a/", "function://messages:send", &b);
    CHECK_EQ_STR(b.data, "messages:send");
    js_job_function_path("", "messages:send", &b);
    CHECK_EQ_STR(b.data, "messages:send");
    js_job_split("_components/a/_components/b/m:f", &ns, &b);
    CHECK_EQ_STR(ns.data, "a/b/");
    CHECK_EQ_STR(b.data, "m:f");
    js_job_split("crons:tick", &ns, &b);
    CHECK_EQ_STR(ns.data, "");
    CHECK_EQ_STR(b.data, "crons:tick");
    buf_release(&b);
    buf_release(&ns);
}

TEST(zz_cleanup)
{
    if (opened)
        fixture_close(&F);
    opened = 0;
}

TEST_MAIN()
