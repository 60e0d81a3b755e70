/* http_admin_import: POST /api/admin/import (`vireo import`; http_admin_import.h). The body is
 * the file; import_parse turns it into documents, and one transaction of the shard's write batch
 * stores them all or none: the tables emptied first as the mode says, every document's id
 * decided before any is stored (so that references among them can be rewritten), the stored
 * files of a ZIP written, then the documents inserted and validated as inserts are. The live
 * queries that read the tables are re-run as for any write, and the answer waits for the batch's
 * commit (http_api_respond_call). */
#include "proto/http_admin_import.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/json_parse.h"
#include "base/json_write.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/thread_job.h"
#include "proto/import_parse.h"
#include "proto/reply.h"
#include "store/store.h"
#include "base/banned.h"

enum import_mode { MODE_REQUIRE_EMPTY, MODE_APPEND, MODE_REPLACE, MODE_REPLACE_ALL };

/* One import's state: its transaction, the ids it decided and the files it stored. */
struct import_run {
    struct shard *shard;
    struct store_txn *t;
    struct import_set set;
    char (**ids)[STORE_ID_LEN + 1];     /* ids[table][doc] */
    struct hmap remap;                  /* an id the file had -> the new id (owned strings) */
    char (*file_ids)[STORE_ID_LEN + 1]; /* the stored files written, to remove on failure */
    size_t n_files;
    json_t *counts;         /* {"<table>": {"imported": N, "deleted": M}} */
    enum import_format fmt; /* the file's (CSV: empty entries of optional fields dropped) */
    struct hmap others;     /* replaced ids not id_like (a duplicate is still an error) */
};

static void fail(struct conn *c, int status, const char *code, const char *msg)
{
    http_api_respond_error(c, status, code, msg, NULL);
}

/* The tenant stopped (why: http_api.stopping): the server ending, or a forced delete. */
static void fail_stopping(struct conn *c, int why)
{
    if (why == HTTP_API_DELETING)
        fail(c, 503, "TenantDeleting", "the tenant is being deleted: nothing was imported");
    else
        fail(c, 503, "ServerShuttingDown",
             "the server is shutting down: nothing was imported; import again once it is back");
}

static int mode_parse(struct slice v, enum import_mode *m)
{
    static const struct {
        const char *name;
        enum import_mode mode;
    } modes[] = {
        {"requireEmpty", MODE_REQUIRE_EMPTY},
        {"append", MODE_APPEND},
        {"replace", MODE_REPLACE},
        {"replaceAll", MODE_REPLACE_ALL},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (slice_eq_str(v, modes[i].name)) {
            *m = modes[i].mode;
            return 0;
        }
    return -1;
}

/* counts[table][key] += n */
static void count_add(json_t *counts, const char *table, const char *key, uint64_t n)
{
    json_t *o = json_object_get(counts, table);
    if (!o) {
        o = json_pack("{s:I, s:I}", "imported", (json_int_t)0, "deleted", (json_int_t)0);
        json_object_set_new(counts, table, o);
    }
    json_int_t had = json_integer_value(json_object_get(o, key));
    json_object_set_new(o, key, json_integer(had + (json_int_t)n));
}

/* Empties what the mode replaces; with requireEmpty, refuses a table that has documents. */
static int apply_mode(struct import_run *r, enum import_mode mode, struct conn *c)
{
    struct buf err = BUF_INIT(4096);
    int rc = -1;
    if (mode == MODE_REQUIRE_EMPTY) {
        for (size_t i = 0; i < r->set.n; i++) {
            const char *name = r->set.tables[i].name;
            uint64_t n = store_table_doc_count(r->t, name, &err);
            if (n == UINT64_MAX) {
                fail(c, 500, "StoreError", err.data);
                goto out;
            }
            if (n) {
                buf_reset(&err);
                buf_appendf(&err,
                            "table `%s` already has %llu document%s: import with --append to "
                            "add to them, or --replace to replace them (mode=append, "
                            "mode=replace)",
                            name, (unsigned long long)n, n == 1 ? "" : "s");
                fail(c, 409, "ImportTableNotEmpty", err.data);
                goto out;
            }
        }
        rc = 0;
        goto out;
    }
    char **names = NULL;
    size_t n_names = 0;
    if (mode == MODE_REPLACE_ALL) {
        store_app_tables(r->shard->store, &names, &n_names);
    } else if (mode == MODE_REPLACE) {
        names = vr_calloc(r->set.n ? r->set.n : 1, sizeof *names);
        for (size_t i = 0; i < r->set.n; i++)
            names[n_names++] = vr_strdup(r->set.tables[i].name);
    }
    rc = 0;
    for (size_t i = 0; i < n_names; i++) {
        uint64_t deleted = 0;
        if (rc == 0 && store_table_delete_all(r->t, names[i], &deleted, &err) < 0) {
            fail(c, 500, "StoreError", err.data);
            rc = -1;
        }
        if (rc == 0 && deleted)
            count_add(r->counts, names[i], "deleted", deleted);
        vr_free(names[i]);
    }
    vr_free(names);
out:
    buf_release(&err);
    return rc;
}

/* An id as Convex and Vireo write them (lower-case base32, 20 to 64 characters): only those are
 * looked for in the imported documents when replaced; an `_id` such as "1" is replaced alone. */
static int id_like(const char *s)
{
    size_t n = strlen(s);
    return n >= 20 && n <= 64 && strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz") == n;
}

/* Decides every document's id: the one it had when it is an id of its table here, else a new
 * one (remembered, so that references to the old one are rewritten). */
static int decide_ids(struct import_run *r, struct conn *c)
{
    struct buf err = BUF_INIT(4096), msg = BUF_INIT(8192);
    int rc = -1;
    double now = clock_wall_ms();
    r->ids = vr_calloc(r->set.n ? r->set.n : 1, sizeof *r->ids);
    for (size_t i = 0; i < r->set.n; i++) {
        struct import_table *tb = &r->set.tables[i];
        r->ids[i] = vr_calloc(tb->n ? tb->n : 1, sizeof *r->ids[i]);
        for (size_t k = 0; k < tb->n; k++) {
            struct import_doc *d = &tb->docs[k];
            int kept = 0;
            if (store_import_id(r->t, tb->name, d->id, isnan(d->ct) ? now : d->ct, r->ids[i][k],
                                &kept, &err) < 0) {
                int storage = store_last_error(r->shard->store) == STORE_ERR_OTHER;
                buf_appendf(&msg, "table `%s`: %s", tb->name, err.data);
                fail(c, storage ? 500 : 400, storage ? "StoreError" : "InvalidImport", msg.data);
                goto out;
            }
            if (d->id && !kept) {
                size_t len = strlen(d->id);
                struct hmap *m = id_like(d->id) ? &r->remap : &r->others;
                if (hmap_get(&r->remap, d->id, len) || hmap_get(&r->others, d->id, len)) {
                    import_place(&msg, tb, d, r->fmt);
                    buf_appendf(&msg, ": the id `%.64s` appears twice in the import", d->id);
                    fail(c, 400, "InvalidImport", msg.data);
                    goto out;
                }
                hmap_put(m, d->id, len, vr_strdup(r->ids[i][k]));
            }
        }
    }
    rc = 0;
out:
    buf_release(&err);
    buf_release(&msg);
    return rc;
}

/* Removes the temporary files of set's stored files that were not stored. */
static void remove_file_tmps(struct import_set *set, const char *dir)
{
    for (size_t i = 0; dir && i < set->n_files; i++)
        if (set->files[i].tmp[0]) {
            store_file_remove(dir, set->files[i].tmp);
            set->files[i].tmp[0] = '\0';
        }
}

/* Writes each stored file's bytes to a temporary file in dir (fsynced: store_file_write_tmp)
 * and frees them; on the parse thread when there is one. 0, or with err (those written removed)
 * -1 for an in-memory server (no dir), -2 for a failed write. */
static int write_file_tmps(struct import_set *set, const char *dir, struct buf *err)
{
    struct buf e = BUF_INIT(4096);
    for (size_t i = 0; i < set->n_files; i++) {
        struct import_file *f = &set->files[i];
        if (!dir) {
            buf_reset(err);
            buf_append_str(err, "the import holds stored files, and this server keeps its "
                                "database in memory (no files directory)");
            buf_release(&e);
            return -1;
        }
        if (store_file_write_tmp(dir, f->data, f->size, f->tmp, f->sha, &e) < 0) {
            f->tmp[0] = '\0';
            buf_reset(err);
            buf_appendf(err, "stored file `%.64s`: %s", f->id, e.data);
            goto fail;
        }
        vr_free(f->data);
        f->data = NULL;
    }
    buf_release(&e);
    return 0;
fail:
    buf_release(&e);
    remove_file_tmps(set, dir);
    return -2;
}

/* Stores a ZIP's files, already in temporary files (write_file_tmps): each a new `_storage`
 * document (the old id remembered) and its file renamed to the new id; then one fsync of the
 * folder for them all (not one per file: an import may hold thousands). */
static int store_files(struct import_run *r, struct conn *c)
{
    struct shard *sh = r->shard;
    struct buf err = BUF_INIT(4096), msg = BUF_INIT(8192);
    int rc = -1;
    r->file_ids = vr_calloc(r->set.n_files ? r->set.n_files : 1, sizeof *r->file_ids);
    for (size_t i = 0; i < r->set.n_files; i++) {
        struct import_file *f = &r->set.files[i];
        if (f->sha256 && strcmp(f->sha256, f->sha)) {
            buf_appendf(&msg,
                        "stored file `%.64s`: its bytes do not match the sha256 "
                        "_storage/documents.jsonl gives for it",
                        f->id);
            fail(c, 400, "InvalidImport", msg.data);
            goto out;
        }
        if (store_storage_insert(r->t, f->sha, f->size, f->content_type, r->file_ids[i], &err) <
                0 ||
            store_file_rename(sh->files_dir, f->tmp, r->file_ids[i], &err) < 0) {
            int full = store_last_error(sh->store) == STORE_ERR_FULL;
            buf_appendf(&msg, "stored file `%.64s`: %s", f->id, err.data);
            fail(c, full ? 507 : 500, full ? "StorageLimitExceeded" : "StoreError", msg.data);
            goto out;
        }
        f->tmp[0] = '\0'; /* renamed: removed by id if the transaction does not commit */
        r->n_files++;
        if (f->id && !hmap_get(&r->remap, f->id, strlen(f->id)))
            hmap_put(&r->remap, f->id, strlen(f->id), vr_strdup(r->file_ids[i]));
    }
    if (r->set.n_files && store_files_sync_dir(sh->files_dir, &err) < 0) {
        buf_appendf(&msg, "stored files: %s", err.data);
        fail(c, 500, "StoreError", msg.data);
        goto out;
    }
    if (r->set.n_files) {
        json_object_set_new(
            r->counts, "_storage",
            json_pack("{s:I, s:I}", "imported", (json_int_t)r->n_files, "deleted", (json_int_t)0));
    }
    rc = 0;
out:
    buf_release(&err);
    buf_release(&msg);
    return rc;
}

/* Replaces, anywhere in v, each string that is an id the import renamed. */
static void rewrite_refs(const struct hmap *remap, json_t *v)
{
    if (json_is_string(v)) {
        const char *to = hmap_get(remap, json_string_value(v), json_string_length(v));
        if (to)
            json_string_set(v, to);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            rewrite_refs(remap, json_array_get(v, i));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            rewrite_refs(remap, x);
        }
    }
}

/* As Convex: a CSV entry left empty for a field the schema makes optional is no field at all
 * (a CSV cannot say "absent"). Rewrites the documents' text of table tb. */
static void drop_empty_optional(struct import_run *r, struct import_table *tb)
{
    char **names;
    size_t n;
    store_table_optional_fields(r->shard->store, tb->name, &names, &n);
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    for (size_t k = 0; n && k < tb->n; k++) {
        struct import_doc *d = &tb->docs[k];
        json_t *v = json_parse(d->text, d->len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
        int dropped = 0;
        for (size_t i = 0; v && i < n; i++) {
            const json_t *x = json_object_get(v, names[i]);
            if (json_is_string(x) && json_string_length(x) == 0)
                dropped += json_object_del(v, names[i]) == 0;
        }
        if (dropped) {
            buf_reset(&text);
            json_write(&text, v, 0);
            vr_free(d->text);
            d->text = vr_strndup(text.data, text.len);
            d->len = text.len;
        }
        json_decref(v);
    }
    for (size_t i = 0; i < n; i++)
        vr_free(names[i]);
    vr_free(names);
    buf_release(&text);
}

static int insert_docs(struct import_run *r, struct conn *c)
{
    struct buf err = BUF_INIT(4096), msg = BUF_INIT(8192), rewritten = BUF_INIT(BUF_NOLIMIT);
    int rc = -1;
    for (size_t i = 0; i < r->set.n; i++) {
        struct import_table *tb = &r->set.tables[i];
        if (r->fmt == IMPORT_CSV)
            drop_empty_optional(r, tb);
        for (size_t k = 0; k < tb->n; k++) {
            struct import_doc *d = &tb->docs[k];
            const char *text = d->text;
            size_t len = d->len;
            if (r->remap.len && memchr(d->text, '"', d->len)) { /* ids are strings */
                json_t *v =
                    json_parse(d->text, d->len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
                if (v) { /* import_parse wrote it: it parses */
                    rewrite_refs(&r->remap, v);
                    buf_reset(&rewritten);
                    json_write(&rewritten, v, 0);
                    json_decref(v);
                    text = rewritten.data;
                    len = rewritten.len;
                }
            }
            int ok =
                store_insert_imported(r->t, tb->name, text, len, r->ids[i][k], d->ct, &err) == 0;
            if (!ok) {
                enum store_err kind = store_last_error(r->shard->store);
                import_place(&msg, tb, d, r->fmt);
                buf_appendf(&msg, ": %s", err.len ? err.data : "out of memory");
                if (kind == STORE_ERR_FULL)
                    fail(c, 507, "StorageLimitExceeded", msg.data);
                else if (kind == STORE_ERR_OTHER || store_txn_poisoned(r->t))
                    fail(c, 500, "StoreError", msg.data); /* SQLite's, not the file's */
                else
                    fail(c, 400, "InvalidImport", msg.data);
                goto out;
            }
        }
        count_add(r->counts, tb->name, "imported", tb->n);
    }
    rc = 0;
out:
    buf_release(&err);
    buf_release(&msg);
    buf_release(&rewritten);
    return rc;
}

static void run_free(struct import_run *r)
{
    for (size_t i = 0; r->ids && i < r->set.n; i++)
        vr_free(r->ids[i]);
    vr_free(r->ids);
    for (size_t i = 0; i < r->remap.cap; i++)
        if (r->remap.slots[i].key)
            vr_free(r->remap.slots[i].value);
    hmap_release(&r->remap);
    for (size_t i = 0; i < r->others.cap; i++)
        if (r->others.slots[i].key)
            vr_free(r->others.slots[i].value);
    hmap_release(&r->others);
    vr_free(r->file_ids);
    json_decref(r->counts);
    remove_file_tmps(&r->set, r->shard->files_dir);
    import_set_free(&r->set);
}

/* Stores a parsed import in one transaction of the write batch and answers c (after the batch's
 * commit). set is taken over. */
static void apply(struct http_api *api, struct conn *c, struct import_set *set,
                  enum import_format fmt, enum import_mode mode)
{
    struct shard *sh = api->shard;
    struct import_run r = {.shard = sh, .set = *set, .fmt = fmt};
    struct buf err = BUF_INIT(8192);
    memset(set, 0, sizeof *set);
    hmap_init(&r.remap);
    hmap_init(&r.others);
    r.counts = json_object();
    if (shard_batch_open(sh, &err) < 0 || !(r.t = store_txn_begin(sh->store, 1, &err))) {
        fail(c, 500, "StoreError", err.data);
        goto out;
    }
    store_txn_bulk(r.t);
    uint64_t t0 = clock_mono_ns();
    if (apply_mode(&r, mode, c) < 0 || decide_ids(&r, c) < 0 || store_files(&r, c) < 0 ||
        insert_docs(&r, c) < 0)
        goto abort;
    buf_reset(&err);
    if (store_txn_commit(r.t, NULL, &err) < 0) {
        fail(c, 500, "StoreError", err.data);
        goto abort;
    }
    shard_committed(sh, r.t);
    store_txn_free(r.t);
    r.t = NULL;
    for (size_t i = 0; i < r.n_files; i++) /* removed if the batch's commit then fails */
        js_runtime_batch_stored_file(sh->rt, r.file_ids[i]);
    size_t docs = 0;
    for (size_t i = 0; i < r.set.n; i++)
        docs += r.set.tables[i].n;
    log_info("import", "%zu documents in %zu tables, %zu files (mode %d) stored in %.1f ms", docs,
             r.set.n, r.n_files, (int)mode, (double)(clock_mono_ns() - t0) / 1e6);
    json_t *o = json_pack("{s:s, s:{s:O}}", "status", "success", "value", "tables", r.counts);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct buf body = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&body, text ? text : "{\"status\":\"success\",\"value\":{}}");
    free(text);
    http_api_respond_call(api, c, 200, 0, &body); /* after the batch commits */
    buf_release(&body);
    goto out;
abort:
    store_txn_abort(r.t);
    store_txn_free(r.t);
    r.t = NULL;
    for (size_t i = 0; i < r.n_files; i++) /* renamed to ids the rollback took back */
        store_file_remove(sh->files_dir, r.file_ids[i]);
out:
    run_free(&r);
    buf_release(&err);
}

/* An import whose file is parsed on a thread (api->imports), then stored on the loop. Its file
 * is a copy of the request's body, or (streamed: http_admin_import_head) a temporary file in the
 * shard's files folder, which the start's sweep removes should the process die first. */
struct import_job {
    struct http_body_sink sink; /* first: the server's callbacks get it (streamed) */
    struct http_api *api;
    struct conn *c; /* referenced once the body is whole */
    char *body;     /* a copy of the request's, or NULL */
    size_t len;
    struct store_file_tmp file; /* streamed: its temporary file (file.name[0]: one) */
    size_t cap;                 /* streamed: the most bytes it may have */
    enum import_format fmt;
    enum import_mode mode;
    char table[STORE_TABLE_NAME_MAX + 1];
    char *files_dir; /* the shard's (a copy), where stored files are written */
    struct import_set set;
    struct buf err;
    int r; /* import_parse's; -2: a stored file (or the streamed file) could not be read or written
            */
};

static void job_free(struct import_job *j)
{
    j->api->imports_running--;
    if (j->c)
        conn_unref(j->c);
    vr_free(j->body);
    if (j->file.name[0]) { /* closed if still open, then removed (parsed or not) */
        store_file_tmp_release(&j->file, 1);
        store_file_remove(j->files_dir, j->file.name);
    }
    remove_file_tmps(&j->set, j->files_dir); /* not stored: an error, or the server stopping */
    import_set_free(&j->set);
    vr_free(j->files_dir);
    buf_release(&j->err);
    vr_free(j);
}

/* The streamed file's bytes, mapped; NULL with err. */
static const char *map_file(struct import_job *j, size_t *len)
{
    char path[4700];
    snprintf(path, sizeof path, "%s/%s", j->files_dir, j->file.name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    void *p = MAP_FAILED;
    if (fd >= 0 && fstat(fd, &sb) == 0)
        p = sb.st_size ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : (void *)"";
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (p == MAP_FAILED) {
        buf_reset(&j->err);
        buf_appendf(&j->err, "cannot read the uploaded file %s: %s", path, strerror(e));
        return NULL;
    }
    *len = (size_t)sb.st_size;
    return p;
}

static void parse_work(void *arg)
{
    struct import_job *j = arg;
    uint64_t t0 = clock_mono_ns();
    const char *data = j->body;
    size_t len = j->len;
    if (j->file.name[0] && !(data = map_file(j, &len))) {
        j->r = -2;
        return;
    }
    j->r = import_parse(data, len, j->fmt, j->table[0] ? j->table : NULL, IMPORT_MAX_DOCS, &j->set,
                        &j->err);
    log_debug("import", "%zu bytes parsed in %.1f ms (on its own thread)", len,
              (double)(clock_mono_ns() - t0) / 1e6);
    if (j->file.name[0] && len)
        munmap((void *)data, len);
    vr_free(j->body); /* no longer needed: the documents hold what it said */
    j->body = NULL;
    if (j->r == 0 && j->set.n_files)
        j->r = write_file_tmps(&j->set, j->files_dir, &j->err);
}

static void parse_done(void *arg, int cancelled)
{
    struct import_job *j = arg;
    if (!conn_peer_gone(j->c)) { /* a client that left imports nothing */
        if (cancelled || j->api->stopping)
            fail_stopping(j->c, cancelled ? HTTP_API_SHUTDOWN : j->api->stopping);
        else if (j->r < 0)
            fail(j->c, j->r == -2 ? 500 : 400, j->r == -2 ? "StoreError" : "InvalidImport",
                 j->err.data);
        else
            apply(j->api, j->c, &j->set, j->fmt, j->mode);
    }
    job_free(j);
}

/* The request's parameters into j (a new job), or NULL after answering why not. */
static struct import_job *job_new(struct http_api *api, struct conn *c,
                                  const struct http_request *req)
{
    struct slice v;
    enum import_format fmt;
    enum import_mode mode = MODE_REQUIRE_EMPTY;
    char table[STORE_TABLE_NAME_MAX + 1] = "";
    if (!http_query_param(req->query, "format", &v) || import_format_parse(v.p, v.len, &fmt) < 0) {
        fail(c, 400, "InvalidImport",
             "the query needs format=jsonl, json, csv or zip (the file's format)");
        return NULL;
    }
    if (http_query_param(req->query, "mode", &v) && mode_parse(v, &mode) < 0) {
        fail(c, 400, "InvalidImport",
             "mode must be requireEmpty (the default), append, replace or replaceAll");
        return NULL;
    }
    if (http_query_param(req->query, "table", &v)) {
        /* a component's table is "<component path>/<table>" */
        if (!store_table_name_ok(v.p, v.len)) {
            fail(c, 400, "InvalidImport",
                 "table must be a table name (a letter, then letters, digits and _, at most 64), "
                 "or a component's: its path and the table's name joined by '/'");
            return NULL;
        }
        memcpy(table, v.p, v.len);
        table[v.len] = '\0';
    }
    if (!api->shard->rt) {
        fail(c, 503, "NoAppLoaded", "no app is deployed yet: deploy one, then import its data");
        return NULL;
    }
    if (api->stopping) {
        fail_stopping(c, api->stopping);
        return NULL;
    }
    struct import_job *j = vr_calloc(1, sizeof *j);
    j->api = api;
    j->fmt = fmt;
    j->mode = mode;
    memcpy(j->table, table, sizeof table);
    j->err = (struct buf)BUF_INIT(8192);
    j->files_dir = api->shard->files_dir ? vr_strdup(api->shard->files_dir) : NULL;
    api->imports_running++; /* the tenant stays open until it ends (tenant_busy) */
    return j;
}

static void too_many(struct conn *c, struct http_api *api)
{
    char m[160];
    snprintf(m, sizeof m, "%zu imports are being parsed, the most at once; retry later",
             thread_jobs_running(api->imports));
    fail(c, 503, "TooManyImports", m);
}

/* The file is whole (j->body or j->file): parsed on a thread of the pool, then stored. */
static void job_start(struct import_job *j, struct conn *c)
{
    j->c = c;
    conn_ref(c);
    struct thread_job job = {parse_work, parse_done, j};
    int e = thread_job_start(j->api->imports, &job);
    if (e == -EBUSY) {
        too_many(c, j->api);
        job_free(j);
    } else if (e < 0) {
        char m[160];
        snprintf(m, sizeof m, "cannot start the import: %s", strerror(-e));
        fail(c, 503, "ServerOverloaded", m);
        job_free(j);
    }
}

static void too_large(struct conn *c, size_t cap)
{
    char m[200];
    snprintf(m, sizeof m,
             "the file is larger than the import limit of %zu bytes (--max-import-mb); nothing "
             "was imported",
             cap);
    fail(c, 413, "ImportTooLarge", m);
}

static int sink_data(struct http_body_sink *k, struct conn *c, const char *p, size_t n)
{
    struct import_job *j = (struct import_job *)k;
    struct buf err = BUF_INIT(4096);
    int r = 0;
    if (n > j->cap - j->file.size) {
        size_t cap = j->cap;
        job_free(j); /* the file goes before the answer */
        too_large(c, cap);
        r = -1;
    } else if (store_file_tmp_write(&j->file, p, n, &err) < 0) {
        log_error("import", "%s", err.data);
        fail(c, 500, "StoreError", err.data);
        job_free(j);
        r = -1;
    }
    buf_release(&err);
    return r;
}

static void sink_end(struct http_body_sink *k, struct conn *c, struct http_request *req)
{
    struct import_job *j = (struct import_job *)k;
    (void)req;
    store_file_tmp_release(&j->file, 1); /* closed; kept for the parse, removed by job_free */
    job_start(j, c);
}

static void sink_abort(struct http_body_sink *k, struct conn *c)
{
    (void)c;
    job_free((struct import_job *)k);
}

int http_admin_import_head(struct http_api *api, struct conn *c, struct http_request *req)
{
    /* streamed when it can be: the admin's, with a pool and a files folder; others go the
     * handler's way (their body held whole, within --max-body) and are answered there */
    if (!slice_eq_str(req->method, "POST") || !slice_eq_str(req->path, "/api/admin/import") ||
        !api->imports || !api->shard->files_dir || !http_api_admin_authorized(api, req))
        return 0;
    size_t cap = api->max_import_bytes ? api->max_import_bytes : IMPORT_BYTES_DEFAULT;
    if (req->content_length > 0 && (unsigned long long)req->content_length > cap) {
        too_large(c, cap);
        return 1;
    }
    if (thread_jobs_running(api->imports) >= IMPORTS_MAX) { /* before a byte is read */
        too_many(c, api);
        return 1;
    }
    struct import_job *j = job_new(api, c, req);
    if (!j)
        return 1;
    struct buf err = BUF_INIT(4096);
    if (store_file_tmp_open(&j->file, j->files_dir, &err) < 0) {
        log_error("import", "%s", err.data);
        fail(c, 500, "StoreError", err.data);
        job_free(j);
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    j->cap = cap;
    j->sink.data = sink_data;
    j->sink.end = sink_end;
    j->sink.abort = sink_abort;
    conn_stream_body(c, &j->sink);
    return 1;
}

void http_admin_import_handle(struct http_api *api, struct conn *c, const struct http_request *req)
{
    struct import_job *j = job_new(api, c, req);
    if (!j)
        return;
    if (!api->imports) { /* no pool: parsed here */
        struct buf err = BUF_INIT(8192);
        int r = import_parse(req->body.p, req->body.len, j->fmt, j->table[0] ? j->table : NULL,
                             IMPORT_MAX_DOCS, &j->set, &err);
        if (r == 0 && j->set.n_files)
            r = write_file_tmps(&j->set, j->files_dir, &err);
        if (r < 0)
            fail(c, r == -2 ? 500 : 400, r == -2 ? "StoreError" : "InvalidImport", err.data);
        else
            apply(api, c, &j->set, j->fmt, j->mode);
        buf_release(&err);
        job_free(j);
        return;
    }
    j->len = req->body.len;
    j->body = vr_malloc(j->len ? j->len : 1);
    memcpy(j->body, req->body.p, j->len);
    job_start(j, c);
}
