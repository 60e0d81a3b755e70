/* store_schema: applying a schema (store.h store_apply_schema): creates tables and indexes,
 * backfills new indexes, drops undeclared ones and checks every existing document. Invariant: all
 * or nothing — one SQLite transaction, and the in-memory catalog is reloaded from the system
 * tables whether it committed or rolled back. */
#include "store/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "base/mem.h"
#include "store/validator.h"

#include "base/banned.h"


static int check_field_path(const char *f)
{
    size_t n = strlen(f);
    if (n == 0 || n > 256 || f[0] == '_' || f[0] == '$' || f[0] == '.' || f[n - 1] == '.' ||
        strstr(f, ".."))
        return 0;
    return 1;
}

static const json_t *find_decl(const json_t *idx, const char *name);
static int check_side(const char *table, const json_t *def, int vector, struct buf *err);

/* Checks the shape of the whole schema before anything is touched. */
static int check_schema(const json_t *schema, struct buf *err)
{
    const json_t *tables = json_object_get(schema, "tables");
    const char *name;
    json_t *def;
    struct buf msg = BUF_INIT(4096);
    int r = -1;
    if (tables && !json_is_object(tables)) {
        buf_fail(err, "schema `tables` must be an object");
        goto out;
    }
    /* the components' namespaces ("a/", "a/b/"): each gets its tables of the system */
    const json_t *nss = json_object_get(schema, "namespaces");
    if (nss && !json_is_array(nss)) {
        buf_fail(err, "schema `namespaces` must be an array");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(nss); i++) {
        const char *ns = json_string_value(json_array_get(nss, i));
        size_t n = ns ? strlen(ns) : 0;
        if (n < 2 || ns[n - 1] != '/' || !store_table_name_ok(ns, n - 1)) {
            buf_fail(err, "schema `namespaces`: `%.64s` is not a component's path and '/'",
                     ns ? ns : "");
            goto out;
        }
    }
    json_object_foreach((json_t *)tables, name, def) {
        if (!store_table_name_ok(name, strlen(name))) {
            buf_fail(err,
                     "invalid table name `%.64s`: use letters, digits and '_', starting with a "
                     "letter",
                     name);
            goto out;
        }
        if (!json_is_object(def)) {
            buf_fail(err, "table `%s`: definition must be an object", name);
            goto out;
        }
        const json_t *doc = json_object_get(def, "document");
        if (doc && validator_check_schema(doc, &msg) < 0) {
            buf_fail(err, "table `%s`: %s", name, msg.data);
            goto out;
        }
        const json_t *idx = json_object_get(def, "indexes");
        if (idx && !json_is_array(idx)) {
            buf_fail(err, "table `%s`: `indexes` must be an array", name);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(idx); i++) {
            const json_t *ix = json_array_get(idx, i);
            const char *iname = json_string_value(json_object_get(ix, "name"));
            const json_t *fields = json_object_get(ix, "fields");
            if (!iname || !st_name_ok(iname) || !strcmp(iname, "by_id") ||
                !strcmp(iname, "by_creation_time")) {
                buf_fail(err, "table `%s`: invalid index name `%.64s`", name, iname ? iname : "");
                goto out;
            }
            for (size_t j = 0; j < i; j++) {
                const char *other =
                    json_string_value(json_object_get(json_array_get(idx, j), "name"));
                if (other && !strcmp(other, iname)) {
                    buf_fail(err, "table `%s`: index `%s` is declared twice", name, iname);
                    goto out;
                }
            }
            size_t nf = json_array_size(fields);
            if (!json_is_array(fields) || nf == 0 || nf > STORE_MAX_INDEX_FIELDS) {
                buf_fail(err, "table `%s`: index `%s` needs 1 to %d fields", name, iname,
                         STORE_MAX_INDEX_FIELDS);
                goto out;
            }
            for (size_t j = 0; j < nf; j++) {
                const char *f = json_string_value(json_array_get(fields, j));
                if (!f || !check_field_path(f)) {
                    buf_fail(err, "table `%s`: index `%s`: invalid field `%s`", name, iname,
                             f ? f : "?");
                    goto out;
                }
            }
        }
        if (check_side(name, def, 0, err) < 0 || check_side(name, def, 1, err) < 0)
            goto out;
    }
    r = 0;
out:
    buf_release(&msg);
    return r;
}

/* Checks a table's `searchIndexes` ([{"name", "searchField", "filterFields"}]) or, with
 * `vector`, its `vectorIndexes` ([{"name", "vectorField", "dimensions", "filterFields"}]).
 * Index names are shared with `indexes` and, for vector indexes, `searchIndexes`. */
static int check_side(const char *table, const json_t *def, int vector, struct buf *err)
{
    const char *word = vector ? "vector" : "search";
    const json_t *list = json_object_get(def, vector ? "vectorIndexes" : "searchIndexes");
    int max_filters = vector ? STORE_VECTOR_MAX_FILTERS : STORE_SEARCH_MAX_FILTERS;
    if (!list)
        return 0;
    if (!json_is_array(list))
        return buf_fail(err, "table `%s`: `%sIndexes` must be an array", table, word);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *ix = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(ix, "name"));
        const char *fld =
            json_string_value(json_object_get(ix, vector ? "vectorField" : "searchField"));
        const json_t *ff = json_object_get(ix, "filterFields");
        if (!name || !st_name_ok(name) || !strcmp(name, "by_id") ||
            !strcmp(name, "by_creation_time"))
            return buf_fail(err, "table `%s`: invalid index name `%.64s`", table, name ? name : "");
        int dup = find_decl(json_object_get(def, "indexes"), name) ||
                  (vector && find_decl(json_object_get(def, "searchIndexes"), name));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(name, json_string_value(json_object_get(json_array_get(list, j), "name"))))
                dup = 1;
        if (dup)
            return buf_fail(err, "table `%s`: index `%s` is declared twice", table, name);
        if (!fld || !check_field_path(fld))
            return buf_fail(err, "table `%s`: %s index `%s`: invalid %s field `%s`", table, word,
                            name, word, fld ? fld : "?");
        if (vector) {
            const json_t *dims = json_object_get(ix, "dimensions");
            double d = json_number_value(dims);
            if (!json_is_number(dims) ||
                !(d >= STORE_VECTOR_MIN_DIMS && d <= STORE_VECTOR_MAX_DIMS) ||
                d != (double)(uint32_t)d) /* the range first: a cast of a negative is undefined */
                return buf_fail(err,
                                "table `%s`: vector index `%s`: `dimensions` must be an "
                                "integer between %d and %d",
                                table, name, STORE_VECTOR_MIN_DIMS, STORE_VECTOR_MAX_DIMS);
        }
        if (ff && (!json_is_array(ff) || json_array_size(ff) > (size_t)max_filters))
            return buf_fail(err, "table `%s`: %s index `%s` may have at most %d filter fields",
                            table, word, name, max_filters);
        for (size_t j = 0; j < json_array_size(ff); j++) {
            const char *f = json_string_value(json_array_get(ff, j));
            if (!f || !check_field_path(f))
                return buf_fail(err, "table `%s`: %s index `%s`: invalid filter field `%s`", table,
                                word, name, f ? f : "?");
            for (size_t k = 0; k < j; k++)
                if (!strcmp(f, json_string_value(json_array_get(ff, k))))
                    return buf_fail(err, "table `%s`: %s index `%s`: duplicate filter field `%s`",
                                    table, word, name, f);
        }
    }
    return 0;
}

/* A search or vector index's declaration, as its catalog entry holds it (the searched or vector
 * field, then the filter fields; a vector index's dimensions too). */
static int same_side(const struct st_index *ix, const json_t *decl)
{
    int vector = ix->kind == IDX_VECTOR;
    const json_t *ff = json_object_get(decl, "filterFields");
    if (json_array_size(ff) + 1 != ix->nfields ||
        (vector && (double)ix->dims != json_number_value(json_object_get(decl, "dimensions"))) ||
        strcmp(ix->fields[0],
               json_string_value(json_object_get(decl, vector ? "vectorField" : "searchField"))))
        return 0;
    for (size_t i = 1; i < ix->nfields; i++)
        if (strcmp(ix->fields[i], json_string_value(json_array_get(ff, i - 1))))
            return 0;
    return 1;
}

static int same_fields(const struct st_index *ix, const json_t *fields)
{
    if (json_array_size(fields) != ix->nfields)
        return 0;
    for (size_t i = 0; i < ix->nfields; i++)
        if (strcmp(ix->fields[i], json_string_value(json_array_get(fields, i))))
            return 0;
    return 1;
}

static const json_t *find_decl(const json_t *idx, const char *name)
{
    for (size_t i = 0; i < json_array_size(idx); i++) {
        const json_t *ix = json_array_get(idx, i);
        if (!strcmp(json_string_value(json_object_get(ix, "name")), name))
            return ix;
    }
    return NULL;
}

/* A new index's entries are inserted in key order, a run of up to st_backfill_run_bytes at a time:
 * in the table's order they land at random places of the index's B-tree (a third of a deploy's
 * time at 240,000 documents went to finding them); sorted, each goes next to the one before. */
size_t st_backfill_run_bytes = 32u << 20; /* (tests make runs small) */

struct backfill_entry {
    size_t off; /* in keys: the key, then the document's id */
    uint32_t klen, dlen;
};

struct backfill_run {
    struct buf keys;
    struct backfill_entry *e;
    size_t n, cap;
};

static void run_add(struct backfill_run *r, const void *k, size_t kn, const void *d, size_t dn)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        r->e = vr_realloc(r->e, r->cap * sizeof *r->e);
    }
    r->e[r->n++] = (struct backfill_entry){r->keys.len, (uint32_t)kn, (uint32_t)dn};
    buf_append(&r->keys, k, kn);
    buf_append(&r->keys, d, dn);
}

static int entry_cmp(const void *x, const void *y, void *arg)
{
    const struct backfill_entry *a = x, *b = y;
    const char *base = arg;
    int c = memcmp(base + a->off, base + b->off, a->klen < b->klen ? a->klen : b->klen);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

/* Inserts the run's entries in key order and empties it. */
static int run_insert(struct store *s, sqlite3_stmt *ins, struct backfill_run *r, struct buf *err)
{
    if (r->n > 1) /* (an empty run has no array) */
        qsort_r(r->e, r->n, sizeof *r->e, entry_cmp, r->keys.data);
    for (size_t i = 0; i < r->n; i++) {
        const struct backfill_entry *e = &r->e[i];
        sqlite3_bind_blob(ins, 1, r->keys.data + e->off, (int)e->klen, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, r->keys.data + e->off + e->klen, (int)e->dlen, SQLITE_STATIC);
        int rc = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE) {
            st_sqlerr(s, err, "backfill");
            return -1;
        }
    }
    r->n = 0;
    buf_reset(&r->keys);
    return 0;
}

static void run_release(struct backfill_run *r)
{
    buf_release(&r->keys);
    vr_free(r->e);
}

/* Creates index `decl` on table tb and fills it from the table's documents. */
/* One new index being filled: its catalog entry made, its table empty. */
struct new_index {
    struct st_index ix; /* what st_index_key needs: kind, fields */
    char *fv[STORE_MAX_INDEX_FIELDS];
    const char *name;
    sqlite3_stmt *ins;
    struct backfill_run run;
};

/* Adds decl's catalog entry and its empty table: ni ready to be filled. */
static int index_register(struct store *s, struct st_table *tb, const json_t *decl,
                          struct new_index *ni, struct buf *err)
{
    const json_t *fields = json_object_get(decl, "fields");
    char *ftext = json_dumps(fields, JSON_COMPACT);
    char sql[256];
    uint32_t id;
    sqlite3_stmt *st = NULL;
    int r = -1;
    ni->name = json_string_value(json_object_get(decl, "name"));
    ni->ix = (struct st_index){.kind = IDX_USER, .nfields = json_array_size(fields)};
    for (size_t i = 0; i < ni->ix.nfields; i++)
        ni->fv[i] = (char *)json_string_value(json_array_get(fields, i));
    ni->ix.fields = ni->fv;
    ni->run = (struct backfill_run){.keys = BUF_INIT(BUF_NOLIMIT)};
    if (st_meta_next(s, "next_index", &id, err) < 0)
        goto out;
    if (!(st = st_prep(s, NULL, err, "INSERT INTO _vr_indexes(id, tnum, name, fields) "
                                     "VALUES (?1, ?2, ?3, ?4)")))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, tb->num);
    sqlite3_bind_text(st, 3, ni->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ftext, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        st_sqlerr(s, err, "create index");
        goto out;
    }
    snprintf(sql, sizeof(sql), "CREATE TABLE i%u (k BLOB PRIMARY KEY, d BLOB NOT NULL) WITHOUT ROWID",
             id);
    if (st_exec(s, sql, err) < 0 ||
        !(ni->ins = st_prep(s, NULL, err, "INSERT INTO i%u(k, d) VALUES (?1, ?2)", id)))
        goto out;
    r = 0;
out:
    sqlite3_finalize(st);
    free(ftext);
    return r;
}

/* Fills the new indexes from the table's documents, in one pass (each document parsed once). */
static int indexes_fill(struct store *s, struct st_table *tb, struct new_index *ni, size_t n,
                        struct buf *err)
{
    struct buf k = BUF_INIT(STORE_MAX_KEY);
    sqlite3_stmt *st = st_prep(s, NULL, err, "SELECT k, j FROM d%u", tb->num);
    int rc = st ? SQLITE_ROW : SQLITE_ERROR, r = -1;
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc = json_parse((const char *)sqlite3_column_text(st, 1),
                                 (size_t)sqlite3_column_bytes(st, 1), STORE_JSON_FLAGS, NULL);
        const char *idv = json_string_value(json_object_get(doc, "_id"));
        double ct = json_number_value(json_object_get(doc, "_creationTime"));
        for (size_t i = 0; i < n; i++) {
            if (!idv || st_index_key(&ni[i].ix, doc, ct, idv, &k) < 0) {
                buf_fail(err, "table `%s`: cannot index a document for `%s`", tb->name, ni[i].name);
                json_decref(doc);
                goto out;
            }
            run_add(&ni[i].run, k.data, k.len, sqlite3_column_blob(st, 0),
                    (size_t)sqlite3_column_bytes(st, 0));
            if (ni[i].run.keys.len >= st_backfill_run_bytes / n &&
                run_insert(s, ni[i].ins, &ni[i].run, err) < 0) {
                json_decref(doc);
                goto out;
            }
        }
        json_decref(doc);
    }
    if (rc != SQLITE_DONE) {
        if (st)
            st_sqlerr(s, err, "backfill");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (run_insert(s, ni[i].ins, &ni[i].run, err) < 0)
            goto out;
    r = 0;
out:
    sqlite3_finalize(st);
    buf_release(&k);
    return r;
}

int st_indexes_create(struct store *s, struct st_table *tb, const json_t *const *decls, size_t n,
                      struct buf *err)
{
    if (n == 0)
        return 0;
    struct new_index *ni = vr_calloc(n, sizeof *ni);
    size_t made = 0;
    int r = -1;
    for (; made < n; made++)
        if (index_register(s, tb, decls[made], &ni[made], err) < 0) {
            made++; /* its statement, if prepared, is finalized below */
            goto out;
        }
    r = indexes_fill(s, tb, ni, n, err);
out:
    for (size_t i = 0; i < made; i++) {
        sqlite3_finalize(ni[i].ins);
        run_release(&ni[i].run);
    }
    vr_free(ni);
    return r;
}

int st_index_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err)
{
    return st_indexes_create(s, tb, &decl, 1, err);
}

static int drop_index(struct store *s, const struct st_index *ix, struct buf *err)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP TABLE i%u; DELETE FROM _vr_indexes WHERE id = %u", ix->id,
             ix->id);
    return st_exec(s, sql, err);
}

static const char *id_table_cb(void *arg, const char *id, size_t len)
{
    return store_id_table(arg, id, len);
}

static int validate_table(struct store *s, struct st_table *tb, const json_t *validator,
                          struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, NULL, err, "SELECT j FROM d%u", tb->num);
    struct validator_ctx ctx = { "field", id_table_cb, s };
    struct buf msg = BUF_INIT(4096);
    int r = -1, rc;
    if (!st)
        return -1;
    struct validator *vc = validator_compile(validator);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc = json_parse((const char *)sqlite3_column_text(st, 0),
                                 (size_t)sqlite3_column_bytes(st, 0), STORE_JSON_FLAGS, NULL);
        char id[STORE_ID_LEN + 1] = "?";
        const char *idv = json_string_value(json_object_get(doc, "_id"));
        if (idv)
            snprintf(id, sizeof(id), "%s", idv);
        json_object_del(doc, "_id");
        json_object_del(doc, "_creationTime");
        int vr = validator_check_compiled(&ctx, vc, doc, &msg);
        json_decref(doc);
        if (vr < 0) {
            buf_fail(err, "document `%s` in `%s` does not match the schema: %s", id, tb->name,
                     msg.data);
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "validate");
        goto out;
    }
    r = 0;
out:
    validator_free(vc);
    sqlite3_finalize(st);
    buf_release(&msg);
    return r;
}

int store_apply_schema(struct store *s, const char *schema_json, size_t len, struct buf *err)
{
    json_t *schema = NULL;
    json_error_t je;
    sqlite3_stmt *st = NULL;
    int r = -1, in_txn = 0;
    if (s->txn || s->batch)
        return buf_fail(err, "cannot apply a schema while a transaction or batch is open");
    if (schema_json) {
        schema = json_loadb(schema_json, len, STORE_JSON_FLAGS, &je);
        if (!json_is_object(schema)) {
            buf_fail(err, "schema is not a JSON object%s%s", schema ? "" : ": ",
                     schema ? "" : je.text);
            goto out;
        }
        if (check_schema(schema, err) < 0)
            goto out;
    }
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    in_txn = 1;
    const json_t *tables = json_object_get(schema, "tables");
    int validate = !json_is_false(json_object_get(schema, "schemaValidation"));
    const char *name;
    json_t *def;
    json_object_foreach((json_t *)tables, name, def) {
        struct st_table *tb = st_table_find(s, name);
        if (!tb && st_table_create(s, name, &tb, err) < 0)
            goto out;
        const json_t *idx = json_object_get(def, "indexes");
        for (size_t i = 0; i < tb->nidx; i++) {
            const struct st_index *ix = tb->idx[i];
            if (ix->kind != IDX_USER)
                continue;
            const json_t *decl = find_decl(idx, ix->name);
            if (!decl || !same_fields(ix, json_object_get(decl, "fields")))
                if (drop_index(s, ix, err) < 0)
                    goto out;
        }
        const json_t **add = vr_malloc((json_array_size(idx) + 1) * sizeof *add);
        size_t nadd = 0;
        for (size_t i = 0; i < json_array_size(idx); i++) {
            const json_t *decl = json_array_get(idx, i);
            const struct st_index *ix =
                st_index_find(tb, json_string_value(json_object_get(decl, "name")));
            if (!ix || !same_fields(ix, json_object_get(decl, "fields")))
                add[nadd++] = decl;
        }
        int made = st_indexes_create(s, tb, add, nadd, err); /* one pass over the documents */
        vr_free(add);
        if (made < 0)
            goto out;
        const json_t *sidx = json_object_get(def, "searchIndexes");
        const json_t *vidx = json_object_get(def, "vectorIndexes");
        for (size_t i = 0; i < tb->nsidx; i++) {
            const struct st_index *ix = tb->sidx[i];
            int vec = ix->kind == IDX_VECTOR;
            const json_t *decl = find_decl(vec ? vidx : sidx, ix->name);
            if (decl && same_side(ix, decl))
                continue;
            if (st_side_index_drop(s, ix, err) < 0)
                goto out;
        }
        for (int vec = 0; vec < 2; vec++) {
            const json_t *decls = vec ? vidx : sidx;
            for (size_t i = 0; i < json_array_size(decls); i++) {
                const json_t *decl = json_array_get(decls, i);
                const char *iname = json_string_value(json_object_get(decl, "name"));
                const struct st_index *ix = NULL;
                for (size_t j = 0; j < tb->nsidx && !ix; j++)
                    if (!strcmp(tb->sidx[j]->name, iname) &&
                        (tb->sidx[j]->kind == IDX_VECTOR) == vec)
                        ix = tb->sidx[j];
                if (ix && same_side(ix, decl))
                    continue;
                if ((vec ? st_vector_create(s, tb, decl, err)
                         : st_search_create(s, tb, decl, err)) < 0)
                    goto out;
            }
        }
        /* a table whose validator did not change needs no look at its documents: every write
         * was checked against it (tb->validator is set only while validation is on). A deploy
         * of the same schema re-read every document on the loop (~1 s per 240,000) */
        const json_t *doc = json_object_get(def, "document");
        if (validate && doc && !(tb->validator && json_equal(tb->validator, doc)) &&
            validate_table(s, tb, doc, err) < 0)
            goto out;
    }
    /* each component's own table of scheduled functions, as Convex gives each one */
    size_t i;
    json_t *ns;
    json_array_foreach(json_object_get(schema, "namespaces"), i, ns)
    {
        if (st_sched_ensure_ns(s, json_string_value(ns), err) < 0)
            goto out;
    }
    if (!(st = st_prep(s, NULL, err, "UPDATE _vr_meta SET v = ?1 WHERE k = 'schema'")))
        goto out;
    if (schema_json)
        sqlite3_bind_text(st, 1, schema_json, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        st_sqlerr(s, err, "schema");
        goto out;
    }
    if (st_exec(s, "COMMIT", err) < 0)
        goto out;
    in_txn = 0;
    r = 0;
out:
    sqlite3_finalize(st);
    if (in_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    json_decref(schema);
    if (in_txn || r == 0) {
        struct buf tmp = BUF_INIT(4096);
        st_catalog_load(s, &tmp);
        buf_release(&tmp);
    }
    return r;
}
