/* tenants: the registry of `--tenants` (tenants.h): routes /t/<name>/… to the tenant's own
 * http_api (the prefix stripped from the request's path), opens tenants on first use, keeps
 * them in least-recently-used order and closes idle ones. */
#include "proto/tenants.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/thread_job.h"
#include "net/ws.h"
#include "proto/convex_sync.h"
#include "proto/deploy.h"
#include "proto/export_job.h"
#include "proto/tenant_opener.h"
#include "proto/tenants_list.h"
#include "sched/sched.h"
#include "base/banned.h"

static const char tenants_only[] =
    "this server serves tenants: call /t/<tenant>/… (e.g. /t/acme/api/query)";

struct tenants {
    struct loop *loop;
    struct tenants_options opts;
    struct hmap by_name;          /* name -> struct tenant (open ones) */
    struct dlist lru;             /* open ones, most recently used first */
    size_t n_open;
    size_t n_on_disk;             /* tenant folders: counted at start, plus each one made (as it
                                     is made), less those removed */
    struct timer idle_timer;
    int stopping;
    char *bundle;                 /* the app version every tenant runs (NULL: none yet) */
    size_t bundle_len;
    char *bundle_name;
    json_t *env_file;             /* the variables of a file (.env.local), or NULL */
    struct tenant_delete *deletes; /* forced deletes waiting for their tenant to let go */
    struct thread_jobs *exports;
    struct thread_jobs *listings; /* GET /api/admin/tenants (tenants_list.h) */
    struct thread_jobs *removals; /* deleted tenants' folders, removed off the loop */
    uint64_t version;             /* bumped when bundle or env_file changes (an open that
                                     arrives built from an older one is built again) */
    struct tenant_opener *opener; /* opens tenants off the loop thread */
    struct deploy *deploy;        /* a version loading into the open tenants, or NULL */
    struct hmap opening;          /* name -> struct opening (being opened) */
    size_t n_opening;
    size_t n_parked;              /* requests waiting for a tenant to open, in all */
};

/* A request waiting for its tenant to open (parked): answered, in arrival order, once it is
 * open (handled as if it had just arrived) or with the open's error. While parked the
 * connection reads nothing more (server.h); one that closes is released when the open ends. */
struct parked {
    struct conn *c;           /* referenced */
    struct http_request *req; /* the connection's current request: valid until answered */
    int create;               /* POST /api/admin/tenants/create: answered here */
    int existed;              /* (create) its folder existed before */
    struct parked *next;
};

/* A tenant being opened: on the opener's thread, or waiting for one. */
struct opening {
    char name[TENANT_NAME_MAX + 1];
    char dir[4400];
    int created;              /* its folder was made for this open (removed if it fails) */
    uint64_t t0;
    struct parked *head, *tail;
    size_t n_parked;
};

/* A new version loading into the open tenants (tenants_load), one at a time: each tenant's
 * app is evaluated on an opener thread while it keeps serving its old version, then installed
 * on the loop. Opens meanwhile load the registry's version until this one is adopted, after
 * which the tenants opened meanwhile get it too (a catch-up round; each tenant is tried once). */
struct deploy {
    char *bundle;             /* the new version (copies) */
    size_t len;
    char *name;
    json_t *env_file;         /* its file's variables (a copy), or NULL */
    uint64_t version;         /* the registry's version number once adopted */
    int adopted;
    size_t pending;           /* reload jobs not finished */
    size_t loaded, failed;
    struct buf err;           /* the first failure */
    uint64_t t0;
    tenants_loaded_fn done;
    void *arg;
    /* an environment change's reload of this tenant alone (tenant_env_reload): its own running
     * version built again, not adopted, answered through env_done */
    struct tenant *only;
    env_reloaded_fn env_done;
    void *env_arg;
    struct conn *env_conn; /* referenced */
};

/* POST /api/admin/tenants/delete with force on a tenant in use: its sockets are closing; the
 * answer waits until nothing refers to it (polled), at most DELETE_WAIT_MS. */
#define DELETE_WAIT_MS 10000
struct tenant_delete {
    struct tenants *ts;
    struct tenant *t;
    struct conn *c; /* referenced */
    struct timer tm;
    uint64_t deadline;
    struct tenant_delete *next;
};

int tenant_name_check(const char *p, size_t n, struct buf *err)
{
    static const char rule[] = "a tenant name is 1 to 63 characters of a-z, 0-9, _ and -, "
                               "starting with a letter or digit";
    if (n == 0) {
        buf_appendf(err, "the tenant name is empty (/t/<tenant>/…): %s", rule);
        return -1;
    }
    if (n > TENANT_NAME_MAX) {
        buf_appendf(err, "the tenant name is %zu characters long: %s", n, rule);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 (i > 0 && (ch == '_' || ch == '-'));
        if (ok)
            continue;
        char shown[TENANT_NAME_MAX + 1];
        for (size_t k = 0; k < n; k++) /* the name as sent, bytes outside printable ASCII as ? */
            shown[k] = p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?';
        shown[n] = '\0';
        const char *why = ch == '.'               ? "dots are not allowed"
                          : ch == '%'             ? "percent-encoding is not allowed"
                          : ch >= 'A' && ch <= 'Z' ? "upper-case letters are not allowed"
                          : i == 0 && (ch == '_' || ch == '-')
                              ? "it must start with a letter or digit"
                              : "this character is not allowed";
        if (ch >= 0x20 && ch < 0x7f)
            buf_appendf(err, "tenant name `%s`: `%c` at position %zu: %s; %s", shown, ch, i + 1,
                        why, rule);
        else
            buf_appendf(err, "tenant name `%s`: byte 0x%02x at position %zu: %s; %s", shown, ch,
                        i + 1, why, rule);
        return -1;
    }
    return 0;
}

/* --- least recently used order --- */

/* The tenant on the list at n (NULL past either end). */
static struct tenant *lru_tenant(struct dlist_node *n)
{
    return DLIST_ENTRY(n, struct tenant, lru);
}

static void touch(struct tenants *ts, struct tenant *t)
{
    t->last_used_ms = loop_now_ms(ts->loop);
    dlist_move_front(&ts->lru, &t->lru);
}

/* May t close now? Not while something refers to it, nor while a scheduled function of it is
 * due within the idle period (it runs on time; one due later runs when the tenant next opens). */
static int closable(const struct tenants *ts, const struct tenant *t)
{
    if (tenant_busy(t) || t->reloading)
        return 0;
    uint64_t due = t->shard->sched ? sched_next_due_ms(t->shard->sched) : UINT64_MAX;
    return due == UINT64_MAX || due > loop_now_ms(ts->loop) + ts->opts.idle_ms;
}

static void close_tenant(struct tenants *ts, struct tenant *t, const char *why)
{
    uint64_t t0 = clock_mono_ns();
    char name[TENANT_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", t->name);
    dlist_unlink(&ts->lru, &t->lru);
    hmap_del(&ts->by_name, t->name, strlen(t->name));
    ts->n_open--;
    tenant_close(t);
    log_debug("tenants", "closed \"%s\" (%s) in %.1f ms; %zu open", name, why,
              (double)(clock_mono_ns() - t0) / 1e6, ts->n_open);
}

/* Closing a tenant costs the loop a few ms (its final commit, its action threads joined, its JS
 * context and SQLite connection closed): tenants that went idle together are closed a slice of
 * IDLE_CLOSE_SLICE_MS at a time, the loop serving everything else between slices. */
#define IDLE_CLOSE_SLICE_MS 5

static void idle_fire(struct loop *l, struct timer *tm)
{
    struct tenants *ts = tm->arg;
    uint64_t now = loop_now_ms(l), t0 = clock_mono_ns();
    size_t closed = 0;
    struct tenant *t = lru_tenant(ts->lru.tail);
    while (t && t->last_used_ms + ts->opts.idle_ms <= now) {
        if (closed && clock_mono_ns() - t0 >= IDLE_CLOSE_SLICE_MS * 1000000ull) {
            log_debug("tenants", "idle: closed %zu in %.1f ms; the rest in the next slice",
                      closed, (double)(clock_mono_ns() - t0) / 1e6);
            loop_timer_start(l, tm, 1);
            return;
        }
        struct tenant *prev = lru_tenant(t->lru.prev);
        if (closable(ts, t)) {
            close_tenant(ts, t, "idle");
            closed++;
        } else {
            touch(ts, t); /* in use: its idle time counts from now */
        }
        t = prev;
        if (t && &t->lru == ts->lru.head && t->last_used_ms == now)
            break; /* every older one was seen */
    }
    uint64_t every = ts->opts.idle_ms / 4;
    loop_timer_start(l, tm, every < 10 ? 10 : every > 1000 ? 1000 : every);
}

static void opened(struct tenant_open_job *j, void *arg);
static void sweep_deleted(const char *root);

struct tenants *tenants_new(struct loop *loop, const struct tenants_options *opts,
                            struct buf *err)
{
    if (mkdir(opts->dir, 0700) < 0 && errno != EEXIST) {
        buf_appendf(err, "cannot create %s: %s", opts->dir, strerror(errno));
        return NULL;
    }
    DIR *dir = opendir(opts->dir);
    if (!dir) {
        buf_appendf(err, "cannot read %s: %s", opts->dir, strerror(errno));
        return NULL;
    }
    struct tenants *ts = vr_calloc(1, sizeof *ts);
    struct dirent *e;
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.')
            ts->n_on_disk++;
    closedir(dir);
    ts->loop = loop;
    ts->opts = *opts;
    hmap_init(&ts->by_name);
    hmap_init(&ts->opening);
    if (!ts->opts.max_parked_per_tenant)
        ts->opts.max_parked_per_tenant = 256;
    if (!ts->opts.max_parked)
        ts->opts.max_parked = 4096;
    ts->opener = tenant_opener_new(loop, opts->open_threads ? opts->open_threads : 2, opened, ts);
    timer_init(&ts->idle_timer, idle_fire, ts);
    ts->exports = thread_jobs_new(loop, EXPORTS_MAX);
    ts->listings = thread_jobs_new(loop, 2);
    ts->removals = thread_jobs_new(loop, 2);
    export_job_sweep(ts->opts.dir); /* tenants' copies and their snapshots (none runs yet) */
    sweep_deleted(ts->opts.dir);
    if (opts->idle_ms)
        loop_timer_start(loop, &ts->idle_timer, opts->idle_ms < 1000 ? opts->idle_ms : 1000);
    return ts;
}

/* Parks c's request on o: 0, or -1 after answering 503 past a limit. */
static int park(struct tenants *ts, struct opening *o, struct conn *c, struct http_request *req,
                int create, int existed)
{
    char m[320];
    if (o->n_parked >= ts->opts.max_parked_per_tenant) {
        snprintf(m, sizeof m,
                 "tenant \"%s\" is opening and %zu requests already wait for it "
                 "(--max-parked-per-tenant); retry later",
                 o->name, o->n_parked);
        http_api_respond_error(c, 503, "TooManyParkedRequests", m, NULL);
        return -1;
    }
    if (ts->n_parked >= ts->opts.max_parked) {
        snprintf(m, sizeof m,
                 "%zu requests wait for tenants to open (--max-parked-requests); retry later",
                 ts->n_parked);
        http_api_respond_error(c, 503, "TooManyParkedRequests", m, NULL);
        return -1;
    }
    struct parked *p = vr_calloc(1, sizeof *p);
    p->c = c;
    p->req = req;
    p->create = create;
    p->existed = existed;
    conn_ref(c);
    if (o->tail)
        o->tail->next = p;
    else
        o->head = p;
    o->tail = p;
    o->n_parked++;
    ts->n_parked++;
    return 0;
}

static void answer_create(struct conn *c, const char *name, int existed)
{
    char m[160];
    int n = snprintf(m, sizeof m, "{\"status\":\"success\",\"name\":\"%s\",\"created\":%s}", name,
                     existed ? "false" : "true");
    http_respond(c, existed ? 200 : 201, "application/json", m, (size_t)n, NULL);
}

/* The open ended (t: the tenant, registered; NULL: failed with status/code/msg): every parked
 * request in arrival order, then o is freed. */
static void unpark_all(struct tenants *ts, struct opening *o, struct tenant *t, int status,
                       const char *code, const char *msg)
{
    hmap_del(&ts->opening, o->name, strlen(o->name));
    ts->n_opening--;
    while (o->head) {
        struct parked *p = o->head;
        o->head = p->next;
        o->n_parked--;
        ts->n_parked--;
        if (conn_is_closed(p->c)) {
            /* gone while parked: released */
        } else if (!t) {
            http_api_respond_error(p->c, status, code, msg, NULL);
        } else if (p->create) {
            touch(ts, t);
            answer_create(p->c, o->name, p->existed);
        } else {
            tenants_handle(p->c, p->req, ts); /* as if it had just arrived: finds t open */
        }
        conn_unref(p->c);
        vr_free(p);
    }
    vr_free(o);
}

/* Queues o's open with the current version (prepared: a tenant whose store is open already). */
static void start_open(struct tenants *ts, struct opening *o, const char *db,
                       struct tenant *prepared)
{
    tenant_opener_start(ts->opener, o->name, db, ts->opts.tenant,
                        ts->bundle ? vr_memdup(ts->bundle, ts->bundle_len) : NULL,
                        ts->bundle_len, ts->bundle_name ? vr_strdup(ts->bundle_name) : NULL,
                        ts->env_file ? json_deep_copy(ts->env_file) : NULL, ts->version, o,
                        prepared);
    tenant_opener_kick(ts->opener);
}

/* The opener's done callback (loop thread): attaches the prepared tenant and registers it. */
static void reloaded(struct tenants *ts, struct tenant_open_job *j);
static void checked(struct tenants *ts, struct tenant_open_job *j);
static int tenant_env_reload(void *impl, struct conn *c, env_reloaded_fn done, void *arg);
static int tenant_env_busy(void *impl);

static void opened(struct tenant_open_job *j, void *arg)
{
    struct tenants *ts = arg;
    if (j->reload) {
        reloaded(ts, j);
        return;
    }
    if (j->check) {
        checked(ts, j);
        return;
    }
    struct opening *o = j->owner;
    uint64_t t0 = clock_mono_ns();
    if (j->cancelled || !j->t || ts->stopping) {
        if (!j->cancelled && j->t) /* shutting down: dropped unused (the job frees it) */
            log_debug("tenants", "opened \"%s\" during shutdown: closed unused", o->name);
        else
            log_error("tenants", "cannot open \"%s\": %s", o->name, j->err.data);
        if (o->created && !j->t && rmdir(o->dir) == 0 && ts->n_on_disk) /* only if empty */
            ts->n_on_disk--;
        if (ts->stopping)
            unpark_all(ts, o, NULL, 503, "ServerShuttingDown", "the server is shutting down");
        else
            unpark_all(ts, o, NULL, 503, "TenantUnavailable", "the tenant could not be opened");
        return;
    }
    struct tenant *t = j->t;
    j->t = NULL;
    if (j->version != ts->version) { /* a deploy or env change while it opened: build the
                                        current version on a thread too, the store kept */
        shard_version_release(&j->v); /* before the store it refers to moves on */
        log_debug("tenants", "\"%s\": a new version arrived while it opened; loading that one",
                  o->name);
        start_open(ts, o, j->db, t);
        return;
    }
    struct buf err = BUF_INIT(4096);
    if (tenant_attach(t, ts->loop, j->db, ts->opts.tenant, &err) < 0) {
        shard_version_release(&j->v); /* its runtime refers to t's store */
        tenant_close(t);
        log_error("tenants", "cannot open \"%s\": %s", o->name, err.data);
        buf_release(&err);
        unpark_all(ts, o, NULL, 503, "TenantUnavailable", "the tenant could not be opened");
        return;
    }
    t->registry = ts;
    t->api.env_reloader = (struct env_reloader){tenant_env_reload, tenant_env_busy, t};
    uint64_t t1 = clock_mono_ns();
    /* a version that does not load here: every request needing the app is told why */
    const char *why = NULL;
    if (j->v.rt) {
        if (shard_install(t->shard, &j->v, j->bundle, j->bundle_len, j->bundle_name, &err) < 0)
            why = err.data;
    } else if (j->bundle) {
        why = j->load_err.data;
    }
    if (why) {
        log_error("tenants", "\"%s\": the app does not load: %s", o->name, why);
        struct buf m = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&m, "tenant \"%s\": the app does not load: %s", o->name, why);
        shard_set_load_error(t->shard, m.data);
        buf_release(&m);
    }
    buf_release(&err);
    t->app_version = j->version;
    hmap_put(&ts->by_name, t->name, strlen(t->name), t);
    ts->n_open++;
    dlist_push_front(&ts->lru, &t->lru);
    t->last_used_ms = loop_now_ms(ts->loop);
    uint64_t t2 = clock_mono_ns();
    log_debug("tenants",
              "opened \"%s\"%s in %.1f ms: %.1f ms waiting for a thread, store %.1f ms and app "
              "%.1f ms on it, %.1f ms on the loop (attach %.1f, install %.1f); %zu requests "
              "waited; %zu open",
              o->name, o->created ? " (new)" : "", (double)(t2 - o->t0) / 1e6, j->wait_ms,
              j->store_ms, j->app_ms, (double)(t2 - t0) / 1e6, (double)(t1 - t0) / 1e6,
              (double)(t2 - t1) / 1e6, o->n_parked, ts->n_open);
    unpark_all(ts, o, t, 0, NULL, NULL);
}

/* The open tenant `name` (checked). When it is not open it is opened — and created if new and
 * may_create — off the loop thread, and the request waits for it (parked). NULL when the
 * request was answered or parked. */
static struct tenant *tenant_get(struct tenants *ts, struct conn *c, struct http_request *req,
                                 const char *name, int may_create, int create, int existed)
{
    struct tenant *t = hmap_get(&ts->by_name, name, strlen(name));
    if (t && t->deleting) {
        http_api_respond_error(c, 503, "TenantDeleting", "the tenant is being deleted", NULL);
        return NULL;
    }
    if (t) {
        touch(ts, t);
        return t;
    }
    if (ts->stopping) {
        http_api_respond_error(c, 503, "ServerShuttingDown", "the server is shutting down", NULL);
        return NULL;
    }
    struct opening *o = hmap_get(&ts->opening, name, strlen(name));
    if (o) {
        park(ts, o, c, req, create, existed);
        return NULL;
    }
    if (ts->n_open + ts->n_opening >= ts->opts.max_open) { /* the least recently used idle one
                                                              makes room */
        struct tenant *v = lru_tenant(ts->lru.tail);
        while (v && !closable(ts, v))
            v = lru_tenant(v->lru.prev);
        if (!v) {
            char m[256];
            snprintf(m, sizeof m,
                     "%zu tenants are open or opening and in use (--max-open-tenants); retry "
                     "later",
                     ts->n_open + ts->n_opening);
            http_api_respond_error(c, 503, "TooManyOpenTenants", m, NULL);
            return NULL;
        }
        close_tenant(ts, v, "evicted: least recently used");
    }
    if (ts->n_parked >= ts->opts.max_parked) { /* refused before anything is made */
        char m[256];
        snprintf(m, sizeof m,
                 "%zu requests wait for tenants to open (--max-parked-requests); retry later",
                 ts->n_parked);
        http_api_respond_error(c, 503, "TooManyParkedRequests", m, NULL);
        return NULL;
    }
    char dir[4400], db[4500];
    snprintf(dir, sizeof dir, "%s/%s", ts->opts.dir, name);
    int created = 0;
    struct stat sb;
    if (!may_create && stat(dir, &sb) < 0) {
        char m[256];
        snprintf(m, sizeof m,
                 "no tenant \"%s\" (--tenant-create admin: create it with POST "
                 "/api/admin/tenants/create)",
                 name);
        http_api_respond_error(c, 404, "TenantNotFound", m, NULL);
        return NULL;
    }
    if (mkdir(dir, 0700) == 0) {
        created = 1;
    } else if (errno != EEXIST) {
        log_error("tenants", "cannot create %s: %s", dir, strerror(errno));
        http_api_respond_error(c, 500, "StoreError", "cannot create the tenant's folder", NULL);
        return NULL;
    }
    if (created && ts->n_on_disk >= ts->opts.max_tenants) {
        rmdir(dir);
        char m[256];
        snprintf(m, sizeof m, "this server holds %zu tenants, its limit (--max-tenants)",
                 ts->n_on_disk);
        http_api_respond_error(c, 507, "TooManyTenants", m, NULL);
        return NULL;
    }
    /* counted now, not once open: a burst of first requests to new names is held to the limit */
    ts->n_on_disk += created;
    snprintf(db, sizeof db, "%s/shard.db", dir);
    o = vr_calloc(1, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    o->created = created;
    o->t0 = clock_mono_ns();
    hmap_put(&ts->opening, o->name, strlen(o->name), o);
    ts->n_opening++;
    park(ts, o, c, req, create, existed); /* the first one: under both limits */
    start_open(ts, o, db, NULL);
    return NULL;
}

/* t NULL: the trial load into an in-memory tenant (start_check). */
static void deploy_failed(struct deploy *d, const struct tenant *t, const char *why)
{
    if (d->failed++)
        return;
    if (t)
        buf_appendf(&d->err, "tenant \"%s\": %s", t->name, why);
    else
        buf_appendf(&d->err, "the version does not load (tried in an empty tenant, none being "
                             "open): %s",
                    why);
}

/* No tenant is open: the version is loaded once into an empty in-memory tenant (evaluated, its
 * schema applied), so that one that cannot load is not adopted for the next opens. Not for the
 * first version (at start): requests wait for none, and there is no older one to keep. */
static void start_check(struct tenants *ts, struct deploy *d)
{
    struct tenant_open_job *j = tenant_opener_start(
        ts->opener, "", ":memory:", ts->opts.tenant, vr_memdup(d->bundle, d->len + 1), d->len,
        vr_strdup(d->name), d->env_file ? json_deep_copy(d->env_file) : NULL, d->version, d, NULL);
    j->check = 1;
    d->pending++;
}

/* Begins t's new version on the loop and queues its build (kick the opener after). */
static void start_reload(struct tenants *ts, struct deploy *d, struct tenant *t)
{
    struct shard_version v;
    struct buf e = BUF_INIT(1 << 20);
    t->tried_version = d->version;
    shard_set_env_file(t->shard, d->env_file ? json_deep_copy(d->env_file) : NULL, ".env.local");
    if (shard_prepare_begin(t->shard, &v, &e) < 0) {
        shard_version_release(&v);
        deploy_failed(d, t, e.data);
        buf_release(&e);
        return;
    }
    buf_release(&e);
    t->reloading = 1;
    d->pending++;
    tenant_opener_start_reload(ts->opener, t, &v, d->bundle, d->len, d->name, d->version, d);
}

static void deploy_advance(struct tenants *ts);

/* The opener's done callback for the trial load (start_check): its outcome is the deploy's. The
 * in-memory tenant is left in the job, which frees it. */
static void checked(struct tenants *ts, struct tenant_open_job *j)
{
    struct deploy *d = j->owner;
    d->pending--;
    if (!j->cancelled && !ts->stopping) {
        if (!j->t)
            deploy_failed(d, NULL, j->err.data);
        else if (!j->v.rt)
            deploy_failed(d, NULL, j->load_err.data);
        else
            log_debug("tenants", "version \"%s\" loads (tried in an empty tenant in %.1f ms)",
                      d->name, j->store_ms + j->app_ms);
    }
    deploy_advance(ts);
}

/* The opener's done callback for a reload job (loop thread): installs the version it built. */
static void reloaded(struct tenants *ts, struct tenant_open_job *j)
{
    struct deploy *d = j->owner;
    struct tenant *t = j->reload;
    t->reloading = 0;
    d->pending--;
    if (ts->stopping || t->deleting) {
        /* shutting down, or the tenant is going away: nothing to load it into */
    } else if (j->cancelled) { /* no thread could start */
        deploy_failed(d, t, j->err.data);
    } else if (!j->v.rt) {
        deploy_failed(d, t, j->load_err.data);
    } else {
        struct buf e = BUF_INIT(1 << 20);
        if (shard_install(t->shard, &j->v, d->bundle, d->len, d->name, &e) == 0) {
            t->app_version = d->version;
            d->loaded++;
            log_debug("tenants", "\"%s\": the new version built in %.1f ms (%.1f ms waiting "
                      "for a thread), installed", t->name, j->app_ms, j->wait_ms);
        } else if (!strcmp(e.data, SHARD_VERSION_STALE)) { /* an env change: build it again */
            log_debug("tenants", "\"%s\": %s: building it again", t->name, e.data);
            start_reload(ts, d, t);
            tenant_opener_kick(ts->opener);
        } else {
            deploy_failed(d, t, e.data);
        }
        buf_release(&e);
    }
    deploy_advance(ts);
}

static void deploy_free(struct deploy *d)
{
    vr_free(d->bundle);
    vr_free(d->name);
    json_decref(d->env_file);
    buf_release(&d->err);
    vr_free(d);
}

/* An environment change's reload ended (deploy_advance): answers its request. */
static void env_reload_end(struct tenants *ts, struct deploy *d)
{
    ts->deploy = NULL;
    struct tenant *t = d->only;
    const char *why = ts->stopping ? ENV_RELOAD_STOPPED
                      : d->failed  ? d->err.data
                      : !d->loaded ? "the tenant is being deleted"
                                   : NULL;
    if (why && !ts->stopping && d->failed)
        shard_env_reload_failed(why);
    else if (!why)
        log_info("tenants", "\"%s\" serves with the new environment, built off the loop in %.1f ms",
                 t->name, (double)(clock_mono_ns() - d->t0) / 1e6);
    d->env_done(d->env_conn, d->env_arg, why);
    conn_unref(d->env_conn);
    deploy_free(d);
}

/* Once no build is pending: adopts the version (when it loaded somewhere or failed nowhere),
 * brings the tenants opened meanwhile to it, and ends the deploy. */
static void deploy_advance(struct tenants *ts)
{
    struct deploy *d = ts->deploy;
    if (d->pending)
        return;
    if (d->only) {
        env_reload_end(ts, d);
        return;
    }
    if (!d->adopted && !ts->stopping && (d->loaded || !d->failed)) {
        d->adopted = 1;
        vr_free(ts->bundle);
        vr_free(ts->bundle_name);
        ts->bundle = vr_memdup(d->bundle, d->len + 1); /* its NUL too */
        ts->bundle_len = d->len;
        ts->bundle_name = vr_strdup(d->name);
        json_decref(ts->env_file);
        ts->env_file = d->env_file ? json_deep_copy(d->env_file) : NULL;
        ts->version = d->version; /* opens in flight built from an older one are built again */
    }
    if (d->adopted && !ts->stopping) {
        for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
            if (t->app_version != d->version && t->tried_version != d->version && !t->deleting)
                start_reload(ts, d, t); /* opened while the version loaded */
        if (d->pending) {
            tenant_opener_kick(ts->opener);
            return;
        }
    }
    ts->deploy = NULL;
    int rc = d->failed || (ts->stopping && !d->adopted) ? -1 : 0;
    if (rc < 0 && !d->failed)
        buf_append_str(&d->err, "the server is shutting down");
    if (d->failed && d->loaded)
        buf_appendf(&d->err, " (%zu of %zu open tenants kept their old version)", d->failed,
                    d->failed + d->loaded);
    log_debug("tenants", "version \"%s\" loaded into %zu open tenants in %.1f ms (%zu failed)",
              d->name, d->loaded, (double)(clock_mono_ns() - d->t0) / 1e6, d->failed);
    d->done(ts, rc, d->err.data, d->loaded, d->arg);
    deploy_free(d);
}

/* A tenant's env_reloader (env_reloader.h): one reload at a time in the registry, as deploys. */
static int tenant_env_busy(void *impl)
{
    const struct tenant *t = impl;
    const struct tenants *ts = t->registry;
    return ts->stopping || ts->deploy || t->reloading || t->deleting;
}

static int tenant_env_reload(void *impl, struct conn *c, env_reloaded_fn done, void *arg)
{
    struct tenant *t = impl;
    struct tenants *ts = t->registry;
    const struct shard *s = t->shard;
    if (tenant_env_busy(t) || !s->bundle || !s->rt)
        return -1;
    struct deploy *d = vr_calloc(1, sizeof *d);
    d->bundle = vr_malloc(s->bundle_len + 1); /* its own version, which a deploy may not have
                                                 replaced (one that failed in it) */
    memcpy(d->bundle, s->bundle, s->bundle_len);
    d->bundle[s->bundle_len] = '\0';
    d->len = s->bundle_len;
    d->name = vr_strdup(s->bundle_name ? s->bundle_name : "bundle.js");
    d->env_file = ts->env_file ? json_deep_copy(ts->env_file) : NULL;
    d->version = t->app_version;
    d->err = (struct buf)BUF_INIT(1 << 20);
    d->t0 = clock_mono_ns();
    d->only = t;
    d->env_done = done;
    d->env_arg = arg;
    d->env_conn = c;
    conn_ref(c);
    ts->deploy = d;
    log_info("tenants",
             "\"%s\": reloading the app with the new environment (built off the loop; "
             "the running version serves meanwhile)",
             t->name);
    start_reload(ts, d, t);
    tenant_opener_kick(ts->opener);
    if (ts->deploy == d)
        deploy_advance(ts); /* it could not start */
    return 0;
}

int tenants_load(struct tenants *ts, const char *bundle, size_t len, const char *name,
                 const json_t *env_file, tenants_loaded_fn done, void *arg, struct buf *err)
{
    if (ts->stopping) {
        buf_append_str(err, "the server is shutting down");
        return -1;
    }
    if (ts->deploy) { /* or a tenant's reload after an environment change */
        buf_append_str(err, TENANTS_LOAD_BUSY);
        return -1;
    }
    struct deploy *d = vr_calloc(1, sizeof *d);
    d->bundle = vr_malloc(len + 1);
    memcpy(d->bundle, bundle, len);
    d->bundle[len] = '\0';
    d->len = len;
    d->name = vr_strdup(name);
    d->env_file = env_file ? json_deep_copy(env_file) : NULL;
    d->version = ts->version + 1;
    d->err = (struct buf)BUF_INIT(1 << 20);
    d->t0 = clock_mono_ns();
    d->done = done;
    d->arg = arg;
    ts->deploy = d;
    for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
        if (!t->deleting)
            start_reload(ts, d, t);
    if (!d->pending && !d->failed && ts->bundle) /* the first version serves at once */
        start_check(ts, d);
    tenant_opener_kick(ts->opener);
    if (ts->deploy == d)
        deploy_advance(ts);
    return 0;
}

/* The deploy request waiting for its version to load (referenced). */
static void deploy_answer(struct tenants *ts, int rc, const char *err, size_t loaded, void *arg)
{
    struct conn *c = arg;
    if (rc < 0) {
        log_error("deploy", "%s", err);
    } else {
        struct buf file = BUF_INIT(BUF_NOLIMIT);
        deploy_header(&file, ts->bundle_name);
        buf_append(&file, ts->bundle, ts->bundle_len);
        deploy_save(ts->opts.tenant->api.deploy_path, file.data, file.len);
        buf_release(&file);
    }
    if (!conn_is_closed(c)) {
        if (rc < 0 && ts->stopping) {
            http_api_respond_error(c, 503, "ServerShuttingDown", err, NULL);
        } else if (rc < 0) {
            http_api_respond_error(c, 400, "DeployFailed", err, NULL);
        } else {
            struct buf b = BUF_INIT(BUF_NOLIMIT);
            buf_appendf(&b, "{\"status\":\"success\",\"tenants\":%zu,\"name\":", loaded);
            buf_append_json_str(&b, ts->bundle_name, strlen(ts->bundle_name));
            buf_append_str(&b, "}");
            http_respond(c, 200, "application/json", b.data, b.len,
                         "Access-Control-Allow-Origin: *\r\n");
            buf_release(&b);
        }
    }
    conn_unref(c);
}

/* POST /api/admin/deploy with --tenants: the version every tenant runs (deploy.h's contract,
 * over all of them), answered once every open tenant has it (tenants_load). */
static void handle_deploy(struct tenants *ts, struct conn *c, const struct http_request *req)
{
    char name[DEPLOY_NAME_MAX];
    size_t off = 0;
    struct buf err = BUF_INIT(1 << 20);
    if (deploy_parse(req->body.p, req->body.len, name, &off, &err) < 0) {
        http_api_respond_error(c, 400, "BadBundle", err.data, NULL);
    } else {
        log_info("deploy", "loading a bundle of %zu bytes for \"%s\" into %zu open tenants",
                 req->body.len - off, name, ts->n_open);
        conn_ref(c);
        if (tenants_load(ts, req->body.p + off, req->body.len - off, name, ts->env_file,
                         deploy_answer, c, &err) < 0) {
            conn_unref(c);
            if (ts->stopping) {
                http_api_respond_error(c, 503, "ServerShuttingDown", err.data, NULL);
            } else if (ts->deploy && ts->deploy->only) {
                buf_reset(&err);
                buf_appendf(&err,
                            "tenant \"%s\" is being reloaded after an environment change; "
                            "retry once it is done",
                            ts->deploy->only->name);
                http_api_respond_error(c, 409, "DeployInProgress", err.data, NULL);
            } else {
                http_api_respond_error(c, 409, "DeployInProgress", err.data, NULL);
            }
        }
    }
    buf_release(&err);
}

/* Splits "/t/<name>/rest": 1 with name and the rest (at least "/") set, 0 when the path is not
 * under /t/, -1 for a bad name (answered when `answer`). */
static int split_path(struct conn *c, struct slice path, char name[TENANT_NAME_MAX + 1],
                      struct slice *rest, int answer)
{
    if (path.len < 2 || memcmp(path.p, "/t", 2) || (path.len > 2 && path.p[2] != '/'))
        return 0;
    const char *p = path.p + (path.len > 2 ? 3 : 2), *end = path.p + path.len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t n = (size_t)((slash ? slash : end) - p);
    struct buf err = BUF_INIT(1024);
    int r = tenant_name_check(p, n, &err);
    if (r < 0 && answer)
        http_api_respond_error(c, 400, "InvalidTenantName", err.data, NULL);
    buf_release(&err);
    if (r < 0)
        return -1;
    memcpy(name, p, n);
    name[n] = '\0';
    *rest = slash ? slice_of(slash, (size_t)(end - slash)) : slice_of("/", 1);
    return 1;
}

/* --- the admin key's tenant routes --- */

static int admin_name(struct conn *c, const char *p, size_t n, char name[TENANT_NAME_MAX + 1])
{
    struct buf err = BUF_INIT(1024);
    int r = tenant_name_check(p, n, &err);
    if (r < 0)
        http_api_respond_error(c, 400, "InvalidTenantName", err.data, NULL);
    buf_release(&err);
    if (r < 0)
        return -1;
    memcpy(name, p, n);
    name[n] = '\0';
    return 0;
}

/* The JSON object body of an admin call with its "name" checked: NULL after answering c. */
static json_t *admin_body(struct conn *c, const struct http_request *req,
                          char name[TENANT_NAME_MAX + 1])
{
    json_error_t je;
    json_t *b = json_loadb(req->body.p, req->body.len, 0, &je);
    if (!json_is_object(b)) {
        http_api_respond_error(c, 400, "BadJsonBody",
                               "the body must be a JSON object: {\"name\": \"<tenant>\"}", NULL);
        json_decref(b);
        return NULL;
    }
    json_t *n = json_object_get(b, "name");
    if (!json_is_string(n)) {
        http_api_respond_error(c, 400, "BadJsonBody",
                               "\"name\" must be a string: {\"name\": \"<tenant>\"}", NULL);
        json_decref(b);
        return NULL;
    }
    if (admin_name(c, json_string_value(n), json_string_length(n), name) < 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

static int tree_rm(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)sb, (void)f;
    return (type == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

/* A deleted tenant's folder is first renamed to `.deleted-<name>-<n>` (one atomic, synced step:
 * after a crash the tenant is whole or gone), then removed file by file on a thread; a removal a
 * crash or shutdown cut short is finished at the next start (sweep_deleted). */
#define DELETED_PREFIX ".deleted-"

static void remove_tree(void *arg)
{
    if (nftw(arg, tree_rm, 16, FTW_DEPTH | FTW_PHYS) < 0)
        log_error("tenants", "cannot remove %s: %s", (char *)arg, strerror(errno));
}

static void removed(void *arg, int cancelled)
{
    (void)cancelled; /* the rest is swept at the next start */
    vr_free(arg);
}

static void sweep_deleted(const char *root)
{
    DIR *dir = opendir(root);
    struct dirent *e;
    char path[4400];
    while (dir && (e = readdir(dir))) {
        if (strncmp(e->d_name, DELETED_PREFIX, sizeof DELETED_PREFIX - 1))
            continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        log_info("tenants", "removing %s, left by a delete the server did not finish", path);
        remove_tree(path);
    }
    if (dir)
        closedir(dir);
}

/* dir renamed out of the tenants' names, durably: 0, or -1 with errno. */
static int retire_folder(struct tenants *ts, const char *dir, const char *name, char *trash,
                         size_t cap)
{
    static uint64_t serial;
    snprintf(trash, cap, "%s/" DELETED_PREFIX "%s-%llx-%llx", ts->opts.dir, name,
             (unsigned long long)clock_mono_ns(), (unsigned long long)++serial);
    if (rename(dir, trash) < 0)
        return -1;
    int fd = open(ts->opts.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) < 0)
            log_warn("tenants", "syncing %s: %s", ts->opts.dir, strerror(errno));
        close(fd);
    }
    return 0;
}

/* the disk's part on a thread of its own: the loop gives it the open tenants */
static void handle_list(struct tenants *ts, struct conn *c)
{
    struct tenants_list *l = tenants_list_new(c, ts->opts.dir, ts->n_open, ts->opts.max_open);
    double wall = clock_wall_ms();
    uint64_t now = loop_now_ms(ts->loop);
    for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
        tenants_list_open(l, t->name, wall - (double)(now - t->last_used_ms));
    tenants_list_start(ts->listings, l);
}

static void handle_create(struct tenants *ts, struct conn *c, const struct http_request *req)
{
    char name[TENANT_NAME_MAX + 1], dir[4400];
    json_t *b = admin_body(c, req, name);
    if (!b)
        return;
    json_decref(b);
    snprintf(dir, sizeof dir, "%s/%s", ts->opts.dir, name);
    struct stat sb;
    int existed = stat(dir, &sb) == 0;
    /* opened (and so created): it closes when idle; a parked create is answered once open */
    if (tenant_get(ts, c, (struct http_request *)req, name, 1, 1, existed))
        answer_create(c, name, existed);
}

/* Removes the (closed) tenant's folder and answers c (NULL: nobody waits for the answer). */
static void delete_finish(struct tenants *ts, struct conn *c, const char *name)
{
    char dir[4400], trash[4500], m[256];
    snprintf(dir, sizeof dir, "%s/%s", ts->opts.dir, name);
    struct stat sb;
    int status = 200;
    const char *code = NULL;
    if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        status = 404, code = "TenantNotFound";
        snprintf(m, sizeof m, "no tenant \"%s\"", name);
    } else if (retire_folder(ts, dir, name, trash, sizeof trash) < 0) {
        log_error("tenants", "cannot remove %s: %s", dir, strerror(errno));
        status = 500, code = "StoreError";
        snprintf(m, sizeof m, "cannot remove the tenant's folder");
    } else {
        if (ts->n_on_disk)
            ts->n_on_disk--;
        log_info("tenants", "deleted \"%s\"", name);
        char *path = vr_strdup(trash);
        struct thread_job job = {.work = remove_tree, .done = removed, .arg = path};
        if (!ts->removals || thread_job_start(ts->removals, &job) < 0) {
            remove_tree(path); /* both removers busy: here, as before */
            vr_free(path);
        }
    }
    if (!c)
        return;
    if (code) {
        http_api_respond_error(c, status, code, m, NULL);
        return;
    }
    int n = snprintf(m, sizeof m, "{\"status\":\"success\",\"name\":\"%s\",\"deleted\":true}",
                     name);
    http_respond(c, 200, "application/json", m, (size_t)n, NULL);
}

static void delete_poll(struct loop *l, struct timer *tm)
{
    struct tenant_delete *d = tm->arg, **pp;
    struct tenants *ts = d->ts;
    /* closable once its WebSockets and uploads are gone: what else refers to it (actions, held
     * answers, auth holds) tenant_close settles, as at shutdown */
    int done = !sync_stats(d->t->sync)->sockets && !d->t->api.uploads &&
               !d->t->api.imports_running && !d->t->reloading,
        late = loop_now_ms(l) >= d->deadline;
    if (!done && !late) {
        loop_timer_start(l, tm, 20);
        return;
    }
    for (pp = &ts->deletes; *pp != d; pp = &(*pp)->next)
        ;
    *pp = d->next;
    char name[TENANT_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", d->t->name);
    if (done) {
        close_tenant(ts, d->t, "deleted");
        delete_finish(ts, conn_is_closed(d->c) ? NULL : d->c, name);
    } else {
        d->t->deleting = 0;
        if (!conn_is_closed(d->c))
            http_api_respond_error(d->c, 503, "TenantInUse",
                                   "the tenant still had WebSocket connections, uploads or "
                                   "imports 10 s after they were told to close; retry",
                                   NULL);
    }
    conn_unref(d->c);
    vr_free(d);
}

static void handle_delete(struct tenants *ts, struct conn *c, const struct http_request *req)
{
    char name[TENANT_NAME_MAX + 1];
    json_t *b = admin_body(c, req, name);
    if (!b)
        return;
    int force = json_is_true(json_object_get(b, "force"));
    json_decref(b);
    struct tenant *t = hmap_get(&ts->by_name, name, strlen(name));
    if (t && t->deleting) {
        http_api_respond_error(c, 409, "TenantDeleting", "the tenant is being deleted", NULL);
        return;
    }
    if (hmap_get(&ts->opening, name, strlen(name))) {
        char m[200];
        snprintf(m, sizeof m, "tenant \"%s\" is opening; retry once it is open", name);
        http_api_respond_error(c, 409, "TenantInUse", m, NULL);
        return;
    }
    if (t && t->reloading && !force) {
        char m[200];
        snprintf(m, sizeof m, "tenant \"%s\" is loading a new version; retry once it is done",
                 name);
        http_api_respond_error(c, 409, "TenantInUse", m, NULL);
        return;
    }
    if (t && tenant_busy(t) && !force) {
        char m[320];
        snprintf(m, sizeof m,
                 "tenant \"%s\" is in use (%llu WebSocket connections, %u actions); pass "
                 "\"force\": true to close them and delete it",
                 name, (unsigned long long)sync_stats(t->sync)->sockets,
                 action_pool_pending(t->actions));
        http_api_respond_error(c, 409, "TenantInUse", m, NULL);
        return;
    }
    if (t && (tenant_busy(t) || t->reloading)) {
        t->deleting = 1;
        sync_close_all(t->sync, WS_CLOSE_GOING_AWAY, "tenant deleted");
        tenant_stop(t, HTTP_API_DELETING);
        struct tenant_delete *d = vr_calloc(1, sizeof *d);
        d->ts = ts;
        d->t = t;
        d->c = c;
        conn_ref(c);
        d->deadline = loop_now_ms(ts->loop) + DELETE_WAIT_MS;
        d->next = ts->deletes;
        ts->deletes = d;
        timer_init(&d->tm, delete_poll, d);
        loop_timer_start(ts->loop, &d->tm, 10);
        return;
    }
    if (t)
        close_tenant(ts, t, "deleted");
    delete_finish(ts, c, name);
}

static int copy_database(void *arg, const char *out_path, struct buf *err)
{
    return store_export(arg, out_path, err);
}

/* GET /api/admin/tenants/<name>/export: a copy of the tenant's database (store_export, VACUUM
 * INTO on a connection of its own), made on a thread (export_job.h). */
static void export_tenant(struct tenants *ts, struct conn *c, const char *name)
{
    char db[4500], file[TENANT_NAME_MAX + 16], m[256];
    struct stat sb;
    snprintf(db, sizeof db, "%s/%s/shard.db", ts->opts.dir, name);
    if (stat(db, &sb) < 0) {
        snprintf(m, sizeof m, "no tenant \"%s\"", name);
        http_api_respond_error(c, 404, "TenantNotFound", m, NULL);
        return;
    }
    snprintf(file, sizeof file, "%s.sqlite3", name);
    struct export_spec spec = {ts->opts.dir, name, file, "application/vnd.sqlite3", "StoreError"};
    struct export_work w = {copy_database, vr_strdup(db), vr_free};
    export_job_start(ts->exports, c, &spec, &w);
}

/* /api/admin/tenants<rest>: rest is "" or "/…". */
static void handle_admin(struct tenants *ts, struct conn *c, const struct http_request *req,
                         struct slice rest)
{
    int get = slice_eq_str(req->method, "GET"), post = slice_eq_str(req->method, "POST");
    if (!http_api_admin_authorized(&ts->opts.tenant->api, req)) {
        http_api_respond_error(c, 401, "Unauthorized",
                               "the admin API needs \"Authorization: Bearer <admin key>\" (the "
                               "key `vireo admin-key` prints, stored in the app's "
                               ".vireo/admin_key)",
                               NULL);
        return;
    }
    if (rest.len == 0 || slice_eq_str(rest, "/")) {
        if (get || post)
            handle_list(ts, c);
        else
            http_api_respond_error(c, 405, "MethodNotAllowed", "use GET or POST", NULL);
        return;
    }
    int is_create = slice_eq_str(rest, "/create"), is_delete = slice_eq_str(rest, "/delete");
    if (is_create || is_delete) {
        if (!post)
            http_api_respond_error(c, 405, "MethodNotAllowed",
                                   "use POST with {\"name\": \"<tenant>\"}", NULL);
        else if (is_create)
            handle_create(ts, c, req);
        else
            handle_delete(ts, c, req);
        return;
    }
    const char *p = rest.p + 1, *end = rest.p + rest.len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    char name[TENANT_NAME_MAX + 1];
    if (slash && slice_eq_str(slice_of(slash, (size_t)(end - slash)), "/export")) {
        if (admin_name(c, p, (size_t)(slash - p), name) < 0)
            return;
        if (!get)
            http_api_respond_error(c, 405, "MethodNotAllowed", "use GET", NULL);
        else
            export_tenant(ts, c, name);
        return;
    }
    http_api_respond_error(c, 404, "NotFound",
                           "the tenant admin routes are /api/admin/tenants, "
                           "/api/admin/tenants/create, /api/admin/tenants/delete and "
                           "/api/admin/tenants/<name>/export",
                           NULL);
}

/* A tenant named outside the path (a header, a body's shardKey): name set from v, checked;
 * -1 after answering 400 (what names where the name came from). */
static int name_from(struct conn *c, const char *p, size_t n, const char *what,
                     char name[TENANT_NAME_MAX + 1])
{
    struct buf err = BUF_INIT(1024);
    int r = tenant_name_check(p, n, &err);
    if (r < 0) {
        struct buf m = BUF_INIT(2048);
        buf_appendf(&m, "%s: %s", what, err.data);
        http_api_respond_error(c, 400, "InvalidTenantName", m.data, NULL);
        buf_release(&m);
    } else {
        memcpy(name, p, n);
        name[n] = '\0';
    }
    buf_release(&err);
    return r;
}

/* The tenant a request names: /t/<name>/… or, outside /t/, the --tenant-header header (a
 * header naming another tenant than the path is refused). 1 with name and rest set, 0 for none,
 * -1 when refused (answered when `answer`). */
static int select_tenant(struct tenants *ts, struct conn *c, const struct http_request *req,
                         char name[TENANT_NAME_MAX + 1], struct slice *rest, int answer)
{
    int r = split_path(c, req->path, name, rest, answer);
    const struct slice *h = ts->opts.header && r >= 0 ? http_header_get(req, ts->opts.header) : NULL;
    if (!h)
        return r;
    char hname[TENANT_NAME_MAX + 1];
    char what[200];
    snprintf(what, sizeof what, "the %s header", ts->opts.header);
    /* a proxy that appends its own after the client's must not let the client's choose */
    size_t times = http_header_count(req, ts->opts.header);
    if (times > 1) {
        if (answer) {
            char m[300];
            snprintf(m, sizeof m, "%s appears %zu times; a request names one tenant", what, times);
            http_api_respond_error(c, 400, "InvalidTenant", m, NULL);
        }
        return -1;
    }
    if (!answer) {
        struct buf err = BUF_INIT(1024);
        int bad = tenant_name_check(h->p, h->len, &err) < 0;
        buf_release(&err);
        if (bad)
            return -1;
        memcpy(hname, h->p, h->len);
        hname[h->len] = '\0';
    } else if (name_from(c, h->p, h->len, what, hname) < 0) {
        return -1;
    }
    if (r > 0 && strcmp(name, hname)) {
        if (answer) {
            char m[400];
            snprintf(m, sizeof m, "the path names tenant \"%s\" but %s names \"%s\"", name, what,
                     hname);
            http_api_respond_error(c, 400, "TenantMismatch", m, NULL);
        }
        return -1;
    }
    if (r == 0) {
        memcpy(name, hname, strlen(hname) + 1);
        *rest = req->path;
    }
    return 1;
}

/* An unprefixed function call whose JSON body has "shardKey" (seed 002's clients): 1 with name
 * set, 0 when it has none, -1 after answering 400. */
static int shard_key(struct conn *c, const struct http_request *req,
                     char name[TENANT_NAME_MAX + 1])
{
    struct slice p = req->path;
    if (!slice_eq_str(req->method, "POST") ||
        !(slice_eq_str(p, "/api/query") || slice_eq_str(p, "/api/mutation") ||
          slice_eq_str(p, "/api/action") || (p.len > 9 && !memcmp(p.p, "/api/run/", 9))))
        return 0;
    json_t *b = json_loadb(req->body.p, req->body.len, 0, NULL);
    json_t *k = json_object_get(b, "shardKey");
    int r = 0;
    if (k && !json_is_string(k)) {
        http_api_respond_error(c, 400, "InvalidTenantName",
                               "\"shardKey\" must be a string: the tenant's name", NULL);
        r = -1;
    } else if (k) {
        r = name_from(c, json_string_value(k), json_string_length(k), "shardKey", name) < 0 ? -1
                                                                                          : 1;
    }
    json_decref(b);
    return r;
}

void tenants_handle(struct conn *c, struct http_request *req, void *arg)
{
    struct tenants *ts = arg;
    char name[TENANT_NAME_MAX + 1];
    struct slice rest, path = req->path;
    int r = 0;
    /* the server-wide routes first: a --tenant-header header does not move them */
    int server_wide = slice_eq_str(path, "/api/admin/deploy") ||
                      slice_eq_str(path, "/api/admin/tenants") ||
                      (path.len > 19 && !memcmp(path.p, "/api/admin/tenants/", 19));
    if (!server_wide) {
        r = select_tenant(ts, c, req, name, &rest, 1);
        if (r < 0)
            return;
        if (r == 0 && (r = shard_key(c, req, name)) != 0) {
            if (r < 0)
                return;
            rest = path;
        }
    }
    if (r > 0) {
        if (slice_eq_str(rest, "/api/admin/deploy")) {
            http_api_respond_error(c, 400, "DeployPerTenant",
                                   "with --tenants every tenant runs the same version: deploy it "
                                   "with POST /api/admin/deploy (no /t/<tenant> prefix)",
                                   NULL);
            return;
        }
        struct tenant *t = tenant_get(ts, c, req, name, !ts->opts.create_by_admin, 0, 0);
        if (!t)
            return;
        size_t max = ts->opts.max_conns_per_tenant;
        if (max && sync_stats(t->sync)->sockets + actors_stats(t->actors)->sockets >= max &&
            (slice_eq_str(rest, "/api/sync") || slice_eq_str(rest, "/api/actors") ||
             convex_sync_path(rest.p, rest.len))) {
            char m[200];
            snprintf(m, sizeof m,
                     "tenant \"%s\" has %zu WebSocket connections, its limit "
                     "(--max-connections-per-tenant); retry later",
                     name, max);
            http_api_respond_error(c, 429, "TenantConnectionLimit", m, NULL);
            return;
        }
        req->path = rest;
        http_api_handle(c, req, &t->api);
        return;
    }
    if (slice_eq_str(path, "/api/health") &&
        (slice_eq_str(req->method, "GET") || slice_eq_str(req->method, "HEAD"))) {
        char b[200];
        int n = snprintf(b, sizeof b,
                         "{\"status\":\"ok\",\"tenants\":{\"open\":%zu,\"max\":%zu,"
                         "\"opening\":%zu,\"waitingRequests\":%zu}}",
                         ts->n_open, ts->opts.max_open, ts->n_opening, ts->n_parked);
        http_respond(c, 200, "application/json", b, (size_t)n, NULL);
        return;
    }
    if (slice_eq_str(path, "/api/admin/deploy")) {
        if (!slice_eq_str(req->method, "POST"))
            http_api_respond_error(c, 405, "MethodNotAllowed",
                                   "use POST with a bundle file as the body", NULL);
        else if (!http_api_admin_authorized(&ts->opts.tenant->api, req))
            http_api_respond_error(c, 401, "Unauthorized",
                                   "the admin API needs \"Authorization: Bearer <admin key>\" (the "
                                   "key `vireo admin-key` prints, stored in the app's "
                                   ".vireo/admin_key)",
                                   NULL);
        else
            handle_deploy(ts, c, req);
        return;
    }
    if (slice_eq_str(path, "/api/admin/tenants") ||
        (path.len > 19 && !memcmp(path.p, "/api/admin/tenants/", 19))) {
        handle_admin(ts, c, req, slice_of(path.p + 18, path.len - 18));
        return;
    }
    http_api_respond_error(c, 404, "NotFound", tenants_only, NULL);
}

int tenants_head(struct conn *c, struct http_request *req, void *arg)
{
    struct tenants *ts = arg;
    char name[TENANT_NAME_MAX + 1];
    struct slice rest, path = req->path;
    if (select_tenant(ts, c, req, name, &rest, 0) <= 0)
        return 0; /* tenants_handle answers */
    req->path = rest;
    int claimed = 0;
    /* only a streamed upload (http_storage.h) or import (http_admin_import.h) to an open tenant
     * is claimed here; one to a tenant not open yet comes whole (--max-body) and waits for the
     * open as any request (`vireo import` opens the tenant first) */
    struct tenant *t = hmap_get(&ts->by_name, name, strlen(name));
    if (t && !t->deleting && slice_eq_str(req->method, "POST") &&
        (slice_eq_str(rest, "/api/storage/upload") || slice_eq_str(rest, "/api/admin/import"))) {
        touch(ts, t);
        claimed = http_api_head(c, req, &t->api);
    }
    req->path = path; /* tenants_handle sees the request as sent */
    return claimed;
}

int tenants_flush(struct tenants *ts)
{
    int again = 0;
    for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
        again |= tenant_flush(t);
    return again;
}

void tenants_stop(struct tenants *ts)
{
    ts->stopping = 1;
    tenant_opener_stop(ts->opener); /* those waiting for a thread: 503 ServerShuttingDown */
    loop_timer_stop(ts->loop, &ts->idle_timer);
    for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
        tenant_stop(t, HTTP_API_SHUTDOWN);
}

size_t tenants_open_count(const struct tenants *ts)
{
    return ts->n_open;
}

void tenants_close_begin(struct tenants *ts)
{
    while (ts->deletes) { /* their connections are closing with the server */
        struct tenant_delete *d = ts->deletes;
        ts->deletes = d->next;
        loop_timer_stop(ts->loop, &d->tm);
        d->t->deleting = 0;
        conn_unref(d->c);
        vr_free(d);
    }
    thread_jobs_free(ts->exports); /* waits for running copies */
    ts->exports = NULL;
    thread_jobs_free(ts->listings);
    ts->listings = NULL;
    thread_jobs_free(ts->removals);
    ts->removals = NULL;
    ts->stopping = 1;
    tenant_opener_free(ts->opener); /* waits for running opens: dropped, their requests 503 */
    ts->opener = NULL;
    loop_timer_stop(ts->loop, &ts->idle_timer);
    for (struct tenant *t = lru_tenant(ts->lru.head); t; t = lru_tenant(t->lru.next))
        tenant_close_begin(t);
}

void tenants_free(struct tenants *ts)
{
    if (!ts)
        return;
    ts->stopping = 1;
    tenant_opener_free(ts->opener); /* its jobs may refer to open tenants */
    ts->opener = NULL;
    struct tenant *t = lru_tenant(ts->lru.head);
    while (t) {
        struct tenant *next = lru_tenant(t->lru.next);
        tenant_close_end(t);
        t = next;
    }
    thread_jobs_free(ts->exports);
    thread_jobs_free(ts->listings);
    thread_jobs_free(ts->removals);
    hmap_release(&ts->by_name);
    hmap_release(&ts->opening);
    json_decref(ts->env_file);
    vr_free(ts->bundle);
    vr_free(ts->bundle_name);
    vr_free(ts);
}
