/* crons: crons.ts's jobs scheduled through `_scheduled_functions` and _vr_cron (crons.h). */
#include "proto/crons.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "sched/cron.h"

#include "base/banned.h"

struct cron_entry {
    char *name;
    char *fn;
    char *ns, *job_name; /* the namespace whose jobs it makes, and the name they give fn */
    char *args;  /* the args object, JSON */
    char *spec;  /* what identifies the job's definition: {fn, args, schedule} as sorted JSON */
    struct cron_schedule sch;
    char job[STORE_ID_LEN + 1]; /* its next job */
};

struct crons {
    struct shard *shard;
    struct cron_entry *e;
    size_t n;
};

struct crons *crons_new(struct shard *s)
{
    struct crons *c = vr_calloc(1, sizeof(*c));
    c->shard = s;
    return c;
}

static void clear(struct crons *c)
{
    for (size_t i = 0; i < c->n; i++) {
        vr_free(c->e[i].name);
        vr_free(c->e[i].fn);
        vr_free(c->e[i].ns);
        vr_free(c->e[i].job_name);
        vr_free(c->e[i].args);
        vr_free(c->e[i].spec);
    }
    vr_free(c->e);
    c->e = NULL;
    c->n = 0;
}

void crons_free(struct crons *c)
{
    if (!c)
        return;
    clear(c);
    vr_free(c);
}

static json_t *defs_of(const struct js_runtime *rt)
{
    const char *text = rt ? js_runtime_crons(rt) : NULL;
    json_t *d = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_object(d) ? d : (json_decref(d), json_object());
}

int crons_check(const struct js_runtime *rt, struct buf *err)
{
    json_t *defs = defs_of(rt), *def;
    const char *name;
    int r = -1;
    if (json_object_size(defs) > CRONS_MAX) {
        buf_appendf(err, "crons.ts: %zu cron jobs defined; the limit is %d",
                    json_object_size(defs), CRONS_MAX);
        goto out;
    }
    json_object_foreach(defs, name, def) {
        struct cron_schedule sch;
        struct buf why = BUF_INIT(1024);
        const char *fn = json_string_value(json_object_get(def, "name"));
        const struct js_function *f = fn ? js_runtime_find(rt, fn) : NULL;
        if (cron_schedule_parse(json_object_get(def, "schedule"), &sch, &why) < 0) {
            buf_appendf(err, "crons.ts: cron job `%s`: %s", name, why.data);
            buf_release(&why);
            goto out;
        }
        buf_release(&why);
        if (!f || f->kind == JS_QUERY) {
            buf_appendf(err, "crons.ts: cron job `%s`: %s", name,
                        f ? "a query cannot be scheduled; use a mutation or an action"
                          : "its function is not a mutation or action of the app");
            goto out;
        }
    }
    r = 0;
out:
    json_decref(defs);
    return r;
}

static const char *state_of(struct store_txn *t, const char *id, json_t **doc)
{
    struct buf err = BUF_INIT(1024);
    *doc = NULL;
    store_sched_get(t, id, NULL, doc, &err);
    buf_release(&err);
    return json_string_value(json_object_get(json_object_get(*doc, "state"), "kind"));
}

static int cancel_pending(struct store_txn *t, const char *id, struct buf *err)
{
    json_t *doc;
    const char *st = state_of(t, id, &doc);
    int r = st && !strcmp(st, "pending")
                ? store_sched_set_state(t, id, "canceled", NULL, clock_wall_ms(), err)
                : 0;
    json_decref(doc);
    return r;
}

static void log_next(const struct cron_entry *e, double next, const char *what)
{
    time_t secs = (time_t)(next / 1000);
    struct tm tm;
    char when[32];
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    log_info("cron", "\"%s\" (%s): %s, next run %s", e->name, e->fn, what, when);
}

void crons_sync(struct crons *c)
{
    struct shard *s = c->shard;
    struct buf err = BUF_INIT(4096);
    json_t *defs = defs_of(s->rt), *rows = NULL, *def, *row;
    struct store_txn *t = NULL;
    const char *name;
    double now = clock_wall_ms();
    clear(c);
    if (store_cron_list(s->store, &rows, &err) < 0 || shard_batch_open(s, &err) < 0 ||
        !(t = store_txn_begin(s->store, 1, &err)))
        goto fail;
    store_txn_exempt_limit(t); /* the app's crons are scheduled on a full tenant too */
    json_object_foreach(rows, name, row) { /* removed from crons.ts */
        if (json_object_get(defs, name))
            continue;
        if (cancel_pending(t, json_string_value(json_object_get(row, "job")), &err) < 0 ||
            store_cron_delete(t, name, &err) < 0)
            goto fail;
        log_info("cron", "\"%s\": removed from crons.ts, its next run canceled", name);
    }
    c->e = vr_calloc(json_object_size(defs) + 1, sizeof(*c->e));
    json_object_foreach(defs, name, def) {
        struct cron_entry *e = &c->e[c->n];
        struct buf why = BUF_INIT(1024);
        int ok = cron_schedule_parse(json_object_get(def, "schedule"), &e->sch, &why) == 0;
        buf_release(&why);
        const char *fn = json_string_value(json_object_get(def, "name"));
        json_t *args = json_array_get(json_object_get(def, "args"), 0);
        if (!ok || !fn || !json_is_object(args))
            continue; /* crons_check refused it at load */
        json_t *key = json_pack("{s:s, s:O, s:O}", "fn", fn, "args", args, "schedule",
                                json_object_get(def, "schedule"));
        e->spec = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(key);
        e->name = vr_strdup(name);
        e->fn = vr_strdup(fn);
        /* a component's crons.ts schedules into its own table of jobs */
        struct buf ns = BUF_INIT(BUF_NOLIMIT), jn = BUF_INIT(BUF_NOLIMIT);
        js_job_split(fn, &ns, &jn);
        e->ns = vr_strdup(ns.data);
        e->job_name = vr_strdup(jn.data);
        buf_release(&ns);
        buf_release(&jn);
        char *a = json_dumps(args, JSON_COMPACT);
        e->args = vr_strdup(a);
        free(a);
        c->n++;
        row = json_object_get(rows, name);
        const char *old_job = json_string_value(json_object_get(row, "job"));
        const char *old_spec = json_string_value(json_object_get(row, "spec"));
        json_t *doc = NULL;
        const char *st = old_job ? state_of(t, old_job, &doc) : NULL;
        int same = old_spec && !strcmp(old_spec, e->spec);
        double last = json_number_value(json_object_get(row, "lastRun"));
        if (st && !strcmp(st, "inProgress")) {
            /* its action is running: the run after it is scheduled when it ends (at most one
             * run at a time), by the schedule crons.ts has then */
            memcpy(e->job, old_job, sizeof(e->job));
            json_decref(doc);
            if (!same && store_cron_put(t, e->name, e->spec, e->job, last, &err) < 0)
                goto fail;
            continue;
        }
        if (same && st && !strcmp(st, "pending")) {
            memcpy(e->job, old_job, sizeof(e->job)); /* unchanged: keeps its next run */
            json_decref(doc);
            continue;
        }
        json_decref(doc);
        if (old_job && cancel_pending(t, old_job, &err) < 0)
            goto fail;
        /* an unchanged job whose next run is gone (its action was interrupted by a crash) goes on
         * from its last run; a new or changed one starts afresh (an interval one at once) */
        double next = cron_schedule_next(&e->sch, same && row && last >= 0 ? last : -1, now);
        if (next < 0) {
            log_warn("cron", "\"%s\" (%s): its schedule never matches; not scheduled", e->name,
                     e->fn);
            continue;
        }
        if (store_sched_insert(t, e->ns, e->job_name, e->args, strlen(e->args), next, e->job,
                               &err) < 0 ||
            store_cron_put(t, e->name, e->spec, e->job, row ? last : -1, &err) < 0)
            goto fail;
        log_next(e, next, row ? "changed, rescheduled" : "scheduled");
    }
    if (store_txn_commit(t, NULL, &err) < 0)
        goto fail;
    shard_committed(s, t);
    goto out;
fail:
    log_error("cron", "scheduling the cron jobs failed: %s", err.data);
    if (t)
        store_txn_abort(t);
out:
    store_txn_free(t);
    json_decref(defs);
    json_decref(rows);
    buf_release(&err);
}

/* Schedules e's run after the one due at `due` (in the current batch), counted from now. */
static void schedule_after(struct crons *c, struct cron_entry *e, double due)
{
    struct shard *s = c->shard;
    struct buf err = BUF_INIT(4096);
    struct store_txn *t = NULL;
    double now = clock_wall_ms();
    double next = cron_schedule_next(&e->sch, due, now);
    char id[STORE_ID_LEN + 1];
    if (next < 0)
        goto out;
    if (shard_batch_open(s, &err) < 0 || !(t = store_txn_begin(s->store, 1, &err)))
        goto fail;
    store_txn_exempt_limit(t); /* a full tenant's crons keep running */
    if (store_sched_insert(t, e->ns, e->job_name, e->args, strlen(e->args), next, id, &err) < 0 ||
        store_cron_put(t, e->name, e->spec, id, due, &err) < 0 ||
        store_txn_commit(t, NULL, &err) < 0) {
        store_txn_abort(t);
        goto fail;
    }
    shard_committed(s, t);
    memcpy(e->job, id, sizeof(e->job));
    goto out;
fail:
    log_error("cron", "\"%s\": scheduling its next run failed: %s", e->name, err.data);
out:
    store_txn_free(t);
    buf_release(&err);
}

const char *crons_started(struct crons *c, const struct store_sched_job *job, int action)
{
    struct cron_entry *e = NULL;
    for (size_t i = 0; i < c->n && !e; i++)
        if (!memcmp(c->e[i].job, job->id, STORE_ID_LEN))
            e = &c->e[i];
    if (!e)
        return NULL;
    if (!action) /* a mutation runs now, in this batch: its next run goes with it */
        schedule_after(c, e, json_number_value(json_object_get(job->doc, "scheduledTime")));
    return e->name;
}

void crons_finished(struct crons *c, const char *name, const char *job, double due)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cron_entry *e = &c->e[i];
        /* a load since may have rescheduled it (a job removed, or a crash's recovery) */
        if (!strcmp(e->name, name) && !memcmp(e->job, job, STORE_ID_LEN)) {
            schedule_after(c, e, due);
            return;
        }
    }
}
