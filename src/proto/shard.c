/* shard: a store, the runtime that serves it and its live queries; group commit per loop
 * iteration; reload is all-or-nothing. */
#include "proto/shard.h"

#include "base/log.h"
#include "base/mem.h"
#include "proto/actions.h"
#include "base/banned.h"

static int commit_batch(struct shard *s, struct buf *err);

static void on_commit(void *arg, const struct store_txn *txn, uint64_t version)
{
    struct shard *s = arg;
    live_apply_writes(s->live, store_txn_write_set(txn));
}

int shard_open(const char *db_path, const struct js_options *opts,
               const struct store_options *store_opts, struct shard **out, struct buf *err)
{
    struct shard *s = vr_calloc(1, sizeof *s);
    if (opts)
        s->js_opts = *opts;
    if (store_open(db_path, store_opts, &s->store, err) < 0) {
        vr_free(s);
        return -1;
    }
    s->live = live_new();
    *out = s;
    return 0;
}

void shard_free(struct shard *s)
{
    if (!s)
        return;
    struct buf err = BUF_INIT(4096);
    if (shard_commit(s, &err) < 0)
        log_error("shard", "final commit failed: %s", err.data);
    buf_release(&err);
    if (s->rt)
        js_runtime_free(s->rt);
    live_free(s->live);
    store_close(s->store);
    vr_free(s);
}

int shard_load(struct shard *s, const char *bundle, size_t len, const char *name, struct buf *err)
{
    struct js_runtime *rt = NULL;
    if (commit_batch(s, err) < 0) /* schema changes cannot happen inside a batch */
        return -1;
    if (js_runtime_new(s->store, &s->js_opts, bundle, len, name, &rt, err) < 0)
        return -1;
    if (s->rt)
        js_runtime_free(s->rt);
    s->rt = rt;
    js_runtime_set_commit_hook(rt, on_commit, s);
    s->loads++;
    if (s->actions)
        action_pool_load(s->actions, bundle, len, name);
    live_mark_all_dirty(s->live); /* the functions changed: every live result may have */
    log_info("app", "loaded %zu functions from \"%s\"", js_runtime_function_count(rt), name);
    return 0;
}

int shard_call(struct shard *s, const struct js_function *fn, const char *args, size_t len,
               const struct js_call_opts *opts, struct js_result *res)
{
    /* A query outside a batch reads only committed data: it needs no batch, and its answer
     * can go out at once. Inside one it must see (and wait for) the batch's writes. */
    if (!s->batch_open && fn->kind != JS_QUERY) {
        struct buf err = BUF_INIT(4096);
        if (store_batch_begin(s->store, &err) < 0) {
            js_result_init(res);
            res->status = JS_ERR_INTERNAL;
            buf_append_str(&res->error, err.data);
            buf_append_str(&res->error_code, "StoreError");
            buf_release(&err);
            return -1;
        }
        buf_release(&err);
        s->batch_open = 1;
    }
    s->calls++;
    int r = js_call_ex(s->rt, fn, args, len, opts, res);
    if (r < 0)
        s->call_errors++;
    return r;
}

static int commit_batch(struct shard *s, struct buf *err)
{
    if (!s->batch_open)
        return 0;
    s->batch_open = 0;
    if (store_batch_commit(s->store, err) < 0) {
        s->batch_failures++;
        s->lost_batch = 1;
        log_error("shard", "commit of a batch failed, its writes are lost: %s", err->data);
        live_mark_all_dirty(s->live); /* results computed from the lost writes are stale */
        return -1;
    }
    s->batches++;
    return 0;
}

int shard_commit(struct shard *s, struct buf *err)
{
    commit_batch(s, err);
    int lost = s->lost_batch;
    s->lost_batch = 0;
    return lost ? -1 : 0;
}

void shard_prune(struct shard *s, double max_age_ms)
{
    struct buf err = BUF_INIT(4096);
    if (commit_batch(s, &err) == 0) {
        int n = store_idem_prune(s->store, max_age_ms, &err);
        if (n < 0)
            log_error("shard", "pruning idempotency records failed: %s", err.data);
        else if (n > 0)
            log_info("shard", "pruned %d idempotency records", n);
    }
    buf_release(&err);
}
