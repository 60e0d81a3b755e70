/* fuzz_sync: sync-protocol messages (src/proto/sync.c) against a real shard: a store in a temp
 * file and a small app in the JS runtime. Each input is split at newlines into messages for one
 * connection (no socket: frames the server would send are dropped), then flushed. Checks that no
 * message, however malformed, crashes the server or corrupts its state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/sync.c"

static const char bundle[] =
    "(() => {\n"
    "  var { query, mutation, action, defineSchema, defineTable, v } = globalThis.__vireo;\n"
    "  globalThis.__vireo_app = {\n"
    "    schema: defineSchema({ t: defineTable({ x: v.number() }).index(\"by_x\", [\"x\"]) }),\n"
    "    modules: { m: {\n"
    "      list: query({ args: { x: v.optional(v.number()) }, handler: async (ctx, a) =>\n"
    "        ctx.db.query(\"t\").withIndex(\"by_x\", (q) => q.gte(\"x\", a.x ?? 0)).take(5) }),\n"
    "      add: mutation({ args: { x: v.number() }, handler: async (ctx, a) =>\n"
    "        ctx.db.insert(\"t\", { x: a.x }) }),\n"
    "      fail: mutation({ handler: async () => { throw new Error(\"no\"); } }),\n"
    "      act: action({ handler: async (ctx) => ctx.runQuery(\"m:list\", {}) }),\n"
    "    } },\n"
    "  };\n"
    "})();\n";

static struct loop *loop;
static struct shard *shard;

static void setup(void)
{
    char path[] = "/tmp/vireo-fuzz-sync-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    unlink(path);
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct js_options opts = { .timeout_ms = 1000, .action_timeout_ms = 1000 };
    if (shard_open(path, &opts, &shard, &err) < 0 ||
        shard_load(shard, bundle, sizeof bundle - 1, "fuzz", &err) < 0) {
        fprintf(stderr, "fuzz_sync setup: %s\n", err.data);
        abort();
    }
    buf_release(&err);
    loop = loop_new();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shard)
        setup();
    struct sync_options o = { .max_sessions = 4, .max_message = 4096 };
    struct sync *sy = sync_new(loop, shard, &o);
    struct sync_conn *c = vr_calloc(1, sizeof *c);
    c->sync = sy;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        on_message(NULL, 1, p, n, c);
        p += n + (nl ? 1 : 0);
    }
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    int failed = shard_commit(shard, &err) < 0;
    buf_release(&err);
    sync_flush(sy, failed);
    detach(c, 0);
    out_clear(c);
    vr_free(c->outq);
    vr_free(c);
    sync_free(sy);
    return 0;
}
