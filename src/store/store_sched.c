/* store_sched: Convex's `_scheduled_functions` system tables (store.h "Scheduled functions"), the
 * app's and one per component. Each is an ordinary document table of the catalog (so its writes
 * land in write sets and live queries over it re-run) whose name no app can create, plus an index
 * `by_state_time` on (state.kind, scheduledTime) through which the scheduler finds the due jobs
 * in time order, merged over the tables.
 * The helpers build and change job documents; the rules (who may write, when a job runs) are
 * the callers'. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "base/mem.h"
#include "store/key.h"

#include "base/banned.h"

/* by_state_time's fields: the job's state, then its time */
#define SCHED_INDEX_FIELDS "state.kind", "scheduledTime"

static int has_index(struct store *s, const char *table, const char *index)
{
    struct st_table *tb = st_table_find(s, table);
    return tb && st_index_find(tb, index);
}

/* In the open transaction: table (made if missing) with an index on (field1, field2). */
static int table_index_create(struct store *s, const char *table, const char *index,
                              const char *field1, const char *field2, struct buf *err)
{
    struct st_table *tb = st_table_find(s, table);
    if (tb && st_index_find(tb, index))
        return 0;
    json_t *decl = json_pack("{s:s, s:[s,s]}", "name", index, "fields", field1, field2);
    int r = 0;
    if ((!tb && st_table_create(s, table, &tb, err) < 0) || st_index_create(s, tb, decl, err) < 0)
        r = -1;
    json_decref(decl);
    return r;
}

int st_system_table_ensure(struct store *s, const char *table, const char *index,
                           const char *field1, const char *field2, struct buf *err)
{
    if (has_index(s, table, index))
        return 0;
    int r = 0;
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0) {
        r = -1;
    } else if (table_index_create(s, table, index, field1, field2, err) < 0 ||
               st_exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        r = -1;
    }
    struct buf tmp = BUF_INIT(4096);
    if (st_catalog_load(s, r == 0 ? err : &tmp) < 0)
        r = -1;
    buf_release(&tmp);
    return r;
}

int st_sched_ensure(struct store *s, struct buf *err)
{
    return st_system_table_ensure(s, STORE_SCHED_TABLE, STORE_SCHED_INDEX, SCHED_INDEX_FIELDS, err);
}

int store_sched_table_name_ok(const char *name)
{
    size_t n = strlen(name), k = strlen(STORE_SCHED_TABLE);
    if (n == k)
        return !strcmp(name, STORE_SCHED_TABLE);
    /* a namespace's: "a/" or "a/b/" before it, each part a valid name */
    return n > k + 1 && n <= STORE_TABLE_NAME_MAX && !strcmp(name + n - k, STORE_SCHED_TABLE) &&
           name[n - k - 1] == '/' && store_table_name_ok(name, n - k - 1);
}

/* ns's table of jobs: "" -> `_scheduled_functions`, "a/" -> `a/_scheduled_functions` */
static int sched_table_name(const char *ns, char out[STORE_TABLE_NAME_MAX + 1])
{
    int n = snprintf(out, STORE_TABLE_NAME_MAX + 1, "%s%s", ns, STORE_SCHED_TABLE);
    return n > 0 && n <= STORE_TABLE_NAME_MAX && store_sched_table_name_ok(out) ? 0 : -1;
}

int st_sched_ensure_ns(struct store *s, const char *ns, struct buf *err)
{
    char name[STORE_TABLE_NAME_MAX + 1];
    if (sched_table_name(ns, name) < 0)
        return buf_fail(err,
                        "component `%.*s`: its path is too long for its table of scheduled "
                        "functions (at most %d characters in all)",
                        ns[0] ? (int)strlen(ns) - 1 : 0, ns, STORE_TABLE_NAME_MAX);
    return table_index_create(s, name, STORE_SCHED_INDEX, SCHED_INDEX_FIELDS, err);
}

void st_sched_catalog(struct store *s)
{
    vr_free(s->sched_idx);
    vr_free(s->sched_tables);
    s->sched_idx = NULL;
    s->sched_tables = NULL;
    s->nsched = 0;
    for (size_t i = 0; i < s->ntables; i++) {
        struct st_table *tb = s->tables[i];
        struct st_index *ix = st_index_find(tb, STORE_SCHED_INDEX);
        if (!ix || !store_sched_table_name_ok(tb->name))
            continue;
        s->sched_idx = vr_realloc(s->sched_idx, (s->nsched + 1) * sizeof(*s->sched_idx));
        s->sched_tables = vr_realloc(s->sched_tables, (s->nsched + 1) * sizeof(*s->sched_tables));
        s->sched_idx[s->nsched] = ix->id;
        s->sched_tables[s->nsched++] = tb;
    }
}

int store_sched_is_index(const struct store *s, uint32_t index_id)
{
    for (size_t i = 0; i < s->nsched; i++)
        if (s->sched_idx[i] == index_id)
            return 1;
    return 0;
}

/* The namespace of a table of jobs: the part of its name before `_scheduled_functions` */
static char *table_ns(const char *table)
{
    size_t n = strlen(table) - strlen(STORE_SCHED_TABLE);
    char *ns = vr_malloc(n + 1);
    memcpy(ns, table, n);
    ns[n] = '\0';
    return ns;
}

int store_sched_insert(struct store_txn *t, const char *ns, const char *name, const char *args,
                       size_t len, double scheduled_ms, char id_out[STORE_ID_LEN + 1],
                       struct buf *err)
{
    char table[STORE_TABLE_NAME_MAX + 1];
    if (sched_table_name(ns, table) < 0 || !st_table_find(t->s, table))
        return st_failk(t->s, STORE_ERR_INVALID_ID, err,
                        "component `%.*s` has no table of scheduled functions (deploy the app "
                        "again)",
                        ns[0] ? (int)strlen(ns) - 1 : 0, ns);
    json_t *jn = json_string(name);
    char *qn = jn ? json_dumps(jn, JSON_ENCODE_ANY) : NULL;
    json_decref(jn);
    if (!qn)
        return buf_fail(err, "scheduled function name is not valid UTF-8");
    struct buf doc = BUF_INIT(STORE_MAX_DOC + 4096);
    int r = -1;
    if (buf_appendf(&doc, "{\"name\":%s,\"args\":[", qn) < 0 || buf_append(&doc, args, len) < 0 ||
        buf_appendf(&doc, "],\"scheduledTime\":%.17g,\"state\":{\"kind\":\"pending\"}}",
                    scheduled_ms) < 0) {
        st_failk(t->s, STORE_ERR_TOO_LARGE, err,
                 "scheduled function arguments are too large: %zu bytes; a job's document is at "
                 "most %u bytes (the document limit)",
                 len, (unsigned)STORE_MAX_DOC);
        goto out;
    }
    r = store_insert(t, table, doc.data, doc.len, id_out, err);
out:
    free(qn);
    buf_release(&doc);
    return r;
}

struct new_state {
    const char *kind, *error;
    double completed_ms;
};

/* st_rewrite_fn: the job with its state (and completedTime) replaced; every other field's
 * text is kept as stored. */
static int splice_state(void *arg, const char *text, size_t len, const json_t *doc,
                        struct buf *out, json_t **new_doc, struct buf *err)
{
    const struct new_state *ns = arg;
    struct st_span *sp = NULL;
    size_t n = st_scan_object(text, len, &sp);
    json_t *state = json_pack("{s:s}", "kind", ns->kind);
    char *etext = NULL;
    int r = -1;
    if (ns->error) {
        json_t *e = json_string(ns->error);
        if (!e)
            e = json_string("(the error is not UTF-8)");
        etext = json_dumps(e, JSON_ENCODE_ANY);
        json_object_set_new(state, "error", e);
    }
    int first = 1;
    buf_append_byte(out, '{');
    for (size_t i = 0; i < n; i++) {
        size_t kl = sp[i].ke - sp[i].ks;
        const char *k = text + sp[i].ks;
        if ((kl == 7 && !memcmp(k, "\"state\"", 7)) ||
            (kl == 15 && !memcmp(k, "\"completedTime\"", 15)))
            continue;
        if (!first)
            buf_append_byte(out, ',');
        first = 0;
        buf_append(out, k, kl);
        buf_append_byte(out, ':');
        buf_append(out, text + sp[i].vs, sp[i].ve - sp[i].vs);
    }
    if (buf_appendf(out, "%s\"state\":{\"kind\":\"%s\"", first ? "" : ",", ns->kind) < 0 ||
        (etext && buf_appendf(out, ",\"error\":%s", etext) < 0) || buf_append_byte(out, '}') < 0 ||
        (ns->completed_ms > 0 &&
         buf_appendf(out, ",\"completedTime\":%.17g", ns->completed_ms) < 0)) {
        buf_fail(err, "the job's error message is too large");
        goto out;
    }
    *new_doc = json_copy((json_t *)doc);
    json_object_set(*new_doc, "state", state);
    if (ns->completed_ms > 0)
        json_object_set_new(*new_doc, "completedTime", json_real(ns->completed_ms));
    r = 0;
out:
    json_decref(state);
    free(etext);
    vr_free(sp);
    return r;
}

int store_sched_set_state(struct store_txn *t, const char *id, const char *kind,
                          const char *error, double completed_ms, struct buf *err)
{
    struct new_state ns = { kind, error, completed_ms };
    const char *tn = store_id_table(t->s, id, strlen(id));
    if (!tn || !store_sched_table_name_ok(tn))
        return st_failk(t->s, STORE_ERR_INVALID_ID, err, "`%s` is not a scheduled job", id);
    return st_doc_rewrite(t, id, NULL, 0, NULL, splice_state, &ns, err);
}

int store_sched_finish(struct store_txn *t, const struct store_sched_job *job, const char *kind,
                       const char *error, double completed_ms, struct buf *err)
{
    struct new_state ns = { kind, error, completed_ms };
    return st_doc_rewrite(t, job->id, job->text, job->len, job->doc, splice_state, &ns, err);
}

int store_sched_get(struct store_txn *t, const char *id, const char *ns, json_t **doc,
                    struct buf *err)
{
    struct buf out = BUF_INIT(STORE_MAX_DOC + 4096);
    int found = 0, r = -1;
    *doc = NULL;
    const char *tn = store_id_table(t->s, id, strlen(id));
    char own[STORE_TABLE_NAME_MAX + 1];
    if (!tn || !store_sched_table_name_ok(tn) ||
        (ns && (sched_table_name(ns, own) < 0 || strcmp(tn, own)))) {
        r = 0; /* not a job, or another namespace's */
        goto out;
    }
    if (store_get(t, id, strlen(id), &out, &found, err) < 0)
        goto out;
    if (found)
        *doc = json_parse(out.data, out.len, STORE_JSON_FLAGS, NULL);
    r = 0;
out:
    buf_release(&out);
    return r;
}

struct job_list {
    struct store_sched_job *jobs;
    size_t n, cap;
};

/* Appends up to `limit` jobs of table tb in the index range `range` to *l, earliest first. */
static int due_in(struct store_txn *t, const struct st_table *tb, const char *range, size_t limit,
                  struct job_list *l, struct buf *err)
{
    struct store_cursor *c = NULL;
    struct buf doc = BUF_INIT(STORE_MAX_DOC + 4096);
    size_t seen = 0;
    int r = -1, done = 0;
    char *ns = table_ns(tb->name);
    if (store_scan_open(t, tb->name, STORE_SCHED_INDEX, range, strlen(range), 0, &c, err) < 0)
        goto out;
    while (seen < limit) {
        buf_reset(&doc);
        int got = store_scan_next(c, &doc, &done, err);
        if (got > 0)
            st_failk(t->s, STORE_ERR_TOO_LARGE, err, "scheduled function's document too large");
        if (got != 0)
            goto out;
        if (done)
            break;
        seen++;
        json_t *d = json_parse(doc.data, doc.len, STORE_JSON_FLAGS, NULL);
        const char *id = json_string_value(json_object_get(d, "_id"));
        if (!id || strlen(id) != STORE_ID_LEN) {
            json_decref(d);
            continue;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 16;
            l->jobs = vr_realloc(l->jobs, l->cap * sizeof(*l->jobs));
        }
        struct store_sched_job *j = &l->jobs[l->n++];
        memcpy(j->id, id, STORE_ID_LEN + 1);
        j->ns = vr_strdup(ns);
        j->doc = d;
        j->len = doc.len;
        j->text = vr_malloc(doc.len + 1);
        memcpy(j->text, doc.data, doc.len);
        j->text[doc.len] = '\0';
    }
    r = 0;
out:
    if (c)
        store_scan_close(c, seen);
    buf_release(&doc);
    vr_free(ns);
    return r;
}

static void jobs_release(struct store_sched_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(jobs[i].doc);
        vr_free(jobs[i].text);
        vr_free(jobs[i].ns);
    }
}

static int by_time(const void *a, const void *b)
{
    double x = json_number_value(
        json_object_get(((const struct store_sched_job *)a)->doc, "scheduledTime"));
    double y = json_number_value(
        json_object_get(((const struct store_sched_job *)b)->doc, "scheduledTime"));
    return x < y ? -1 : x > y;
}

/* Jobs in state `kind` with scheduledTime <= now_ms (or all of them for now_ms < 0), earliest
 * first, at most `limit`: up to `limit` of each namespace's table, merged. */
int store_sched_due(struct store_txn *t, const char *kind, double now_ms, size_t limit,
                    struct store_sched_job **out, size_t *count, struct buf *err)
{
    char range[160];
    if (now_ms < 0)
        snprintf(range, sizeof(range), "{\"eq\":[\"%s\"]}", kind);
    else
        snprintf(range, sizeof(range),
                 "{\"eq\":[\"%s\"],\"upper\":{\"op\":\"lte\",\"value\":%.17g}}", kind, now_ms);
    struct job_list l = { NULL, 0, 0 };
    struct store *s = t->s;
    int r = 0;
    for (size_t i = 0; i < s->nsched && r == 0; i++)
        r = due_in(t, s->sched_tables[i], range, limit, &l, err);
    if (r < 0) {
        store_sched_jobs_free(l.jobs, l.n);
        l.jobs = NULL;
        l.n = 0;
    } else if (l.n > 1 && s->nsched > 1) { /* merged by time (l.jobs is NULL when empty) */
        qsort(l.jobs, l.n, sizeof(*l.jobs), by_time);
        if (l.n > limit) {
            jobs_release(l.jobs + limit, l.n - limit);
            l.n = limit;
        }
    }
    *out = l.jobs;
    *count = l.n;
    return r;
}

void store_sched_jobs_free(struct store_sched_job *jobs, size_t n)
{
    jobs_release(jobs, n);
    vr_free(jobs);
}

int store_sched_next(struct store_txn *t, double *when, struct buf *err)
{
    struct store_sched_job *jobs = NULL;
    size_t n = 0;
    *when = 0;
    int r = store_sched_due(t, "pending", -1, 1, &jobs, &n, err);
    if (r == 0 && n) {
        *when = json_number_value(json_object_get(jobs[0].doc, "scheduledTime"));
        r = 1;
    }
    store_sched_jobs_free(jobs, n);
    return r;
}

int store_sched_count(struct store *s, const char *kind, uint64_t *n, struct buf *err)
{
    struct buf lo = BUF_INIT(256);
    json_t *k = json_string(kind);
    int r = -1;
    *n = 0;
    key_encode_value(&lo, k);
    json_decref(k);
    struct buf hi = BUF_INIT(256);
    buf_append(&hi, lo.data, lo.len);
    buf_append(&hi, "\xff", 1);
    sqlite3_stmt *st = NULL;
    for (size_t i = 0; i < s->nsched; i++) {
        st = st_prep(s, NULL, err, "SELECT count(*) FROM i%u WHERE k >= ?1 AND k < ?2",
                     s->sched_idx[i]);
        if (!st)
            goto out;
        sqlite3_bind_blob(st, 1, lo.data, (int)lo.len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, hi.data, (int)hi.len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            st_sqlerr(s, err, "count jobs");
            goto out;
        }
        *n += (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
    }
    r = 0;
out:
    sqlite3_finalize(st);
    buf_release(&lo);
    buf_release(&hi);
    return r;
}

/* ---- cron jobs' state (_vr_cron) ---- */

int store_cron_list(struct store *s, json_t **out, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, NULL, err, "SELECT name, spec, job, last_run FROM _vr_cron");
    *out = NULL;
    if (!st)
        return -1;
    json_t *rows = json_object();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_pack("{s:s, s:s, s:f}", "spec",
                                (const char *)sqlite3_column_text(st, 1), "job",
                                (const char *)sqlite3_column_text(st, 2), "lastRun",
                                sqlite3_column_type(st, 3) == SQLITE_NULL
                                    ? -1.0
                                    : sqlite3_column_double(st, 3));
        if (row)
            json_object_set_new(rows, (const char *)sqlite3_column_text(st, 0), row);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return st_sqlerr(s, err, "list cron jobs");
    }
    *out = rows;
    return 0;
}

int store_cron_has_job(struct store *s, const char *job, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, NULL, err, "SELECT 1 FROM _vr_cron WHERE job = ?1 LIMIT 1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return st_sqlerr(s, err, "read the cron jobs");
    return rc == SQLITE_ROW;
}

int store_cron_put(struct store_txn *t, const char *name, const char *spec, const char *job,
                   double last_run, struct buf *err)
{
    if (st_txn_alive(t, err) < 0)
        return -1;
    sqlite3_stmt *st = st_prep(t->s, NULL, err,
                               "INSERT OR REPLACE INTO _vr_cron(name, spec, job, last_run) "
                               "VALUES (?1, ?2, ?3, ?4)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, job, -1, SQLITE_STATIC);
    if (last_run >= 0)
        sqlite3_bind_double(st, 4, last_run);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(t->s, err, "store a cron job");
    t->wrote = 1;
    return 0;
}

int store_cron_delete(struct store_txn *t, const char *name, struct buf *err)
{
    if (st_txn_alive(t, err) < 0)
        return -1;
    sqlite3_stmt *st = st_prep(t->s, NULL, err, "DELETE FROM _vr_cron WHERE name = ?1");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(t->s, err, "delete a cron job");
    t->wrote = 1;
    return 0;
}
