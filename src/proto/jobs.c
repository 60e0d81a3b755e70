/* jobs: the scheduler's run callback (jobs.h): one due job of `_scheduled_functions` run as a
 * mutation in the batch or started as an action after its inProgress mark is durable. */
#include "proto/jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "proto/actions.h"
#include "proto/crons.h"
#include "sched/sched.h"

#include "base/banned.h"

#define POOL_FULL_DELAY_MS 100
#define NO_APP_DELAY_MS 1000 /* how often due jobs are looked at while no app is loaded */

struct deferred { /* an action whose inProgress mark waits for its batch's commit */
    char id[STORE_ID_LEN + 1];
    double due; /* its scheduledTime */
    char *cron; /* the cron job it is a run of, or NULL */
    char *name;
    char *args;
    struct deferred *next;
};

struct running { /* a scheduled action on the pool */
    struct jobs *j;
    char id[STORE_ID_LEN + 1];
    double due;
    char *cron;
    char *name;
    double start;
    struct running *next, *prev;
};

struct jobs {
    struct loop *loop;
    struct shard *shard;
    struct sched *sched;
    struct deferred *deferred, **deferred_tail;
    unsigned n_deferred;
    struct running *running; /* answered by the pool even at shutdown */
    jobs_call_fn actor_run;  /* runs actors' timers (jobs_set_actor_runner); NULL: shard_call */
    void *actor_arg;
};

/* Sets a job's state in a transaction of its own, in the current batch, only if the job did
 * not change since the scheduler read it: 1 when it did (nothing written). */
static int mark_job(struct jobs *j, const char *id, const struct store_sched_job *job,
                    const char *kind, const char *error, double completed)
{
    struct shard *s = j->shard;
    struct buf err = BUF_INIT(4096);
    struct store_txn *t = NULL;
    int r = -1;
    if (shard_batch_open(s, &err) < 0 || !(t = store_txn_begin(s->store, 1, &err)))
        goto out;
    if (store_sched_finish(t, job, kind, error, completed, &err) < 0 ||
        store_txn_commit(t, NULL, &err) < 0) {
        if (store_last_error(s->store) == STORE_ERR_CHANGED)
            r = 1;
        store_txn_abort(t);
        goto out;
    }
    shard_committed(s, t);
    r = 0;
out:
    if (r < 0)
        log_error("sched", "job %s: recording state `%s` failed: %s", id, kind, err.data);
    store_txn_free(t);
    buf_release(&err);
    return r;
}

/* A scheduled action's end (or its return to pending) recorded, if the job is still
 * inProgress: one canceled while it ran stays canceled, as in Convex. */
static void settle_running(struct jobs *j, const char *id, const char *kind, const char *error,
                           double completed)
{
    struct shard *s = j->shard;
    struct buf err = BUF_INIT(4096);
    struct store_txn *t = NULL;
    json_t *doc = NULL;
    if (shard_batch_open(s, &err) < 0 || !(t = store_txn_begin(s->store, 1, &err)) ||
        store_sched_get(t, id, NULL, &doc, &err) < 0)
        goto fail;
    const char *now = json_string_value(json_object_get(json_object_get(doc, "state"), "kind"));
    if (!now || strcmp(now, "inProgress")) {
        log_info("sched", "job %s: `%s` not recorded: it is %s", id, kind, now ? now : "gone");
        store_txn_abort(t);
        goto out;
    }
    if (store_sched_set_state(t, id, kind, error, completed, &err) < 0 ||
        store_txn_commit(t, NULL, &err) < 0) {
        store_txn_abort(t);
        goto fail;
    }
    shard_committed(s, t);
    goto out;
fail:
    log_error("sched", "job %s: recording state `%s` failed: %s", id, kind, err.data);
out:
    json_decref(doc);
    store_txn_free(t);
    buf_release(&err);
}

static void log_run(const char *cron, const char *kind, const char *name, const char *id,
                    int ok, const char *error, double ms)
{
    if (cron && ok)
        log_info("cron", "\"%s\": %s %s (job %s): success in %.1f ms", cron, kind, name, id, ms);
    else if (cron)
        log_warn("cron", "\"%s\": %s %s (job %s): failed in %.1f ms: %s", cron, kind, name, id,
                 ms, error);
    else if (ok)
        log_info("sched", "%s %s (job %s): success in %.1f ms", kind, name, id, ms);
    else
        log_warn("sched", "%s %s (job %s): failed in %.1f ms: %s", kind, name, id, ms, error);
}

static void run_mutation(struct jobs *j, const struct js_function *fn,
                         const struct store_sched_job *job, const json_t *args, const char *text,
                         const char *cron)
{
    struct js_result res;
    js_result_init(&res);
    /* ctx.meta.getRequestMetadata(): the job it runs for, no client */
    struct js_request req = {.scheduled_function_id = job->id};
    struct js_call_opts o = {.sched_job = job, .args_value = args, .request = &req};
    double t0 = clock_wall_ms();
    int rc = j->actor_run && !strcmp(fn->path, JS_ACTORS_TIMER_PATH)
                 ? j->actor_run(j->actor_arg, fn, text, strlen(text), &o, &res)
                 : shard_call(j->shard, fn, text, strlen(text), &o, &res);
    double ms = clock_wall_ms() - t0;
    /* rolled back: the failure is recorded on its own, unless the job changed meanwhile */
    if (rc < 0 && mark_job(j, job->id, job, "failed", res.error.data, clock_wall_ms()) == 1)
        log_info("sched", "mutation %s (job %s): not run: the job changed (canceled?) since it was read", fn->path,
                 job->id);
    else
        log_run(cron, "mutation", fn->path, job->id, rc == 0, res.error.data, ms);
    js_result_release(&res);
}

static void on_action_done(void *arg, const struct js_result *res)
{
    struct running *r = arg;
    struct jobs *j = r->j;
    int ok = res->status == JS_OK;
    if (res->not_run) { /* queued when the server stopped: pending again, it runs after */
        log_info("sched",
                 "action %s (job %s): not started before the server stopped; pending again",
                 r->name, r->id);
        settle_running(j, r->id, "pending", NULL, 0);
    } else {
        log_run(r->cron, "action", r->name, r->id, ok, res->error.data, clock_wall_ms() - r->start);
        settle_running(j, r->id, ok ? "success" : "failed", ok ? NULL : res->error.data,
                       clock_wall_ms());
        if (r->cron && j->shard->crons)
            crons_finished(j->shard->crons, r->cron, r->id, r->due);
    }
    if (r->prev)
        r->prev->next = r->next;
    else
        j->running = r->next;
    if (r->next)
        r->next->prev = r->prev;
    vr_free(r->cron);
    vr_free(r->name);
    vr_free(r);
}

static void start_action(struct jobs *j, struct deferred *d)
{
    struct shard *s = j->shard;
    const struct js_function *fn = s->rt ? js_runtime_find(s->rt, d->name) : NULL;
    if (!fn || fn->kind != JS_ACTION) {
        settle_running(j, d->id, "failed", "the function is no longer an action of the app",
                       clock_wall_ms());
        if (d->cron && s->crons)
            crons_finished(s->crons, d->cron, d->id, d->due);
        return;
    }
    struct running *r = vr_calloc(1, sizeof(*r));
    r->j = j;
    r->due = d->due;
    memcpy(r->id, d->id, sizeof(r->id));
    r->name = vr_strdup(d->name);
    r->cron = d->cron ? vr_strdup(d->cron) : NULL;
    r->start = clock_wall_ms();
    r->next = j->running;
    if (r->next)
        r->next->prev = r;
    j->running = r;
    struct js_request req = {.scheduled_function_id = d->id}; /* getRequestMetadata */
    if (!s->actions) { /* no pool: inline */
        struct js_result res;
        js_result_init(&res);
        struct js_call_opts o = {.request = &req};
        shard_call(s, fn, d->args, strlen(d->args), &o, &res);
        on_action_done(r, &res);
        js_result_release(&res);
        return;
    }
    /* scheduled functions run with no identity, as in Convex */
    int rc =
        action_pool_submit(s->actions, fn, d->args, strlen(d->args), NULL, &req, on_action_done, r);
    if (rc == 0)
        return;
    j->running = r->next;
    if (r->next)
        r->next->prev = NULL;
    vr_free(r->cron);
    vr_free(r->name);
    vr_free(r);
    /* the pool filled since (other callers' actions), or it is stopping: the job did not
     * start and waits, pending again */
    settle_running(j, d->id, "pending", NULL, 0);
    if (rc == -EAGAIN)
        sched_delay(j->sched, POOL_FULL_DELAY_MS);
}

static void run_job(void *arg, const struct store_sched_job *job)
{
    struct jobs *j = arg;
    struct shard *s = j->shard;
    const char *id = job->id;
    if (!s->rt) { /* no app loaded (its version failed): nothing runs or fails until one is */
        sched_delay(j->sched, NO_APP_DELAY_MS);
        return;
    }
    const char *stored = json_string_value(json_object_get(job->doc, "name"));
    json_t *args = json_array_get(json_object_get(job->doc, "args"), 0);
    /* a component's job names its function as the component does: the full path back */
    struct buf path = BUF_INIT(BUF_NOLIMIT);
    const char *name =
        stored && js_job_function_path(job->ns, stored, &path) == 0 ? path.data : stored;
    const struct js_function *fn = name ? js_runtime_find(s->rt, name) : NULL;
    int action = fn && fn->kind == JS_ACTION;
    if (action && s->actions && action_pool_room(s->actions) <= j->n_deferred) {
        /* the pool is full: the job is left pending (never marked, so never failed by a crash
         * while it waits) and looked at again shortly */
        sched_delay(j->sched, POOL_FULL_DELAY_MS);
        buf_release(&path);
        return;
    }
    const char *cron = s->crons ? crons_started(s->crons, job, action) : NULL;
    if (!fn || fn->kind == JS_QUERY) {
        char msg[512];
        snprintf(msg, sizeof(msg), "Could not find function for '%s'", stored ? stored : "?");
        log_run(cron, "function", name ? name : "?", id, 0, msg, 0);
        mark_job(j, id, job, "failed", msg, clock_wall_ms());
        buf_release(&path);
        return;
    }
    json_t *empty = NULL;
    if (!json_is_object(args))
        args = empty = json_object();
    char *text = json_dumps(args, JSON_COMPACT);
    if (fn->kind == JS_MUTATION) {
        run_mutation(j, fn, job, args, text, cron);
        goto out;
    }
    int marked = mark_job(j, id, job, "inProgress", NULL, 0);
    if (marked == 1 && cron) /* changed since read: this run will not happen */
        crons_finished(s->crons, cron, id,
                       json_number_value(json_object_get(job->doc, "scheduledTime")));
    if (marked != 0)
        goto out;
    struct deferred *d = vr_calloc(1, sizeof(*d));
    memcpy(d->id, id, sizeof(d->id));
    d->due = json_number_value(json_object_get(job->doc, "scheduledTime"));
    j->n_deferred++;
    d->name = vr_strdup(name);
    d->cron = cron ? vr_strdup(cron) : NULL;
    d->args = vr_strdup(text);
    *j->deferred_tail = d;
    j->deferred_tail = &d->next;
out:
    free(text);
    json_decref(empty);
    buf_release(&path);
}

/* Actions a previous process left inProgress never finished here (each was marked when it was
 * handed to the action pool, so it may also have been waiting there): at most once means they
 * are not run again. */
static int fail_interrupted(struct jobs *j, struct buf *err)
{
    struct store *st = j->shard->store;
    struct store_sched_job *list = NULL;
    size_t i, n = 0;
    int r = -1;
    struct store_txn *t = store_txn_begin(st, 1, err);
    if (!t)
        return -1;
    if (store_sched_due(t, "inProgress", -1, (size_t)-1, &list, &n, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        if (store_sched_finish(t, &list[i], "failed",
                               "Transient error while executing action: the server stopped "
                               "before it finished; scheduled actions run at most once, so it "
                               "was not retried",
                               clock_wall_ms(), err) < 0)
            goto out;
        log_warn("sched", "action %s (job %s) had not finished when the server stopped: failed",
                 json_string_value(json_object_get(list[i].doc, "name")), list[i].id);
    }
    if (store_txn_commit(t, NULL, err) < 0)
        goto out;
    r = 0;
out:
    if (r < 0)
        store_txn_abort(t);
    store_txn_free(t);
    store_sched_jobs_free(list, n);
    return r;
}

/* At most this many finished jobs per state are read per prune, so one prune is a bounded
 * transaction; a full batch asks the caller to prune again soon. */
#define PRUNE_BATCH 1000

int jobs_prune(struct jobs *j, double max_age_ms)
{
    static const char *const finished[] = { "success", "failed", "canceled" };
    struct shard *s = j->shard;
    struct buf err = BUF_INIT(4096);
    struct store_txn *t = NULL;
    struct store_sched_job *list = NULL;
    size_t n = 0;
    int deleted = 0, full = 0, r = -1;
    double cutoff = clock_wall_ms() - max_age_ms;
    if (shard_batch_open(s, &err) < 0 || !(t = store_txn_begin(s->store, 1, &err)))
        goto out;
    for (size_t k = 0; k < sizeof(finished) / sizeof(finished[0]); k++) {
        /* The age is by completedTime. A job that ran completed after its scheduledTime, so
         * the range stops at the cutoff; a canceled one may be scheduled in the future, so all
         * of them are read (earliest first, a batch at a time: young ones ahead of old ones
         * delay the old ones at most one retention). */
        int ran = strcmp(finished[k], "canceled") != 0, here = 0;
        if (store_sched_due(t, finished[k], ran ? cutoff : -1, PRUNE_BATCH, &list, &n, &err) < 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            const json_t *done = json_object_get(list[i].doc, "completedTime");
            if (json_is_number(done) && json_number_value(done) > cutoff)
                continue;
            if (store_delete(t, list[i].id, STORE_ID_LEN, &err) < 0)
                goto out;
            here++;
        }
        full |= n == PRUNE_BATCH && here > 0;
        deleted += here;
        store_sched_jobs_free(list, n);
        list = NULL;
        n = 0;
    }
    if (store_txn_commit(t, NULL, &err) < 0)
        goto out;
    shard_committed(s, t);
    r = 0;
out:
    if (r < 0) {
        log_error("sched", "deleting finished jobs failed: %s", err.data);
        if (t)
            store_txn_abort(t);
    } else if (deleted) {
        log_info("sched", "deleted %d finished jobs older than the retention", deleted);
    }
    store_sched_jobs_free(list, n);
    store_txn_free(t);
    buf_release(&err);
    return r < 0 ? -1 : full;
}

struct jobs *jobs_new(struct loop *l, struct shard *s, const struct jobs_options *opts,
                      struct buf *err)
{
    struct jobs *j = vr_calloc(1, sizeof(*j));
    j->loop = l;
    j->shard = s;
    j->deferred_tail = &j->deferred;
    struct sched_options so = { .per_iteration = opts ? opts->per_iteration : 0 };
    if (fail_interrupted(j, err) < 0 ||
        !(j->sched = sched_new(l, s->store, &so, run_job, j, err))) {
        vr_free(j);
        return NULL;
    }
    s->sched = j->sched;
    s->crons = crons_new(s);
    s->js_opts.max_scheduled = opts && opts->max_pending ? opts->max_pending : 1000000;
    s->js_opts.scheduled = sched_pending(j->sched);
    return j;
}

void jobs_flush(struct jobs *j, int batch_failed)
{
    struct deferred *d = j->deferred;
    j->deferred = NULL;
    j->deferred_tail = &j->deferred;
    j->n_deferred = 0;
    while (d) {
        struct deferred *next = d->next;
        if (!batch_failed) /* else the mark was lost: the job is pending and runs later */
            start_action(j, d);
        vr_free(d->name);
        vr_free(d->cron);
        vr_free(d->args);
        vr_free(d);
        d = next;
    }
    sched_flush(j->sched, batch_failed);
}

void jobs_stop(struct jobs *j)
{
    if (j)
        sched_stop(j->sched);
}

void jobs_set_actor_runner(struct jobs *j, jobs_call_fn fn, void *arg)
{
    if (j) {
        j->actor_run = fn;
        j->actor_arg = arg;
    }
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    /* actions the last batch marked inProgress but that never reached the pool: pending again
     * (the store's final commit, in shard_free, records it), so they run after a restart */
    for (struct deferred *d = j->deferred; d; d = d->next)
        settle_running(j, d->id, "pending", NULL, 0);
    jobs_flush(j, 1);
    j->shard->sched = NULL;
    crons_free(j->shard->crons);
    j->shard->crons = NULL;
    sched_free(j->sched);
    vr_free(j);
}
