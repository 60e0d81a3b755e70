/* sync_harness: the harness fuzz_sync.c and fuzz_convex_sync.c share. Included after the
 * protocol's source (it calls that file's static on_message), with FUZZ_NAME (the target's name,
 * "fuzz_sync", for its temp database and messages) and FUZZ_CONVEX (1: the connection speaks Convex's
 * protocol and its session ends with it) defined. A real shard: a store in a temp file and a
 * small app in the JS runtime. Each input is split at newlines into messages for one connection
 * (no socket: frames the server would send are dropped), then flushed. */
#ifndef VR_FUZZ_SYNC_HARNESS_H
#define VR_FUZZ_SYNC_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static char db_path[4096];

/* The database and its -wal and -shm files go when the fuzzer exits (libFuzzer exits through
 * exit() at -max_total_time and after -runs; a crash leaves them to run.sh's TMPDIR cleanup). */
static void remove_db(void)
{
    static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
    char p[sizeof db_path + 16];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, sfx[i]);
        unlink(p);
    }
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(db_path, sizeof db_path, "%s/vireo-" FUZZ_NAME "-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(db_path);
    if (fd < 0)
        abort();
    close(fd);
    unlink(db_path);
    atexit(remove_db);
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct js_options opts = { .timeout_ms = 1000, .action_timeout_ms = 1000 };
    /* a fuzzer loses nothing in a power cut: no sync per batch */
    struct store_options sopts = { .durability = STORE_DURABILITY_RELAXED };
    if (shard_open(db_path, &opts, &sopts, &shard, &err) < 0 ||
        shard_load(shard, bundle, sizeof bundle - 1, "fuzz", &err) < 0) {
        fprintf(stderr, FUZZ_NAME " setup: %s\n", err.data);
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
    c->convex = FUZZ_CONVEX;
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
    sync_detach(c, FUZZ_CONVEX); /* Convex resumes nothing: its session ends with the connection */
    sync_out_clear(c);
    vr_free(c->outq);
    vr_free(c);
    sync_free(sy);
    return 0;
}

#endif
