/* sync_harness: the harness fuzz_sync.c and fuzz_convex_sync.c share. Included after the
 * protocol's source (it calls that file's static on_message), with FUZZ_NAME (the target's name,
 * "fuzz_sync", for its temp database and messages) and FUZZ_CONVEX (1: the connection speaks Convex's
 * protocol and its session ends with it) defined. A real shard (fuzz_shard.h) with a small app. Each input is split at newlines into messages for one connection
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

#include "fuzz_shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shard)
        fuzz_shard_open(FUZZ_NAME, bundle, sizeof bundle - 1);
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
    sync_auth_conn_end(c); /* as the protocols' on_close: the token it was verifying, if any */
    sync_out_clear(c);
    vr_free(c->outq);
    vr_free(c);
    sync_free(sy);
    return 0;
}

#endif
