/* shard: a store, the runtime that serves it and its live queries; group commit per loop
 * iteration; reload is all-or-nothing. */
#include "proto/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "proto/actions.h"
#include "proto/auth_keys.h"
#include "proto/crons.h"
#include "proto/readers.h"
#include "sched/sched.h"
#include "base/banned.h"

static int commit_batch(struct shard *s, struct buf *err);

void shard_committed(struct shard *s, const struct store_txn *txn)
{
    live_apply_writes(s->live, store_txn_write_set(txn));
    if (s->qcache) {
        qcache_apply_writes(s->qcache, store_txn_write_set(txn));
        if (!s->batch_open) /* committed on its own */
            qcache_writes_committed(s->qcache);
    }
    if (s->sched)
        sched_writes(s->sched, store_txn_write_set(txn));
}

static void on_commit(void *arg, const struct store_txn *txn, uint64_t version)
{
    shard_committed(arg, txn);
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
    if (strcmp(db_path, ":memory:")) { /* stored files: "files" beside the database */
        const char *slash = strrchr(db_path, '/');
        size_t dl = slash ? (size_t)(slash - db_path) : 1;
        s->files_dir = vr_malloc(dl + 7);
        snprintf(s->files_dir, dl + 7, "%.*s/files", (int)dl, slash ? db_path : ".");
        size_t swept = 0;
        if (store_files_open_dir(s->files_dir, err) < 0 ||
            store_files_sweep(s->store, s->files_dir, &swept, err) < 0) {
            store_close(s->store);
            vr_free(s->files_dir);
            vr_free(s);
            return -1;
        }
        s->js_opts.files_dir = s->files_dir;
        s->db_path = vr_strdup(db_path);
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
    vr_free(s->bundle);
    vr_free(s->bundle_name);
    vr_free(s->load_error);
    vr_free(s->files_dir);
    vr_free(s->db_path);
    vr_free(s->auth_config);
    json_decref(s->env_file);
    live_free(s->live);
    qcache_free(s->qcache);
    store_close(s->store);
    vr_free(s);
}

json_t *shard_env_json(struct shard *s, struct buf *err)
{
    json_t *stored = NULL;
    if (store_env_list(s->store, &stored, err) < 0)
        return NULL;
    json_t *env = s->env_file ? json_deep_copy(s->env_file) : json_object();
    json_object_update(env, stored); /* `vireo env` wins over the file */
    json_decref(stored);
    /* Convex's built-in variables: the deployment's URLs, both Vireo's one origin (functions and
     * HTTP actions share it); a value set with `vireo env` or .env.local wins (a proxy's URL) */
    const char *url = s->js_opts.public_url;
    if (url && *url) {
        json_t *u = json_string(url);
        if (u && !json_object_get(env, "CONVEX_CLOUD_URL"))
            json_object_set(env, "CONVEX_CLOUD_URL", u);
        if (u && !json_object_get(env, "CONVEX_SITE_URL"))
            json_object_set(env, "CONVEX_SITE_URL", u);
        json_decref(u);
    }
    return env;
}

/* The providers of a version: its auth.config's plus the server's HS256 secret. NULL (with err)
 * when the config is bad. */
static struct auth_providers *providers_of(struct shard *s, const char *config, struct buf *err)
{
    struct auth_providers *p = NULL;
    if (auth_providers_new(config, config ? strlen(config) : 0, &p, err) < 0)
        return NULL;
    if (s->auth_refresh_s > 0)
        auth_providers_set_refresh_min(p, s->auth_refresh_s);
    if (s->auth_max_age_s > 0)
        auth_providers_set_max_age(p, s->auth_max_age_s);
    if (s->auth_skew_s > 0)
        auth_providers_set_skew(p, s->auth_skew_s);
    const struct shard_jwt_secret *j = &s->jwt_secret;
    if (j->secret && auth_providers_add_secret(p, j->issuer, j->audience, j->secret, j->len,
                                               err) < 0) {
        auth_providers_free(p);
        return NULL;
    }
    return p;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int shard_prepare_begin(struct shard *s, struct shard_version *v, struct buf *err)
{
    memset(v, 0, sizeof *v);
    if (commit_batch(s, err) < 0) /* schema changes cannot happen inside a batch */
        return -1;
    json_t *env = shard_env_json(s, err);
    if (!env)
        return -1;
    v->env_text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(env);
    v->loads = s->loads;
    return 0;
}

int shard_prepare_build(struct shard *s, const char *bundle, size_t len, const char *name,
                        struct shard_version *v, int defer_schema, struct buf *err)
{
    struct js_options opts = s->js_opts;
    opts.env_json = v->env_text;
    opts.defer_schema = defer_schema;
    if (js_runtime_new(s->store, &opts, bundle, len, name, &v->rt, err) < 0) {
        shard_version_release(v);
        return -1;
    }
    return 0;
}

int shard_prepare(struct shard *s, const char *bundle, size_t len, const char *name,
                  struct shard_version *v, struct buf *err)
{
    if (shard_prepare_begin(s, v, err) < 0) {
        shard_version_release(v);
        return -1;
    }
    return shard_prepare_build(s, bundle, len, name, v, 0, err);
}

void shard_version_release(struct shard_version *v)
{
    if (v->rt)
        js_runtime_free(v->rt);
    free(v->env_text); /* jansson's allocation */
    memset(v, 0, sizeof *v);
}

void shard_set_load_error(struct shard *s, const char *why)
{
    vr_free(s->load_error);
    s->load_error = why ? vr_strdup(why) : NULL;
}

const char *shard_no_app_text(const struct shard *s, const char *dflt)
{
    return s && s->load_error ? s->load_error : dflt;
}

int shard_install(struct shard *s, struct shard_version *v, const char *bundle, size_t len,
                  const char *name, struct buf *err)
{
    struct auth_providers *providers = NULL;
    struct js_runtime *rt = v->rt;
    int rc = -1;
    if (v->loads != s->loads) { /* built beside one installed meanwhile (an environment change) */
        buf_append_str(err, SHARD_VERSION_STALE);
        goto out;
    }
    /* a version built while the loop kept serving: its schema goes in now, outside a batch */
    if (commit_batch(s, err) < 0 || js_runtime_apply_schema(rt, err) < 0)
        goto out;
    if (s->crons && crons_check(rt, err) < 0)
        goto out;
    const char *auth_config = js_runtime_auth_config(rt);
    int new_providers = !s->rt || !same_text(auth_config, s->auth_config);
    if (new_providers && !(providers = providers_of(s, auth_config, err)))
        goto out;
    if (s->rt && s->before_replace)
        s->before_replace(s->before_replace_arg);
    if (s->rt)
        js_runtime_free(s->rt);
    s->rt = rt;
    v->rt = NULL; /* the shard's now */
    shard_set_load_error(s, NULL);
    js_runtime_set_commit_hook(rt, on_commit, s);
    s->loads++;
    if (bundle != s->bundle) { /* keep a copy for reloads */
        char *copy = vr_memdup(bundle, len);
        vr_free(s->bundle);
        vr_free(s->bundle_name);
        s->bundle = copy;
        s->bundle_len = len;
        s->bundle_name = vr_strdup(name ? name : "bundle.js");
    }
    if (s->actions)
        action_pool_load(s->actions, bundle, len, name, v->env_text);
    reader_pool_load(s->readers, bundle, len, name, v->env_text);
    live_mark_all_dirty(s->live); /* the functions changed: every live result may have */
    if (s->qcache) { /* and every cached answer (process.env too) */
        qcache_clear(s->qcache);
        if (!s->batch_open)
            qcache_writes_committed(s->qcache);
    }
    if (s->crons)
        crons_sync(s->crons);
    if (new_providers) { /* the same auth.config keeps the keys fetched so far */
        vr_free(s->auth_config);
        s->auth_config = auth_config ? vr_strdup(auth_config) : NULL;
        if (s->auth) {
            if (auth_providers_count(providers))
                log_info("auth", "%zu auth provider%s", auth_providers_count(providers),
                         auth_providers_count(providers) == 1 ? "" : "s");
            auth_keys_set_providers(s->auth, providers); /* waiting tokens are answered */
        } else {
            auth_providers_free(providers);
        }
        providers = NULL;
    }
    log_info("app", "loaded %zu functions from \"%s\"", js_runtime_app_function_count(rt), name);
    rc = 0;
out:
    auth_providers_free(providers);
    shard_version_release(v);
    return rc;
}

int shard_load(struct shard *s, const char *bundle, size_t len, const char *name, struct buf *err)
{
    struct shard_version v;
    if (shard_prepare(s, bundle, len, name, &v, err) < 0)
        return -1;
    return shard_install(s, &v, bundle, len, name, err);
}

int shard_reload(struct shard *s, struct buf *err)
{
    if (!s->bundle || !s->rt)
        return 0;
    return shard_load(s, s->bundle, s->bundle_len, s->bundle_name, err);
}

void shard_set_env_file(struct shard *s, json_t *env_file, const char *source)
{
    json_decref(s->env_file);
    s->env_file = NULL;
    if (!env_file)
        return;
    struct buf err = BUF_INIT(4096);
    json_t *ok = json_object();
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(env_file, k, klen, v) {
        const char *why = NULL;
        if (store_env_check_name(k, klen, &err) < 0)
            why = err.data;
        else if (!json_is_string(v) || json_string_length(v) > STORE_ENV_VALUE_MAX)
            why = "its value is longer than 8192 bytes";
        else if (memchr(json_string_value(v), '\0', json_string_length(v)))
            why = "its value contains a NUL character";
        else if (json_object_size(ok) >= STORE_ENV_MAX_VARS)
            why = "more than 100 variables";
        if (why)
            log_warn("app", "%s: variable `%.*s` ignored: %s", source, (int)(klen > 60 ? 60 : klen),
                     k, why);
        else
            json_object_setn(ok, k, klen, v);
    }
    buf_release(&err);
    json_decref(env_file);
    s->env_file = ok;
}

void shard_env_reload_failed(const char *why)
{
    log_error("app",
              "reload after an environment change failed (the previous version keeps running): %s",
              why);
}

static void env_reload(struct shard *s, struct buf *load_err)
{
    if (!load_err)
        return; /* the caller reloads (env_reloader.h) */
    buf_reset(load_err);
    if (shard_reload(s, load_err) < 0)
        shard_env_reload_failed(load_err->data);
}

int shard_env_set(struct shard *s, const char *name, size_t name_len, const char *value,
                  size_t value_len, struct buf *err, struct buf *load_err)
{
    commit_batch(s, err); /* a failure is reported by the next shard_commit */
    buf_reset(err);
    int r = store_env_set(s->store, name, name_len, value, value_len, err);
    if (r < 0)
        return r;
    log_info("app", "environment variable %.*s set", (int)name_len, name);
    env_reload(s, load_err);
    return 0;
}

int shard_env_remove(struct shard *s, const char *name, size_t name_len, int *removed,
                     struct buf *err, struct buf *load_err)
{
    commit_batch(s, err);
    buf_reset(err);
    int r = store_env_remove(s->store, name, name_len, err);
    if (r < 0)
        return r;
    *removed = r;
    if (load_err)
        buf_reset(load_err);
    if (r) {
        log_info("app", "environment variable %.*s removed", (int)name_len, name);
        env_reload(s, load_err);
    }
    return 0;
}

int shard_call(struct shard *s, const struct js_function *fn, const char *args, size_t len,
               const struct js_call_opts *opts, struct js_result *res)
{
    /* A query outside a batch reads only committed data: it needs no batch, and its answer
     * can go out at once. Inside one it must see (and wait for) the batch's writes. */
    if (!s->batch_open && fn->kind != JS_QUERY) {
        struct buf err = BUF_INIT(4096);
        if (shard_batch_open(s, &err) < 0) {
            js_result_init(res);
            res->status = JS_ERR_INTERNAL;
            buf_append_str(&res->error, err.data);
            buf_append_str(&res->error_code, "StoreError");
            buf_release(&err);
            return -1;
        }
        buf_release(&err);
    }
    s->calls++;
    int r = js_call_ex(s->rt, fn, args, len, opts, res);
    if (r < 0)
        s->call_errors++;
    return r;
}

double shard_auth_skew_ms(const struct shard *s)
{
    return (s->auth_skew_s > 0 ? s->auth_skew_s : AUTH_CLOCK_SKEW_S) * 1000;
}

int shard_batch_open(struct shard *s, struct buf *err)
{
    if (s->batch_open)
        return 0;
    if (store_batch_begin(s->store, err) < 0)
        return -1;
    s->batch_open = 1;
    return 0;
}

static int commit_batch_as(struct shard *s, int deferred, struct buf *err)
{
    if (!s->batch_open)
        return 0;
    s->batch_open = 0;
    int r = deferred ? store_batch_commit_deferred(s->store, err)
                     : store_batch_commit(s->store, err);
    js_runtime_batch_done(s->rt, r == 0); /* stored files deleted or stored by the batch */
    if (r < 0) {
        s->batch_failures++;
        s->lost_batch = 1;
        log_error("shard", "commit of a batch failed, its writes are lost: %s", err->data);
        live_mark_all_dirty(s->live); /* results computed from the lost writes are stale */
        if (s->qcache) {
            qcache_clear(s->qcache);
            qcache_writes_committed(s->qcache); /* the lost writes are gone: nothing waits */
        }
        return -1;
    }
    if (s->qcache)
        qcache_writes_committed(s->qcache);
    s->batches++;
    return 0;
}

static int commit_batch(struct shard *s, struct buf *err)
{
    return commit_batch_as(s, 0, err);
}

/* shard_commit's and shard_commit_deferred's: commits, then reports a batch lost since. */
static int commit_reporting(struct shard *s, int deferred, struct buf *err)
{
    commit_batch_as(s, deferred, err);
    int lost = s->lost_batch;
    s->lost_batch = 0;
    return lost ? -1 : 0;
}

int shard_commit(struct shard *s, struct buf *err)
{
    return commit_reporting(s, 0, err);
}

int shard_commit_deferred(struct shard *s, struct buf *err)
{
    return commit_reporting(s, 1, err);
}

void shard_sync_wait(struct shard *s)
{
    store_sync_wait(s->store);
}

void shard_after_sync(struct shard *s)
{
    store_after_sync(s->store);
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
