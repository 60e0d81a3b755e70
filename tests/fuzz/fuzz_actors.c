/* fuzz_actors: live actors' protocol messages (src/proto/actors.c) against a real shard: a store
 * in a temp file and a small app of actors in the JS runtime. Each input is split at newlines
 * into messages of one connection (no socket: what the server would send is dropped), then the
 * batch commits, the connection closes (its onDisconnect hooks run) and everything is freed.
 * Checks that no message, however malformed, crashes the server or leaks. */
#include "proto/actors.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char bundle[] =
    "(() => {\n"
    "  var { v } = globalThis.__vireo;\n"
    "  var { actor, createApp, middleware } = globalThis.__vireo.zocket;\n"
    "  var counter = actor({\n"
    "    state: v.object({ count: v.optional(v.number()), seen: v.optional(v.array(v.string())) }),\n"
    "    methods: {\n"
    "      inc: { handler: ({ state }) => { state.count = (state.count || 0) + 1; return state.count; } },\n"
    "      add: { input: v.object({ n: v.number() }), handler: ({ state, input }) => { state.count = (state.count || 0) + input.n; } },\n"
    "      emit: { handler: ({ emit, connectionId }) => { emit('e', { x: 1 }); emit.to(connectionId, 'e', { x: 2 }); } },\n"
    "      call: { handler: async ({ actors }) => actors.counter('other').inc() },\n"
    "      cycle: { handler: async ({ actors, actorId }) => actors.counter(actorId).inc() },\n"
    "      timer: { handler: ({ timer }) => timer.after(3600000).inc() },\n"
    "      boom: { handler: ({ state }) => { state.count = -1; throw new Error('no'); } },\n"
    "      wait: { handler: async ({ state }) => { state.count = (state.count || 0) + 1; await new Promise((r) => setTimeout(r, 1)); state.count += 1; } },\n"
    "      gen: { handler: async function* ({ state }) { yield 1; await new Promise((r) => setTimeout(r, 1)); state.count = 7; yield 2; return 3; } },\n"
    "    },\n"
    "    events: { e: v.object({ x: v.number() }) },\n"
    "    onConnect: ({ state, connectionId }) => { state.seen = [...(state.seen || []), connectionId].slice(-4); },\n"
    "    onDisconnect: ({ state }) => { state.seen = []; },\n"
    "  });\n"
    "  var gated = middleware().use(({ method }) => { if (method === 'no') throw new Error('Forbidden'); return {}; })\n"
    "    .actor({ state: v.object({}), methods: { no: { handler: () => 1 }, yes: { handler: () => 2 } } });\n"
    "  globalThis.__vireo_app = { modules: { a: { app: createApp({ actors: { counter, gated } }) } } };\n"
    "})();\n";

#include "fuzz_shard.h"

static void commit(struct actors *a)
{
    actors_run_pending(a); /* as tenant_flush: the rpcs of this "iteration" run together */
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    int failed = shard_commit(shard, &err) < 0;
    buf_release(&err);
    actors_flush(a, failed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shard)
        fuzz_shard_open("fuzz_actors", bundle, sizeof bundle - 1);
    struct actors_options o = { .max_message = 4096, .max_instances_per_conn = 8 };
    struct actors *a = actors_new(loop, shard, &o);
    struct aconn *c = vr_calloc(1, sizeof *c); /* as actors_accept, without a socket */
    c->a = a;
    memcpy(c->id, "cfuzz00000000000", CONN_ID_LEN);
    a->conns = c;
    a->stats.sockets++;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        on_message(NULL, 1, p, n, c);
        p += n + (nl ? 1 : 0);
    }
    commit(a);
    on_close(NULL, 1000, "", c);
    commit(a);
    actors_free(a);
    return 0;
}
