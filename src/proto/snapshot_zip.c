/* snapshot_zip: a snapshot of a shard's tables as a ZIP in Convex's export format
 * (snapshot_zip.h). Each table's documents are written to a temporary file beside the output
 * while the read transaction holds the snapshot; libzip reads those files (and the stored files)
 * when the archive is closed, so memory stays one document deep whatever the tables hold. */
#include "proto/snapshot_zip.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "base/json_parse.h"
#include "base/json_write.h"
#include "base/mem.h"
#include "store/store.h"
#include "store/value.h"
#include "base/banned.h"

static const char readme[] =
    "# A snapshot of a Vireo app's tables\n"
    "\n"
    "Each table's documents are the lines of <table>/documents.jsonl, in Convex's export JSON\n"
    "(<table>/generated_schema.jsonl says \"uniform\": an integer is an int64, a number with a\n"
    "'.' or an exponent a float64, {\"$bytes\": ...} and {\"$float\": ...} encoded values).\n"
    "Stored files, when included, are _storage/documents.jsonl and the files beside it.\n"
    "\n"
    "`vireo import snapshot.zip` (or `npx convex import snapshot.zip`) loads it back.\n";

/* The work in progress: the archive and the temporary files it will read when closed. */
struct zipper {
    zip_t *zip;
    char dir[4600]; /* the temporary files' folder */
    char **tmp;     /* their paths, removed at the end */
    size_t n_tmp;
    struct buf *err;
};

static int zfail(struct zipper *z, const char *what, const char *name)
{
    buf_reset(z->err);
    buf_appendf(z->err, "%s %s: %s", what, name, zip_strerror(z->zip));
    return -1;
}

static int add_source(struct zipper *z, const char *name, zip_source_t *src)
{
    if (!src)
        return zfail(z, "cannot add", name);
    zip_int64_t i = zip_file_add(z->zip, name, src, ZIP_FL_ENC_UTF_8);
    if (i < 0) {
        zip_source_free(src);
        return zfail(z, "cannot add", name);
    }
    zip_file_set_external_attributes(z->zip, (zip_uint64_t)i, 0, ZIP_OPSYS_UNIX, 0644u << 16);
    return 0;
}

static int add_text(struct zipper *z, const char *name, const char *text)
{
    return add_source(z, name, zip_source_buffer(z->zip, text, strlen(text), 0));
}

static int add_file(struct zipper *z, const char *name, const char *path)
{
    return add_source(z, name, zip_source_file(z->zip, path, 0, -1));
}

/* A new temporary file in z->dir (its path kept for removal); NULL with err. */
static FILE *tmp_file(struct zipper *z, char path[4700])
{
    snprintf(path, 4700, "%s/%zu", z->dir, z->n_tmp);
    FILE *f = fopen(path, "wxe");
    if (!f) {
        buf_reset(z->err);
        buf_appendf(z->err, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    z->tmp = vr_realloc(z->tmp, (z->n_tmp + 1) * sizeof *z->tmp);
    z->tmp[z->n_tmp++] = vr_strdup(path);
    return f;
}

/* v (a stored value: Convex's encoded JSON, numbers parsed as reals) made export JSON in place:
 * each {"$integer": ...} an integer (json_write then writes it as a literal, and every real with
 * a '.': JSON_WRITE_REAL_DOT); {"$bytes"} and {"$float"} stay as they are. Returns v, or its
 * replacement (v released). */
static json_t *to_export(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_set_new(v, i, to_export(json_incref(json_array_get(v, i))));
        return v;
    }
    if (!json_is_object(v))
        return v;
    const json_t *w = json_object_get(v, "$integer");
    if (w && json_object_size(v) == 1) {
        int64_t n;
        if (value_type_of(v, &n, NULL) == VT_INT64) {
            json_decref(v);
            return json_integer((json_int_t)n);
        }
        return v;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        json_object_set_new(v, k, to_export(json_incref(x)));
    }
    return v;
}

/* A table's folder in Convex's snapshot layout: a component's tables are under
 * `_components/<name>/`, a child's under its parent's
 * ("a/b/t" -> "_components/a/_components/b/t"). */
static void table_folder(const char *table, char *out, size_t cap)
{
    size_t n = 0;
    const char *seg = table, *slash;
    out[0] = '\0';
    while ((slash = strchr(seg, '/')) && n < cap) {
        n += (size_t)snprintf(out + n, cap - n, "_components/%.*s/", (int)(slash - seg), seg);
        seg = slash + 1;
    }
    if (n < cap)
        snprintf(out + n, cap - n, "%s", seg);
}

/* Writes every document of `table` (by _id) to a temporary file and adds it as
 * `<table>/documents.jsonl`; ids of the stored files are collected when ids != NULL. */
static int add_table(struct zipper *z, struct store_txn *t, const char *table, char ***ids,
                     size_t *n_ids)
{
    char path[4700], name[2048], folder[1800];
    struct buf doc = BUF_INIT(BUF_NOLIMIT), line = BUF_INIT(BUF_NOLIMIT);
    struct store_cursor *c = NULL;
    int r = -1, done = 0;
    FILE *f = tmp_file(z, path);
    if (!f)
        goto out;
    if (store_scan_open(t, table, "by_id", "{}", 2, 0, &c, z->err) < 0)
        goto out;
    for (;;) {
        buf_reset(&doc);
        if (store_scan_next(c, &doc, &done, z->err) < 0)
            goto out;
        if (done)
            break;
        json_t *v = json_parse(doc.data, doc.len, JSON_DECODE_INT_AS_REAL, NULL);
        if (!json_is_object(v)) {
            json_decref(v);
            buf_reset(z->err);
            buf_appendf(z->err, "a stored document of `%s` is not valid JSON", table);
            goto out;
        }
        if (ids) { /* `_storage`: its size is an integer, as in Convex's export */
            const char *id = json_string_value(json_object_get(v, "_id"));
            json_t *size = json_object_get(v, "size");
            if (json_is_real(size))
                json_object_set_new(v, "size", json_integer((json_int_t)json_real_value(size)));
            *ids = vr_realloc(*ids, (*n_ids + 1) * sizeof **ids);
            (*ids)[(*n_ids)++] = vr_strdup(id ? id : "");
        }
        buf_reset(&line);
        v = to_export(v);
        json_write(&line, v, JSON_WRITE_REAL_DOT);
        json_decref(v);
        buf_append_byte(&line, '\n');
        if (fwrite(line.data, 1, line.len, f) != line.len) {
            buf_reset(z->err);
            buf_appendf(z->err, "cannot write %s: %s", path, strerror(errno));
            goto out;
        }
    }
    r = 0;
out:
    if (c)
        store_scan_close(c, 0);
    if (f && fclose(f) != 0 && r == 0) {
        buf_reset(z->err);
        buf_appendf(z->err, "cannot write %s: %s", path, strerror(errno));
        r = -1;
    }
    table_folder(table, folder, sizeof folder);
    if (r == 0) {
        snprintf(name, sizeof name, "%s/documents.jsonl", folder);
        r = add_file(z, name, path);
    }
    if (r == 0 && strcmp(table, STORE_STORAGE_TABLE)) {
        snprintf(name, sizeof name, "%s/generated_schema.jsonl", folder);
        r = add_text(z, name, "\"uniform\"\n");
    }
    buf_release(&doc);
    buf_release(&line);
    return r;
}

int snapshot_zip_write(const struct snapshot_zip *o, const char *out_path, struct buf *err)
{
    struct zipper z = {.err = err};
    struct store *st = NULL;
    struct store_txn *t = NULL;
    char **tables = NULL, **ids = NULL;
    size_t n_tables = 0, n_ids = 0;
    int r = -1, ze = 0;
    snprintf(z.dir, sizeof z.dir, "%s.d", out_path);
    if (mkdir(z.dir, 0700) < 0) {
        buf_appendf(err, "cannot create %s: %s", z.dir, strerror(errno));
        z.dir[0] = '\0';
        goto out;
    }
    if (!(z.zip = zip_open(out_path, ZIP_CREATE | ZIP_EXCL, &ze))) {
        zip_error_t e;
        zip_error_init_with_code(&e, ze);
        buf_appendf(err, "cannot create %s: %s", out_path, zip_error_strerror(&e));
        zip_error_fini(&e);
        goto out;
    }
    if (store_open_reader(o->db_path, &st, err) < 0 || !(t = store_txn_begin(st, 0, err)))
        goto out;
    store_txn_bulk(t); /* every document of every table: no per-function read limits */
    if (add_text(&z, "README.md", readme) < 0)
        goto out;
    store_app_tables(st, &tables, &n_tables);
    for (size_t i = 0; i < n_tables; i++)
        if (add_table(&z, t, tables[i], NULL, NULL) < 0)
            goto out;
    if (o->include_storage) {
        if (add_table(&z, t, STORE_STORAGE_TABLE, &ids, &n_ids) < 0)
            goto out;
        for (size_t i = 0; i < n_ids; i++) {
            char path[4700], name[128];
            snprintf(path, sizeof path, "%s/%s", o->files_dir ? o->files_dir : ".", ids[i]);
            snprintf(name, sizeof name, STORE_STORAGE_TABLE "/%s", ids[i]);
            struct stat sb;
            if (stat(path, &sb) < 0) { /* its bytes are read at zip_close: name it now */
                buf_reset(err);
                buf_appendf(err,
                            "the stored file %s has a `_storage` document but its bytes are "
                            "missing (%s: %s): restore the file, or delete it "
                            "(ctx.storage.delete), then export again",
                            ids[i], path, strerror(errno));
                goto out;
            }
            if (add_file(&z, name, path) < 0)
                goto out;
        }
    }
    /* the snapshot is in the temporary files; the stored files are read now */
    store_txn_abort(t);
    store_txn_free(t);
    t = NULL;
    if (zip_close(z.zip) < 0) {
        buf_reset(err);
        buf_appendf(err,
                    "cannot write the snapshot: %s (a stored file deleted while the export "
                    "ran? retry)",
                    zip_strerror(z.zip));
        goto out;
    }
    z.zip = NULL;
    r = 0;
out:
    if (z.zip) {
        zip_discard(z.zip);
        unlink(out_path);
    }
    if (t) {
        store_txn_abort(t);
        store_txn_free(t);
    }
    if (st)
        store_close(st);
    for (size_t i = 0; i < z.n_tmp; i++) {
        unlink(z.tmp[i]);
        vr_free(z.tmp[i]);
    }
    vr_free(z.tmp);
    if (z.dir[0])
        rmdir(z.dir);
    for (size_t i = 0; i < n_tables; i++)
        vr_free(tables[i]);
    vr_free(tables);
    for (size_t i = 0; i < n_ids; i++)
        vr_free(ids[i]);
    vr_free(ids);
    return r;
}

void snapshot_zip_free(struct snapshot_zip *z)
{
    if (!z)
        return;
    vr_free(z->db_path);
    vr_free(z->files_dir);
    vr_free(z);
}
