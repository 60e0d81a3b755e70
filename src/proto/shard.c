/* shard: a store and the runtime that serves it; reload is all-or-nothing. */
#include "proto/shard.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/banned.h"

int shard_open(const char *db_path, const struct js_options *opts, struct shard **out,
               struct buf *err)
{
    struct shard *s = vr_calloc(1, sizeof *s);
    if (opts)
        s->js_opts = *opts;
    if (store_open(db_path, NULL, &s->store, err) < 0) {
        vr_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void shard_free(struct shard *s)
{
    if (!s)
        return;
    if (s->rt)
        js_runtime_free(s->rt);
    store_close(s->store);
    vr_free(s);
}

int shard_load(struct shard *s, const char *bundle, size_t len, const char *name, struct buf *err)
{
    struct js_runtime *rt = NULL;
    if (js_runtime_new(s->store, &s->js_opts, bundle, len, name, &rt, err) < 0)
        return -1;
    if (s->rt)
        js_runtime_free(s->rt);
    s->rt = rt;
    s->loads++;
    log_info("app", "loaded %zu functions from \"%s\"", js_runtime_function_count(rt), name);
    return 0;
}
