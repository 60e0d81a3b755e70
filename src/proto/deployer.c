/* deployer: a deploy into the single shard, its app built off the loop thread (deployer.h). */
#include "proto/deployer.h"

#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/deploy.h"
#include "proto/tenant_opener.h"
#include "base/banned.h"

struct deployer {
    struct tenant *t;
    struct tenant_opener *opener; /* one thread: the deploy's build */
    int stopping;
    /* the deploy loading, if any */
    struct conn *c;               /* its request (referenced); NULL: none loading */
    char *file;                   /* the bundle file (a copy: saved once it loaded) */
    size_t len, js_off;
    char *name;
    char *save_path;
    uint64_t t0;
    /* an environment change's reload (NULL: a deploy): answers c */
    env_reloaded_fn reloaded;
    void *reloaded_arg;
};

static void built(struct tenant_open_job *j, void *arg);

struct deployer *deployer_new(struct loop *loop, struct tenant *t)
{
    struct deployer *dp = vr_calloc(1, sizeof *dp);
    dp->t = t;
    dp->opener = tenant_opener_new(loop, 1, built, dp);
    return dp;
}

/* A reload builds the running bundle: a copy, since the loop may replace it meanwhile. */
static void take_running(struct deployer *dp)
{
    const struct shard *s = dp->t->shard;
    vr_free(dp->file);
    dp->file = vr_memdup(s->bundle, s->bundle_len);
    dp->len = s->bundle_len;
    dp->js_off = 0;
    vr_free(dp->name);
    dp->name = vr_strdup(s->bundle_name ? s->bundle_name : "bundle.js");
}

/* Begins the version on the loop and queues its build; 0, or -1 with err. */
static int start(struct deployer *dp, struct buf *err)
{
    if (dp->reloaded)
        take_running(dp);
    struct shard_version v;
    if (shard_prepare_begin(dp->t->shard, &v, err) < 0) {
        shard_version_release(&v);
        return -1;
    }
    tenant_opener_start_reload(dp->opener, dp->t, &v, dp->file + dp->js_off,
                               dp->len - dp->js_off, dp->name, 0, dp);
    tenant_opener_kick(dp->opener);
    return 0;
}

static void finish(struct deployer *dp)
{
    conn_unref(dp->c);
    dp->c = NULL;
    dp->reloaded = NULL;
    dp->reloaded_arg = NULL;
    vr_free(dp->file);
    dp->file = NULL;
    vr_free(dp->name);
    dp->name = NULL;
    vr_free(dp->save_path);
    dp->save_path = NULL;
}

static void fail(struct deployer *dp, int status, const char *code, const char *msg)
{
    if (dp->reloaded) { /* the change is stored either way: the answer says what serves */
        if (status == 400)
            shard_env_reload_failed(msg);
        dp->reloaded(dp->c, dp->reloaded_arg, status == 503 ? ENV_RELOAD_STOPPED : msg);
    } else {
        if (status == 400)
            log_error("deploy", "%s\n(the previous version keeps running)", msg);
        if (!conn_is_closed(dp->c))
            deploy_answer_error(dp->c, status, code, msg, strlen(msg));
    }
    finish(dp);
}

/* The opener's done callback (loop thread): installs the version its thread built. */
static void built(struct tenant_open_job *j, void *arg)
{
    struct deployer *dp = arg;
    if (dp->stopping || j->cancelled) {
        fail(dp, 503, "ServerShuttingDown", "the server is shutting down");
        return;
    }
    if (!j->v.rt) {
        fail(dp, 400, "DeployFailed", j->load_err.data);
        return;
    }
    struct buf err = BUF_INIT(1 << 20);
    struct shard *s = dp->t->shard;
    if (shard_install(s, &j->v, dp->file + dp->js_off, dp->len - dp->js_off, dp->name,
                      &err) == 0) {
        log_info(dp->reloaded ? "app" : "deploy",
                 "\"%s\" serves%s, built in %.1f ms off the loop (%.1f ms in all)", dp->name,
                 dp->reloaded ? " with the new environment" : "", j->app_ms,
                 (double)(clock_mono_ns() - dp->t0) / 1e6);
        if (dp->reloaded)
            dp->reloaded(dp->c, dp->reloaded_arg, NULL);
        else
            deploy_answer_loaded(s, conn_is_closed(dp->c) ? NULL : dp->c, dp->file, dp->len,
                                 dp->name, dp->save_path);
        finish(dp);
    } else if (!strcmp(err.data, SHARD_VERSION_STALE)) { /* an env change meanwhile */
        log_debug("deploy", "%s: building it again", err.data);
        buf_reset(&err);
        if (start(dp, &err) < 0)
            fail(dp, 400, "DeployFailed", err.data);
    } else {
        fail(dp, 400, "DeployFailed", err.data);
    }
    buf_release(&err);
}

void deployer_handle(struct deployer *dp, struct conn *c, const struct http_request *req,
                     const char *save_path)
{
    size_t off = 0;
    struct buf err = BUF_INIT(1 << 20);
    char name[DEPLOY_NAME_MAX];
    if (dp->stopping) {
        static const char m[] = "the server is shutting down";
        deploy_answer_error(c, 503, "ServerShuttingDown", m, sizeof m - 1);
    } else if (dp->c) {
        const char *m = dp->reloaded ? DEPLOYER_RELOADING : DEPLOYER_BUSY;
        deploy_answer_error(c, 409, "DeployInProgress", m, strlen(m));
    } else if (deploy_parse(req->body.p, req->body.len, name, &off, &err) < 0) {
        log_warn("deploy", "refused: %s", err.data);
        deploy_answer_error(c, 400, "BadBundle", err.data, err.len);
    } else {
        log_info("deploy", "loading a bundle of %zu bytes for \"%s\" (built off the loop; the "
                 "running version serves meanwhile)", req->body.len - off, name);
        dp->c = c;
        conn_ref(c);
        dp->file = vr_memdup(req->body.p, req->body.len);
        dp->len = req->body.len;
        dp->js_off = off;
        dp->name = vr_strdup(name);
        dp->save_path = save_path ? vr_strdup(save_path) : NULL;
        dp->t0 = clock_mono_ns();
        if (start(dp, &err) < 0)
            fail(dp, 400, "DeployFailed", err.data);
    }
    buf_release(&err);
}

static int env_busy(void *impl)
{
    const struct deployer *dp = impl;
    return dp->stopping || dp->c != NULL;
}

static int env_reload(void *impl, struct conn *c, env_reloaded_fn done, void *arg)
{
    struct deployer *dp = impl;
    if (env_busy(dp) || !dp->t->shard->bundle || !dp->t->shard->rt)
        return -1;
    struct buf err = BUF_INIT(1 << 20);
    dp->c = c;
    conn_ref(c);
    dp->reloaded = done;
    dp->reloaded_arg = arg;
    dp->save_path = NULL;
    dp->t0 = clock_mono_ns();
    log_info("app", "reloading the app with the new environment (built off the loop; the "
                    "running version serves meanwhile)");
    if (start(dp, &err) < 0)
        fail(dp, 400, "ReloadFailed", err.data);
    buf_release(&err);
    return 0;
}

struct env_reloader deployer_env_reloader(struct deployer *dp)
{
    return (struct env_reloader){.reload = env_reload, .busy = env_busy, .impl = dp};
}

void deployer_free(struct deployer *dp)
{
    if (!dp)
        return;
    dp->stopping = 1;
    tenant_opener_free(dp->opener); /* a build running finishes: built() drops it */
    if (dp->c) /* never started (no thread could run it) */
        fail(dp, 503, "ServerShuttingDown", "the server is shutting down");
    vr_free(dp);
}
