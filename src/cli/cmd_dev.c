/* cmd_dev: `vireo dev` and `vireo serve`: bundle the app, open its shard, serve HTTP and
 * WebSocket on one port; dev also watches the functions folder (convex/ or vireo/) with inotify and reloads on change, keeping the
 * old version running when the new one does not load. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "net/loop.h"
#include "net/send_pool.h"
#include "net/server.h"
#include "auth/jwt.h"
#include "proto/actions.h"
#include "proto/auth_keys.h"
#include "proto/deploy.h"
#include "proto/deployer.h"
#include "proto/http_action.h"
#include "proto/export_job.h"
#include "proto/http_admin_import.h"
#include "proto/http_api.h"
#include "proto/http_auth.h"
#include "proto/jobs.h"
#include "proto/shard.h"
#include "proto/sync.h"
#include "proto/tenant.h"
#include "proto/tenants.h"
#include "store/store.h"
#include "base/banned.h"

#define BUNDLE_FILE_MAX (256u << 20)

static const char dev_usage[] =
    "usage: vireo %s [dir] [options]\n"
    "\n"
    "%s\n"
    "\n"
    "options:\n"
    "  --host ADDR        address to listen on (default 127.0.0.1)\n"
    "  --port N           port to listen on (default 8788; 0 picks a free one)\n"
    "  --data FILE        the SQLite database (default dir/.vireo/data/shard-0.db)\n"
    "%s"
    "  --timeout-ms N     CPU time limit of a query or mutation (default 1000)\n"
    "  --max-body N       largest request body in bytes (default 16777216)\n"
    "  --max-upload-mb N  largest file upload to an upload URL, or stored by an action's\n"
    "                     ctx.storage.store(), in MiB (default 16; uploads are streamed to\n"
    "                     disk, so --max-body does not bound them)\n"
    "  --max-import-mb N  largest file `vireo import` sends (POST /api/admin/import), in MiB\n"
    "                     (default 256; streamed to disk, so --max-body does not bound it)\n"
    "  --upload-url-ttl-s N  how long an upload URL (storage.generateUploadUrl()) works, in\n"
    "                     seconds (default 3600)\n"
    "  --public-url URL   the origin ctx.storage's URLs start with (default http://HOST:PORT)\n"
    "  --jwt-secret S     accept HS256 tokens signed with S (at least 32 bytes; or the\n"
    "                     environment variable VIREO_JWT_SECRET), beside auth.config's providers\n"
    "  --jwt-issuer ISS   with --jwt-secret: the `iss` those tokens must carry (default: any)\n"
    "  --jwt-audience AUD with --jwt-secret: the `aud` they must hold (default: any)\n"
    "  --max-http-action-body N  largest request body of an HTTP action in bytes (default\n"
    "                     8388608, at most 12000000)\n"
    "  --max-http-action-response N  largest streamed response body of an HTTP action in bytes\n"
    "                     (default 20971520)\n"
    "  --max-message N    largest WebSocket message in bytes (default 16777216)\n"
    "  --max-send-queue N bytes queued for a WebSocket client that does not read before it is\n"
    "                     cut off with close code 1008 (default 16777216)\n"
    "  --session-retention-ms N  how long a disconnected sync session is kept for resume\n"
    "                     (default 300000)\n"
    "  --idempotency-hours N  how long mutation idempotency keys are kept (default 24)\n"
    "  --scheduled-retention-ms N  how long a finished scheduled function stays in\n"
    "                     _scheduled_functions (default 604800000: 7 days, as Convex)\n"
    "  --durability MODE  full (default): every batch of writes is synced to disk before it is\n"
    "                     acknowledged; relaxed: synced every ~200 ms, so an OS crash or power\n"
    "                     loss may lose the last acknowledged writes (a process crash does not)\n"
    "  --max-queries-per-session N  live queries one sync session may hold (default 1000)\n"
    "  --convex-ping-interval-ms N  how often a quiet Convex sync connection (/api/<version>/sync)\n"
    "                     is sent a Ping, keeping the client's 60 s inactivity timer from firing\n"
    "                     (default 15000)\n"
    "  --max-retained-sessions N  disconnected sync sessions kept for resume, oldest evicted\n"
    "                     first (default 10000)\n"
    "  --max-retained-sessions-per-address N  the same per client IP address (default 100)\n"
    "  --max-connections N  open connections before new ones get 503 (default 100000, lowered\n"
    "                     to what the open file limit allows)\n"
    "  --max-buffered-bytes N  input and output buffered across all connections before new\n"
    "                     requests get 503 (default 1073741824)\n"
    "  --ws-ping-interval-ms N  server ping to each WebSocket (default 25000; 0: never, unless\n"
    "                     --ws-idle-timeout-ms is set, then every half of it)\n"
    "  --ws-idle-timeout-ms N  close a WebSocket that sent nothing, not even a pong, for this\n"
    "                     long with 1001 (default 60000; 0: none)\n"
    "  --query-threads N  threads that run one-shot queries (POST /api/query) on snapshots of\n"
    "                     the database, apart from the loop thread (default 1; 0: on the loop\n"
    "                     thread; the environment's VIREO_QUERY_THREADS changes the default)\n"
    "  --max-queued-queries N  queries queued or running on those threads before\n"
    "                     ServerOverloaded (default 1000)\n"
    "  --query-cache-mb N MiB of cached query answers (POST /api/query), every tenant's\n"
    "                     together; an answer is dropped when a write touches what it read\n"
    "                     (default 64; 0: no cache)\n"
    "  --vector-cache-mb N MiB of vector indexes held in memory for ctx.vectorSearch, every\n"
    "                     tenant's together; an index larger is searched from the database\n"
    "                     (default 256; 0: none)\n"
    "  --action-threads N threads that run actions, apart from queries and mutations (default 2)\n"
    "  --send-threads N   threads that write one commit's transitions when they go to 256\n"
    "                     or more WebSockets, the loop's own included (0 to 16; default 2\n"
    "                     with 2 or more cores, else 1; 0 or 1: the loop writes alone)\n"
    "  --action-timeout-ms N  CPU time limit of an action (default 600000)\n"
    "  --max-scheduled-functions N  pending scheduled functions in all before\n"
    "                     ctx.scheduler throws (default 1000000)\n"
    "  --scheduler-batch N  scheduled functions started per loop iteration\n"
    "                     (default 64)\n"
    "  --max-pending-actions N  actions queued or running before new ones get\n"
    "                     ServerOverloaded (default 1000)\n"
    "  --actions-per-worker N  actions one action thread holds in flight while they\n"
    "                     await fetch, timers or nested calls (default 64)\n"
    "  --max-concurrent-fetches N  fetch() requests in flight in all actions before\n"
    "                     fetch rejects (default 256)\n"
    "  --fetch-timeout-ms N  default time limit of one fetch() (default 300000)\n"
    "  --fetch-max-response-mb N  largest fetch() response body (default 64)\n"
    "  --memory-limit-mb N  JS heap a function may grow to before it fails with MemoryLimit\n"
    "                     (default 256)\n"
    "  --min-body-rate N  bytes/s a request body must average after its first 10 s, else 408\n"
    "                     (default 1024; 0: none)\n"
    "  --send-stall-timeout-ms N  close a connection whose output gets no byte written for this\n"
    "                     long; WebSocket: 1008 \"send stalled\" (default 30000)\n"
    "  --tenants          serve one shard per tenant under /t/<tenant>/… (each its own\n"
    "                     database in dir/.vireo/data/tenants/<tenant>/, opened on first use,\n"
    "                     created if new; docs/tenants.md)\n"
    "  --max-open-tenants N  tenants open at once; the least recently used idle one is closed\n"
    "                     to open another (default 256)\n"
    "  --max-tenants N    tenants on disk before a new name gets 507 (default 100000)\n"
    "  --tenant-idle-ms N close a tenant unused this long (default 300000; 0: never)\n"
    "  --tenant-open-threads N  tenants opened at once, each on a thread of its own, off the\n"
    "                     event loop; a deploy builds the open tenants' new version on them too\n"
    "                     (default 2)\n"
    "  --max-parked-per-tenant N  requests waiting for one tenant to open; past it 503\n"
    "                     TooManyParkedRequests (default 256)\n"
    "  --max-parked-requests N  requests waiting for any tenant to open (default 4096)\n"
    "  --actor-idle-ms N  deactivate an actor instance no connection touches after this long\n"
    "                     (onDeactivate, then out of memory; default 60000)\n"
    "  --max-actors-per-connection N  actor instances one connection may touch (default 1000)\n"
    "  --max-actor-instances N     actor instances in memory at once (default 50000)\n"
    "  --actor-method-timeout-ms N  wall-clock limit of an actor method that awaits timers\n"
    "                     (default 600000)\n"
    "  --max-suspended-actor-calls N  actor method calls waiting at once per shard (default\n"
    "                     1000)\n"
    "  --max-connections-per-tenant N  sync WebSockets per tenant; past it an upgrade gets 429\n"
    "                     TenantConnectionLimit (default 100; 0: no limit)\n"
    "  --max-tenant-storage-mb N  the most a shard (each tenant, or the single shard) may store:\n"
    "                     its database's pages in use plus its stored files, in MiB; past it\n"
    "                     writes that grow it get StorageLimitExceeded (default 0: no limit)\n"
    "  --max-messages-per-second N  messages per second on one sync connection (a burst of twice\n"
    "                     as many); past it RateLimited (default 50 with --tenants, else none;\n"
    "                     0: no limit)\n"
    "  --tenant-header NAME  a request outside /t/ goes to the tenant this header names (for a\n"
    "                     proxy that sets it)\n"
    "  --tenant-claim NAME  with --tenants: a verified token must carry this claim naming the\n"
    "                     tenant it is used on (else 403 TenantMismatch)\n"
    "  --tenant-create MODE  auto (default): a request to a new tenant creates it; admin: only\n"
    "                     POST /api/admin/tenants/create does, others get 404 TenantNotFound\n"
    "  --verbose          log debug lines\n"
    "  -h, --help         show this help\n";

struct dev {
    struct loop *loop;
    struct server *server;
    struct send_pool *send_pool; /* --send-threads past 1; NULL: the loop writes alone */
    struct qcache_pool *query_cache; /* --query-cache-mb; NULL: 0, no cache */
    struct thread_jobs *exports; /* GET /api/admin/export's snapshots (export_job.h) */
    struct thread_jobs *imports; /* POST /api/admin/import's parsing (http_admin_import.h) */
    struct tenant_options topts;
    struct tenant *t; /* the single shard and what serves it; NULL with --tenants */
    struct tenants *ts; /* --tenants: the registry; NULL without */
    json_t *env_file;   /* `vireo dev --tenants`: .env.local's variables for every tenant */
    struct app_paths paths;
    char bundle_name[1100]; /* "convex/": what logs and stack traces call the app's code */
    const char *bundle_file; /* serve --bundle FILE: load it instead of bundling; borrowed */
    int watch;
    int inotify_fd;
    struct timer reload_timer;
    struct timer shutdown_timer;
    int stopping;
    int reload_again; /* --tenants: a change came while a version was loading into them */
};

/* The bundle file of `vireo serve --bundle FILE` (cmd_build.c wrote it): no esbuild needed. */
/* tenants_load's end: the open tenants have the version (or kept theirs). */
static void tenants_loaded(struct tenants *ts, int rc, const char *err, size_t loaded, void *arg)
{
    struct dev *d = arg;
    if (d->stopping)
        return;
    if (rc < 0)
        log_error("dev", "%s\n(the previous version keeps running)", err);
    if (d->reload_again) { /* from the loop, not from inside tenants_load's callback */
        d->reload_again = 0;
        loop_timer_start(d->loop, &d->reload_timer, 0);
    }
}

/* The app version: into the single shard, or every tenant (tenants_load: loaded into the open
 * ones off the loop thread, tenants_loaded logs how that ended). */
static int load_version(struct dev *d, const char *js, size_t len, const char *name,
                        struct buf *err)
{
    if (!d->ts)
        return tenant_load(d->t, js, len, name, err);
    if (tenants_load(d->ts, js, len, name, d->env_file, tenants_loaded, d, err) == 0)
        return 0;
    if (strcmp(err->data, TENANTS_LOAD_BUSY) != 0)
        return -1;
    d->reload_again = 1;
    log_info("dev", "a version is still loading into the open tenants: this change loads after");
    return 0;
}

static int load_bundle_file(struct dev *d, struct buf *err)
{
    struct buf file = BUF_INIT(BUNDLE_FILE_MAX);
    char name[DEPLOY_NAME_MAX];
    size_t off;
    int r = read_file(d->bundle_file, &file);
    if (r < 0)
        buf_appendf(err, "cannot read %s: %s", d->bundle_file,
                    r == -E2BIG ? "larger than 256 MiB" : strerror(-r));
    else if ((r = deploy_parse(file.data, file.len, name, &off, err)) < 0)
        buf_appendf(err, " (%s)", d->bundle_file);
    else
        r = load_version(d, file.data + off, file.len - off, name, err);
    buf_release(&file);
    return r;
}

static int load_app(struct dev *d)
{
    struct buf bundle = BUF_INIT(BUF_NOLIMIT), err = BUF_INIT(1 << 20);
    if (d->watch) { /* `vireo dev` only: .env.local, under the variables `vireo env` set */
        char env_path[4400];
        snprintf(env_path, sizeof env_path, "%s/.env.local", d->paths.root);
        json_t *env = dotenv_read(env_path, ".env.local");
        if (d->ts) {
            json_decref(d->env_file);
            d->env_file = env;
        } else {
            shard_set_env_file(d->t->shard, env, ".env.local");
        }
    }
    int r;
    if (d->bundle_file) {
        r = load_bundle_file(d, &err);
    } else {
        r = app_bundle(&d->paths, &bundle, &err);
        if (r == 0)
            r = load_version(d, bundle.data, bundle.len, d->bundle_name, &err);
    }
    if (r < 0) {
        log_error("dev", "%s%s", err.data,
                  d->ts || d->t->shard->rt ? "\n(the previous version keeps running)" : "");
    }
    buf_release(&bundle);
    buf_release(&err);
    return r;
}

/* --- watching --- */

static int watch_tree(int fd, const char *dir)
{
    if (inotify_add_watch(fd, dir,
                          IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                              IN_DELETE_SELF | IN_ONLYDIR) < 0)
        return -errno;
    char cmd_dir[4400];
    snprintf(cmd_dir, sizeof cmd_dir, "%s", dir);
    DIR *dp = opendir(cmd_dir);
    if (!dp)
        return 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "_generated") ||
            !strcmp(de->d_name, "node_modules"))
            continue;
        if (de->d_type == DT_DIR) {
            char sub[4700];
            snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
            watch_tree(fd, sub);
        }
    }
    closedir(dp);
    return 0;
}

static void reload_fire(struct loop *l, struct timer *t)
{
    struct dev *d = t->arg;
    log_info("dev", "change detected, reloading");
    load_app(d);
}

static void on_inotify(struct loop *l, int fd, uint32_t events, void *arg)
{
    struct dev *d = arg;
    char evbuf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int relevant = 0, new_dir = 0;
    for (;;) {
        ssize_t n = read(fd, evbuf, sizeof evbuf);
        if (n <= 0)
            break;
        for (char *p = evbuf; p < evbuf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->len && (ev->name[0] == '.' || !strcmp(ev->name, "_generated")))
                continue;
            if (ev->mask & IN_ISDIR)
                new_dir = 1;
            relevant = 1;
        }
    }
    if (new_dir)
        watch_tree(fd, d->paths.functions);
    if (relevant)
        loop_timer_start(l, &d->reload_timer, 100);
}

/* --- shutdown --- */

static void shutdown_fire(struct loop *l, struct timer *t)
{
    loop_stop(l);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
    struct dev *d = arg;
    if (d->stopping) {
        log_warn("dev", "second signal, stopping now");
        loop_stop(l);
        return;
    }
    d->stopping = 1;
    log_info("dev", "shutting down (signal %d)", signo);
    server_shutdown(d->server);
    if (d->ts)
        tenants_stop(d->ts);
    else
        tenant_stop(d->t, HTTP_API_SHUTDOWN);
    loop_timer_start(l, &d->shutdown_timer, 5000); /* in-flight work gets 5 s */
}

/* The end of every loop iteration, before the server writes to sockets: commit the batch of
 * writes this iteration made, then push live-query changes and the answers held back for it. */
static void before_sleep(struct loop *l, void *arg)
{
    struct dev *d = arg;
    if (d->ts ? tenants_flush(d->ts) : tenant_flush(d->t))
        loop_wake(l); /* the scheduler wrote: commit that too before sleeping */
    if (d->stopping && server_conn_count(d->server) == 0)
        loop_stop(l);
}

/* --- options --- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > max)
        return -1;
    *out = v;
    return 0;
}

struct num_opt {
    const char *name;
    unsigned long *v;
    unsigned long min, max;
    const char *what; /* "a number of milliseconds": what the error says the value must be */
};

static const struct num_opt *find_num_opt(const struct num_opt *opts, size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(opts[i].name, a))
            return &opts[i];
    return NULL;
}

int cmd_dev(int argc, char **argv, int watch)
{
    const char *name = watch ? "dev" : "serve";
    const char *dir = ".", *host = "127.0.0.1", *data = NULL, *bundle_file = NULL;
    unsigned long memory_limit_mb = 256;
    unsigned long port = 8788, timeout_ms = 1000, max_body = 16u << 20, max_message = 16u << 20;
    unsigned long retention_ms = 300000, idem_hours = 24, max_send_queue = 16u << 20;
    unsigned long max_queries = 1000, max_retained = 10000, max_retained_addr = 100;
    unsigned long max_conns = 100000, max_buffered = 1ul << 30, ws_ping_ms = 25000;
    unsigned long ws_idle_ms = 60000, convex_ping_ms = 15000;
    unsigned long min_body_rate = 1024, send_stall_ms = 30000;
    unsigned long actor_idle_ms = 60000, max_actors_per_conn = 1000, max_actor_instances = 50000;
    unsigned long actor_method_timeout_ms = 600000, max_suspended_actor_calls = 1000;
    unsigned long max_open_tenants = 256, max_tenants = 100000, tenant_idle_ms = 300000;
    unsigned long tenant_open_threads = 2, max_parked_per_tenant = 256, max_parked = 4096;
    int tenants_mode = 0, tenant_create_admin = 0;
    const char *tenant_header = NULL, *tenant_claim = NULL;
    unsigned long max_tenant_storage_mb = 0;
    unsigned long max_conns_per_tenant = 100, max_msgs_per_s = ULONG_MAX; /* unset: see below */
    unsigned long auth_refresh_s = 60; /* tests only: --test-auth-refresh-s */
    unsigned long auth_max_age_s = 3600; /* tests only: --test-auth-keys-max-age-s */
    unsigned long auth_skew_s = 60;      /* tests only: --test-auth-clock-skew-s */
    unsigned long action_threads = 2, action_timeout_ms = 600000, max_pending_actions = 1000;
    unsigned long max_scheduled = 1000000, sched_batch = 64;
    unsigned long query_threads = 1, max_queued_queries = 1000, query_cache_mb = 64;
    unsigned long vector_cache_mb = STORE_VECTOR_CACHE_MB_DEFAULT;
    unsigned long send_threads = ULONG_MAX; /* unset: send_threads_default() */
    const char *qt_env = getenv("VIREO_QUERY_THREADS"); /* tests: the suite in either mode */
    if (qt_env && *qt_env && strspn(qt_env, "0123456789") == strlen(qt_env) && strlen(qt_env) < 4)
        query_threads = strtoul(qt_env, NULL, 10);
    unsigned long job_retention_ms = 7ul * 24 * 3600 * 1000;
    unsigned long max_http_action_body = HTTP_ACTION_BODY_DEFAULT;
    unsigned long max_http_action_response = HTTP_ACTION_RESPONSE_DEFAULT;
    unsigned long per_worker = 64, max_fetches = 256, fetch_timeout_ms = 300000,
                  fetch_max_mb = 64, max_upload_mb = 16, upload_url_ttl_s = 3600;
    unsigned long max_import_mb = IMPORT_BYTES_DEFAULT >> 20;
    const char *public_url_opt = NULL;
    const char *jwt_secret = getenv("VIREO_JWT_SECRET"), *jwt_issuer = NULL, *jwt_audience = NULL;
    static char public_url[512]; /* filled once the port is known; runtimes read it per call */
    int test_echo = 0;
    struct store_options store_opts = { .durability = STORE_DURABILITY_FULL };
    /* every numeric option: its variable, the range it accepts, what its value counts */
    const struct num_opt num_opts[] = {
        {"--port", &port, 0, 65535, "a number"},
        {"--test-auth-refresh-s", &auth_refresh_s, 1, 3600, "a number of seconds"},
        {"--test-auth-keys-max-age-s", &auth_max_age_s, 1, 86400, "a number of seconds"},
        {"--test-auth-clock-skew-s", &auth_skew_s, 1, 600, "a number of seconds"},
        {"--timeout-ms", &timeout_ms, 1, 3600000, "a number of milliseconds"},
        {"--memory-limit-mb", &memory_limit_mb, 1, 1ul << 20, "a number of MiB"},
        {"--max-body", &max_body, 0, 1ul << 30, "a byte count"},
        {"--max-message", &max_message, 0, 1ul << 30, "a byte count"},
        {"--max-http-action-body", &max_http_action_body, 1, HTTP_ACTION_BODY_MAX, "a byte count"},
        {"--max-http-action-response", &max_http_action_response, 1, 1ul << 40, "a byte count"},
        {"--max-send-queue", &max_send_queue, 1024, 1ul << 32, "a byte count"},
        {"--session-retention-ms", &retention_ms, 1, 7ul * 24 * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-queries-per-session", &max_queries, 1, 1ul << 24, "a number"},
        {"--max-retained-sessions", &max_retained, 1, 1ul << 24, "a number"},
        {"--max-retained-sessions-per-address", &max_retained_addr, 1, 1ul << 24, "a number"},
        {"--idempotency-hours", &idem_hours, 1, 24ul * 365, "a number of hours"},
        {"--scheduled-retention-ms", &job_retention_ms, 1000, 365ul * 24 * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-connections", &max_conns, 1, 10000000, "a number"},
        {"--max-buffered-bytes", &max_buffered, 65536, 1ul << 40, "a byte count"},
        {"--ws-ping-interval-ms", &ws_ping_ms, 0, 24ul * 3600 * 1000, "a number of milliseconds"},
        {"--convex-ping-interval-ms", &convex_ping_ms, 10, 59000, "a number of milliseconds"},
        {"--ws-idle-timeout-ms", &ws_idle_ms, 0, 24ul * 3600 * 1000, "a number of milliseconds"},
        {"--action-threads", &action_threads, 1, 256, "a number"},
        {"--query-threads", &query_threads, 0, 64, "a number"},
        {"--send-threads", &send_threads, 0, SEND_POOL_MAX_THREADS, "a number"},
        {"--max-queued-queries", &max_queued_queries, 1, 1000000, "a number"},
        {"--query-cache-mb", &query_cache_mb, 0, 1ul << 20, "a number of MiB"},
        {"--vector-cache-mb", &vector_cache_mb, 0, 1ul << 20, "a number of MiB"},
        {"--action-timeout-ms", &action_timeout_ms, 1, 24ul * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-pending-actions", &max_pending_actions, 1, 1000000, "a number"},
        {"--actions-per-worker", &per_worker, 1, 100000, "a number"},
        {"--max-concurrent-fetches", &max_fetches, 1, 100000, "a number"},
        {"--fetch-timeout-ms", &fetch_timeout_ms, 1, 24ul * 3600 * 1000,
         "a number of milliseconds"},
        {"--fetch-max-response-mb", &fetch_max_mb, 1, 4096, "a number of MiB"},
        {"--max-upload-mb", &max_upload_mb, 1, 1ul << 20, "a number of MiB"},
        {"--max-import-mb", &max_import_mb, 1, 1ul << 20, "a number of MiB"},
        {"--upload-url-ttl-s", &upload_url_ttl_s, 1, 7ul * 24 * 3600, "a number of seconds"},
        {"--max-scheduled-functions", &max_scheduled, 1, 100000000, "a number"},
        {"--scheduler-batch", &sched_batch, 1, 100000, "a number"},
        {"--min-body-rate", &min_body_rate, 0, 1ul << 30, "a number of bytes per second"},
        {"--send-stall-timeout-ms", &send_stall_ms, 100, 24ul * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-open-tenants", &max_open_tenants, 1, 1000000, "a number"},
        {"--max-tenants", &max_tenants, 1, 100000000, "a number"},
        {"--tenant-open-threads", &tenant_open_threads, 1, 64, "a number of threads"},
        {"--max-parked-per-tenant", &max_parked_per_tenant, 1, 1000000, "a number"},
        {"--max-parked-requests", &max_parked, 1, 10000000, "a number"},
        {"--max-connections-per-tenant", &max_conns_per_tenant, 0, 10000000, "a number"},
        {"--max-tenant-storage-mb", &max_tenant_storage_mb, 0, 1ul << 24, "a number of MiB"},
        {"--max-messages-per-second", &max_msgs_per_s, 0, 1000000, "a number"},
        {"--tenant-idle-ms", &tenant_idle_ms, 0, 7ul * 24 * 3600 * 1000,
         "a number of milliseconds"},
        {"--actor-idle-ms", &actor_idle_ms, 100, 7ul * 24 * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-actors-per-connection", &max_actors_per_conn, 1, 1000000, "a number"},
        {"--max-actor-instances", &max_actor_instances, 1, 100000000, "a number"},
        {"--actor-method-timeout-ms", &actor_method_timeout_ms, 100, 7ul * 24 * 3600 * 1000,
         "a number of milliseconds"},
        {"--max-suspended-actor-calls", &max_suspended_actor_calls, 1, 1000000, "a number"},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        const struct num_opt *o;
        int eq = !strncmp(a, "--durability=", 13); /* --durability=MODE or --durability MODE */
        if (eq)
            val = a + 13;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf(dev_usage, name,
                   watch ? "Bundles the functions folder (dir/convex, convex.json's `functions`, or dir/vireo)\nwith esbuild, serves it and reloads it whenever a file "
                           "changes;\nprints function logs. A version that fails to load is "
                           "reported and the old one keeps serving."
                         : "Bundles the functions folder (dir/convex, convex.json's `functions`, or "
                           "dir/vireo)\nonce and serves it (production: no watching).",
                   watch ? ""
                         : "  --bundle FILE      serve this file from `vireo build` instead of "
                           "bundling dir:\n"
                           "                     needs neither Node nor esbuild\n");
            return 0;
        } else if (!strcmp(a, "--verbose")) {
            log_min_level = LOG_DEBUG;
        } else if (!strcmp(a, "--tenants")) {
            tenants_mode = 1;
        } else if (!strcmp(a, "--test-echo")) {
            test_echo = 1;
        } else if (a[0] == '-' && !val) {
            fprintf(stderr, "vireo %s: option %s needs a value\n", name, a);
            return 2;
        } else if (!strcmp(a, "--test-fail-commit")) { /* tests only: see store_options */
            store_opts.test_fail_table = argv[++i];
        } else if (!strcmp(a, "--test-fail-sync")) { /* tests only: see store_options */
            store_opts.test_fail_sync_table = argv[++i];
        } else if (!strcmp(a, "--public-url")) {
            public_url_opt = argv[++i];
            if (strlen(public_url_opt) >= sizeof public_url ||
                (strncmp(public_url_opt, "http://", 7) && strncmp(public_url_opt, "https://", 8))) {
                fprintf(stderr, "vireo %s: --public-url needs an http:// or https:// URL\n", name);
                return 2;
            }
        } else if (!strcmp(a, "--tenant-header")) {
            tenant_header = argv[++i];
            if (!*tenant_header || strpbrk(tenant_header, " \t\r\n:")) {
                fprintf(stderr, "vireo %s: --tenant-header needs a header name\n", name);
                return 2;
            }
        } else if (!strcmp(a, "--tenant-claim")) {
            tenant_claim = argv[++i];
            if (!*tenant_claim) {
                fprintf(stderr, "vireo %s: --tenant-claim needs a claim name\n", name);
                return 2;
            }
        } else if (!strcmp(a, "--tenant-create")) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") && strcmp(v, "admin")) {
                fprintf(stderr, "vireo %s: --tenant-create needs auto or admin\n", name);
                return 2;
            }
            tenant_create_admin = !strcmp(v, "admin");
        } else if (!strcmp(a, "--host")) {
            host = argv[++i];
        } else if (!strcmp(a, "--jwt-secret")) {
            jwt_secret = argv[++i];
        } else if (!strcmp(a, "--jwt-issuer")) {
            jwt_issuer = argv[++i];
        } else if (!strcmp(a, "--jwt-audience")) {
            jwt_audience = argv[++i];
        } else if (!strcmp(a, "--data")) {
            data = argv[++i];
        } else if (!strcmp(a, "--bundle")) {
            if (watch) {
                fprintf(stderr, "vireo dev: --bundle is for `vireo serve` (dev bundles and "
                                "watches the app folder)\n");
                return 2;
            }
            bundle_file = argv[++i];
        } else if (eq || !strcmp(a, "--durability")) {
            i += !eq;
            if (!strcmp(val, "full")) {
                store_opts.durability = STORE_DURABILITY_FULL;
            } else if (!strcmp(val, "relaxed")) {
                store_opts.durability = STORE_DURABILITY_RELAXED;
            } else {
                fprintf(stderr, "vireo %s: --durability needs full or relaxed\n", name);
                return 2;
            }
        } else if ((o = find_num_opt(num_opts, sizeof num_opts / sizeof *num_opts, a))) {
            if (parse_uint(argv[++i], o->max, o->v) < 0 || *o->v < o->min) {
                fprintf(stderr, "vireo %s: %s needs %s from %lu to %lu\n", name, a, o->what,
                        o->min, o->max);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "vireo %s: unknown option %s (see vireo %s --help)\n", name, a, name);
            return 2;
        } else {
            dir = a;
        }
    }

    if (tenants_mode && data) {
        fprintf(stderr, "vireo %s: --data names the single shard's database; with --tenants each "
                        "tenant's is dir/.vireo/data/tenants/<tenant>/shard.db\n", name);
        return 2;
    }
    if (jwt_secret && !*jwt_secret)
        jwt_secret = NULL; /* VIREO_JWT_SECRET= (empty): none */
    if (jwt_secret && strlen(jwt_secret) < JWT_MIN_HMAC_BYTES) {
        fprintf(stderr,
                "vireo %s: the JWT secret (--jwt-secret or VIREO_JWT_SECRET) is %zu bytes; an "
                "HS256 secret needs at least %d (e.g. `openssl rand -base64 48`)\n",
                name, strlen(jwt_secret), JWT_MIN_HMAC_BYTES);
        return 2;
    }
    if ((jwt_issuer || jwt_audience) && !jwt_secret) {
        fprintf(stderr, "vireo %s: --jwt-issuer and --jwt-audience go with --jwt-secret\n", name);
        return 2;
    }

    /* Block SIGINT/SIGTERM before JavaScriptCore starts its threads: they inherit the mask, so
     * the signals reach only the loop's signalfd and shutdown stays graceful. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct dev d = { .watch = watch, .inotify_fd = -1 };
    int rc = 1, lock_fd = -1;
    char admin_key[65], admin_key_path[4400], data_path[4400], lock_path[4400], public_dir[4400], deploy_path[4400];
    struct buf err = BUF_INIT(1 << 20);

    if (app_paths_init(&d.paths, dir) < 0) {
        fprintf(stderr, "vireo %s: cannot open app folder %s: %s\n", name, dir, strerror(errno));
        goto out;
    }
    d.bundle_file = bundle_file;
    if (!bundle_file && app_check_functions(&d.paths, &err) < 0) {
        fprintf(stderr, "vireo %s: %s\n", name, err.data);
        goto out;
    }
    snprintf(d.bundle_name, sizeof d.bundle_name, "%s/", d.paths.functions_rel);
    struct buf key_err = BUF_INIT(8192);
    int key_created = app_admin_key(&d.paths, 1, admin_key, &key_err);
    if (key_created < 0)
        fprintf(stderr, "vireo %s: %s\n", name, key_err.data);
    buf_release(&key_err);
    if (key_created < 0)
        goto out;
    int r = app_state_dirs(&d.paths);
    if (r < 0) {
        fprintf(stderr, "vireo %s: cannot write %s: %s\n", name, d.paths.state, strerror(-r));
        goto out;
    }
    snprintf(lock_path, sizeof lock_path, "%s/lock", d.paths.data);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "vireo %s: another vireo server is running on %s\n", name, d.paths.root);
        goto out;
    }
    if (data)
        snprintf(data_path, sizeof data_path, "%s", data);
    else
        snprintf(data_path, sizeof data_path, "%s/shard-0.db", d.paths.data);
    struct tenant_options *to = &d.topts;
    to->js = (struct js_options){ .timeout_ms = (uint32_t)timeout_ms,
                                  .action_timeout_ms = (uint32_t)action_timeout_ms,
                                  .memory_limit_mb = (uint32_t)memory_limit_mb,
                                  .upload_url_ttl_s = (uint32_t)upload_url_ttl_s,
                                  .public_url = public_url,
                                  .max_file_bytes = (size_t)max_upload_mb << 20 };
    store_opts.max_bytes = (uint64_t)max_tenant_storage_mb << 20;
    to->store = store_opts;
    to->jwt_secret = (struct shard_jwt_secret){ .secret = jwt_secret,
                                                .len = jwt_secret ? strlen(jwt_secret) : 0,
                                                .issuer = jwt_issuer,
                                                .audience = jwt_audience };
    to->auth_refresh_s = (double)auth_refresh_s;
    to->auth_max_age_s = (double)auth_max_age_s;
    to->auth_skew_s = (double)auth_skew_s;
    to->actions = (struct action_pool_options){ .threads = (unsigned)action_threads,
                                                .max_pending = (unsigned)max_pending_actions,
                                                .per_worker = (unsigned)per_worker,
                                                .max_fetches = (unsigned)max_fetches,
                                                .fetch_timeout_ms = (uint32_t)fetch_timeout_ms,
                                                .fetch_max_response = (size_t)fetch_max_mb
                                                                      << 20 };
    to->readers = (struct reader_pool_options){ .threads = (unsigned)(query_threads > 64 ? 64
                                                                      : query_threads),
                                                .max_queued = (unsigned)max_queued_queries };
    to->jobs = (struct jobs_options){ .per_iteration = (unsigned)sched_batch,
                                      .max_pending = (uint32_t)max_scheduled };
    to->idempotency_ms = (double)idem_hours * 3600 * 1000;
    to->job_retention_ms = (double)job_retention_ms;
    to->sync = (struct sync_options){ .session_retention_ms = (uint32_t)retention_ms,
                                      .max_queries_per_session = max_queries,
                                      .max_retained_sessions = max_retained,
                                      .max_retained_per_address = max_retained_addr,
                                      .max_send_queue = max_send_queue,
                                      .convex_ping_ms = (uint32_t)convex_ping_ms,
                                      /* Zeroback's 50 per connection with --tenants; a single
                                         shard keeps no limit unless asked */
                                      .max_messages_per_second =
                                          (uint32_t)(max_msgs_per_s != ULONG_MAX ? max_msgs_per_s
                                                     : tenants_mode           ? 50
                                                                              : 0) };
    to->actors = (struct actors_options){ .max_message = max_message,
                                          .max_messages_per_second =
                                              to->sync.max_messages_per_second,
                                          .max_instances_per_conn = max_actors_per_conn,
                                          .max_instances = max_actor_instances,
                                          .idle_ms = (uint32_t)actor_idle_ms,
                                          .method_timeout_ms =
                                              (uint32_t)actor_method_timeout_ms,
                                          .max_suspended =
                                              (uint32_t)max_suspended_actor_calls,
                                          .max_fetches = (unsigned)max_fetches,
                                          .fetch_timeout_ms = (uint32_t)fetch_timeout_ms,
                                          .fetch_max_response = (size_t)fetch_max_mb << 20 };
    to->api.admin_key = admin_key;
    to->tenant_claim = tenant_claim;
    snprintf(admin_key_path, sizeof admin_key_path, "%s/admin_key", d.paths.state);
    to->api.admin_key_path = admin_key_path;
    to->api.test_echo = test_echo;
    to->api.max_http_action_body = max_http_action_body;
    to->api.max_http_action_response = max_http_action_response;
    to->api.max_upload_bytes = (size_t)max_upload_mb << 20;
    to->api.max_import_bytes = (size_t)max_import_mb << 20;
    snprintf(public_dir, sizeof public_dir, "%s/public", d.paths.root);
    to->api.public_dir = path_exists(public_dir) ? public_dir : NULL;
    snprintf(deploy_path, sizeof deploy_path, "%s/deployed.js", d.paths.state);
    to->api.deploy_path = deploy_path;

    if (send_threads == ULONG_MAX) /* the default: a second thread when there is a second core */
        send_threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    if (send_threads > 1 && !(d.send_pool = send_pool_new((unsigned)send_threads, &err))) {
        fprintf(stderr, "vireo %s: %s\n", name, err.data);
        goto out;
    }
    to->sync.send_pool = d.send_pool;
    d.query_cache = qcache_pool_new((size_t)query_cache_mb << 20);
    store_vector_cache_limit((size_t)vector_cache_mb << 20);
    to->query_cache = d.query_cache;

    d.loop = loop_new();
    d.exports = thread_jobs_new(d.loop, EXPORTS_MAX); /* GET /api/admin/export */
    to->api.exports = d.exports;
    d.imports = thread_jobs_new(d.loop, IMPORTS_MAX); /* POST /api/admin/import */
    to->api.imports = d.imports;
    if (tenants_mode) {
        snprintf(data_path, sizeof data_path, "%s/tenants", d.paths.data);
        struct tenants_options tso = { .dir = data_path,
                                       .max_open = max_open_tenants,
                                       .max_tenants = max_tenants,
                                       .idle_ms = tenant_idle_ms,
                                       .create_by_admin = tenant_create_admin,
                                       .max_conns_per_tenant = max_conns_per_tenant,
                                       .header = tenant_header,
                                       .open_threads = tenant_open_threads,
                                       .max_parked_per_tenant = max_parked_per_tenant,
                                       .max_parked = max_parked,
                                       .tenant = to };
        if (!(d.ts = tenants_new(d.loop, &tso, &err))) {
            fprintf(stderr, "vireo %s: %s\n", name, err.data);
            goto out;
        }
    } else if (!(d.t = tenant_open(d.loop, "", data_path, to, &err))) {
        fprintf(stderr, "vireo %s: cannot open %s: %s\n", name, data_path, err.data);
        goto out;
    } else {
        /* what a snapshot export killed mid-way left (its folder: the database's, two up) */
        char exports_dir[4500];
        export_job_snapshot_dir(data_path, exports_dir, sizeof exports_dir);
        export_job_sweep(exports_dir);
        d.t->api.deployer = deployer_new(d.loop, d.t); /* deploys built off the loop */
        d.t->api.env_reloader = deployer_env_reloader(d.t->api.deployer);
    }
    /* registered before the server's own hook so that what it sends goes out this iteration */
    loop_add_before_sleep(d.loop, before_sleep, &d);

    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.host = host;
    cfg.port = (int)port;
    cfg.max_body_bytes = max_body;
    cfg.ws_max_message = max_message;
    cfg.ws_max_send_queue = max_send_queue;
    cfg.max_connections = max_conns;
    cfg.max_buffered_bytes = max_buffered;
    cfg.ws_ping_interval_ms = (uint32_t)ws_ping_ms;
    cfg.ws_idle_timeout_ms = (uint32_t)ws_idle_ms;
    cfg.min_body_rate = min_body_rate;
    cfg.send_stall_timeout_ms = (uint32_t)send_stall_ms;
    cfg.send_pool = d.send_pool;
    buf_reset(&err);
    if (server_start(d.loop, &cfg, d.ts ? tenants_handle : http_api_handle,
                     d.ts ? (void *)d.ts : (void *)&d.t->api, &d.server, &err) < 0) {
        fprintf(stderr, "vireo %s: cannot listen on %s:%lu: %s\n", name, host, port, err.data);
        goto out;
    }
    to->api.server = d.server;
    if (d.ts) {
        server_set_head_hook(d.server, tenants_head, d.ts);
    } else {
        d.t->api.server = d.server;
        server_set_head_hook(d.server, http_api_head, &d.t->api);
    }
    if (public_url_opt) {
        size_t n = strlen(public_url_opt);
        while (n && public_url_opt[n - 1] == '/')
            n--;
        snprintf(public_url, sizeof public_url, "%.*s", (int)n, public_url_opt);
    } else {
        snprintf(public_url, sizeof public_url, "http://%s:%d", host, server_port(d.server));
    }
    /* loaded once the port is known: process.env.CONVEX_SITE_URL is public_url */
    if (load_app(&d) < 0 && !watch)
        goto out;
    timer_init(&d.reload_timer, reload_fire, &d);
    timer_init(&d.shutdown_timer, shutdown_fire, &d);
    loop_watch_signals(d.loop, on_signal, &d);
    if (watch) {
        d.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (d.inotify_fd < 0 || watch_tree(d.inotify_fd, d.paths.functions) < 0 ||
            loop_add_fd(d.loop, d.inotify_fd, EPOLLIN, on_inotify, &d) < 0) {
            fprintf(stderr, "vireo dev: cannot watch %s: %s\n", d.paths.functions,
                    strerror(errno));
            goto out;
        }
    }
    /* One machine-readable line first: tests and tools wait for it. */
    printf("vireo %s: listening on http://%s:%d\n", name, host, server_port(d.server));
    printf("  app:       %s\n  data:      %s%s\n", d.paths.root, data_path,
           d.ts ? "/<tenant>/shard.db (--tenants: /t/<tenant>/…)" : "");
    if (bundle_file)
        printf("  bundle:    %s\n", bundle_file);
    /* the key only once, when this start created it: stdout often ends up in service logs */
    if (key_created)
        printf("  admin key: %s (new; `vireo admin-key` shows it again)\n", admin_key);
    else
        printf("  admin key: in %s/admin_key (`vireo admin-key` shows it)\n", d.paths.state);
    if (to->api.public_dir)
        printf("  public:    %s\n", public_dir);
    fflush(stdout);
    /* the same moment in the log (stderr): whatever the start logged is before it there */
    log_info("dev", "ready on http://%s:%d", host, server_port(d.server));
    rc = loop_run(d.loop) < 0 ? 1 : 0;
    log_info("dev", "stopped");
out:
    thread_jobs_free(d.exports); /* waits for the snapshots being written */
    thread_jobs_free(d.imports); /* ... and the imports being parsed (answered 503) */
    to->api.exports = to->api.imports = NULL; /* served no more: no request reads them */
    if (d.t)
        d.t->api.exports = d.t->api.imports = NULL;
    if (d.t) {
        deployer_free(d.t->api.deployer); /* a deploy still loading is dropped (503) */
        d.t->api.deployer = NULL;
        d.t->api.env_reloader = (struct env_reloader){0};
        tenant_close_begin(d.t); /* the final commit; the last answers still reach connections */
    }
    if (d.ts)
        tenants_close_begin(d.ts);
    if (d.server)
        server_free(d.server);
    if (d.t)
        tenant_close_end(d.t);
    tenants_free(d.ts);
    send_pool_free(d.send_pool); /* joins its threads; no batch is open past the loop */
    qcache_pool_free(d.query_cache); /* every tenant's cache is freed */
    json_decref(d.env_file);
    if (d.inotify_fd >= 0)
        close(d.inotify_fd);
    if (d.loop)
        loop_free(d.loop);
    if (lock_fd >= 0)
        close(lock_fd);
    buf_release(&err);
    return rc;
}
