/* shard: the unit of consistency — one store (SQLite file), the JS runtime running the app's
 * current bundle on it, and its live queries. Writes of one loop iteration share one SQLite
 * transaction (group commit): the first call of an iteration opens a batch, the before-sleep
 * phase commits it, and only then may anything computed in it be sent to a client.
 * Reloading swaps the runtime only if the new bundle loads (and its schema applies); otherwise
 * the old version keeps serving. */
#ifndef VR_PROTO_SHARD_H
#define VR_PROTO_SHARD_H

#include "base/buf.h"
#include "js/runtime.h"
#include "live/live.h"
#include "live/qcache.h"
#include "store/store.h"

struct action_pool;
struct reader_pool;
struct auth_keys;
struct sched;

/* An HS256 provider the server adds to the app's (`--jwt-secret`, for self-hosters). */
struct shard_jwt_secret {
    const char *secret;   /* at least JWT_MIN_HMAC_BYTES bytes; NULL: none; borrowed */
    size_t len;
    const char *issuer;   /* NULL: any iss */
    const char *audience; /* NULL: any aud */
};

struct shard {
    struct store *store;
    struct js_runtime *rt; /* NULL until a bundle has loaded */
    struct live *live;
    struct qcache *qcache; /* one-shot queries' answers (live/qcache.h; proto/http_api.c keys and
                              fills it); NULL: no cache. Dropped by every load and lost batch */
    struct js_options js_opts;
    uint64_t loads;        /* successful loads so far */
    int batch_open;
    uint64_t calls;        /* function calls from clients (HTTP and sync), for metrics */
    uint64_t call_errors;
    uint64_t batches;      /* committed batches, for metrics */
    uint64_t batch_failures;
    int lost_batch;        /* a batch failed since the last shard_commit that reported it */
    struct action_pool *actions; /* runs actions off this thread (proto/actions.h); NULL: they
                                    run inline through shard_call */
    struct reader_pool *readers; /* runs one-shot queries off this thread (proto/readers.h);
                                    NULL: they run here through shard_call */
    struct sched *sched;   /* the scheduler over `_scheduled_functions` (proto/jobs.h); sees
                              every committed write set; NULL: none */
    struct crons *crons;   /* crons.ts's jobs (proto/crons.h), checked and synced by each load;
                              NULL: none */
    char *bundle;          /* the running version's bundle (a copy), for reloads; NULL: none */
    size_t bundle_len;
    char *bundle_name;
    char *load_error;      /* why no app is loaded, when rt is NULL because its version failed
                              to load (a tenant opened with a version its data refuses); NULL:
                              none. What NoAppLoaded answers say */
    char *files_dir;       /* where stored files live (ctx.storage), or NULL: in-memory db */
    char *db_path;         /* the database file (owned), or NULL: in-memory db */
    json_t *env_file;      /* variables from a file (.env.local under `vireo dev`); those set
                              with `vireo env` (the store's) win over them; NULL: none */
    struct auth_keys *auth; /* verifies tokens (proto/auth_keys.h) against the running
                               version's auth.config providers plus jwt_secret; set by the
                               caller with the loop (NULL: every token is refused) */
    struct shard_jwt_secret jwt_secret;
    double auth_refresh_s; /* an unknown kid refetches keys at most this often; 0: the default */
    double auth_max_age_s; /* fetched keys are fetched again this long after; 0: the default */
    double auth_skew_s;    /* clock skew for exp, nbf and iat; 0: AUTH_CLOCK_SKEW_S (tests) */
    /* called with the old runtime still in place when a load replaces it (proto/actors.c runs
     * the hot actors' onDeactivate there); NULL: none */
    void (*before_replace)(void *arg);
    void *before_replace_arg;
    char *auth_config;     /* the providers' source: the running version's auth.config JSON
                              (NULL: none); a load with the same one keeps the fetched keys */
};

/* store_opts may be NULL (the defaults: full durability). */
int shard_open(const char *db_path, const struct js_options *opts,
               const struct store_options *store_opts, struct shard **out, struct buf *err);
void shard_free(struct shard *s);

/* Loads a bundle; on success it replaces the running version and every live query re-runs, and
 * the action pool (if any) gets it for the actions that start from now on. Its auth.config
 * becomes s->auth's providers (a bad one fails the load, naming the field).
 * On failure the old version stays and err says why (file and line for JS errors). */
int shard_load(struct shard *s, const char *bundle, size_t len, const char *name, struct buf *err);

/* shard_load in two halves, so that the costly one may run on another thread: shard_prepare
 * builds the version (a JS runtime over the store, the app evaluated, its schema applied; the
 * environment's text) touching only s->store and s's options, so it may run on any thread that
 * has the shard to itself (tenants.c's opener, before anything else refers to the shard);
 * shard_install (the loop thread) checks and swaps it in, shard_load's contract from there on.
 * shard_install always releases v; shard_version_release drops an uninstalled one.
 *
 * A shard the loop keeps serving meanwhile (an open tenant getting a new version) splits
 * shard_prepare again: shard_prepare_begin on the loop (commits the open batch, takes the
 * environment's text), then shard_prepare_build with defer_schema on any thread (evaluates the
 * app; touches neither the store nor s beyond reading its options), then shard_install on the
 * loop, which commits the batch open by then and applies the schema before swapping. A version
 * begun before another was installed (s->loads moved: an environment change) is refused with
 * SHARD_VERSION_STALE in err: build it again. Both halves release v when they fail. */
struct shard_version {
    struct js_runtime *rt;
    char *env_text; /* process.env as JSON text */
    uint64_t loads; /* s->loads when begun */
};
/* Records why no app is loaded (a copy; NULL clears it). shard_no_app_text: the message for a
 * request that needs the app: the recorded reason, or `dflt`. */
void shard_set_load_error(struct shard *s, const char *why);
const char *shard_no_app_text(const struct shard *s, const char *dflt);

#define SHARD_VERSION_STALE "another version was installed while this one was built"
int shard_prepare(struct shard *s, const char *bundle, size_t len, const char *name,
                  struct shard_version *v, struct buf *err);
int shard_prepare_begin(struct shard *s, struct shard_version *v, struct buf *err);
int shard_prepare_build(struct shard *s, const char *bundle, size_t len, const char *name,
                        struct shard_version *v, int defer_schema, struct buf *err);
int shard_install(struct shard *s, struct shard_version *v, const char *bundle, size_t len,
                  const char *name, struct buf *err);
void shard_version_release(struct shard_version *v);

/* Loads the running bundle again (after an environment change): same contract as shard_load.
 * 0 without a running version (nothing to reload). */
int shard_reload(struct shard *s, struct buf *err);

/* Environment variables: process.env of the next load is the file's variables (env_file, taken
 * over: the caller's reference is consumed; NULL: none; `source` names the file in warnings)
 * overlaid with the store's. Variables of the file with a bad name, a value over the limit or
 * past the count limit are dropped with a warning that names them, never their values.
 * shard_env_set / shard_env_remove change the store's (committing the open batch first, like a
 * load) and reload the running version so that every function, actions included, sees the
 * change. They return store_env_set's negative codes with err when the change is refused
 * (-EINVAL a bad name, -E2BIG a value too long, -ENOSPC too many variables, -EIO storage);
 * otherwise the change is stored and they return 0 (remove:
 * 0 also when the name was not set, *removed says), with load_err holding why the reload failed
 * (the old version keeps serving) or empty. With load_err NULL they do not reload: the caller
 * does (env_reloader.h: the new version built off the loop). shard_env_json: the effective
 * variables as a new JSON object (with the built-in CONVEX_CLOUD_URL/CONVEX_SITE_URL =
 * js_opts.public_url unless set), or NULL with err. */
void shard_set_env_file(struct shard *s, json_t *env_file, const char *source);
int shard_env_set(struct shard *s, const char *name, size_t name_len, const char *value,
                  size_t value_len, struct buf *err, struct buf *load_err);
int shard_env_remove(struct shard *s, const char *name, size_t name_len, int *removed,
                     struct buf *err, struct buf *load_err);
/* Logs that the reload after an environment change failed (why); whoever reloaded it. */
void shard_env_reload_failed(const char *why);
json_t *shard_env_json(struct shard *s, struct buf *err);

/* Calls a function inside the current batch (a mutation or action opens one if needed; a query
 * outside a batch runs on committed data). While s->batch_open, results must not reach a client
 * before shard_commit returns. */
int shard_call(struct shard *s, const struct js_function *fn, const char *args, size_t len,
               const struct js_call_opts *opts, struct js_result *res);

/* Commits the open batch, if any. -1 when it — or a batch committed on the way since the last
 * call (a reload commits first) — failed: every write of it is lost, and the answers computed
 * in it must be turned into errors. */
int shard_commit(struct shard *s, struct buf *err);
/* shard_commit with the WAL's sync deferred (store_batch_commit_deferred): the caller may re-run
 * what the batch changed, and calls shard_sync_wait before anything of the batch leaves the
 * process. A failed sync stops the process: the batch is visible in the database but perhaps
 * not on disk. */
int shard_commit_deferred(struct shard *s, struct buf *err);
void shard_sync_wait(struct shard *s);
void shard_after_sync(struct shard *s); /* store_after_sync */

/* Opens the iteration's write batch if none is open (as shard_call does). 0, or -1 with err. */
int shard_batch_open(struct shard *s, struct buf *err);
/* How long past its exp a token still verifies (ms): a session's identity lasts as long. */
double shard_auth_skew_ms(const struct shard *s);
/* Hands a committed transaction's write set to the live queries and the scheduler. */
void shard_committed(struct shard *s, const struct store_txn *txn);

/* Deletes idempotency records older than max_age_ms. */
void shard_prune(struct shard *s, double max_age_ms);

#endif
