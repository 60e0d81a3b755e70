/* shard: the unit of consistency — one store (SQLite file) plus the JS runtime running the app's
 * current bundle on it. Reloading swaps the runtime only if the new bundle loads (and its schema
 * applies); otherwise the old version keeps serving. */
#ifndef VR_PROTO_SHARD_H
#define VR_PROTO_SHARD_H

#include "base/buf.h"
#include "js/runtime.h"
#include "store/store.h"

struct shard {
    struct store *store;
    struct js_runtime *rt; /* NULL until a bundle has loaded */
    struct js_options js_opts;
    uint64_t loads;        /* successful loads so far */
};

int shard_open(const char *db_path, const struct js_options *opts, struct shard **out,
               struct buf *err);
void shard_free(struct shard *s);

/* Loads a bundle; on success it replaces the running version. On failure the old version stays
 * and err says why (file and line for JS errors). */
int shard_load(struct shard *s, const char *bundle, size_t len, const char *name, struct buf *err);

#endif
