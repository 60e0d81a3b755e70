/* store_search: full-text search indexes (Convex's searchIndex), each an SQLite FTS5 table
 * f<index id>(t, g, k UNINDEXED, c0.. UNINDEXED) in the shard's database: t is the document's
 * search field (empty when it is not a string), g one token per filter field, "f<i>v<hash of
 * the value's key encoding>", so that a search's filter values are part of its FTS5 query, k
 * the document's by_id key, c<i> the key encoding of its i-th filter field (checked on the
 * matches, so a hash collision never shows); the rowid is the bits of its _creationTime (unique
 * in a store, and ordered like it), so "newest first" is rowid descending. Tokenizer: unicode61
 * with diacritics folded. Ranking: vr_bm25, FTS5's bm25 over the column t alone (g's tokens
 * neither score nor count in the lengths). A table of the first layout (no g) is rebuilt when
 * the store opens (st_search_migrate).
 * Reactivity: a search index has its own key space in read and write sets: a document's key is
 * the encodings of its filter field values in declared order, then its id; a query reads the
 * range of keys that start with the values it binds with eq (the longest leading run of the
 * declared filter fields it binds). Invariant: the FTS rows change in the same transaction, and
 * the same write op, as the document. */
#include "store/store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/key.h"

#include "base/banned.h"

static const char TOKENIZER[] = "unicode61 remove_diacritics 2";

/* The filter token of value encoding (p, n) for filter field i (0-based): FNV-1a, 64 bits. */
static void filter_token(struct buf *out, size_t i, const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t j = 0; j < n; j++) {
        h ^= p[j];
        h *= 0x100000001b3ull;
    }
    buf_appendf(out, "f%zuv%016llx", i, (unsigned long long)h);
}

/* ---- vr_bm25: FTS5's bm25() (k1 1.2, b 0.75) over column 0 only. Its one argument is the
 * number of leading phrases that score (the search terms); the filter tokens' phrases after
 * them are skipped. Per query (auxdata): the row count, column 0's average length, each
 * phrase's idf, as fts5_aux.c computes them. ---- */

struct bm25_data {
    int nphrase;
    double avgdl;
    double *idf;
    double *freq;
};

static void bm25_data_free(void *p)
{
    struct bm25_data *d = p;
    if (d) {
        vr_free(d->idf);
        vr_free(d->freq);
        vr_free(d);
    }
}

static int bm25_count(const Fts5ExtensionApi *api, Fts5Context *fts, void *arg)
{
    (void)api;
    (void)fts;
    (*(sqlite3_int64 *)arg)++;
    return SQLITE_OK;
}

static int bm25_data(const Fts5ExtensionApi *api, Fts5Context *fts, int nphrase,
                     struct bm25_data **out)
{
    struct bm25_data *d = api->xGetAuxdata(fts, 0);
    sqlite3_int64 nrow = 0, ntok = 0;
    int rc;
    if (d) {
        *out = d;
        return SQLITE_OK;
    }
    d = vr_calloc(1, sizeof(*d));
    d->nphrase = nphrase;
    d->idf = vr_calloc((size_t)nphrase + 1, sizeof(double));
    d->freq = vr_calloc((size_t)nphrase + 1, sizeof(double));
    rc = api->xRowCount(fts, &nrow);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, 0, &ntok);
    d->avgdl = nrow > 0 ? (double)ntok / (double)nrow : 1.0;
    for (int i = 0; rc == SQLITE_OK && i < nphrase; i++) {
        sqlite3_int64 nhit = 0;
        rc = api->xQueryPhrase(fts, i, &nhit, bm25_count);
        if (rc == SQLITE_OK) {
            double idf = log(((double)nrow - (double)nhit + 0.5) / ((double)nhit + 0.5));
            d->idf[i] = idf <= 0.0 ? 1e-6 : idf;
        }
    }
    if (rc == SQLITE_OK)
        rc = api->xSetAuxdata(fts, d, bm25_data_free); /* frees d itself on failure */
    else
        bm25_data_free(d);
    *out = rc == SQLITE_OK ? d : NULL;
    return rc;
}

static void vr_bm25(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **val)
{
    const double k1 = 1.2, b = 0.75;
    int nphrase = api->xPhraseCount(fts);
    if (nval >= 1 && sqlite3_value_int(val[0]) < nphrase)
        nphrase = sqlite3_value_int(val[0]);
    if (nphrase < 0)
        nphrase = 0;
    struct bm25_data *d = NULL;
    int rc = bm25_data(api, fts, nphrase, &d);
    int ninst = 0, ntok = 0;
    if (rc == SQLITE_OK) {
        memset(d->freq, 0, sizeof(double) * ((size_t)d->nphrase + 1));
        rc = api->xInstCount(fts, &ninst);
    }
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK && ic == 0 && ip < d->nphrase)
            d->freq[ip] += 1.0;
    }
    if (rc == SQLITE_OK)
        rc = api->xColumnSize(fts, 0, &ntok);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double score = 0.0, D = (double)ntok;
    for (int i = 0; i < d->nphrase; i++)
        score += d->idf[i] *
                 ((d->freq[i] * (k1 + 1.0)) / (d->freq[i] + k1 * (1 - b + b * D / d->avgdl)));
    sqlite3_result_double(ctx, -1.0 * score);
}

int st_search_init(struct store *s, struct buf *err)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return st_sqlerr(s, err, "fts5");
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2)
        return buf_fail(err, "SQLite's FTS5 is missing or too old for search indexes");
    if (api->xCreateFunction(api, "vr_bm25", NULL, vr_bm25, NULL) != SQLITE_OK)
        return st_sqlerr(s, err, "fts5 vr_bm25");
    return 0;
}

static const char *search_text(const struct st_index *ix, const json_t *doc)
{
    const json_t *v = st_lookup_path(doc, ix->fields[0]);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The document's key in the search index's key space (filter values, then id). */
static int search_key(const struct st_index *ix, const json_t *doc, const char *id, struct buf *out)
{
    json_t *idv = json_string(id);
    int r = 0;
    buf_reset(out);
    for (size_t i = 1; r == 0 && i < ix->nfields; i++)
        r = key_encode_value(out, st_lookup_path(doc, ix->fields[i]));
    if (r == 0)
        r = key_encode_value(out, idv);
    json_decref(idv);
    return r;
}

static int row_insert(struct store *s, struct st_index *ix, const json_t *doc, double ct,
                      const struct buf *dk, struct buf *err)
{
    struct buf ck = BUF_INIT(STORE_MAX_KEY), g = BUF_INIT(4096);
    int r = -1;
    sqlite3_stmt *st = st_side_insert(s, ix, "rowid, t, k, g", 4, err);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, st_ct_rowid(ct));
    sqlite3_bind_text(st, 2, search_text(ix, doc), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, dk->data, (int)dk->len, SQLITE_TRANSIENT);
    for (size_t i = 1; i < ix->nfields; i++) {
        buf_reset(&ck);
        if (key_encode_value(&ck, st_lookup_path(doc, ix->fields[i])) < 0) {
            buf_fail(err, "search index `%s`: cannot encode filter field `%s`", ix->name,
                     ix->fields[i]);
            goto out;
        }
        sqlite3_bind_blob(st, (int)i + 4, ck.data, (int)ck.len, SQLITE_TRANSIENT);
        if (i > 1)
            buf_append_byte(&g, ' ');
        filter_token(&g, i - 1, (const unsigned char *)ck.data, ck.len);
    }
    sqlite3_bind_text(st, 4, g.len ? g.data : "", (int)g.len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search index write");
        goto out;
    }
    r = 0;
out:
    buf_release(&ck);
    buf_release(&g);
    return r;
}

static int row_delete(struct store *s, struct st_index *ix, double ct, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &ix->del, err, "DELETE FROM f%u WHERE rowid = ?1", ix->id);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, st_ct_rowid(ct));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : st_sqlerr(s, err, "search index write");
}

int st_search_write(struct store_txn *t, struct st_table *tb, const json_t *old_doc,
                    const json_t *new_doc, double ct, const char *id, const struct buf *dk,
                    struct buf *err)
{
    struct store *s = t->s;
    struct buf ok = BUF_INIT(STORE_MAX_KEY), nk = BUF_INIT(STORE_MAX_KEY);
    int r = -1;
    for (size_t i = 0; i < tb->nsidx; i++) {
        struct st_index *ix = tb->sidx[i];
        if (ix->kind == IDX_VECTOR) {
            if (st_vector_write(t, ix, old_doc, new_doc, ct, id, err) < 0)
                goto out;
            continue;
        }
        buf_reset(&ok);
        buf_reset(&nk);
        if ((old_doc && search_key(ix, old_doc, id, &ok) < 0) ||
            (new_doc && search_key(ix, new_doc, id, &nk) < 0)) {
            buf_fail(err, "search index `%s`: key too large", ix->name);
            goto out;
        }
        if (old_doc && new_doc && ok.len == nk.len && !memcmp(ok.data, nk.data, ok.len) &&
            !strcmp(search_text(ix, old_doc), search_text(ix, new_doc))) {
            st_write_add(t, ix->id, &ok, &nk); /* the document changed: its results may */
            continue;
        }
        if (old_doc && row_delete(s, ix, ct, err) < 0)
            goto out;
        if (new_doc && row_insert(s, ix, new_doc, ct, dk, err) < 0)
            goto out;
        st_write_add(t, ix->id, &ok, &nk);
    }
    r = 0;
out:
    buf_release(&ok);
    buf_release(&nk);
    return r;
}

/* Creates ix's FTS5 table and fills it from tb's documents. */
static int search_build(struct store *s, const struct st_table *tb, struct st_index *ix,
                        struct buf *err)
{
    struct buf sql = BUF_INIT(8192);
    sqlite3_stmt *st = NULL;
    int r = -1, rc;
    buf_appendf(&sql, "CREATE VIRTUAL TABLE f%u USING fts5(t, g, k UNINDEXED", ix->id);
    for (size_t i = 1; i < ix->nfields; i++)
        buf_appendf(&sql, ", c%zu UNINDEXED", i - 1);
    buf_appendf(&sql, ", tokenize='%s')", TOKENIZER);
    if (st_exec(s, sql.data, err) < 0)
        goto out;
    if (!(st = st_prep(s, NULL, err, "SELECT k, j FROM d%u", tb->num)))
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc = json_parse((const char *)sqlite3_column_text(st, 1),
                                 (size_t)sqlite3_column_bytes(st, 1), STORE_JSON_FLAGS, NULL);
        struct buf dk = BUF_INIT(STORE_MAX_KEY);
        buf_append(&dk, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        int wr =
            doc ? row_insert(s, ix, doc, json_number_value(json_object_get(doc, "_creationTime")),
                             &dk, err)
                : buf_fail(err, "table `%s`: a document is corrupt", tb->name);
        buf_release(&dk);
        json_decref(doc);
        if (wr < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search index backfill");
        goto out;
    }
    r = 0;
out:
    sqlite3_finalize(st);
    buf_release(&sql);
    return r;
}

/* FTS5's shadow tables of a table made by search_build (content stored, so all five). */
static const char *const SHADOWS[] = {"data", "idx", "content", "docsize", "config"};

/* 1 when ix's FTS5 table opens with the current layout and has all of its shadow tables. Damage
 * done from outside while the server was stopped (a shadow table dropped) would otherwise fail
 * every search, or every write to the table, or the open itself. */
static int search_table_ok(struct store *s, const struct st_index *ix)
{
    char sql[400];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "SELECT g FROM f%u LIMIT 0", ix->id);
    int ok = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    st = NULL;
    int n = snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (");
    for (size_t i = 0; i < sizeof SHADOWS / sizeof SHADOWS[0]; i++)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s'f%u_%s'", i ? ", " : "", ix->id,
                      SHADOWS[i]);
    snprintf(sql + n, sizeof(sql) - (size_t)n, ")");
    if (ok && sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        ok = sqlite3_column_int(st, 0) == (int)(sizeof SHADOWS / sizeof SHADOWS[0]);
    else
        ok = 0;
    sqlite3_finalize(st);
    return ok;
}

/* Drops ix's FTS5 table and whatever is left of its shadow tables. FTS5 cannot drop a table
 * whose configuration or data shadow table is gone (its constructor fails), so its schema row
 * goes by hand then, and the shadow tables as the plain tables they are without it. */
static int search_drop(struct store *s, const struct st_index *ix, struct buf *err)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS f%u", ix->id);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    log_info("store",
             "search index `%s`: FTS5 cannot drop its damaged table (%s); removing it "
             "by hand",
             ix->name, sqlite3_errmsg(s->db));
    int n = snprintf(sql, sizeof(sql),
                     "PRAGMA writable_schema = ON;"
                     "DELETE FROM sqlite_schema WHERE type = 'table' AND name = 'f%u';"
                     "PRAGMA writable_schema = RESET;",
                     ix->id);
    for (size_t i = 0; i < sizeof SHADOWS / sizeof SHADOWS[0]; i++)
        n += snprintf(sql + n, sizeof(sql) - (size_t)n, "DROP TABLE IF EXISTS f%u_%s;", ix->id,
                      SHADOWS[i]);
    return st_exec(s, sql, err);
}

int st_search_migrate(struct store *s, struct buf *err)
{
    int began = 0, r = -1;
    for (size_t i = 0; i < s->ntables; i++) {
        struct st_table *tb = s->tables[i];
        for (size_t j = 0; j < tb->nsidx; j++) {
            struct st_index *ix = tb->sidx[j];
            if (ix->kind != IDX_SEARCH)
                continue;
            if (search_table_ok(s, ix))
                continue;
            log_info("store",
                     "rebuilding search index `%s` of `%s` from its documents (an older layout, "
                     "or its FTS5 tables are damaged)",
                     ix->name, tb->name);
            if (!began && st_exec(s, "BEGIN IMMEDIATE", err) < 0)
                goto out;
            began = 1;
            sqlite3_finalize(ix->ins);
            ix->ins = NULL;
            if (search_drop(s, ix, err) < 0 || search_build(s, tb, ix, err) < 0)
                goto out;
        }
    }
    if (began && st_exec(s, "COMMIT", err) < 0)
        goto out;
    began = 0;
    r = 0;
out:
    if (began)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (r < 0) {
        for (size_t i = 0; i < s->ntables; i++)
            for (size_t j = 0; j < s->tables[i]->nsidx; j++) {
                sqlite3_finalize(s->tables[i]->sidx[j]->ins);
                s->tables[i]->sidx[j]->ins = NULL;
            }
    }
    return r;
}

sqlite3_stmt *st_side_insert(struct store *s, struct st_index *ix, const char *cols, int nfixed,
                             struct buf *err)
{
    sqlite3_stmt *st = ix->ins;
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    struct buf sql = BUF_INIT(4096);
    buf_appendf(&sql, "INSERT INTO %c%u(%s", ix->kind == IDX_VECTOR ? 'v' : 'f', ix->id, cols);
    for (size_t i = 1; i < ix->nfields; i++)
        buf_appendf(&sql, ", c%zu", i - 1);
    buf_append_str(&sql, ") VALUES (?1");
    for (size_t i = 2; i < (size_t)nfixed + ix->nfields; i++)
        buf_appendf(&sql, ", ?%zu", i);
    buf_append_byte(&sql, ')');
    st = st_prep(s, &ix->ins, err, "%s", sql.data);
    buf_release(&sql);
    return st;
}

int st_side_index_create(struct store *s, struct st_table *tb, const json_t *decl, int kind,
                         json_t *spec, st_side_build_fn build, struct buf *err)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    const char *what = kind == IDX_VECTOR ? "vector" : "search";
    const json_t *filters = json_object_get(spec, "filterFields");
    char *stext = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    sqlite3_stmt *st = NULL;
    struct st_index *ix = NULL;
    uint32_t id;
    int r = -1;
    if (!stext) {
        buf_fail(err, "%s index `%s`: bad definition", what, name);
        goto out;
    }
    if (st_meta_next(s, "next_index", &id, err) < 0)
        goto out;
    if (!(st = st_prep(s, NULL, err,
                       "INSERT INTO _vr_indexes(id, tnum, name, fields) VALUES (?1, ?2, ?3, ?4)")))
        goto out;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, tb->num);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, stext, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        st_sqlerr(s, err, kind == IDX_VECTOR ? "create vector index" : "create search index");
        goto out;
    }
    /* a detached catalog entry to write the rows with; the catalog is reloaded after apply */
    ix = vr_calloc(1, sizeof(*ix));
    ix->id = id;
    ix->name = vr_strdup(name);
    ix->kind = kind;
    ix->dims = (uint32_t)json_integer_value(json_object_get(spec, "dimensions"));
    ix->nfields = json_array_size(filters) + 1;
    ix->fields = vr_calloc(ix->nfields, sizeof(char *));
    ix->fields[0] = vr_strdup(json_string_value(
        json_object_get(spec, kind == IDX_VECTOR ? "vectorField" : "searchField")));
    for (size_t i = 1; i < ix->nfields; i++)
        ix->fields[i] = vr_strdup(json_string_value(json_array_get(filters, i - 1)));
    if (build(s, tb, ix, err) < 0)
        goto out;
    r = 0;
out:
    if (ix) {
        sqlite3_finalize(ix->ins);
        sqlite3_finalize(ix->del);
        sqlite3_finalize(ix->vgen);
        for (size_t i = 0; i < ix->nfields; i++)
            vr_free(ix->fields[i]);
        vr_free(ix->fields);
        vr_free(ix->name);
        vr_free(ix);
    }
    sqlite3_finalize(st);
    json_decref(spec);
    free(stext);
    return r;
}

int st_side_index_drop(struct store *s, const struct st_index *ix, struct buf *err)
{
    char sql[192];
    snprintf(sql, sizeof(sql),
             "DROP TABLE %c%u; DELETE FROM _vr_indexes WHERE id = %u; "
             "DELETE FROM _vr_meta WHERE k IN ('vgen%u', 'vdel%u')",
             ix->kind == IDX_VECTOR ? 'v' : 'f', ix->id, ix->id, ix->id, ix->id);
    return st_exec(s, sql, err);
}

int st_search_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err)
{
    const json_t *filters = json_object_get(decl, "filterFields");
    json_t *none = json_array();
    json_t *spec = json_pack("{s:O,s:O}", "searchField", json_object_get(decl, "searchField"),
                             "filterFields", filters ? filters : none);
    json_decref(none);
    return st_side_index_create(s, tb, decl, IDX_SEARCH, spec, search_build, err);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The FTS5 query for Convex's search text, in column t: each whitespace-separated term quoted
 * (so FTS5 syntax in it is literal text), terms ORed, the last one a prefix. Returns the term
 * count (nothing is written for none). */
static size_t match_expr(const char *text, struct buf *out)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    buf_append_str(out, "t : (");
    while (*p) {
        while (*p && is_space(*p))
            p++;
        if (!*p)
            break;
        if (n)
            buf_append_str(out, " OR ");
        buf_append_byte(out, '"');
        for (; *p && !is_space(*p); p++) {
            if (*p == '"')
                buf_append_byte(out, '"');
            buf_append_byte(out, *p);
        }
        buf_append_byte(out, '"');
        n++;
    }
    if (n)
        buf_append_str(out, " *)");
    else
        buf_reset(out);
    return n;
}

int store_search(struct store_txn *t, const char *table, const char *index, const char *query_json,
                 size_t len, struct buf *out, struct buf *err)
{
    struct store *s = t->s;
    json_t *q = NULL;
    struct buf match = BUF_INIT(1 << 20), sql = BUF_INIT(8192), lo = BUF_INIT(STORE_MAX_KEY),
               hi = BUF_INIT(STORE_MAX_KEY);
    struct buf vals[STORE_MAX_INDEX_FIELDS];
    int bound[STORE_MAX_INDEX_FIELDS] = {0};
    size_t nvals = 0;
    sqlite3_stmt *st = NULL;
    int r = -1;
    json_int_t limit = STORE_SEARCH_MAX_RESULTS;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->open)
        return buf_fail(err, "transaction is not open");
    struct st_table *tb = st_table_find(s, table);
    struct st_index *ix = NULL;
    for (size_t i = 0; tb && i < tb->nsidx && !ix; i++)
        if (tb->sidx[i]->kind == IDX_SEARCH && !strcmp(tb->sidx[i]->name, index))
            ix = tb->sidx[i];
    if (!ix) {
        st_failk(s, STORE_ERR_QUERY, err, "search index `%s` not found on table `%s`", index,
                 table);
        goto out;
    }
    if (st_txn_range(t, table, err) < 0)
        goto out;
    nvals = ix->nfields - 1;
    for (size_t i = 0; i < nvals; i++)
        buf_init(&vals[i], STORE_MAX_KEY);
    q = json_loadb(query_json, len, STORE_JSON_FLAGS, NULL);
    const char *field = json_string_value(json_object_get(q, "field"));
    const char *text = json_string_value(json_object_get(q, "search"));
    const json_t *eq = json_object_get(q, "eq");
    const json_t *lim = json_object_get(q, "limit");
    if (!json_is_object(q) || !field || !text || (eq && !json_is_array(eq)) ||
        (lim && !json_is_number(lim))) {
        st_failk(s, STORE_ERR_QUERY, err,
                 "search query must be {\"field\", \"search\", \"eq\"?, \"limit\"?}");
        goto out;
    }
    if (lim && json_number_value(lim) >= 1 && json_number_value(lim) < limit)
        limit = (json_int_t)json_number_value(lim);
    if (strcmp(field, ix->fields[0])) {
        st_failk(s, STORE_ERR_QUERY, err, "search index `%s` of `%s` searches `%s`, not `%s`",
                 index, table, ix->fields[0], field);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(eq); i++) {
        const json_t *e = json_array_get(eq, i);
        const char *f = json_string_value(json_array_get(e, 0));
        size_t j = st_filter_field(ix, f);
        if (!j) {
            st_failk(s, STORE_ERR_QUERY, err,
                     "`%s` is not a filter field of search index `%s` of `%s`", f ? f : "?", index,
                     table);
            goto out;
        }
        if (bound[j - 1]) {
            st_failk(s, STORE_ERR_QUERY, err,
                     "search index `%s`: filter field `%s` is compared twice", index, f);
            goto out;
        }
        if (key_encode_value(&vals[j - 1], json_array_get(e, 1)) < 0) {
            st_failk(s, STORE_ERR_QUERY, err,
                     "search index `%s`: the value for `%s` is not a valid value", index, f);
            goto out;
        }
        bound[j - 1] = 1;
    }
    if (strlen(text) > STORE_SEARCH_MAX_TEXT) {
        st_failk(s, STORE_ERR_QUERY, err, "search text is longer than %d bytes",
                 STORE_SEARCH_MAX_TEXT);
        goto out;
    }
    size_t terms = match_expr(text, &match);
    if (terms > STORE_SEARCH_MAX_TERMS) {
        st_failk(s, STORE_ERR_QUERY, err, "search query has %zu terms; at most %d are allowed",
                 terms, STORE_SEARCH_MAX_TERMS);
        goto out;
    }
    /* the read: keys starting with the leading run of bound filter values */
    for (size_t i = 0; i < nvals && bound[i]; i++)
        buf_append(&lo, vals[i].data, vals[i].len);
    buf_append(&hi, lo.data, lo.len);
    buf_append_byte(&hi, KEY_PREFIX_END);
    st_read_add(t, ix->id, lo.data, lo.len, hi.data, hi.len);
    buf_append_byte(out, '[');
    if (terms == 0) {
        buf_append_byte(out, ']');
        r = 0;
        goto out;
    }
    /* the filter values are FTS5 terms of column g; c<i> confirms them on the matches */
    for (size_t i = 0; i < nvals; i++) {
        if (!bound[i])
            continue;
        buf_append_str(&match, " AND g : \"");
        filter_token(&match, i, (const unsigned char *)vals[i].data, vals[i].len);
        buf_append_byte(&match, '"');
    }
    if (!(st = ix->search)) {
        /* one statement per search index, kept until the catalog reloads (a schema change):
         * ?1 the FTS5 query, ?2 its number of scoring phrases, ?3 the limit, ?4.. the filter
         * values (NULL: unbound) */
        buf_appendf(&sql,
                    "SELECT d.j FROM (SELECT f.k AS k, vr_bm25(f%u, ?2) AS r, "
                    "f.rowid AS ct FROM f%u AS f WHERE f%u MATCH ?1",
                    ix->id, ix->id, ix->id);
        for (size_t i = 0; i < nvals; i++)
            buf_appendf(&sql, " AND (?%zu IS NULL OR f.c%zu = ?%zu)", i + 4, i, i + 4);
        buf_appendf(&sql,
                    " ORDER BY r, ct DESC LIMIT ?3) AS f CROSS JOIN d%u AS d ON d.k = f.k "
                    "ORDER BY f.r, f.ct DESC",
                    tb->num);
        if (sqlite3_prepare_v3(s->db, sql.data, (int)sql.len, SQLITE_PREPARE_PERSISTENT,
                               &ix->search, NULL) != SQLITE_OK) {
            ix->search = NULL;
            st_sqlerr(s, err, "search");
            goto out;
        }
        st = ix->search;
    }
    sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)terms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    for (size_t i = 0; i < nvals; i++)
        if (bound[i])
            sqlite3_bind_blob(st, (int)i + 4, vals[i].data, (int)vals[i].len, SQLITE_STATIC);
    int rc, first = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (st_txn_read(t, tb, (size_t)sqlite3_column_bytes(st, 0), err) < 0)
            goto out;
        if ((!first && buf_append_byte(out, ',') < 0) ||
            buf_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0) {
            st_failk(s, STORE_ERR_TOO_LARGE, err, "search result is too large");
            goto out;
        }
        first = 0;
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "search");
        goto out;
    }
    if (buf_append_byte(out, ']') < 0) {
        st_failk(s, STORE_ERR_TOO_LARGE, err, "search result is too large");
        goto out;
    }
    r = 0;
out:
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    json_decref(q);
    for (size_t i = 0; i < nvals; i++)
        buf_release(&vals[i]);
    buf_release(&match);
    buf_release(&sql);
    buf_release(&lo);
    buf_release(&hi);
    return r;
}
